//! `[cases]`: which interactions become CRM cases, and where they go.

use earshot_alert::config::valid_env_name;
use earshot_alert::DeliveryConfig;
use earshot_model::{Interaction, Route};
use serde::Deserialize;
use std::time::Duration;

/// `[cases]`: interactions that need a person are sent to the CRM as cases.
/// Off unless the section is present with `enabled = true`.
///
/// ```toml
/// [cases]
/// enabled = true
/// url_env = "EARSHOT_CRM_CASES_URL"
/// secret_env = "EARSHOT_CRM_CASES_SECRET"
/// min_priority = 60
/// routes = ["support", "pr"]
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CasesConfig {
    /// Make cases (default false).
    #[serde(default)]
    pub enabled: bool,
    /// Environment variable holding the CRM endpoint's URL (it may carry a token).
    #[serde(default = "default_url_env")]
    pub url_env: String,
    /// Environment variable holding the HMAC key cases are signed with
    /// (`X-Earshot-Timestamp`, `X-Earshot-Signature: sha256=HMAC(key, "<ts>.<body>")`).
    #[serde(default = "default_secret_env")]
    pub secret_env: String,
    /// Only interactions with at least this priority (0-100, default 60).
    #[serde(default = "default_min_priority")]
    pub min_priority: u8,
    /// Only these routes (default: any route but `none`).
    #[serde(default)]
    pub routes: Vec<String>,
    /// Only posts matching one of these brand or competitor ids (default: any).
    #[serde(default)]
    pub brands: Vec<String>,
    /// Only posts with one of these intents (default: any).
    #[serde(default)]
    pub intents: Vec<String>,
    /// Consumer group of the case maker (default `earshot-cases`).
    #[serde(default = "default_group")]
    pub group: String,
    /// Cases being delivered at once (default 16).
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// Timeouts, attempts and backoff of each case's delivery.
    #[serde(default)]
    pub delivery: DeliveryConfig,
    /// The CRM-facing advocates and detractors the daemon refreshes.
    #[serde(default)]
    pub standings: StandingsConfig,
}

/// `[cases.standings]`: how often `earshot cases` (and `earshot run
/// --follow` with cases enabled) refreshes the CRM-facing table
/// `crm_standings`, over which windows, with which thresholds.
///
/// ```toml
/// [cases.standings]
/// every = "15m"               # "0s": never (refresh with `earshot authors --standings --write`)
/// periods = ["7d", "30d"]     # one set of rows per window ending at the refresh
/// min_posts = 2
/// min_reach = 0
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StandingsConfig {
    /// Time between refreshes (default 15 minutes; zero: none).
    #[serde(
        default = "default_every",
        deserialize_with = "earshot_alert::config::duration"
    )]
    pub every: Duration,
    /// Window lengths, each a period of the table (`7d`, `30d`).
    #[serde(default = "default_periods")]
    pub periods: Vec<String>,
    /// Posts about a brand, of one sentiment, that make an author an
    /// advocate or a detractor (default 2).
    #[serde(default = "default_min_posts")]
    pub min_posts: u64,
    /// Only authors with at least this reach (default 0).
    #[serde(default)]
    pub min_reach: u64,
    /// At most this many rows per period and side (default 1000).
    #[serde(default = "default_limit")]
    pub limit: u32,
}

fn default_every() -> Duration {
    Duration::from_secs(15 * 60)
}
fn default_periods() -> Vec<String> {
    vec!["7d".into(), "30d".into()]
}
fn default_min_posts() -> u64 {
    2
}
fn default_limit() -> u32 {
    1000
}

impl Default for StandingsConfig {
    fn default() -> StandingsConfig {
        StandingsConfig {
            every: default_every(),
            periods: default_periods(),
            min_posts: default_min_posts(),
            min_reach: 0,
            limit: default_limit(),
        }
    }
}

/// The longest window a period may name.
const MAX_PERIOD: Duration = Duration::from_secs(400 * 86_400);

