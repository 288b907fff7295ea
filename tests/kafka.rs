//! Reading and writing topics from tests, independently of Earshot's own bus
//! (so a bug in the bus cannot hide itself).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{BaseRecord, Producer, ThreadedProducer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

/// A record for [`produce`]: key, payload, headers.
pub type TestRecord = (String, Vec<u8>, Vec<(String, String)>);

/// Produces `records` to `topic` (idempotent, lz4, acks=all) and waits until
/// the broker has all of them; panics on any delivery failure.
pub fn produce(brokers: &str, topic: &str, records: impl IntoIterator<Item = TestRecord>) -> usize {
    let failed = Arc::new(AtomicBool::new(false));
    let producer: ThreadedProducer<FailFlag> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("enable.idempotence", "true")
        .set("compression.type", "lz4")
        .set("linger.ms", "10")
        .create_with_context(FailFlag(failed.clone()))
        .expect("test producer");
    let mut n = 0;
    for (key, payload, headers) in records {
        let hs = headers.iter().fold(OwnedHeaders::new(), |h, (k, v)| {
            h.insert(Header {
                key: k,
                value: Some(v.as_bytes()),
            })
        });
        let mut record = BaseRecord::to(topic)
            .key(&key)
            .payload(&payload)
            .headers(hs);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    record = r;
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err((e, _)) => panic!("producing to {topic}: {e}"),
            }
        }
        n += 1;
    }
    producer.flush(Duration::from_secs(60)).expect("flush");
    assert!(
        !failed.load(Ordering::SeqCst),
        "a test record was not delivered to {topic}"
    );
    n
}

/// Producer context that remembers any failed delivery.
pub struct FailFlag(Arc<AtomicBool>);
impl rdkafka::ClientContext for FailFlag {}
impl rdkafka::producer::ProducerContext for FailFlag {
    type DeliveryOpaque = ();
    fn delivery(&self, result: &rdkafka::message::DeliveryResult<'_>, _: ()) {
        if let Err((e, _)) = result {
            eprintln!("test producer: delivery failed: {e}");
            self.0.store(true, Ordering::SeqCst);
        }
    }
}

/// A message read by [`TopicReader`].
#[derive(Debug, Clone)]
pub struct ReadMessage {
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
    /// Key as UTF-8.
    pub key: String,
    /// Payload.
    pub payload: Vec<u8>,
    /// Headers as UTF-8.
    pub headers: Vec<(String, String)>,
}

impl ReadMessage {
    /// First header named `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct Seen {
    counts: HashMap<String, u32>,
    total: usize,
    kept: Vec<ReadMessage>,
}

