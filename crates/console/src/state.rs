//! What every handler shares: the opened stores, the API token and the
//! process's CSRF token.

use std::sync::Arc;

use earshot_sink::alerts::{AlertStore, AlertStoreError};
use earshot_sink::authors::AuthorStore;
use earshot_sink::conversations::ConversationStore;
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
    /// The author and conversation queries.
    #[error("console: {0}")]
    Store(#[from] earshot_sink::StoreError),
}

/// The configured intents and routes, `(intents, routes)` in config order.
pub type LabelSource = Arc<dyn Fn() -> (Vec<String>, Vec<String>) + Send + Sync>;

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
    pub authors: AuthorStore,
    pub conversations: ConversationStore,
    /// The brands' own accounts (`network:handle`), whose posts in a thread
    /// are the brand's replies.
    pub own: Vec<String>,
    /// Where the configured intents and routes come from: the queue's
    /// filter choices. None: the filters take any name.
    pub labels: Option<LabelSource>,
    /// Users and sessions (`[console] auth`).
    pub auth: crate::auth::Auth,
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
                authors: AuthorStore::open(sink).await?,
                conversations: ConversationStore::open(sink).await?,
                own: Vec::new(),
                labels: None,
                auth: crate::auth::Auth::new(
                    config.auth,
                    config.users.clone(),
                    config.proxy_header.clone(),
                ),
                token_hash: token.map(|t| sha256(t.trim())),
                token_env: config.api_token_env.clone(),
                csrf: hex::encode(csrf),
            }),
        })
    }

    /// The brands' own accounts (`network:handle`, lowercase) that answer in
    /// threads (the watchlists' `own_accounts`); call before serving.
    pub fn with_own_accounts(mut self, own: Vec<String>) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.own = own;
        }
        self
    }

    /// The intents and routes the matcher's config produces (`none` among
    /// the routes is left out: it is nobody's work), which the queue offers
    /// as filters; call before serving.
    pub fn with_labels(self, intents: Vec<String>, routes: Vec<String>) -> Self {
        self.with_label_source(Arc::new(move || (intents.clone(), routes.clone())))
    }

    /// Like [`ConsoleState::with_labels`], asked on every page, so a console
    /// in the same process as a reloading matcher shows its current names.
    pub fn with_label_source(mut self, source: LabelSource) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.labels = Some(source);
        }
        self
    }

    /// The intents and routes the queue offers (`none` left out).
    pub(crate) fn labels(&self) -> (Vec<String>, Vec<String>) {
        let Some(source) = &self.inner.labels else {
            return (Vec::new(), Vec::new());
        };
        let (intents, routes) = source();
        (
            intents,
            routes.into_iter().filter(|r| r != "none").collect(),
        )
    }

    /// Whether the pages ask who is there (`[console] auth` is not `none`).
    pub fn authenticates(&self) -> bool {
        self.inner.auth.mode != crate::AuthMode::None
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
