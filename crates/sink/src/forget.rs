//! The right to be forgotten: an author's (or a CRM account's) posts,
//! mentions, responses, case records, assignments and match feedback are deleted from the store, and the
//! author is recorded in `forgotten`, which the sink reads so that a
//! redelivered or refetched post of theirs is never stored again.
//!
//! Counts already folded into the dashboards' aggregates
//! (`mention_posts_minute`, `mentions_minute`, the embedded store's hourly
//! rollups) stay: they hold no text,
//! handle or id in readable form. Every value reaches SQL as a bound
//! parameter.

use std::collections::HashSet;

use rusqlite::params;

use crate::queryable::{Queryable, StoreError};
use crate::SinkConfig;

/// Failures of forgetting.
pub type ForgetError = StoreError;

/// Tables holding a post's data, by post id.
const POST_TABLES: &[&str] = &[
    "interactions",
    "mentions",
    "responses",
    "response_log",
    "cases",
    "assignments",
    "match_feedback",
];

/// ClickHouse's own tables holding a post's data, by post id: the author
/// profiles' aggregate (the embedded store computes profiles from
/// `interactions`).
const CLICKHOUSE_POST_TABLES: &[&str] = &["author_posts"];

/// `network:handle` as the store keeps it: lowercase, without `@`.
pub fn author_key(source: &str, handle: &str) -> String {
    format!(
        "{}:{}",
        source.trim().to_lowercase(),
        handle.trim().trim_start_matches('@').to_lowercase()
    )
}

/// Forgetting in the configured store.
#[derive(Clone)]
pub struct ForgetStore {
    inner: Queryable,
}

impl ForgetStore {
    /// Opens the configured store.
    pub async fn open(config: &SinkConfig) -> Result<ForgetStore, ForgetError> {
        let mut tables = POST_TABLES.to_vec();
        tables.extend(CLICKHOUSE_POST_TABLES);
        tables.extend(["forgotten", "crm_standings"]);
        Ok(ForgetStore {
            inner: Queryable::open(config, &tables).await?,
        })
    }

    /// The forgotten authors (`network:handle`).
    pub async fn authors(&self) -> Result<HashSet<String>, ForgetError> {
        match &self.inner {
            Queryable::Sqlite(store) => {
                let store = store.clone();
                tokio::task::spawn_blocking(move || {
                    store.with_connection(|c| {
                        let mut stmt =
                            c.prepare_cached("SELECT key FROM forgotten WHERE kind = 'author'")?;
                        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
                        rows.collect::<rusqlite::Result<HashSet<_>>>()
                    })
                })
                .await?
                .map_err(ForgetError::from)
            }
            Queryable::ClickHouse(ch) => Ok(ch
                .0
                .query("SELECT DISTINCT key FROM forgotten WHERE kind = 'author'")
                .fetch_all::<String>()
                .await?
                .into_iter()
                .collect()),
        }
    }

    /// Post ids by `author` (`network:handle`), or linked to CRM account `customer`.
    pub async fn posts(
        &self,
        authors: &[String],
        customer: Option<&str>,
    ) -> Result<Vec<String>, ForgetError> {
        let customer = customer.unwrap_or("").to_string();
        match &self.inner {
            Queryable::Sqlite(store) => {
                let store = store.clone();
                let authors = serde_json::to_string(authors).expect("strings serialize");
                tokio::task::spawn_blocking(move || {
                    store.with_connection(|c| {
                        let mut stmt = c.prepare_cached(
                            "SELECT post_id FROM interactions i
                             WHERE lower(source || ':' || author_handle) IN (SELECT value FROM json_each(?1))
                                OR (?2 != '' AND EXISTS (SELECT 1 FROM json_each(i.customers) WHERE value = ?2))
                             ORDER BY post_id",
                        )?;
                        let rows = stmt.query_map(params![authors, customer], |r| r.get(0))?;
                        rows.collect::<rusqlite::Result<Vec<String>>>()
                    })
                })
                .await
                ?
                .map_err(ForgetError::from)
            }
            Queryable::ClickHouse(ch) => Ok(ch
                .0
                .query(
                    "SELECT DISTINCT post_id FROM interactions
                     WHERE has(?, lower(concat(toString(source), ':', author_handle)))
                        OR (? != '' AND has(customers, ?))
                     ORDER BY post_id",
                )
                .bind(authors)
                .bind(customer.as_str())
                .bind(customer.as_str())
                .fetch_all::<String>()
                .await?),
        }
    }

