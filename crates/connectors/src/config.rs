//! Connector configuration: the `[cursors]` and `[connect]` tables and the
//! `[[connectors]]` array of `earshot.toml`.
//!
//! Doc comments on these types are the user documentation of each key.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

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

/// The name the lead's issue used for [`ConnectConfig`].
pub type ConnectorsConfig = ConnectConfig;

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

impl SourceConfig {
    /// The `kind` string.
    pub fn kind(&self) -> &'static str {
        match self {
            SourceConfig::Rss(_) => "rss",
            SourceConfig::Hn(_) => "hn",
            SourceConfig::Reddit(_) => "reddit",
            SourceConfig::Mastodon(_) => "mastodon",
            SourceConfig::Bluesky(_) => "bluesky",
            SourceConfig::Webhook(_) => "webhook",
            SourceConfig::File(_) => "file",
            SourceConfig::X(_) => "x",
            SourceConfig::Youtube(_) => "youtube",
        }
    }
}

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
    #[serde(default = "default_rss_interval")]
    pub poll_interval_secs: f64,
    /// Fetch every feed once, then stop (default false: poll on the interval).
    #[serde(default)]
    pub one_shot: bool,
}

/// `kind = "hn"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HnConfig {
    /// Search keywords (Algolia query syntax).
    pub query: String,
    /// Item types: `story`, `comment` (default both).
    #[serde(default = "default_hn_tags")]
    pub tags: Vec<String>,
    /// API base (default `https://hn.algolia.com/api/v1`).
    #[serde(default = "default_hn_base")]
    pub base_url: String,
    /// Seconds between polls (default 60).
    #[serde(default = "default_60")]
    pub poll_interval_secs: f64,
    /// Hits per page (default 100; Algolia allows up to 1000).
    #[serde(default = "default_100")]
    pub hits_per_page: u32,
    /// Most pages read per poll (default 10).
    #[serde(default = "default_10")]
    pub max_pages: u32,
    /// On the first run, how far back to start, in seconds (default 3600).
    #[serde(default = "default_3600")]
    pub initial_lookback_secs: u64,
    /// Re-read this many seconds before the cursor, for items indexed late
    /// (default 60; duplicates are dropped by id).
    #[serde(default = "default_60_u")]
    pub overlap_secs: u64,
}

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
    #[serde(default = "default_reddit_base")]
    pub base_url: String,
    /// Base with an OAuth token (default `https://oauth.reddit.com`).
    #[serde(default = "default_reddit_oauth_base")]
    pub oauth_base_url: String,
    /// Environment variable holding an app-only OAuth bearer token
    /// (default `EARSHOT_REDDIT_TOKEN`); unset: anonymous access.
    #[serde(default = "default_reddit_token_env")]
    pub token_env: String,
    /// Seconds between polls of each listing (default 60).
    #[serde(default = "default_60")]
    pub poll_interval_secs: f64,
    /// Most pages read per listing per poll (default 10).
    #[serde(default = "default_10")]
    pub max_pages: u32,
}

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
    #[serde(default = "default_mastodon_token_env")]
    pub token_env: String,
    /// Seconds between polls of each timeline (default 60).
    #[serde(default = "default_60")]
    pub poll_interval_secs: f64,
    /// Statuses per page (default 40, the API's maximum).
    #[serde(default = "default_40")]
    pub limit: u32,
    /// Most pages read per timeline per poll (default 10).
    #[serde(default = "default_10")]
    pub max_pages: u32,
}

/// `kind = "bluesky"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlueskyConfig {
    /// Jetstream subscribe URL (default `wss://jetstream2.us-east.bsky.network/subscribe`).
    #[serde(default = "default_jetstream")]
    pub url: String,
    /// Produce only posts containing one of these words (case-insensitive);
    /// empty: every post (the whole network: thousands a minute).
    #[serde(default)]
    pub keywords: Vec<String>,
    /// Seconds to rewind the cursor on reconnect, to cover the gap (default 5).
    #[serde(default = "default_5")]
    pub rewind_secs: f64,
    /// Most posts produced per batch before the cursor is saved (default 500).
    #[serde(default = "default_500")]
    pub batch_size: usize,
    /// Longest wait in seconds before a partial batch is produced (default 1).
    #[serde(default = "default_1")]
    pub batch_interval_secs: f64,
    /// Seconds to wait before reconnecting after a disconnect; doubles up to
    /// `backoff_max_secs` (default 1).
    #[serde(default = "default_1")]
    pub reconnect_secs: f64,
}

