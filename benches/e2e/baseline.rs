//! The baseline a user could run instead of Earshot: a bare consumer that
//! inserts the raw topic, unmatched, into a plain ClickHouse table. It batches
//! like `earshot sink` (50,000 rows or 1 s) and commits offsets only after
//! the insert, so it is at-least-once too. It decodes only the post's id,
//! source and text.

use std::time::Duration;

use clickhouse::{Client, Row};
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

/// The plain table the baseline fills.
pub const TABLE_DDL: &str = "CREATE TABLE IF NOT EXISTS raw_posts (
    post_id String,
    source String,
    text String,
    payload String,
    src_partition Int32,
    src_offset Int64
) ENGINE = MergeTree ORDER BY post_id";

#[derive(Row, Serialize)]
struct RawRow {
    post_id: String,
    source: String,
    text: String,
    payload: String,
    src_partition: i32,
    src_offset: i64,
}

#[derive(Deserialize)]
struct Fields {
    id: String,
    #[serde(default)]
    source: String,
    #[serde(default)]
    text: String,
}

const MAX_ROWS: usize = 50_000;
const MAX_AGE: Duration = Duration::from_secs(1);

/// Consumes `topic` from the start into `raw_posts` until `stop`; returns the rows inserted.
pub async fn run(
    brokers: String,
    topic: String,
    group: String,
    partitions: i32,
    client: Client,
    stop: CancellationToken,
) -> u64 {
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("group.id", &group)
        .set("enable.auto.commit", "false")
        .set("fetch.wait.max.ms", "10")
        .create()
        .expect("baseline consumer");
    // Explicit assignment from the start: no group-join delay inside the
    // measurement (the Earshot daemons have joined before it starts).
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition_offset(&topic, p, Offset::Beginning)
            .expect("partition");
    }
    consumer.assign(&tpl).expect("assign");
    let mut rows: Vec<RawRow> = Vec::with_capacity(MAX_ROWS);
    let mut inserted = 0u64;
    let mut deadline = tokio::time::Instant::now() + MAX_AGE;
    loop {
        let flush = tokio::select! {
            _ = stop.cancelled() => break,
            m = consumer.recv() => {
                let m = m.expect("baseline consume");
                let payload = m.payload().unwrap_or_default();
                match serde_json::from_slice::<Fields>(payload) {
                    Ok(f) => {
                        if rows.is_empty() {
                            deadline = tokio::time::Instant::now() + MAX_AGE;
                        }
                        rows.push(RawRow {
                            post_id: f.id,
                            source: f.source,
                            text: f.text,
                            payload: String::from_utf8_lossy(payload).into_owned(),
                            src_partition: m.partition(),
                            src_offset: m.offset(),
                        });
                    }
                    // The bench produces only valid posts; a bad one would be a bench bug.
                    Err(e) => panic!("baseline: undecodable post at offset {}: {e}", m.offset()),
                }
                rows.len() >= MAX_ROWS
            }
            _ = tokio::time::sleep_until(deadline), if !rows.is_empty() => true,
        };
        if flush && !rows.is_empty() {
            let mut insert = client.insert::<RawRow>("raw_posts").await.expect("insert");
            for r in &rows {
                insert.write(r).await.expect("insert row");
            }
            insert.end().await.expect("insert end");
            inserted += rows.len() as u64;
            rows.clear();
            // Offsets move only after ClickHouse has the rows.
            consumer
                .commit_consumer_state(CommitMode::Async)
                .expect("commit");
        }
    }
    inserted
}
