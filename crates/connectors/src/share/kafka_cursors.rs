//! Cursors and produced ids in a compacted Kafka topic, with a local cache
//! of the connectors this process runs.
//!
//! Records, all of one connector in its partition ([`cursor_partition`]):
//! `cursor/<connector>/<key>` = the cursor's value, and
//! `seen/<connector>/<post id>` = when it was produced (Unix seconds); a
//! pruned id gets a tombstone. Connector names hold no `/`, so the first
//! two `/` split a key.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use earshot_transport::{Bus, CompactedLog, TopicSpec, TransportError};

use super::{cursor_partition, cursor_topic};
use crate::backend::{CursorBackend, CursorError};
use crate::config::ConnectConfig;
use crate::cursor::CursorStore;

/// One loaded connector's state.
#[derive(Default)]
struct State {
    cursors: HashMap<String, String>,
    seen: HashMap<String, i64>,
}

/// The Kafka cursor backend.
pub(crate) struct KafkaCursors {
    log: Arc<dyn CompactedLog>,
    partitions: i32,
    /// Connectors this process runs now; any other is refused.
    loaded: Mutex<HashMap<String, State>>,
}

fn cursor_key(connector: &str, key: &str) -> String {
    format!("cursor/{connector}/{key}")
}

fn seen_key(connector: &str, id: &str) -> String {
    format!("seen/{connector}/{id}")
}

impl KafkaCursors {
    /// Opens (creating when missing) the cursor topic of `config`'s group.
    pub async fn open(
        bus: &dyn Bus,
        config: &ConnectConfig,
        replication: i32,
    ) -> Result<KafkaCursors, CursorError> {
        let spec = TopicSpec {
            name: cursor_topic(&config.connect.group),
            partitions: config.connect.partitions,
            replication,
        };
        let log = bus
            .compacted_log(&spec)
            .await
            .map_err(|source| CursorError::Topic {
                topic: spec.name.clone(),
                source,
            })?;
        Ok(KafkaCursors {
            log,
            partitions: config.connect.partitions,
            loaded: Mutex::default(),
        })
    }

