//! The PR team's work queue as the console shows it (filters, the reasons for
//! each priority, who a post is assigned to, analysts' feedback on matches),
//! and the console's small writes: assigning a post and marking a match as
//! wrong. Answering goes through [`crate::responses::ResponseStore`].
//!
//! Every value reaches SQL as a bound parameter.

use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension};

use crate::clickhouse::report::PostRow;
use crate::queryable::{OpenError, Queryable};
use crate::report::PostSummary;
use crate::responses::MAX_FIELD_BYTES;
use crate::SinkConfig;

/// Failures reading the queue or recording an action.
#[derive(Debug, thiserror::Error)]
pub enum WorkError {
    /// The store could not be opened.
    #[error(transparent)]
    Open(#[from] OpenError),
    /// No interaction with this post id is in the store.
    #[error("no post `{0}` in the store (post ids look like `x:1790000000000000000` or `reddit:t3_abc`)")]
    UnknownPost(String),
    /// The post did not match this brand, competitor or customer.
    #[error("post `{0}` did not match `{1}`")]
    NotMatched(String, String),
    /// A value the store cannot hold.
    #[error("{0}")]
    Invalid(String),
    /// The embedded store refused a query.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// ClickHouse refused a query or could not be reached.
    #[error("clickhouse: {0}")]
    ClickHouse(#[from] clickhouse::error::Error),
    /// A blocking store task failed.
    #[error("store task failed: {0}")]
    Task(String),
}

/// Which queued posts to list. Empty strings mean "any".
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueueFilter {
    /// Start of the window (inclusive).
    pub since: DateTime<Utc>,
    /// End of the window (exclusive).
    pub until: DateTime<Utc>,
    /// Team the post is routed to: a route name from `routes.toml` (empty for any).
    pub route: String,
    /// Brand, competitor or customer id among the post's matches.
    pub brand: String,
    /// Detected intent.
    pub intent: String,
    /// Customer tier, as the routing rules saw it (a `tier=` priority reason).
    pub tier: String,
    /// Most posts listed (capped at [`MAX_QUEUE`]).
    pub limit: u32,
}

/// Most posts one queue page lists.
pub const MAX_QUEUE: u32 = 500;

/// A queued post with what the console shows beside it.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueItem {
    /// The post (entities include customers).
    pub post: PostSummary,
    /// Why it has its priority (routing rule and boosts).
    pub reasons: Vec<String>,
    /// Who it is assigned to, if anyone.
    pub assignee: Option<String>,
    /// `(entity id, analyst)` of each match marked wrong.
    pub wrong_matches: Vec<(String, String)>,
    /// Later posts of its near-duplicate cluster (issue 16): the queue
    /// shows a cluster once, as its first post, with this count.
    pub copies: u64,
}

/// Queue reads and console actions on the configured store.
#[derive(Clone)]
pub struct WorkStore {
    inner: Queryable,
}

fn check_len(fields: &[(&str, &str)]) -> Result<(), WorkError> {
    for (name, v) in fields {
        if v.len() > MAX_FIELD_BYTES {
            return Err(WorkError::Invalid(format!(
                "{name}: {} bytes, at most {MAX_FIELD_BYTES}",
                v.len()
            )));
        }
        if v.trim().is_empty() && *name != "note" {
            return Err(WorkError::Invalid(format!("{name}: must not be empty")));
        }
    }
    Ok(())
}

fn secs_u32(t: DateTime<Utc>) -> Result<u32, WorkError> {
    u32::try_from(t.timestamp())
        .map_err(|_| WorkError::Invalid("time: before 1970 or after 2106".into()))
}

impl WorkStore {
    /// Opens the configured store (ClickHouse needs `earshot migrate` first).
    pub async fn open(config: &SinkConfig) -> Result<WorkStore, WorkError> {
        let tables = ["interactions", "responses", "assignments", "match_feedback"];
        Ok(WorkStore {
            inner: Queryable::open(config, &tables).await?,
        })
    }

    /// Routed, unanswered posts matching `f`, by priority then reach.
    pub async fn queue(&self, f: &QueueFilter) -> Result<Vec<QueueItem>, WorkError> {
        let mut f = f.clone();
        f.limit = f.limit.clamp(1, MAX_QUEUE);
        match &self.inner {
            Queryable::Sqlite(store) => {
                let store = store.clone();
                tokio::task::spawn_blocking(move || {
                    store.with_connection(|conn| sqlite::queue(conn, &f))
                })
                .await
                .map_err(|e| WorkError::Task(e.to_string()))?
                .map_err(WorkError::from)
            }
            Queryable::ClickHouse(ch) => ch_queue(&ch.0, &f).await,
        }
    }

