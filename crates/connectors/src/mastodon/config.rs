//! `kind = "mastodon"` (Mastodon): its keys, their defaults and their checks.
//! Doc comments are the user documentation of each key.

use serde::Deserialize;

use crate::config::{check_interval, check_url, HTTP};

/// `kind = "mastodon"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MastodonConfig {
    /// Instance base URL, for example `https://mastodon.social`.
    pub instance: String,
    /// Read the public (federated) timeline (default false).
    #[serde(default)]
    pub public: bool,
    /// Only the instance's local posts on the public timeline (default false).
    #[serde(default)]
    pub local_only: bool,
    /// Hashtag timelines to read (without `#`).
    #[serde(default)]
    pub hashtags: Vec<String>,
    /// Environment variable holding a bearer token (default `EARSHOT_MASTODON_TOKEN`); optional.
    #[serde(default = "default_token_env")]
    pub token_env: String,
    /// Seconds between polls of each timeline (default 60).
    #[serde(default = "default_poll_interval_secs")]
    pub poll_interval_secs: f64,
    /// Statuses per page (default 40, the API's maximum).
    #[serde(default = "default_limit")]
    pub limit: u32,
    /// Most pages read per timeline per poll (default 10).
    #[serde(default = "default_max_pages")]
    pub max_pages: u32,
}

impl MastodonConfig {
    /// Reports each bad key through `err` as `(k(key), message)`.
    pub(crate) fn validate(&self, k: &dyn Fn(&str) -> String, err: &mut dyn FnMut(String, String)) {
        check_url(&self.instance, k("instance"), HTTP, err);
        if !self.public && self.hashtags.is_empty() {
            err(
                k("hashtags"),
                "expected `public = true` or at least one hashtag".into(),
            );
        }
        if self
            .hashtags
            .iter()
            .any(|h| h.is_empty() || h.starts_with('#'))
        {
            err(k("hashtags"), "expected tags without `#`".into());
        }
        if !(1..=40).contains(&self.limit) {
            err(k("limit"), format!("{}: expected 1 to 40", self.limit));
        }
        check_interval(self.poll_interval_secs, k("poll_interval_secs"), err);
    }
}

fn default_token_env() -> String {
    "EARSHOT_MASTODON_TOKEN".into()
}
fn default_poll_interval_secs() -> f64 {
    60.0
}
fn default_limit() -> u32 {
    40
}
fn default_max_pages() -> u32 {
    10
}
