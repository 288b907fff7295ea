/// A record a stage could not process, kept with the reason instead of
/// dropped. Every origin has the same record on the dead-letter topic: the
/// refused bytes as they were (cut to a prefix only when too large, see
/// [`DeadLetter::payload_cut_from`]) and headers naming the stage, the reason
/// and where the bytes came from (see [`crate::headers`]). This is the parsed
/// view of such a record; the transport builds and reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetter {
    /// Stage that refused it (`connect:<name>`, `match`, `sink`).
    pub stage: String,
    /// Human-readable reason.
    pub reason: String,
    /// Where the record came from.
    pub origin: Origin,
    /// The record as received, or its prefix when it was cut.
    pub payload: Vec<u8>,
    /// The original size when [`DeadLetter::payload`] is a cut prefix.
    pub payload_cut_from: Option<usize>,
}

/// Where a dead-lettered record came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A transport topic position (a record a consuming stage refused).
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
    /// The payload as text, lossily (payloads are usually JSON or XML).
    pub fn payload_text(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.payload)
    }
}
