//! Marking posts answered (`earshot respond`, the console, the CRM): the
//! first response to a post is its answer (it leaves the work queue and the
//! negative list, and its time is the time to first response); every
//! respond action, with its agent and note, is kept in `response_log`.
//! Recording the same action twice changes nothing.
//!
//! Every value reaches SQL as a bound parameter.

use chrono::{DateTime, TimeZone, Utc};
use rusqlite::{params, OptionalExtension};

use crate::queryable::{OpenError, Queryable, StoreError};
use crate::SinkConfig;

/// Failures recording or reading responses.
#[derive(Debug, thiserror::Error)]
pub enum ResponseError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// No interaction with this post id is in the store.
    #[error("no post `{0}` in the store (post ids look like `x:1790000000000000000` or `reddit:t3_abc`)")]
    UnknownPost(String),
    /// A value the store cannot hold.
    #[error("{0}")]
    Invalid(String),
}

macro_rules! via_store {
    ($($t:ty),+) => {$(
        impl From<$t> for ResponseError {
            fn from(e: $t) -> ResponseError {
                ResponseError::Store(e.into())
            }
        }
    )+};
}
via_store!(rusqlite::Error, clickhouse::error::Error, OpenError);

/// Longest agent name, channel or note accepted (bytes).
pub const MAX_FIELD_BYTES: usize = 4096;

/// One respond action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The post answered.
    pub post_id: String,
    /// When (whole seconds).
    pub responded_at: DateTime<Utc>,
    /// Who answered: an agent or team.
    pub responder: String,
    /// Where the answer was given or recorded from (`cli`, `console`, `crm`, `x`...).
    pub channel: String,
    /// Free text.
    pub note: String,
}

/// What [`ResponseStore::record`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// This is the post's first response.
    First,
    /// The post was already answered (by this first response); the action
    /// is kept in the log.
    AlreadyAnswered(Response),
}

/// Responses in the configured store.
#[derive(Clone)]
pub struct ResponseStore {
    inner: Queryable,
}

impl ResponseStore {
    /// Opens the configured store (ClickHouse needs `earshot migrate` first).
    pub async fn open(config: &SinkConfig) -> Result<ResponseStore, ResponseError> {
        let tables = ["interactions", "responses", "response_log"];
        Ok(ResponseStore {
            inner: Queryable::open(config, &tables).await?,
        })
    }

    /// Records `r`: the post's answer when it has none yet; in the log always
    /// (once per identical action).
    pub async fn record(&self, r: &Response) -> Result<Recorded, ResponseError> {
        for (name, v) in [
            ("post id", &r.post_id),
            ("agent", &r.responder),
            ("channel", &r.channel),
            ("note", &r.note),
        ] {
            if v.len() > MAX_FIELD_BYTES {
                return Err(ResponseError::Invalid(format!(
                    "{name}: {} bytes, at most {MAX_FIELD_BYTES}",
                    v.len()
                )));
            }
        }
        match &self.inner {
            Queryable::Sqlite(store) => {
                let (store, r) = (store.clone(), r.clone());
                tokio::task::spawn_blocking(move || {
                    store.with_connection_mut(|conn| sqlite_record(conn, &r))
                })
                .await
                .map_err(StoreError::from)?
            }
            Queryable::ClickHouse(ch) => clickhouse_record(&ch.0, r).await,
        }
    }

    /// The post's answer (its first response), if it has one.
    pub async fn answer(&self, post_id: &str) -> Result<Option<Response>, ResponseError> {
        match &self.inner {
            Queryable::Sqlite(store) => {
                let (store, id) = (store.clone(), post_id.to_string());
                tokio::task::spawn_blocking(move || {
                    store.with_connection(|conn| sqlite_answer(conn, &id))
                })
                .await
                .map_err(StoreError::from)?
                .map_err(ResponseError::from)
            }
            Queryable::ClickHouse(ch) => clickhouse_answer(&ch.0, post_id).await,
        }
    }
}

fn secs(t: DateTime<Utc>) -> i64 {
    t.timestamp()
}

fn from_secs(s: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(s, 0).single().unwrap_or_default()
}

fn sqlite_answer(conn: &rusqlite::Connection, id: &str) -> rusqlite::Result<Option<Response>> {
    conn.query_row(
        "SELECT post_id, responded_at, responder, channel FROM responses WHERE post_id = ?1",
        [id],
        |row| {
            Ok(Response {
                post_id: row.get(0)?,
                responded_at: from_secs(row.get(1)?),
                responder: row.get(2)?,
                channel: row.get(3)?,
                note: String::new(),
            })
        },
    )
    .optional()
}

