//! The producer: idempotent, `acks=all`, compressed, keyed by post id; each
//! send's future resolves on the broker's delivery report.

use std::time::Duration;

use futures::future::BoxFuture;
use futures::FutureExt;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer as _};

use super::base_config;
use crate::{Attached, DeliveryFuture, KafkaConfig, Producer, Record, TransportError};

/// Wait before retrying an enqueue when librdkafka's local queue is full.
const QUEUE_FULL_BACKOFF: Duration = Duration::from_millis(20);

pub(super) struct KafkaProducer {
    inner: FutureProducer,
}

impl KafkaProducer {
    pub(super) fn new(config: &KafkaConfig) -> Result<KafkaProducer, TransportError> {
        let mut c = base_config(config);
        // Set after the user's properties so they cannot weaken them.
        // Idempotence makes librdkafka's internal retries write nothing twice
        // (and keeps partitions in order); it requires acks=all, which stays
        // when `idempotent = false` trades it for CPU.
        c.set("enable.idempotence", config.idempotent.to_string())
            .set("acks", "all")
            .set("compression.type", &config.compression)
            .set("linger.ms", config.linger_ms.to_string());
        if !config.idempotent {
            // Without idempotence, a retried request could land after a
            // later one: one request at a time per connection keeps each
            // partition in order (issue 11: 31 µs a post against 28 µs
            // with librdkafka's default of many).
            c.set("max.in.flight.requests.per.connection", "1");
        }
        let inner = c
            .create()
            .map_err(|e| TransportError::Config(format!("Kafka producer: {e}")))?;
        Ok(KafkaProducer { inner })
    }
}

fn headers(record: &Record) -> OwnedHeaders {
    record.headers.iter().fold(
        OwnedHeaders::new_with_capacity(record.headers.len()),
        |h, (k, v)| {
            h.insert(Header {
                key: k,
                value: Some(v.as_slice()),
            })
        },
    )
}

/// Errors about the record itself: the same record fails again however often
/// it is sent (librdkafka retries the transient ones internally already).
fn is_permanent(code: RDKafkaErrorCode) -> bool {
    use RDKafkaErrorCode as C;
    matches!(
        code,
        C::MessageSizeTooLarge
            | C::InvalidMessageSize
            | C::InvalidMessage
            | C::InvalidRecord
            | C::InvalidTopic
            | C::TopicAuthorizationFailed
            | C::ClusterAuthorizationFailed
    )
}

/// A failed produce as a [`TransportError`]: [`TransportError::Refused`] when
/// retrying cannot help, [`TransportError::Delivery`] otherwise.
fn delivery_error(topic: String, e: &KafkaError) -> TransportError {
    let message = e.to_string();
    match e.rdkafka_error_code() {
        Some(code) if is_permanent(code) => TransportError::Refused { topic, message },
        _ => TransportError::Delivery { topic, message },
    }
}

fn record<'a>(
    topic: &'a str,
    partition: Option<i32>,
    key: &'a [u8],
    payload: Option<&'a [u8]>,
    headers: OwnedHeaders,
) -> FutureRecord<'a, [u8], [u8]> {
    let mut r = FutureRecord::to(topic).key(key).headers(headers);
    r.payload = payload;
    r.partition = partition;
    r
}

impl KafkaProducer {
    /// Enqueues a record now (so records keep the caller's order; librdkafka
    /// copies it, so the caller's buffers are only borrowed) and returns a
    /// future resolving on its delivery report. `partition: None` lets the
    /// key choose it; `payload: None` is a tombstone.
    pub(super) fn send_to(
        &self,
        topic: &str,
        partition: Option<i32>,
        key: &[u8],
        payload: Option<&[u8]>,
        headers: OwnedHeaders,
    ) -> DeliveryFuture {
        // The headers go to librdkafka, which owns them once it took the
        // record and hands them back when it did not: a copy of them a record
        // (and freeing the original) was 8 % of `earshot match`'s CPU.
        let first = self
            .inner
            .send_result(record(topic, partition, key, payload, headers));
        let topic = topic.to_string();
        let pending = match first {
            Ok(delivery) => Ok(delivery),
            // Only a full local queue keeps the record for later: a copy then,
            // instead of one for every record (issue 11).
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => Err((
                key.to_vec(),
                payload.map(<[u8]>::to_vec),
                r.headers.unwrap_or_default(),
            )),
            Err((e, _)) => return futures::future::ready(Err(delivery_error(topic, &e))).boxed(),
        };
        let inner = self.inner.clone();
        async move {
            let delivery = match pending {
                Ok(d) => d,
                // The local queue is full (the broker is slower than we
                // produce): wait for room instead of failing. Only then may
                // this record land after one sent later.
                Err((key, payload, mut headers)) => loop {
                    tokio::time::sleep(QUEUE_FULL_BACKOFF).await;
                    match inner.send_result(record(
                        &topic,
                        partition,
                        &key,
                        payload.as_deref(),
                        headers,
                    )) {
                        Ok(d) => break d,
                        Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                            headers = r.headers.unwrap_or_default();
                            continue;
                        }
                        Err((e, _)) => return Err(delivery_error(topic, &e)),
                    }
                },
            };
            match delivery.await {
                Ok(Ok(_)) => Ok(()),
                Ok(Err((e, _))) => Err(delivery_error(topic, &e)),
                Err(_canceled) => Err(TransportError::Closed),
            }
        }
        .boxed()
    }
}

impl Producer for KafkaProducer {
    fn send(&self, topic: &str, record: Record) -> DeliveryFuture {
        self.send_copy(topic, &record, Attached::none())
    }

    fn send_copy(&self, topic: &str, record: &Record, attached: Attached) -> DeliveryFuture {
        // Nothing in this process reads the attached value back.
        drop(attached);
        self.send_to(
            topic,
            None,
            record.key.as_bytes(),
            Some(&record.payload),
            headers(record),
        )
    }

    fn takes_attached(&self) -> bool {
        false
    }

    fn flush(&self, timeout: Duration) -> BoxFuture<'_, Result<(), TransportError>> {
        let inner = self.inner.clone();
        async move {
            tokio::task::spawn_blocking(move || inner.flush(timeout))
                .await
                .map_err(|e| TransportError::Broker(format!("flush: {e}")))?
                .map_err(|e| TransportError::Broker(format!("flush: {e}")))
        }
        .boxed()
    }
}
