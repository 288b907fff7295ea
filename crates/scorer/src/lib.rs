//! The match stage (`earshot match`, and inside `earshot run`): consume raw
//! posts, score them with the pure matcher, produce interactions.
//!
//! Each raw delivery is acknowledged only once its result is durably on the
//! bus: the interaction on the scored topic, or (for poison input: undecodable
//! JSON, an unknown schema version) the original record on the dead-letter
//! topic with the reason in its headers. A failed produce is retried with
//! backoff, never acknowledged, so after a crash the consumer group resumes
//! from the last contiguous acknowledged offset and nothing is lost (duplicates
//! are possible and carry the same key).
//!
//! Scoring is CPU-bound, so batches are scored on the blocking pool, at most
//! `workers` batches at once; the consumer's in-flight budget (`max_in_flight`)
//! bounds everything received and not yet acknowledged, including produces.
//!
//! ```no_run
//! use std::sync::Arc;
//! use earshot_match::{MatcherConfig, MemorySource, SharedMatcher};
//! use earshot_scorer::MatchStageConfig;
//! use earshot_transport::{Bus, MemoryBus, TopicsConfig};
//! # async fn example() -> Result<(), earshot_transport::TransportError> {
//! let bus = Arc::new(MemoryBus::new());
//! let topics = TopicsConfig::default();
//! bus.ensure_topics(&topics.specs()).await?;
//! let config: MatcherConfig = toml::from_str(r#"brands = ["brands.toml"]"#).unwrap();
//! let files = MemorySource::default().with("brands.toml", "[[brand]]\nid = \"acme\"\nname = \"Acme\"\nquery = 'acme'\n");
//! let matcher = Arc::new(SharedMatcher::new(config.compile(&files).unwrap()));
//! let shutdown = tokio_util::sync::CancellationToken::new();
//! let stats = earshot_scorer::run(bus, &topics, matcher, &MatchStageConfig::default(), shutdown).await?;
//! println!("{stats}");
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod authors;
mod config;
mod deliver;
pub mod lines;
mod noise;
#[cfg(test)]
mod noise_tests;
mod score;
mod stage;
mod stats;
#[cfg(test)]
mod tests;

pub use config::{MatchStageConfig, STAGE};
pub use score::TRIMMED_HEADER;
pub use stage::run;
pub use stats::MatchStats;
