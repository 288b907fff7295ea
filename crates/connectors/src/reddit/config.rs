//! `kind = "reddit"` (Reddit): its keys, their defaults and their checks.
//! Doc comments are the user documentation of each key.

use serde::Deserialize;

use crate::config::{check_interval, check_url, HTTP};

/// `kind = "reddit"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedditConfig {
    /// Subreddits whose `/r/{sub}/new` listing is read (without `r/`).
    #[serde(default)]
    pub subreddits: Vec<String>,
    /// Site-wide searches (`/search?q=...&sort=new`).
    #[serde(default)]
    pub searches: Vec<String>,
    /// Descriptive User-Agent Reddit requires, `platform:app:version (by /u/name)`.
    pub user_agent: String,
    /// Base without a token (default `https://www.reddit.com`).
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// Base with an OAuth token (default `https://oauth.reddit.com`).
    #[serde(default = "default_oauth_base_url")]
    pub oauth_base_url: String,
    /// Environment variable holding an app-only OAuth bearer token
    /// (default `EARSHOT_REDDIT_TOKEN`); unset: anonymous access.
    #[serde(default = "default_token_env")]
    pub token_env: String,
    /// Seconds between polls of each listing (default 60).
    #[serde(default = "default_poll_interval_secs")]
    pub poll_interval_secs: f64,
    /// Most pages read per listing per poll (default 10).
    #[serde(default = "default_max_pages")]
    pub max_pages: u32,
}

impl RedditConfig {
    /// Reports each bad key through `err` as `(k(key), message)`.
    pub(crate) fn validate(&self, k: &dyn Fn(&str) -> String, err: &mut dyn FnMut(String, String)) {
        if self.subreddits.is_empty() && self.searches.is_empty() {
            err(
                k("subreddits"),
                "expected at least one subreddit or search".into(),
            );
        }
        if self
            .subreddits
            .iter()
            .any(|s| s.is_empty() || s.contains('/'))
        {
            err(
                k("subreddits"),
                "expected bare names such as \"rust\" (no `r/`)".into(),
            );
        }
        if self.user_agent.trim().len() < 10 {
            err(
                k("user_agent"),
                "Reddit requires a descriptive User-Agent, `platform:app:version (by /u/name)`"
                    .into(),
            );
        }
        check_url(&self.base_url, k("base_url"), HTTP, err);
        check_url(&self.oauth_base_url, k("oauth_base_url"), HTTP, err);
        check_interval(self.poll_interval_secs, k("poll_interval_secs"), err);
    }
}

fn default_base_url() -> String {
    "https://www.reddit.com".into()
}
fn default_oauth_base_url() -> String {
    "https://oauth.reddit.com".into()
}
fn default_token_env() -> String {
    "EARSHOT_REDDIT_TOKEN".into()
}
fn default_poll_interval_secs() -> f64 {
    60.0
}
fn default_max_pages() -> u32 {
    10
}