/// `kind = "webhook"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Address to listen on (default `127.0.0.1:8088`).
    #[serde(default = "default_listen")]
    pub listen: String,
    /// Path that accepts `POST` (default `/ingest`).
    #[serde(default = "default_webhook_path")]
    pub path: String,
    /// Environment variable holding the HMAC-SHA256 secret (default
    /// `EARSHOT_WEBHOOK_SECRET`); required: the connector refuses to start without it.
    #[serde(default = "default_webhook_secret_env")]
    pub secret_env: String,
    /// Header carrying `sha256=<hex HMAC of "<timestamp>.<body>">` (default `X-Earshot-Signature`).
    #[serde(default = "default_signature_header")]
    pub signature_header: String,
    /// Header carrying the Unix time in seconds at which the request was
    /// signed (default `X-Earshot-Timestamp`).
    #[serde(default = "default_timestamp_header")]
    pub timestamp_header: String,
    /// Largest difference in seconds between the signed timestamp and the
    /// receiver's clock (default 300). A signature is remembered this long,
    /// so the same request cannot be replayed.
    #[serde(default = "default_tolerance")]
    pub tolerance_secs: u64,
    /// Most connections served at once (default 256); more wait in the
    /// listen backlog until one closes.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
}

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
    #[serde(default = "default_true")]
    pub progress: bool,
    /// Lines produced per batch before the cursor is saved (default 1000).
    #[serde(default = "default_1000")]
    pub batch_size: usize,
    /// Seconds between checks for new data when watching (default 5).
    #[serde(default = "default_5")]
    pub poll_interval_secs: f64,
    /// Prefix for ids without a `source:` prefix (default `file`).
    #[serde(default = "default_file_source")]
    pub source: String,
}

/// `kind = "x"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct XConfig {
    /// Search query (X query syntax, for example `acme -is:retweet`).
    pub query: String,
    /// API base (default `https://api.x.com/2`).
    #[serde(default = "default_x_base")]
    pub base_url: String,
    /// Environment variable holding the app bearer token (default
    /// `EARSHOT_X_BEARER_TOKEN`); unset: the connector stays off.
    #[serde(default = "default_x_token_env")]
    pub token_env: String,
    /// Seconds between polls (default 60).
    #[serde(default = "default_60")]
    pub poll_interval_secs: f64,
    /// Results per page, 10 to 100 (default 100).
    #[serde(default = "default_100")]
    pub max_results: u32,
    /// Most pages read per poll (default 10).
    #[serde(default = "default_10")]
    pub max_pages: u32,
    /// On the first run, how far back to start, in seconds (default 3600).
    #[serde(default = "default_3600")]
    pub initial_lookback_secs: u64,
}

/// `kind = "youtube"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct YoutubeConfig {
    /// Videos whose comment threads are read.
    pub video_ids: Vec<String>,
    /// API base (default `https://www.googleapis.com/youtube/v3`).
    #[serde(default = "default_youtube_base")]
    pub base_url: String,
    /// Environment variable holding the API key (default
    /// `EARSHOT_YOUTUBE_API_KEY`); unset: the connector stays off.
    #[serde(default = "default_youtube_key_env")]
    pub key_env: String,
    /// Seconds between polls of each video (default 300).
    #[serde(default = "default_rss_interval")]
    pub poll_interval_secs: f64,
    /// Most pages read per video per poll (default 10).
    #[serde(default = "default_10")]
    pub max_pages: u32,
}

/// Keys shared by every kind; the rest of an entry belongs to its kind.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Common {
    name: String,
    #[serde(default = "default_true")]
    enabled: bool,
    #[serde(default)]
    keep_raw: bool,
    #[serde(default = "default_timeout")]
    timeout_secs: f64,
    #[serde(default = "default_max_body")]
    max_body_bytes: usize,
    #[serde(default = "default_retries")]
    max_retries: u32,
    #[serde(default = "default_1")]
    backoff_initial_secs: f64,
    #[serde(default = "default_300")]
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

