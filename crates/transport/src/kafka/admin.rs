//! Topic provisioning and validation with the admin API. Topics are always
//! created explicitly: not every broker auto-creates them (tansu does not), and
//! an auto-created topic would get the broker's partition count, not ours.

use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::types::RDKafkaErrorCode;

use super::{base_config, broker_error};
use crate::{KafkaConfig, TopicSpec, TransportError};

const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

fn client(config: &KafkaConfig) -> Result<AdminClient<DefaultClientContext>, TransportError> {
    base_config(config)
        .create()
        .map_err(|e| TransportError::Config(format!("Kafka admin client: {e}")))
}

/// Creates missing topics with the configured partitions and replication, and
/// checks that existing ones have at least the configured partitions.
pub(super) async fn ensure_topics(
    config: &KafkaConfig,
    topics: &[TopicSpec],
) -> Result<(), TransportError> {
    ensure_topics_with(config, topics, &[]).await
}

/// [`ensure_topics`] creating missing topics with the topic-level `settings`
/// (for example `cleanup.policy=compact`); existing topics are not altered.
pub(super) async fn ensure_topics_with(
    config: &KafkaConfig,
    topics: &[TopicSpec],
    settings: &[(&str, &str)],
) -> Result<(), TransportError> {
    if topics.is_empty() {
        return Ok(());
    }
    let admin = client(config)?;
    let new: Vec<NewTopic<'_>> = topics
        .iter()
        .map(|t| {
            settings.iter().fold(
                NewTopic::new(
                    &t.name,
                    t.partitions,
                    TopicReplication::Fixed(t.replication),
                ),
                |topic, (k, v)| topic.set(k, v),
            )
        })
        .collect();
    let opts = AdminOptions::new()
        .operation_timeout(Some(REQUEST_TIMEOUT))
        .request_timeout(Some(REQUEST_TIMEOUT));
    let results = admin
        .create_topics(&new, &opts)
        .await
        .map_err(|e| broker_error(&format!("creating topics at {}", config.brokers), e))?;
    for result in results {
        match result {
            Ok(name) => tracing::info!(topic = %name, "created topic"),
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => {
                return Err(TransportError::Topic {
                    topic,
                    message: format!("cannot be created: {code}"),
                })
            }
        }
    }
    // Existing topics are validated, new ones awaited until metadata shows them.
    let specs = topics.to_vec();
    let config = config.clone();
    tokio::task::spawn_blocking(move || {
        let admin = client(&config)?;
        for spec in &specs {
            let have = wait_for_partitions(&admin, &spec.name)?;
            if have < spec.partitions {
                return Err(TransportError::Topic {
                    topic: spec.name.clone(),
                    message: format!(
                        "has {have} partitions but transport.topics.partitions is {}: add partitions to the \
                         topic (kafka-topics --alter --partitions {}) or lower the setting",
                        spec.partitions, spec.partitions
                    ),
                });
            }
        }
        Ok(())
    })
    .await
    .map_err(|e| broker_error("topic check", e))?
}

/// Fails with a clear error when a topic to consume does not exist.
pub(super) async fn check_topics_exist(
    config: &KafkaConfig,
    topics: &[String],
) -> Result<(), TransportError> {
    let topics = topics.to_vec();
    let config = config.clone();
    tokio::task::spawn_blocking(move || {
        let admin = client(&config)?;
        for t in &topics {
            if partitions(&admin, t)?.is_none() {
                return Err(TransportError::Topic {
                    topic: t.clone(),
                    message: "does not exist (Earshot creates its topics when a daemon starts; check transport.topics)".into(),
                });
            }
        }
        Ok(())
    })
    .await
    .map_err(|e| broker_error("topic check", e))?
}

/// Partition count of `topic`, `None` when the broker does not know it.
fn partitions(
    admin: &AdminClient<DefaultClientContext>,
    topic: &str,
) -> Result<Option<i32>, TransportError> {
    let md = admin
        .inner()
        .fetch_metadata(Some(topic), REQUEST_TIMEOUT)
        .map_err(|e| broker_error(&format!("metadata for `{topic}`"), e))?;
    Ok(md
        .topics()
        .iter()
        .find(|t| t.name() == topic && t.error().is_none() && !t.partitions().is_empty())
        .map(|t| t.partitions().len() as i32))
}

/// Waits (briefly) for a just-created topic to appear in metadata.
fn wait_for_partitions(
    admin: &AdminClient<DefaultClientContext>,
    topic: &str,
) -> Result<i32, TransportError> {
    let deadline = Instant::now() + REQUEST_TIMEOUT;
    loop {
        if let Some(n) = partitions(admin, topic)? {
            return Ok(n);
        }
        if Instant::now() > deadline {
            return Err(TransportError::Topic {
                topic: topic.to_string(),
                message: "was created but does not appear in the broker's metadata".into(),
            });
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