impl StandingsConfig {
    /// The periods with their lengths; errors name the period.
    pub fn windows(&self) -> Result<Vec<(String, Duration)>, String> {
        self.periods
            .iter()
            .map(|p| match humantime::parse_duration(p.trim()) {
                Ok(d) if !d.is_zero() && d <= MAX_PERIOD => Ok((p.trim().to_string(), d)),
                Ok(_) => Err(format!("`{p}`: expected a window from 1s to 400 days")),
                Err(e) => Err(format!("`{p}`: {e}; expected a window such as \"7d\"")),
            })
            .collect()
    }

    fn validate(&self, err: &mut impl FnMut(&str, String)) {
        if let Err(e) = self.windows() {
            err("standings.periods", e);
        }
        if self.min_posts == 0 {
            err("standings.min_posts", "0: expected at least 1".into());
        }
        if !(1..=100_000).contains(&self.limit) {
            err(
                "standings.limit",
                format!("{}: expected 1 to 100000", self.limit),
            );
        }
    }
}

fn default_url_env() -> String {
    "EARSHOT_CRM_CASES_URL".into()
}
fn default_secret_env() -> String {
    "EARSHOT_CRM_CASES_SECRET".into()
}
fn default_min_priority() -> u8 {
    60
}
fn default_group() -> String {
    "earshot-cases".into()
}
fn default_concurrency() -> usize {
    16
}

impl Default for CasesConfig {
    fn default() -> CasesConfig {
        CasesConfig {
            enabled: false,
            url_env: default_url_env(),
            secret_env: default_secret_env(),
            min_priority: default_min_priority(),
            routes: Vec::new(),
            brands: Vec::new(),
            intents: Vec::new(),
            group: default_group(),
            concurrency: default_concurrency(),
            delivery: DeliveryConfig::default(),
            standings: StandingsConfig::default(),
        }
    }
}

impl CasesConfig {
    /// Problems, as `(key, message)` with keys such as `cases.min_priority`.
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut errors = Vec::new();
        let mut err = |key: &str, msg: String| errors.push((format!("cases.{key}"), msg));
        for (key, value) in [("url_env", &self.url_env), ("secret_env", &self.secret_env)] {
            if !valid_env_name(value) {
                err(
                    key,
                    format!("`{value}`: expected an environment variable name (A-Z, 0-9, _)"),
                );
            }
        }
        if self.min_priority > 100 {
            err(
                "min_priority",
                format!("{}: expected 0 to 100", self.min_priority),
            );
        }
        for (i, r) in self.routes.iter().enumerate() {
            match r.parse::<Route>() {
                Ok(r) if r == Route::NONE => err(
                    &format!("routes[{i}]"),
                    "`none`: posts routed nowhere never become cases".into(),
                ),
                Ok(_) => {}
                Err(e) => err(&format!("routes[{i}]"), e.to_string()),
            }
        }
        for (i, intent) in self.intents.iter().enumerate() {
            if let Err(e) = intent.parse::<earshot_model::Intent>() {
                err(&format!("intents[{i}]"), e.to_string());
            }
        }
        if self.group.trim().is_empty() {
            err("group", "expected a consumer group name".into());
        }
        if !(1..=1000).contains(&self.concurrency) {
            err(
                "concurrency",
                format!("{}: expected 1 to 1000", self.concurrency),
            );
        }
        for (key, message) in self.delivery.validate() {
            err(&format!("delivery.{key}"), message);
        }
        self.standings.validate(&mut err);
        errors
    }

    /// Whether `i` needs a case.
    pub fn wants(&self, i: &Interaction) -> bool {
        i.route.is_routed()
            && i.priority >= self.min_priority
            && (self.routes.is_empty() || self.routes.iter().any(|r| r == i.route.as_str()))
            && (self.brands.is_empty()
                || i.matches.iter().any(|m| {
                    m.kind != earshot_model::EntityKind::Customer
                        && self.brands.contains(&m.entity_id)
                }))
            && (self.intents.is_empty()
                || i.intents
                    .iter()
                    .any(|x| self.intents.iter().any(|w| w == x.as_str())))
    }
}
