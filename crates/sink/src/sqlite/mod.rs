//! The embedded store: SQLite with the same logical tables as ClickHouse, for
//! the one-process default. Idempotent upsert by post id (the later scoring wins).

mod alerts;
pub(crate) mod report;
mod rollup;
mod schema;
mod write;

use crate::StoreError;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension};

use crate::{Batch, MigrationReport, Sink, SinkError, WriteReport};

/// A handle on the embedded database (cheap to clone; one connection behind a lock).
#[derive(Clone)]
pub struct SqliteStore {
    pub(crate) conn: Arc<Mutex<Connection>>,
    path: PathBuf,
}

impl SqliteStore {
    /// Opens (creating the file and its directory) without migrating.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let file = |path: &Path, message: String| StoreError::File {
            path: path.to_path_buf(),
            message,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| file(dir, format!("creating the directory: {e}")))?;
        }
        let conn = Connection::open(path).map_err(|e| file(path, format!("opening: {e}")))?;
        // WAL lets `earshot report` read while the sink writes; synchronous = FULL makes
        // a committed batch survive power loss, since its offsets are committed right after.
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000;",
        )?;
        // The write path alone caches a dozen statements (sqlite/write.rs);
        // the default 16 would let the console's and reports' evict them.
        conn.set_prepared_statement_cache_capacity(64);
        Ok(SqliteStore {
            conn: Arc::new(Mutex::new(conn)),
            path: path.to_path_buf(),
        })
    }

    /// Creates or upgrades the tables.
    pub fn migrate(&self) -> Result<MigrationReport, rusqlite::Error> {
        let mut conn = self.conn.lock().expect("sqlite lock");
        let tx = conn.transaction()?;
        tx.execute_batch(schema::MIGRATIONS_TABLE)?;
        let mut report = MigrationReport {
            store: format!("sqlite {} ({})", rusqlite::version(), self.path.display()),
            features: Vec::new(),
            applied: Vec::new(),
            already_applied: 0,
            notes: Vec::new(),
        };
        for (version, name, sql) in schema::MIGRATIONS {
            let done: Option<u32> = tx
                .query_row(
                    "SELECT version FROM schema_migrations WHERE version = ?1",
                    [version],
                    |r| r.get(0),
                )
                .optional()?;
            if done.is_some() {
                report.already_applied += 1;
                continue;
            }
            tx.execute_batch(sql)?;
            tx.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
                params![version, name, chrono::Utc::now().timestamp()],
            )?;
            report.applied.push(format!("{version:03}_{name}"));
        }
        tx.commit()?;
        Ok(report)
    }

    /// Upserts a batch in one transaction (committed durably before returning).
    pub fn upsert(&self, batch: &Batch) -> Result<WriteReport, SinkError> {
        let mut conn = self.conn.lock().expect("sqlite lock");
        let tx = conn.transaction().map_err(classify)?;
        let mut hourly = rollup::Rollup::default();
        write::write_items(&tx, &batch.items, &mut hourly).map_err(classify)?;
        hourly.apply(&tx).map_err(classify)?;
        tx.commit().map_err(classify)?;
        Ok(WriteReport {
            stored: batch.len(),
            ..WriteReport::default()
        })
    }

    /// Records that a post was answered (it leaves the work queue and the negative list).
    pub fn record_response(
        &self,
        post_id: &str,
        responder: &str,
        channel: &str,
    ) -> Result<(), rusqlite::Error> {
        let conn = self.conn.lock().expect("sqlite lock");
        conn.execute(
            "INSERT INTO responses (post_id, responded_at, responder, channel) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(post_id) DO UPDATE SET responded_at = excluded.responded_at, responder = excluded.responder, channel = excluded.channel",
            params![post_id, chrono::Utc::now().timestamp(), responder, channel],
        )?;
        Ok(())
    }

    /// Deletes posts older than `days` (by their time) with their mentions,
    /// responses and case records; returns the posts deleted. 0 keeps all.
    pub fn expire(&self, days: u32) -> rusqlite::Result<usize> {
        if days == 0 {
            return Ok(0);
        }
        let cutoff = chrono::Utc::now().timestamp() - i64::from(days) * 86_400;
        let mut conn = self.conn.lock().expect("sqlite lock");
        let tx = conn.transaction()?;
        let posts = "SELECT post_id FROM interactions WHERE event_time < ?1";
        for table in [
            "mentions",
            "responses",
            "response_log",
            "cases",
            "assignments",
            "match_feedback",
        ] {
            tx.execute(
                &format!("DELETE FROM {table} WHERE post_id IN ({posts})"),
                [cutoff],
            )?;
        }
        let n = tx.execute("DELETE FROM interactions WHERE event_time < ?1", [cutoff])?;
        tx.commit()?;
        Ok(n)
    }

    /// Keeps a record of the (in-memory) dead-letter topic; a redelivered
    /// one (same run, partition and offset) is kept once.
    pub fn keep_dead_letter(&self, d: &KeptDeadLetter<'_>) -> rusqlite::Result<()> {
        let conn = self.conn.lock().expect("sqlite lock");
        conn.execute(
            "INSERT OR IGNORE INTO dead_letters (run, dlq_partition, dlq_offset, at, stage, reason, key, payload)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![d.run, d.partition, d.offset, d.at, d.stage, d.reason, d.key, d.payload],
        )?;
        Ok(())
    }

    /// Runs a closure that may write (in its own transaction) on the connection.
    pub(crate) fn with_connection_mut<T>(&self, f: impl FnOnce(&mut Connection) -> T) -> T {
        f(&mut self.conn.lock().expect("sqlite lock"))
    }

    /// Runs a read-only closure on the connection (tests, tools).
    pub fn with_connection<T>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<T> {
        f(&self.conn.lock().expect("sqlite lock"))
    }
}