    /// Assigns `post_id` to `assignee` (a team or agent); the latest assignment wins.
    pub async fn assign(
        &self,
        post_id: &str,
        assignee: &str,
        by: &str,
        at: DateTime<Utc>,
    ) -> Result<(), WorkError> {
        check_len(&[("post id", post_id), ("assignee", assignee), ("agent", by)])?;
        let at = secs_u32(at)?;
        match &self.inner {
            Queryable::Sqlite(store) => {
                let store = store.clone();
                let (id, who, by) = (post_id.to_string(), assignee.to_string(), by.to_string());
                tokio::task::spawn_blocking(move || {
                    store.with_connection_mut(|conn| sqlite::assign(conn, &id, &who, &by, at))
                })
                .await
                .map_err(|e| WorkError::Task(e.to_string()))?
            }
            Queryable::ClickHouse(ch) => {
                let client = &ch.0;
                let known: u64 = client
                    .query("SELECT count() FROM interactions WHERE post_id = ?")
                    .bind(post_id)
                    .fetch_one()
                    .await?;
                if known == 0 {
                    return Err(WorkError::UnknownPost(post_id.to_string()));
                }
                client
                    .query(
                        "INSERT INTO assignments (post_id, assignee, assigned_by, assigned_at)
                         SELECT ?, ?, ?, toDateTime(?)",
                    )
                    .bind(post_id)
                    .bind(assignee)
                    .bind(by)
                    .bind(at)
                    .execute()
                    .await?;
                Ok(())
            }
        }
    }

