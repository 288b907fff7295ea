//! Connector configuration: the `[cursors]` and `[connect]` tables and the
//! `[[connectors]]` array of `earshot.toml`.
//!
//! Doc comments on these types are the user documentation of each key.

use std::path::PathBuf;
use std::time::Duration;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use crate::registry::KINDS;
pub use crate::{
    bluesky::BlueskyConfig, file::FileConfig, hn::HnConfig, mastodon::MastodonConfig,
    reddit::RedditConfig, rss::FeedEntry, rss::RssConfig, webhook::WebhookConfig, x::XConfig,
    youtube::YoutubeConfig,
};

/// Everything `earshot connect` reads from `earshot.toml`: the `[cursors]`
/// and `[connect]` tables and the `[[connectors]]` array (all top level).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectConfig {
    /// `[cursors]`: where cursors, seen ids and quarantined payloads are kept.
    #[serde(default)]
    pub cursors: CursorConfig,
    /// `[connect]`: limits shared by every connector of the daemon.
    #[serde(default)]
    pub connect: ConnectSettings,
    /// `[[connectors]]`: one entry per source instance.
    #[serde(default)]
    pub connectors: Vec<ConnectorConfig>,
}

/// `[cursors]`: the durable cursor store (a local SQLite file).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CursorConfig {
    /// Path of the SQLite file (default `.earshot/cursors.db`); its directory
    /// is created when missing.
    #[serde(default = "default_cursor_path")]
    pub path: PathBuf,
}

impl Default for CursorConfig {
    fn default() -> Self {
        CursorConfig {
            path: default_cursor_path(),
        }
    }
}

/// `[connect]`: limits shared by every connector in one daemon.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectSettings {
    /// Most HTTP requests in flight at once across all connectors (default 32).
    #[serde(default = "default_concurrency")]
    pub max_concurrent_requests: usize,
    /// Requests per second allowed to any one host, across all connectors
    /// (default 5; 0 turns the per-host quota off).
    #[serde(default = "default_host_rps")]
    pub per_host_requests_per_second: f64,
    /// Burst allowed above the per-host rate (default 10 requests).
    #[serde(default = "default_host_burst")]
    pub per_host_burst: u32,
    /// `User-Agent` sent by every connector unless one sets its own.
    #[serde(default = "default_user_agent")]
    pub user_agent: String,
    /// Largest bad payload kept in a dead letter; longer ones are cut (default 1 MiB).
    #[serde(default = "default_dead_letter_max")]
    pub dead_letter_max_bytes: usize,
    /// One pass and stop (`earshot run --once`): every polling connector
    /// fetches each feed, timeline or query once and ends; streaming ones
    /// (Bluesky, webhooks) are not started (default false).
    #[serde(default)]
    pub once: bool,
    /// Where cursors and produced ids live: `"sqlite"` (default: the
    /// `[cursors] path` file; this process runs every connector) or
    /// `"kafka"` (a compacted topic; the `earshot connect` processes of
    /// `group` share the connectors). See "Scaling out connectors".
    #[serde(default)]
    pub cursors: crate::share::CursorsKind,
    /// With `cursors = "kafka"`: the processes sharing the connectors
    /// (default `earshot-connect`); names the topics `<group>.assignments`
    /// and `<group>.cursors`.
    #[serde(default = "crate::share::default_group")]
    pub group: String,
    /// With `cursors = "kafka"`: partitions of those two topics when created
    /// (default 12). More processes than partitions leave some idle; do not
    /// change it once the cursor topic exists (it places the cursors).
    #[serde(default = "crate::share::default_partitions")]
    pub partitions: i32,
}

impl Default for ConnectSettings {
    fn default() -> Self {
        ConnectSettings {
            max_concurrent_requests: default_concurrency(),
            per_host_requests_per_second: default_host_rps(),
            per_host_burst: default_host_burst(),
            user_agent: default_user_agent(),
            dead_letter_max_bytes: default_dead_letter_max(),
            once: false,
            cursors: Default::default(),
            group: crate::share::default_group(),
            partitions: crate::share::default_partitions(),
        }
    }
}

