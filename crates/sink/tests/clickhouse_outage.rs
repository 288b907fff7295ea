//! ClickHouse killed for 30 s mid-stream: nothing is lost, offsets are not
//! committed past what is stored while it is down, and after it is back every
//! post is present exactly once. Uses a private ClickHouse server (started from
//! a copy of the packaged config) so the shared one is never stopped.

mod common;

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use common::{clickhouse_config, client, simple, PrivateClickHouse};
use earshot_transport::{Bus, MemoryBus, Record, TopicsConfig};
use tokio_util::sync::CancellationToken;

async fn stored(config: &earshot_sink::SinkConfig) -> u64 {
    client(config)
        .query("SELECT toUInt64(count()) FROM interactions")
        .fetch_one()
        .await
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clickhouse_down_for_30s_loses_nothing_and_commits_nothing_unstored() {
    // Runs wherever the harness runs ClickHouse tests; the server itself is private.
    if earshot_tests::clickhouse().is_none() {
        return;
    }
    let Some(mut server) = PrivateClickHouse::start() else {
        return;
    };
    let mut config = clickhouse_config(&server.url());
    config.batch.max_rows = 200;
    config.batch.max_age_ms = 100;
    config.retry.max_backoff_ms = 2_000;
    // Wait for the fresh server to accept queries, not only connections.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while let Err(e) = earshot_sink::migrate(&config).await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "private ClickHouse not ready: {e}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    let bus = MemoryBus::new();
    let topics = TopicsConfig::default();
    bus.ensure_topics(&topics.specs()).await.unwrap();
    let committed = |bus: &MemoryBus| -> i64 {
        (0..topics.partitions)
            .filter_map(|p| bus.committed(&config.group, &topics.scored, p))
            .sum()
    };
    let producer = bus.producer();
    let at = Utc.with_ymd_and_hms(2026, 11, 21, 8, 0, 0).unwrap();
    let send = |range: std::ops::Range<usize>| {
        let producer = producer.clone();
        let scored = topics.scored.clone();
        async move {
            for n in range {
                let i = simple(n, at);
                producer
                    .send(&scored, Record::new(i.post.id.clone(), i.to_json()))
                    .await
                    .unwrap();
            }
        }
    };

    let shutdown = CancellationToken::new();
    let task = earshot_sink::spawn(
        Arc::new(bus.clone()),
        topics.clone(),
        config.clone(),
        shutdown.clone(),
    );
    send(0..1000).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while stored(&config).await < 1000 || committed(&bus) < 1000 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "first half not stored"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    server.stop();
    send(1000..2000).await;
    // While it is down: offsets stay at what was stored before.
    for _ in 0..30 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(
            committed(&bus),
            1000,
            "nothing may be committed while ClickHouse is down"
        );
    }
    server.resume();

    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while committed(&bus) < 2000 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "did not recover: committed {}",
            committed(&bus)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    shutdown.cancel();
    let stats = task.await.unwrap().unwrap();
    assert!(
        stats.retries > 0,
        "the outage was retried visibly: {stats:?}"
    );
    assert_eq!(stats.acknowledged, 2000);
    let c = client(&config);
    let final_count: u64 = c
        .query("SELECT toUInt64(count()) FROM interactions FINAL")
        .fetch_one()
        .await
        .unwrap();
    let distinct: u64 = c
        .query("SELECT toUInt64(uniqExact(post_id)) FROM interactions")
        .fetch_one()
        .await
        .unwrap();
    assert_eq!(
        (final_count, distinct),
        (2000, 2000),
        "every post exactly once"
    );
}
