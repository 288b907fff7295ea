//! `kind = "file"` (JSON Lines replay): its keys, their defaults and their checks.
//! Doc comments are the user documentation of each key.

use std::path::PathBuf;

use serde::Deserialize;

use crate::config::check_interval;

/// `kind = "file"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Files or directories of JSON Lines posts (`.jsonl`, `.jsonl.gz`; gzip
    /// also detected by content). Directories are read in name order.
    pub paths: Vec<PathBuf>,
    /// Replay once, then stop (default false: keep watching for appended lines and new files).
    #[serde(default)]
    pub one_shot: bool,
    /// Show a progress bar on a terminal (default true).
    #[serde(default = "default_progress")]
    pub progress: bool,
    /// Lines produced per batch before the cursor is saved (default 1000).
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    /// Seconds between checks for new data when watching (default 5).
    #[serde(default = "default_poll_interval_secs")]
    pub poll_interval_secs: f64,
    /// Prefix for ids without a `source:` prefix (default `file`).
    #[serde(default = "default_source")]
    pub source: String,
}

impl FileConfig {
    /// Reports each bad key through `err` as `(k(key), message)`.
    pub(crate) fn validate(&self, k: &dyn Fn(&str) -> String, err: &mut dyn FnMut(String, String)) {
        if self.paths.is_empty() {
            err(k("paths"), "expected at least one file or directory".into());
        }
        if self.batch_size == 0 {
            err(k("batch_size"), "expected at least 1".into());
        }
        if self.source.is_empty() || self.source.contains(':') {
            err(k("source"), "expected a source name without `:`".into());
        }
        check_interval(self.poll_interval_secs, k("poll_interval_secs"), err);
    }
}

fn default_progress() -> bool {
    true
}
fn default_batch_size() -> usize {
    1000
}
fn default_poll_interval_secs() -> f64 {
    5.0
}
fn default_source() -> String {
    "file".into()
}
