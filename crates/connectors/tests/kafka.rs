//! The file connector over the real Kafka broker (`EARSHOT_TEST_KAFKA`):
//! every post reaches the raw topic with its key and headers, and a rerun
//! produces nothing twice. Skipped with a notice without a broker (fails under CI).

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use earshot_connect::ConnectConfig;
use earshot_model::{Post, ORIGIN_HEADER, SCHEMA_HEADER};
use earshot_transport::{Bus, ConsumerOptions, KafkaBus, KafkaConfig, TopicsConfig};
use tokio_util::sync::CancellationToken;

#[tokio::test]
async fn file_replay_reaches_kafka_with_keys_and_headers() {
    let Some(brokers) = earshot_tests::kafka() else {
        return;
    };
    let bus = KafkaBus::new(&KafkaConfig {
        brokers,
        compression: "lz4".into(),
        session_timeout_ms: 10_000,
        linger_ms: 5,
        idempotent: true,
        unassigned_rejoin_ms: None,
        properties: BTreeMap::new(),
    })
    .unwrap();
    let topics = TopicsConfig {
        raw: earshot_tests::unique_name("connect-raw"),
        scored: earshot_tests::unique_name("connect-scored"),
        dead_letter: earshot_tests::unique_name("connect-dlq"),
        partitions: 3,
        replication: 1,
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("posts.jsonl");
    let mut f = std::fs::File::create(&data).unwrap();
    for i in 0..50 {
        writeln!(
            f,
            "{}",
            serde_json::json!({"id": format!("k{i}"), "text": format!("Acme {i}")})
        )
        .unwrap();
    }
    writeln!(f, "not json").unwrap();
    drop(f);
    let cfg: ConnectConfig = toml::from_str(&format!(
        "[cursors]\npath = \"{}\"\n[[connectors]]\nname = \"kafka-replay\"\nkind = \"file\"\none_shot = true\nbatch_size = 7\npaths = [\"{}\"]\n",
        dir.path().join("c.db").display(),
        data.display()
    ))
    .unwrap();
    let bus: Arc<dyn Bus> = Arc::new(bus);
    let stats = earshot_connect::run(bus.clone(), &topics, &cfg, CancellationToken::new())
        .await
        .unwrap();
    let s = &stats.connectors["kafka-replay"];
    assert_eq!((s.produced, s.dead_letters), (50, 1), "{s:?}");
    let again = earshot_connect::run(bus.clone(), &topics, &cfg, CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(
        again.connectors["kafka-replay"].produced, 0,
        "the cursor resumed at the end"
    );

    let shutdown = CancellationToken::new();
    let mut opts = ConsumerOptions::new(
        earshot_tests::unique_name("connect-check"),
        [topics.raw.clone(), topics.dead_letter.clone()],
    );
    opts.shutdown = shutdown.clone();
    let mut consumer = bus.consumer(opts).await.unwrap();
    let (mut ids, mut dead) = (Vec::new(), 0);
    while ids.len() < 50 || dead < 1 {
        let d = tokio::time::timeout(Duration::from_secs(30), consumer.recv())
            .await
            .expect("records arrive")
            .unwrap()
            .unwrap();
        if d.message.topic == topics.dead_letter {
            dead += 1;
        } else {
            let post = Post::from_json(&d.message.payload).unwrap();
            assert_eq!(d.message.key.as_deref(), Some(post.id.as_str()));
            assert_eq!(d.message.header(SCHEMA_HEADER), Some("1"));
            assert_eq!(
                d.message.header(ORIGIN_HEADER),
                Some("connect:kafka-replay")
            );
            ids.push(post.id);
        }
        d.ack.ack();
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 50);
    shutdown.cancel();
    consumer.close(Duration::from_secs(5)).await.unwrap();
}

/// Issue 18: the SQLite store's records moved into a group's cursor topic,
/// then an author's post ids forgotten there (tombstones).
#[tokio::test]
async fn issue_18_imported_produced_ids_can_be_forgotten() {
    let Some(brokers) = earshot_tests::kafka() else {
        return;
    };
    let bus = KafkaBus::new(&KafkaConfig {
        brokers,
        compression: "lz4".into(),
        session_timeout_ms: 6_000,
        linger_ms: 5,
        idempotent: true,
        properties: BTreeMap::new(),
        unassigned_rejoin_ms: None,
    })
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg: ConnectConfig = toml::from_str(&format!(
        "[connect]\ncursors = \"kafka\"\ngroup = \"{}\"\npartitions = 3\n\
         [[connectors]]\nname = \"a\"\nkind = \"file\"\npaths = [\"x\"]\n\
         [[connectors]]\nname = \"b\"\nkind = \"file\"\npaths = [\"x\"]\n",
        earshot_tests::unique_name("forget")
    ))
    .unwrap();
    let db = dir.path().join("old.db");
    let store = earshot_connect::CursorStore::open(&db).unwrap();
    let ids = |r: std::ops::Range<i32>| r.map(|i| format!("file:{i}")).collect::<Vec<_>>();
    store
        .commit("a", Some(("k".into(), "7".into())), ids(0..5))
        .await
        .unwrap();
    store.commit("b", None, ids(3..8)).await.unwrap();
    let imported = earshot_connect::share::import_cursors(&bus, &cfg, 1, &db)
        .await
        .unwrap();
    assert_eq!(imported, [("a".to_string(), 1, 5), ("b".to_string(), 0, 5)]);
    // file:4 was produced by both connectors, file:9 by neither.
    let forget = ["file:1", "file:4", "file:9"].map(String::from);
    let removed = earshot_connect::share::forget_ids(&bus, &cfg, 1, &forget)
        .await
        .unwrap();
    assert_eq!(removed, 3);
    let again = earshot_connect::share::forget_ids(&bus, &cfg, 1, &forget)
        .await
        .unwrap();
    assert_eq!(again, 0, "tombstoned records are gone");
    let missing =
        earshot_connect::share::import_cursors(&bus, &cfg, 1, &dir.path().join("none.db"))
            .await
            .unwrap_err();
    assert!(missing.to_string().contains("no such file"), "{missing}");
}
