//! Issue 11: an idempotent producer must not spin while its requests are in
//! flight. librdkafka keeps one ProduceRequest out per partition for an
//! idempotent producer and, before the patch in `vendor/rdkafka-sys`, asked
//! its broker thread to wake at the next batch's linger deadline meanwhile:
//! a deadline already past, so the thread woke, could not send, and woke
//! again until the broker answered. Under a steady stream of records that
//! is all the time (`earshot match` spent 78 µs CPU a post against 21 µs
//! without idempotence).
//!
//! The figure is the broker threads' own CPU time (`schedstat`) against the
//! wall time of a stream faster than the broker takes (200 records every
//! 2 ms for a second, then the wait for all of them), so there is always a
//! batch waiting behind the request in flight: a spinning thread uses all
//! the CPU it is given, a waiting one a few per cent. At 10 records every
//! 2 ms the requests were answered before the batches behind them were
//! due, and the unpatched library did not spin.
//! Needs `EARSHOT_TEST_KAFKA` (required under `CI=true`, skipped otherwise).

#![cfg(feature = "kafka")]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use earshot_transport::{Bus, KafkaBus, KafkaConfig, Record, TopicSpec};

const PER_TICK: usize = 200;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_11_an_idempotent_producer_does_not_spin_while_a_request_is_out() {
    let Some(brokers) = earshot_tests::kafka() else {
        return;
    };
    let bus = KafkaBus::new(&KafkaConfig {
        brokers,
        compression: "lz4".into(),
        session_timeout_ms: 30_000,
        linger_ms: 5,
        idempotent: true,
        unassigned_rejoin_ms: None,
        properties: BTreeMap::new(),
    })
    .unwrap();
    let topic = earshot_tests::unique_name("idempotent-spin");
    bus.ensure_topics(&[TopicSpec::new(&topic, 1)])
        .await
        .unwrap();
    let producer = bus.producer();
    // Connected and with a producer id before the measured stream.
    producer
        .send(&topic, Record::new("warm-up", b"x".to_vec()))
        .await
        .unwrap();

    // librdkafka names them `rdk:broker<id>` (Linux keeps 15 bytes).
    let before = earshot_tests::thread_cpu_ns("rdk:broker").expect("broker threads and schedstat");
    let started = Instant::now();
    let mut sends = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_millis(2));
    let mut n = 0;
    while started.elapsed() < Duration::from_secs(1) {
        tick.tick().await;
        for _ in 0..PER_TICK {
            let record = Record::new(format!("k{n}"), vec![b'p'; 300]).header("n", n.to_string());
            sends.push(producer.send(&topic, record));
            n += 1;
        }
    }
    for sent in futures::future::join_all(sends).await {
        sent.unwrap();
    }
    let wall = started.elapsed();
    let cpu = earshot_tests::thread_cpu_ns("rdk:broker").expect("broker threads") - before;
    let share = cpu as f64 / wall.as_nanos() as f64;
    println!(
        "{n} records in {wall:?}: broker threads {:.0} ms CPU ({:.0} % of the wall time)",
        cpu as f64 / 1e6,
        share * 100.0
    );
    // Unpatched: 88 % (3.9 s of CPU for 100k records in 4.4 s). Patched:
    // 1 % (53 ms in 4.1 s).
    assert!(
        share < 0.3,
        "the idempotent producer's broker threads used {:.0} % of the wall time",
        share * 100.0
    );
}
