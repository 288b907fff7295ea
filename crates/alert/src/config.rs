//! The `[alert]` section of `earshot.toml`. The doc comments are the user docs.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// `[alert]`: when `earshot alert` tells the PR team, and where.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertConfig {
    /// How often the daemon evaluates every rule (default `"1m"`; `1s` to `1h`).
    #[serde(default = "default_interval", deserialize_with = "duration")]
    pub interval: Duration,
    /// After an alert for a brand and rule, no other for the same pair is sent
    /// within this time (default `"2h"`), nor for a window overlapping the one
    /// alerted (so the 24-hour rule alerts at most once a day).
    #[serde(default = "default_cooldown", deserialize_with = "duration")]
    pub cooldown: Duration,
    /// Only these brand and competitor ids (default: every one in the watchlist).
    #[serde(default)]
    pub only: Vec<String>,
    /// Intents that count as PR risk for the `pr_risk_burst` rule (default
    /// `["pr_risk", "churn_risk"]`): names `intents.toml` rules produce,
    /// which `earshot` checks when it loads the configuration.
    #[serde(default = "default_pr_risk_intents")]
    pub pr_risk_intents: Vec<String>,
    /// Base URL of the link in each alert (the dashboard or console), e.g.
    /// `"https://grafana.example.com/d/earshot"`; `brand`, `rule`, `from` and
    /// `to` (Unix milliseconds) are added as query parameters. Absent: no link.
    #[serde(default)]
    pub link: Option<String>,
    /// Posts shown in an alert, by author reach (default 5, at most 20).
    #[serde(default = "default_top_posts")]
    pub top_posts: usize,
    /// Terms shown in an alert, most frequent in its posts (default 8, at most 30).
    #[serde(default = "default_top_terms")]
    pub top_terms: usize,
    /// `[alert.defaults]`: thresholds of every brand.
    #[serde(default)]
    pub defaults: ThresholdOverrides,
    /// `[alert.brands.<id>]`: one brand's thresholds, over the defaults.
    #[serde(default)]
    pub brands: BTreeMap<String, ThresholdOverrides>,
    /// `[[alert.channels]]`: where alerts go (every alert to every channel).
    #[serde(default)]
    pub channels: Vec<ChannelConfig>,
    /// `[alert.delivery]`: timeouts and retries.
    #[serde(default)]
    pub delivery: DeliveryConfig,
}

impl Default for AlertConfig {
    fn default() -> AlertConfig {
        AlertConfig {
            interval: default_interval(),
            cooldown: default_cooldown(),
            only: Vec::new(),
            pr_risk_intents: default_pr_risk_intents(),
            link: None,
            top_posts: default_top_posts(),
            top_terms: default_top_terms(),
            defaults: ThresholdOverrides::default(),
            brands: BTreeMap::new(),
            channels: Vec::new(),
            delivery: DeliveryConfig::default(),
        }
    }
}

/// Thresholds; a key left out takes the default (`[alert.defaults]`, then the built-in one).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ThresholdOverrides {
    /// `volume_spike_1h`: the last hour fires above `mean + k·σ` of the 12
    /// hours before (default 3).
    pub k: Option<f64>,
    /// `volume_spike_1h`: and only with at least this many posts in the last hour (default 10).
    pub min_mentions: Option<u64>,
    /// `volume_spike_24h`: the last 24 hours fire above `mean + k·σ` of the 7
    /// days before (default 3).
    pub daily_k: Option<f64>,
    /// `volume_spike_24h`: and only with at least this many posts in the last 24 hours (default 50).
    pub min_daily_mentions: Option<u64>,
    /// `negative_share`: the last hour's share of negative posts must reach this (0-1, default 0.5) ...
    pub negative_share: Option<f64>,
    /// ... and exceed the previous 12 hours' share by at least this (0-1, default 0.2) ...
    pub negative_rise: Option<f64>,
    /// ... with at least this many negative posts in the last hour (default 5).
    pub min_negative: Option<u64>,
    /// `pr_risk_burst`: fires with at least this many posts carrying a PR-risk
    /// intent in the last hour (default 3).
    pub pr_risk_posts: Option<u64>,
}

