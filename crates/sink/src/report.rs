//! The PR team's dashboards as data: one [`Report`] struct answered by either
//! store (ClickHouse through `deploy/clickhouse/queries/*.sql`, SQLite through
//! the same logic in its dialect), so `earshot report` only renders.

use crate::StoreError;
use chrono::{DateTime, TimeZone, Utc};
use earshot_model::EntityKind;

use crate::{SinkConfig, SinkKind};

/// What to report on.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportParams {
    /// Start of the window (inclusive), rounded down to the minute.
    pub since: DateTime<Utc>,
    /// End of the window (exclusive), rounded down to the minute.
    pub until: DateTime<Utc>,
    /// Only this brand or competitor id (share of voice still lists every one, for comparison).
    pub brand: Option<String>,
    /// Spike threshold factor `k` in `mean + k·σ` (default 3).
    pub spike_k: f64,
}

impl ReportParams {
    /// The window of `length` ending now, for `brand`.
    pub fn last(length: std::time::Duration, brand: Option<&str>) -> ReportParams {
        let until = Utc::now();
        let length = chrono::Duration::from_std(length).unwrap_or(chrono::Duration::days(1));
        ReportParams::between(until - length, until, brand)
    }

    /// The window `[since, until)` (both rounded down to the minute, the aggregates' grain).
    pub fn between(
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        brand: Option<&str>,
    ) -> ReportParams {
        ReportParams {
            since: floor_minute(since),
            until: floor_minute(until),
            brand: brand.filter(|b| !b.is_empty()).map(str::to_string),
            spike_k: 3.0,
        }
    }

    pub(crate) fn since_s(&self) -> u32 {
        self.since.timestamp().clamp(0, u32::MAX as i64) as u32
    }

    pub(crate) fn until_s(&self) -> u32 {
        self.until.timestamp().clamp(0, u32::MAX as i64) as u32
    }

    pub(crate) fn brand_or_empty(&self) -> &str {
        self.brand.as_deref().unwrap_or("")
    }
}

fn floor_minute(t: DateTime<Utc>) -> DateTime<Utc> {
    let s = t.timestamp();
    Utc.timestamp_opt(s - s.rem_euclid(60), 0)
        .single()
        .unwrap_or(t)
}

/// Every dashboard, as rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// What was asked.
    pub params: ReportParams,
    /// Share of voice over the report window and over the 7 days ending with it
    /// (label such as `window` or `7d`, then the rows).
    pub share_of_voice: Vec<(String, Vec<ShareOfVoice>)>,
    /// Net sentiment per brand per hour.
    pub net_sentiment: Vec<NetSentiment>,
    /// Negative posts nobody answered yet, by author reach.
    pub top_negative: Vec<PostSummary>,
    /// Posts per detected intent.
    pub intents: Vec<Count>,
    /// Posts per source.
    pub sources: Vec<Count>,
    /// Posts routed to a team and not answered yet, by priority.
    pub work_queue: Vec<PostSummary>,
    /// Last hour's mentions per brand against the 12 hours before.
    pub spikes: Vec<Spike>,
}

/// One brand's share of all brand and competitor mentions.
#[derive(Debug, Clone, PartialEq)]
pub struct ShareOfVoice {
    /// Entity id.
    pub entity_id: String,
    /// `Brand` (ours) or `Competitor`.
    pub kind: EntityKind,
    /// Mentions in the window.
    pub mentions: u64,
    /// Fraction of all brand and competitor mentions, `[0, 1]`.
    pub share: f64,
}

/// Sentiment counts of one brand in one hour.
#[derive(Debug, Clone, PartialEq)]
pub struct NetSentiment {
    /// Entity id.
    pub entity_id: String,
    /// Start of the hour (UTC).
    pub hour: DateTime<Utc>,
    /// Positive mentions.
    pub positive: u64,
    /// Neutral mentions.
    pub neutral: u64,
    /// Negative mentions.
    pub negative: u64,
    /// `(pos − neg) / (pos + neg)`, absent when both are 0.
    pub net: Option<f64>,
}

/// A post as the work lists show it.
#[derive(Debug, Clone, PartialEq)]
pub struct PostSummary {
    /// Post id.
    pub post_id: String,
    /// Source kind.
    pub source: String,
    /// Author handle (may be empty).
    pub author: String,
    /// Author reach.
    pub reach: u64,
    /// Priority 0-100.
    pub priority: u8,
    /// Team it is routed to.
    pub route: String,
    /// Overall sentiment score.
    pub compound: f32,
    /// Detected intents.
    pub intents: Vec<String>,
    /// Matched brands and competitors.
    pub entities: Vec<String>,
    /// Post URL (may be empty).
    pub url: String,
    /// The first 280 characters of the text.
    pub text: String,
    /// When it was published (or fetched).
    pub event_time: DateTime<Utc>,
}

/// A count of distinct posts under a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Count {
    /// Intent or source name.
    pub key: String,
    /// Distinct posts.
    pub posts: u64,
}

/// Spike check of one brand.
#[derive(Debug, Clone, PartialEq)]
pub struct Spike {
    /// Entity id.
    pub entity_id: String,
    /// Mentions in the last hour of the window.
    pub last_hour: u64,
    /// Mean hourly mentions over the 12 hours before (hours without mentions count as 0).
    pub mean: f64,
    /// Population standard deviation of those 12 hourly counts.
    pub stddev: f64,
    /// `mean + k·σ`.
    pub threshold: f64,
    /// Whether `last_hour` exceeds the threshold.
    pub spike: bool,
}

/// Runs every dashboard query against the configured store.
pub async fn report(config: &SinkConfig, params: &ReportParams) -> Result<Report, StoreError> {
    match config.kind {
        SinkKind::Clickhouse => crate::clickhouse::report(&config.clickhouse, params).await,
        SinkKind::Sqlite => {
            let store = crate::sqlite::SqliteStore::open(&config.sqlite.path)?;
            let params = params.clone();
            Ok(tokio::task::spawn_blocking(move || store.report(&params)).await??)
        }
        SinkKind::Jsonl => Err(StoreError::Unsupported(
            "sink.kind = \"jsonl\" keeps no queryable store; report against `clickhouse` or `sqlite`"
                .into(),
        )),
    }
}

pub(crate) fn entity_kind(s: &str) -> EntityKind {
    s.parse().unwrap_or(EntityKind::Brand)
}

pub(crate) fn from_secs(s: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(s, 0).single().unwrap_or_default()
}

/// Finishes a spike row from the 12 trailing hourly sums (`sum`, `sum of squares`).
pub(crate) fn spike(entity_id: String, last_hour: u64, sum: f64, sum_sq: f64, k: f64) -> Spike {
    let mean = sum / 12.0;
    let stddev = (sum_sq / 12.0 - mean * mean).max(0.0).sqrt();
    let threshold = mean + k * stddev;
    Spike {
        entity_id,
        last_hour,
        mean,
        stddev,
        threshold,
        spike: last_hour as f64 > threshold,
    }
}
