//! `kind = "youtube"` (YouTube comments): its keys, their defaults and their checks.
//! Doc comments are the user documentation of each key.

use serde::Deserialize;

use crate::config::{check_interval, check_url, HTTP};

/// `kind = "youtube"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct YoutubeConfig {
    /// Videos whose comment threads are read.
    pub video_ids: Vec<String>,
    /// API base (default `https://www.googleapis.com/youtube/v3`).
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// Environment variable holding the API key (default
    /// `EARSHOT_YOUTUBE_API_KEY`); unset: the connector stays off.
    #[serde(default = "default_key_env")]
    pub key_env: String,
    /// Seconds between polls of each video (default 300).
    #[serde(default = "default_poll_interval_secs")]
    pub poll_interval_secs: f64,
    /// Most pages read per video per poll (default 10).
    #[serde(default = "default_max_pages")]
    pub max_pages: u32,
}

impl YoutubeConfig {
    /// Reports each bad key through `err` as `(k(key), message)`.
    pub(crate) fn validate(&self, k: &dyn Fn(&str) -> String, err: &mut dyn FnMut(String, String)) {
        if self.video_ids.is_empty() {
            err(k("video_ids"), "expected at least one video id".into());
        }
        check_url(&self.base_url, k("base_url"), HTTP, err);
        check_interval(self.poll_interval_secs, k("poll_interval_secs"), err);
    }
}

fn default_base_url() -> String {
    "https://www.googleapis.com/youtube/v3".into()
}
fn default_key_env() -> String {
    "EARSHOT_YOUTUBE_API_KEY".into()
}
fn default_poll_interval_secs() -> f64 {
    300.0
}
fn default_max_pages() -> u32 {
    10
}
