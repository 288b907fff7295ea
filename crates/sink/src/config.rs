//! `[sink]` section of `earshot.toml`: where scored interactions are stored.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

/// Environment variable holding the ClickHouse password (never put it in a file).
pub const PASSWORD_ENV: &str = "EARSHOT_CLICKHOUSE_PASSWORD";
/// Environment variable overriding `sink.clickhouse.url`.
pub const URL_ENV: &str = "EARSHOT_CLICKHOUSE_URL";

/// `[sink]`: which store receives scored interactions, and how they are batched.
///
/// ```toml
/// [sink]
/// kind = "clickhouse"          # or "sqlite" (the default) or "jsonl"
///
/// [sink.clickhouse]
/// url = "http://127.0.0.1:8123"
/// database = "earshot"
///
/// [sink.batch]
/// max_rows = 50000
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SinkConfig {
    /// Store kind: `sqlite` (default: the embedded store, nothing to install),
    /// `clickhouse` (production), or `jsonl` (one interaction per line, to a file or stdout).
    #[serde(default)]
    pub kind: SinkKind,
    /// Consumer group the sink joins on the scored topic (default `earshot-sink`).
    #[serde(default = "default_group")]
    pub group: String,
    /// When a batch is written.
    #[serde(default)]
    pub batch: BatchConfig,
    /// How transient failures are retried.
    #[serde(default)]
    pub retry: RetryConfig,
    /// ClickHouse connection and schema options (used when `kind = "clickhouse"`).
    #[serde(default)]
    pub clickhouse: ClickHouseConfig,
    /// Embedded store options (used when `kind = "sqlite"`).
    #[serde(default)]
    pub sqlite: SqliteConfig,
    /// JSON-lines output options (used when `kind = "jsonl"`).
    #[serde(default)]
    pub jsonl: JsonlConfig,
}

/// The store a sink writes to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SinkKind {
    /// The embedded SQLite store.
    #[default]
    Sqlite,
    /// A ClickHouse server.
    Clickhouse,
    /// JSON lines to a file or stdout.
    Jsonl,
}

impl SinkKind {
    /// The name used in config files and by [`crate::Sink::name`].
    pub fn as_str(self) -> &'static str {
        match self {
            SinkKind::Sqlite => "sqlite",
            SinkKind::Clickhouse => "clickhouse",
            SinkKind::Jsonl => "jsonl",
        }
    }
}

/// `[sink.batch]`: a batch is written when any limit is reached.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchConfig {
    /// Most rows per batch (default 50,000).
    #[serde(default = "default_max_rows")]
    pub max_rows: usize,
    /// Most bytes of scored JSON per batch (default 10 MiB).
    #[serde(default = "default_max_bytes")]
    pub max_bytes: usize,
    /// Longest a row waits in a batch, in milliseconds (default 1,000): about
    /// one insert per second per table under steady load.
    #[serde(default = "default_max_age_ms")]
    pub max_age_ms: u64,
    /// Most unacknowledged records held by the sink (default: twice `max_rows`,
    /// so one batch fills while the previous one is written). When reached,
    /// consumption pauses: this is the sink's backpressure.
    #[serde(default)]
    pub max_in_flight: Option<usize>,
    /// Write the open batch as soon as no further record is ready, instead of
    /// waiting for a limit. Not a file setting: the embedded mode sets it,
    /// because there its producers wait for the store (end-to-end
    /// acknowledgements), so batching by age would only add latency.
    #[serde(skip)]
    pub flush_when_idle: bool,
}

/// `[sink.retry]`: exponential backoff with jitter for transient failures
/// (network, timeouts, overload). Known transient failures are retried until
/// they pass, each one logged and counted; errors this build does not know
/// are retried `max_unknown_attempts` times and then treated as refused rows
/// (kept in the dead-letter table with the reason), so none is retried forever.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryConfig {
    /// First wait in milliseconds (default 200).
    #[serde(default = "default_initial_backoff_ms")]
    pub initial_backoff_ms: u64,
    /// Longest wait in milliseconds (default 30,000).
    #[serde(default = "default_max_backoff_ms")]
    pub max_backoff_ms: u64,
    /// Attempts at an insert failing with a ClickHouse error code this build
    /// does not classify before its rows are dead-lettered (default 10).
    #[serde(default = "default_max_unknown_attempts")]
    pub max_unknown_attempts: u32,
}

