//! Earshot's sinks: scored interactions from the transport into ClickHouse,
//! the embedded SQLite store, or JSON lines; plus the schema migrations and the
//! PR team's dashboards ([`report`]) over either store.
//!
//! The chain is consume → decode → batch → write → acknowledge: a delivery's
//! offset is committed only after its row is stored on every table it goes to
//! (or quarantined with the reason). Transient store failures are retried
//! forever with backoff while consumption pauses (backpressure); rows the store
//! refuses are isolated by bisection and dead-lettered; configuration errors
//! stop the sink with offsets kept.
//!
//! ```
//! use earshot_model::{Interaction, Post, Route, Sentiment, SentimentLabel, SCHEMA_VERSION};
//! use earshot_sink::{SinkConfig, SinkKind};
//! use earshot_transport::{Bus, MemoryBus, Record, TopicsConfig};
//! use tokio_util::sync::CancellationToken;
//! use std::sync::Arc;
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let dir = tempfile::tempdir().unwrap();
//! let mut config = SinkConfig::default(); // the embedded SQLite store
//! config.sqlite.path = dir.path().join("earshot.db");
//! config.batch.max_age_ms = 50;
//! earshot_sink::migrate(&config).await.unwrap();
//!
//! let bus = MemoryBus::new();
//! let topics = TopicsConfig::default();
//! bus.ensure_topics(&topics.specs()).await.unwrap();
//! let interaction = Interaction {
//!     schema_version: SCHEMA_VERSION,
//!     post: Post::new("hn:1", "Acme support is great"),
//!     matches: vec![],
//!     sentiment: Sentiment { compound: 0.6, pos: 0.5, neu: 0.5, neg: 0.0, label: SentimentLabel::Positive },
//!     entity_sentiment: vec![],
//!     intents: vec![],
//!     route: Route::NONE,
//!     priority: 0,
//!     priority_reasons: vec![],
//!     watchlist_version: "v1".into(),
//!     scored_at: chrono::Utc::now(),
//!     truncated: false,
//!     noise: Default::default(),
//! };
//! bus.producer().send(&topics.scored, Record::new("hn:1", interaction.to_json())).await.unwrap();
//!
//! let shutdown = CancellationToken::new();
//! let stop = shutdown.clone();
//! tokio::spawn(async move { tokio::time::sleep(std::time::Duration::from_millis(500)).await; stop.cancel() });
//! let stats = earshot_sink::run(Arc::new(bus), &topics, &config, shutdown).await.unwrap();
//! assert_eq!(stats.stored, 1);
//! assert_eq!(stats.acknowledged, 1);
//! # });
//! ```
#![deny(missing_docs)]

pub mod alerts;
pub mod authors;
mod batch;
pub mod cases;
pub mod clickhouse;
mod config;
pub mod conversations;
pub mod crm_standings;
pub mod forget;
mod jsonl;
pub mod overview;
mod queryable;
pub mod report;
pub mod responses;
mod retry;
mod sink;
pub mod sqlite;
mod stage;
pub mod training;
pub mod work;

use std::sync::Arc;

use earshot_transport::{Bus, TopicsConfig};
use tokio_util::sync::CancellationToken;

pub use batch::{Batch, BatchItem, Position};
pub use config::{
    BatchConfig, ClickHouseConfig, JsonlConfig, RetryConfig, SinkConfig, SinkKind, SqliteConfig,
    PASSWORD_ENV, URL_ENV,
};
pub use jsonl::JsonlSink;
pub use queryable::{OpenError, StoreError};
pub use report::{
    report, Count, NetSentiment, PostSummary, Report, ReportParams, ShareOfVoice, Spike,
};
pub use retry::RetryPolicy;
pub use sink::{Sink, SinkError, WriteReport};
pub use stage::StageError;

/// What `earshot migrate` did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MigrationReport {
    /// The store and its version.
    pub store: String,
    /// Optional server features in use (ClickHouse: `low_cardinality`, `ttl`, ...).
    pub features: Vec<String>,
    /// Migrations applied by this run, as `NNN_name`.
    pub applied: Vec<String>,
    /// Migrations found already applied.
    pub already_applied: usize,
    /// Things the operator should know (settings the server cannot honour).
    pub notes: Vec<String>,
}

/// Counters of one sink run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SinkStats {
    /// Records consumed.
    pub received: u64,
    /// Records that were not a valid scored interaction (sent to the dead-letter topic).
    pub undecodable: u64,
    /// Rows stored.
    pub stored: u64,
    /// Rows the store refused, kept in its dead-letter table.
    pub dead_lettered: u64,
    /// Rows the store refused even in its dead-letter table, sent to the dead-letter topic.
    pub dead_lettered_topic: u64,
    /// Batches written.
    pub batches: u64,
    /// Transient failures retried.
    pub retries: u64,
    /// Deliveries acknowledged after their batch was stored.
    pub acknowledged: u64,
}