/// Busy/locked databases and I/O hiccups may pass; anything else is a broken store.
fn classify(e: rusqlite::Error) -> SinkError {
    use rusqlite::ErrorCode as C;
    match e.sqlite_error_code() {
        Some(
            C::DatabaseBusy | C::DatabaseLocked | C::SystemIoFailure | C::DiskFull | C::OutOfMemory,
        ) => SinkError::Transient(e.to_string()),
        _ => SinkError::Fatal(e.to_string()),
    }
}

/// A record of the dead-letter topic, for [`SqliteStore::keep_dead_letter`].
#[derive(Debug, Clone)]
pub struct KeptDeadLetter<'a> {
    /// The process run that read it (any number distinct per run, e.g. its
    /// start time): the in-memory topic's offsets start at 0 again in every
    /// run, so partition and offset alone name a record only within a run.
    pub run: i64,
    /// Its partition in the dead-letter topic.
    pub partition: i32,
    /// Its offset there.
    pub offset: i64,
    /// When it was kept (Unix seconds).
    pub at: i64,
    /// The stage that dead-lettered it (`connect:NAME`, `match`, `sink`).
    pub stage: &'a str,
    /// Why.
    pub reason: &'a str,
    /// Its key (a post id, or where it was read).
    pub key: &'a str,
    /// What could not be processed.
    pub payload: &'a [u8],
}

/// The embedded store as a [`Sink`].
pub struct SqliteSink {
    store: SqliteStore,
    retry: crate::retry::RetryPolicy,
    retention_days: u32,
    expired_at: Option<std::time::Instant>,
}

/// How often a running sink deletes posts past the retention.
const EXPIRE_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

impl SqliteSink {
    /// A sink writing to `store` (already migrated).
    pub fn new(store: SqliteStore, retry: crate::retry::RetryPolicy) -> SqliteSink {
        SqliteSink {
            store,
            retry,
            retention_days: 0,
            expired_at: None,
        }
    }

    /// Deletes posts older than `days` now and hourly while writing.
    pub fn with_retention(mut self, days: u32) -> SqliteSink {
        self.retention_days = days;
        self
    }

    async fn expire_if_due(&mut self) {
        if self.retention_days == 0 || self.expired_at.is_some_and(|t| t.elapsed() < EXPIRE_EVERY) {
            return;
        }
        self.expired_at = Some(std::time::Instant::now());
        let (store, days) = (self.store.clone(), self.retention_days);
        match tokio::task::spawn_blocking(move || store.expire(days)).await {
            Ok(Ok(n)) if n > 0 => {
                tracing::info!(posts = n, days, "posts past the retention deleted")
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "deleting posts past the retention failed; retried in an hour")
            }
            Err(e) => tracing::warn!(error = %e, "retention task failed"),
        }
    }
}

#[async_trait]
impl Sink for SqliteSink {
    async fn write(&mut self, batch: &Batch) -> Result<WriteReport, SinkError> {
        self.write_shared(&Arc::new(batch.clone())).await
    }

    async fn write_shared(&mut self, batch: &Arc<Batch>) -> Result<WriteReport, SinkError> {
        self.expire_if_due().await;
        let retries = std::sync::atomic::AtomicU64::new(0);
        // SQLite blocks: run it off the async workers, sharing the batch.
        let mut report = self
            .retry
            .run("sqlite upsert", &retries, || {
                let store = self.store.clone();
                let batch = batch.clone();
                async move {
                    tokio::task::spawn_blocking(move || store.upsert(&batch))
                        .await
                        .unwrap_or_else(|e| {
                            Err(SinkError::Fatal(format!("sqlite writer panicked: {e}")))
                        })
                }
            })
            .await?;
        report.retries = retries.into_inner();
        Ok(report)
    }

    fn name(&self) -> &'static str {
        "sqlite"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BatchItem, Position};
    use earshot_model::Interaction;
    use earshot_model::Post;
    use write::clamp;

    fn item(post: Post) -> BatchItem {
        let interaction = Interaction::neutral(post, "v");
        BatchItem {
            raw: interaction.to_json(),
            interaction,
            position: Position {
                topic: "scored".into(),
                partition: 0,
                offset: 0,
            },
        }
    }

    /// `u64::MAX as i64` is -1: a huge reach used to be stored as -1.
    #[test]
    fn issue_12_sqlite_clamps_out_of_range_counts_with_a_flag() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("e.db")).unwrap();
        store.migrate().unwrap();
        let mut huge = Post::new("t:huge", "x");
        huge.author.reach = Some(u64::MAX);
        huge.engagement.likes = Some(i64::MAX as u64 + 1);
        huge.engagement.replies = Some(i64::MAX as u64);
        let mut fine = Post::new("t:fine", "x");
        fine.author.reach = Some(12);
        let mut batch = Batch::default();
        batch.push(item(huge));
        batch.push(item(fine));
        store.upsert(&batch).unwrap();
        let row = |id: &str| {
            store
                .with_connection(|c| {
                    c.query_row(
                        "SELECT author_reach, likes, replies, clamped FROM interactions WHERE post_id = ?1",
                        [id],
                        |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?, r.get::<_, String>(3)?)),
                    )
                })
                .unwrap()
        };
        assert_eq!(
            row("t:huge"),
            (
                i64::MAX,
                i64::MAX,
                i64::MAX,
                "author_reach,likes".to_string()
            )
        );
        assert_eq!(row("t:fine"), (12, 0, 0, String::new()));
        assert_eq!(clamp(None), (0, false));
        assert_eq!(clamp(Some(u64::MAX)), (i64::MAX, true));
    }
}
