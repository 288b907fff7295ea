//! `kind = "hn"` (Hacker News): its keys, their defaults and their checks.
//! Doc comments are the user documentation of each key.

use serde::Deserialize;

use crate::config::{check_interval, check_url, HTTP};

/// `kind = "hn"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HnConfig {
    /// Search keywords (Algolia query syntax).
    pub query: String,
    /// Item types: `story`, `comment` (default both).
    #[serde(default = "default_tags")]
    pub tags: Vec<String>,
    /// API base (default `https://hn.algolia.com/api/v1`).
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// Seconds between polls (default 60).
    #[serde(default = "default_poll_interval_secs")]
    pub poll_interval_secs: f64,
    /// Hits per page (default 100; Algolia allows up to 1000).
    #[serde(default = "default_hits_per_page")]
    pub hits_per_page: u32,
    /// Most pages read per poll (default 10).
    #[serde(default = "default_max_pages")]
    pub max_pages: u32,
    /// On the first run, how far back to start, in seconds (default 3600).
    #[serde(default = "default_initial_lookback_secs")]
    pub initial_lookback_secs: u64,
    /// Re-read this many seconds before the cursor, for items indexed late
    /// (default 60; duplicates are dropped by id).
    #[serde(default = "default_overlap_secs")]
    pub overlap_secs: u64,
}

impl HnConfig {
    /// Reports each bad key through `err` as `(k(key), message)`.
    pub(crate) fn validate(&self, k: &dyn Fn(&str) -> String, err: &mut dyn FnMut(String, String)) {
        if self.query.trim().is_empty() {
            err(k("query"), "expected search keywords".into());
        }
        if self.tags.is_empty() || self.tags.iter().any(|t| t != "story" && t != "comment") {
            err(
                k("tags"),
                "expected one or both of \"story\", \"comment\"".into(),
            );
        }
        check_url(&self.base_url, k("base_url"), HTTP, err);
        check_interval(self.poll_interval_secs, k("poll_interval_secs"), err);
        if !(1..=1000).contains(&self.hits_per_page) {
            err(
                k("hits_per_page"),
                format!("{}: expected 1 to 1000", self.hits_per_page),
            );
        }
    }
}

fn default_tags() -> Vec<String> {
    vec!["story".into(), "comment".into()]
}
fn default_base_url() -> String {
    "https://hn.algolia.com/api/v1".into()
}
fn default_poll_interval_secs() -> f64 {
    60.0
}
fn default_hits_per_page() -> u32 {
    100
}
fn default_max_pages() -> u32 {
    10
}
fn default_initial_lookback_secs() -> u64 {
    3600
}
fn default_overlap_secs() -> u64 {
    60
}
