//! What `earshot alert` needs from the store, answered by either store: the
//! figures its rules are evaluated on (hourly and daily mention counts,
//! negative counts, PR-risk intent counts per brand), the posts an alert
//! shows, and the durable alert state (which alerts were sent, each
//! channel's delivery state) that makes a spike alert once, across restarts.
//!
//! Every value reaches SQL as a bound parameter.

use chrono::{DateTime, TimeZone, Utc};

use crate::queryable::{OpenError, Queryable};
use crate::report::PostSummary;
use crate::SinkConfig;

/// Hours in the hourly series: the 12 baseline hours, then the last hour.
pub const HOURS: usize = 13;
/// Days in the daily series: the 7 baseline days, then the last 24 hours.
pub const DAYS: usize = 8;

/// Failures of the alert queries.
#[derive(Debug, thiserror::Error)]
pub enum AlertStoreError {
    /// The store could not be opened.
    #[error("opening the store: {0}")]
    Open(String),
    /// The embedded store refused a query.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// ClickHouse refused a query or could not be reached.
    #[error("clickhouse: {0}")]
    ClickHouse(String),
    /// `sink.kind` keeps no queryable store.
    #[error("sink.kind = \"{0}\" keeps no queryable store; alerts need `clickhouse` or `sqlite`")]
    Unsupported(String),
    /// A blocking store task failed.
    #[error("store task failed: {0}")]
    Task(String),
}

impl From<OpenError> for AlertStoreError {
    fn from(e: OpenError) -> AlertStoreError {
        match e {
            OpenError::Open(m) => AlertStoreError::Open(m),
            OpenError::ClickHouse(m) => AlertStoreError::ClickHouse(m),
            OpenError::Unsupported(m) => AlertStoreError::Unsupported(m),
            OpenError::Task(m) => AlertStoreError::Task(m),
        }
    }
}

impl From<clickhouse::error::Error> for AlertStoreError {
    fn from(e: clickhouse::error::Error) -> AlertStoreError {
        AlertStoreError::ClickHouse(e.to_string())
    }
}

/// One brand's (or competitor's) figures at an evaluation time `until`.
/// Hours and days without mentions are zeros: every series has its full length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityFigures {
    /// Entity id.
    pub entity_id: String,
    /// Distinct posts per hour over `[until − 13 h, until)`; the last is the last hour.
    pub hourly: Vec<u64>,
    /// Of those, posts negative about the entity.
    pub hourly_negative: Vec<u64>,
    /// Posts per hour carrying at least one of the asked intents.
    pub hourly_intent: Vec<u64>,
    /// Distinct posts per 24 hours over `[until − 8 d, until)`; the last is the last 24 hours.
    pub daily: Vec<u64>,
}

impl EntityFigures {
    /// All zeros for `entity_id`.
    pub fn empty(entity_id: &str) -> EntityFigures {
        EntityFigures {
            entity_id: entity_id.to_string(),
            hourly: vec![0; HOURS],
            hourly_negative: vec![0; HOURS],
            hourly_intent: vec![0; HOURS],
            daily: vec![0; DAYS],
        }
    }
}

/// Which of a brand's posts an alert shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostFilter {
    /// Every post mentioning it.
    Any,
    /// Posts negative about it.
    Negative,
    /// Posts with at least one of these intents.
    Intents(Vec<String>),
}

/// Identity of one alert: one spike of one rule for one brand alerts once.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AlertKey {
    /// Brand or competitor id.
    pub brand: String,
    /// Rule name (`volume_spike_hourly`, ...).
    pub rule: String,
    /// Start of the window the rule looked at.
    pub window_start: DateTime<Utc>,
}

/// An alert as recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRecord {
    /// Its key.
    pub key: AlertKey,
    /// End of its window (the evaluation time).
    pub window_end: DateTime<Utc>,
    /// When it fired.
    pub fired_at: DateTime<Utc>,
    /// The figure that crossed the threshold.
    pub observed: f64,
    /// The threshold.
    pub threshold: f64,
    /// The alert as sent (JSON), so a failed delivery can be replayed by hand.
    pub payload: String,
}

/// Why an alert that fired is not sent again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Suppression {
    /// This key was alerted already.
    Duplicate,
    /// The same brand and rule alerted at `last_fired`, within the cooldown or
    /// for a window overlapping this one.
    Cooldown {
        /// When that alert fired.
        last_fired: DateTime<Utc>,
    },
}

/// Delivery state of one alert on one channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    /// Recorded before the first attempt; left so only if the process died mid-delivery.
    Pending,
    /// The channel accepted it.
    Sent,
    /// Every attempt failed: the dead letter (reason in `last_error`, body in the alert's payload).
    Failed,
}

impl DeliveryStatus {
    /// The name stored.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Sent => "sent",
            DeliveryStatus::Failed => "failed",
        }
    }

    fn parse(s: &str) -> DeliveryStatus {
        match s {
            "sent" => DeliveryStatus::Sent,
            "failed" => DeliveryStatus::Failed,
            _ => DeliveryStatus::Pending,
        }
    }
}

/// A channel's delivery state of one alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Channel name.
    pub channel: String,
    /// Outcome so far.
    pub status: DeliveryStatus,
    /// Attempts made.
    pub attempts: u32,
    /// The last failure ('' when none).
    pub last_error: String,
}

/// The alert state and figures of the configured store.
#[derive(Clone)]
pub struct AlertStore {
    inner: Queryable,
}

