//! Kafka-only behaviour beyond the shared contract: topic provisioning and
//! validation, and group membership surviving a long backpressure pause.
//! Needs `EARSHOT_TEST_KAFKA` (required under `CI=true`, skipped otherwise).

use std::collections::BTreeMap;
use std::time::Duration;

use earshot_transport::{
    Bus, ConsumerOptions, KafkaBus, KafkaConfig, Record, TopicSpec, TransportError,
};

fn bus(brokers: &str, properties: &[(&str, &str)]) -> KafkaBus {
    KafkaBus::new(&KafkaConfig {
        brokers: brokers.to_string(),
        compression: "zstd".into(),
        session_timeout_ms: 6000,
        linger_ms: 5,
        idempotent: true,
        unassigned_rejoin_ms: None,
        properties: properties
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>(),
    })
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topics_are_created_then_validated() {
    let Some(brokers) = earshot_tests::kafka() else {
        return;
    };
    let bus = bus(&brokers, &[]);
    let name = earshot_tests::unique_name("provision");
    bus.ensure_topics(&[TopicSpec::new(&name, 3)])
        .await
        .unwrap();
    earshot_tests::wait_for_topic(&brokers, &name, 3).await;
    // Idempotent, and fewer configured partitions than exist is fine.
    bus.ensure_topics(&[TopicSpec::new(&name, 3)])
        .await
        .unwrap();
    bus.ensure_topics(&[TopicSpec::new(&name, 2)])
        .await
        .unwrap();

    match bus.ensure_topics(&[TopicSpec::new(&name, 5)]).await {
        Err(TransportError::Topic { topic, message }) => {
            assert_eq!(topic, name);
            assert!(
                message.contains("has 3 partitions")
                    && message.contains("transport.topics.partitions is 5"),
                "{message}"
            );
        }
        other => panic!("expected a partition-count error, got {other:?}"),
    }

    let missing = earshot_tests::unique_name("missing");
    match bus
        .consumer(ConsumerOptions::new("g", [missing.as_str()]))
        .await
    {
        Err(TransportError::Topic { topic, message }) => {
            assert_eq!(topic, missing);
            assert!(message.contains("does not exist"), "{message}");
        }
        Err(e) => panic!("expected a missing-topic error, got {e:?}"),
        Ok(_) => panic!("expected a missing-topic error, got a consumer"),
    }
}

/// While its budget is used up the member keeps polling (partitions paused),
/// so it stays in the group past `max.poll.interval.ms` and the session
/// timeout: after the pause it continues exactly where it stopped instead of
/// re-joining and re-reading from the last commit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_paused_by_backpressure_keeps_its_partitions() {
    let Some(brokers) = earshot_tests::kafka() else {
        return;
    };
    let bus = bus(&brokers, &[("max.poll.interval.ms", "7000")]);
    let topic = earshot_tests::unique_name("paused");
    bus.ensure_topics(&[TopicSpec::new(&topic, 1)])
        .await
        .unwrap();
    let producer = bus.producer();
    for i in 0..20 {
        producer
            .send(&topic, Record::new(format!("k{i}"), vec![b'x'; 100]))
            .await
            .unwrap();
    }
    let mut options = ConsumerOptions::new(earshot_tests::unique_name("g"), [topic.as_str()]);
    options.max_in_flight = 5;
    let mut consumer = bus.consumer(options).await.unwrap();
    let mut held = Vec::new();
    for _ in 0..5 {
        held.push(
            tokio::time::timeout(Duration::from_secs(45), consumer.recv())
                .await
                .unwrap()
                .unwrap()
                .unwrap(),
        );
    }
    // Longer than both max.poll.interval.ms (7 s) and session.timeout.ms (6 s).
    tokio::time::sleep(Duration::from_secs(9)).await;
    for d in held {
        d.ack.ack();
    }
    for want in 5..20 {
        let d = tokio::time::timeout(Duration::from_secs(10), consumer.recv())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(
            d.message.offset, want,
            "the member lost its assignment while paused"
        );
        d.ack.ack();
    }
    consumer.close(Duration::from_secs(5)).await.unwrap();
}

/// A producer whose local queue is full waits for room and sends each record
/// later with its own headers: librdkafka hands the headers back when it
/// refuses a record, and the retry sends those (issue 11 stopped copying
/// them for every record).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_local_queue_delays_records_with_their_headers() {
    let Some(brokers) = earshot_tests::kafka() else {
        return;
    };
    let bus = bus(&brokers, &[("queue.buffering.max.messages", "4")]);
    let topic = earshot_tests::unique_name("queuefull");
    bus.ensure_topics(&[TopicSpec::new(&topic, 1)])
        .await
        .unwrap();
    let producer = bus.producer();
    let n = 300;
    let sends: Vec<_> = (0..n)
        .map(|i| {
            let record = Record::new(format!("k{i}"), format!("payload {i}").into_bytes())
                .header("n", i.to_string())
                .header("origin", "queue-full test");
            producer.send(&topic, record)
        })
        .collect();
    for (i, sent) in futures::future::join_all(sends)
        .await
        .into_iter()
        .enumerate()
    {
        sent.unwrap_or_else(|e| panic!("record {i}: {e}"));
    }
    let mut consumer = bus
        .consumer(ConsumerOptions::new(
            earshot_tests::unique_name("g"),
            [topic.as_str()],
        ))
        .await
        .unwrap();
    let mut seen = std::collections::BTreeSet::new();
    while seen.len() < n {
        let d = tokio::time::timeout(Duration::from_secs(30), consumer.recv())
            .await
            .expect("every record arrives")
            .unwrap()
            .unwrap();
        let m = &d.message;
        let i = m.header("n").expect("header n").to_string();
        assert_eq!(m.key.as_deref(), Some(format!("k{i}").as_str()));
        assert_eq!(m.payload, format!("payload {i}").into_bytes());
        assert_eq!(m.header("origin"), Some("queue-full test"));
        seen.insert(i);
        d.ack.ack();
    }
    consumer.close(Duration::from_secs(5)).await.unwrap();
}
