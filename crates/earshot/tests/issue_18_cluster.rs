//! Issue 18: Earshot on a ClickHouse cluster, for real, as users run it:
//! `earshot migrate` and `earshot sink` with `[sink.clickhouse] cluster`,
//! against the harness's cluster (`tests/harness/cluster.sh`: ZooKeeper and
//! two ClickHouse 18.16 servers; `EARSHOT_TEST_CLUSTER` names its state
//! directory) and the test broker.
//!
//! - one shard, two replicas: the sink writes while one replica, then the
//!   other, is stopped and restarted; every post is then on both replicas
//!   once, and `earshot report` reads the distributed tables with the same
//!   figures as one server holding the same posts; a retried batch is
//!   dropped by the replicated tables' block deduplication;
//! - two shards: posts spread over both, each on exactly one, the report's
//!   figures those of one server.

mod cluster_common;

use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use cluster_common::*;
use earshot_sink::Sink;
use earshot_tests::process::Daemon;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_18_one_shard_two_replicas_keep_every_post_once_through_replica_restarts() {
    let _one_at_a_time = CLUSTER.lock().await;
    let Some((cluster, s, database, config)) =
        setup("issue18_replicas", "cluster = \"earshot_replicas\"").await
    else {
        return;
    };
    let out = earshot(&config, &["migrate"]);
    assert!(out.contains("cluster earshot_replicas"), "{out}");
    assert!(
        earshot(&config, &["migrate"]).contains("schema up to date"),
        "a second migrate changes nothing"
    );
    let (c1, c2) = (cluster.client(1, &database), cluster.client(2, &database));
    for c in [&c1, &c2] {
        let engines: Vec<(String, String)> = c
            .query("SELECT name, engine FROM system.tables WHERE database = currentDatabase() AND name IN ('interactions', 'interactions_local')")
            .fetch_all()
            .await
            .unwrap();
        assert_eq!(
            engines,
            [
                ("interactions".to_string(), "Distributed".to_string()),
                (
                    "interactions_local".to_string(),
                    "ReplicatedReplacingMergeTree".to_string()
                )
            ]
        );
    }

    let bin = Path::new(env!("CARGO_BIN_EXE_earshot"));
    let mut sink = Daemon::spawn(bin, &config, &["sink"], s.dir.path(), "sink");
    let distinct = "SELECT toUInt64(uniqExact(post_id)) FROM interactions";
    let third = POSTS / 3;
    // Round 1: both replicas up.
    produce(&s.brokers, &s.topic, 0..third);
    wait_count(&c1, distinct, third as u64, "round 1", Some(&mut sink)).await;
    // Round 2: replica 2 down while the sink writes; it catches up when back.
    cluster.server("stop-server", 2);
    produce(&s.brokers, &s.topic, third..2 * third);
    wait_count(&c1, distinct, 2 * third as u64, "round 2", Some(&mut sink)).await;
    cluster.server("start-server", 2);
    // Round 3: the replica the sink talks to goes down; the sink retries
    // until it is back (any insert cut short is sent again, as the same block).
    cluster.server("stop-server", 1);
    produce(&s.brokers, &s.topic, 2 * third..POSTS);
    tokio::time::sleep(Duration::from_secs(2)).await;
    cluster.server("start-server", 1);
    wait_count(&c1, distinct, POSTS as u64, "round 3", Some(&mut sink)).await;
    assert!(
        sink.log().contains("transient failure; retrying"),
        "the sink wrote while its server was down, so it retried; log:\n{}",
        sink.log()
    );
    let (status, _) = sink.terminate(Duration::from_secs(30));
    assert!(status.success(), "{}", sink.log());

    // Every post on both replicas, once in the deduplicated tables.
    for (n, c) in [(1, &c1), (2, &c2)] {
        wait_count(
            c,
            "SELECT toUInt64(count()) FROM interactions_local FINAL",
            POSTS as u64,
            &format!("replica {n} interactions"),
            None,
        )
        .await;
        wait_count(
            c,
            "SELECT toUInt64(uniqExact(post_id)) FROM mentions_local",
            POSTS as u64,
            &format!("replica {n} mentions"),
            None,
        )
        .await;
        let mentions = count(c, "SELECT toUInt64(count()) FROM mentions_local FINAL").await;
        assert_eq!(mentions, (POSTS + POSTS.div_ceil(5)) as u64, "replica {n}");
        let aggregated = count(
            c,
            "SELECT toUInt64(uniqExactMerge(posts)) FROM mention_posts_minute_local WHERE entity_kind = 'brand'",
        )
        .await;
        assert_eq!(aggregated, POSTS as u64, "replica {n}'s aggregate");
    }

    // The dashboards read the distributed tables unchanged: the report from
    // either replica is the report of one server holding the same posts.
    let single = s.single_server().await;
    let expected = report(&single);
    assert!(expected.contains("acme"), "{expected}");
    assert_eq!(report(&config), expected);
    let via_2 = s.dir.path().join("via2.toml");
    std::fs::write(
        &via_2,
        std::fs::read_to_string(&config)
            .unwrap()
            .replace(&cluster.http[0], &cluster.http[1]),
    )
    .unwrap();
    assert_eq!(report(&via_2), expected);
    dashboards_agree(&single, &config).await;

    // A retried batch (the same rows again, as the sink's retry sends them)
    // is dropped by the replicated tables' block deduplication, and so
    // never reaches the views: the summing aggregate, which counts every
    // insert, counts it once.
    let ch = earshot_sink::SinkConfig {
        kind: earshot_sink::SinkKind::Clickhouse,
        clickhouse: earshot_sink::ClickHouseConfig {
            url: cluster.http[0].clone(),
            database: database.clone(),
            cluster: Some("earshot_replicas".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    let mut writer = earshot_sink::clickhouse::ClickHouseSink::connect(
        &ch.clickhouse,
        earshot_sink::RetryPolicy::new(&ch.retry, tokio_util::sync::CancellationToken::new()),
    )
    .await
    .unwrap();
    // The sink wrote through replica 1 (the distributed table prefers the
    // local replica): its local aggregate counts the inserts.
    let inserted =
        "SELECT toUInt64(sum(mentions)) FROM mentions_minute_local WHERE entity_kind = 'brand'";
    let before = count(&c1, inserted).await;
    let batch = batch_of((POSTS..POSTS + 100).map(interaction).collect());
    for _ in 0..2 {
        let written = writer.write(&batch).await.unwrap();
        assert_eq!(written.stored, 100);
    }
    let after = count(&c1, inserted).await;
    assert_eq!(after - before, 100, "the retried batch was inserted again");
    wait_count(&c2, inserted, after, "replica 2's aggregate", None).await;
    wait_count(
        &c2,
        "SELECT toUInt64(count()) FROM interactions_local FINAL",
        (POSTS + 100) as u64,
        "replica 2 after the retried batch",
        None,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_18_two_shards_hold_each_post_once_and_report_every_post() {
    let _one_at_a_time = CLUSTER.lock().await;
    let Some((cluster, s, database, config)) = setup(
        "issue18_shards",
        "cluster = \"earshot_shards\"\nreplica_path = \"/clickhouse/tables/{shard_of_two}/{database}/{table}\"",
    )
    .await
    else {
        return;
    };
    earshot(&config, &["migrate"]);
    let bin = Path::new(env!("CARGO_BIN_EXE_earshot"));
    let mut sink = Daemon::spawn(bin, &config, &["sink"], s.dir.path(), "sink");
    produce(&s.brokers, &s.topic, 0..POSTS);
    let c1 = cluster.client(1, &database);
    wait_count(
        &c1,
        "SELECT toUInt64(uniqExact(post_id)) FROM interactions",
        POSTS as u64,
        "distributed interactions",
        Some(&mut sink),
    )
    .await;
    let (status, _) = sink.terminate(Duration::from_secs(30));
    assert!(status.success(), "{}", sink.log());

    // Each post on exactly one shard, and both shards used.
    let mut seen = HashSet::new();
    for n in 1..=2 {
        let ids: Vec<String> = cluster
            .client(n, &database)
            .query("SELECT DISTINCT post_id FROM interactions_local")
            .fetch_all()
            .await
            .unwrap();
        eprintln!("shard {n}: {} of {POSTS} posts", ids.len());
        assert!(ids.len() > POSTS / 4, "shard {n} holds {} posts", ids.len());
        for id in ids {
            assert!(seen.insert(id.clone()), "{id} is on both shards");
        }
    }
    assert_eq!(seen.len(), POSTS);
    let aggregated = count(
        &c1,
        "SELECT toUInt64(uniqExactMerge(posts)) FROM mention_posts_minute WHERE entity_kind = 'brand'",
    )
    .await;
    assert_eq!(aggregated, POSTS as u64);

    let single = s.single_server().await;
    let expected = report(&single);
    // Share of voice: every post's brand mention, counted once.
    let brands: Vec<&str> = expected
        .lines()
        .filter(|l| l.contains(" brand ") && l.contains(" 750 "))
        .collect();
    assert_eq!(
        brands.len(),
        4,
        "acme and initech, 750 each, in both windows:\n{expected}"
    );
    assert_eq!(report(&config), expected);
    dashboards_agree(&single, &config).await;

    // `earshot forget` deletes from every shard's local tables (a
    // distributed table cannot be altered).
    let by_author = "SELECT toUInt64(count()) FROM interactions_local WHERE author_handle = 'author3' AND post_id LIKE 'hn:%'";
    let before: u64 = [
        count(&c1, by_author).await,
        count(&cluster.client(2, &database), by_author).await,
    ]
    .iter()
    .sum();
    assert!(before > 10, "{before}");
    earshot(&config, &["forget", "--author", "hn:author3", "--yes"]);
    for n in 1..=2 {
        let c = cluster.client(n, &database);
        wait_count(&c, by_author, 0, &format!("shard {n} forgets"), None).await;
    }
    assert_eq!(
        count(&c1, "SELECT toUInt64(uniqExact(post_id)) FROM interactions").await,
        POSTS as u64 - before
    );
}
