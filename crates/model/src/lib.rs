//! The data model every Earshot stage shares.
//!
//! Connectors produce [`Post`]s, the matcher turns each into an [`Interaction`],
//! and the sinks store interactions. Both serialize as JSON with a
//! `schema_version` field so that Kafka, ClickHouse and SQLite see the same
//! shape. Anything a stage cannot process becomes a [`DeadLetter`]: the
//! refused bytes with [`headers`] naming the stage, the reason and the origin.
//!
//! ```
//! use earshot_model::Post;
//!
//! let post = Post::from_json(br#"{"id": "hn:1", "text": "Acme support is great"}"#).unwrap();
//! assert_eq!(post.source, "hn");
//! assert_eq!(post.native_id(), "1");
//! ```
#![deny(missing_docs)]

mod dead_letter;
mod interaction;
mod name;
mod noise;
mod post;
mod time;

pub use dead_letter::{DeadLetter, Origin};
pub use interaction::{EntityKind, EntitySentiment, Interaction, Match, Sentiment, SentimentLabel};
pub use name::{valid_name, Intent, NameError, Route, MAX_NAME_LEN};
pub use noise::Noise;
pub use post::{Author, DecodeError, Engagement, Post};

/// Version of the JSON shape of [`Post`] and [`Interaction`].
///
/// Bumped on any incompatible change; consumers refuse (dead-letter) records
/// carrying a version they do not know instead of misreading them.
pub const SCHEMA_VERSION: u16 = 1;

/// [`SCHEMA_VERSION`] as the [`SCHEMA_HEADER`] value, so no record formats it.
pub const SCHEMA_VERSION_TEXT: &str = "1";

/// Name of the Kafka header (and similar metadata elsewhere) holding [`SCHEMA_VERSION`].
pub const SCHEMA_HEADER: &str = "earshot-schema";

/// Name of the Kafka header naming the stage or connector that produced a record.
pub const ORIGIN_HEADER: &str = "earshot-origin";

/// Names of the headers Earshot's records carry beyond [`SCHEMA_HEADER`] and
/// [`ORIGIN_HEADER`]: one list, so every stage writes and reads the same names.
pub mod headers {
    /// Why a record was dead-lettered.
    pub const ERROR: &str = "earshot-error";
    /// The stage that dead-lettered it (`connect:<name>`, `match`, `sink`).
    pub const STAGE: &str = "earshot-stage";
    /// The topic a dead-lettered record was read from.
    pub const SOURCE_TOPIC: &str = "earshot-source-topic";
    /// The partition it was read from.
    pub const SOURCE_PARTITION: &str = "earshot-source-partition";
    /// The offset it was read from.
    pub const SOURCE_OFFSET: &str = "earshot-source-offset";
    /// The connector whose fetched payload was dead-lettered.
    pub const SOURCE_CONNECTOR: &str = "earshot-source-connector";
    /// Where that payload was fetched (URL, file and line, endpoint).
    pub const SOURCE_LOCATOR: &str = "earshot-source-locator";
    /// The original size of a dead letter whose payload was cut to a prefix.
    pub const PAYLOAD_CUT_FROM: &str = "earshot-payload-cut-from";
    /// What the match stage cut from a scored record to make it fit.
    pub const TRIMMED: &str = "earshot-trimmed";
}

fn default_schema_version() -> u16 {
    SCHEMA_VERSION
}

#[cfg(test)]
mod tests {
    #[test]
    fn schema_version_text_is_the_version() {
        assert_eq!(
            super::SCHEMA_VERSION_TEXT,
            super::SCHEMA_VERSION.to_string()
        );
    }
}