impl AlertStore {
    /// Opens the configured store (which `earshot migrate` must have created on ClickHouse;
    /// the embedded store is migrated here).
    pub async fn open(config: &SinkConfig) -> Result<AlertStore, AlertStoreError> {
        let tables = [
            "alerts",
            "alert_deliveries",
            "interactions",
            "mention_posts_minute",
        ];
        let inner = Queryable::open(config, &tables).await?;
        Ok(AlertStore { inner })
    }

    /// Figures of every brand and competitor with mentions in the last 8 days
    /// before `until` (rounded down to the minute); `intents` are counted
    /// for [`EntityFigures::hourly_intent`].
    pub async fn figures(
        &self,
        until: DateTime<Utc>,
        intents: &[String],
    ) -> Result<Vec<EntityFigures>, AlertStoreError> {
        let until = floor_minute(until);
        match &self.inner {
            Queryable::Sqlite(store) => {
                let (store, intents) = (store.clone(), intents.to_vec());
                blocking(move || store.alert_figures(until, &intents)).await
            }
            Queryable::ClickHouse(ch) => {
                crate::clickhouse::alerts::figures(&ch.0, &ch.1, until, intents).await
            }
        }
    }

    /// A brand's posts in `[since, until)` matching `filter`, by author reach, at most `limit`.
    pub async fn posts(
        &self,
        brand: &str,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        filter: &PostFilter,
        limit: u32,
    ) -> Result<Vec<PostSummary>, AlertStoreError> {
        match &self.inner {
            Queryable::Sqlite(store) => {
                let (store, brand, filter) = (store.clone(), brand.to_string(), filter.clone());
                blocking(move || store.alert_posts(&brand, since, until, &filter, limit)).await
            }
            Queryable::ClickHouse(ch) => {
                crate::clickhouse::alerts::posts(&ch.0, &ch.1, brand, since, until, filter, limit)
                    .await
            }
        }
    }

    /// Whether an alert for `key` (window ending `window_end`) must not be
    /// sent: its key was alerted, or the same brand and rule alerted after
    /// `cooldown_since` or for a window ending after this one starts.
    pub async fn suppression(
        &self,
        key: &AlertKey,
        cooldown_since: DateTime<Utc>,
    ) -> Result<Option<Suppression>, AlertStoreError> {
        match &self.inner {
            Queryable::Sqlite(store) => {
                let (store, key) = (store.clone(), key.clone());
                blocking(move || store.alert_suppression(&key, cooldown_since)).await
            }
            Queryable::ClickHouse(ch) => {
                crate::clickhouse::alerts::suppression(&ch.0, key, cooldown_since).await
            }
        }
    }

    /// Records an alert before it is delivered; `false` when its key was
    /// recorded already (another evaluation won: do not send).
    pub async fn record_alert(&self, alert: &AlertRecord) -> Result<bool, AlertStoreError> {
        match &self.inner {
            Queryable::Sqlite(store) => {
                let (store, alert) = (store.clone(), alert.clone());
                blocking(move || store.record_alert(&alert)).await
            }
            Queryable::ClickHouse(ch) => {
                crate::clickhouse::alerts::record_alert(&ch.0, alert).await
            }
        }
    }

    /// Records (replacing) a channel's delivery state of an alert.
    pub async fn record_delivery(
        &self,
        key: &AlertKey,
        delivery: &Delivery,
    ) -> Result<(), AlertStoreError> {
        match &self.inner {
            Queryable::Sqlite(store) => {
                let (store, key, delivery) = (store.clone(), key.clone(), delivery.clone());
                blocking(move || store.record_delivery(&key, &delivery)).await
            }
            Queryable::ClickHouse(ch) => {
                crate::clickhouse::alerts::record_delivery(&ch.0, key, delivery).await
            }
        }
    }

    /// Alerts fired at or after `since`, oldest first, with their deliveries.
    pub async fn alerts(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<(AlertRecord, Vec<Delivery>)>, AlertStoreError> {
        match &self.inner {
            Queryable::Sqlite(store) => {
                let store = store.clone();
                blocking(move || store.alerts_since(since)).await
            }
            Queryable::ClickHouse(ch) => {
                crate::clickhouse::alerts::alerts_since(&ch.0, since).await
            }
        }
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, AlertStoreError> + Send + 'static,
) -> Result<T, AlertStoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| AlertStoreError::Task(e.to_string()))?
}

/// `t` rounded down to the minute, the grain of the per-minute aggregates.
pub fn floor_minute(t: DateTime<Utc>) -> DateTime<Utc> {
    let s = t.timestamp();
    Utc.timestamp_opt(s - s.rem_euclid(60), 0)
        .single()
        .unwrap_or(t)
}

/// The series a row adds to, and the negative series beside it (hourly only).
pub(crate) type Pick = fn(&mut EntityFigures) -> (&mut Vec<u64>, Option<&mut Vec<u64>>);

/// Folds `(entity, bucket, total, negative)` rows into per-entity series.
pub(crate) fn fold_buckets(
    out: &mut Vec<EntityFigures>,
    rows: impl IntoIterator<Item = (String, i64, u64, u64)>,
    pick: Pick,
) {
    for (entity, bucket, total, negative) in rows {
        let idx = match out.iter().position(|f| f.entity_id == entity) {
            Some(i) => i,
            None => {
                out.push(EntityFigures::empty(&entity));
                out.len() - 1
            }
        };
        let (series, negatives) = pick(&mut out[idx]);
        let Ok(b) = usize::try_from(bucket) else {
            continue;
        };
        if b < series.len() {
            series[b] += total;
            if let Some(n) = negatives {
                n[b] += negative;
            }
        }
    }
}

pub(crate) fn status_of(s: &str) -> DeliveryStatus {
    DeliveryStatus::parse(s)
}

pub(crate) fn secs(t: DateTime<Utc>) -> i64 {
    t.timestamp()
}