/// One `[[connectors]]` entry: the keys every kind shares, plus the keys of its `kind`.
#[derive(Debug, Clone)]
pub struct ConnectorConfig {
    /// Unique instance name; names the cursors and the `earshot-origin`
    /// header (`connect:<name>`). Letters, digits, `.`, `_`, `-`.
    pub name: String,
    /// `false` keeps the entry in the file but does not run it (default true).
    pub enabled: bool,
    /// Keep the source's own JSON in `Post::raw` (default false).
    pub keep_raw: bool,
    /// Timeout of each HTTP request, body included, in seconds (default 30).
    pub timeout_secs: f64,
    /// Largest response body accepted, in bytes (default 10 MiB); larger ones
    /// are dead-lettered (cut to `dead_letter_max_bytes`). For a webhook: the
    /// largest request body; larger ones get `413`.
    pub max_body_bytes: usize,
    /// Retries after a 429, a 5xx, a timeout or a network error (default 5).
    pub max_retries: u32,
    /// First retry delay in seconds; doubles each retry, with jitter (default 1).
    pub backoff_initial_secs: f64,
    /// Longest retry delay in seconds (default 300).
    pub backoff_max_secs: f64,
    /// This instance's own request quota per minute (default none: only the per-host quota).
    pub requests_per_minute: Option<u32>,
    /// How long produced post ids are remembered to drop duplicates, in seconds
    /// (default 7 days; Bluesky: 1 hour).
    pub dedup_retention_secs: Option<u64>,
    /// The kind-specific settings, chosen by `kind`.
    pub source: SourceConfig,
}

/// Kind-specific settings of a connector, chosen by its `kind` key.
#[derive(Debug, Clone)]
pub enum SourceConfig {
    /// `kind = "rss"`: RSS, Atom and JSON Feed.
    Rss(RssConfig),
    /// `kind = "hn"`: Hacker News through the Algolia search API.
    Hn(HnConfig),
    /// `kind = "reddit"`: subreddit and search listings.
    Reddit(RedditConfig),
    /// `kind = "mastodon"`: public and hashtag timelines of one instance.
    Mastodon(MastodonConfig),
    /// `kind = "bluesky"`: the Jetstream websocket.
    Bluesky(BlueskyConfig),
    /// `kind = "webhook"`: an HTTP endpoint posts are pushed to.
    Webhook(WebhookConfig),
    /// `kind = "file"`: JSON Lines replay and backfill.
    File(FileConfig),
    /// `kind = "x"`: X API v2 recent search.
    X(XConfig),
    /// `kind = "youtube"`: YouTube Data API comment threads.
    Youtube(YoutubeConfig),
}

/// Keys shared by every kind; the rest of an entry belongs to its kind.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Common {
    name: String,
    #[serde(default = "default_enabled")]
    enabled: bool,
    #[serde(default)]
    keep_raw: bool,
    #[serde(default = "default_timeout_secs")]
    timeout_secs: f64,
    #[serde(default = "default_max_body_bytes")]
    max_body_bytes: usize,
    #[serde(default = "default_max_retries")]
    max_retries: u32,
    #[serde(default = "default_backoff_initial_secs")]
    backoff_initial_secs: f64,
    #[serde(default = "default_backoff_max_secs")]
    backoff_max_secs: f64,
    #[serde(default)]
    requests_per_minute: Option<u32>,
    #[serde(default)]
    dedup_retention_secs: Option<u64>,
}

const COMMON_KEYS: &[&str] = &[
    "name",
    "enabled",
    "keep_raw",
    "timeout_secs",
    "max_body_bytes",
    "max_retries",
    "backoff_initial_secs",
    "backoff_max_secs",
    "requests_per_minute",
    "dedup_retention_secs",
];

