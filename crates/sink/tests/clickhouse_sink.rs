//! The ClickHouse sink against a real server (`EARSHOT_TEST_CLICKHOUSE`):
//! migrations, idempotent retries, bad-row isolation, dead letters, the
//! consume → insert → acknowledge chain.

mod common;

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use common::{clickhouse_config, client, simple};
use earshot_sink::clickhouse::ClickHouseSink;
use earshot_sink::{Batch, BatchItem, Position, RetryPolicy, Sink, SinkConfig};
use earshot_transport::{Bus, MemoryBus, Record, TopicsConfig};
use tokio_util::sync::CancellationToken;

async fn migrated() -> Option<SinkConfig> {
    let url = earshot_tests::clickhouse()?;
    let config = clickhouse_config(&url);
    earshot_sink::migrate(&config).await.unwrap();
    Some(config)
}

fn batch(ids: impl IntoIterator<Item = usize>) -> Batch {
    let at = Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap();
    let mut b = Batch::default();
    for n in ids {
        let i = simple(n, at + chrono::Duration::seconds(n as i64));
        b.push(BatchItem {
            raw: i.to_json(),
            interaction: i,
            position: Position {
                topic: "scored".into(),
                partition: 0,
                offset: n as i64,
            },
        });
    }
    b
}

async fn sink(config: &SinkConfig) -> ClickHouseSink {
    ClickHouseSink::connect(
        &config.clickhouse,
        RetryPolicy::new(&config.retry, CancellationToken::new()),
    )
    .await
    .unwrap()
}

async fn count(config: &SinkConfig, sql: &str) -> u64 {
    client(config).query(sql).fetch_one::<u64>().await.unwrap()
}

#[tokio::test]
async fn migrations_run_from_empty_then_are_idempotent() {
    let Some(url) = earshot_tests::clickhouse() else {
        return;
    };
    let config = clickhouse_config(&url);
    let first = earshot_sink::migrate(&config).await.unwrap();
    assert_eq!(
        first.applied,
        [
            "001_interactions",
            "002_mentions",
            "003_mentions_minute",
            "004_sink_dead_letters",
            "005_responses",
            "006_mention_posts_minute",
            "007_aggregate_dedup_window",
            "013_alerts",
            "014_response_log",
            "015_assignments",
            "016_match_feedback",
            "017_cases",
            "018_forgotten",
            "021_author_posts",
            "022_crm_standings",
            "023_noise",
            "024_route_names"
        ]
    );
    assert_eq!(first.already_applied, 0);
    let again = earshot_sink::migrate(&config).await.unwrap();
    assert!(again.applied.is_empty(), "{again:?}");
    assert_eq!(again.already_applied, 17);

    let tables: Vec<String> = client(&config)
        .query("SELECT name FROM system.tables WHERE database = ? ORDER BY name")
        .bind(config.clickhouse.database.as_str())
        .fetch_all()
        .await
        .unwrap();
    assert_eq!(
        tables,
        [
            "alert_deliveries",
            "alerts",
            "assignments",
            "author_posts",
            "author_posts_mv",
            "cases",
            "crm_standings",
            "crm_standings_current",
            "forgotten",
            "interactions",
            "match_feedback",
            "mention_posts_minute",
            "mention_posts_minute_mv",
            "mentions",
            "mentions_minute",
            "mentions_minute_mv",
            "response_log",
            "responses",
            "schema_migrations",
            "sink_dead_letters"
        ]
    );
    assert_eq!(
        count(
            &config,
            "SELECT toUInt64(count()) FROM (SELECT DISTINCT version FROM schema_migrations)"
        )
        .await,
        17
    );
}

/// An existing deployment (rows in `mentions`, no `mention_posts_minute`) upgrades:
/// the migration creates the aggregate and backfills it, and running it again
/// (as after an interruption) changes no count.
#[tokio::test]
async fn the_exact_aggregate_is_backfilled_on_upgrade_and_the_migration_reruns() {
    let Some(config) = migrated().await else {
        return;
    };
    let mut sink = sink(&config).await;
    sink.write(&batch(0..300)).await.unwrap();
    // Back to a pre-006 deployment whose migration record was lost.
    for sql in [
        "DROP TABLE mention_posts_minute_mv",
        "DROP TABLE mention_posts_minute",
        "DROP TABLE schema_migrations",
    ] {
        client(&config).query(sql).execute().await.unwrap();
    }
    let distinct = "SELECT toUInt64(uniqExactMerge(posts)) FROM mention_posts_minute";
    for round in 0..2 {
        let report = earshot_sink::migrate(&config).await.unwrap();
        assert!(
            report
                .applied
                .contains(&"006_mention_posts_minute".to_string()),
            "round {round}: {report:?}"
        );
        // Each `simple` row mentions two entities: acme and globex.
        assert_eq!(
            count(
                &config,
                "SELECT toUInt64(sum(n)) FROM (SELECT uniqExactMerge(posts) AS n FROM mention_posts_minute GROUP BY entity_id)"
            )
            .await,
            600,
            "round {round}"
        );
        assert_eq!(count(&config, distinct).await, 300, "round {round}");
        client(&config)
            .query("DROP TABLE schema_migrations")
            .execute()
            .await
            .unwrap();
    }
    // Rows written after the upgrade go through the view.
    earshot_sink::migrate(&config).await.unwrap();
    sink.write(&batch(250..400)).await.unwrap();
    assert_eq!(count(&config, distinct).await, 400);
}

