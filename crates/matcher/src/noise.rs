//! The `[matcher.noise]` section: near-duplicate clustering and bot-like
//! author thresholds. The matcher computes each post's fingerprint; the
//! match stage (`earshot match`, and inside `earshot run`) keeps the window
//! of recent posts and authors and applies the rest. Like the other matcher
//! settings, a changed section takes effect on reload.

use serde::Deserialize;

use crate::error::ConfigError;

/// `[matcher.noise]`: copy-paste campaigns and bot-like authors.
///
/// A post joins a cluster when its fingerprint (a SimHash of its words)
/// is within `max_distance` bits of a post seen in the last `window_minutes`;
/// the cluster's id is its first post's id. From `min_cluster_size`
/// members on, later members are flagged `near_duplicate` and get priority
/// 0 (the first member carries the cluster). Every member after the first
/// is counted once in dashboards through the first. Each `earshot match`
/// process keeps its own window: copies that land on different processes
/// are clustered per process.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoiseConfig {
    /// Fingerprint, cluster and flag posts (default false: opt in). The
    /// bundled samples are built from a few repeated templates, so on them
    /// nearly every post is a near-duplicate.
    #[serde(default)]
    pub enabled: bool,
    /// Posts with fewer words are not fingerprinted (default 6): short
    /// posts ("thanks!") repeat by chance, not by campaign.
    #[serde(default = "default_min_words")]
    pub min_words: usize,
    /// Largest fingerprint distance, in bits of 64, at which two posts are
    /// near-duplicates (default 6, at most 8). Copies (whatever their
    /// handles, links, case and punctuation) are 0 bits apart; one changed
    /// word is within 6 bits in 76 % of 60-word posts and 43 % of 30-word
    /// ones; unrelated posts stay 17 or more apart. Higher finds looser
    /// copies and costs more lookups per post.
    #[serde(default = "default_max_distance")]
    pub max_distance: u32,
    /// How far back posts are compared and authors counted, in minutes of
    /// post time (default 1,440: one day).
    #[serde(default = "default_window_minutes")]
    pub window_minutes: u64,
    /// Members at which a cluster is a campaign and its later members are
    /// flagged `near_duplicate` (default 3).
    #[serde(default = "default_min_cluster_size")]
    pub min_cluster_size: u32,
    /// Most posts (and author posts) kept in the window (default 100,000);
    /// the oldest go first. Bounds the stage's memory.
    #[serde(default = "default_max_entries")]
    pub max_entries: usize,
    /// An author posting more than this many posts within an hour is
    /// bot-like (default 20).
    #[serde(default = "default_bot_posts_per_hour")]
    pub bot_posts_per_hour: u32,
    /// Posts an author needs in the window before their duplicate ratio or
    /// account age counts (default 5).
    #[serde(default = "default_bot_min_posts")]
    pub bot_min_posts: u32,
    /// Share of an author's posts in the window that repeat a cluster, from
    /// which they are bot-like (default 0.8).
    #[serde(default = "default_bot_duplicate_ratio")]
    pub bot_duplicate_ratio: f32,
    /// An account younger than this many days (where the source gives the
    /// account's creation date: Mastodon, X) with `bot_min_posts` posts in
    /// the window is bot-like (default 7; 0 disables).
    #[serde(default = "default_bot_min_account_age_days")]
    pub bot_min_account_age_days: u32,
    /// Highest priority a bot-like author's post keeps (default 10).
    #[serde(default = "default_bot_priority_cap")]
    pub bot_priority_cap: u8,
}

fn default_min_words() -> usize {
    6
}
fn default_max_distance() -> u32 {
    6
}
fn default_window_minutes() -> u64 {
    1_440
}
fn default_min_cluster_size() -> u32 {
    3
}
fn default_max_entries() -> usize {
    100_000
}
fn default_bot_posts_per_hour() -> u32 {
    20
}
fn default_bot_min_posts() -> u32 {
    5
}
fn default_bot_duplicate_ratio() -> f32 {
    0.8
}
fn default_bot_min_account_age_days() -> u32 {
    7
}
fn default_bot_priority_cap() -> u8 {
    10
}

impl Default for NoiseConfig {
    fn default() -> Self {
        NoiseConfig {
            enabled: false,
            min_words: default_min_words(),
            max_distance: default_max_distance(),
            window_minutes: default_window_minutes(),
            min_cluster_size: default_min_cluster_size(),
            max_entries: default_max_entries(),
            bot_posts_per_hour: default_bot_posts_per_hour(),
            bot_min_posts: default_bot_min_posts(),
            bot_duplicate_ratio: default_bot_duplicate_ratio(),
            bot_min_account_age_days: default_bot_min_account_age_days(),
            bot_priority_cap: default_bot_priority_cap(),
        }
    }
}

impl NoiseConfig {
    /// Every problem with the section.
    pub(crate) fn validate(&self) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        let mut check = |ok: bool, key: &str, message: String| {
            if !ok {
                errors.push(ConfigError::new("[matcher.noise]", key, message));
            }
        };
        check(
            (1..=1_000).contains(&self.min_words),
            "min_words",
            format!("{}: expected 1 to 1000", self.min_words),
        );
        check(
            self.max_distance <= 8,
            "max_distance",
            format!("{}: expected 0 to 8 bits", self.max_distance),
        );
        check(
            (1..=7 * 1_440).contains(&self.window_minutes),
            "window_minutes",
            format!("{}: expected 1 to 10080 (a week)", self.window_minutes),
        );
        check(
            self.min_cluster_size >= 2,
            "min_cluster_size",
            format!("{}: expected at least 2", self.min_cluster_size),
        );
        check(
            (1..=10_000_000).contains(&self.max_entries),
            "max_entries",
            format!("{}: expected 1 to 10000000", self.max_entries),
        );
        check(
            self.bot_posts_per_hour >= 1,
            "bot_posts_per_hour",
            format!("{}: expected at least 1", self.bot_posts_per_hour),
        );
        check(
            self.bot_min_posts >= 1,
            "bot_min_posts",
            format!("{}: expected at least 1", self.bot_min_posts),
        );
        check(
            self.bot_duplicate_ratio > 0.0 && self.bot_duplicate_ratio <= 1.0,
            "bot_duplicate_ratio",
            format!(
                "{}: expected above 0 and at most 1",
                self.bot_duplicate_ratio
            ),
        );
        check(
            self.bot_priority_cap <= 100,
            "bot_priority_cap",
            format!("{}: expected 0 to 100", self.bot_priority_cap),
        );
        errors
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_16_noise_defaults_and_bad_values() {
        let c: NoiseConfig = toml::from_str("").unwrap();
        assert_eq!(c, NoiseConfig::default());
        assert!(c.validate().is_empty());
        let c: NoiseConfig =
            toml::from_str("max_distance = 12\nmin_cluster_size = 1\nbot_duplicate_ratio = 1.5")
                .unwrap();
        let keys: Vec<String> = c.validate().into_iter().map(|e| e.key).collect();
        assert_eq!(
            keys,
            ["max_distance", "min_cluster_size", "bot_duplicate_ratio"]
        );
        let e = toml::from_str::<NoiseConfig>("window = 3").unwrap_err();
        assert!(e.to_string().contains("unknown field"), "{e}");
    }
}
