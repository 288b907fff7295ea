//! The Kafka bus: an `acks=all` producer (idempotent by default), and consumer-group
//! members that commit only contiguous watermarks.
//!
//! Works with Apache Kafka, Redpanda, MSK and tansu (librdkafka bundled, no
//! system library). The consumer runs librdkafka on a dedicated poll thread
//! ([`consumer`]): it keeps polling while the in-flight budget is used up (with
//! the assigned partitions paused) so the member stays in its group, commits
//! watermarks every `commit_interval`, on revoke and on close, and forgets a
//! revoked partition's tracker so a late acknowledgement cannot commit for a
//! partition another member now owns.

mod admin;
mod compacted;
mod consumer;
mod context;
mod membership;
mod producer;
mod unassigned;

use std::sync::Arc;

use async_trait::async_trait;
use rdkafka::config::ClientConfig;

use crate::share::{CompactedLog, Membership, MembershipOptions};
use crate::{Bus, Consumer, ConsumerOptions, KafkaConfig, Producer, TopicSpec, TransportError};

/// Environment variable holding the SASL password (never in config files).
pub const SASL_PASSWORD_ENV: &str = "EARSHOT_KAFKA_SASL_PASSWORD";

/// A bus over Kafka brokers. Cloning shares the producer.
///
/// ```no_run
/// use earshot_transport::{Bus, KafkaBus, TransportConfig};
/// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
/// let config: TransportConfig = toml::from_str(r#"
///     [kafka]
///     brokers = "127.0.0.1:9092"
/// "#)?;
/// let bus = KafkaBus::new(config.kafka.as_ref().unwrap())?;
/// bus.ensure_topics(&config.topics.specs()).await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct KafkaBus {
    config: Arc<KafkaConfig>,
    producer: Arc<producer::KafkaProducer>,
}

impl KafkaBus {
    /// Connects lazily to `config.brokers` (nothing is contacted until the
    /// first request); fails only on an invalid client configuration.
    pub fn new(config: &KafkaConfig) -> Result<KafkaBus, TransportError> {
        let producer = producer::KafkaProducer::new(config)?;
        Ok(KafkaBus {
            config: Arc::new(config.clone()),
            producer: Arc::new(producer),
        })
    }
}

impl std::fmt::Debug for KafkaBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaBus")
            .field("brokers", &self.config.brokers)
            .finish()
    }
}

#[async_trait]
impl Bus for KafkaBus {
    async fn ensure_topics(&self, topics: &[TopicSpec]) -> Result<(), TransportError> {
        admin::ensure_topics(&self.config, topics).await
    }

    fn producer(&self) -> Arc<dyn Producer> {
        self.producer.clone()
    }

    async fn consumer(
        &self,
        options: ConsumerOptions,
    ) -> Result<Box<dyn Consumer>, TransportError> {
        admin::check_topics_exist(&self.config, &options.topics).await?;
        Ok(Box::new(consumer::KafkaConsumer::start(
            &self.config,
            options,
        )?))
    }

    async fn membership(
        &self,
        options: MembershipOptions,
    ) -> Result<Box<dyn Membership>, TransportError> {
        admin::ensure_topics(&self.config, std::slice::from_ref(&options.topic)).await?;
        Ok(Box::new(membership::KafkaMembership::start(
            &self.config,
            options,
        )?))
    }

    async fn compacted_log(
        &self,
        spec: &TopicSpec,
    ) -> Result<Arc<dyn CompactedLog>, TransportError> {
        admin::ensure_topics_with(
            &self.config,
            std::slice::from_ref(spec),
            &[("cleanup.policy", "compact")],
        )
        .await?;
        Ok(Arc::new(compacted::KafkaLog {
            topic: spec.name.clone(),
            config: self.config.clone(),
            producer: self.producer.clone(),
        }))
    }
}

/// Settings every client shares: brokers, the user's extra properties, and the
/// secrets from the environment (each from its own variable, see
/// [`crate::config::SECRET_KAFKA_PROPERTIES`]).
fn base_config(config: &KafkaConfig) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &config.brokers);
    c.set("client.id", "earshot");
    for (k, v) in &config.properties {
        c.set(k, v);
    }
    for (property, env) in crate::config::SECRET_KAFKA_PROPERTIES {
        if let Ok(secret) = std::env::var(env) {
            if !secret.is_empty() {
                c.set(*property, secret);
            }
        }
    }
    c
}

/// Settings of a consumer-group member: `group`, the session timeout with
/// heartbeats well inside it, and offsets that move only when Earshot
/// commits them.
fn member_config(config: &KafkaConfig, group: &str) -> ClientConfig {
    let mut c = base_config(config);
    let session = config.session_timeout_ms.max(1000);
    c.set("group.id", group)
        .set("session.timeout.ms", session.to_string())
        .set("heartbeat.interval.ms", (session / 3).min(3000).to_string())
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "false");
    c
}

fn broker_error(context: &str, e: impl std::fmt::Display) -> TransportError {
    TransportError::Broker(format!("{context}: {e}"))
}