fn sqlite_record(conn: &mut rusqlite::Connection, r: &Response) -> Result<Recorded, ResponseError> {
    let tx = conn.transaction()?;
    let known: Option<i64> = tx
        .query_row(
            "SELECT 1 FROM interactions WHERE post_id = ?1",
            [&r.post_id],
            |row| row.get(0),
        )
        .optional()?;
    if known.is_none() {
        return Err(ResponseError::UnknownPost(r.post_id.clone()));
    }
    tx.execute(
        "INSERT INTO response_log (post_id, responded_at, responder, channel, note)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (post_id, responder, channel, note) DO NOTHING",
        params![
            r.post_id,
            secs(r.responded_at),
            r.responder,
            r.channel,
            r.note
        ],
    )?;
    let first = tx.execute(
        "INSERT INTO responses (post_id, responded_at, responder, channel) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (post_id) DO NOTHING",
        params![r.post_id, secs(r.responded_at), r.responder, r.channel],
    )? == 1;
    let outcome = if first {
        Recorded::First
    } else {
        Recorded::AlreadyAnswered(
            sqlite_answer(&tx, &r.post_id)?.expect("answered in this transaction"),
        )
    };
    tx.commit()?;
    Ok(outcome)
}

#[derive(clickhouse::Row, serde::Deserialize)]
struct AnswerRow {
    post_id: String,
    first_at: u32,
    responder: String,
    channel: String,
}

async fn clickhouse_answer(
    client: &clickhouse::Client,
    id: &str,
) -> Result<Option<Response>, ResponseError> {
    // The first response is the answer, whatever the merges have done yet.
    // (An alias named `responded_at` would shadow the column inside argMin:
    // ClickHouse 18.16 then refuses an aggregate inside an aggregate.)
    let rows: Vec<AnswerRow> = client
        .query(
            "SELECT post_id, toUInt32(min(responded_at)) AS first_at,
                    argMin(responder, responded_at) AS responder, argMin(channel, responded_at) AS channel
             FROM responses WHERE post_id = ? GROUP BY post_id",
        )
        .bind(id)
        .fetch_all()
        .await?;
    Ok(rows.into_iter().next().map(|a| Response {
        post_id: a.post_id,
        responded_at: from_secs(a.first_at.into()),
        responder: a.responder,
        channel: a.channel,
        note: String::new(),
    }))
}

/// ClickHouse has no unique keys: the post is checked, then inserted.
async fn clickhouse_record(
    client: &clickhouse::Client,
    r: &Response,
) -> Result<Recorded, ResponseError> {
    let known: u64 = client
        .query("SELECT count() FROM interactions WHERE post_id = ?")
        .bind(r.post_id.as_str())
        .fetch_one()
        .await?;
    if known == 0 {
        return Err(ResponseError::UnknownPost(r.post_id.clone()));
    }
    let at = u32::try_from(secs(r.responded_at))
        .map_err(|_| ResponseError::Invalid("responded_at: before 1970 or after 2106".into()))?;
    let logged: u64 = client
        .query("SELECT count() FROM response_log WHERE post_id = ? AND responder = ? AND channel = ? AND note = ?")
        .bind(r.post_id.as_str())
        .bind(r.responder.as_str())
        .bind(r.channel.as_str())
        .bind(r.note.as_str())
        .fetch_one()
        .await?;
    if logged == 0 {
        client
            .query(
                "INSERT INTO response_log (post_id, responded_at, responder, channel, note)
                 SELECT ?, toDateTime(?), ?, ?, ?",
            )
            .bind(r.post_id.as_str())
            .bind(at)
            .bind(r.responder.as_str())
            .bind(r.channel.as_str())
            .bind(r.note.as_str())
            .execute()
            .await?;
    }
    if let Some(existing) = clickhouse_answer(client, &r.post_id).await? {
        return Ok(Recorded::AlreadyAnswered(existing));
    }
    client
        .query(
            "INSERT INTO responses (post_id, responded_at, responder, channel)
             SELECT ?, toDateTime(?), ?, ?",
        )
        .bind(r.post_id.as_str())
        .bind(at)
        .bind(r.responder.as_str())
        .bind(r.channel.as_str())
        .execute()
        .await?;
    Ok(Recorded::First)
}
