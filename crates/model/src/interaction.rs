use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{default_schema_version, DecodeError, Intent, Noise, Post, Route, SCHEMA_VERSION};

/// A post after the matcher scored it: what it mentions, how it feels,
/// what the author wants, and who should act on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Interaction {
    /// Version of this JSON shape; see [`SCHEMA_VERSION`].
    #[serde(default = "default_schema_version")]
    pub schema_version: u16,
    /// The post as received (with `lang` filled in when it was detected).
    pub post: Post,
    /// Every entity the post matched, in text order.
    pub matches: Vec<Match>,
    /// Sentiment of the whole post.
    pub sentiment: Sentiment,
    /// Sentiment toward single matched entities, listed only where it differs
    /// from the post's overall label.
    #[serde(default)]
    pub entity_sentiment: Vec<EntitySentiment>,
    /// Detected intents, strongest first.
    #[serde(default)]
    pub intents: Vec<Intent>,
    /// Team that should act on it.
    pub route: Route,
    /// Priority from 0 (ignore) to 100 (act now).
    pub priority: u8,
    /// Why the route and priority were chosen (rule names with their inputs).
    #[serde(default)]
    pub priority_reasons: Vec<String>,
    /// Version (content hash) of the compiled watchlist that produced this.
    pub watchlist_version: String,
    /// When the matcher scored it (UTC).
    #[serde(serialize_with = "crate::time::serialize")]
    pub scored_at: DateTime<Utc>,
    /// The post's text was longer than the matcher's `max_text_bytes`: only
    /// its opening was matched and scored (the post itself is kept whole).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
    /// Near-duplicate cluster and bot-like author flags (see [`Noise`]).
    #[serde(default, skip_serializing_if = "Noise::is_empty")]
    pub noise: Noise,
}

/// One entity found in a post.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Match {
    /// Kind of entity.
    pub kind: EntityKind,
    /// The entity's id in the watchlist or CRM.
    pub entity_id: String,
    /// The term, alias, handle or query that matched.
    pub rule: String,
    /// Byte span `[start, end)` in [`Post::full_text`], when a term in the text matched
    /// (absent for author-handle matches).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub span: Option<(usize, usize)>,
}

/// What kind of entity a [`Match`] names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    /// A CRM account.
    Customer,
    /// One of our brands or products.
    Brand,
    /// A competitor's brand.
    Competitor,
}

/// Sentiment scores in the VADER convention.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Sentiment {
    /// Normalized overall score in `[-1, 1]`.
    pub compound: f32,
    /// Share of positive weight, `[0, 1]`.
    pub pos: f32,
    /// Share of neutral weight, `[0, 1]`.
    pub neu: f32,
    /// Share of negative weight, `[0, 1]`.
    pub neg: f32,
    /// Label derived from `compound`.
    pub label: SentimentLabel,
}

/// Three-way sentiment label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SentimentLabel {
    /// Favourable.
    Positive,
    /// Neither, or mixed evenly.
    Neutral,
    /// Unfavourable.
    Negative,
}

/// Sentiment toward one matched entity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntitySentiment {
    /// The entity's id.
    pub entity_id: String,
    /// Compound score of the text around the entity's mentions.
    pub compound: f32,
    /// Label derived from `compound`.
    pub label: SentimentLabel,
}

macro_rules! str_enum {
    ($ty:ty { $($variant:ident => $s:literal),+ $(,)? }) => {
        impl $ty {
            /// The snake_case name used in JSON, SQL and config files.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $s),+ }
            }
            /// Every value, in declaration order.
            pub const ALL: &'static [$ty] = &[$(Self::$variant),+];
        }
        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl std::str::FromStr for $ty {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($s => Ok(Self::$variant),)+
                    other => Err(format!(
                        "unknown value `{other}`, expected one of: {}",
                        [$($s),+].join(", ")
                    )),
                }
            }
        }
    };
}

str_enum!(EntityKind { Customer => "customer", Brand => "brand", Competitor => "competitor" });
str_enum!(SentimentLabel { Positive => "positive", Neutral => "neutral", Negative => "negative" });

impl SentimentLabel {
    /// Label for a compound score with VADER's ±0.05 thresholds.
    pub fn from_compound(compound: f32) -> SentimentLabel {
        Self::from_compound_with(compound, 0.05)
    }

    /// Label for a compound score with a custom neutral band `(-t, t)`.
    pub fn from_compound_with(compound: f32, threshold: f32) -> SentimentLabel {
        if compound >= threshold {
            SentimentLabel::Positive
        } else if compound <= -threshold {
            SentimentLabel::Negative
        } else {
            SentimentLabel::Neutral
        }
    }
}

