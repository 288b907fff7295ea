//! Conversations, answered by either store: the posts of a thread in order,
//! and per thread when the first customer post came and when the brand
//! first answered it (a post by one of the brand's own accounts in the
//! thread, or a response recorded in `responses`), hence **time to first
//! response** per brand and the negative threads nobody answered.
//!
//! A post's thread is its `thread_id`, else the post it replies to, else
//! itself. Every value reaches SQL as a bound parameter.

mod sqlite_threads;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::queryable::{Queryable, StoreError};
use crate::report::from_secs;
use crate::SinkConfig;

/// Failures of the conversation queries.
pub type ConversationsError = StoreError;

/// Threads read at most per query (the figures cover these, newest first;
/// `threads.sql` has the same `LIMIT`).
pub const MAX_THREADS: u32 = 200_000;

/// One thread over a window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadSummary {
    /// Thread id.
    pub thread: String,
    /// Its first post not by an own account.
    pub started: DateTime<Utc>,
    /// Posts in the window.
    pub posts: u64,
    /// A post not by an own account is negative.
    pub negative: bool,
    /// Brands and competitors its posts name.
    pub entities: Vec<String>,
    /// The first answer after `started`: an own account's post, or a recorded response.
    pub first_response: Option<DateTime<Utc>>,
}

impl ThreadSummary {
    /// Seconds from the first customer post to the first answer.
    pub fn response_secs(&self) -> Option<i64> {
        self.first_response
            .map(|r| (r - self.started).num_seconds())
    }
}

/// A duration as people read it: `45s`, `12m`, `2h05m`, `3d02h`.
pub fn human_duration(secs: i64) -> String {
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86_400 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        s => format!("{}d{:02}h", s / 86_400, s % 86_400 / 3600),
    }
}

/// A brand's response figures.
#[derive(Debug, Clone, PartialEq)]
pub struct ResponseTimes {
    /// Brand or competitor id.
    pub brand: String,
    /// Threads naming it.
    pub threads: u64,
    /// Of those, answered.
    pub answered: u64,
    /// Median time to first response (answered threads).
    pub p50_secs: Option<i64>,
    /// 90th percentile.
    pub p90_secs: Option<i64>,
    /// Negative threads without an answer.
    pub unanswered_negative: u64,
}

/// Per brand, from `threads`.
pub fn response_times(threads: &[ThreadSummary]) -> Vec<ResponseTimes> {
    let mut by: BTreeMap<&str, (u64, Vec<i64>, u64)> = BTreeMap::new();
    for t in threads {
        for e in &t.entities {
            let b = by.entry(e.as_str()).or_default();
            b.0 += 1;
            match t.response_secs() {
                Some(s) => b.1.push(s),
                None if t.negative => b.2 += 1,
                None => {}
            }
        }
    }
    by.into_iter()
        .map(|(brand, (threads, mut secs, unanswered_negative))| {
            secs.sort_unstable();
            // Nearest rank: the smallest value with at least p of the values at or below it.
            let pct = |p: f64| {
                (!secs.is_empty()).then(|| {
                    let rank = ((p * secs.len() as f64).ceil() as usize).clamp(1, secs.len());
                    secs[rank - 1]
                })
            };
            ResponseTimes {
                brand: brand.to_string(),
                threads,
                answered: secs.len() as u64,
                p50_secs: pct(0.5),
                p90_secs: pct(0.9),
                unanswered_negative,
            }
        })
        .collect()
}

/// One post of a thread.
#[derive(Debug, Clone, PartialEq)]
pub struct ThreadPost {
    /// Post id.
    pub post_id: String,
    /// Network.
    pub source: String,
    /// Author handle.
    pub author: String,
    /// When.
    pub event_time: DateTime<Utc>,
    /// The post it replies to ('' when none).
    pub reply_to: String,
    /// Overall sentiment.
    pub compound: f32,
    /// Link.
    pub url: String,
    /// Text (first 280 characters).
    pub text: String,
    /// When it was marked answered, if it was.
    pub responded_at: Option<DateTime<Utc>>,
}

/// Conversation queries on the configured store.
#[derive(Clone)]
pub struct ConversationStore {
    inner: Queryable,
}

#[derive(clickhouse::Row, serde::Deserialize)]
struct ThreadRow {
    thread: String,
    started: u32,
    posts: u64,
    negative: u8,
    entities: Vec<String>,
    own_times: Vec<u32>,
    responded: u32,
    #[allow(dead_code)]
    customer_posts: u64,
}

/// The first answer at or after `started`.
fn first_response(started: i64, own_times: &[i64], responded: Option<i64>) -> Option<i64> {
    own_times
        .iter()
        .copied()
        .filter(|&t| t >= started)
        .chain(responded.map(|r| r.max(started)))
        .min()
}

const SQLITE_THREAD: &str = "
SELECT i.post_id, i.source, i.author_handle, i.event_time, i.reply_to, i.sentiment_compound, i.url,
       substr(i.text, 1, 280), (SELECT MIN(r.responded_at) FROM responses r WHERE r.post_id = i.post_id)
FROM interactions i
WHERE i.post_id = ?1 OR COALESCE(NULLIF(i.thread_id, ''), NULLIF(i.reply_to, ''), i.post_id) = ?1
ORDER BY i.event_time, i.post_id
LIMIT 1000";

#[derive(clickhouse::Row, serde::Deserialize)]
struct PostRow {
    post_id: String,
    source: String,
    author: String,
    event_time: u32,
    reply_to: String,
    compound: f32,
    url: String,
    text: String,
    responded: u32,
}

