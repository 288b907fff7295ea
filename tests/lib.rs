//! Helpers for Earshot's integration tests against real servers.
//!
//! The servers come from `tests/harness/start.sh` (or are any Kafka broker and
//! ClickHouse you point the variables at): `EARSHOT_TEST_KAFKA` = `host:port`,
//! `EARSHOT_TEST_CLICKHOUSE` = `http://host:port`. A test asks for its server
//! with [`kafka`] or [`clickhouse`]; when the variable is missing the test is
//! skipped with a notice, except under CI (`CI=true`), where it fails loudly so
//! a broken harness can never pass as green.
//!
//! ```no_run
//! # async fn example() {
//! let Some(brokers) = earshot_tests::kafka() else { return };
//! let topic = earshot_tests::create_topic(&brokers, "roundtrip", 3).await;
//! # let _ = topic;
//! # }
//! ```
#![deny(missing_docs)]

pub mod embedded;
pub mod kafka;
pub mod ops;
pub mod process;
pub mod seed;
pub mod webhook;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::types::RDKafkaErrorCode;

/// Environment variable naming the test Kafka broker (`host:port`).
pub const KAFKA_ENV: &str = "EARSHOT_TEST_KAFKA";
/// Environment variable naming the test ClickHouse HTTP endpoint (`http://host:port`).
pub const CLICKHOUSE_ENV: &str = "EARSHOT_TEST_CLICKHOUSE";

/// Copies the directory `from` (with its subdirectories) to `to`.
pub fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

/// Whether we run under CI (`CI=true` or `CI=1`), where missing servers are errors.
pub fn under_ci() -> bool {
    matches!(std::env::var("CI").as_deref(), Ok("true") | Ok("1"))
}

/// The server address in `var`, or `None` with a skip notice. Under CI a
/// missing variable panics: tests must not silently pass without their server.
pub fn server(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(v) if !v.trim().is_empty() => Some(v.trim().to_string()),
        _ if under_ci() => panic!(
            "{var} is not set but CI=true: integration tests must run against the real server \
             (run them through tests/harness/run-tests.sh)"
        ),
        _ => {
            eprintln!(
                "SKIPPED: {var} is not set; start the servers with `eval \"$(tests/harness/start.sh)\"` \
                 or run tests/harness/run-tests.sh"
            );
            None
        }
    }
}

/// The test Kafka broker (`host:port`), see [`server`].
pub fn kafka() -> Option<String> {
    server(KAFKA_ENV)
}

/// The test ClickHouse HTTP endpoint (`http://host:port`), see [`server`].
pub fn clickhouse() -> Option<String> {
    server(CLICKHOUSE_ENV)
}

/// A name unique to this process and call: `prefix`, the process id, the time
/// and a counter, in characters valid for Kafka topics, consumer groups and
/// ClickHouse identifiers (`[A-Za-z0-9_]`).
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let clean: String = prefix
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("{clean}_{}_{t}_{n}", std::process::id())
}

/// A fresh ClickHouse database name (not created; the code under test creates it).
pub fn clickhouse_database(prefix: &str) -> String {
    unique_name(&format!("earshot_test_{prefix}"))
}

/// An admin client for `brokers`.
pub fn admin(brokers: &str) -> AdminClient<DefaultClientContext> {
    ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .expect("creating a Kafka admin client")
}

/// Creates `name` with `partitions` partitions (replication 1) and waits until
/// the broker reports it. Topics must be created explicitly: some brokers
/// (tansu) do not auto-create them. An existing topic is an error: use
/// [`create_topic`] for a fresh name.
pub async fn create_named_topic(brokers: &str, name: &str, partitions: i32) {
    let admin = admin(brokers);
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    let results = admin
        .create_topics(
            &[NewTopic::new(name, partitions, TopicReplication::Fixed(1))],
            &opts,
        )
        .await
        .unwrap_or_else(|e| panic!("creating topic {name} on {brokers}: {e}"));
    for r in results {
        match r {
            Ok(_) => {}
            Err((t, RDKafkaErrorCode::TopicAlreadyExists)) => panic!("topic {t} already exists"),
            Err((t, e)) => panic!("creating topic {t} on {brokers}: {e}"),
        }
    }
    wait_for_topic(brokers, name, partitions).await;
}

/// Creates a uniquely named topic (`prefix` plus [`unique_name`]) with
/// `partitions` partitions and returns its name.
pub async fn create_topic(brokers: &str, prefix: &str, partitions: i32) -> String {
    let name = unique_name(prefix);
    create_named_topic(brokers, &name, partitions).await;
    name
}

/// Waits (up to 20 s; needs a Tokio runtime) until the broker's metadata shows `topic` with `partitions` partitions.
pub async fn wait_for_topic(brokers: &str, topic: &str, partitions: i32) {
    let brokers = brokers.to_string();
    let topic = topic.to_string();
    let check = move || {
        let admin = admin(&brokers);
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            let seen = admin
                .inner()
                .fetch_metadata(Some(&topic), Duration::from_secs(5))
                .ok()
                .and_then(|m| {
                    m.topics()
                        .first()
                        .map(|t| (t.error().is_none(), t.partitions().len()))
                });
            if let Some((true, n)) = seen {
                if n as i32 >= partitions {
                    return;
                }
            }
            assert!(
                std::time::Instant::now() < deadline,
                "topic {topic} did not appear on {brokers}: {seen:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    // Metadata calls block; keep them off the async runtime's threads.
    tokio::task::spawn_blocking(check)
        .await
        .expect("waiting for topic");
}

/// CPU nanoseconds this process's threads whose name starts with `prefix`
/// have used (`/proc/self/task/*/schedstat`), `None` when no such thread
/// exists or the kernel keeps no schedstat. Tests of threads that must not
/// spin compare it with the wall time: a spinning thread accumulates CPU
/// whenever it runs, so the machine's load cannot make such a test pass.
pub fn thread_cpu_ns(prefix: &str) -> Option<u64> {
    let mut total = None;
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let dir = task.ok()?.path();
        let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
        if !comm.starts_with(prefix) {
            continue;
        }
        let stat = std::fs::read_to_string(dir.join("schedstat")).ok()?;
        let ns: u64 = stat.split_whitespace().next()?.parse().ok()?;
        *total.get_or_insert(0) += ns;
    }
    total
}
