//! The data model every Earshot stage shares.
//!
//! Connectors produce [`Post`]s, the matcher turns each into an [`Interaction`],
//! and the sinks store interactions. Anything a stage cannot process becomes a
//! [`DeadLetter`] carrying the reason. All three serialize as JSON with a
//! `schema_version` field so that Kafka, ClickHouse and SQLite see the same shape.
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
mod post;

pub use dead_letter::{DeadLetter, Origin};
pub use interaction::{
    EntityKind, EntitySentiment, Intent, Interaction, Match, Route, Sentiment, SentimentLabel,
};
pub use post::{Author, DecodeError, Engagement, Post};

/// Version of the JSON shape of [`Post`] and [`Interaction`].
///
/// Bumped on any incompatible change; consumers refuse (dead-letter) records
/// carrying a version they do not know instead of misreading them.
pub const SCHEMA_VERSION: u16 = 1;

/// Name of the Kafka header (and similar metadata elsewhere) holding [`SCHEMA_VERSION`].
pub const SCHEMA_HEADER: &str = "earshot-schema";

/// Name of the Kafka header naming the stage or connector that produced a record.
pub const ORIGIN_HEADER: &str = "earshot-origin";

fn default_schema_version() -> u16 {
    SCHEMA_VERSION
}
