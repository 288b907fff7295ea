//! Opening the configured store for reading and for the small writes the
//! operators' tools make (alert state, responses), as opposed to the sink's
//! batched inserts: the embedded SQLite store is migrated on open; a
//! ClickHouse database must have been created by `earshot migrate`, and
//! opening says so when it was not.

use crate::{SinkConfig, SinkKind};

/// Failures opening the configured store.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The store could not be opened or lacks its tables.
    #[error("opening the store: {0}")]
    Open(String),
    /// ClickHouse could not be reached or refused the probe.
    #[error("clickhouse: {0}")]
    ClickHouse(String),
    /// `sink.kind` keeps no queryable store.
    #[error("sink.kind = \"{0}\" keeps no queryable store; this needs `clickhouse` or `sqlite`")]
    Unsupported(String),
    /// A blocking store task failed.
    #[error("store task failed: {0}")]
    Task(String),
}

/// Failures of the operators' store queries (authors, conversations,
/// cases, forgetting).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store could not be opened.
    #[error(transparent)]
    Open(#[from] OpenError),
    /// The embedded store refused a query.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// ClickHouse refused a query or could not be reached.
    #[error("clickhouse: {0}")]
    ClickHouse(#[from] clickhouse::error::Error),
    /// A blocking store task failed.
    #[error("store task failed: {0}")]
    Task(String),
    /// The embedded store's file or directory could not be created or opened.
    #[error("{path}: {message}")]
    File {
        /// The file or directory.
        path: std::path::PathBuf,
        /// What went wrong.
        message: String,
    },
    /// ClickHouse could not be reached or refused the version probe.
    #[error("ClickHouse at {url}: {message}")]
    Unreachable {
        /// The configured URL.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// A schema statement failed.
    #[error("{source}\nwhile running:\n{sql}")]
    Migration {
        /// The statement as sent.
        sql: String,
        /// ClickHouse's answer.
        #[source]
        source: clickhouse::error::Error,
    },
    /// A statement cannot be run on the configured cluster.
    #[error(transparent)]
    Cluster(#[from] crate::clickhouse::cluster::ClusterSqlError),
    /// A dashboard query failed.
    #[error("dashboard query `{name}`: {source}")]
    Query {
        /// The query's name (its file under `deploy/clickhouse/queries`).
        name: &'static str,
        /// ClickHouse's answer.
        #[source]
        source: clickhouse::error::Error,
    },
    /// The store holds something Earshot did not write.
    #[error("{0}")]
    Unexpected(String),
    /// The configured store cannot do this.
    #[error("{0}")]
    Unsupported(String),
}

impl From<tokio::task::JoinError> for StoreError {
    fn from(e: tokio::task::JoinError) -> StoreError {
        StoreError::Task(e.to_string())
    }
}

/// `(database, cluster)` when the ClickHouse schema is on a cluster.
pub(crate) type OnCluster = Option<(String, String)>;

/// An opened store.
#[derive(Clone)]
pub(crate) enum Queryable {
    Sqlite(crate::sqlite::SqliteStore),
    // Boxed: the client is large and the embedded store a pointer.
    ClickHouse(
        Box<(
            clickhouse::Client,
            crate::clickhouse::schema::Features,
            OnCluster,
        )>,
    ),
}

impl Queryable {
    /// Opens the configured store; on ClickHouse, `tables` must exist.
    pub(crate) async fn open(config: &SinkConfig, tables: &[&str]) -> Result<Queryable, OpenError> {
        Ok(match config.kind {
            SinkKind::Sqlite => {
                let store = crate::sqlite::SqliteStore::open(&config.sqlite.path)
                    .map_err(|e| OpenError::Open(format!("{e:#}")))?;
                let s = store.clone();
                tokio::task::spawn_blocking(move || s.migrate())
                    .await
                    .map_err(|e| OpenError::Task(e.to_string()))?
                    .map_err(|e| OpenError::Open(format!("{e:#}")))?;
                Queryable::Sqlite(store)
            }
            SinkKind::Clickhouse => {
                let ch = &config.clickhouse;
                let client = crate::clickhouse::client(ch, true);
                let features = crate::clickhouse::probe(&client).await.map_err(|e| {
                    let m = e.to_string();
                    if crate::clickhouse::unknown_database(&m) {
                        OpenError::Open(format!(
                            "database `{}` does not exist at {}: run `earshot migrate` first ({m})",
                            ch.database, ch.url
                        ))
                    } else {
                        OpenError::ClickHouse(format!("{}: {m}", ch.url))
                    }
                })?;
                // Say what to do rather than fail on the first query.
                let found: Vec<String> = client
                    .query("SELECT name FROM system.tables WHERE database = ?")
                    .bind(ch.database.as_str())
                    .fetch_all()
                    .await
                    .map_err(|e| OpenError::ClickHouse(format!("{}: {e}", ch.url)))?;
                let missing: Vec<&str> = tables
                    .iter()
                    .copied()
                    .filter(|t| !found.iter().any(|f| f == t))
                    .collect();
                if !missing.is_empty() {
                    return Err(OpenError::Open(format!(
                        "database `{}` at {} lacks the tables {missing:?}: run `earshot migrate` first",
                        ch.database, ch.url
                    )));
                }
                let cluster = ch.cluster.clone().map(|c| (ch.database.clone(), c));
                Queryable::ClickHouse(Box::new((client, features, cluster)))
            }
            SinkKind::Jsonl => return Err(OpenError::Unsupported("jsonl".into())),
        })
    }
}
