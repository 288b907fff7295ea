//! The transport contract, checked the same way against the in-memory bus and
//! against a real Kafka broker (`EARSHOT_TEST_KAFKA`, started by
//! `tests/harness/start.sh`; required under `CI=true`, skipped otherwise).
//!
//! Each scenario is written once against `dyn Bus` plus a way to read a
//! group's committed offset, and instantiated for both buses by `conformance!`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use earshot_transport::{
    Bus, Consumer, ConsumerOptions, Delivery, KafkaBus, KafkaConfig, MemoryBus, Record, TopicSpec,
};
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use tokio_util::sync::CancellationToken;

/// A bus under test and what the scenarios need besides the `Bus` trait.
#[async_trait]
trait Harness: Send + Sync {
    fn bus(&self) -> Arc<dyn Bus>;
    /// A fresh topic with `partitions` partitions.
    async fn topic(&self, prefix: &str, partitions: i32) -> String {
        let name = earshot_tests::unique_name(prefix);
        self.bus()
            .ensure_topics(&[TopicSpec::new(&name, partitions)])
            .await
            .unwrap();
        name
    }
    /// The offset `group` committed on a partition.
    async fn committed(&self, group: &str, topic: &str, partition: i32) -> Option<i64>;
    /// Longest wait for a group join / first delivery.
    fn join_timeout(&self) -> Duration;
}

struct Memory(MemoryBus);

#[async_trait]
impl Harness for Memory {
    fn bus(&self) -> Arc<dyn Bus> {
        Arc::new(self.0.clone())
    }
    async fn committed(&self, group: &str, topic: &str, partition: i32) -> Option<i64> {
        self.0.committed(group, topic, partition)
    }
    fn join_timeout(&self) -> Duration {
        Duration::from_secs(2)
    }
}

struct Kafka {
    brokers: String,
    bus: KafkaBus,
}

impl Kafka {
    fn new() -> Option<Kafka> {
        Kafka::with_idempotence(true)
    }

    /// `idempotent = false`: the contract holds without librdkafka's
    /// idempotent producer too (issue 11).
    fn with_idempotence(idempotent: bool) -> Option<Kafka> {
        let brokers = earshot_tests::kafka()?;
        let mut config = kafka_config(&brokers, BTreeMap::new());
        config.idempotent = idempotent;
        Some(Kafka {
            bus: KafkaBus::new(&config).unwrap(),
            brokers,
        })
    }
}

fn kafka_config(brokers: &str, properties: BTreeMap<String, String>) -> KafkaConfig {
    KafkaConfig {
        brokers: brokers.to_string(),
        compression: "lz4".into(),
        // Lower than the default so joins and hand-overs are quick in tests.
        session_timeout_ms: 6000,
        linger_ms: 5,
        idempotent: true,
        unassigned_rejoin_ms: None,
        properties,
    }
}

#[async_trait]
impl Harness for Kafka {
    fn bus(&self) -> Arc<dyn Bus> {
        Arc::new(self.bus.clone())
    }
    async fn committed(&self, group: &str, topic: &str, partition: i32) -> Option<i64> {
        let (brokers, group, topic) = (self.brokers.clone(), group.to_string(), topic.to_string());
        tokio::task::spawn_blocking(move || {
            // A client of the group that never subscribes: it reads the group's
            // offsets without joining (and so without disturbing) the group.
            let reader: BaseConsumer = ClientConfig::new()
                .set("bootstrap.servers", &brokers)
                .set("group.id", &group)
                .create()
                .unwrap();
            let mut tpl = TopicPartitionList::new();
            tpl.add_partition(&topic, partition);
            let got = reader
                .committed_offsets(tpl, Duration::from_secs(10))
                .unwrap();
            match got.find_partition(&topic, partition).map(|e| e.offset()) {
                Some(Offset::Offset(o)) => Some(o),
                _ => None,
            }
        })
        .await
        .unwrap()
    }
    fn join_timeout(&self) -> Duration {
        Duration::from_secs(45)
    }
}

fn options(group: &str, topic: &str, max_in_flight: usize) -> ConsumerOptions {
    let mut o = ConsumerOptions::new(group, [topic]);
    o.max_in_flight = max_in_flight;
    o.commit_interval = Duration::from_millis(100);
    o
}

