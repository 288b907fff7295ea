//! A compacted topic as a key-value log: writes go through the bus's
//! `acks=all` producer (idempotent by default) to an explicit partition; a read assigns
//! one partition (no consumer group) and folds it from the beginning up to
//! the high watermark taken when the read started.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use futures::FutureExt;
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::message::{Message as _, OwnedHeaders};
use rdkafka::{Offset, TopicPartitionList};

use super::producer::KafkaProducer;
use super::{base_config, broker_error};
use crate::share::CompactedLog;
use crate::{DeliveryFuture, KafkaConfig, TransportError};

/// A read gives up when no record arrived for this long before reaching the
/// high watermark (the broker is down or the partition unreadable).
const STALL: Duration = Duration::from_secs(30);
/// Wait of one poll.
const POLL: Duration = Duration::from_millis(100);
/// Timeout of the watermark request.
const WATERMARKS: Duration = Duration::from_secs(15);

pub(super) struct KafkaLog {
    pub topic: String,
    pub config: Arc<KafkaConfig>,
    pub producer: Arc<KafkaProducer>,
}

impl CompactedLog for KafkaLog {
    fn put(&self, partition: i32, key: &str, value: Option<&[u8]>) -> DeliveryFuture {
        self.producer.send_to(
            &self.topic,
            Some(partition),
            key.as_bytes(),
            value,
            OwnedHeaders::new(),
        )
    }

    fn read(
        &self,
        partition: i32,
    ) -> BoxFuture<'_, Result<HashMap<String, Vec<u8>>, TransportError>> {
        let (config, topic) = (self.config.clone(), self.topic.clone());
        async move {
            tokio::task::spawn_blocking(move || read_partition(&config, &topic, partition))
                .await
                .map_err(|e| broker_error("reading a compacted topic", e))?
        }
        .boxed()
    }

    fn topic(&self) -> &str {
        &self.topic
    }
}

fn read_partition(
    config: &KafkaConfig,
    topic: &str,
    partition: i32,
) -> Result<HashMap<String, Vec<u8>>, TransportError> {
    let what = || format!("reading `{topic}` partition {partition}");
    let mut c = base_config(config);
    // Assigned, not subscribed: the group id is never joined nor committed to.
    c.set("group.id", "earshot-compacted-reader")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false");
    let consumer: BaseConsumer = c
        .create()
        .map_err(|e| TransportError::Config(format!("Kafka reader: {e}")))?;
    let (low, high) = consumer
        .fetch_watermarks(topic, partition, WATERMARKS)
        .map_err(|e| broker_error(&what(), e))?;
    let mut out = HashMap::new();
    if high <= low {
        return Ok(out);
    }
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, partition, Offset::Beginning)
        .map_err(|e| broker_error(&what(), e))?;
    consumer
        .assign(&tpl)
        .map_err(|e| broker_error(&what(), e))?;
    let mut last_progress = Instant::now();
    loop {
        match consumer.poll(POLL) {
            Some(Ok(m)) => {
                last_progress = Instant::now();
                let key = String::from_utf8_lossy(m.key().unwrap_or_default()).into_owned();
                match m.payload() {
                    Some(v) => out.insert(key, v.to_vec()),
                    None => out.remove(&key),
                };
                if m.offset() >= high - 1 {
                    return Ok(out);
                }
            }
            Some(Err(e)) => tracing::warn!(topic, partition, error = %e, "compacted read error"),
            // The last offsets may hold no record (compacted away, or a
            // control record): the position says when the end is reached.
            None => {
                let at = consumer.position().ok().and_then(|p| {
                    match p.find_partition(topic, partition).map(|e| e.offset()) {
                        Some(Offset::Offset(o)) => Some(o),
                        _ => None,
                    }
                });
                if at.is_some_and(|o| o >= high) {
                    return Ok(out);
                }
            }
        }
        if last_progress.elapsed() > STALL {
            return Err(TransportError::Broker(format!(
                "{}: no record for {STALL:?} before reaching offset {high}",
                what()
            )));
        }
    }
}