// Hand-written because the entry mixes shared keys with a kind's keys, and
// serde's `flatten` would lose `deny_unknown_fields`: split the table, then
// decode each half strictly.
impl<'de> Deserialize<'de> for ConnectorConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut rest: Map<String, Value> = Map::deserialize(deserializer)?;
        let name = rest
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_string();
        let kind = match rest.remove("kind") {
            Some(Value::String(k)) => k,
            Some(other) => {
                return Err(D::Error::custom(format!(
                    "connector `{name}`: `kind` must be a string, got {other}"
                )))
            }
            None => {
                return Err(D::Error::custom(format!(
                    "connector `{name}`: missing `kind` (one of {KINDS})"
                )))
            }
        };
        let mut common = Map::new();
        for key in COMMON_KEYS {
            if let Some(v) = rest.remove(*key) {
                common.insert((*key).to_string(), v);
            }
        }
        let ctx = |e: serde_json::Error| {
            D::Error::custom(format!("connector `{name}` (kind = \"{kind}\"): {e}"))
        };
        let c: Common = serde_json::from_value(Value::Object(common)).map_err(ctx)?;
        let source = match SourceConfig::parse(&kind, Value::Object(rest)) {
            Some(parsed) => parsed.map_err(ctx)?,
            None => {
                return Err(D::Error::custom(format!(
                    "connector `{name}`: unknown kind `{kind}`, expected one of {KINDS}"
                )))
            }
        };
        Ok(ConnectorConfig {
            name: c.name,
            enabled: c.enabled,
            keep_raw: c.keep_raw,
            timeout_secs: c.timeout_secs,
            max_body_bytes: c.max_body_bytes,
            max_retries: c.max_retries,
            backoff_initial_secs: c.backoff_initial_secs,
            backoff_max_secs: c.backoff_max_secs,
            requests_per_minute: c.requests_per_minute,
            dedup_retention_secs: c.dedup_retention_secs,
            source,
        })
    }
}

impl ConnectorConfig {
    /// A connector with default shared settings (handy for tests and embedding).
    pub fn new(name: impl Into<String>, source: SourceConfig) -> ConnectorConfig {
        ConnectorConfig {
            name: name.into(),
            enabled: default_enabled(),
            keep_raw: false,
            timeout_secs: default_timeout_secs(),
            max_body_bytes: default_max_body_bytes(),
            max_retries: default_max_retries(),
            backoff_initial_secs: default_backoff_initial_secs(),
            backoff_max_secs: default_backoff_max_secs(),
            requests_per_minute: None,
            dedup_retention_secs: None,
            source,
        }
    }

    /// Per-request timeout.
    pub fn timeout(&self) -> Duration {
        secs(self.timeout_secs)
    }

    /// How long produced ids are remembered for deduplication.
    pub fn dedup_retention(&self) -> Duration {
        let default = self.source.default_dedup_retention_secs();
        Duration::from_secs(self.dedup_retention_secs.unwrap_or(default))
    }
}

/// Seconds as a `Duration`, clamping negatives and NaN to zero.
pub(crate) fn secs(s: f64) -> Duration {
    Duration::try_from_secs_f64(s).unwrap_or(Duration::ZERO)
}