impl ConversationStore {
    /// Opens the configured store.
    pub async fn open(config: &SinkConfig) -> Result<ConversationStore, ConversationsError> {
        Ok(ConversationStore {
            inner: Queryable::open(config, &["interactions", "responses"]).await?,
        })
    }

    /// Threads with a customer post in `[since, until)` that name a brand,
    /// competitor or customer, newest first; `own` lists the brands'
    /// accounts as `network:handle` (lowercase).
    pub async fn threads(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        own: &[String],
    ) -> Result<Vec<ThreadSummary>, ConversationsError> {
        let (since, until) = (since.timestamp(), until.timestamp());
        match &self.inner {
            Queryable::Sqlite(store) => {
                let store = store.clone();
                let own = own.to_vec();
                tokio::task::spawn_blocking(move || {
                    store.with_connection(|c| sqlite_threads::threads(c, since, until, &own))
                })
                .await?
                .map_err(ConversationsError::from)
            }
            Queryable::ClickHouse(ch) => {
                // The dashboards' query file, so Grafana and this agree.
                use crate::clickhouse::report::{dashboard_query, prepare, Param};
                let clamp = |s: i64| s.clamp(0, u32::MAX as i64) as u32;
                let sql = dashboard_query("threads").expect("compiled in");
                let params = [
                    ("since", Param::U32(clamp(since))),
                    ("until", Param::U32(clamp(until))),
                    ("own", Param::Str(own.join(","))),
                ];
                let rows: Vec<ThreadRow> = prepare(&ch.0, &ch.1, sql, &params).fetch_all().await?;
                Ok(rows
                    .into_iter()
                    .map(|r| {
                        let started = i64::from(r.started);
                        let own_times: Vec<i64> = r.own_times.iter().map(|&t| t.into()).collect();
                        let responded = (r.responded > 0).then_some(i64::from(r.responded));
                        let mut entities = r.entities;
                        entities.sort_unstable();
                        ThreadSummary {
                            thread: r.thread,
                            started: from_secs(started),
                            posts: r.posts,
                            negative: r.negative != 0,
                            entities,
                            first_response: first_response(started, &own_times, responded)
                                .map(from_secs),
                        }
                    })
                    .collect())
            }
        }
    }

    /// The posts of `thread` in order (at most 1,000).
    pub async fn thread(&self, thread: &str) -> Result<Vec<ThreadPost>, ConversationsError> {
        match &self.inner {
            Queryable::Sqlite(store) => {
                let (store, id) = (store.clone(), thread.to_string());
                tokio::task::spawn_blocking(move || {
                    store.with_connection(|c| {
                        let mut stmt = c.prepare_cached(SQLITE_THREAD)?;
                        let rows = stmt.query_map([&id], |r| {
                            Ok(ThreadPost {
                                post_id: r.get(0)?,
                                source: r.get(1)?,
                                author: r.get(2)?,
                                event_time: from_secs(r.get(3)?),
                                reply_to: r.get(4)?,
                                compound: r.get::<_, f64>(5)? as f32,
                                url: r.get(6)?,
                                text: r.get(7)?,
                                responded_at: r.get::<_, Option<i64>>(8)?.map(from_secs),
                            })
                        })?;
                        rows.collect::<rusqlite::Result<Vec<_>>>()
                    })
                })
                .await?
                .map_err(ConversationsError::from)
            }
            Queryable::ClickHouse(ch) => {
                use crate::clickhouse::report::{dashboard_query, prepare, Param};
                let sql = dashboard_query("thread").expect("compiled in");
                let params = [("thread", Param::Str(thread.to_string()))];
                let rows: Vec<PostRow> = prepare(&ch.0, &ch.1, sql, &params).fetch_all().await?;
                Ok(rows
                    .into_iter()
                    .map(|r| ThreadPost {
                        post_id: r.post_id,
                        source: r.source,
                        author: r.author,
                        event_time: from_secs(r.event_time.into()),
                        reply_to: r.reply_to,
                        compound: r.compound,
                        url: r.url,
                        text: r.text,
                        responded_at: (r.responded > 0).then(|| from_secs(r.responded.into())),
                    })
                    .collect())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_response_is_the_earliest_answer_after_the_first_customer_post() {
        // An own announcement before the customer, a reply after, a CRM response later.
        assert_eq!(first_response(100, &[50, 160, 400], Some(300)), Some(160));
        assert_eq!(first_response(100, &[50], None), None);
        // A response recorded before the thread started counts at its start.
        assert_eq!(first_response(100, &[], Some(90)), Some(100));
    }

    #[test]
    fn percentiles_by_nearest_rank_per_brand() {
        let t = |thread: &str, e: &[&str], secs: Option<i64>, negative: bool| ThreadSummary {
            thread: thread.into(),
            started: from_secs(1000),
            posts: 1,
            negative,
            entities: e.iter().map(|s| s.to_string()).collect(),
            first_response: secs.map(|s| from_secs(1000 + s)),
        };
        let threads: Vec<ThreadSummary> = (1..=10)
            .map(|i| t(&format!("t{i}"), &["acme"], Some(i * 60), false))
            .chain([
                t("n1", &["acme", "globex"], None, true),
                t("n2", &["globex"], None, false),
            ])
            .collect();
        let r = response_times(&threads);
        assert_eq!(r[0].brand, "acme");
        assert_eq!((r[0].threads, r[0].answered), (11, 10));
        assert_eq!((r[0].p50_secs, r[0].p90_secs), (Some(300), Some(540)));
        assert_eq!(r[0].unanswered_negative, 1);
        assert_eq!(
            (
                r[1].brand.as_str(),
                r[1].threads,
                r[1].answered,
                r[1].p50_secs
            ),
            ("globex", 2, 0, None)
        );
    }
}
