use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A record a stage could not process, kept with the reason instead of dropped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// Stage that refused it (`connect:<name>`, `match`, `sink`).
    pub stage: String,
    /// Human-readable reason.
    pub reason: String,
    /// Where the record came from.
    pub origin: Origin,
    /// The record as received (lossily decoded as UTF-8 when it was not text).
    pub payload: String,
    /// When it was refused (UTC).
    pub at: DateTime<Utc>,
}

/// Where a dead-lettered record came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Origin {
    /// A transport topic position.
    Topic {
        /// Topic name.
        topic: String,
        /// Partition number.
        partition: i32,
        /// Offset within the partition.
        offset: i64,
    },
    /// An external source (a feed URL, an API endpoint, a file and line).
    Source {
        /// Connector instance name.
        connector: String,
        /// URL, path or other locator of the bad payload.
        locator: String,
    },
}

impl DeadLetter {
    /// A dead letter stamped now; `payload` bytes are kept as text, lossily.
    pub fn new(
        stage: impl Into<String>,
        reason: impl Into<String>,
        origin: Origin,
        payload: &[u8],
    ) -> DeadLetter {
        DeadLetter {
            stage: stage.into(),
            reason: reason.into(),
            origin,
            payload: String::from_utf8_lossy(payload).into_owned(),
            at: Utc::now(),
        }
    }

    /// Serializes to compact JSON.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a DeadLetter always serializes")
    }
}
