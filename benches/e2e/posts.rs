//! The posts a run produces: JSON lines from `benches/fixtures/gen_posts.py`,
//! produced with Earshot's producer settings, keyed by post id.

use std::time::{Duration, Instant};

use earshot_model::{ORIGIN_HEADER, SCHEMA_HEADER};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::ClientConfig;

/// One post: its id (the record key) and its JSON.
pub struct RawPost {
    pub id: String,
    pub json: Vec<u8>,
}

/// Reads the JSON lines of `path`. Posts from `first_tagged` on get their id
/// prefixed with `tag` so their visibility can be polled cheaply.
pub fn load(path: &str, first_tagged: usize, tag: &str) -> Vec<RawPost> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, line)| {
            let mut v: serde_json::Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("{path}:{}: {e}", i + 1));
            let mut id = v["id"].as_str().expect("post id").to_string();
            if i >= first_tagged {
                id = format!("{tag}{id}");
                v["id"] = serde_json::Value::String(id.clone());
            }
            RawPost {
                id,
                json: serde_json::to_vec(&v).unwrap(),
            }
        })
        .collect()
}

/// Earshot's producer settings (see crates/transport/src/kafka/producer.rs).
fn producer(brokers: &str) -> ThreadedProducer<DefaultProducerContext> {
    ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("compression.type", "lz4")
        .set("linger.ms", "5")
        .create()
        .expect("producer")
}

/// Produces `posts` to `topic`, paced at `rate` posts/s when given. Returns
/// each post's send time and the time the broker had acknowledged them all.
pub fn produce(
    brokers: &str,
    topic: &str,
    posts: &[RawPost],
    rate: Option<f64>,
) -> (Vec<Instant>, Instant) {
    let p = producer(brokers);
    let start = Instant::now();
    let mut sent = Vec::with_capacity(posts.len());
    for (i, post) in posts.iter().enumerate() {
        if let Some(r) = rate {
            let due = start + Duration::from_secs_f64(i as f64 / r);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
        }
        let headers = OwnedHeaders::new()
            .insert(Header {
                key: SCHEMA_HEADER,
                value: Some("1"),
            })
            .insert(Header {
                key: ORIGIN_HEADER,
                value: Some("bench"),
            });
        let mut record = BaseRecord::to(topic)
            .key(&post.id)
            .payload(&post.json)
            .headers(headers);
        sent.push(Instant::now());
        loop {
            match p.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    record = r;
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err((e, _)) => panic!("produce: {e}"),
            }
        }
    }
    p.flush(Duration::from_secs(300)).expect("flush");
    (sent, Instant::now())
}