/// The thresholds of one brand, every default applied.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    /// See [`ThresholdOverrides::k`].
    pub k: f64,
    /// See [`ThresholdOverrides::min_mentions`].
    pub min_mentions: u64,
    /// See [`ThresholdOverrides::daily_k`].
    pub daily_k: f64,
    /// See [`ThresholdOverrides::min_daily_mentions`].
    pub min_daily_mentions: u64,
    /// See [`ThresholdOverrides::negative_share`].
    pub negative_share: f64,
    /// See [`ThresholdOverrides::negative_rise`].
    pub negative_rise: f64,
    /// See [`ThresholdOverrides::min_negative`].
    pub min_negative: u64,
    /// See [`ThresholdOverrides::pr_risk_posts`].
    pub pr_risk_posts: u64,
}

impl Default for Thresholds {
    fn default() -> Thresholds {
        Thresholds {
            k: 3.0,
            min_mentions: 10,
            daily_k: 3.0,
            min_daily_mentions: 50,
            negative_share: 0.5,
            negative_rise: 0.2,
            min_negative: 5,
            pr_risk_posts: 3,
        }
    }
}

impl Thresholds {
    /// `self` with the keys `o` sets replaced.
    pub fn with(self, o: &ThresholdOverrides) -> Thresholds {
        Thresholds {
            k: o.k.unwrap_or(self.k),
            min_mentions: o.min_mentions.unwrap_or(self.min_mentions),
            daily_k: o.daily_k.unwrap_or(self.daily_k),
            min_daily_mentions: o.min_daily_mentions.unwrap_or(self.min_daily_mentions),
            negative_share: o.negative_share.unwrap_or(self.negative_share),
            negative_rise: o.negative_rise.unwrap_or(self.negative_rise),
            min_negative: o.min_negative.unwrap_or(self.min_negative),
            pr_risk_posts: o.pr_risk_posts.unwrap_or(self.pr_risk_posts),
        }
    }
}

/// A channel's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    /// A Slack-compatible incoming webhook: `{"text": ..., "blocks": [...]}`.
    Slack,
    /// Any HTTP endpoint: the alert as JSON, signed with HMAC-SHA256.
    Webhook,
}

impl ChannelKind {
    /// The name used in config, metrics and the delivery table.
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Slack => "slack",
            ChannelKind::Webhook => "webhook",
        }
    }
}

/// `[[alert.channels]]`: one destination.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelConfig {
    /// Name in logs, metrics and the delivery state (default: the kind; unique).
    #[serde(default)]
    pub name: Option<String>,
    /// `"slack"` or `"webhook"`.
    pub kind: ChannelKind,
    /// Environment variable holding the URL (webhook URLs are secrets: never in the file),
    /// e.g. `"EARSHOT_SLACK_WEBHOOK_URL"`.
    pub url_env: String,
    /// `webhook` only, required: environment variable holding the HMAC-SHA256
    /// key. Requests carry `X-Earshot-Timestamp: <unix seconds>` and
    /// `X-Earshot-Signature: sha256=<hex HMAC of "<timestamp>.<body>">`, as
    /// Earshot's webhook connector verifies.
    #[serde(default)]
    pub secret_env: Option<String>,
}

impl ChannelConfig {
    /// The channel's name.
    pub fn name(&self) -> &str {
        self.name.as_deref().unwrap_or(self.kind.as_str())
    }
}

/// `[alert.delivery]`: each request's timeout and the bounded retries.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryConfig {
    /// Timeout of one request, connection included (default `"10s"`).
    #[serde(default = "default_timeout", deserialize_with = "duration")]
    pub timeout: Duration,
    /// Attempts per alert and channel, first included (default 5, at most 20).
    /// Timeouts, connection errors, 429 and 5xx are retried; other answers are not.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// First wait before a retry (default `"1s"`); doubles per attempt.
    #[serde(default = "default_initial_backoff", deserialize_with = "duration")]
    pub initial_backoff: Duration,
    /// Longest wait between attempts (default `"1m"`); a `Retry-After` longer
    /// than this is cut to it, so a channel cannot stall the others for long.
    #[serde(default = "default_max_backoff", deserialize_with = "duration")]
    pub max_backoff: Duration,
}