/// `[sink.clickhouse]`: how to reach ClickHouse and shape the schema.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClickHouseConfig {
    /// HTTP endpoint (default `http://127.0.0.1:8123`). Overridden by the
    /// environment variable `EARSHOT_CLICKHOUSE_URL`.
    #[serde(default = "default_url")]
    pub url: String,
    /// Database holding Earshot's tables (default `earshot`); `earshot migrate` creates it.
    #[serde(default = "default_database")]
    pub database: String,
    /// User (default `default`). The password is read from the environment
    /// variable `EARSHOT_CLICKHOUSE_PASSWORD` only.
    #[serde(default = "default_user")]
    pub user: String,
    /// Keep rows this many days, then let ClickHouse drop them (TTL). 0 (default)
    /// keeps everything. Needs ClickHouse 19.6 or later; older servers keep everything
    /// and `earshot migrate` says so.
    #[serde(default)]
    pub retention_days: u32,
    /// Longest wait for one insert or query, in seconds (default 60).
    #[serde(default = "default_timeout_s")]
    pub timeout_s: u64,
    /// A cluster in the servers' `remote_servers` (default: none, one
    /// server). With it, `earshot migrate` creates every table as a
    /// replicated `T_local` on each server `ON CLUSTER` and a `Distributed`
    /// table under the public name `T`, which the sink, reports and
    /// dashboards use (see [`crate::clickhouse::schema::Cluster`]).
    #[serde(default)]
    pub cluster: Option<String>,
    /// ZooKeeper path of each replicated table when `cluster` is set
    /// (default `/clickhouse/tables/{shard}/{database}/{table}`): Earshot
    /// fills in `{database}` and `{table}`, the servers their own macros.
    #[serde(default = "default_replica_path")]
    pub replica_path: String,
}

impl ClickHouseConfig {
    /// The cluster the schema lives on, if one is configured.
    pub fn cluster(&self) -> Option<crate::clickhouse::schema::Cluster> {
        self.cluster
            .as_ref()
            .map(|name| crate::clickhouse::schema::Cluster {
                name: name.clone(),
                replica_path: self.replica_path.clone(),
            })
    }
}

/// `[sink.sqlite]`: the embedded store.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SqliteConfig {
    /// Database file (default `.earshot/earshot.db`; its directory is created).
    #[serde(default = "default_sqlite_path")]
    pub path: PathBuf,
    /// Keep posts this many days (by their time), then delete them with
    /// their mentions, responses and case records: at `earshot migrate`,
    /// when the sink starts, and hourly while it runs. 0 (default) keeps
    /// everything.
    #[serde(default)]
    pub retention_days: u32,
}

/// `[sink.jsonl]`: one scored interaction per line.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonlConfig {
    /// File to append to, or `-` (default) for standard output.
    #[serde(default = "default_jsonl_path")]
    pub path: String,
}

impl Default for SinkConfig {
    fn default() -> Self {
        SinkConfig {
            kind: SinkKind::default(),
            group: default_group(),
            batch: BatchConfig::default(),
            retry: RetryConfig::default(),
            clickhouse: ClickHouseConfig::default(),
            sqlite: SqliteConfig::default(),
            jsonl: JsonlConfig::default(),
        }
    }
}

impl Default for BatchConfig {
    fn default() -> Self {
        BatchConfig {
            max_rows: default_max_rows(),
            max_bytes: default_max_bytes(),
            max_age_ms: default_max_age_ms(),
            max_in_flight: None,
            flush_when_idle: false,
        }
    }
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            initial_backoff_ms: default_initial_backoff_ms(),
            max_backoff_ms: default_max_backoff_ms(),
            max_unknown_attempts: default_max_unknown_attempts(),
        }
    }
}

fn default_max_unknown_attempts() -> u32 {
    10
}

impl Default for ClickHouseConfig {
    fn default() -> Self {
        ClickHouseConfig {
            url: default_url(),
            database: default_database(),
            user: default_user(),
            retention_days: 0,
            timeout_s: default_timeout_s(),
            cluster: None,
            replica_path: default_replica_path(),
        }
    }
}

impl Default for SqliteConfig {
    fn default() -> Self {
        SqliteConfig {
            path: default_sqlite_path(),
            retention_days: 0,
        }
    }
}

impl Default for JsonlConfig {
    fn default() -> Self {
        JsonlConfig {
            path: default_jsonl_path(),
        }
    }
}

