//! The least CPU a Kafka daemon of Earshot needs per post (issue 11): a bare
//! rdkafka relay with the consumer and producer settings of Earshot's
//! transport (`crates/transport/src/kafka`): consume a topic in a group,
//! produce each payload unchanged (same key) to another topic with the
//! idempotent `acks=all` lz4 producer, commit the consumed positions once
//! what was read before them is durable. `benches/score/daemons.sh`
//! measures it against `earshot match` on the same records.
//!
//! ```text
//! earshot-relay-floor relay BROKERS GROUP IN OUT    # until SIGTERM, then flush, commit, exit
//! RELAY_PAD_BYTES=400 earshot-relay-floor relay ...  # each record 400 bytes longer
//! earshot-relay-floor produce BROKERS TOPIC < posts.jsonl   # one record a line, key = "id"
//! earshot-relay-floor create BROKERS PARTITIONS TOPIC...
//! earshot-relay-floor count BROKERS TOPIC            # records in TOPIC (sum of high watermarks)
//! ```

use std::io::BufRead;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

const TIMEOUT: Duration = Duration::from_secs(30);

fn fail(what: &str, e: impl std::fmt::Display) -> ! {
    eprintln!("earshot-relay-floor: {what}: {e}");
    std::process::exit(1)
}

/// Earshot's producer settings (`kafka/producer.rs`, defaults of
/// `[transport.kafka]`); `RELAY_LINGER_MS` sets another `linger.ms`, as
/// `[transport.kafka] linger_ms` does, and `RELAY_IDEMPOTENT=false` what
/// `[transport.kafka] idempotent = false` sets.
fn producer(brokers: &str) -> BaseProducer {
    let linger = std::env::var("RELAY_LINGER_MS").unwrap_or_else(|_| "200".into());
    let idempotent = std::env::var("RELAY_IDEMPOTENT").map_or(true, |v| v != "false");
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", brokers)
        .set("client.id", "earshot")
        .set("enable.idempotence", idempotent.to_string())
        .set("acks", "all")
        .set("compression.type", "lz4")
        .set("linger.ms", linger);
    if !idempotent {
        c.set("max.in.flight.requests.per.connection", "1");
    }
    c.create().unwrap_or_else(|e| fail("producer", e))
}

/// Earshot's consumer-group member settings (`kafka/mod.rs`, `kafka/consumer.rs`).
fn consumer(brokers: &str, group: &str) -> BaseConsumer {
    ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("client.id", "earshot")
        .set("group.id", group)
        .set("session.timeout.ms", "10000")
        .set("heartbeat.interval.ms", "3000")
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "false")
        .set("auto.offset.reset", "earliest")
        .set("statistics.interval.ms", "5000")
        .create()
        .unwrap_or_else(|e| fail("consumer", e))
}

/// Enqueues one record, serving delivery reports while the local queue is full.
fn send(p: &BaseProducer, topic: &str, key: &[u8], payload: &[u8]) {
    let mut record = BaseRecord::to(topic).key(key).payload(payload);
    loop {
        match p.send(record) {
            Ok(()) => return,
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                record = r;
                p.poll(Duration::from_millis(10));
            }
            Err((e, _)) => fail("produce", e),
        }
    }
}

fn relay(brokers: &str, group: &str, input: &str, output: &str) {
    let stop = stop_on_signal();
    let (c, p) = (consumer(brokers, group), producer(brokers));
    c.subscribe(&[input])
        .unwrap_or_else(|e| fail("subscribe", e));
    let mut last_commit = Instant::now();
    let mut relayed = 0u64;
    // Commits the positions once every record read before them is durable.
    let commit = |c: &BaseConsumer, p: &BaseProducer, mode| {
        p.flush(TIMEOUT).unwrap_or_else(|e| fail("flush", e));
        if let Ok(positions) = c.position() {
            if positions.count() > 0 {
                if let Err(e) = c.commit(&positions, mode) {
                    eprintln!("earshot-relay-floor: commit: {e}");
                }
            }
        }
    };
    // `RELAY_PAD_BYTES`: each produced record this many bytes longer
    // (trailing JSON whitespace), to relay records the size of what
    // `earshot match` writes (an interaction is its post and about 400
    // bytes more) and so tell the broker's cost of bigger records from the
    // daemon's own.
    let pad: usize = std::env::var("RELAY_PAD_BYTES")
        .ok()
        .map(|v| v.parse().unwrap_or_else(|e| fail("RELAY_PAD_BYTES", e)))
        .unwrap_or(0);
    let mut padded = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        match c.poll(Duration::from_millis(50)) {
            Some(Ok(m)) => {
                let payload = m.payload().unwrap_or_default();
                let payload = if pad == 0 {
                    payload
                } else {
                    padded.clear();
                    padded.extend_from_slice(payload);
                    padded.resize(payload.len() + pad, b' ');
                    &padded
                };
                send(&p, output, m.key().unwrap_or_default(), payload);
                relayed += 1;
            }
            Some(Err(e)) => eprintln!("earshot-relay-floor: consume: {e}"),
            None => {}
        }
        p.poll(Duration::ZERO);
        if last_commit.elapsed() >= Duration::from_secs(1) {
            commit(&c, &p, CommitMode::Async);
            last_commit = Instant::now();
        }
    }
    commit(&c, &p, CommitMode::Sync);
    eprintln!("earshot-relay-floor: relayed {relayed} records");
}

