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