async fn produce(bus: &dyn Bus, topic: &str, keys: impl IntoIterator<Item = String>) {
    let producer = bus.producer();
    let sends: Vec<_> = keys
        .into_iter()
        .map(|k| {
            let payload = format!("{{\"id\":\"{k}\"}}").into_bytes();
            producer.send(
                topic,
                Record::new(k, payload)
                    .header("earshot-schema", "1")
                    .header("earshot-origin", "test"),
            )
        })
        .collect();
    for r in futures::future::join_all(sends).await {
        r.expect("delivery");
    }
}

async fn recv_within(consumer: &mut Box<dyn Consumer>, timeout: Duration) -> Delivery {
    tokio::time::timeout(timeout, consumer.recv())
        .await
        .expect("no delivery in time")
        .expect("consumer stopped")
        .expect("consumer error")
}

/// Polls `committed` until it equals `want` (commits are asynchronous on Kafka).
async fn wait_committed(
    h: &dyn Harness,
    group: &str,
    topic: &str,
    partition: i32,
    want: Option<i64>,
) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let got = h.committed(group, topic, partition).await;
        if got == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "committed offset of {topic}/{partition}: {got:?}, expected {want:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

// ------------------------------------------------------------------ scenarios

/// Keys, payloads and headers arrive as produced; everything acked is committed.
async fn round_trip_with_headers(h: &dyn Harness) {
    let bus = h.bus();
    let topic = h.topic("roundtrip", 3).await;
    let keys: Vec<String> = (0..30).map(|i| format!("test:{i}")).collect();
    produce(&*bus, &topic, keys.clone()).await;

    let group = earshot_tests::unique_name("g");
    let mut consumer = bus.consumer(options(&group, &topic, 100)).await.unwrap();
    let mut seen = BTreeSet::new();
    let mut partition_of = HashMap::new();
    for _ in 0..30 {
        let d = recv_within(&mut consumer, h.join_timeout()).await;
        let key = d.message.key.clone().unwrap();
        assert_eq!(
            d.message.payload,
            format!("{{\"id\":\"{key}\"}}").into_bytes()
        );
        assert_eq!(d.message.header("earshot-schema"), Some("1"));
        assert_eq!(d.message.header("earshot-origin"), Some("test"));
        assert_eq!(d.message.topic, topic);
        assert!(d.message.timestamp_ms.is_some());
        partition_of.insert(key.clone(), d.message.partition);
        assert!(seen.insert(key), "duplicate delivery");
        d.ack.ack();
    }
    assert_eq!(seen, keys.iter().cloned().collect());
    consumer.close(Duration::from_secs(5)).await.unwrap();

    let mut per_partition: HashMap<i32, i64> = HashMap::new();
    for p in partition_of.values() {
        *per_partition.entry(*p).or_default() += 1;
    }
    assert!(
        per_partition.len() > 1,
        "30 keys should spread over several partitions"
    );
    for (p, n) in per_partition {
        assert_eq!(
            h.committed(&group, &topic, p).await,
            Some(n),
            "partition {p}"
        );
    }
}

/// Acknowledgements in any order commit only the contiguous prefix.
async fn out_of_order_acks_commit_contiguously(h: &dyn Harness) {
    let bus = h.bus();
    let topic = h.topic("ooo", 1).await;
    produce(&*bus, &topic, (0..10).map(|i| format!("k{i}"))).await;
    let group = earshot_tests::unique_name("g");
    let mut consumer = bus.consumer(options(&group, &topic, 100)).await.unwrap();
    let mut tokens = BTreeMap::new();
    for _ in 0..10 {
        let d = recv_within(&mut consumer, h.join_timeout()).await;
        tokens.insert(d.message.offset, d.ack);
    }
    assert_eq!(
        tokens.keys().copied().collect::<Vec<_>>(),
        (0..10).collect::<Vec<_>>()
    );

    for o in [5, 6, 7, 8, 9, 2, 1] {
        tokens.remove(&o).unwrap().ack();
    }
    consumer.commit().await.unwrap();
    assert_eq!(
        h.committed(&group, &topic, 0).await,
        None,
        "offset 0 is still in flight"
    );
    tokens.remove(&0).unwrap().ack();
    consumer.commit().await.unwrap();
    wait_committed(h, &group, &topic, 0, Some(3)).await;
    tokens.remove(&4).unwrap().ack();
    consumer.commit().await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        h.committed(&group, &topic, 0).await,
        Some(3),
        "3 is still in flight"
    );
    tokens.remove(&3).unwrap().ack();
    consumer.commit().await.unwrap();
    wait_committed(h, &group, &topic, 0, Some(10)).await;
    consumer.close(Duration::from_secs(5)).await.unwrap();
}

