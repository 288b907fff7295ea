//! Where connectors keep their cursors and the ids they already produced:
//! the [`CursorBackend`] trait, implemented by the local SQLite file
//! ([`CursorStore`], one process, the default) and by a compacted Kafka
//! topic (several processes sharing the connectors, see `share`).
//!
//! Both are written the same way: only after the transport acknowledged
//! every post of a page, so a cursor never moves past a post that is not
//! durably produced.

use std::collections::HashSet;
use std::time::Duration;

use async_trait::async_trait;
use earshot_transport::TransportError;

use crate::cursor::CursorStore;

/// What can go wrong reading or writing cursors.
#[derive(Debug, thiserror::Error)]
pub enum CursorError {
    /// The local SQLite store failed.
    #[error("cursor store: {0}")]
    Local(String),
    /// The local SQLite store could not be opened.
    #[error("opening cursor store {path}: {message}")]
    Open {
        /// The database file.
        path: std::path::PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The cursor topic could not be read or written.
    #[error("cursor topic `{topic}`: {source}")]
    Topic {
        /// The compacted topic.
        topic: String,
        /// The transport's error.
        #[source]
        source: TransportError,
    },
    /// A connector's cursors were asked for while this process does not run
    /// it (never assigned, or revoked since): another process owns them.
    #[error("connector `{0}` is not assigned to this process")]
    NotAssigned(String),
    /// A record of the cursor topic is not what Earshot writes there.
    #[error("cursor topic `{topic}`: record `{key}`: {message}")]
    Corrupt {
        /// The compacted topic.
        topic: String,
        /// The record's key.
        key: String,
        /// What is wrong with it.
        message: String,
    },
}

/// Cursors and produced ids of connectors, keyed by connector name.
#[async_trait]
pub trait CursorBackend: Send + Sync {
    /// The cursor `key` of `connector`, if one was saved.
    async fn get(&self, connector: &str, key: &str) -> Result<Option<String>, CursorError>;

    /// Which of `ids` `connector` already produced.
    async fn seen(&self, connector: &str, ids: Vec<String>)
        -> Result<HashSet<String>, CursorError>;

    /// Remembers `ids` as produced and, when given, saves the cursor
    /// `(key, value)`. Called only after the transport acknowledged every post.
    async fn commit(
        &self,
        connector: &str,
        cursor: Option<(String, String)>,
        ids: Vec<String>,
    ) -> Result<(), CursorError>;

    /// Forgets `connector`'s produced ids older than `retention`; returns how many.
    async fn prune_seen(&self, connector: &str, retention: Duration) -> Result<usize, CursorError>;
}

#[async_trait]
impl CursorBackend for CursorStore {
    async fn get(&self, connector: &str, key: &str) -> Result<Option<String>, CursorError> {
        CursorStore::get(self, connector, key).await
    }

    async fn seen(
        &self,
        connector: &str,
        ids: Vec<String>,
    ) -> Result<HashSet<String>, CursorError> {
        CursorStore::seen(self, connector, ids).await
    }

    async fn commit(
        &self,
        connector: &str,
        cursor: Option<(String, String)>,
        ids: Vec<String>,
    ) -> Result<(), CursorError> {
        CursorStore::commit(self, connector, cursor, ids).await
    }

    async fn prune_seen(&self, connector: &str, retention: Duration) -> Result<usize, CursorError> {
        CursorStore::prune_seen(self, connector, retention).await
    }
}