impl Default for DeliveryConfig {
    fn default() -> DeliveryConfig {
        DeliveryConfig {
            timeout: default_timeout(),
            max_attempts: default_max_attempts(),
            initial_backoff: default_initial_backoff(),
            max_backoff: default_max_backoff(),
        }
    }
}

fn default_interval() -> Duration {
    Duration::from_secs(60)
}
fn default_cooldown() -> Duration {
    Duration::from_secs(2 * 3600)
}
fn default_pr_risk_intents() -> Vec<String> {
    vec!["pr_risk".into(), "churn_risk".into()]
}
fn default_top_posts() -> usize {
    5
}
fn default_top_terms() -> usize {
    8
}
fn default_timeout() -> Duration {
    Duration::from_secs(10)
}
fn default_max_attempts() -> u32 {
    5
}
fn default_initial_backoff() -> Duration {
    Duration::from_secs(1)
}
fn default_max_backoff() -> Duration {
    Duration::from_secs(60)
}

/// A duration as `"90s"`, `"1m"`, `"2h"`, `"1h 30m"`, `"250ms"` (serde's
/// `deserialize_with`; the cases' config uses it too).
pub fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let s = String::deserialize(d)?;
    humantime::parse_duration(s.trim()).map_err(|e| {
        serde::de::Error::custom(format!(
            "`{s}`: {e}; expected a duration such as \"90s\", \"1m\" or \"2h\""
        ))
    })
}

impl AlertConfig {
    /// The thresholds of `brand`: built-in defaults, then `[alert.defaults]`,
    /// then `[alert.brands.<brand>]`.
    pub fn thresholds(&self, brand: &str) -> Thresholds {
        let t = Thresholds::default().with(&self.defaults);
        match self.brands.get(brand) {
            Some(o) => t.with(o),
            None => t,
        }
    }

    /// Every problem, as `(key, message)` with keys under `alert.`. Brand ids
    /// are checked against the watchlist by the caller (see [`AlertConfig::unknown_brands`]).
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut errors = Vec::new();
        let mut err = |key: String, msg: String| errors.push((format!("alert.{key}"), msg));
        let secs = |d: &Duration| d.as_secs_f64();
        if !(1.0..=3600.0).contains(&secs(&self.interval)) {
            err(
                "interval".into(),
                format!(
                    "{:?}: expected 1s to 1h",
                    humantime::format_duration(self.interval).to_string()
                ),
            );
        }
        if self.cooldown > Duration::from_secs(30 * 86_400) {
            err(
                "cooldown".into(),
                "expected at most 30 days (0s disables it)".into(),
            );
        }
        for (i, id) in self.only.iter().enumerate() {
            if id.trim().is_empty() {
                err(format!("only[{i}]"), "empty brand id".into());
            }
        }
        if self.pr_risk_intents.is_empty() {
            err(
                "pr_risk_intents".into(),
                "empty: expected one or more intents (names intents.toml rules produce)".into(),
            );
        }
        for (i, intent) in self.pr_risk_intents.iter().enumerate() {
            if let Err(e) = intent.parse::<earshot_model::Intent>() {
                err(format!("pr_risk_intents[{i}]"), e.to_string());
            }
        }
        if let Some(link) = &self.link {
            match url::Url::parse(link) {
                Ok(u) if matches!(u.scheme(), "http" | "https") => {}
                _ => err(
                    "link".into(),
                    format!("`{link}`: expected an http:// or https:// URL"),
                ),
            }
        }
        if !(1..=20).contains(&self.top_posts) {
            err(
                "top_posts".into(),
                format!("{}: expected 1 to 20", self.top_posts),
            );
        }
        if self.top_terms > 30 {
            err(
                "top_terms".into(),
                format!("{}: expected 0 to 30", self.top_terms),
            );
        }
        check_thresholds("defaults", &self.defaults, &mut err);
        for (brand, o) in &self.brands {
            check_thresholds(&format!("brands.{brand}"), o, &mut err);
        }
        let mut names: Vec<&str> = Vec::new();
        for (i, c) in self.channels.iter().enumerate() {
            let key = |k: &str| format!("channels[{i}].{k}");
            if names.contains(&c.name()) {
                err(
                    key("name"),
                    format!(
                        "`{}`: another channel has this name; give each a distinct `name`",
                        c.name()
                    ),
                );
            }
            names.push(c.name());
            if !valid_env_name(&c.url_env) {
                err(
                    key("url_env"),
                    format!(
                        "`{}`: expected an environment variable name (A-Z, 0-9, _)",
                        c.url_env
                    ),
                );
            }
            match (c.kind, &c.secret_env) {
                (ChannelKind::Webhook, None) => err(
                    key("secret_env"),
                    "required for kind = \"webhook\": the environment variable holding the HMAC key"
                        .into(),
                ),
                (ChannelKind::Webhook, Some(s)) if !valid_env_name(s) => err(
                    key("secret_env"),
                    format!("`{s}`: expected an environment variable name (A-Z, 0-9, _)"),
                ),
                (ChannelKind::Slack, Some(_)) => err(
                    key("secret_env"),
                    "not used by kind = \"slack\" (the URL is the secret); remove it".into(),
                ),
                _ => {}
            }
        }
        for (key, message) in self.delivery.validate() {
            err(format!("delivery.{key}"), message);
        }
        errors
    }

    /// Brand ids named in `only` or `[alert.brands]` that `known` (the
    /// watchlist's brands and competitors) lacks, as `(key, message)`.
    pub fn unknown_brands(&self, known: &[&str]) -> Vec<(String, String)> {
        let expected = if known.is_empty() {
            "(the watchlist has none)".to_string()
        } else {
            known.join(", ")
        };
        let msg = |id: &str| {
            format!(
                "`{id}`: not a brand or competitor of the watchlist; expected one of {expected}"
            )
        };
        let mut out = Vec::new();
        for (i, id) in self.only.iter().enumerate() {
            if !known.contains(&id.as_str()) {
                out.push((format!("alert.only[{i}]"), msg(id)));
            }
        }
        for id in self.brands.keys() {
            if !known.contains(&id.as_str()) {
                out.push((format!("alert.brands.{id}"), msg(id)));
            }
        }
        out
    }
}

