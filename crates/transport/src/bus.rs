use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::future::BoxFuture;
use tokio_util::sync::CancellationToken;

use crate::share::{CompactedLog, Membership, MembershipOptions};
use crate::{AckToken, TransportError};

/// A record to produce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Partitioning key (the post id), so one post's records keep their order.
    pub key: String,
    /// Serialized body.
    pub payload: Vec<u8>,
    /// Headers (schema version, origin, dead-letter reasons).
    pub headers: Vec<(String, Vec<u8>)>,
}

impl Record {
    /// A record with no headers.
    pub fn new(key: impl Into<String>, payload: Vec<u8>) -> Record {
        Record {
            key: key.into(),
            payload,
            headers: Vec::new(),
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<Vec<u8>>) -> Record {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// A consumed record and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Topic it was read from.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// Offset within the partition.
    pub offset: i64,
    /// Key, if any.
    pub key: Option<String>,
    /// Body.
    pub payload: Vec<u8>,
    /// Headers.
    pub headers: Vec<(String, Vec<u8>)>,
    /// Broker or producer timestamp in Unix milliseconds, when known.
    pub timestamp_ms: Option<i64>,
}

impl Message {
    /// First header with this name, as UTF-8 when it is.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| std::str::from_utf8(v).ok())
    }
}

/// A consumed message with its acknowledgement handle.
#[derive(Debug)]
pub struct Delivery {
    /// The message.
    pub message: Message,
    /// Acknowledge once the next stage durably has it.
    pub ack: AckToken,
    /// The producer's decoded value of the payload, when it came from this
    /// process (the in-memory bus); empty from Kafka.
    pub attached: Attached,
}

/// The value a record's payload was encoded from, handed from producer to
/// consumer within one process (the embedded mode's in-memory bus), so the
/// consumer skips decoding bytes that were encoded a moment ago (issue 11).
///
/// The payload stays the record's content: a consumer that gets nothing
/// here (Kafka, a redelivery, a second consumer group) decodes it, and must
/// check what it takes from here exactly as it checks a decoded value. It
/// is moved, never shared, so only the first delivery of a record carries
/// it; cloning a record or delivery leaves the clone without it.
#[derive(Default)]
pub struct Attached(Option<Box<dyn std::any::Any + Send + Sync>>);

impl Attached {
    /// Nothing attached.
    pub fn none() -> Attached {
        Attached(None)
    }

    /// Attaches `value`: it must equal what decoding the record's payload gives.
    pub fn new<T: std::any::Any + Send + Sync>(value: T) -> Attached {
        Attached(Some(Box::new(value)))
    }

    /// Takes the value out if it is a `T`; empty afterwards either way.
    pub fn take<T: std::any::Any>(&mut self) -> Option<T> {
        self.0.take()?.downcast::<T>().ok().map(|b| *b)
    }

    /// Whether a value is attached.
    pub fn is_some(&self) -> bool {
        self.0.is_some()
    }
}

impl std::fmt::Debug for Attached {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Attached(..)"
        } else {
            "Attached(none)"
        })
    }
}

/// Resolves once the bus durably has a produced record (Kafka: the broker
/// acknowledged it with `acks=all`).
pub type DeliveryFuture = BoxFuture<'static, Result<(), TransportError>>;

/// Produces records to topics.
pub trait Producer: Send + Sync {
    /// Enqueues `record` for `topic` now, in call order, and returns a future
    /// that resolves when it is durably stored. Dropping the future does not
    /// cancel the send; it only forgoes the outcome.
    fn send(&self, topic: &str, record: Record) -> DeliveryFuture;

    /// [`Producer::send`], handing the consumer `attached`, the value the
    /// payload was encoded from, when the bus lives in this process. A bus
    /// that crosses processes ignores it (the default).
    fn send_attached(&self, topic: &str, record: Record, attached: Attached) -> DeliveryFuture {
        drop(attached);
        self.send(topic, record)
    }

    /// [`Producer::send_attached`] of a copy of `record`, for a caller that
    /// keeps it (to send it again after a failure). A bus that copies records
    /// anyway (Kafka) borrows it instead of copying it twice.
    fn send_copy(&self, topic: &str, record: &Record, attached: Attached) -> DeliveryFuture {
        self.send_attached(topic, record.clone(), attached)
    }

