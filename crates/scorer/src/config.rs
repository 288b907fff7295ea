//! The `[match]` section: the match daemon's settings and their validation.

use serde::Deserialize;

/// Stage name in dead-letter headers and the origin header of scored records.
pub const STAGE: &str = "match";

/// `[match]` section of `earshot.toml`: the match daemon.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatchStageConfig {
    /// Consumer group (default `earshot-match`). Every `earshot match`
    /// process of one group shares the raw topic's partitions.
    #[serde(default = "default_group")]
    pub group: String,
    /// Most raw posts received and not yet acknowledged per process (default
    /// 5,000). When reached, consumption pauses until results are delivered.
    #[serde(default = "default_max_in_flight")]
    pub max_in_flight: usize,
    /// Posts scored together in one task (default 256).
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    /// Batches scored at once on the blocking pool (default 0: one per CPU).
    #[serde(default)]
    pub workers: usize,
    /// How often consumed offsets are committed, in milliseconds (default 1,000).
    #[serde(default = "default_commit_interval_ms")]
    pub commit_interval_ms: u64,
    /// On shutdown, how long to wait for in-flight posts to be delivered
    /// before leaving them to be redelivered, in milliseconds (default 5,000).
    #[serde(default = "default_drain_timeout_ms")]
    pub drain_timeout_ms: u64,
    /// First wait before re-sending a record whose delivery failed, in
    /// milliseconds (default 200); doubles per attempt.
    #[serde(default = "default_retry_backoff_ms")]
    pub retry_backoff_ms: u64,
    /// Longest wait between delivery attempts, in milliseconds (default 10,000).
    #[serde(default = "default_retry_backoff_max_ms")]
    pub retry_backoff_max_ms: u64,
    /// How often progress is logged, in seconds (default 10; 0 disables).
    #[serde(default = "default_progress_interval_secs")]
    pub progress_interval_secs: u64,
    /// Largest scored record produced, in bytes (default 900,000: under
    /// Kafka's default 1 MB message limit with room for key and headers).
    /// A larger one is made to fit: the source's raw JSON is dropped, then
    /// matches are cut to one per entity, then the text is truncated with a
    /// marker; what was cut is named in the `earshot-trimmed` header. A
    /// record that still does not fit is dead-lettered.
    #[serde(default = "default_max_record_bytes")]
    pub max_record_bytes: usize,
}

impl Default for MatchStageConfig {
    fn default() -> Self {
        MatchStageConfig {
            group: default_group(),
            max_in_flight: default_max_in_flight(),
            batch_size: default_batch_size(),
            workers: 0,
            commit_interval_ms: default_commit_interval_ms(),
            drain_timeout_ms: default_drain_timeout_ms(),
            retry_backoff_ms: default_retry_backoff_ms(),
            retry_backoff_max_ms: default_retry_backoff_max_ms(),
            progress_interval_secs: default_progress_interval_secs(),
            max_record_bytes: default_max_record_bytes(),
        }
    }
}

fn default_group() -> String {
    "earshot-match".into()
}
fn default_max_in_flight() -> usize {
    5_000
}
fn default_batch_size() -> usize {
    256
}
fn default_commit_interval_ms() -> u64 {
    1_000
}
fn default_drain_timeout_ms() -> u64 {
    5_000
}
fn default_retry_backoff_ms() -> u64 {
    200
}
fn default_retry_backoff_max_ms() -> u64 {
    10_000
}
fn default_progress_interval_secs() -> u64 {
    10
}
fn default_max_record_bytes() -> usize {
    900_000
}

impl MatchStageConfig {
    /// Every problem with this section, as `(key, message)` pairs.
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut errors = Vec::new();
        let mut check = |ok: bool, key: &str, message: String| {
            if !ok {
                errors.push((format!("match.{key}"), message));
            }
        };
        check(
            !self.group.trim().is_empty(),
            "group",
            "expected a non-empty consumer group name".into(),
        );
        check(
            (1..=1_000_000).contains(&self.max_in_flight),
            "max_in_flight",
            format!("{}: expected 1 to 1000000", self.max_in_flight),
        );
        check(
            (1..=100_000).contains(&self.batch_size),
            "batch_size",
            format!("{}: expected 1 to 100000", self.batch_size),
        );
        check(
            self.workers <= 1024,
            "workers",
            format!("{}: expected 0 (one per CPU) to 1024", self.workers),
        );
        check(
            self.commit_interval_ms >= 10,
            "commit_interval_ms",
            format!("{}: expected at least 10", self.commit_interval_ms),
        );
        check(
            self.retry_backoff_ms >= 1 && self.retry_backoff_ms <= self.retry_backoff_max_ms,
            "retry_backoff_ms",
            format!(
                "{}: expected at least 1 and at most retry_backoff_max_ms ({})",
                self.retry_backoff_ms, self.retry_backoff_max_ms
            ),
        );
        check(
            self.max_record_bytes >= 4096,
            "max_record_bytes",
            format!("{}: expected at least 4096", self.max_record_bytes),
        );
        errors
    }

    pub(crate) fn workers(&self) -> usize {
        match self.workers {
            0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
            n => n,
        }
    }
}