/// A flag set on SIGTERM or SIGINT (a thread of its own waits for them).
fn stop_on_signal() -> Arc<AtomicBool> {
    use tokio::signal::unix::{signal, SignalKind};
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| fail("runtime", e));
    let (mut term, mut int) = rt.block_on(async {
        (
            signal(SignalKind::terminate()).unwrap_or_else(|e| fail("signal", e)),
            signal(SignalKind::interrupt()).unwrap_or_else(|e| fail("signal", e)),
        )
    });
    std::thread::spawn(move || {
        rt.block_on(async {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        });
        flag.store(true, Ordering::Relaxed);
    });
    stop
}

fn produce(brokers: &str, topic: &str) {
    #[derive(serde::Deserialize)]
    struct Id {
        id: String,
    }
    let p = producer(brokers);
    let mut n = 0u64;
    for line in std::io::stdin().lock().lines() {
        let line = line.unwrap_or_else(|e| fail("stdin", e));
        let id: Id =
            serde_json::from_str(&line).unwrap_or_else(|e| fail("a line without an id", e));
        send(&p, topic, id.id.as_bytes(), line.as_bytes());
        p.poll(Duration::ZERO);
        n += 1;
    }
    p.flush(Duration::from_secs(300))
        .unwrap_or_else(|e| fail("flush", e));
    eprintln!("earshot-relay-floor: produced {n} records to {topic}");
}

fn create(brokers: &str, partitions: i32, topics: &[String]) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .unwrap_or_else(|e| fail("admin", e));
    let new: Vec<NewTopic<'_>> = topics
        .iter()
        .map(|t| NewTopic::new(t, partitions, TopicReplication::Fixed(1)))
        .collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| fail("runtime", e));
    let opts = AdminOptions::new().operation_timeout(Some(TIMEOUT));
    for r in rt
        .block_on(admin.create_topics(&new, &opts))
        .unwrap_or_else(|e| fail("create topics", e))
    {
        match r {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((t, code)) => fail(&format!("create {t}"), code),
        }
    }
}

fn count(brokers: &str, topic: &str) -> i64 {
    let c = consumer(brokers, "earshot-relay-floor-count");
    let md = c
        .fetch_metadata(Some(topic), TIMEOUT)
        .unwrap_or_else(|e| fail("metadata", e));
    let t = md
        .topics()
        .iter()
        .find(|t| t.name() == topic)
        .unwrap_or_else(|| fail("metadata", format!("no topic {topic}")));
    t.partitions()
        .iter()
        .map(|p| {
            let (low, high) = c
                .fetch_watermarks(topic, p.id(), TIMEOUT)
                .unwrap_or_else(|e| fail("watermarks", e));
            high - low
        })
        .sum()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    match a.as_slice() {
        ["relay", brokers, group, input, output] => relay(brokers, group, input, output),
        ["produce", brokers, topic] => produce(brokers, topic),
        ["create", brokers, partitions, ..] if a.len() > 3 => create(
            brokers,
            partitions.parse().unwrap_or_else(|e| fail("partitions", e)),
            &args[3..],
        ),
        ["count", brokers, topic] => println!("{}", count(brokers, topic)),
        _ => fail(
            "usage",
            "relay BROKERS GROUP IN OUT | produce BROKERS TOPIC | create BROKERS PARTITIONS TOPIC... | count BROKERS TOPIC",
        ),
    }
}