/// Creates or upgrades the configured store's schema (idempotent).
pub async fn migrate(config: &SinkConfig) -> Result<MigrationReport, StoreError> {
    match config.kind {
        SinkKind::Clickhouse => clickhouse::migrate(&config.clickhouse).await,
        SinkKind::Sqlite => {
            let store = sqlite::SqliteStore::open(&config.sqlite.path)?;
            let days = config.sqlite.retention_days;
            tokio::task::spawn_blocking(move || {
                let mut report = store.migrate()?;
                let expired = store.expire(days)?;
                if days > 0 {
                    report.notes.push(format!(
                        "retention {days} days: {expired} older post(s) deleted; the sink deletes hourly"
                    ));
                }
                Ok::<_, StoreError>(report)
            })
            .await?
        }
        SinkKind::Jsonl => Ok(MigrationReport {
            store: format!("jsonl ({})", config.jsonl.path),
            notes: vec!["JSON lines need no schema".into()],
            ..MigrationReport::default()
        }),
    }
}

/// Builds the configured sink. ClickHouse: waits (retrying) until the server
/// answers, then fails if the schema is missing. SQLite: opens and migrates,
/// so the embedded default works on a first run.
pub async fn build(
    config: &SinkConfig,
    shutdown: CancellationToken,
) -> Result<Box<dyn Sink>, StageError> {
    let retry = RetryPolicy::new(&config.retry, shutdown);
    Ok(match config.kind {
        SinkKind::Clickhouse => {
            let sink = clickhouse::ClickHouseSink::connect(&config.clickhouse, retry)
                .await
                .map_err(|source| StageError::Sink {
                    sink: "clickhouse".into(),
                    source,
                })?;
            Box::new(sink)
        }
        SinkKind::Sqlite => {
            migrate(config).await?;
            Box::new(
                sqlite::SqliteSink::new(sqlite::SqliteStore::open(&config.sqlite.path)?, retry)
                    .with_retention(config.sqlite.retention_days),
            )
        }
        SinkKind::Jsonl => Box::new(JsonlSink::new(&config.jsonl.path)),
    })
}

/// Runs the sink: consumes `topics.scored` as group `config.group` and writes
/// to the configured store until `shutdown` is cancelled (then drains and
/// commits) or the store fails fatally (then stops with offsets kept before
/// the failed batch, and returns the error).
pub async fn run(
    bus: Arc<dyn Bus>,
    topics: &TopicsConfig,
    config: &SinkConfig,
    shutdown: CancellationToken,
) -> Result<SinkStats, StageError> {
    let errors = config.validate();
    if !errors.is_empty() {
        let list: Vec<String> = errors.iter().map(|(k, m)| format!("{k}: {m}")).collect();
        return Err(StageError::Config(list.join("\n  ")));
    }
    bus.ensure_topics(&topics.specs()).await?;
    let sink = build(config, shutdown.clone()).await?;
    stage::run(bus, topics, config, sink, shutdown).await
}

/// [`run`] as a task of its own, for callers that watch the store while the
/// stage runs (tests, benchmarks): cancel `shutdown`, then await the handle.
pub fn spawn(
    bus: Arc<dyn Bus>,
    topics: TopicsConfig,
    config: SinkConfig,
    shutdown: CancellationToken,
) -> tokio::task::JoinHandle<Result<SinkStats, StageError>> {
    tokio::spawn(async move { run(bus, &topics, &config, shutdown).await })
}

/// Runs the chain over a sink built by the caller (tests, benchmarks, custom stores).
pub async fn run_with(
    bus: Arc<dyn Bus>,
    topics: &TopicsConfig,
    config: &SinkConfig,
    sink: Box<dyn Sink>,
    shutdown: CancellationToken,
) -> Result<SinkStats, StageError> {
    stage::run(bus, topics, config, sink, shutdown).await
}

impl std::fmt::Display for MigrationReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: ", self.store)?;
        if self.applied.is_empty() {
            write!(
                f,
                "schema up to date ({} migrations already applied)",
                self.already_applied
            )?;
        } else {
            write!(
                f,
                "applied {} (already applied: {})",
                self.applied.join(", "),
                self.already_applied
            )?;
        }
        if !self.features.is_empty() {
            write!(f, "; features: {}", self.features.join(", "))?;
        }
        for note in &self.notes {
            write!(f, "\nnote: {note}")?;
        }
        Ok(())
    }
}

impl std::fmt::Display for SinkStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} received, {} stored in {} batches, {} dead-lettered in the store, {} to the dead-letter topic, {} undecodable, {} retries",
            self.received, self.stored, self.batches, self.dead_lettered, self.dead_lettered_topic, self.undecodable, self.retries
        )
    }
}