impl ConnectConfig {
    /// Every problem with the connector sections, as `(dotted key, message)` pairs.
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut errors = Vec::new();
        let mut err = |k: String, m: String| errors.push((k, m));
        if self.cursors.path.as_os_str().is_empty() {
            err("cursors.path".into(), "expected a file path".into());
        }
        let c = &self.connect;
        if c.max_concurrent_requests == 0 {
            err(
                "connect.max_concurrent_requests".into(),
                "expected at least 1".into(),
            );
        }
        if !non_negative(c.per_host_requests_per_second) {
            err(
                "connect.per_host_requests_per_second".into(),
                "expected 0 (off) or a positive rate".into(),
            );
        }
        if c.per_host_burst == 0 {
            err(
                "connect.per_host_burst".into(),
                "expected at least 1".into(),
            );
        }
        if c.user_agent.trim().is_empty() {
            err(
                "connect.user_agent".into(),
                "expected a non-empty User-Agent".into(),
            );
        }
        crate::share::validate(self, &mut err);
        let mut names = std::collections::HashSet::new();
        for (i, conn) in self.connectors.iter().enumerate() {
            let k = |key: &str| format!("connectors[{i}].{key}");
            let n = &conn.name;
            if n.is_empty()
                || !n
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || "._-".contains(ch))
            {
                err(
                    k("name"),
                    format!("`{n}`: expected letters, digits, '.', '_' or '-'"),
                );
            } else if !names.insert(n.clone()) {
                err(
                    k("name"),
                    format!(
                        "`{n}` is used by two connectors; names key the cursors and must be unique"
                    ),
                );
            }
            if !positive(conn.timeout_secs) {
                err(
                    k("timeout_secs"),
                    format!(
                        "{}: expected a positive number of seconds",
                        conn.timeout_secs
                    ),
                );
            }
            if conn.max_body_bytes == 0 {
                err(k("max_body_bytes"), "expected at least 1".into());
            }
            if !non_negative(conn.backoff_initial_secs)
                || conn.backoff_max_secs < conn.backoff_initial_secs
            {
                err(
                    k("backoff_max_secs"),
                    "expected 0 <= backoff_initial_secs <= backoff_max_secs".into(),
                );
            }
            if conn.requests_per_minute == Some(0) {
                err(
                    k("requests_per_minute"),
                    "expected at least 1 (or leave it out)".into(),
                );
            }
            conn.source.validate(&k, &mut err);
        }
        errors
    }
}

/// The schemes a polled source may fetch.
pub(crate) const HTTP: &[&str] = &["http", "https"];

/// Finite and above zero (NaN is neither).
pub(crate) fn positive(v: f64) -> bool {
    v.is_finite() && v > 0.0
}

/// Finite and zero or more.
pub(crate) fn non_negative(v: f64) -> bool {
    v.is_finite() && v >= 0.0
}

/// Reports `key` unless `v` is an absolute URL of one of `schemes`.
pub(crate) fn check_url(
    v: &str,
    key: String,
    schemes: &[&str],
    err: &mut dyn FnMut(String, String),
) {
    match url::Url::parse(v) {
        Ok(u) if schemes.contains(&u.scheme()) && u.host().is_some() => {}
        _ => err(
            key,
            format!("`{v}`: expected an absolute {} URL", schemes.join(" or ")),
        ),
    }
}

/// Reports `key` unless `v` is a positive number of seconds.
pub(crate) fn check_interval(v: f64, key: String, err: &mut dyn FnMut(String, String)) {
    if !positive(v) {
        err(key, format!("{v}: expected a positive number of seconds"));
    }
}

fn default_cursor_path() -> PathBuf {
    PathBuf::from(".earshot/cursors.db")
}
fn default_concurrency() -> usize {
    32
}
fn default_host_rps() -> f64 {
    5.0
}
fn default_host_burst() -> u32 {
    10
}
fn default_user_agent() -> String {
    format!(
        "earshot/{} (social listening connector)",
        env!("CARGO_PKG_VERSION")
    )
}
fn default_dead_letter_max() -> usize {
    1 << 20
}
fn default_enabled() -> bool {
    true
}
fn default_timeout_secs() -> f64 {
    30.0
}
fn default_max_body_bytes() -> usize {
    10 << 20
}
fn default_max_retries() -> u32 {
    5
}
fn default_backoff_initial_secs() -> f64 {
    1.0
}
fn default_backoff_max_secs() -> f64 {
    300.0
}

#[cfg(test)]
mod tests;
