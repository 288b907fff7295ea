//! The people behind the posts, answered by either store: each author's
//! profile over a window (posts, first and last seen, reach, sentiment mix,
//! brands, intents, linked CRM accounts) and a brand's **advocates** and
//! **detractors** (authors with repeated positive or negative posts about
//! it above a reach threshold). Counts are distinct posts, so redelivered
//! or re-scored rows never count twice.
//!
//! Every value reaches SQL as a bound parameter.

use chrono::{DateTime, Utc};

use crate::queryable::{Queryable, StoreError};
use crate::report::from_secs;
use crate::SinkConfig;

/// Failures of the author queries.
pub type AuthorsError = StoreError;

/// One author over a window.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthorProfile {
    /// Network (source kind).
    pub source: String,
    /// Handle on it.
    pub handle: String,
    /// Distinct posts.
    pub posts: u64,
    /// First post in the window.
    pub first_seen: DateTime<Utc>,
    /// Last post in the window.
    pub last_seen: DateTime<Utc>,
    /// Reach at the last post.
    pub reach_latest: u64,
    /// Highest reach seen.
    pub reach_max: u64,
    /// Posts positive, neutral and negative overall.
    pub positive: u64,
    /// See `positive`.
    pub neutral: u64,
    /// See `positive`.
    pub negative: u64,
    /// Brand and competitor ids with their post counts, most first.
    pub brands: Vec<(String, u64)>,
    /// Intents with their post counts, most first.
    pub intents: Vec<(String, u64)>,
    /// CRM customer ids the posts were linked to (by handle or mention).
    pub customers: Vec<String>,
}

/// An advocate or detractor of a brand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Standing {
    /// Brand or competitor id.
    pub brand: String,
    /// Network.
    pub source: String,
    /// Handle.
    pub handle: String,
    /// Distinct posts about the brand with the asked sentiment.
    pub posts: u64,
    /// Highest reach seen.
    pub reach: u64,
    /// Their most recent such post's id.
    pub latest_post: String,
    /// Their ten most recent such posts' ids, newest first.
    pub post_ids: Vec<String>,
}

/// Which side of a brand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Repeated positive posts about it.
    Advocates,
    /// Repeated negative posts about it.
    Detractors,
}

impl Side {
    fn label(self) -> &'static str {
        match self {
            Side::Advocates => "positive",
            Side::Detractors => "negative",
        }
    }
}

/// What [`AuthorStore::standings`] looks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StandingQuery {
    /// Advocates or detractors.
    pub side: Side,
    /// Window start (inclusive).
    pub since: DateTime<Utc>,
    /// Window end (exclusive).
    pub until: DateTime<Utc>,
    /// Only this brand ('' for every brand and competitor).
    pub brand: String,
    /// At least this many posts (default 2: "repeated").
    pub min_posts: u64,
    /// At least this reach.
    pub min_reach: u64,
    /// At most this many, most posts then most reach first.
    pub limit: u32,
}

/// Author queries on the configured store.
#[derive(Clone)]
pub struct AuthorStore {
    pub(crate) inner: Queryable,
}

const SQLITE_STANDINGS: &str = "
SELECT m.entity_id, i.source, i.author_handle, COUNT(DISTINCT m.post_id) AS posts,
       MAX(i.author_reach) AS reach, MAX(i.event_time || ' ' || i.post_id) AS latest,
       (SELECT json_group_array(pid) FROM (
            SELECT m2.post_id AS pid FROM mentions m2 JOIN interactions i2 ON i2.post_id = m2.post_id
            WHERE m2.entity_id = m.entity_id AND i2.source = i.source AND i2.author_handle = i.author_handle
              AND m2.event_time >= ?1 AND m2.event_time < ?2 AND m2.sentiment_label = ?3
            ORDER BY m2.event_time DESC, m2.post_id DESC LIMIT 10)) AS post_ids
FROM mentions m JOIN interactions i ON i.post_id = m.post_id
WHERE m.event_time >= ?1 AND m.event_time < ?2 AND m.entity_kind IN ('brand', 'competitor')
  AND m.sentiment_label = ?3 AND (?4 = '' OR m.entity_id = ?4) AND i.author_handle != ''
GROUP BY m.entity_id, i.source, i.author_handle
HAVING posts >= ?5 AND reach >= ?6
ORDER BY posts DESC, reach DESC, m.entity_id, i.author_handle
LIMIT ?7";

#[derive(clickhouse::Row, serde::Deserialize)]
struct StandingRow {
    entity_id: String,
    source: String,
    author_handle: String,
    posts: u64,
    reach: u64,
    latest: String,
    post_ids: Vec<String>,
}

