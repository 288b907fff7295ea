//! `kind = "bluesky"` (Bluesky (Jetstream)): its keys, their defaults and their checks.
//! Doc comments are the user documentation of each key.

use serde::Deserialize;

use crate::config::{check_interval, check_url, non_negative};

/// `kind = "bluesky"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlueskyConfig {
    /// Jetstream subscribe URL (default `wss://jetstream2.us-east.bsky.network/subscribe`).
    #[serde(default = "default_url")]
    pub url: String,
    /// Produce only posts containing one of these words (case-insensitive);
    /// empty: every post (the whole network: thousands a minute).
    #[serde(default)]
    pub keywords: Vec<String>,
    /// Seconds to rewind the cursor on reconnect, to cover the gap (default 5).
    #[serde(default = "default_rewind_secs")]
    pub rewind_secs: f64,
    /// Most posts produced per batch before the cursor is saved (default 500).
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    /// Longest wait in seconds before a partial batch is produced (default 1).
    #[serde(default = "default_batch_interval_secs")]
    pub batch_interval_secs: f64,
    /// Seconds to wait before reconnecting after a disconnect; doubles up to
    /// `backoff_max_secs` (default 1).
    #[serde(default = "default_reconnect_secs")]
    pub reconnect_secs: f64,
}

impl BlueskyConfig {
    /// Reports each bad key through `err` as `(k(key), message)`.
    pub(crate) fn validate(&self, k: &dyn Fn(&str) -> String, err: &mut dyn FnMut(String, String)) {
        check_url(&self.url, k("url"), &["ws", "wss"], err);
        if self.batch_size == 0 {
            err(k("batch_size"), "expected at least 1".into());
        }
        check_interval(self.batch_interval_secs, k("batch_interval_secs"), err);
        if !non_negative(self.rewind_secs) {
            err(k("rewind_secs"), "expected 0 or more seconds".into());
        }
    }
}

fn default_url() -> String {
    "wss://jetstream2.us-east.bsky.network/subscribe".into()
}
fn default_rewind_secs() -> f64 {
    5.0
}
fn default_batch_size() -> usize {
    500
}
fn default_batch_interval_secs() -> f64 {
    1.0
}
fn default_reconnect_secs() -> f64 {
    1.0
}
