//! The console's overview figures over whole hours: share of voice, hourly
//! sentiment counts per brand (volume and net sentiment over time), intents,
//! sources and the last-hour spike check. The embedded store answers from
//! its hourly rollups (migration 19, summed by the sink per batch), so a 30-day page
//! stays fast at millions of posts; ClickHouse answers with the dashboard
//! queries of [`crate::report`] over its per-minute aggregates.
//!
//! Every value reaches SQL as a bound parameter.

use chrono::{DateTime, Utc};
use rusqlite::params;

use crate::queryable::{OpenError, Queryable};
use crate::report::{entity_kind, from_secs, spike, Count, NetSentiment, ShareOfVoice, Spike};
use crate::{ReportParams, SinkConfig};

/// Failures reading the overview.
#[derive(Debug, thiserror::Error)]
pub enum OverviewError {
    /// The store could not be opened.
    #[error(transparent)]
    Open(#[from] OpenError),
    /// The embedded store refused a query.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// ClickHouse refused a query or could not be reached.
    #[error("clickhouse: {0}")]
    ClickHouse(String),
    /// A blocking store task failed.
    #[error("store task failed: {0}")]
    Task(String),
}

/// The overview of `[since, until)` (whole hours: `since` rounded down,
/// `until` up, so the current hour is included).
#[derive(Debug, Clone, PartialEq)]
pub struct Overview {
    /// Start (inclusive, on the hour).
    pub since: DateTime<Utc>,
    /// End (exclusive, on the hour).
    pub until: DateTime<Utc>,
    /// Mentions per brand and competitor in the window (every one, for comparison).
    pub share_of_voice: Vec<ShareOfVoice>,
    /// Sentiment counts per brand (or only the one asked) per hour.
    pub hourly: Vec<NetSentiment>,
    /// Posts per intent.
    pub intents: Vec<Count>,
    /// Posts per source.
    pub sources: Vec<Count>,
    /// The window's last hour against the 12 before, per brand (spike factor 3).
    pub spikes: Vec<Spike>,
}

/// Overview reads on the configured store.
#[derive(Clone)]
pub struct OverviewStore {
    inner: Queryable,
}

const HOUR: i64 = 3600;

fn hours(since: DateTime<Utc>, until: DateTime<Utc>) -> (i64, i64) {
    let s = since.timestamp().div_euclid(HOUR) * HOUR;
    let u = (until.timestamp() + HOUR - 1).div_euclid(HOUR) * HOUR;
    (s.max(0), u.max(s + HOUR))
}

impl OverviewStore {
    /// Opens the configured store (ClickHouse needs `earshot migrate` first).
    pub async fn open(config: &SinkConfig) -> Result<OverviewStore, OverviewError> {
        let tables = ["interactions", "mentions"];
        Ok(OverviewStore {
            inner: Queryable::open(config, &tables).await?,
        })
    }

