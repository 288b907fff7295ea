use serde::{Deserialize, Serialize};

/// What the noise filter found about a post: its text fingerprint (set by
/// the matcher), and the near-duplicate cluster and bot-like author flags
/// (set by the match stage, which sees the posts before it).
///
/// Flagged posts stay stored and queryable; dashboards count a cluster once.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Noise {
    /// 64-bit SimHash of the post's normalised words (3-word shingles);
    /// absent when the text has too few words to fingerprint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<u64>,
    /// Id of the first post of the near-duplicate cluster this post joined;
    /// absent for a post that joined none (the first member included).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_id: Option<String>,
    /// Members of that cluster so far, this post included (0 when none).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub cluster_size: u32,
    /// The cluster has reached the configured size: a copy-paste campaign.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub near_duplicate: bool,
    /// The author looks automated; `bot_reasons` says why.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub bot_like: bool,
    /// Why the author was flagged (`rate:…`, `duplicates:…`, `new_account:…`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bot_reasons: Vec<String>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl Noise {
    /// Nothing found and nothing computed (left out of the JSON).
    pub fn is_empty(&self) -> bool {
        *self == Noise::default()
    }

    /// Whether dashboards leave this post out: it repeats an earlier post
    /// of its cluster, whose first member is counted instead.
    pub fn is_repeat(&self) -> bool {
        self.cluster_id.is_some()
    }
}
