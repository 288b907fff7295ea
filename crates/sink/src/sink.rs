//! The [`Sink`] trait every store implements, and how a write can fail.

use std::sync::Arc;

use async_trait::async_trait;

use crate::Batch;

/// A store of scored interactions.
///
/// `write` returns once every row of the batch is durably stored, or durably
/// quarantined in the store's own dead-letter table, or listed in
/// [`WriteReport::rejected`] (the caller then sends those to the dead-letter
/// topic). Transient failures are retried inside `write` (forever, with
/// backoff), so an `Err` means the batch must not be acknowledged.
#[async_trait]
pub trait Sink: Send {
    /// Stores a batch; see the trait documentation for the contract.
    async fn write(&mut self, batch: &Batch) -> Result<WriteReport, SinkError>;

    /// [`Sink::write`] of a batch the caller shares, so a sink that writes on
    /// another thread keeps a reference instead of copying every row.
    async fn write_shared(&mut self, batch: &Arc<Batch>) -> Result<WriteReport, SinkError> {
        self.write(batch).await
    }

    /// Short name for logs (`clickhouse`, `sqlite`, `jsonl`).
    fn name(&self) -> &'static str;
}

/// What a successful [`Sink::write`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteReport {
    /// Rows stored.
    pub stored: usize,
    /// Rows refused by the store and kept in its dead-letter table.
    pub dead_lettered: usize,
    /// Rows neither stored nor quarantined by the store: `(index in the batch, reason)`.
    /// The caller must send them to the dead-letter topic before acknowledging them.
    pub rejected: Vec<(usize, String)>,
    /// Transient failures retried during this write.
    pub retries: u64,
}

/// Why a write or query failed.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// Retrying may help (network, timeout, overload). Raised only where a
    /// caller retries; [`Sink::write`] retries these itself.
    #[error("transient: {0}")]
    Transient(String),
    /// The store refused the data itself (bad value, type mismatch): retrying the
    /// same rows fails again.
    #[error("data refused: {0}")]
    Data(String),
    /// An error this build does not classify (an unknown ClickHouse error
    /// code): retried a bounded number of times (`retry.max_unknown_attempts`),
    /// then the rows are treated as refused, so it never blocks forever.
    #[error("unclassified error: {0}")]
    Unknown(String),
    /// Configuration is wrong (unknown table, authentication): stop and fix it.
    #[error("fatal: {0}")]
    Fatal(String),
    /// Shutdown was requested while waiting to retry.
    #[error("interrupted by shutdown")]
    Interrupted,
}

impl SinkError {
    /// Whether retrying the same request may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, SinkError::Transient(_))
    }
}
