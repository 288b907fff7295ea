//! Several `earshot connect` processes sharing one connector list through
//! Kafka itself (`[connect] cursors = "kafka"`), as Kafka Connect shares
//! its tasks:
//!
//! - **Assignment.** Every process joins the consumer group `group` on the
//!   control topic `<group>.assignments`. Connector number `r` (in name
//!   order among the enabled ones) belongs to partition `r mod partitions`,
//!   and with the round-robin assignor consecutive partitions go to
//!   different members, so the connectors spread evenly. A process runs
//!   exactly the connectors of its partitions. On a revoke it stops them
//!   (a page in flight finishes producing and saves its cursor, or is
//!   abandoned without moving it) before the rebalance goes on.
//! - **Cursors.** Cursors and produced ids live in the compacted topic
//!   `<group>.cursors`, all of one connector in partition
//!   `fnv1a(name) mod partitions` (stable whatever the connector list).
//!   On assignment that partition is read to its end before the connector
//!   starts; every write follows the acknowledgement of the posts it covers.
//!
//! A process that dies leaves its connectors to the others once its
//! session expires; they resume from the last saved cursor, so the posts
//! produced since then come again (at least once; the produced ids saved
//! with each page keep that to the pages in flight at the crash).

mod kafka_cursors;
mod runner;

use serde::Deserialize;

pub(crate) use kafka_cursors::KafkaCursors;
pub use kafka_cursors::{forget_ids, import_cursors, Imported};
pub(crate) use runner::run_shared;

use crate::config::ConnectConfig;

/// `[connect] cursors`: where cursors and produced ids are kept.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CursorsKind {
    /// The local SQLite file of `[cursors] path`: one process runs every connector.
    #[default]
    Sqlite,
    /// A compacted Kafka topic: the processes of `[connect] group` share the connectors.
    Kafka,
}

pub(crate) fn default_group() -> String {
    "earshot-connect".into()
}

pub(crate) fn default_partitions() -> i32 {
    12
}

/// The control topic of `group`.
pub fn control_topic(group: &str) -> String {
    format!("{group}.assignments")
}

/// The compacted cursor topic of `group`.
pub fn cursor_topic(group: &str) -> String {
    format!("{group}.cursors")
}

/// 32-bit FNV-1a: a hash that every build and platform computes alike, so
/// every process puts a connector's cursors in the same partition.
fn fnv1a(s: &str) -> u32 {
    s.bytes().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

/// The cursor-topic partition of `connector`.
pub(crate) fn cursor_partition(connector: &str, partitions: i32) -> i32 {
    (fnv1a(connector) % partitions.max(1) as u32) as i32
}

/// The enabled connectors' names by control partition: the `r`-th name in
/// sorted order goes to partition `r mod partitions`.
pub(crate) fn layout(config: &ConnectConfig) -> Vec<(i32, String)> {
    let mut names: Vec<&str> = config
        .connectors
        .iter()
        .filter(|c| c.enabled)
        .map(|c| c.name.as_str())
        .collect();
    names.sort_unstable();
    let partitions = config.connect.partitions.max(1);
    names
        .into_iter()
        .enumerate()
        .map(|(r, n)| ((r as i32) % partitions, n.to_string()))
        .collect()
}

/// Problems with the sharing settings, as `(key, message)`.
pub(crate) fn validate(config: &ConnectConfig, err: &mut impl FnMut(String, String)) {
    let c = &config.connect;
    let g = &c.group;
    if g.is_empty()
        || g.len() > 200
        || !g
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || "._-".contains(ch))
    {
        err(
            "connect.group".into(),
            format!("`{g}`: expected 1-200 characters of a-z, A-Z, 0-9, '.', '_', '-' (it names topics)"),
        );
    }
    if c.partitions < 1 {
        err(
            "connect.partitions".into(),
            format!("{}: expected at least 1", c.partitions),
        );
    }
    if c.cursors == CursorsKind::Kafka && c.once {
        err(
            "connect.once".into(),
            "a one-pass run is one process: use cursors = \"sqlite\" with it".into(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_18_connectors_spread_over_consecutive_partitions() {
        let config: ConnectConfig = toml::from_str(
            r#"
            [connect]
            cursors = "kafka"
            partitions = 4
            [[connectors]]
            name = "e"
            kind = "file"
            paths = ["x"]
            [[connectors]]
            name = "a"
            kind = "file"
            paths = ["x"]
            [[connectors]]
            name = "off"
            kind = "file"
            paths = ["x"]
            enabled = false
            [[connectors]]
            name = "c"
            kind = "file"
            paths = ["x"]
            [[connectors]]
            name = "b"
            kind = "file"
            paths = ["x"]
            [[connectors]]
            name = "d"
            kind = "file"
            paths = ["x"]
            "#,
        )
        .unwrap();
        assert_eq!(
            layout(&config),
            [(0, "a"), (1, "b"), (2, "c"), (3, "d"), (0, "e")].map(|(p, n)| (p, n.to_string()))
        );
        // Stable across builds: cursors written by one version are found by the next.
        assert_eq!(fnv1a(""), 0x811c_9dc5);
        assert_eq!(fnv1a("a"), 0xe40c_292c);
        assert!((0..4).contains(&cursor_partition("anything", 4)));
        assert!(config.validate().is_empty());
    }
}
