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
    /// Producer linger in milliseconds: how long to wait to fill a batch
    /// (default 200). librdkafka's idempotent producer keeps one request in
    /// flight per partition and, once a waiting batch's linger is over,
    /// polls in a busy loop until that request is answered: a short linger
    /// costs a core's worth of wake-ups whenever the broker acknowledges
    /// slowly (benches/RESULTS.md, "earshot match draining a backlog").
    #[serde(default = "default_linger")]
    pub linger_ms: u32,
    /// Whether the producer is idempotent (librdkafka's
    /// `enable.idempotence`; default `true`): a produce request retried
    /// inside librdkafka then never writes its records twice. Earshot's
    /// delivery is at least once end to end anyway (after a crash a page
    /// comes again; every store deduplicates by post id and keeps the newest
    /// scoring), so `false` costs only the rare duplicate of a retried
    /// request, and saves the busy loop librdkafka's idempotent producer
    /// runs while a broker is slow to acknowledge: `earshot match` 85 → 30
    /// µs CPU a post on the test broker (benches/RESULTS.md). With `false`,
    /// one request per broker connection is in flight, so a retry cannot
    /// reorder a partition's records, and `acks=all` stays. It applies to
    /// every topic Earshot writes, the cursor topic too (a cursor written
    /// twice is the same key and value, in order).
    #[serde(default = "default_true")]
    pub idempotent: bool,
    /// A consumer left with no partitions while its topics have lag (and its
    /// group makes no progress) leaves and rejoins its group after this many
    /// milliseconds (default: twice the session timeout; 0: never). It says
    /// so from one session timeout on: a warning, the gauge
    /// `earshot_consumer_unassigned_seconds`, and a failing `/ready`.
    #[serde(default)]
    pub unassigned_rejoin_ms: Option<u32>,
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
                            idempotent: true,
                            unassigned_rejoin_ms: None,
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
            for key in k.properties.keys() {
                if let Some(message) = property_problem(key) {
                    errors.push((format!("transport.kafka.properties.{key}"), message));
                }
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

/// librdkafka properties that a config file may set: each one is known not
/// to carry a secret (paths to key files are fine, key material and
/// passwords are not). Anything else is refused, so a new or misspelled
/// secret-bearing property (`ssl.key.pem`, `sasl.oauthbearer.config`, ...)
/// cannot slip into a committed file the way a deny-list lets it.
pub const NON_SECRET_KAFKA_PROPERTIES: &[&str] = &[
    "acks",
    "allow.auto.create.topics",
    "api.version.fallback.ms",
    "api.version.request",
    "api.version.request.timeout.ms",
    "batch.num.messages",
    "batch.size",
    "broker.address.family",
    "broker.address.ttl",
    "broker.version.fallback",
    "client.dns.lookup",
    "client.rack",
    "connections.max.idle.ms",
    "debug",
    "delivery.timeout.ms",
    "enable.ssl.certificate.verification",
    "fetch.error.backoff.ms",
    "fetch.max.bytes",
    "fetch.min.bytes",
    "fetch.queue.backoff.ms",
    "fetch.wait.max.ms",
    "group.instance.id",
    "heartbeat.interval.ms",
    "isolation.level",
    "log.connection.close",
    "log_level",
    "max.in.flight.requests.per.connection",
    "max.partition.fetch.bytes",
    "max.poll.interval.ms",
    "message.max.bytes",
    "message.timeout.ms",
    "metadata.max.age.ms",
    "partition.assignment.strategy",
    "queue.buffering.max.kbytes",
    "queue.buffering.max.messages",
    "queued.max.messages.kbytes",
    "queued.min.messages",
    "receive.message.max.bytes",
    "reconnect.backoff.max.ms",
    "reconnect.backoff.ms",
    "request.timeout.ms",
    "retries",
    "retry.backoff.max.ms",
    "retry.backoff.ms",
    "sasl.kerberos.keytab",
    "sasl.kerberos.min.time.before.relogin",
    "sasl.kerberos.principal",
    "sasl.kerberos.service.name",
    "sasl.mechanism",
    "sasl.mechanisms",
    "sasl.oauthbearer.client.id",
    "sasl.oauthbearer.method",
    "sasl.oauthbearer.scope",
    "sasl.oauthbearer.token.endpoint.url",
    "sasl.username",
    "security.protocol",
    "socket.connection.setup.timeout.ms",
    "socket.keepalive.enable",
    "socket.max.fails",
    "socket.nagle.disable",
    "socket.receive.buffer.bytes",
    "socket.send.buffer.bytes",
    "socket.timeout.ms",
    "ssl.ca.certificate.stores",
    "ssl.ca.location",
    "ssl.ca.pem",
    "ssl.certificate.location",
    "ssl.certificate.pem",
    "ssl.cipher.suites",
    "ssl.crl.location",
    "ssl.curves.list",
    "ssl.endpoint.identification.algorithm",
    "ssl.key.location",
    "ssl.keystore.location",
    "ssl.sigalgs.list",
    "statistics.interval.ms",
    "sticky.partitioning.linger.ms",
    "topic.metadata.refresh.interval.ms",
];

/// librdkafka properties that hold secrets, with the environment variable
/// each is read from instead of the config file.
pub const SECRET_KAFKA_PROPERTIES: &[(&str, &str)] = &[
    ("sasl.password", "EARSHOT_KAFKA_SASL_PASSWORD"),
    ("ssl.key.password", "EARSHOT_KAFKA_SSL_KEY_PASSWORD"),
    ("ssl.key.pem", "EARSHOT_KAFKA_SSL_KEY_PEM"),
    (
        "ssl.keystore.password",
        "EARSHOT_KAFKA_SSL_KEYSTORE_PASSWORD",
    ),
    (
        "sasl.oauthbearer.client.secret",
        "EARSHOT_KAFKA_SASL_OAUTHBEARER_CLIENT_SECRET",
    ),
    (
        "sasl.oauthbearer.config",
        "EARSHOT_KAFKA_SASL_OAUTHBEARER_CONFIG",
    ),
];

/// Why `key` may not be set in `[transport.kafka] properties`, if it may not.
fn property_problem(key: &str) -> Option<String> {
    if NON_SECRET_KAFKA_PROPERTIES.contains(&key) {
        return None;
    }
    Some(
        match SECRET_KAFKA_PROPERTIES.iter().find(|(name, _)| *name == key) {
            Some((_, env)) => format!(
                "a secret, refused in config files: set the environment variable {env} instead"
            ),
            None => format!(
                "not a librdkafka property known to be free of secrets, so refused in config files: \
                 expected one of the non-secret properties listed in the README; a secret must come \
                 from the environment ({})",
                SECRET_KAFKA_PROPERTIES
                    .iter()
                    .map(|(name, env)| format!("{env} for {name}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        },
    )
}

fn default_true() -> bool {
    true
}
fn default_compression() -> String {
    "lz4".into()
}
fn default_session_timeout() -> u32 {
    10_000
}
fn default_linger() -> u32 {
    200
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

    /// The old deny-list refused only keys containing "password" or
    /// "secret"; key material under other names went through.
    #[test]
    fn issue_12_kafka_properties_allowlist_refuses_secrets() {
        let cfg: TransportConfig = toml::from_str(
            r#"
            [kafka]
            brokers = "localhost:9092"
            properties = { "security.protocol" = "SSL", "ssl.key.location" = "/etc/earshot/key.pem", "ssl.key.pem" = "-----BEGIN PRIVATE KEY-----", "sasl.oauthbearer.config" = "principal=x secret=y", "sasl.password" = "hunter2", "sasl.jaas.config" = "x" }
            "#,
        )
        .unwrap();
        let problems = cfg.validate();
        let keys: Vec<&str> = problems.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "transport.kafka.properties.sasl.jaas.config",
                "transport.kafka.properties.sasl.oauthbearer.config",
                "transport.kafka.properties.sasl.password",
                "transport.kafka.properties.ssl.key.pem",
            ]
        );
        // Known secrets name the variable to use instead.
        assert!(
            problems[1]
                .1
                .contains("EARSHOT_KAFKA_SASL_OAUTHBEARER_CONFIG"),
            "{problems:?}"
        );
        assert!(
            problems[2].1.contains("EARSHOT_KAFKA_SASL_PASSWORD"),
            "{problems:?}"
        );
        assert!(
            problems[3].1.contains("EARSHOT_KAFKA_SSL_KEY_PEM"),
            "{problems:?}"
        );
        // Unknown ones are refused too, pointing at the environment.
        assert!(
            problems[0].1.contains("known to be free of secrets"),
            "{problems:?}"
        );
        assert!(problems[0].1.contains("environment"), "{problems:?}");
    }

    #[test]
    fn secret_and_non_secret_lists_do_not_overlap() {
        for (name, env) in SECRET_KAFKA_PROPERTIES {
            assert!(!NON_SECRET_KAFKA_PROPERTIES.contains(name), "{name}");
            assert!(env.starts_with("EARSHOT_KAFKA_"), "{env}");
        }
        for name in NON_SECRET_KAFKA_PROPERTIES {
            assert!(
                !name.contains("password") && !name.contains("secret") && !name.ends_with(".pem")
                    || name.ends_with("certificate.pem")
                    || *name == "ssl.ca.pem",
                "{name}"
            );
        }
    }
}