fn check_thresholds(section: &str, o: &ThresholdOverrides, err: &mut impl FnMut(String, String)) {
    for (name, v) in [("k", o.k), ("daily_k", o.daily_k)] {
        if let Some(v) = v.filter(|v| !(v.is_finite() && (0.0..=100.0).contains(v))) {
            err(
                format!("{section}.{name}"),
                format!("{v}: expected a number from 0 to 100"),
            );
        }
    }
    for (name, v) in [
        ("negative_share", o.negative_share),
        ("negative_rise", o.negative_rise),
    ] {
        if let Some(v) = v.filter(|v| !(v.is_finite() && (0.0..=1.0).contains(v))) {
            err(
                format!("{section}.{name}"),
                format!("{v}: expected a share from 0 to 1"),
            );
        }
    }
    for (name, v) in [
        ("min_mentions", o.min_mentions),
        ("min_daily_mentions", o.min_daily_mentions),
        ("min_negative", o.min_negative),
        ("pr_risk_posts", o.pr_risk_posts),
    ] {
        if v == Some(0) {
            err(
                format!("{section}.{name}"),
                "0: expected at least 1 (a single post must never page anyone)".into(),
            );
        }
    }
}

impl DeliveryConfig {
    /// Problems, as `(key, message)` with keys relative to the section.
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut errors = Vec::new();
        let mut err = |key: &str, msg: String| errors.push((key.to_string(), msg));
        if !(0.1..=300.0).contains(&self.timeout.as_secs_f64()) {
            err("timeout", "expected 100ms to 5m".into());
        }
        if !(1..=20).contains(&self.max_attempts) {
            err(
                "max_attempts",
                format!("{}: expected 1 to 20", self.max_attempts),
            );
        }
        if self.initial_backoff.is_zero() || self.initial_backoff > self.max_backoff {
            err(
                "initial_backoff",
                "expected more than 0 and at most max_backoff".into(),
            );
        }
        if self.max_backoff > Duration::from_secs(600) {
            err("max_backoff", "expected at most 10m".into());
        }
        errors
    }
}

/// Whether `s` is a plausible environment variable name.
pub fn valid_env_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 255
        && s.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        && !s.starts_with(|c: char| c.is_ascii_digit())
}