    /// Records that `entity_id` should not have matched `post_id` (analyst
    /// feedback, once per post, entity and analyst).
    pub async fn mark_wrong(
        &self,
        post_id: &str,
        entity_id: &str,
        analyst: &str,
        note: &str,
        at: DateTime<Utc>,
    ) -> Result<(), WorkError> {
        check_len(&[
            ("post id", post_id),
            ("entity", entity_id),
            ("agent", analyst),
            ("note", note),
        ])?;
        let at = secs_u32(at)?;
        match &self.inner {
            Queryable::Sqlite(store) => {
                let store = store.clone();
                let v = [post_id, entity_id, analyst, note].map(str::to_string);
                tokio::task::spawn_blocking(move || {
                    store.with_connection_mut(|conn| {
                        sqlite::mark_wrong(conn, &v[0], &v[1], &v[2], &v[3], at)
                    })
                })
                .await
                .map_err(|e| WorkError::Task(e.to_string()))?
            }
            Queryable::ClickHouse(ch) => {
                let client = &ch.0;
                let known: u64 = client
                    .query("SELECT count() FROM interactions WHERE post_id = ?")
                    .bind(post_id)
                    .fetch_one()
                    .await?;
                if known == 0 {
                    return Err(WorkError::UnknownPost(post_id.to_string()));
                }
                let matched: u64 = client
                    .query(
                        "SELECT count() FROM interactions WHERE post_id = ?
                         AND (has(brands, ?) OR has(competitors, ?) OR has(customers, ?))",
                    )
                    .bind(post_id)
                    .bind(entity_id)
                    .bind(entity_id)
                    .bind(entity_id)
                    .fetch_one()
                    .await?;
                if matched == 0 {
                    return Err(WorkError::NotMatched(
                        post_id.to_string(),
                        entity_id.to_string(),
                    ));
                }
                let already: u64 = client
                    .query(
                        "SELECT count() FROM match_feedback WHERE post_id = ? AND entity_id = ? AND analyst = ?",
                    )
                    .bind(post_id)
                    .bind(entity_id)
                    .bind(analyst)
                    .fetch_one()
                    .await?;
                if already == 0 {
                    client
                        .query(
                            "INSERT INTO match_feedback (post_id, entity_id, verdict, analyst, note, at)
                             SELECT ?, ?, 'wrong', ?, ?, toDateTime(?)",
                        )
                        .bind(post_id)
                        .bind(entity_id)
                        .bind(analyst)
                        .bind(note)
                        .bind(at)
                        .execute()
                        .await?;
                }
                Ok(())
            }
        }
    }
}

mod sqlite;

/// A queue row: the dashboards' post columns, then the priority reasons
/// (RowBinary reads the nested row's columns in order).
#[derive(clickhouse::Row, serde::Deserialize)]
struct QueueRow {
    post: PostRow,
    reasons: Vec<String>,
}

#[derive(clickhouse::Row, serde::Deserialize)]
struct AssigneeRow {
    post_id: String,
    assignee: String,
}

#[derive(clickhouse::Row, serde::Deserialize)]
struct WrongRow {
    post_id: String,
    entity_id: String,
    analyst: String,
}

#[derive(clickhouse::Row, serde::Deserialize)]
struct CopiesRow {
    cluster_id: String,
    copies: u64,
}

/// `deploy/clickhouse/queries/work_queue.sql` with the console's filters and
/// the priority reasons; deduplicated by post id (the latest scoring wins).
/// In two steps, so the text is read for the page's posts only: the posts
/// with a routed version in the window, deduplicated on the narrow columns
/// the filters and the order need, give the page's ids; then those posts'
/// every column (at 1M posts on 18.16 the one-step form read every post's
/// text and reasons of the window).
const CH_QUEUE: &str = "SELECT post_id, x_source AS source, x_author_handle AS author_handle,
    x_author_reach AS author_reach, x_priority AS priority, x_route AS route,
    x_sentiment_compound AS sentiment_compound, x_intents AS intents, x_entities AS entities,
    x_url AS url, x_text AS text, x_event_time AS event_time, x_reasons AS reasons
FROM (
    SELECT
        post_id,
        toString(argMax(source, version)) AS x_source,
        argMax(author_handle, version) AS x_author_handle,
        argMax(author_reach, version) AS x_author_reach,
        argMax(priority, version) AS x_priority,
        toString(argMax(route, version)) AS x_route,
        argMax(sentiment_compound, version) AS x_sentiment_compound,
        arrayMap(x -> toString(x), argMax(intents, version)) AS x_intents,
        argMax(arrayConcat(brands, competitors, customers), version) AS x_entities,
        argMax(url, version) AS x_url,
        substringUTF8(argMax(text, version), 1, 280) AS x_text,
        toUInt32(argMax(event_time, version)) AS x_event_time,
        argMax(priority_reasons, version) AS x_reasons
    FROM interactions
    WHERE event_time >= toDateTime(?) AND event_time < toDateTime(?)
      AND post_id IN (
        SELECT post_id FROM (
            SELECT
                post_id,
                argMax(author_reach, version) AS q_reach,
                argMax(priority, version) AS q_priority,
                toString(argMax(route, version)) AS q_route,
                arrayMap(x -> toString(x), argMax(intents, version)) AS q_intents,
                argMax(arrayConcat(brands, competitors, customers), version) AS q_entities,
                toUInt32(argMax(event_time, version)) AS q_time,
                argMax(priority_reasons, version) AS q_reasons,
                argMax(cluster_id, version) AS q_cluster
            FROM interactions
            WHERE event_time >= toDateTime(?) AND event_time < toDateTime(?)
              AND post_id IN (SELECT post_id FROM interactions
                              WHERE event_time >= toDateTime(?) AND event_time < toDateTime(?)
                                AND route != 'none')
            GROUP BY post_id)
        WHERE q_route != 'none' AND q_cluster = ''
          AND (? = '' OR has(q_entities, ?))
          AND (? = '' OR q_route = ?)
          AND (? = '' OR has(q_intents, ?))
          AND (? = '' OR arrayExists(r -> position(r, ?) > 0, q_reasons))
          AND post_id NOT IN (SELECT post_id FROM responses)
        ORDER BY q_priority DESC, q_reach DESC, q_time DESC, post_id
        LIMIT ?)
    GROUP BY post_id
)
ORDER BY x_priority DESC, x_author_reach DESC, x_event_time DESC, post_id";

async fn ch_queue(
    client: &clickhouse::Client,
    f: &QueueFilter,
) -> Result<Vec<QueueItem>, WorkError> {
    let tier = format!("tier={}", f.tier);
    let rows: Vec<QueueRow> = client
        .query(CH_QUEUE)
        .bind(secs_u32(f.since)?)
        .bind(secs_u32(f.until)?)
        .bind(secs_u32(f.since)?)
        .bind(secs_u32(f.until)?)
        .bind(secs_u32(f.since)?)
        .bind(secs_u32(f.until)?)
        .bind(f.brand.as_str())
        .bind(f.brand.as_str())
        .bind(f.route.as_str())
        .bind(f.route.as_str())
        .bind(f.intent.as_str())
        .bind(f.intent.as_str())
        .bind(f.tier.as_str())
        .bind(tier.as_str())
        .bind(f.limit)
        .fetch_all()
        .await?;
    if rows.is_empty() {
        // `has([], …)` has no element type on old servers.
        return Ok(Vec::new());
    }
    let ids: Vec<&str> = rows.iter().map(|r| r.post.post_id.as_str()).collect();
    let assignees: Vec<AssigneeRow> = client
        .query(
            "SELECT post_id, argMax(assignee, assigned_at) AS assignee FROM assignments
             WHERE has(?, post_id) GROUP BY post_id",
        )
        .bind(&ids)
        .fetch_all()
        .await?;
    let wrong: Vec<WrongRow> = client
        .query(
            "SELECT post_id, entity_id, analyst FROM match_feedback WHERE has(?, post_id)
             GROUP BY post_id, entity_id, analyst ORDER BY entity_id, analyst",
        )
        .bind(&ids)
        .fetch_all()
        .await?;
    let copies: Vec<CopiesRow> = client
        .query(
            "SELECT cluster_id, toUInt64(uniqExact(post_id)) AS copies FROM interactions
             WHERE has(?, cluster_id) GROUP BY cluster_id",
        )
        .bind(&ids)
        .fetch_all()
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| QueueItem {
            assignee: assignees
                .iter()
                .find(|a| a.post_id == r.post.post_id)
                .map(|a| a.assignee.clone()),
            wrong_matches: wrong
                .iter()
                .filter(|w| w.post_id == r.post.post_id)
                .map(|w| (w.entity_id.clone(), w.analyst.clone()))
                .collect(),
            copies: copies
                .iter()
                .find(|c| c.cluster_id == r.post.post_id)
                .map_or(0, |c| c.copies),
            reasons: r.reasons,
            post: r.post.into(),
        })
        .collect())
}
