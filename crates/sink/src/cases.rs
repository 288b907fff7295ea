//! The CRM case maker's durable record: which posts were sent to the CRM as
//! cases, at which priority, and which failed every attempt (the dead
//! letters, with their reason). A post is sent again only when it is
//! re-scored above the priority it was sent with.
//!
//! Every value reaches SQL as a bound parameter.

use rusqlite::{params, OptionalExtension};

use crate::queryable::{Queryable, StoreError};
use crate::SinkConfig;

/// Failures of the case record.
pub type CaseStoreError = StoreError;

/// How a case ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaseStatus {
    /// The CRM accepted it.
    Sent,
    /// Every attempt failed, or the CRM refused it: a dead letter.
    Failed,
}

impl CaseStatus {
    fn as_str(self) -> &'static str {
        match self {
            CaseStatus::Sent => "sent",
            CaseStatus::Failed => "failed",
        }
    }

    fn parse(s: &str) -> CaseStatus {
        if s == "sent" {
            CaseStatus::Sent
        } else {
            CaseStatus::Failed
        }
    }
}

/// One post's case record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseRecord {
    /// The post.
    pub post_id: String,
    /// The priority it was sent with.
    pub priority: u8,
    /// Its route.
    pub route: String,
    /// Sent or failed.
    pub status: CaseStatus,
    /// Requests made.
    pub attempts: u32,
    /// The last failure ('' when sent at once).
    pub last_error: String,
}

/// The case record in the configured store.
#[derive(Clone)]
pub struct CaseStore {
    inner: Queryable,
}

#[derive(clickhouse::Row, serde::Deserialize)]
struct Row {
    post_id: String,
    priority: u8,
    route: String,
    status: String,
    attempts: u32,
    last_error: String,
}

impl CaseStore {
    /// Opens the configured store (ClickHouse needs `earshot migrate` first).
    pub async fn open(config: &SinkConfig) -> Result<CaseStore, CaseStoreError> {
        Ok(CaseStore {
            inner: Queryable::open(config, &["cases"]).await?,
        })
    }

    /// The post's record, if a case was made for it.
    pub async fn get(&self, post_id: &str) -> Result<Option<CaseRecord>, CaseStoreError> {
        match &self.inner {
            Queryable::Sqlite(store) => {
                let (store, id) = (store.clone(), post_id.to_string());
                tokio::task::spawn_blocking(move || {
                    store.with_connection(|c| {
                        c.query_row(
                            "SELECT post_id, priority, route, status, attempts, last_error FROM cases WHERE post_id = ?1",
                            [&id],
                            |r| {
                                Ok(CaseRecord {
                                    post_id: r.get(0)?,
                                    priority: r.get(1)?,
                                    route: r.get(2)?,
                                    status: CaseStatus::parse(&r.get::<_, String>(3)?),
                                    attempts: r.get(4)?,
                                    last_error: r.get(5)?,
                                })
                            },
                        )
                        .optional()
                    })
                })
                .await
                ?
                .map_err(CaseStoreError::from)
            }
            Queryable::ClickHouse(ch) => {
                let rows: Vec<Row> = ch
                    .0
                    .query(
                        "SELECT post_id, argMax(priority, version) AS priority, argMax(route, version) AS route,
                                argMax(status, version) AS status, argMax(attempts, version) AS attempts,
                                argMax(last_error, version) AS last_error
                         FROM cases WHERE post_id = ? GROUP BY post_id",
                    )
                    .bind(post_id)
                    .fetch_all()
                    .await?;
                Ok(rows.into_iter().next().map(|r| CaseRecord {
                    post_id: r.post_id,
                    priority: r.priority,
                    route: r.route,
                    status: CaseStatus::parse(&r.status),
                    attempts: r.attempts,
                    last_error: r.last_error,
                }))
            }
        }
    }

    /// Records how the post's case ended (replacing an earlier record).
    pub async fn record(&self, r: &CaseRecord) -> Result<(), CaseStoreError> {
        let now = chrono::Utc::now();
        match &self.inner {
            Queryable::Sqlite(store) => {
                let (store, r) = (store.clone(), r.clone());
                tokio::task::spawn_blocking(move || {
                    store.with_connection(|c| {
                        c.execute(
                            "INSERT INTO cases (post_id, priority, route, status, attempts, last_error, updated_at)
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                             ON CONFLICT (post_id) DO UPDATE SET priority = excluded.priority, route = excluded.route,
                                status = excluded.status, attempts = excluded.attempts,
                                last_error = excluded.last_error, updated_at = excluded.updated_at",
                            params![
                                r.post_id,
                                r.priority,
                                r.route,
                                r.status.as_str(),
                                r.attempts,
                                r.last_error,
                                now.timestamp()
                            ],
                        )
                    })
                })
                .await
                ??;
                Ok(())
            }
            Queryable::ClickHouse(ch) => {
                // Later records replace earlier ones: the version is the time in nanoseconds.
                let version = now.timestamp_nanos_opt().unwrap_or(0).max(0) as u64;
                ch.0.query(
                    "INSERT INTO cases (post_id, priority, route, status, attempts, last_error, updated_at, version)
                     SELECT ?, toUInt8(?), ?, ?, toUInt32(?), ?, toDateTime(?), toUInt64(?)",
                )
                .bind(r.post_id.as_str())
                .bind(r.priority)
                .bind(r.route.as_str())
                .bind(r.status.as_str())
                .bind(r.attempts)
                .bind(r.last_error.as_str())
                .bind(now.timestamp().clamp(0, u32::MAX as i64) as u32)
                .bind(version)
                .execute()
                .await?;
                Ok(())
            }
        }
    }
}
