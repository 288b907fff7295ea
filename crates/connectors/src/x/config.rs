//! `kind = "x"` (X recent search): its keys, their defaults and their checks.
//! Doc comments are the user documentation of each key.

use serde::Deserialize;

use crate::config::{check_interval, check_url, HTTP};

/// `kind = "x"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct XConfig {
    /// Search query (X query syntax, for example `acme -is:retweet`).
    pub query: String,
    /// API base (default `https://api.x.com/2`).
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// Environment variable holding the app bearer token (default
    /// `EARSHOT_X_BEARER_TOKEN`); unset: the connector stays off.
    #[serde(default = "default_token_env")]
    pub token_env: String,
    /// Seconds between polls (default 60).
    #[serde(default = "default_poll_interval_secs")]
    pub poll_interval_secs: f64,
    /// Results per page, 10 to 100 (default 100).
    #[serde(default = "default_max_results")]
    pub max_results: u32,
    /// Most pages read per poll (default 10).
    #[serde(default = "default_max_pages")]
    pub max_pages: u32,
    /// On the first run, how far back to start, in seconds (default 3600).
    #[serde(default = "default_initial_lookback_secs")]
    pub initial_lookback_secs: u64,
}

impl XConfig {
    /// Reports each bad key through `err` as `(k(key), message)`.
    pub(crate) fn validate(&self, k: &dyn Fn(&str) -> String, err: &mut dyn FnMut(String, String)) {
        if self.query.trim().is_empty() {
            err(k("query"), "expected a search query".into());
        }
        check_url(&self.base_url, k("base_url"), HTTP, err);
        if !(10..=100).contains(&self.max_results) {
            err(
                k("max_results"),
                format!("{}: expected 10 to 100", self.max_results),
            );
        }
        check_interval(self.poll_interval_secs, k("poll_interval_secs"), err);
    }
}

fn default_base_url() -> String {
    "https://api.x.com/2".into()
}
fn default_token_env() -> String {
    "EARSHOT_X_BEARER_TOKEN".into()
}
fn default_poll_interval_secs() -> f64 {
    60.0
}
fn default_max_results() -> u32 {
    100
}
fn default_max_pages() -> u32 {
    10
}
fn default_initial_lookback_secs() -> u64 {
    3600
}