#[tokio::test]
async fn sink_refuses_to_start_without_the_schema() {
    let Some(url) = earshot_tests::clickhouse() else {
        return;
    };
    let config = clickhouse_config(&url);
    let err = ClickHouseSink::connect(
        &config.clickhouse,
        RetryPolicy::new(&config.retry, CancellationToken::new()),
    )
    .await
    .err()
    .expect("no schema: fatal");
    assert!(
        err.to_string().contains("run `earshot migrate` first"),
        "{err}"
    );
}

#[tokio::test]
async fn a_retried_batch_leaves_no_visible_duplicates() {
    let Some(config) = migrated().await else {
        return;
    };
    let mut sink = sink(&config).await;
    let b = batch(0..500);
    assert_eq!(sink.write(&b).await.unwrap().stored, 500);
    // The same batch again, as after a lost acknowledgement or a restart before the commit.
    assert_eq!(sink.write(&b).await.unwrap().stored, 500);
    assert_eq!(
        count(&config, "SELECT toUInt64(count()) FROM interactions FINAL").await,
        500
    );
    assert_eq!(
        count(
            &config,
            "SELECT toUInt64(uniqExact(post_id)) FROM interactions"
        )
        .await,
        500
    );
    assert_eq!(
        count(&config, "SELECT toUInt64(count()) FROM mentions FINAL").await,
        1000
    );
    assert_eq!(count(&config, "SELECT toUInt64(count()) FROM (SELECT post_id, argMax(priority, version) FROM interactions GROUP BY post_id)").await, 500);
}

#[tokio::test]
async fn a_bad_row_is_isolated_and_dead_lettered_with_the_error() {
    let Some(config) = migrated().await else {
        return;
    };
    // A column computed on insert that fails for one value: ClickHouse refuses
    // the whole insert with code 6 (CANNOT_PARSE_TEXT), as it would for a bad value.
    client(&config)
        .query("ALTER TABLE interactions ADD COLUMN native_number UInt64 MATERIALIZED toUInt64(replaceRegexpOne(post_id, '^[^:]*:', ''))")
        .execute()
        .await
        .unwrap();
    let mut b = batch(0..200);
    let bad = 137;
    b.items[bad].interaction.post.id = "hn:not-a-number".into();
    b.items[bad].raw = b.items[bad].interaction.to_json();
    let mut sink = sink(&config).await;
    let report = sink.write(&b).await.unwrap();
    assert_eq!(report.stored, 199);
    assert_eq!(report.dead_lettered, 1);
    assert!(report.rejected.is_empty());

    assert_eq!(
        count(&config, "SELECT toUInt64(count()) FROM interactions FINAL").await,
        199
    );
    assert_eq!(
        count(
            &config,
            "SELECT toUInt64(count()) FROM interactions WHERE post_id = 'hn:not-a-number'"
        )
        .await,
        0
    );
    // Its mentions are not stored either: the record is quarantined whole.
    assert_eq!(
        count(&config, "SELECT toUInt64(count()) FROM mentions FINAL").await,
        398
    );
    #[derive(clickhouse::Row, serde::Deserialize)]
    struct Dl {
        target_table: String,
        error_code: i32,
        error: String,
        src_offset: i64,
        post_id: String,
        payload: String,
    }
    let dl: Vec<Dl> = client(&config)
        .query("SELECT target_table, error_code, error, src_offset, post_id, payload FROM sink_dead_letters")
        .fetch_all()
        .await
        .unwrap();
    assert_eq!(dl.len(), 1);
    assert_eq!(dl[0].target_table, "interactions");
    assert_eq!(dl[0].error_code, 6);
    assert!(dl[0].error.contains("Cannot parse"), "{}", dl[0].error);
    assert_eq!(dl[0].src_offset, bad as i64);
    assert_eq!(dl[0].post_id, "hn:not-a-number");
    assert_eq!(dl[0].payload.as_bytes(), &b.items[bad].raw[..]);
}

