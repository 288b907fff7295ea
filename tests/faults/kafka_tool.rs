//! The fault campaign's Kafka client (`tests/faults/run.sh`), built from the
//! test helpers so that it reads and writes topics independently of
//! Earshot's own bus:
//!
//! - `earshot-faults-kafka dump BROKERS TOPIC PARTITIONS`: every record of
//!   the topic, one line each: `stage<TAB>key<TAB>error` (the dead-letter
//!   headers; tabs and newlines in them become spaces).
//! - `earshot-faults-kafka produce BROKERS TOPIC KEY PAYLOAD`: one record.

use std::time::Duration;

use earshot_tests::kafka::{end_offsets, produce, TopicReader};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["dump", brokers, topic, partitions] => {
            let partitions: i32 = partitions.parse().expect("PARTITIONS is a number");
            let total: i64 = end_offsets(brokers, topic, partitions).iter().sum();
            let reader = TopicReader::start(brokers, topic, partitions, true);
            reader.wait_until(Duration::from_secs(120), "the whole topic", |_, n| {
                n as i64 >= total
            });
            let clean = |s: &str| s.replace(['\t', '\n', '\r'], " ");
            for m in reader.messages() {
                println!(
                    "{}\t{}\t{}",
                    clean(m.header("earshot-stage").unwrap_or("")),
                    clean(&m.key),
                    clean(m.header("earshot-error").unwrap_or(""))
                );
            }
        }
        ["produce", brokers, topic, key, payload] => {
            produce(
                brokers,
                topic,
                [(key.to_string(), payload.as_bytes().to_vec(), Vec::new())],
            );
        }
        _ => {
            eprintln!("usage: earshot-faults-kafka dump BROKERS TOPIC PARTITIONS | produce BROKERS TOPIC KEY PAYLOAD");
            std::process::exit(2);
        }
    }
}
