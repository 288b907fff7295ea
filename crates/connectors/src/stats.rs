//! Counters per connector instance, readable while the daemon runs.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::Notify;

/// What one connector instance did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ConnectorStats {
    /// Requests made or streams (re)opened that returned data or 304.
    pub polls: u64,
    /// Posts produced and acknowledged by the transport.
    pub produced: u64,
    /// Posts dropped because their id was already produced.
    pub duplicates: u64,
    /// Bad payloads kept as dead letters (or quarantined).
    pub dead_letters: u64,
    /// Failed fetches, transport failures and other errors (after retries).
    pub errors: u64,
    /// Conditional GETs answered `304 Not Modified`.
    pub not_modified: u64,
    /// Responses that told us to slow down (429, or a rate limit at zero).
    pub rate_limited: u64,
    /// Retries after a 5xx, timeout or network error.
    pub retries: u64,
}

/// Totals per connector of a finished run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ConnectStats {
    /// By connector name.
    pub connectors: BTreeMap<String, ConnectorStats>,
}

impl ConnectStats {
    /// Sum over every connector.
    pub fn total(&self) -> ConnectorStats {
        let mut t = ConnectorStats::default();
        for s in self.connectors.values() {
            t.polls += s.polls;
            t.produced += s.produced;
            t.duplicates += s.duplicates;
            t.dead_letters += s.dead_letters;
            t.errors += s.errors;
            t.not_modified += s.not_modified;
            t.rate_limited += s.rate_limited;
            t.retries += s.retries;
        }
        t
    }
}

/// Live counters of one connector.
#[derive(Default)]
pub(crate) struct Counters {
    pub polls: AtomicU64,
    pub produced: AtomicU64,
    pub duplicates: AtomicU64,
    pub dead_letters: AtomicU64,
    pub errors: AtomicU64,
    pub not_modified: AtomicU64,
    pub rate_limited: AtomicU64,
    pub retries: AtomicU64,
    changed: Arc<Notify>,
}

impl Counters {
    /// Adds `n` to a counter and wakes whoever waits on the stats.
    pub fn add(&self, counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
        self.changed.notify_waiters();
    }

    fn snapshot(&self) -> ConnectorStats {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        ConnectorStats {
            polls: g(&self.polls),
            produced: g(&self.produced),
            duplicates: g(&self.duplicates),
            dead_letters: g(&self.dead_letters),
            errors: g(&self.errors),
            not_modified: g(&self.not_modified),
            rate_limited: g(&self.rate_limited),
            retries: g(&self.retries),
        }
    }
}

/// Live statistics of a running daemon: clone it, read it, wait on it.
#[derive(Clone, Default)]
pub struct StatsHandle {
    inner: Arc<Mutex<BTreeMap<String, Arc<Counters>>>>,
    changed: Arc<Notify>,
}

impl StatsHandle {
    pub(crate) fn register(&self, name: &str) -> Arc<Counters> {
        let counters = Arc::new(Counters {
            changed: self.changed.clone(),
            ..Counters::default()
        });
        self.inner
            .lock()
            .expect("stats lock")
            .insert(name.to_string(), counters.clone());
        counters
    }

    /// The counters now.
    pub fn snapshot(&self) -> ConnectStats {
        let inner = self.inner.lock().expect("stats lock");
        ConnectStats {
            connectors: inner
                .iter()
                .map(|(k, v)| (k.clone(), v.snapshot()))
                .collect(),
        }
    }

    /// Waits until `pred` holds on a snapshot or `timeout` passes; returns whether it held.
    /// Woken by every counter change, so tests need no fixed sleeps.
    pub async fn wait_for(
        &self,
        timeout: Duration,
        mut pred: impl FnMut(&ConnectStats) -> bool,
    ) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if pred(&self.snapshot()) {
                return true;
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return pred(&self.snapshot());
            }
        }
    }
}