impl Interaction {
    /// What the matcher makes of a post that names nothing and carries no
    /// sentiment: no matches, neutral, no intents, routed nowhere. Stores
    /// and tests start from it and set what they need.
    pub fn neutral(post: Post, watchlist_version: impl Into<String>) -> Interaction {
        Interaction {
            schema_version: SCHEMA_VERSION,
            post,
            matches: Vec::new(),
            sentiment: Sentiment {
                compound: 0.0,
                pos: 0.0,
                neu: 1.0,
                neg: 0.0,
                label: SentimentLabel::Neutral,
            },
            entity_sentiment: Vec::new(),
            intents: Vec::new(),
            route: Route::NONE,
            priority: 0,
            priority_reasons: Vec::new(),
            watchlist_version: watchlist_version.into(),
            scored_at: Utc::now(),
            truncated: false,
            noise: Noise::default(),
        }
    }

    /// The sentiment toward `entity_id` in this post, as its label and
    /// compound: the entity's own when the matcher scored one (a mention
    /// row stores it), else the whole post's.
    pub fn sentiment_toward(&self, entity_id: &str) -> (SentimentLabel, f32) {
        self.entity_sentiment
            .iter()
            .find(|e| e.entity_id == entity_id)
            .map_or((self.sentiment.label, self.sentiment.compound), |e| {
                (e.label, e.compound)
            })
    }

    /// Decodes and checks the schema version.
    pub fn from_json(bytes: &[u8]) -> Result<Interaction, DecodeError> {
        Interaction::checked(serde_json::from_slice(bytes)?)
    }

    /// The checks [`Interaction::from_json`] applies after decoding, for an
    /// interaction handed over already decoded (the in-memory bus).
    pub fn checked(i: Interaction) -> Result<Interaction, DecodeError> {
        if i.schema_version != SCHEMA_VERSION {
            return Err(DecodeError::SchemaVersion {
                found: i.schema_version,
                expected: SCHEMA_VERSION,
            });
        }
        Ok(i)
    }

    /// Serializes to compact JSON.
    pub fn to_json(&self) -> Vec<u8> {
        // Sized up front: growing the buffer by doubling cost a realloc and a
        // copy of the text several times per post (issue 11).
        let mut out =
            Vec::with_capacity(self.post.json_size_hint() + 160 * self.matches.len() + 768);
        self.write_json(&mut out);
        out
    }

    /// Appends the compact JSON of [`Interaction::to_json`] to `out`.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        // sonic-rs writes the same bytes as serde_json (a test compares
        // them) with SIMD string escaping: a fifth fewer instructions to
        // encode an interaction, which every stage does once per post
        // (issue 11).
        sonic_rs::to_writer(out, self).expect("an Interaction always serializes");
    }

    /// Ids of matched entities of one kind, deduplicated, in first-match order.
    pub fn entities(&self, kind: EntityKind) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for m in self.matches.iter().filter(|m| m.kind == kind) {
            if !out.contains(&m.entity_id.as_str()) {
                out.push(&m.entity_id);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_round_trip_through_strings_and_json() {
        for k in EntityKind::ALL {
            assert_eq!(k.as_str().parse::<EntityKind>().unwrap(), *k);
            assert_eq!(serde_json::to_string(k).unwrap(), format!("\"{k}\""));
        }
        let err = "brnad".parse::<EntityKind>().unwrap_err();
        assert!(err.contains("customer, brand"), "{err}");
    }

    #[test]
    fn label_thresholds() {
        assert_eq!(
            SentimentLabel::from_compound(0.05),
            SentimentLabel::Positive
        );
        assert_eq!(
            SentimentLabel::from_compound(0.0499),
            SentimentLabel::Neutral
        );
        assert_eq!(
            SentimentLabel::from_compound(-0.05),
            SentimentLabel::Negative
        );
    }

    #[test]
    fn interaction_round_trips() {
        let i = Interaction {
            schema_version: SCHEMA_VERSION,
            post: Post::new("rss:1", "Acme rocks"),
            matches: vec![Match {
                kind: EntityKind::Brand,
                entity_id: "acme".into(),
                rule: "acme".into(),
                span: Some((0, 4)),
            }],
            sentiment: Sentiment {
                compound: 0.5,
                pos: 0.6,
                neu: 0.4,
                neg: 0.0,
                label: SentimentLabel::Positive,
            },
            entity_sentiment: vec![],
            intents: vec![Intent::PRAISE],
            route: Route::MARKETING,
            priority: 20,
            priority_reasons: vec!["praise".into()],
            watchlist_version: "abc".into(),
            scored_at: Utc::now(),
            truncated: false,
            noise: Noise::default(),
        };
        let back = Interaction::from_json(&i.to_json()).unwrap();
        assert_eq!(back, i);
        assert_eq!(back.entities(EntityKind::Brand), vec!["acme"]);
    }
}
