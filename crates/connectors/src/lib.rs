//! Earshot's connectors: pull public posts and mentions from sources (feeds,
//! Hacker News, Reddit, Mastodon, Bluesky, webhooks, files, X, YouTube) and
//! produce them to the raw topic.
//!
//! Each `[[connectors]]` entry of `earshot.toml` is one source instance. A
//! source fetches a page, turns its items into [`earshot_model::Post`]s,
//! drops ids it already produced, produces the rest, **waits for the
//! transport to acknowledge every one**, and only then advances its cursor
//! in its [`CursorBackend`]: the local SQLite store (`[cursors] path`), or,
//! with `[connect] cursors = "kafka"`, a compacted topic while several
//! processes share the connectors ([`share`]). A crash at any point
//! refetches instead of losing; a restart resumes from the cursor. Bad
//! payloads become dead-letter records (see [`earshot_transport::source_dead_letter_record`]) on the dead-letter topic
//! (or, when that fails, rows of the store's `quarantine` table).
//!
//! ```no_run
//! use std::sync::Arc;
//! use earshot_connect::ConnectConfig;
//! use earshot_transport::{MemoryBus, TopicsConfig};
//! use tokio_util::sync::CancellationToken;
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let config: ConnectConfig = toml::from_str(r#"
//!     [cursors]
//!     path = ".earshot/cursors.db"
//!
//!     [[connectors]]
//!     name = "backfill"
//!     kind = "file"
//!     paths = ["data/sample.jsonl"]
//!     one_shot = true
//! "#)?;
//! let stats = earshot_connect::run(Arc::new(MemoryBus::new()), &TopicsConfig::default(), &config, CancellationToken::new()).await?;
//! println!("produced {}", stats.total().produced);
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod backend;
mod bluesky;
pub mod config;
mod cursor;
mod daemon;
mod emit;
mod encoding;
mod error;
mod feed_normalize;
mod file;
#[doc(hidden)]
pub mod fuzzing;
mod hn;
mod http;
mod mastodon;
mod reddit;
mod registry;
mod rss;
pub mod share;
mod source;
mod stats;
mod text;
mod webhook;
mod x;
mod youtube;

pub use backend::{CursorBackend, CursorError};
pub use config::{ConnectConfig, ConnectSettings, ConnectorConfig, CursorConfig, SourceConfig};
pub use cursor::{CursorStore, Export};
pub use daemon::{run, Daemon};
pub use error::ConnectError;
pub use stats::{ConnectStats, ConnectorStats, StatsHandle};
pub use text::html_to_text;