    fn transport(&self, source: TransportError) -> CursorError {
        CursorError::Topic {
            topic: self.log.topic().to_string(),
            source,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, State>> {
        // Every update below is a single insert or remove: a panic elsewhere
        // cannot leave the map half-changed.
        self.loaded.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reads `connector`'s partition to its end and caches its state: the
    /// connector may run here from now on.
    pub async fn load(&self, connector: &str) -> Result<(), CursorError> {
        let records = self
            .log
            .read(cursor_partition(connector, self.partitions))
            .await
            .map_err(|e| self.transport(e))?;
        let mut state = State::default();
        let (cursor_prefix, seen_prefix) = (cursor_key(connector, ""), seen_key(connector, ""));
        for (key, value) in records {
            let corrupt = |message: String| CursorError::Corrupt {
                topic: self.log.topic().to_string(),
                key: key.clone(),
                message,
            };
            if let Some(k) = key.strip_prefix(&cursor_prefix) {
                let v = String::from_utf8(value)
                    .map_err(|e| corrupt(format!("cursor value not UTF-8: {e}")))?;
                state.cursors.insert(k.to_string(), v);
            } else if let Some(id) = key.strip_prefix(&seen_prefix) {
                let at = std::str::from_utf8(&value)
                    .ok()
                    .and_then(|v| v.parse::<i64>().ok())
                    .ok_or_else(|| corrupt("expected Unix seconds".into()))?;
                state.seen.insert(id.to_string(), at);
            }
        }
        tracing::info!(
            connector = %connector,
            cursors = state.cursors.len(),
            seen = state.seen.len(),
            "cursors loaded from the cursor topic"
        );
        self.lock().insert(connector.to_string(), state);
        Ok(())
    }

    /// Forgets `connector`'s cache: it runs elsewhere now.
    pub fn unload(&self, connector: &str) {
        self.lock().remove(connector);
    }

    /// Writes `records` to `connector`'s partition, in order, and waits for
    /// every acknowledgement.
    async fn put_all(
        &self,
        connector: &str,
        records: Vec<(String, Option<Vec<u8>>)>,
    ) -> Result<(), CursorError> {
        let p = cursor_partition(connector, self.partitions);
        let pending: Vec<_> = records
            .iter()
            .map(|(k, v)| self.log.put(p, k, v.as_deref()))
            .collect();
        for r in futures::future::join_all(pending).await {
            r.map_err(|e| self.transport(e))?;
        }
        Ok(())
    }

    fn check_loaded(&self, connector: &str) -> Result<(), CursorError> {
        match self.lock().contains_key(connector) {
            true => Ok(()),
            false => Err(CursorError::NotAssigned(connector.to_string())),
        }
    }
}

#[async_trait]
impl CursorBackend for KafkaCursors {
    async fn get(&self, connector: &str, key: &str) -> Result<Option<String>, CursorError> {
        let loaded = self.lock();
        let state = loaded
            .get(connector)
            .ok_or_else(|| CursorError::NotAssigned(connector.to_string()))?;
        Ok(state.cursors.get(key).cloned())
    }

    async fn seen(
        &self,
        connector: &str,
        ids: Vec<String>,
    ) -> Result<HashSet<String>, CursorError> {
        let loaded = self.lock();
        let state = loaded
            .get(connector)
            .ok_or_else(|| CursorError::NotAssigned(connector.to_string()))?;
        Ok(ids
            .into_iter()
            .filter(|id| state.seen.contains_key(id))
            .collect())
    }

    async fn commit(
        &self,
        connector: &str,
        cursor: Option<(String, String)>,
        ids: Vec<String>,
    ) -> Result<(), CursorError> {
        if cursor.is_none() && ids.is_empty() {
            return Ok(());
        }
        // A revoked connector must not write: its new owner already read the partition.
        self.check_loaded(connector)?;
        let at = chrono::Utc::now().timestamp();
        let stamp = at.to_string().into_bytes();
        // The ids first, then the cursor: one partition keeps this order, so
        // a cursor is never durable before the ids it covers.
        let mut records: Vec<(String, Option<Vec<u8>>)> = ids
            .iter()
            .map(|id| (seen_key(connector, id), Some(stamp.clone())))
            .collect();
        if let Some((k, v)) = &cursor {
            records.push((cursor_key(connector, k), Some(v.clone().into_bytes())));
        }
        self.put_all(connector, records).await?;
        if let Some(state) = self.lock().get_mut(connector) {
            state.seen.extend(ids.into_iter().map(|id| (id, at)));
            if let Some((k, v)) = cursor {
                state.cursors.insert(k, v);
            }
        }
        Ok(())
    }

    async fn prune_seen(&self, connector: &str, retention: Duration) -> Result<usize, CursorError> {
        let cutoff = chrono::Utc::now().timestamp() - retention.as_secs() as i64;
        let old: Vec<String> = match self.lock().get(connector) {
            // Not running here: its owner prunes it.
            None => return Ok(0),
            Some(state) => state
                .seen
                .iter()
                .filter(|(_, at)| **at < cutoff)
                .map(|(id, _)| id.clone())
                .collect(),
        };
        if old.is_empty() {
            return Ok(0);
        }
        let tombstones = old
            .iter()
            .map(|id| (seen_key(connector, id), None))
            .collect();
        self.put_all(connector, tombstones).await?;
        if let Some(state) = self.lock().get_mut(connector) {
            for id in &old {
                state.seen.remove(id);
            }
        }
        Ok(old.len())
    }
}

/// What [`import_cursors`] copied, per connector: `(name, cursors, ids)`.
pub type Imported = Vec<(String, usize, usize)>;

/// Copies the cursors and produced ids of `config`'s enabled connectors
/// from the SQLite file `from` (the single-process store) into the cursor
/// topic of `config`'s group, overwriting what the topic has for them. Run
/// it once, before the group's processes start.
pub async fn import_cursors(
    bus: &dyn Bus,
    config: &ConnectConfig,
    replication: i32,
    from: &std::path::Path,
) -> Result<Imported, CursorError> {
    if !from.is_file() {
        return Err(CursorError::Local(format!(
            "{}: no such file (expected the SQLite cursor store to import)",
            from.display()
        )));
    }
    let store = CursorStore::open(from).map_err(|e| CursorError::Local(format!("{e:#}")))?;
    let cursors = KafkaCursors::open(bus, config, replication).await?;
    let mut out = Vec::new();
    for c in config.connectors.iter().filter(|c| c.enabled) {
        let export = store
            .export(&c.name)
            .await
            .map_err(|e| CursorError::Local(format!("{e:#}")))?;
        // Ids first, then cursors, as a commit writes them.
        let records: Vec<(String, Option<Vec<u8>>)> = export
            .seen
            .iter()
            .map(|(id, at)| (seen_key(&c.name, id), Some(at.to_string().into_bytes())))
            .chain(
                export
                    .cursors
                    .iter()
                    .map(|(k, v)| (cursor_key(&c.name, k), Some(v.clone().into_bytes()))),
            )
            .collect();
        cursors.put_all(&c.name, records).await?;
        tracing::info!(connector = %c.name, cursors = export.cursors.len(), ids = export.seen.len(), "imported");
        out.push((c.name.clone(), export.cursors.len(), export.seen.len()));
    }
    Ok(out)
}

/// Removes `ids` from the produced-id records of `config`'s enabled
/// connectors in the cursor topic (tombstones; `earshot forget`), returning
/// how many records there were. A process running a connector keeps
/// dropping a refetch of those ids until it restarts the connector; the
/// store's `forgotten` list keeps them out after that.
pub async fn forget_ids(
    bus: &dyn Bus,
    config: &ConnectConfig,
    replication: i32,
    ids: &[String],
) -> Result<usize, CursorError> {
    let cursors = KafkaCursors::open(bus, config, replication).await?;
    let mut removed = 0;
    for c in config.connectors.iter().filter(|c| c.enabled) {
        let p = cursor_partition(&c.name, cursors.partitions);
        let records = cursors
            .log
            .read(p)
            .await
            .map_err(|e| cursors.transport(e))?;
        let present: Vec<(String, Option<Vec<u8>>)> = ids
            .iter()
            .map(|id| seen_key(&c.name, id))
            .filter(|k| records.contains_key(k))
            .map(|k| (k, None))
            .collect();
        removed += present.len();
        cursors.put_all(&c.name, present).await?;
    }
    Ok(removed)
}