#[tokio::test]
async fn rows_refused_even_by_the_dead_letter_table_are_returned_for_the_topic() {
    let Some(config) = migrated().await else {
        return;
    };
    let c = client(&config);
    c.query("ALTER TABLE interactions ADD COLUMN native_number UInt64 MATERIALIZED toUInt64(replaceRegexpOne(post_id, '^[^:]*:', ''))")
        .execute()
        .await
        .unwrap();
    let mut sink = sink(&config).await;
    c.query("DROP TABLE sink_dead_letters")
        .execute()
        .await
        .unwrap();
    let mut b = batch(0..10);
    b.items[3].interaction.post.id = "hn:x".into();
    let report = sink.write(&b).await.unwrap();
    assert_eq!(report.stored, 9);
    assert_eq!(report.rejected.len(), 1);
    assert_eq!(report.rejected[0].0, 3);
    assert!(
        report.rejected[0].1.contains("Cannot parse"),
        "{:?}",
        report.rejected
    );
}

#[tokio::test]
async fn the_chain_stores_everything_acknowledges_it_and_dead_letters_undecodable_records() {
    let Some(mut config) = migrated().await else {
        return;
    };
    config.batch.max_rows = 300;
    config.batch.max_age_ms = 100;
    let bus = MemoryBus::new();
    let topics = TopicsConfig::default();
    bus.ensure_topics(&topics.specs()).await.unwrap();
    let producer = bus.producer();
    let at = Utc.with_ymd_and_hms(2026, 11, 21, 8, 0, 0).unwrap();
    for n in 0..1000 {
        let i = simple(n, at);
        producer
            .send(&topics.scored, Record::new(i.post.id.clone(), i.to_json()))
            .await
            .unwrap();
    }
    producer
        .send(&topics.scored, Record::new("bad:1", b"{not json".to_vec()))
        .await
        .unwrap();
    producer
        .send(
            &topics.scored,
            Record::new("bad:2", br#"{"schema_version": 99}"#.to_vec()),
        )
        .await
        .unwrap();

    let shutdown = CancellationToken::new();
    let task = earshot_sink::spawn(
        Arc::new(bus.clone()),
        topics.clone(),
        config.clone(),
        shutdown.clone(),
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while count(&config, "SELECT toUInt64(count()) FROM interactions").await < 1000 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "rows did not arrive"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    shutdown.cancel();
    let stats = task.await.unwrap().unwrap();
    assert_eq!(stats.received, 1002);
    assert_eq!(stats.stored, 1000);
    assert_eq!(stats.undecodable, 2);
    assert_eq!(stats.acknowledged, 1000);
    assert_eq!(bus.len(&topics.dead_letter), 2);
    let committed: i64 = (0..topics.partitions)
        .map(|p| bus.committed(&config.group, &topics.scored, p).unwrap_or(0))
        .sum();
    assert_eq!(
        committed, 1002,
        "every record (stored or dead-lettered) is committed"
    );
    assert_eq!(
        count(&config, "SELECT toUInt64(count()) FROM interactions FINAL").await,
        1000
    );
    assert_eq!(
        count(
            &config,
            "SELECT toUInt64(sum(mentions)) FROM mentions_minute"
        )
        .await,
        2000
    );
}

#[tokio::test]
async fn a_fatal_error_stops_the_sink_without_committing_the_batch() {
    let Some(mut config) = migrated().await else {
        return;
    };
    config.batch.max_age_ms = 50;
    let bus = MemoryBus::new();
    let topics = TopicsConfig::default();
    bus.ensure_topics(&topics.specs()).await.unwrap();
    let at = Utc.with_ymd_and_hms(2026, 11, 21, 8, 0, 0).unwrap();
    let shutdown = CancellationToken::new();
    let task = earshot_sink::spawn(
        Arc::new(bus.clone()),
        topics.clone(),
        config.clone(),
        shutdown.clone(),
    );
    // Connected and running: now the table disappears (an operator mistake).
    tokio::time::sleep(Duration::from_millis(500)).await;
    client(&config)
        .query("DROP TABLE mentions")
        .execute()
        .await
        .unwrap();
    for n in 0..50 {
        let i = simple(n, at);
        bus.producer()
            .send(&topics.scored, Record::new(i.post.id.clone(), i.to_json()))
            .await
            .unwrap();
    }
    let err = tokio::time::timeout(Duration::from_secs(20), task)
        .await
        .expect("stops by itself")
        .unwrap()
        .unwrap_err();
    assert!(
        err.to_string().contains("fatal") && err.to_string().contains("mentions"),
        "{err}"
    );
    let committed: i64 = (0..topics.partitions)
        .filter_map(|p| bus.committed(&config.group, &topics.scored, p))
        .sum();
    assert_eq!(committed, 0, "nothing committed past the failed batch");
}
