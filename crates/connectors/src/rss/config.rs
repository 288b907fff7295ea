//! `kind = "rss"` (RSS, Atom and JSON Feed): its keys, their defaults and their checks.
//! Doc comments are the user documentation of each key.

use serde::Deserialize;

use crate::config::{check_interval, check_url, HTTP};

/// A feed: a URL, or a table with its own poll interval.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum FeedEntry {
    /// Just the URL; polled every `poll_interval_secs` of the connector.
    Url(String),
    /// A URL with its own interval.
    Table {
        /// Feed URL (`http` or `https`).
        url: String,
        /// Seconds between polls of this feed.
        poll_interval_secs: f64,
    },
}

impl FeedEntry {
    /// The feed URL.
    pub fn url(&self) -> &str {
        match self {
            FeedEntry::Url(u) | FeedEntry::Table { url: u, .. } => u,
        }
    }
}
/// `kind = "rss"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RssConfig {
    /// Feeds: `"https://..."` or `{ url = "https://...", poll_interval_secs = 60 }`.
    pub feeds: Vec<FeedEntry>,
    /// Seconds between polls of each feed (default 300).
    #[serde(default = "default_poll_interval_secs")]
    pub poll_interval_secs: f64,
    /// Fetch every feed once, then stop (default false: poll on the interval).
    #[serde(default)]
    pub one_shot: bool,
}

impl RssConfig {
    /// Reports each bad key through `err` as `(k(key), message)`.
    pub(crate) fn validate(&self, k: &dyn Fn(&str) -> String, err: &mut dyn FnMut(String, String)) {
        if self.feeds.is_empty() {
            err(k("feeds"), "expected at least one feed URL".into());
        }
        for (j, f) in self.feeds.iter().enumerate() {
            check_url(f.url(), k(&format!("feeds[{j}]")), HTTP, err);
            if let FeedEntry::Table {
                poll_interval_secs, ..
            } = f
            {
                check_interval(
                    *poll_interval_secs,
                    k(&format!("feeds[{j}].poll_interval_secs")),
                    err,
                );
            }
        }
        check_interval(self.poll_interval_secs, k("poll_interval_secs"), err);
    }
}

fn default_poll_interval_secs() -> f64 {
    300.0
}
