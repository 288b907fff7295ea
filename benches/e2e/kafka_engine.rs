//! Whether ClickHouse's own Kafka table engine can ingest the raw topic from
//! this broker: the alternative a user could pick instead of Earshot (no
//! matching). Produces `n` posts, attaches a Kafka engine table with a
//! materialized view into a MergeTree table and waits for the rows.

use std::time::{Duration, Instant};

use clickhouse::Client;

use crate::posts::{produce, RawPost};

/// What happened: rows ingested per second, or why not.
pub enum Outcome {
    /// All `n` rows arrived; posts/s from the first produce.
    Ingested(f64),
    /// The engine could not be created, or rows did not arrive in time.
    Failed(String),
}

/// Tries the Kafka engine on `brokers` with `posts`.
pub async fn try_engine(
    brokers: &str,
    clickhouse: &str,
    partitions: i32,
    posts: Vec<RawPost>,
    timeout: Duration,
) -> Outcome {
    let topic = earshot_tests::unique_name("e2e_kafka_engine");
    earshot_tests::create_named_topic(brokers, &topic, partitions).await;
    let database = earshot_tests::unique_name("kafka_engine_e2e");
    let admin = Client::default()
        .with_url(clickhouse)
        .with_validation(false);
    let run = |sql: String| {
        let admin = admin.clone();
        async move {
            admin
                .query(&sql)
                .execute()
                .await
                .map_err(|e| format!("{e}"))
        }
    };
    let group = earshot_tests::unique_name("e2e_kafka_engine");
    // Names come from unique_name ([A-Za-z0-9_]) and the broker address from the harness.
    let ddl = [
        format!("CREATE DATABASE {database}"),
        format!(
            "CREATE TABLE {database}.queue (id String, source String, text String) \
             ENGINE = Kafka('{brokers}', '{topic}', '{group}', 'JSONEachRow')"
        ),
        format!(
            "CREATE TABLE {database}.posts (id String, source String, text String) \
             ENGINE = MergeTree ORDER BY id"
        ),
        format!(
            "CREATE MATERIALIZED VIEW {database}.consume TO {database}.posts \
             AS SELECT id, source, text FROM {database}.queue"
        ),
    ];
    for sql in ddl {
        if let Err(e) = run(sql.clone()).await {
            return Outcome::Failed(format!("{sql}: {e}"));
        }
    }
    let n = posts.len() as u64;
    let (b, t) = (brokers.to_string(), topic.clone());
    let started = Instant::now();
    tokio::task::spawn_blocking(move || produce(&b, &t, &posts, None))
        .await
        .unwrap();
    let count = format!("SELECT toUInt64(uniqExact(id)) FROM {database}.posts");
    let mut got = 0;
    let outcome = loop {
        got = admin.query(&count).fetch_one::<u64>().await.unwrap_or(got);
        if got >= n {
            break Outcome::Ingested(n as f64 / started.elapsed().as_secs_f64());
        }
        if started.elapsed() > timeout {
            break Outcome::Failed(format!(
                "{got} of {n} rows arrived within {timeout:?} (see the rdkafka lines in the ClickHouse server log)"
            ));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    // Detach the consumer so it stops retrying the broker in the background.
    let _ = run(format!("DROP TABLE {database}.consume")).await;
    let _ = run(format!("DROP TABLE {database}.queue")).await;
    outcome
}
