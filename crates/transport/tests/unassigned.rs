//! A member left without partitions while its topics have lag says so, then
//! leaves and rejoins its group (issue 12: tansu left a restarted daemon
//! with an empty assignment for good, and nothing said so).
//!
//! Two members on a one-partition topic: the holder takes every delivery and
//! acknowledges none (a stuck stage: the group's committed offset never
//! moves), and the other is left with `[]` while the topic has lag. The
//! holder's `client.id` sorts before Earshot's default one, so the range
//! assignor (run by the group leader) gives it the partition every time,
//! even after the other member rejoins. Needs `EARSHOT_TEST_KAFKA`.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use earshot_transport::{readiness, Bus, ConsumerOptions, KafkaBus, KafkaConfig};

/// Collects what the global subscriber writes (the poll threads log).
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    fn count(&self, needle: &str) -> usize {
        String::from_utf8_lossy(&self.0.lock().unwrap())
            .lines()
            .filter(|l| l.contains(needle))
            .count()
    }
}

fn bus(brokers: &str, client_id: Option<&str>, rejoin_ms: Option<u32>) -> KafkaBus {
    let mut properties = BTreeMap::new();
    if let Some(id) = client_id {
        properties.insert("client.id".to_string(), id.to_string());
    }
    KafkaBus::new(&KafkaConfig {
        brokers: brokers.to_string(),
        compression: "lz4".into(),
        session_timeout_ms: 6000,
        linger_ms: 5,
        idempotent: true,
        unassigned_rejoin_ms: rejoin_ms,
        properties,
    })
    .unwrap()
}

fn lag_check(group: &str) -> Option<Result<(), String>> {
    let name = earshot_transport::ready::lag_check(group);
    readiness()
        .checks()
        .into_iter()
        .find(|(n, _)| *n == name)
        .map(|(_, outcome)| outcome)
}

async fn wait_for(what: &str, timeout: Duration, done: impl Fn() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?}: {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_12_a_member_left_without_partitions_while_its_topic_has_lag_says_so_and_rejoins() {
    let Some(brokers) = earshot_tests::kafka() else {
        return;
    };
    let logs = Logs::default();
    let writer = logs.clone();
    tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .init();

    let topic = earshot_tests::create_topic(&brokers, "unassigned", 1).await;
    let group = earshot_tests::unique_name("unassigned");
    let n = 20;
    earshot_tests::kafka::produce(
        &brokers,
        &topic,
        (0..n).map(|i| (format!("k{i}"), b"{}".to_vec(), Vec::new())),
    );

    // The holder joins first, takes the partition and holds its first delivery.
    let holder_bus = bus(&brokers, Some("a-holder"), Some(0));
    let mut holder = holder_bus
        .consumer(ConsumerOptions::new(&group, [topic.as_str()]))
        .await
        .unwrap();
    let held = tokio::time::timeout(Duration::from_secs(30), holder.recv())
        .await
        .expect("the holder gets the partition")
        .unwrap()
        .unwrap();

    // The other member: alarm after one session (6 s), rejoin after 9 s.
    let mut options = ConsumerOptions::new(&group, [topic.as_str()]);
    options.held_report_interval = Duration::from_secs(1);
    let idle_bus = bus(&brokers, None, Some(9000));
    let mut idle = idle_bus.consumer(options).await.unwrap();

    wait_for(
        "the idle member's alarm (readiness check failing)",
        Duration::from_secs(40),
        || matches!(lag_check(&group), Some(Err(_))),
    )
    .await;
    let Some(Err(reason)) = lag_check(&group) else {
        unreachable!()
    };
    assert!(
        reason.contains("no partitions assigned") && reason.contains(&topic),
        "{reason}"
    );
    assert!(
        !readiness().is_ready(),
        "/ready fails while the alarm is raised"
    );
    wait_for(
        "the periodic warning, then leaving and rejoining",
        Duration::from_secs(40),
        || logs.count("leaving and rejoining the group") >= 1,
    )
    .await;
    assert!(
        logs.count(
            "no partitions assigned while the topics have lag and the group makes no progress"
        ) >= 2,
        "warned every report interval before rejoining"
    );
    // Rejoined as a new member, and still without partitions: the alarm is
    // raised again by the new member (it was reset at the rejoin).
    wait_for(
        "the rejoined member's alarm",
        Duration::from_secs(40),
        || {
            logs.count(
                "no partitions assigned while the topics have lag and the group makes no progress",
            ) >= 3
        },
    )
    .await;

    // The holder leaves without acknowledging: the idle member gets the
    // partition and reads everything from the start.
    drop(held);
    holder.close(Duration::from_secs(1)).await.unwrap();
    let mut got = 0;
    while got < n {
        let d = tokio::time::timeout(Duration::from_secs(60), idle.recv())
            .await
            .expect("the idle member takes over the partition")
            .unwrap()
            .unwrap();
        assert_eq!(d.message.offset, got as i64, "from the start, in order");
        d.ack.ack();
        got += 1;
    }
    idle.commit().await.unwrap();
    wait_for(
        "the alarm to clear once the member has partitions",
        Duration::from_secs(10),
        || matches!(lag_check(&group), Some(Ok(()))),
    )
    .await;
    assert!(logs.count("the unassigned-with-lag alarm is over") >= 1);
    idle.close(Duration::from_secs(5)).await.unwrap();
}