/// Reads a whole topic from the beginning in a background thread (assigned
/// partitions, no consumer group), counting deliveries per key.
pub struct TopicReader {
    seen: Arc<Mutex<Seen>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TopicReader {
    /// Starts reading `partitions` partitions of `topic`; with `keep`, every
    /// message is also kept whole (for small topics).
    pub fn start(brokers: &str, topic: &str, partitions: i32, keep: bool) -> TopicReader {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", brokers)
            .set("group.id", crate::unique_name("reader"))
            .set("enable.auto.commit", "false")
            .create()
            .expect("test reader");
        let mut tpl = TopicPartitionList::new();
        for p in 0..partitions {
            tpl.add_partition_offset(topic, p, Offset::Beginning)
                .unwrap();
        }
        consumer.assign(&tpl).expect("assign");
        let seen = Arc::new(Mutex::new(Seen::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st) = (seen.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !st.load(Ordering::SeqCst) {
                match consumer.poll(Duration::from_millis(100)) {
                    Some(Ok(m)) => {
                        let key = m
                            .key()
                            .map(|k| String::from_utf8_lossy(k).into_owned())
                            .unwrap_or_default();
                        let mut seen = s.lock().unwrap();
                        *seen.counts.entry(key.clone()).or_default() += 1;
                        seen.total += 1;
                        if keep {
                            let headers = m
                                .headers()
                                .map(|hs| {
                                    hs.iter()
                                        .map(|h| {
                                            (
                                                h.key.to_string(),
                                                String::from_utf8_lossy(
                                                    h.value.unwrap_or_default(),
                                                )
                                                .into_owned(),
                                            )
                                        })
                                        .collect()
                                })
                                .unwrap_or_default();
                            seen.kept.push(ReadMessage {
                                partition: m.partition(),
                                offset: m.offset(),
                                key,
                                payload: m.payload().unwrap_or_default().to_vec(),
                                headers,
                            });
                        }
                    }
                    Some(Err(e)) => eprintln!("test reader: {e}"),
                    None => {}
                }
            }
        });
        TopicReader {
            seen,
            stop,
            thread: Some(thread),
        }
    }

    /// Distinct keys read so far.
    pub fn distinct(&self) -> usize {
        self.seen.lock().unwrap().counts.len()
    }

    /// Messages read so far (duplicates included).
    pub fn total(&self) -> usize {
        self.seen.lock().unwrap().total
    }

    /// How often each key was read.
    pub fn counts(&self) -> HashMap<String, u32> {
        self.seen.lock().unwrap().counts.clone()
    }

    /// Every message read so far (only when started with `keep`).
    pub fn messages(&self) -> Vec<ReadMessage> {
        self.seen.lock().unwrap().kept.clone()
    }

    /// Waits until `done(distinct, total)` holds; panics after `timeout`
    /// with `what` and the counts.
    pub fn wait_until(&self, timeout: Duration, what: &str, done: impl Fn(usize, usize) -> bool) {
        let deadline = Instant::now() + timeout;
        loop {
            let (d, t) = (self.distinct(), self.total());
            if done(d, t) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}: {d} distinct keys, {t} messages"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for TopicReader {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Committed offsets of `group` on partitions `0..partitions` of `topic`
/// (`None` where it committed nothing), read without joining the group.
pub fn committed(brokers: &str, group: &str, topic: &str, partitions: i32) -> Vec<Option<i64>> {
    let reader: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", group)
        .create()
        .expect("offset reader");
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition(topic, p);
    }
    let got = reader
        .committed_offsets(tpl, Duration::from_secs(10))
        .expect("committed offsets");
    (0..partitions)
        .map(|p| match got.find_partition(topic, p).map(|e| e.offset()) {
            Some(Offset::Offset(o)) => Some(o),
            _ => None,
        })
        .collect()
}

/// End offsets (high watermarks) of partitions `0..partitions` of `topic`.
pub fn end_offsets(brokers: &str, topic: &str, partitions: i32) -> Vec<i64> {
    let client: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .expect("watermark reader");
    (0..partitions)
        .map(|p| {
            client
                .fetch_watermarks(topic, p, Duration::from_secs(10))
                .expect("watermarks")
                .1
        })
        .collect()
}

/// A producer for benchmark load, configured like Earshot's (idempotent, `acks=all`, lz4, linger 5 ms).
pub fn producer(brokers: &str) -> ThreadedProducer<rdkafka::producer::DefaultProducerContext> {
    ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("compression.type", "lz4")
        .set("linger.ms", "5")
        .create()
        .expect("producer")
}

/// Produces `n` records made by `record(i) -> (key, payload)` to `topic`,
/// paced at `rate` per second when given (waiting while librdkafka's queue
/// is full, since a burst outruns the broker). Returns each record's send
/// time and the time the broker had acknowledged them all.
pub fn produce_paced(
    brokers: &str,
    topic: &str,
    n: usize,
    rate: Option<f64>,
    mut record: impl FnMut(usize) -> (String, Vec<u8>),
) -> (Vec<Instant>, Instant) {
    let p = producer(brokers);
    let start = Instant::now();
    let mut sent = Vec::with_capacity(n);
    for i in 0..n {
        if let Some(r) = rate {
            let due = start + Duration::from_secs_f64(i as f64 / r);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
        }
        let (key, payload) = record(i);
        let headers = OwnedHeaders::new()
            .insert(Header {
                key: earshot_model::SCHEMA_HEADER,
                value: Some("1"),
            })
            .insert(Header {
                key: earshot_model::ORIGIN_HEADER,
                value: Some("bench"),
            });
        let mut rec = BaseRecord::to(topic)
            .key(&key)
            .payload(&payload)
            .headers(headers);
        sent.push(Instant::now());
        loop {
            match p.send(rec) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    rec = r;
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err((e, _)) => panic!("produce: {e}"),
            }
        }
    }
    p.flush(Duration::from_secs(300)).expect("flush");
    (sent, Instant::now())
}
