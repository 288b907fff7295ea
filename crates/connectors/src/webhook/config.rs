//! `kind = "webhook"` (webhook receiver): its keys, their defaults and their checks.
//! Doc comments are the user documentation of each key.

use std::net::SocketAddr;

use serde::Deserialize;

/// `kind = "webhook"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Address to listen on (default `127.0.0.1:8088`).
    #[serde(default = "default_listen")]
    pub listen: String,
    /// Path that accepts `POST` (default `/ingest`).
    #[serde(default = "default_path")]
    pub path: String,
    /// Environment variable holding the HMAC-SHA256 secret (default
    /// `EARSHOT_WEBHOOK_SECRET`); required: the connector refuses to start without it.
    #[serde(default = "default_secret_env")]
    pub secret_env: String,
    /// Header carrying `sha256=<hex HMAC of "<timestamp>.<body>">` (default `X-Earshot-Signature`).
    #[serde(default = "default_signature_header")]
    pub signature_header: String,
    /// Header carrying the Unix time in seconds at which the request was
    /// signed (default `X-Earshot-Timestamp`).
    #[serde(default = "default_timestamp_header")]
    pub timestamp_header: String,
    /// Largest difference in seconds between the signed timestamp and the
    /// receiver's clock (default 300). A signature is remembered this long,
    /// so the same request cannot be replayed.
    #[serde(default = "default_tolerance_secs")]
    pub tolerance_secs: u64,
    /// Most connections served at once (default 256); more wait in the
    /// listen backlog until one closes.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
}

impl WebhookConfig {
    /// Reports each bad key through `err` as `(k(key), message)`.
    pub(crate) fn validate(&self, k: &dyn Fn(&str) -> String, err: &mut dyn FnMut(String, String)) {
        if self.listen.parse::<SocketAddr>().is_err() {
            err(
                k("listen"),
                format!("`{}`: expected ip:port such as 127.0.0.1:8088", self.listen),
            );
        }
        if !self.path.starts_with('/') {
            err(
                k("path"),
                format!("`{}`: expected a path starting with `/`", self.path),
            );
        }
        if self.secret_env.trim().is_empty() {
            err(
                k("secret_env"),
                "expected the name of an environment variable".into(),
            );
        }
        if axum::http::HeaderName::from_bytes(self.timestamp_header.as_bytes()).is_err() {
            err(
                k("timestamp_header"),
                format!("`{}`: not a valid header name", self.timestamp_header),
            );
        }
        if !(1..=86_400).contains(&self.tolerance_secs) {
            err(
                k("tolerance_secs"),
                format!("{}: expected 1 to 86400 seconds", self.tolerance_secs),
            );
        }
        if self.max_connections == 0 {
            err(k("max_connections"), "0: expected at least 1".into());
        }
        if axum::http::HeaderName::from_bytes(self.signature_header.as_bytes()).is_err() {
            err(
                k("signature_header"),
                format!("`{}`: not a valid header name", self.signature_header),
            );
        }
    }
}

fn default_listen() -> String {
    "127.0.0.1:8088".into()
}
fn default_path() -> String {
    "/ingest".into()
}
fn default_secret_env() -> String {
    "EARSHOT_WEBHOOK_SECRET".into()
}
fn default_signature_header() -> String {
    "X-Earshot-Signature".into()
}
fn default_timestamp_header() -> String {
    "X-Earshot-Timestamp".into()
}
fn default_tolerance_secs() -> u64 {
    300
}
fn default_max_connections() -> usize {
    256
}
