//! The durable cursor store: one SQLite file holding each connector's
//! cursors, the ids it already produced (for deduplication across overlapping
//! pages and restarts), and quarantined payloads the dead-letter topic refused.

use std::collections::HashSet;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::backend::CursorError;
use rusqlite::{params, Connection, OptionalExtension};

/// One connector's saved state, from [`CursorStore::export`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Export {
    /// Cursors as `(key, value)`.
    pub cursors: Vec<(String, String)>,
    /// Produced ids as `(id, seen_at)`, Unix seconds.
    pub seen: Vec<(String, i64)>,
}

/// A handle on the cursor database; cheap to clone.
#[derive(Clone)]
pub struct CursorStore {
    conn: Arc<Mutex<Connection>>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS cursors (
    connector TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (connector, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS seen (
    connector TEXT NOT NULL,
    post_id TEXT NOT NULL,
    seen_at INTEGER NOT NULL,
    PRIMARY KEY (connector, post_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS seen_by_age ON seen (connector, seen_at);
CREATE TABLE IF NOT EXISTS quarantine (
    id INTEGER PRIMARY KEY,
    connector TEXT NOT NULL,
    reason TEXT NOT NULL,
    locator TEXT NOT NULL,
    payload BLOB NOT NULL,
    at INTEGER NOT NULL
);
";

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

impl CursorStore {
    /// Opens (creating when missing) the database at `path`, and its directory.
    pub fn open(path: &Path) -> Result<CursorStore, CursorError> {
        let open = |what: &str, e: &dyn std::fmt::Display| CursorError::Open {
            path: path.to_path_buf(),
            message: format!("{what}: {e}"),
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| open(&format!("creating {}", dir.display()), &e))?;
        }
        let conn = Connection::open(path).map_err(|e| open("opening", &e))?;
        // WAL + NORMAL: a commit survives a process crash; fsync per checkpoint, not per cursor.
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| open("configuring", &e))?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(|e| open("configuring", &e))?;
        // The seen index is read once per post: keep it in memory rather than
        // re-reading its pages with a syscall each (SQLite's default cache is 2 MiB).
        conn.pragma_update(None, "cache_size", -65_536)
            .map_err(|e| open("configuring", &e))?;
        conn.pragma_update(None, "mmap_size", 1i64 << 30)
            .map_err(|e| open("configuring", &e))?;
        conn.busy_timeout(Duration::from_secs(5))
            .map_err(|e| open("configuring", &e))?;
        conn.execute_batch(SCHEMA)
            .map_err(|e| open("creating tables", &e))?;
        Ok(CursorStore {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Runs `f` on the connection off the async threads.
    async fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, CursorError> {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut c = conn.lock().expect("cursor store lock");
            f(&mut c)
        })
        .await
        .map_err(|e| CursorError::Local(format!("cursor store task: {e}")))?
        .map_err(|e| CursorError::Local(e.to_string()))
    }

    /// The cursor `key` of `connector`, if one was saved.
    pub async fn get(&self, connector: &str, key: &str) -> Result<Option<String>, CursorError> {
        let (c, k) = (connector.to_string(), key.to_string());
        self.with(move |conn| {
            conn.query_row(
                "SELECT value FROM cursors WHERE connector = ?1 AND key = ?2",
                params![c, k],
                |r| r.get(0),
            )
            .optional()
        })
        .await
    }

    /// Which of `ids` `connector` already produced.
    pub async fn seen(
        &self,
        connector: &str,
        ids: Vec<String>,
    ) -> Result<HashSet<String>, CursorError> {
        let c = connector.to_string();
        self.with(move |conn| {
            // One read transaction for the whole page: outside one, every
            // lookup takes and releases the file's locks (fcntl) itself.
            let tx = conn.transaction()?;
            let mut out = HashSet::new();
            {
                let mut stmt =
                    tx.prepare_cached("SELECT 1 FROM seen WHERE connector = ?1 AND post_id = ?2")?;
                for id in ids {
                    if stmt.exists(params![c, id])? {
                        out.insert(id);
                    }
                }
            }
            tx.commit()?;
            Ok(out)
        })
        .await
    }

    /// In one transaction: remembers `ids` as produced and, when given, saves
    /// the cursor. Called only after the transport acknowledged every post.
    pub async fn commit(
        &self,
        connector: &str,
        cursor: Option<(String, String)>,
        ids: Vec<String>,
    ) -> Result<(), CursorError> {
        if cursor.is_none() && ids.is_empty() {
            return Ok(());
        }
        let c = connector.to_string();
        self.with(move |conn| {
            let tx = conn.transaction()?;
            let at = now();
            {
                let mut stmt = tx.prepare_cached(
                    "INSERT INTO seen (connector, post_id, seen_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT (connector, post_id) DO UPDATE SET seen_at = excluded.seen_at",
                )?;
                for id in &ids {
                    stmt.execute(params![c, id, at])?;
                }
            }
            if let Some((key, value)) = cursor {
                tx.execute(
                    "INSERT INTO cursors (connector, key, value, updated_at) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (connector, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                    params![c, key, value, at],
                )?;
            }
            tx.commit()
        })
        .await
    }

    /// Forgets that `ids` were produced (`earshot forget`); returns how many
    /// records went. The store's `forgotten` list keeps a refetch out.
    pub async fn forget_ids(&self, ids: Vec<String>) -> Result<usize, CursorError> {
        self.with(move |conn| {
            let tx = conn.transaction()?;
            let mut n = 0;
            {
                let mut stmt = tx.prepare_cached("DELETE FROM seen WHERE post_id = ?1")?;
                for id in &ids {
                    n += stmt.execute([id])?;
                }
            }
            tx.commit()?;
            Ok(n)
        })
        .await
    }

    /// Forgets produced ids older than `retention`; returns how many.
    pub async fn prune_seen(
        &self,
        connector: &str,
        retention: Duration,
    ) -> Result<usize, CursorError> {
        let c = connector.to_string();
        let cutoff = now() - retention.as_secs() as i64;
        self.with(move |conn| {
            conn.execute(
                "DELETE FROM seen WHERE connector = ?1 AND seen_at < ?2",
                params![c, cutoff],
            )
        })
        .await
    }

    /// Everything saved for `connector`: its cursors as `(key, value)` and
    /// its produced ids as `(id, seen_at)` (Unix seconds), for moving them
    /// to another backend.
    pub async fn export(&self, connector: &str) -> Result<Export, CursorError> {
        let c = connector.to_string();
        self.with(move |conn| {
            let tx = conn.transaction()?;
            let cursors = tx
                .prepare("SELECT key, value FROM cursors WHERE connector = ?1 ORDER BY key")?
                .query_map(params![c], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let seen = tx
                .prepare("SELECT post_id, seen_at FROM seen WHERE connector = ?1 ORDER BY post_id")?
                .query_map(params![c], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(Export { cursors, seen })
        })
        .await
    }

    /// Keeps a bad payload that could not be dead-lettered to the transport.
    pub async fn quarantine(
        &self,
        connector: &str,
        reason: &str,
        locator: &str,
        payload: Vec<u8>,
    ) -> Result<(), CursorError> {
        let (c, r, l) = (
            connector.to_string(),
            reason.to_string(),
            locator.to_string(),
        );
        self.with(move |conn| {
            conn.execute(
                "INSERT INTO quarantine (connector, reason, locator, payload, at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![c, r, l, payload, now()],
            )
            .map(|_| ())
        })
        .await
    }

    /// Quarantined payloads of `connector` as `(reason, locator, payload)`, oldest first.
    pub async fn quarantined(
        &self,
        connector: &str,
    ) -> Result<Vec<(String, String, Vec<u8>)>, CursorError> {
        let c = connector.to_string();
        self.with(move |conn| {
            let mut stmt = conn.prepare(
                "SELECT reason, locator, payload FROM quarantine WHERE connector = ?1 ORDER BY id",
            )?;
            let rows = stmt.query_map(params![c], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            rows.collect()
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn cursors_and_seen_ids_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/cursors.db");
        let store = CursorStore::open(&path).unwrap();
        assert_eq!(store.get("a", "k").await.unwrap(), None);
        store
            .commit("a", Some(("k".into(), "1".into())), vec!["hn:1".into()])
            .await
            .unwrap();
        store
            .commit("a", Some(("k".into(), "2".into())), vec![])
            .await
            .unwrap();
        drop(store);
        let store = CursorStore::open(&path).unwrap();
        assert_eq!(store.get("a", "k").await.unwrap().as_deref(), Some("2"));
        assert_eq!(store.get("b", "k").await.unwrap(), None);
        let seen = store
            .seen("a", vec!["hn:1".into(), "hn:2".into()])
            .await
            .unwrap();
        assert_eq!(seen, HashSet::from(["hn:1".to_string()]));
        assert!(store
            .seen("b", vec!["hn:1".into()])
            .await
            .unwrap()
            .is_empty());
        assert_eq!(
            store
                .prune_seen("a", Duration::from_secs(3600))
                .await
                .unwrap(),
            0
        );
        store
            .quarantine("a", "bad", "url", b"\xff".to_vec())
            .await
            .unwrap();
        assert_eq!(
            store.quarantined("a").await.unwrap(),
            vec![("bad".into(), "url".into(), vec![0xff])]
        );
    }
}