    /// The overview of the whole hours covering `[since, until)`, of every
    /// brand or of `brand` (share of voice always lists every one).
    pub async fn overview(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        brand: &str,
    ) -> Result<Overview, OverviewError> {
        let (s, u) = hours(since, until);
        match &self.inner {
            Queryable::Sqlite(store) => {
                let (store, brand) = (store.clone(), brand.to_string());
                tokio::task::spawn_blocking(move || {
                    store.with_connection(|conn| sqlite_overview(conn, s, u, &brand))
                })
                .await
                .map_err(|e| OverviewError::Task(e.to_string()))?
                .map_err(OverviewError::from)
            }
            Queryable::ClickHouse(ch) => {
                let p = ReportParams::between(from_secs(s), from_secs(u), Some(brand));
                let r = crate::clickhouse::report::run_report(&ch.0, &ch.1, &p)
                    .await
                    .map_err(|e| OverviewError::ClickHouse(format!("{e:#}")))?;
                Ok(Overview {
                    since: from_secs(s),
                    until: from_secs(u),
                    share_of_voice: r
                        .share_of_voice
                        .into_iter()
                        .find(|(l, _)| l == "window")
                        .map(|(_, rows)| rows)
                        .unwrap_or_default(),
                    hourly: r.net_sentiment,
                    intents: r.intents,
                    sources: r.sources,
                    spikes: r.spikes,
                })
            }
        }
    }
}

fn sqlite_overview(
    conn: &rusqlite::Connection,
    s: i64,
    u: i64,
    brand: &str,
) -> rusqlite::Result<Overview> {
    let mut stmt = conn.prepare_cached(
        "SELECT entity_id, entity_kind, SUM(posts) AS n FROM mention_hours
         WHERE hour >= ?1 AND hour < ?2 AND entity_kind IN ('brand', 'competitor')
         GROUP BY entity_id, entity_kind HAVING n > 0 ORDER BY n DESC, entity_id",
    )?;
    let rows: Vec<(String, String, i64)> = stmt
        .query_map(params![s, u], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    let total: i64 = rows.iter().map(|r| r.2).sum();
    let share_of_voice = rows
        .into_iter()
        .map(|(entity_id, kind, n)| ShareOfVoice {
            entity_id,
            kind: entity_kind(&kind),
            mentions: n as u64,
            share: n as f64 / total as f64,
        })
        .collect();

    let mut stmt = conn.prepare_cached(
        "SELECT entity_id, hour,
                SUM(CASE sentiment_label WHEN 'positive' THEN posts ELSE 0 END),
                SUM(CASE sentiment_label WHEN 'neutral' THEN posts ELSE 0 END),
                SUM(CASE sentiment_label WHEN 'negative' THEN posts ELSE 0 END)
         FROM mention_hours
         WHERE hour >= ?1 AND hour < ?2 AND entity_kind IN ('brand', 'competitor')
           AND (?3 = '' OR entity_id = ?3)
         GROUP BY entity_id, hour HAVING SUM(posts) > 0 ORDER BY entity_id, hour",
    )?;
    let hourly = stmt
        .query_map(params![s, u, brand], |r| {
            let (positive, neutral, negative): (i64, i64, i64) = (r.get(2)?, r.get(3)?, r.get(4)?);
            Ok(NetSentiment {
                entity_id: r.get(0)?,
                hour: from_secs(r.get(1)?),
                positive: positive as u64,
                neutral: neutral as u64,
                negative: negative as u64,
                net: (positive + negative > 0)
                    .then(|| (positive - negative) as f64 / (positive + negative) as f64),
            })
        })?
        .collect::<Result<_, _>>()?;

    // `entity_id = ''` rows count every post; `intent = ''` the post itself.
    let counts = |sql: &str| -> rusqlite::Result<Vec<Count>> {
        let mut stmt = conn.prepare_cached(sql)?;
        let rows = stmt.query_map(params![s, u, brand], |r| {
            Ok(Count {
                key: r.get(0)?,
                posts: r.get::<_, i64>(1)? as u64,
            })
        })?;
        rows.collect()
    };
    let intents = counts(
        "SELECT intent, SUM(posts) AS n FROM post_hours
         WHERE hour >= ?1 AND hour < ?2 AND entity_id = ?3 AND intent != ''
         GROUP BY intent HAVING n > 0 ORDER BY n DESC, intent",
    )?;
    let sources = counts(
        "SELECT source, SUM(posts) AS n FROM post_hours
         WHERE hour >= ?1 AND hour < ?2 AND entity_id = ?3 AND intent = ''
         GROUP BY source HAVING n > 0 ORDER BY n DESC, source",
    )?;

    // The last hour of the window against the 12 before (as `earshot report`).
    let start = u - 13 * HOUR;
    let mut stmt = conn.prepare_cached(
        "SELECT entity_id, (hour - ?1) / 3600 AS h, SUM(posts) FROM mention_hours
         WHERE hour >= ?1 AND hour < ?2 AND entity_kind IN ('brand', 'competitor')
           AND (?3 = '' OR entity_id = ?3)
         GROUP BY entity_id, h HAVING SUM(posts) > 0 ORDER BY entity_id, h",
    )?;
    let rows: Vec<(String, i64, i64)> = stmt
        .query_map(params![start, u, brand], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?
        .collect::<Result<_, _>>()?;
    let mut spikes: Vec<Spike> = Vec::new();
    for chunk in rows.chunk_by(|a, b| a.0 == b.0) {
        let (mut last, mut sum, mut sum_sq) = (0u64, 0f64, 0f64);
        for (_, h, n) in chunk {
            if *h == 12 {
                last = *n as u64;
            } else {
                sum += *n as f64;
                sum_sq += (*n * *n) as f64;
            }
        }
        spikes.push(spike(chunk[0].0.clone(), last, sum, sum_sq, 3.0));
    }
    spikes.sort_by(|a, b| {
        b.spike
            .cmp(&a.spike)
            .then(b.last_hour.cmp(&a.last_hour))
            .then(a.entity_id.cmp(&b.entity_id))
    });
    Ok(Overview {
        since: from_secs(s),
        until: from_secs(u),
        share_of_voice,
        hourly,
        intents,
        sources,
        spikes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_cover_whole_hours() {
        let t = |s: i64| from_secs(s);
        assert_eq!(hours(t(7_200), t(10_800)), (7_200, 10_800));
        assert_eq!(hours(t(7_201), t(10_799)), (7_200, 10_800));
        assert_eq!(hours(t(7_200), t(7_200)), (7_200, 10_800));
    }
}