const SQLITE_PROFILES: &str = "
SELECT source, author_handle, COUNT(*) AS posts, MIN(event_time), MAX(event_time),
       (SELECT author_reach FROM interactions l WHERE l.source = i.source AND l.author_handle = i.author_handle
          AND l.event_time >= ?1 AND l.event_time < ?2
          AND (?5 = '' OR EXISTS (SELECT 1 FROM json_each(l.brands) WHERE value = ?5)
                       OR EXISTS (SELECT 1 FROM json_each(l.competitors) WHERE value = ?5))
          ORDER BY l.event_time DESC, l.post_id DESC LIMIT 1),
       MAX(author_reach),
       SUM(sentiment_label = 'positive'), SUM(sentiment_label = 'neutral'), SUM(sentiment_label = 'negative'),
       json_group_array(json(brands)), json_group_array(json(competitors)),
       json_group_array(json(intents)), json_group_array(json(customers))
FROM interactions i
WHERE event_time >= ?1 AND event_time < ?2 AND author_handle != ''
  AND (?3 = '' OR source = ?3) AND (?4 = '' OR author_handle = ?4)
  AND (?5 = '' OR EXISTS (SELECT 1 FROM json_each(i.brands) WHERE value = ?5)
               OR EXISTS (SELECT 1 FROM json_each(i.competitors) WHERE value = ?5))
GROUP BY source, author_handle
ORDER BY posts DESC, MAX(author_reach) DESC, source, author_handle
LIMIT ?6";

#[derive(clickhouse::Row, serde::Deserialize)]
struct ProfileRow {
    source: String,
    author_handle: String,
    posts: u64,
    first_seen: u32,
    last_seen: u32,
    reach_latest: u64,
    reach_max: u64,
    positive: u64,
    neutral: u64,
    negative: u64,
    entities: Vec<Vec<String>>,
    intents: Vec<Vec<String>>,
    customers: Vec<Vec<String>>,
}

/// Tallies of the values in `lists` (one list per post), most first.
fn tally(lists: impl IntoIterator<Item = Vec<String>>) -> Vec<(String, u64)> {
    let mut counts: std::collections::BTreeMap<String, u64> = Default::default();
    for list in lists {
        let mut seen: Vec<String> = list;
        seen.sort_unstable();
        seen.dedup();
        for v in seen {
            *counts.entry(v).or_default() += 1;
        }
    }
    let mut out: Vec<(String, u64)> = counts.into_iter().collect();
    out.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    out
}

/// `[[..],[..]]` (SQLite's json_group_array of JSON arrays) as lists.
fn lists(json: &str) -> Vec<Vec<String>> {
    serde_json::from_str(json).unwrap_or_default()
}

impl AuthorStore {
    /// Opens the configured store.
    pub async fn open(config: &SinkConfig) -> Result<AuthorStore, AuthorsError> {
        Ok(AuthorStore {
            inner: Queryable::open(
                config,
                &["interactions", "mentions", "author_posts", "crm_standings"],
            )
            .await?,
        })
    }

    /// A brand's advocates or detractors over the window.
    pub async fn standings(&self, q: &StandingQuery) -> Result<Vec<Standing>, AuthorsError> {
        let (since, until) = (q.since.timestamp(), q.until.timestamp());
        match &self.inner {
            Queryable::Sqlite(store) => {
                let (store, q) = (store.clone(), q.clone());
                tokio::task::spawn_blocking(move || {
                    store.with_connection(|c| {
                        let mut stmt = c.prepare_cached(SQLITE_STANDINGS)?;
                        let rows = stmt.query_map(
                            rusqlite::params![
                                since,
                                until,
                                q.side.label(),
                                q.brand,
                                q.min_posts as i64,
                                q.min_reach.min(i64::MAX as u64) as i64,
                                q.limit
                            ],
                            |r| {
                                let latest: String = r.get(5)?;
                                Ok(Standing {
                                    brand: r.get(0)?,
                                    source: r.get(1)?,
                                    handle: r.get(2)?,
                                    posts: r.get::<_, i64>(3)?.max(0) as u64,
                                    reach: r.get::<_, i64>(4)?.max(0) as u64,
                                    latest_post: latest
                                        .split_once(' ')
                                        .map_or(latest.clone(), |(_, id)| id.to_string()),
                                    post_ids: serde_json::from_str(&r.get::<_, String>(6)?)
                                        .unwrap_or_default(),
                                })
                            },
                        )?;
                        rows.collect::<rusqlite::Result<Vec<_>>>()
                    })
                })
                .await?
                .map_err(AuthorsError::from)
            }
            Queryable::ClickHouse(ch) => {
                // The dashboards' query file, so Grafana and this agree.
                use crate::clickhouse::report::{dashboard_query, prepare, Param};
                let sql = dashboard_query("author_standings").expect("compiled in");
                let params = [
                    ("since", Param::U32(clamp(since))),
                    ("until", Param::U32(clamp(until))),
                    ("brand", Param::Str(q.brand.clone())),
                    ("label", Param::Str(q.side.label().to_string())),
                    (
                        "min_posts",
                        Param::U32(q.min_posts.min(u32::MAX as u64) as u32),
                    ),
                    ("min_reach", Param::U64(q.min_reach)),
                ];
                let mut rows: Vec<StandingRow> =
                    prepare(&ch.0, &ch.1, sql, &params).fetch_all().await?;
                rows.truncate(q.limit as usize);
                Ok(rows
                    .into_iter()
                    .map(|r| Standing {
                        brand: r.entity_id,
                        source: r.source,
                        handle: r.author_handle,
                        posts: r.posts,
                        reach: r.reach,
                        latest_post: r.latest,
                        post_ids: r.post_ids,
                    })
                    .collect())
            }
        }
    }

