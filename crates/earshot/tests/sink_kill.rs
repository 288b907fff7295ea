//! `earshot sink` killed with SIGKILL while it inserts and commits: after a
//! restart every post is present exactly once in a deduplicated query, against
//! the real broker (`EARSHOT_TEST_KAFKA`) and ClickHouse (`EARSHOT_TEST_CLICKHOUSE`).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use earshot_model::{EntityKind, Interaction};
use earshot_sink::clickhouse::Client;
use earshot_tests::seed::Seed;
use earshot_transport::{Bus, KafkaBus, KafkaConfig, Record};

const POSTS: usize = 20_000;

fn interaction(n: usize) -> Interaction {
    let at =
        Utc.with_ymd_and_hms(2026, 11, 21, 8, 0, 0).unwrap() + chrono::Duration::seconds(n as i64);
    let mut s = Seed::new(n.to_string(), at);
    s.text = Some(format!("post {n} about acme"));
    s.mentions = vec![(EntityKind::Brand, "acme")];
    s.shares = (0.0, 1.0, 0.0);
    s.fetched_after = None;
    s.scored_after = chrono::Duration::seconds(1);
    let mut i = s.build();
    // This test's posts carry no author.
    i.post.author = Default::default();
    i
}

fn earshot(config: &Path, command: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_earshot"));
    c.arg("--config")
        .arg(config)
        .arg(command)
        .env_remove("EARSHOT_CLICKHOUSE_URL")
        .env_remove("EARSHOT_KAFKA_BROKERS")
        .env("EARSHOT_METRICS_ADDR", "127.0.0.1:0");
    c
}

fn start_sink(config: &Path, log: &Path) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    earshot(config, "sink")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap()
}

async fn count(client: &Client, sql: &str) -> u64 {
    client.query(sql).fetch_one::<u64>().await.unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_sink_restarts_without_loss_or_visible_duplicates() {
    let (Some(brokers), Some(url)) = (earshot_tests::kafka(), earshot_tests::clickhouse()) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (raw, scored, dead) = (
        earshot_tests::unique_name("raw"),
        earshot_tests::unique_name("scored"),
        earshot_tests::unique_name("dlq"),
    );
    for t in [&raw, &scored, &dead] {
        earshot_tests::create_named_topic(&brokers, t, 3).await;
    }
    let database = earshot_tests::clickhouse_database("sink_kill");
    let group = earshot_tests::unique_name("sink");
    let config = dir.path().join("earshot.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[transport.kafka]
brokers = "{brokers}"
[transport.topics]
raw = "{raw}"
scored = "{scored}"
dead_letter = "{dead}"
partitions = 3

[sink]
kind = "clickhouse"
group = "{group}"
[sink.batch]
max_rows = 1000
max_age_ms = 200
[sink.clickhouse]
url = "{url}"
database = "{database}"
"#
        ),
    )
    .unwrap();
    let out = earshot(&config, "migrate").output().unwrap();
    assert!(
        out.status.success(),
        "migrate failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let kafka: KafkaConfig = toml::from_str(&format!("brokers = \"{brokers}\"")).unwrap();
    let bus = KafkaBus::new(&kafka).unwrap();
    let producer = bus.producer();
    let sends: Vec<_> = (0..POSTS)
        .map(|n| {
            let i = interaction(n);
            producer.send(&scored, Record::new(i.post.id.clone(), i.to_json()))
        })
        .collect();
    for s in sends {
        s.await.unwrap();
    }

    let client = earshot_sink::clickhouse::client(
        &earshot_sink::ClickHouseConfig {
            url: url.clone(),
            database: database.clone(),
            ..Default::default()
        },
        true,
    );
    let log = dir.path().join("sink.log");
    // Kill it twice in the middle of the stream: each time some inserted
    // batches have not had their offsets committed yet.
    for round in 1..=2 {
        let mut sink = start_sink(&config, &log);
        let target = (POSTS as u64 / 3) * round;
        let deadline = Instant::now() + Duration::from_secs(120);
        while count(&client, "SELECT toUInt64(count()) FROM interactions").await < target {
            assert!(
                Instant::now() < deadline,
                "sink made no progress; log:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            if let Some(status) = sink.try_wait().unwrap() {
                panic!(
                    "sink exited early ({status}); log:\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        sink.kill().unwrap(); // SIGKILL
        sink.wait().unwrap();
        // Let the broker expire the dead member (session timeout 10 s) before the
        // restart: with tansu 0.6, a member joining while the dead one is still in
        // the group ends up with an empty assignment after the rebalance.
        tokio::time::sleep(Duration::from_secs(12)).await;
    }

    let mut sink = start_sink(&config, &log);
    let deadline = Instant::now() + Duration::from_secs(180);
    while count(
        &client,
        "SELECT toUInt64(uniqExact(post_id)) FROM interactions",
    )
    .await
        < POSTS as u64
    {
        assert!(
            Instant::now() < deadline,
            "not every post arrived; log:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Graceful stop: SIGTERM, then the sink drains and commits.
    let term = Command::new("kill")
        .arg("-TERM")
        .arg(sink.id().to_string())
        .status()
        .unwrap();
    assert!(term.success());
    let status = sink.wait().unwrap();
    assert!(
        status.success(),
        "sink exit status {status}; log:\n{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );

    let raw_rows = count(&client, "SELECT toUInt64(count()) FROM interactions").await;
    let deduplicated = count(&client, "SELECT toUInt64(count()) FROM interactions FINAL").await;
    let repeated = count(&client, "SELECT toUInt64(count()) FROM (SELECT post_id FROM interactions FINAL GROUP BY post_id HAVING count() > 1)").await;
    // Background merges may already have collapsed duplicates in `interactions`;
    // the summing aggregate keeps every insert, so it shows what was redelivered.
    let inserted = count(
        &client,
        "SELECT toUInt64(sum(mentions)) FROM mentions_minute",
    )
    .await;
    eprintln!(
        "rows now in interactions {raw_rows}; inserted in all {inserted} (redelivered after the kills: {}); deduplicated {deduplicated}",
        inserted.saturating_sub(POSTS as u64)
    );
    assert!(inserted >= POSTS as u64);
    assert_eq!(
        deduplicated, POSTS as u64,
        "every post exactly once in the deduplicated query"
    );
    assert_eq!(repeated, 0);
    let mention_posts = count(&client, "SELECT toUInt64(count()) FROM mentions FINAL").await;
    assert_eq!(
        mention_posts, POSTS as u64,
        "one mention per post, deduplicated"
    );
}
