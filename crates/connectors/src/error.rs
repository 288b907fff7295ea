//! Why the connect daemon could not start, or which connector failed.

use earshot_transport::TransportError;

use crate::backend::CursorError;

/// What stops `earshot connect` (or one of its connectors) with an error.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The configuration is invalid: every problem, one per line.
    #[error("invalid connector configuration:\n{0}")]
    Config(String),
    /// The cursor store (SQLite file or cursor topic) failed.
    #[error(transparent)]
    Cursor(#[from] CursorError),
    /// The topics could not be created or checked.
    #[error("creating topics: {0}")]
    Topics(#[source] TransportError),
    /// The shared HTTP client could not be built (TLS, proxy settings).
    #[error("HTTP client: {0}")]
    Http(String),
    /// One connector could not start (a webhook's port is taken) or failed
    /// for good; the others ran on.
    #[error("connector `{connector}`: {message}")]
    Connector {
        /// The connector's name.
        connector: String,
        /// What happened, with its causes.
        message: String,
    },
    /// Shared mode (connectors spread over processes) stopped.
    #[error("shared connectors: {0}")]
    Shared(String),
}

impl ConnectError {
    /// A connector's failure, with the whole cause chain of `e`.
    pub(crate) fn connector(connector: &str, e: impl std::fmt::Display) -> ConnectError {
        ConnectError::Connector {
            connector: connector.to_string(),
            message: e.to_string(),
        }
    }
}

/// Why one source (or one poll of it) failed. Crate-private: the daemon turns
/// it into [`ConnectError::Connector`] with its whole cause chain, and a
/// poll's failure is counted and logged by [`crate::source::Ctx::poll_every`].
///
/// Each variant's message includes its cause, so `{e}` reads like the
/// `context: cause` chain the logs have always shown.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SourceError {
    /// The cursor store failed (reading a cursor, recording ids).
    #[error(transparent)]
    Cursor(#[from] CursorError),
    /// A request failed for good (after its retries).
    #[error(transparent)]
    Fetch(#[from] crate::http::FetchError),
    /// The transport refused to deliver a post; the cursor did not move.
    #[error("transport refused a post ({delivered} delivered): {cause}")]
    Delivery {
        /// Posts delivered before (or beside) the refused one.
        delivered: usize,
        /// The transport's error.
        cause: TransportError,
    },
    /// Reading a replayed file failed.
    #[error(transparent)]
    Read(#[from] std::io::Error),
    /// A configured URL (or one built from it) does not parse.
    #[error(transparent)]
    Url(#[from] url::ParseError),
    /// A configured value cannot be sent in an HTTP header.
    #[error(transparent)]
    Header(#[from] reqwest::header::InvalidHeaderValue),
    /// A streaming connection (Bluesky's Jetstream) failed (boxed: the
    /// WebSocket error carries a whole HTTP response).
    #[error(transparent)]
    Socket(Box<tokio_tungstenite::tungstenite::Error>),
    /// A blocking reader task panicked or was cancelled.
    #[error(transparent)]
    Task(#[from] tokio::task::JoinError),
    /// A file or socket operation failed.
    #[error("{context}: {cause}")]
    Io {
        /// What was being done (the path, the address).
        context: String,
        /// The operating system's error.
        cause: std::io::Error,
    },
    /// Anything else, already worded with its cause (a URL that does not
    /// parse, a missing secret, a panicked task).
    #[error("{0}")]
    Other(String),
}

impl From<tokio_tungstenite::tungstenite::Error> for SourceError {
    fn from(e: tokio_tungstenite::tungstenite::Error) -> SourceError {
        SourceError::Socket(Box::new(e))
    }
}

impl SourceError {
    /// An I/O failure while doing `context`.
    pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> SourceError {
        let context = context.into();
        move |cause| SourceError::Io { context, cause }
    }
}

/// What a source's steps return.
pub(crate) type SourceResult<T> = Result<T, SourceError>;