    /// Authors over the window, most posts first: all of them, or only
    /// `source:handle`, or only those posting about `brand` ('' for any).
    pub async fn profiles(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        author: Option<(&str, &str)>,
        brand: &str,
        limit: u32,
    ) -> Result<Vec<AuthorProfile>, AuthorsError> {
        let (since, until) = (since.timestamp(), until.timestamp());
        let (source, handle) = author.unwrap_or(("", ""));
        let (source, handle, brand) = (source.to_string(), handle.to_string(), brand.to_string());
        match &self.inner {
            Queryable::Sqlite(store) => {
                let store = store.clone();
                tokio::task::spawn_blocking(move || {
                    store.with_connection(|c| {
                        let mut stmt = c.prepare_cached(SQLITE_PROFILES)?;
                        let rows = stmt.query_map(
                            rusqlite::params![since, until, source, handle, brand, limit],
                            |r| {
                                let n = |i: usize| -> rusqlite::Result<u64> {
                                    Ok(r.get::<_, Option<i64>>(i)?.unwrap_or(0).max(0) as u64)
                                };
                                let mut entities = lists(&r.get::<_, String>(10)?);
                                for (i, c) in
                                    lists(&r.get::<_, String>(11)?).into_iter().enumerate()
                                {
                                    if let Some(e) = entities.get_mut(i) {
                                        e.extend(c);
                                    }
                                }
                                Ok(AuthorProfile {
                                    source: r.get(0)?,
                                    handle: r.get(1)?,
                                    posts: n(2)?,
                                    first_seen: from_secs(r.get(3)?),
                                    last_seen: from_secs(r.get(4)?),
                                    reach_latest: n(5)?,
                                    reach_max: n(6)?,
                                    positive: n(7)?,
                                    neutral: n(8)?,
                                    negative: n(9)?,
                                    brands: tally(entities),
                                    intents: tally(lists(&r.get::<_, String>(12)?)),
                                    customers: tally(lists(&r.get::<_, String>(13)?))
                                        .into_iter()
                                        .map(|(c, _)| c)
                                        .collect(),
                                })
                            },
                        )?;
                        rows.collect::<rusqlite::Result<Vec<_>>>()
                    })
                })
                .await?
                .map_err(AuthorsError::from)
            }
            Queryable::ClickHouse(ch) => {
                use crate::clickhouse::report::{dashboard_query, prepare, Param};
                let mut sql = dashboard_query("author_profiles")
                    .expect("compiled in")
                    .to_string();
                if !source.is_empty() && !handle.is_empty() {
                    sql = one_author(&sql);
                }
                let params = [
                    ("since", Param::U32(clamp(since))),
                    ("until", Param::U32(clamp(until))),
                    ("source", Param::Str(source)),
                    ("handle", Param::Str(handle)),
                    ("brand", Param::Str(brand)),
                ];
                let mut rows: Vec<ProfileRow> =
                    prepare(&ch.0, &ch.1, &sql, &params).fetch_all().await?;
                rows.truncate(limit as usize);
                Ok(rows
                    .into_iter()
                    .map(|r| AuthorProfile {
                        source: r.source,
                        handle: r.author_handle,
                        posts: r.posts,
                        first_seen: from_secs(r.first_seen.into()),
                        last_seen: from_secs(r.last_seen.into()),
                        reach_latest: r.reach_latest,
                        reach_max: r.reach_max,
                        positive: r.positive,
                        neutral: r.neutral,
                        negative: r.negative,
                        brands: tally(r.entities),
                        intents: tally(r.intents),
                        customers: tally(r.customers).into_iter().map(|(c, _)| c).collect(),
                    })
                    .collect())
            }
        }
    }
}

/// `author_profiles.sql` for one author: the sorting key's own conditions,
/// which ClickHouse 18.16's index analysis uses (it does not fold
/// `'x' = '' OR source = 'x'`, and read every author of the window: 2.3 s
/// instead of 0.2 s at 1M posts).
fn one_author(sql: &str) -> String {
    let narrowed = sql
        .replace(
            "({source:String} = '' OR source = {source:String})",
            "source = {source:String}",
        )
        .replace(
            "({handle:String} = '' OR author_handle = {handle:String})",
            "author_handle = {handle:String}",
        );
    debug_assert!(
        !narrowed.contains("{source:String} = ''") && !narrowed.contains("{handle:String} = ''"),
        "author_profiles.sql changed its author conditions"
    );
    narrowed
}

fn clamp(s: i64) -> u32 {
    s.clamp(0, u32::MAX as i64) as u32
}