impl SinkConfig {
    /// Applies environment overrides: `EARSHOT_CLICKHOUSE_URL` replaces `sink.clickhouse.url`.
    pub fn apply_env(&mut self) {
        if let Ok(url) = std::env::var(URL_ENV) {
            if !url.trim().is_empty() {
                self.clickhouse.url = url.trim().to_string();
            }
        }
    }

    /// Every problem with this section, as `(dotted key, message)` pairs.
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut errors = Vec::new();
        let mut err = |key: &str, msg: String| errors.push((format!("sink.{key}"), msg));
        if !valid_name(&self.group, 255, "._-") {
            err(
                "group",
                format!(
                    "`{}`: expected 1-255 characters of a-z, A-Z, 0-9, '.', '_', '-'",
                    self.group
                ),
            );
        }
        if self.sqlite.retention_days > 36_500 {
            err(
                "sqlite.retention_days",
                format!(
                    "{}: expected 0 (keep forever) to 36500",
                    self.sqlite.retention_days
                ),
            );
        }
        let b = &self.batch;
        if b.max_rows == 0 || b.max_rows > 10_000_000 {
            err(
                "batch.max_rows",
                format!("{}: expected 1 to 10,000,000", b.max_rows),
            );
        }
        if b.max_bytes < 1024 || b.max_bytes > 1 << 30 {
            err(
                "batch.max_bytes",
                format!("{}: expected 1024 to 1073741824 (1 GiB)", b.max_bytes),
            );
        }
        if b.max_age_ms == 0 || b.max_age_ms > 600_000 {
            err(
                "batch.max_age_ms",
                format!("{}: expected 1 to 600000 (10 minutes)", b.max_age_ms),
            );
        }
        if let Some(n) = b.max_in_flight {
            if n < b.max_rows {
                err(
                    "batch.max_in_flight",
                    format!("{n}: expected at least batch.max_rows ({})", b.max_rows),
                );
            }
        }
        let r = &self.retry;
        if r.initial_backoff_ms == 0 || r.initial_backoff_ms > r.max_backoff_ms {
            err(
                "retry.initial_backoff_ms",
                format!(
                    "{}: expected 1 to retry.max_backoff_ms ({})",
                    r.initial_backoff_ms, r.max_backoff_ms
                ),
            );
        }
        if r.max_unknown_attempts == 0 {
            err(
                "retry.max_unknown_attempts",
                format!("{}: expected at least 1", r.max_unknown_attempts),
            );
        }
        if self.kind == SinkKind::Clickhouse {
            let c = &self.clickhouse;
            if !(c.url.starts_with("http://") || c.url.starts_with("https://")) || c.url.len() < 10
            {
                err(
                    "clickhouse.url",
                    format!(
                        "`{}`: expected http://host:port or https://host:port",
                        c.url
                    ),
                );
            }
            if c.url.contains('@') {
                err("clickhouse.url", "credentials must not be in the URL: set EARSHOT_CLICKHOUSE_PASSWORD in the environment".into());
            }
            // The database name is spliced into DDL (identifiers cannot be bound), so only plain names pass.
            if !valid_name(&c.database, 64, "_")
                || c.database.starts_with(|ch: char| ch.is_ascii_digit())
            {
                err("clickhouse.database", format!("`{}`: expected 1-64 characters of a-z, A-Z, 0-9, '_', not starting with a digit", c.database));
            }
            if c.user.is_empty() {
                err("clickhouse.user", "must not be empty".into());
            }
            if c.timeout_s == 0 {
                err(
                    "clickhouse.timeout_s",
                    "0: expected at least 1 second".into(),
                );
            }
            // Both are spliced into DDL (`ON CLUSTER name`, the path as a string literal).
            if let Some(cluster) = &c.cluster {
                if !valid_name(cluster, 64, "_")
                    || cluster.starts_with(|ch: char| ch.is_ascii_digit())
                {
                    err("clickhouse.cluster", format!("`{cluster}`: expected 1-64 characters of a-z, A-Z, 0-9, '_', not starting with a digit (a cluster of the servers' remote_servers)"));
                }
            }
            if !c.replica_path.starts_with('/')
                || !valid_name(&c.replica_path, 255, "_/{}.-")
                || !c.replica_path.contains("{database}")
                || !c.replica_path.contains("{table}")
            {
                err("clickhouse.replica_path", format!("`{}`: expected a ZooKeeper path of at most 255 characters of a-z, A-Z, 0-9, '_', '/', '{{', '}}', '.', '-', starting with '/' and containing {{database}} and {{table}}", c.replica_path));
            }
            if c.retention_days > 36_500 {
                err(
                    "clickhouse.retention_days",
                    format!("{}: expected 0 (keep forever) to 36500", c.retention_days),
                );
            }
        }
        if self.kind == SinkKind::Sqlite && self.sqlite.path.as_os_str().is_empty() {
            err("sqlite.path", "must not be empty".into());
        }
        if self.kind == SinkKind::Jsonl && self.jsonl.path.is_empty() {
            err(
                "jsonl.path",
                "must not be empty (use `-` for standard output)".into(),
            );
        }
        errors
    }

    /// Batch age limit as a duration.
    pub(crate) fn max_age(&self) -> Duration {
        Duration::from_millis(self.batch.max_age_ms)
    }

    /// In-flight budget handed to the consumer.
    pub(crate) fn max_in_flight(&self) -> usize {
        self.batch
            .max_in_flight
            .unwrap_or(self.batch.max_rows.saturating_mul(2))
    }
}

