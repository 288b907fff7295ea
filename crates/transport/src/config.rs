use std::collections::BTreeMap;

use serde::Deserialize;

use crate::TopicSpec;

/// `[transport]` section of `earshot.toml`: which bus carries records between stages.
///
/// With no `[transport.kafka]` table, stages run in one process over the
/// in-memory bus (the embedded default).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransportConfig {
    /// Kafka (Apache Kafka, Redpanda, MSK, ...). Absent: the in-memory bus.
    #[serde(default)]
    pub kafka: Option<KafkaConfig>,
    /// Topic names and their provisioning.
    #[serde(default)]
    pub topics: TopicsConfig,
}

/// `[transport.kafka]`: how to reach the brokers.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaConfig {
    /// Bootstrap servers, `host:port[,host:port...]`. Overridden by the
    /// environment variable `EARSHOT_KAFKA_BROKERS`.
    pub brokers: String,
    /// Producer compression: `none`, `gzip`, `lz4` (default) or `zstd`.
    /// (Snappy is refused: some Kafka-compatible brokers mishandle it.)
    #[serde(default = "default_compression")]
    pub compression: String,
    /// Consumer group session timeout in milliseconds (default 10,000).
    #[serde(default = "default_session_timeout")]
    pub session_timeout_ms: u32,
    /// Producer linger in milliseconds: how long to wait to fill a batch (default 5).
    #[serde(default = "default_linger")]
    pub linger_ms: u32,
    /// Extra librdkafka properties (for example `security.protocol`,
    /// `sasl.mechanisms`, `sasl.username`). Never put secrets here: set
    /// `EARSHOT_KAFKA_SASL_PASSWORD` in the environment instead.
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
}

/// `[transport.topics]`: topic names and how they are created.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopicsConfig {
    /// Raw posts from connectors (default `earshot.raw`).
    #[serde(default = "default_raw")]
    pub raw: String,
    /// Scored interactions from the matcher (default `earshot.scored`).
    #[serde(default = "default_scored")]
    pub scored: String,
    /// Records no stage could process, with the reason in headers (default `earshot.dead-letter`).
    #[serde(default = "default_dead_letter")]
    pub dead_letter: String,
    /// Partitions per topic when Earshot creates it (default 6).
    #[serde(default = "default_partitions")]
    pub partitions: i32,
    /// Replication factor when Earshot creates a topic (default 1; use 3 in production).
    #[serde(default = "default_replication")]
    pub replication: i32,
}

impl Default for TopicsConfig {
    fn default() -> Self {
        TopicsConfig {
            raw: default_raw(),
            scored: default_scored(),
            dead_letter: default_dead_letter(),
            partitions: default_partitions(),
            replication: default_replication(),
        }
    }
}

impl TopicsConfig {
    /// Every topic Earshot uses, ready to provision.
    pub fn specs(&self) -> Vec<TopicSpec> {
        [&self.raw, &self.scored, &self.dead_letter]
            .into_iter()
            .map(|name| TopicSpec {
                name: name.clone(),
                partitions: self.partitions,
                replication: self.replication,
            })
            .collect()
    }
}

impl TransportConfig {
    /// Applies environment overrides (`EARSHOT_KAFKA_BROKERS` sets or replaces the brokers).
    pub fn apply_env(&mut self) {
        if let Ok(brokers) = std::env::var("EARSHOT_KAFKA_BROKERS") {
            if !brokers.trim().is_empty() {
                match &mut self.kafka {
                    Some(k) => k.brokers = brokers,
                    None => {
                        self.kafka = Some(KafkaConfig {
                            brokers,
                            compression: default_compression(),
                            session_timeout_ms: default_session_timeout(),
                            linger_ms: default_linger(),
                            properties: BTreeMap::new(),
                        })
                    }
                }
            }
        }
    }

    /// Every problem with this section, as `(key, message)` pairs.
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut errors = Vec::new();
        if let Some(k) = &self.kafka {
            if k.brokers.split(',').any(|b| {
                b.trim()
                    .rsplit_once(':')
                    .is_none_or(|(h, p)| h.is_empty() || p.parse::<u16>().is_err())
            }) {
                errors.push((
                    "transport.kafka.brokers".into(),
                    format!("`{}`: expected host:port[,host:port...]", k.brokers),
                ));
            }
            if !["none", "gzip", "lz4", "zstd"].contains(&k.compression.as_str()) {
                errors.push((
                    "transport.kafka.compression".into(),
                    format!("`{}`: expected one of none, gzip, lz4, zstd", k.compression),
                ));
            }
            if k.properties
                .keys()
                .any(|p| p.contains("password") || p.contains("secret"))
            {
                errors.push(("transport.kafka.properties".into(), "secrets must not be in config files: set EARSHOT_KAFKA_SASL_PASSWORD in the environment".into()));
            }
        }
        let t = &self.topics;
        for (key, name) in [
            ("raw", &t.raw),
            ("scored", &t.scored),
            ("dead_letter", &t.dead_letter),
        ] {
            if name.is_empty()
                || name.len() > 249
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
            {
                errors.push((
                    format!("transport.topics.{key}"),
                    format!("`{name}`: expected 1-249 characters of a-z, A-Z, 0-9, '.', '_', '-'"),
                ));
            }
        }
        if t.raw == t.scored || t.raw == t.dead_letter || t.scored == t.dead_letter {
            errors.push((
                "transport.topics".into(),
                "raw, scored and dead_letter must be three different topics".into(),
            ));
        }
        if t.partitions < 1 {
            errors.push((
                "transport.topics.partitions".into(),
                format!("{}: expected at least 1", t.partitions),
            ));
        }
        if t.replication < 1 {
            errors.push((
                "transport.topics.replication".into(),
                format!("{}: expected at least 1", t.replication),
            ));
        }
        errors
    }
}

fn default_compression() -> String {
    "lz4".into()
}
fn default_session_timeout() -> u32 {
    10_000
}
fn default_linger() -> u32 {
    5
}
fn default_raw() -> String {
    "earshot.raw".into()
}
fn default_scored() -> String {
    "earshot.scored".into()
}
fn default_dead_letter() -> String {
    "earshot.dead-letter".into()
}
fn default_partitions() -> i32 {
    6
}
fn default_replication() -> i32 {
    1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_names_each_bad_key() {
        let cfg: TransportConfig = toml::from_str(
            r#"
            [kafka]
            brokers = "localhost"
            compression = "snappy"
            [topics]
            raw = "a b"
            partitions = 0
            "#,
        )
        .unwrap();
        let keys: Vec<String> = cfg.validate().into_iter().map(|(k, _)| k).collect();
        assert_eq!(
            keys,
            [
                "transport.kafka.brokers",
                "transport.kafka.compression",
                "transport.topics.raw",
                "transport.topics.partitions"
            ]
        );
        assert!(TransportConfig::default().validate().is_empty());
    }
}