/// A nack in the middle holds the committed offset below it, even after later
/// messages succeed and the periodic commit ran; reopening redelivers it.
async fn nack_holds_the_watermark_and_is_redelivered(h: &dyn Harness) {
    let bus = h.bus();
    let topic = h.topic("nack", 1).await;
    produce(&*bus, &topic, (0..10).map(|i| format!("k{i}"))).await;
    let group = earshot_tests::unique_name("g");
    let mut consumer = bus.consumer(options(&group, &topic, 100)).await.unwrap();
    for _ in 0..10 {
        let d = recv_within(&mut consumer, h.join_timeout()).await;
        if d.message.offset == 4 {
            d.ack.nack("sink refused it");
        } else {
            d.ack.ack();
        }
    }
    // Several periodic commit intervals pass, then an explicit commit and close.
    tokio::time::sleep(Duration::from_millis(400)).await;
    consumer.commit().await.unwrap();
    wait_committed(h, &group, &topic, 0, Some(4)).await;
    consumer.close(Duration::from_secs(5)).await.unwrap();
    assert_eq!(
        h.committed(&group, &topic, 0).await,
        Some(4),
        "close must not commit past the nack"
    );

    let mut again = bus.consumer(options(&group, &topic, 100)).await.unwrap();
    let d = recv_within(&mut again, h.join_timeout()).await;
    assert_eq!(
        (d.message.offset, d.message.key.as_deref()),
        (4, Some("k4")),
        "the failed message comes first"
    );
    d.ack.ack();
    for want in 5..10 {
        let d = recv_within(&mut again, Duration::from_secs(10)).await;
        assert_eq!(d.message.offset, want);
        d.ack.ack();
    }
    again.close(Duration::from_secs(5)).await.unwrap();
    assert_eq!(h.committed(&group, &topic, 0).await, Some(10));
}

/// One member that records and acks everything it receives, until stopped.
fn spawn_member(
    consumer: Box<dyn Consumer>,
    name: &'static str,
    seen: Arc<Mutex<Vec<(&'static str, String)>>>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut consumer = consumer;
        while let Some(d) = consumer.recv().await {
            let d = d.expect("consumer error");
            seen.lock()
                .unwrap()
                .push((name, d.message.key.clone().unwrap()));
            d.ack.ack();
        }
        consumer.close(Duration::from_secs(5)).await.unwrap();
    })
}