    /// Whether [`Producer::send_attached`] hands `attached` on. When it does
    /// not (a bus that crosses processes), a caller can skip making it, or
    /// free it on the thread that made it.
    fn takes_attached(&self) -> bool {
        true
    }

    /// Waits until every enqueued record was delivered or failed.
    fn flush(&self, timeout: Duration) -> BoxFuture<'_, Result<(), TransportError>>;
}

/// Settings for a consumer.
#[derive(Debug, Clone)]
pub struct ConsumerOptions {
    /// Consumer group; members of one group share the partitions.
    pub group: String,
    /// Topics to read.
    pub topics: Vec<String>,
    /// Most unacknowledged deliveries at once; [`Consumer::recv`] waits (and
    /// the Kafka bus pauses fetching) while the budget is used up.
    pub max_in_flight: usize,
    /// How often watermarks are committed while running.
    pub commit_interval: Duration,
    /// Cancelled to stop: `recv` then returns `None`.
    pub shutdown: CancellationToken,
    /// How often a partition whose watermark is held (a failed offset, or one
    /// in flight longer than this) is logged as a warning and published as
    /// the gauge `earshot_watermark_held_seconds` (default 30 s).
    pub held_report_interval: Duration,
}

impl ConsumerOptions {
    /// Options with defaults: 10,000 in flight, commits every second.
    pub fn new<S: Into<String>>(
        group: impl Into<String>,
        topics: impl IntoIterator<Item = S>,
    ) -> Self {
        ConsumerOptions {
            group: group.into(),
            topics: topics.into_iter().map(Into::into).collect(),
            max_in_flight: 10_000,
            commit_interval: Duration::from_secs(1),
            shutdown: CancellationToken::new(),
            held_report_interval: Duration::from_secs(30),
        }
    }
}

/// Reads messages as a member of a consumer group.
#[async_trait]
pub trait Consumer: Send {
    /// The next message, waiting for one (and for in-flight budget). `None`
    /// once shutdown was requested.
    async fn recv(&mut self) -> Option<Result<Delivery, TransportError>>;

    /// Commits every assigned partition's contiguous watermark now.
    async fn commit(&mut self) -> Result<(), TransportError>;

    /// Stops fetching, waits up to `drain` for outstanding deliveries to be
    /// settled, commits the watermarks, and leaves the group.
    async fn close(self: Box<Self>, drain: Duration) -> Result<(), TransportError>;
}

/// A topic to provision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicSpec {
    /// Name.
    pub name: String,
    /// Partition count.
    pub partitions: i32,
    /// Replication factor (ignored by the in-memory bus).
    pub replication: i32,
}

impl TopicSpec {
    /// A topic with `partitions` partitions and replication 1.
    pub fn new(name: impl Into<String>, partitions: i32) -> TopicSpec {
        TopicSpec {
            name: name.into(),
            partitions,
            replication: 1,
        }
    }
}

/// A message bus: topics, producers and consumer groups.
#[async_trait]
pub trait Bus: Send + Sync {
    /// Creates missing topics; checks that existing ones have at least the
    /// configured partitions.
    async fn ensure_topics(&self, topics: &[TopicSpec]) -> Result<(), TransportError>;

    /// A producer (cheap to clone through the `Arc`).
    fn producer(&self) -> Arc<dyn Producer>;

    /// Joins `options.group` and subscribes to `options.topics`.
    async fn consumer(&self, options: ConsumerOptions)
        -> Result<Box<dyn Consumer>, TransportError>;

    /// Joins `options.group` on the control topic `options.topic` to share
    /// its partitions with the group's other processes. Only buses that
    /// cross processes (Kafka) can.
    async fn membership(
        &self,
        options: MembershipOptions,
    ) -> Result<Box<dyn Membership>, TransportError> {
        let _ = options;
        Err(TransportError::Unsupported(
            "sharing work between processes needs a bus that crosses processes ([transport.kafka])"
                .into(),
        ))
    }

    /// The compacted topic `spec` (created with `cleanup.policy=compact`
    /// when missing) as a key-value log. Only buses that keep data across
    /// processes and restarts (Kafka) have one.
    async fn compacted_log(
        &self,
        spec: &TopicSpec,
    ) -> Result<std::sync::Arc<dyn CompactedLog>, TransportError> {
        let _ = spec;
        Err(TransportError::Unsupported(
            "a compacted topic needs a durable bus ([transport.kafka])".into(),
        ))
    }
}