const KINDS: &str = "rss, hn, reddit, mastodon, bluesky, webhook, file, x, youtube";

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
        let rest = Value::Object(rest);
        let source = match kind.as_str() {
            "rss" => SourceConfig::Rss(serde_json::from_value(rest).map_err(ctx)?),
            "hn" => SourceConfig::Hn(serde_json::from_value(rest).map_err(ctx)?),
            "reddit" => SourceConfig::Reddit(serde_json::from_value(rest).map_err(ctx)?),
            "mastodon" => SourceConfig::Mastodon(serde_json::from_value(rest).map_err(ctx)?),
            "bluesky" => SourceConfig::Bluesky(serde_json::from_value(rest).map_err(ctx)?),
            "webhook" => SourceConfig::Webhook(serde_json::from_value(rest).map_err(ctx)?),
            "file" => SourceConfig::File(serde_json::from_value(rest).map_err(ctx)?),
            "x" => SourceConfig::X(serde_json::from_value(rest).map_err(ctx)?),
            "youtube" => SourceConfig::Youtube(serde_json::from_value(rest).map_err(ctx)?),
            other => {
                return Err(D::Error::custom(format!(
                    "connector `{name}`: unknown kind `{other}`, expected one of {KINDS}"
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
            enabled: true,
            keep_raw: false,
            timeout_secs: default_timeout(),
            max_body_bytes: default_max_body(),
            max_retries: default_retries(),
            backoff_initial_secs: 1.0,
            backoff_max_secs: 300.0,
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
        let default = match self.source {
            SourceConfig::Bluesky(_) => 3600,
            _ => 7 * 24 * 3600,
        };
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
            validate_source(&conn.source, &k, &mut err);
        }
        errors
    }
}

/// Finite and above zero (NaN is neither).
fn positive(v: f64) -> bool {
    v.is_finite() && v > 0.0
}

/// Finite and zero or more.
fn non_negative(v: f64) -> bool {
    v.is_finite() && v >= 0.0
}

fn check_url(v: &str, key: String, schemes: &[&str], err: &mut impl FnMut(String, String)) {
    match url::Url::parse(v) {
        Ok(u) if schemes.contains(&u.scheme()) && u.host().is_some() => {}
        _ => err(
            key,
            format!("`{v}`: expected an absolute {} URL", schemes.join(" or ")),
        ),
    }
}

fn check_interval(v: f64, key: String, err: &mut impl FnMut(String, String)) {
    if !positive(v) {
        err(key, format!("{v}: expected a positive number of seconds"));
    }
}

fn validate_source(
    s: &SourceConfig,
    k: &dyn Fn(&str) -> String,
    err: &mut impl FnMut(String, String),
) {
    const HTTP: &[&str] = &["http", "https"];
    match s {
        SourceConfig::Rss(r) => {
            if r.feeds.is_empty() {
                err(k("feeds"), "expected at least one feed URL".into());
            }
            for (j, f) in r.feeds.iter().enumerate() {
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
            check_interval(r.poll_interval_secs, k("poll_interval_secs"), err);
        }
        SourceConfig::Hn(h) => {
            if h.query.trim().is_empty() {
                err(k("query"), "expected search keywords".into());
            }
            if h.tags.is_empty() || h.tags.iter().any(|t| t != "story" && t != "comment") {
                err(
                    k("tags"),
                    "expected one or both of \"story\", \"comment\"".into(),
                );
            }
            check_url(&h.base_url, k("base_url"), HTTP, err);
            check_interval(h.poll_interval_secs, k("poll_interval_secs"), err);
            if !(1..=1000).contains(&h.hits_per_page) {
                err(
                    k("hits_per_page"),
                    format!("{}: expected 1 to 1000", h.hits_per_page),
                );
            }
        }
        SourceConfig::Reddit(r) => {
            if r.subreddits.is_empty() && r.searches.is_empty() {
                err(
                    k("subreddits"),
                    "expected at least one subreddit or search".into(),
                );
            }
            if r.subreddits.iter().any(|s| s.is_empty() || s.contains('/')) {
                err(
                    k("subreddits"),
                    "expected bare names such as \"rust\" (no `r/`)".into(),
                );
            }
            if r.user_agent.trim().len() < 10 {
                err(
                    k("user_agent"),
                    "Reddit requires a descriptive User-Agent, `platform:app:version (by /u/name)`"
                        .into(),
                );
            }
            check_url(&r.base_url, k("base_url"), HTTP, err);
            check_url(&r.oauth_base_url, k("oauth_base_url"), HTTP, err);
            check_interval(r.poll_interval_secs, k("poll_interval_secs"), err);
        }
        SourceConfig::Mastodon(m) => {
            check_url(&m.instance, k("instance"), HTTP, err);
            if !m.public && m.hashtags.is_empty() {
                err(
                    k("hashtags"),
                    "expected `public = true` or at least one hashtag".into(),
                );
            }
            if m.hashtags
                .iter()
                .any(|h| h.is_empty() || h.starts_with('#'))
            {
                err(k("hashtags"), "expected tags without `#`".into());
            }
            if !(1..=40).contains(&m.limit) {
                err(k("limit"), format!("{}: expected 1 to 40", m.limit));
            }
            check_interval(m.poll_interval_secs, k("poll_interval_secs"), err);
        }
        SourceConfig::Bluesky(b) => {
            check_url(&b.url, k("url"), &["ws", "wss"], err);
            if b.batch_size == 0 {
                err(k("batch_size"), "expected at least 1".into());
            }
            check_interval(b.batch_interval_secs, k("batch_interval_secs"), err);
            if !non_negative(b.rewind_secs) {
                err(k("rewind_secs"), "expected 0 or more seconds".into());
            }
        }
        SourceConfig::Webhook(w) => {
            if w.listen.parse::<SocketAddr>().is_err() {
                err(
                    k("listen"),
                    format!("`{}`: expected ip:port such as 127.0.0.1:8088", w.listen),
                );
            }
            if !w.path.starts_with('/') {
                err(
                    k("path"),
                    format!("`{}`: expected a path starting with `/`", w.path),
                );
            }
            if w.secret_env.trim().is_empty() {
                err(
                    k("secret_env"),
                    "expected the name of an environment variable".into(),
                );
            }
            if axum::http::HeaderName::from_bytes(w.timestamp_header.as_bytes()).is_err() {
                err(
                    k("timestamp_header"),
                    format!("`{}`: not a valid header name", w.timestamp_header),
                );
            }
            if !(1..=86_400).contains(&w.tolerance_secs) {
                err(
                    k("tolerance_secs"),
                    format!("{}: expected 1 to 86400 seconds", w.tolerance_secs),
                );
            }
            if w.max_connections == 0 {
                err(k("max_connections"), "0: expected at least 1".into());
            }
            if axum::http::HeaderName::from_bytes(w.signature_header.as_bytes()).is_err() {
                err(
                    k("signature_header"),
                    format!("`{}`: not a valid header name", w.signature_header),
                );
            }
        }
        SourceConfig::File(f) => {
            if f.paths.is_empty() {
                err(k("paths"), "expected at least one file or directory".into());
            }
            if f.batch_size == 0 {
                err(k("batch_size"), "expected at least 1".into());
            }
            if f.source.is_empty() || f.source.contains(':') {
                err(k("source"), "expected a source name without `:`".into());
            }
            check_interval(f.poll_interval_secs, k("poll_interval_secs"), err);
        }
        SourceConfig::X(x) => {
            if x.query.trim().is_empty() {
                err(k("query"), "expected a search query".into());
            }
            check_url(&x.base_url, k("base_url"), HTTP, err);
            if !(10..=100).contains(&x.max_results) {
                err(
                    k("max_results"),
                    format!("{}: expected 10 to 100", x.max_results),
                );
            }
            check_interval(x.poll_interval_secs, k("poll_interval_secs"), err);
        }
        SourceConfig::Youtube(y) => {
            if y.video_ids.is_empty() {
                err(k("video_ids"), "expected at least one video id".into());
            }
            check_url(&y.base_url, k("base_url"), HTTP, err);
            check_interval(y.poll_interval_secs, k("poll_interval_secs"), err);
        }
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
fn default_true() -> bool {
    true
}
fn default_timeout() -> f64 {
    30.0
}
fn default_max_body() -> usize {
    10 << 20
}
fn default_retries() -> u32 {
    5
}
fn default_1() -> f64 {
    1.0
}
fn default_5() -> f64 {
    5.0
}
fn default_60() -> f64 {
    60.0
}
fn default_300() -> f64 {
    300.0
}
fn default_rss_interval() -> f64 {
    300.0
}
fn default_60_u() -> u64 {
    60
}
fn default_3600() -> u64 {
    3600
}
fn default_10() -> u32 {
    10
}
fn default_40() -> u32 {
    40
}
fn default_100() -> u32 {
    100
}
fn default_500() -> usize {
    500
}
fn default_1000() -> usize {
    1000
}
fn default_hn_tags() -> Vec<String> {
    vec!["story".into(), "comment".into()]
}
fn default_hn_base() -> String {
    "https://hn.algolia.com/api/v1".into()
}
fn default_reddit_base() -> String {
    "https://www.reddit.com".into()
}
fn default_reddit_oauth_base() -> String {
    "https://oauth.reddit.com".into()
}
fn default_reddit_token_env() -> String {
    "EARSHOT_REDDIT_TOKEN".into()
}
fn default_mastodon_token_env() -> String {
    "EARSHOT_MASTODON_TOKEN".into()
}
fn default_jetstream() -> String {
    "wss://jetstream2.us-east.bsky.network/subscribe".into()
}
fn default_listen() -> String {
    "127.0.0.1:8088".into()
}
fn default_webhook_path() -> String {
    "/ingest".into()
}
fn default_webhook_secret_env() -> String {
    "EARSHOT_WEBHOOK_SECRET".into()
}
fn default_timestamp_header() -> String {
    "X-Earshot-Timestamp".into()
}
fn default_tolerance() -> u64 {
    300
}
fn default_max_connections() -> usize {
    256
}
fn default_signature_header() -> String {
    "X-Earshot-Signature".into()
}
fn default_file_source() -> String {
    "file".into()
}
fn default_x_base() -> String {
    "https://api.x.com/2".into()
}
fn default_x_token_env() -> String {
    "EARSHOT_X_BEARER_TOKEN".into()
}
fn default_youtube_base() -> String {
    "https://www.googleapis.com/youtube/v3".into()
}
fn default_youtube_key_env() -> String {
    "EARSHOT_YOUTUBE_API_KEY".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_kind_and_validates_clean() {
        let cfg: ConnectConfig = toml::from_str(
            r#"
            [cursors]
            path = "/tmp/c.db"
            [connect]
            per_host_requests_per_second = 2
            [[connectors]]
            name = "blogs"
            kind = "rss"
            poll_interval_secs = 600
            feeds = ["https://example.com/feed.xml", { url = "https://example.org/atom", poll_interval_secs = 60 }]
            [[connectors]]
            name = "hn"
            kind = "hn"
            query = "acme"
            keep_raw = true
            [[connectors]]
            name = "reddit"
            kind = "reddit"
            subreddits = ["rust"]
            searches = ["acme"]
            user_agent = "linux:earshot:0.1 (by /u/acme)"
            [[connectors]]
            name = "masto"
            kind = "mastodon"
            instance = "https://mastodon.social"
            hashtags = ["acme"]
            [[connectors]]
            name = "bsky"
            kind = "bluesky"
            keywords = ["acme"]
            [[connectors]]
            name = "hook"
            kind = "webhook"
            [[connectors]]
            name = "backfill"
            kind = "file"
            paths = ["data/sample.jsonl"]
            one_shot = true
            [[connectors]]
            name = "x"
            kind = "x"
            query = "acme"
            [[connectors]]
            name = "yt"
            kind = "youtube"
            video_ids = ["dQw4w9WgXcQ"]
            "#,
        )
        .unwrap();
        assert_eq!(cfg.connectors.len(), 9);
        assert!(cfg.validate().is_empty(), "{:?}", cfg.validate());
        assert!(cfg.connectors[1].keep_raw);
        let kinds: Vec<_> = cfg.connectors.iter().map(|c| c.source.kind()).collect();
        assert_eq!(
            kinds,
            ["rss", "hn", "reddit", "mastodon", "bluesky", "webhook", "file", "x", "youtube"]
        );
    }

    #[test]
    fn unknown_keys_and_kinds_are_refused_with_the_connector_named() {
        let e = toml::from_str::<ConnectConfig>(
            "[[connectors]]\nname = \"a\"\nkind = \"rss\"\nfeeds = []\nfead = 1\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("connector `a`") && e.contains("fead"), "{e}");
        let e = toml::from_str::<ConnectConfig>("[[connectors]]\nname = \"a\"\nkind = \"rsss\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown kind `rsss`"), "{e}");
    }

    #[test]
    fn validation_names_each_bad_key() {
        let cfg: ConnectConfig = toml::from_str(
            r#"
            [[connectors]]
            name = "a"
            kind = "rss"
            feeds = ["ftp://x"]
            [[connectors]]
            name = "a"
            kind = "webhook"
            listen = "nowhere"
            "#,
        )
        .unwrap();
        let keys: Vec<_> = cfg.validate().into_iter().map(|(k, _)| k).collect();
        assert_eq!(
            keys,
            [
                "connectors[0].feeds[0]",
                "connectors[1].name",
                "connectors[1].listen"
            ]
        );
    }
}