    /// Records the authors (and the account, if any) as forgotten, then
    /// deletes `posts` from every table; returns the rows deleted from
    /// `interactions` (ClickHouse: the posts asked, as its deletes are
    /// asynchronous mutations).
    pub async fn forget(
        &self,
        authors: &[String],
        customer: Option<&str>,
        posts: &[String],
    ) -> Result<u64, ForgetError> {
        let now = chrono::Utc::now().timestamp();
        let mut marks: Vec<(&str, &str)> = authors.iter().map(|a| ("author", a.as_str())).collect();
        if let Some(c) = customer {
            marks.push(("customer", c));
        }
        match &self.inner {
            Queryable::Sqlite(store) => {
                let store = store.clone();
                let marks: Vec<(String, String)> = marks
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect();
                let posts = posts.to_vec();
                let keys = serde_json::to_string(authors).expect("strings serialize");
                tokio::task::spawn_blocking(move || {
                    store.with_connection_mut(|c| {
                        let tx = c.transaction()?;
                        for (kind, key) in &marks {
                            tx.execute(
                                "INSERT INTO forgotten (kind, key, at, posts) VALUES (?1, ?2, ?3, ?4)
                                 ON CONFLICT (kind, key) DO UPDATE SET at = excluded.at, posts = forgotten.posts + excluded.posts",
                                params![kind, key, now, posts.len() as i64],
                            )?;
                        }
                        let ids = serde_json::to_string(&posts).expect("strings serialize");
                        let mut deleted = 0;
                        for table in POST_TABLES {
                            let n = tx.execute(
                                &format!(
                                    "DELETE FROM {table} WHERE post_id IN (SELECT value FROM json_each(?1))"
                                ),
                                [&ids],
                            )?;
                            if *table == "interactions" {
                                deleted = n as u64;
                            }
                        }
                        // The CRM-facing standings name the author and their posts.
                        tx.execute(
                            "DELETE FROM crm_standings
                             WHERE lower(source) || ':' || lower(author_handle) IN (SELECT value FROM json_each(?1))
                                OR EXISTS (SELECT 1 FROM json_each(crm_standings.post_ids) p
                                           WHERE p.value IN (SELECT value FROM json_each(?2)))",
                            [&keys, &ids],
                        )?;
                        tx.commit()?;
                        Ok::<u64, ForgetError>(deleted)
                    })
                })
                .await
                ?
            }
            Queryable::ClickHouse(ch) => {
                let client = &ch.0;
                for (kind, key) in marks {
                    client
                        .query("INSERT INTO forgotten (kind, key, at, posts) SELECT ?, ?, toDateTime(?), toUInt64(?)")
                        .bind(kind)
                        .bind(key)
                        .bind(now.clamp(0, u32::MAX as i64) as u32)
                        .bind(posts.len() as u64)
                        .execute()
                        .await?;
                }
                // A distributed table cannot be altered: on a cluster the
                // rows are deleted from every shard's replicated local table
                // (each shard's ALTER replicates itself). Names are constants
                // or validated identifiers; the ids are bound.
                let target = |table: &str| match &ch.2 {
                    Some((db, cluster)) => format!(
                        "{db}.{table}{} ON CLUSTER {cluster}",
                        crate::clickhouse::schema::LOCAL_SUFFIX
                    ),
                    None => table.to_string(),
                };
                client
                    .query(&format!(
                        "ALTER TABLE {} DELETE
                         WHERE has(?, concat(lower(source), ':', lower(author_handle))) OR hasAny(post_ids, ?)",
                        target("crm_standings")
                    ))
                    .bind(authors)
                    .bind(posts)
                    .execute()
                    .await?;
                if !posts.is_empty() {
                    for table in POST_TABLES.iter().chain(CLICKHOUSE_POST_TABLES) {
                        let target = target(table);
                        client
                            .query(&format!(
                                "ALTER TABLE {target} DELETE WHERE has(?, post_id)"
                            ))
                            .bind(posts)
                            .execute()
                            .await?;
                    }
                }
                Ok(posts.len() as u64)
            }
        }
    }
}
