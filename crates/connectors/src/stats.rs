//! Counters per connector instance, readable while the daemon runs.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use earshot_transport::PostCounters;
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
pub(crate) struct Counters {
    pub polls: AtomicU64,
    pub produced: AtomicU64,
    pub duplicates: AtomicU64,
    pub dead_letters: AtomicU64,
    pub errors: AtomicU64,
    pub not_modified: AtomicU64,
    pub rate_limited: AtomicU64,
    pub retries: AtomicU64,
    pub metrics: ConnectorMetrics,
    /// When the cursor last moved forward (`None`: not since start).
    cursor_saved: Mutex<Option<Instant>>,
    changed: Arc<Notify>,
}

/// One connector's metric handles, looked up once when it is registered.
pub(crate) struct ConnectorMetrics {
    name: String,
    /// `earshot_posts_total{stage="connect"}`: fetched (`in`), produced (`out`), dead-lettered.
    pub posts_in: PostCounters,
    pub posts_out: PostCounters,
    pub posts_dead: PostCounters,
    /// `earshot_connector_rate_limited_total{connector}`.
    pub rate_limited: metrics::Counter,
    /// `earshot_connector_backoff_seconds_total{connector}`: a gauge that only
    /// grows, since the facade's counters count whole numbers.
    pub backoff_seconds: metrics::Gauge,
    /// `earshot_connector_duplicates_total{connector}`.
    pub duplicates: metrics::Counter,
}

impl ConnectorMetrics {
    fn new(name: &str) -> ConnectorMetrics {
        let labeled =
            |metric: &'static str| metrics::counter!(metric, "connector" => name.to_string());
        ConnectorMetrics {
            name: name.to_string(),
            posts_in: PostCounters::new("connect", "in"),
            posts_out: PostCounters::new("connect", "out"),
            posts_dead: PostCounters::new("connect", "dead_letter"),
            rate_limited: labeled("earshot_connector_rate_limited_total"),
            duplicates: labeled("earshot_connector_duplicates_total"),
            backoff_seconds: metrics::gauge!("earshot_connector_backoff_seconds_total", "connector" => name.to_string()),
        }
    }

    /// Counts one HTTP request's outcome: `earshot_connector_requests_total{connector, status}`,
    /// `status` being the response's code or `error` (no response).
    pub fn request(&self, status: Option<u16>) {
        let status = status.map_or_else(|| "error".to_string(), |s| s.to_string());
        metrics::counter!("earshot_connector_requests_total", "connector" => self.name.clone(), "status" => status)
            .increment(1);
    }
}

impl Counters {
    fn new(name: &str, changed: Arc<Notify>) -> Counters {
        Counters {
            polls: AtomicU64::default(),
            produced: AtomicU64::default(),
            duplicates: AtomicU64::default(),
            dead_letters: AtomicU64::default(),
            errors: AtomicU64::default(),
            not_modified: AtomicU64::default(),
            rate_limited: AtomicU64::default(),
            retries: AtomicU64::default(),
            metrics: ConnectorMetrics::new(name),
            cursor_saved: Mutex::new(None),
            changed,
        }
    }

    /// Adds `n` to a counter and wakes whoever waits on the stats.
    pub fn add(&self, counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
        self.changed.notify_waiters();
    }

    /// Records that the cursor moved forward now.
    pub fn cursor_saved(&self) {
        *self.cursor_saved.lock().expect("cursor time lock") = Some(Instant::now());
    }

    /// Publishes `earshot_connector_cursor_age_seconds`: how long ago the
    /// cursor last moved (a connector whose cursor has not moved since start
    /// reports nothing).
    fn publish_cursor_age(&self) {
        if let Some(at) = *self.cursor_saved.lock().expect("cursor time lock") {
            // Looked up here, not once: a handle would show a 0 age before
            // the cursor ever moved.
            metrics::gauge!("earshot_connector_cursor_age_seconds", "connector" => self.metrics.name.clone())
                .set(at.elapsed().as_secs_f64());
        }
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
        let counters = Arc::new(Counters::new(name, self.changed.clone()));
        self.inner
            .lock()
            .expect("stats lock")
            .insert(name.to_string(), counters.clone());
        counters
    }

    /// `name`'s counters, registered on first use: a connector that stops
    /// and starts again (moved away and back) keeps counting where it was.
    pub(crate) fn counters(&self, name: &str) -> Arc<Counters> {
        let existing = self.inner.lock().expect("stats lock").get(name).cloned();
        existing.unwrap_or_else(|| self.register(name))
    }

    /// Publishes every connector's cursor age (see [`Counters::publish_cursor_age`]).
    pub(crate) fn publish_cursor_ages(&self) {
        for c in self.inner.lock().expect("stats lock").values() {
            c.publish_cursor_age();
        }
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
