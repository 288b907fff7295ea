//! `earshot match` against the real broker when the producer refuses a record
//! permanently (issue 12, finding 2): the client's `message.max.bytes` is
//! lowered so librdkafka itself refuses the large scored record, as a broker
//! with a 1 MB limit refused a 1.06 MB one. The post must end in the
//! dead-letter topic with the reason, and the partition's offsets must be
//! committed past it; before, the produce was retried forever.

mod kafka_common;

use std::io::Write;
use std::time::Duration;

use earshot_model::{Post, ORIGIN_HEADER, SCHEMA_HEADER};
use earshot_tests::kafka::TopicReader;
use kafka_common::Pipeline;

#[test]
fn issue_12_kafka_refused_scored_record_is_dead_lettered_and_the_partition_moves_on() {
    let Some(p) = Pipeline::new("refused", 1) else {
        return;
    };
    // Appended after `[match]`: a sub-table of `[transport.kafka]` is still valid TOML.
    std::fs::OpenOptions::new()
        .append(true)
        .open(&p.config)
        .unwrap()
        .write_all(b"\n[transport.kafka.properties]\n\"message.max.bytes\" = \"20000\"\n")
        .unwrap();
    p.produce_posts(0..20);
    let big = Post::new("big:1", "acme ".repeat(6_000));
    earshot_tests::kafka::produce(
        &p.brokers,
        &p.raw,
        [(
            big.id.clone(),
            big.to_json(),
            vec![
                (SCHEMA_HEADER.to_string(), "1".to_string()),
                (ORIGIN_HEADER.to_string(), "test".to_string()),
            ],
        )],
    );
    p.produce_posts(20..40);

    let mut daemon = p.start_match("match");
    let scored = p.scored_reader();
    let dlq = TopicReader::start(&p.brokers, &p.dead_letter, p.partitions, true);
    scored.wait_until(Duration::from_secs(60), "40 posts scored", |d, _| d == 40);
    dlq.wait_until(Duration::from_secs(60), "1 dead letter", |_, t| t == 1);
    p.wait_committed_to_end(Duration::from_secs(30));
    let (status, _) = daemon.terminate(Duration::from_secs(15));
    assert!(status.success(), "{status}");

    let m = &dlq.messages()[0];
    assert_eq!(m.key, "big:1");
    let reason = m.header("earshot-error").unwrap();
    assert!(reason.contains("refused"), "{reason}");
    // The raw post itself was over the limit too: kept as a prefix, with its size.
    let original = big.to_json().len().to_string();
    assert_eq!(
        m.header("earshot-payload-cut-from"),
        Some(original.as_str())
    );
    assert!(big.to_json().starts_with(&m.payload));
    assert!(!scored.counts().contains_key("big:1"));
}