/// Two members split the partitions; when one leaves, the other takes its
/// partitions over from their committed offsets and nothing is lost.
async fn two_members_split_and_hand_over(h: &dyn Harness) {
    let bus = h.bus();
    let partitions = 4;
    let topic = h.topic("split", partitions).await;
    let group = earshot_tests::unique_name("g");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (stop_a, stop_b) = (CancellationToken::new(), CancellationToken::new());

    let mut oa = options(&group, &topic, 100);
    oa.shutdown = stop_a.clone();
    let a = spawn_member(bus.consumer(oa).await.unwrap(), "a", seen.clone());
    let mut ob = options(&group, &topic, 100);
    ob.shutdown = stop_b.clone();
    let b = spawn_member(bus.consumer(ob).await.unwrap(), "b", seen.clone());

    // Produce in small batches until both members have received something.
    let mut produced = 0;
    let deadline = Instant::now() + h.join_timeout() * 2;
    loop {
        produce(
            &*bus,
            &topic,
            (produced..produced + 20).map(|i| format!("k{i}")),
        )
        .await;
        produced += 20;
        let got: BTreeSet<&str> = seen.lock().unwrap().iter().map(|(m, _)| *m).collect();
        if got.len() == 2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "both members should receive partitions; got {got:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // A leaves; what it had not committed, and everything produced next, goes to B.
    stop_a.cancel();
    a.await.unwrap();
    produce(
        &*bus,
        &topic,
        (produced..produced + 100).map(|i| format!("k{i}")),
    )
    .await;
    produced += 100;
    let all: BTreeSet<String> = (0..produced).map(|i| format!("k{i}")).collect();
    let deadline = Instant::now() + h.join_timeout() * 2;
    loop {
        let got: BTreeSet<String> = seen
            .lock()
            .unwrap()
            .iter()
            .map(|(_, k)| k.clone())
            .collect();
        if got == all {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "lost {:?}",
            all.difference(&got).take(10).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop_b.cancel();
    b.await.unwrap();

    let mut committed = 0;
    for p in 0..partitions {
        committed += h.committed(&group, &topic, p).await.unwrap_or(0);
    }
    assert_eq!(committed, produced, "every partition committed to its end");
    let deliveries = seen.lock().unwrap().len() as i64;
    println!(
        "split/hand-over: {produced} produced, {deliveries} delivered ({} duplicates)",
        deliveries - produced
    );
}

/// With `max_in_flight` unacknowledged deliveries, `recv` waits; one ack frees one slot.
async fn backpressure_blocks_recv(h: &dyn Harness) {
    let bus = h.bus();
    let topic = h.topic("backpressure", 1).await;
    produce(&*bus, &topic, (0..20).map(|i| format!("k{i}"))).await;
    let group = earshot_tests::unique_name("g");
    let mut consumer = bus.consumer(options(&group, &topic, 5)).await.unwrap();
    let mut held = Vec::new();
    for _ in 0..5 {
        held.push(recv_within(&mut consumer, h.join_timeout()).await);
    }
    assert!(
        tokio::time::timeout(Duration::from_millis(1500), consumer.recv())
            .await
            .is_err(),
        "recv must wait while 5 of 5 deliveries are unacknowledged"
    );
    held.remove(0).ack.ack();
    let d = recv_within(&mut consumer, Duration::from_secs(10)).await;
    assert_eq!(
        d.message.offset, 5,
        "the pause loses nothing and repeats nothing"
    );
    held.push(d);
    for d in held.drain(..) {
        d.ack.ack();
    }
    for want in 6..20 {
        let d = recv_within(&mut consumer, Duration::from_secs(10)).await;
        assert_eq!(d.message.offset, want);
        d.ack.ack();
    }
    consumer.close(Duration::from_secs(5)).await.unwrap();
    assert_eq!(h.committed(&group, &topic, 0).await, Some(20));
}

/// After shutdown `recv` returns `None`; `close` waits for outstanding work
/// (acknowledged later) and commits it.
async fn close_drains_and_commits(h: &dyn Harness) {
    let bus = h.bus();
    let topic = h.topic("close", 1).await;
    produce(&*bus, &topic, (0..10).map(|i| format!("k{i}"))).await;
    let group = earshot_tests::unique_name("g");
    let shutdown = CancellationToken::new();
    let mut o = options(&group, &topic, 100);
    o.shutdown = shutdown.clone();
    o.commit_interval = Duration::from_secs(3600); // only close commits
    let mut consumer = bus.consumer(o).await.unwrap();
    let mut held = Vec::new();
    for _ in 0..10 {
        held.push(recv_within(&mut consumer, h.join_timeout()).await);
    }
    shutdown.cancel();
    assert!(
        consumer.recv().await.is_none(),
        "recv returns None after shutdown"
    );
    let acker = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(500)).await;
        for d in held {
            d.ack.ack();
        }
    });
    let started = Instant::now();
    consumer.close(Duration::from_secs(10)).await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "close returned before the work drained"
    );
    acker.await.unwrap();
    assert_eq!(h.committed(&group, &topic, 0).await, Some(10));
}

macro_rules! conformance {
    ($($scenario:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test]
                async fn $scenario() {
                    super::$scenario(&super::Memory(earshot_transport::MemoryBus::new())).await;
                }
            )*
        }
        mod kafka {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    let Some(h) = super::Kafka::new() else { return };
                    super::$scenario(&h).await;
                }
            )*
        }
    };
}

/// The producer without idempotence (`[transport.kafka] idempotent =
/// false`, one request in flight per connection) keeps the contract: every
/// record arrives once, and offsets commit as a contiguous watermark.
mod kafka_not_idempotent {
    macro_rules! scenarios {
        ($($scenario:ident),* $(,)?) => {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    let Some(h) = super::Kafka::with_idempotence(false) else { return };
                    super::$scenario(&h).await;
                }
            )*
        };
    }
    scenarios!(
        round_trip_with_headers,
        out_of_order_acks_commit_contiguously,
        nack_holds_the_watermark_and_is_redelivered,
        close_drains_and_commits,
    );
}

conformance!(
    round_trip_with_headers,
    out_of_order_acks_commit_contiguously,
    nack_holds_the_watermark_and_is_redelivered,
    two_members_split_and_hand_over,
    backpressure_blocks_recv,
    close_drains_and_commits,
);