fn valid_name(s: &str, max: usize, extra: &str) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || extra.contains(c))
}

fn default_group() -> String {
    "earshot-sink".into()
}
fn default_max_rows() -> usize {
    50_000
}
fn default_max_bytes() -> usize {
    10 << 20
}
fn default_max_age_ms() -> u64 {
    1_000
}
fn default_initial_backoff_ms() -> u64 {
    200
}
fn default_max_backoff_ms() -> u64 {
    30_000
}
fn default_url() -> String {
    "http://127.0.0.1:8123".into()
}
fn default_database() -> String {
    "earshot".into()
}
fn default_user() -> String {
    "default".into()
}
fn default_replica_path() -> String {
    "/clickhouse/tables/{shard}/{database}/{table}".into()
}
fn default_timeout_s() -> u64 {
    60
}
fn default_sqlite_path() -> PathBuf {
    PathBuf::from(".earshot/earshot.db")
}
fn default_jsonl_path() -> String {
    "-".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_embedded() {
        let cfg: SinkConfig = toml::from_str("").unwrap();
        assert_eq!(cfg.kind, SinkKind::Sqlite);
        assert_eq!(cfg.batch.max_rows, 50_000);
        assert_eq!(cfg.max_in_flight(), 100_000);
        assert!(cfg.validate().is_empty(), "{:?}", cfg.validate());
    }

    #[test]
    fn validation_names_each_bad_key() {
        let cfg: SinkConfig = toml::from_str(
            r#"
            kind = "clickhouse"
            [batch]
            max_rows = 0
            [clickhouse]
            url = "tcp://x"
            database = "earshot; DROP TABLE x"
            cluster = "prod ON CLUSTER x"
            replica_path = "/ch/{shard}/{table}"
            "#,
        )
        .unwrap();
        let keys: Vec<String> = cfg.validate().into_iter().map(|(k, _)| k).collect();
        assert_eq!(
            keys,
            [
                "sink.batch.max_rows",
                "sink.clickhouse.url",
                "sink.clickhouse.database",
                "sink.clickhouse.cluster",
                "sink.clickhouse.replica_path"
            ]
        );
    }

    #[test]
    fn issue_18_a_cluster_is_optional_and_named() {
        let cfg: SinkConfig =
            toml::from_str("kind = \"clickhouse\"\n[clickhouse]\ncluster = \"prod_1\"").unwrap();
        assert!(cfg.validate().is_empty(), "{:?}", cfg.validate());
        let cluster = cfg.clickhouse.cluster().unwrap();
        assert_eq!(cluster.name, "prod_1");
        assert_eq!(
            cluster.replica_path,
            "/clickhouse/tables/{shard}/{database}/{table}"
        );
        let cfg: SinkConfig = toml::from_str("kind = \"clickhouse\"").unwrap();
        assert_eq!(cfg.clickhouse.cluster(), None);
    }

    #[test]
    fn unknown_keys_are_refused() {
        let err = toml::from_str::<SinkConfig>("[clickhouse]\npassword = \"x\"").unwrap_err();
        assert!(
            err.to_string().contains("unknown field `password`"),
            "{err}"
        );
    }
}
