//! What every handler shares: the opened stores, the API token and the
//! process's CSRF token.

use std::sync::Arc;

use earshot_sink::alerts::{AlertStore, AlertStoreError};
use earshot_sink::overview::{OverviewError, OverviewStore};
use earshot_sink::responses::{ResponseError, ResponseStore};
use earshot_sink::work::{WorkError, WorkStore};
use earshot_sink::SinkConfig;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::ConsoleConfig;

/// Failures opening the console's stores.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// The work queue store.
    #[error("console: {0}")]
    Work(#[from] WorkError),
    /// The responses store.
    #[error("console: {0}")]
    Responses(#[from] ResponseError),
    /// The alerts store.
    #[error("console: {0}")]
    Alerts(#[from] AlertStoreError),
    /// The overview's store.
    #[error("console: {0}")]
    Overview(#[from] OverviewError),
}

/// Shared by every request (cheap to clone).
#[derive(Clone)]
pub struct ConsoleState {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub overview: OverviewStore,
    pub work: WorkStore,
    pub responses: ResponseStore,
    pub alerts: AlertStore,
    /// SHA-256 of the API token, when its variable is set and not empty.
    pub token_hash: Option<[u8; 32]>,
    pub token_env: String,
    /// Random per process; every form carries it (the pages are same-origin
    /// only, so another site cannot read it to forge a POST).
    pub csrf: String,
}

impl ConsoleState {
    /// Opens the configured store (ClickHouse needs `earshot migrate` first)
    /// and reads the API token from the variable `[console] api_token_env` names.
    pub async fn open(sink: &SinkConfig, config: &ConsoleConfig) -> Result<Self, ConsoleError> {
        let token = std::env::var(&config.api_token_env)
            .ok()
            .filter(|t| !t.trim().is_empty());
        let mut csrf = [0u8; 32];
        rand::rng().fill_bytes(&mut csrf);
        Ok(ConsoleState {
            inner: Arc::new(Inner {
                overview: OverviewStore::open(sink).await?,
                work: WorkStore::open(sink).await?,
                responses: ResponseStore::open(sink).await?,
                alerts: AlertStore::open(sink).await?,
                token_hash: token.map(|t| sha256(t.trim())),
                token_env: config.api_token_env.clone(),
                csrf: hex::encode(csrf),
            }),
        })
    }

    /// Whether the API has a token to check against.
    pub fn api_enabled(&self) -> bool {
        self.inner.token_hash.is_some()
    }
}

pub(crate) fn sha256(s: &str) -> [u8; 32] {
    Sha256::digest(s.as_bytes()).into()
}

/// Constant-time comparison of fixed-length digests (hashing first hides the
/// secret's length too).
pub(crate) fn same_secret(given: &str, expected_hash: &[u8; 32]) -> bool {
    sha256(given).ct_eq(expected_hash).into()
}
