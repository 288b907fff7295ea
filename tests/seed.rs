//! One builder for the scored posts (`Interaction`s) that tests and benches
//! feed to the sink, the console and the stages.
//!
//! It lives in this crate because this crate is already the one every
//! crate's integration tests and the benches crate depend on (as a
//! dev-dependency, or from the benches crate), and never a production crate:
//! nothing here reaches a release build of `earshot`.
//!
//! [`Seed::new`] gives a neutral post about nothing; set the public fields
//! that matter to the test, then [`Seed::build`]:
//!
//! ```
//! use earshot_model::{EntityKind, SentimentLabel};
//! use earshot_tests::seed::Seed;
//!
//! let at = chrono::Utc::now();
//! let mut s = Seed::new("1", at);
//! s.mentions = vec![(EntityKind::Brand, "acme")];
//! s.label = SentimentLabel::Negative;
//! let i = s.build();
//! assert_eq!(i.post.id, "hn:1");
//! assert_eq!(i.sentiment.compound, -0.6);
//! ```

use chrono::{DateTime, Duration, Utc};
use earshot_model::{
    EntityKind, EntitySentiment, Intent, Interaction, Match, Post, Route, Sentiment,
    SentimentLabel, SCHEMA_VERSION,
};

/// One entity a seeded post mentions: its kind and id (the rule is named
/// after the id).
pub type Mention<'a> = (EntityKind, &'a str);

/// Builder for a scored interaction; every field is public and has a default.
#[derive(Clone, Debug)]
pub struct Seed<'a> {
    /// The post id without its source (the post is `<source>:<id>`).
    pub id: String,
    /// When the post was published.
    pub at: DateTime<Utc>,
    /// The entities it matched, in order.
    pub mentions: Vec<Mention<'a>>,
    /// Match spans by mention index; mentions past its end have none.
    pub spans: Vec<(usize, usize)>,
    /// The post's sentiment label.
    pub label: SentimentLabel,
    /// The compound score; `None` takes the label's (±0.6, or 0).
    pub compound: Option<f32>,
    /// The positive, neutral and negative shares.
    pub shares: (f32, f32, f32),
    /// Detected intents.
    pub intents: Vec<Intent>,
    /// Where the post was routed.
    pub route: Route,
    /// Its priority.
    pub priority: u8,
    /// Why it has that priority.
    pub priority_reasons: Vec<String>,
    /// The author's reach (the handle is `author<reach>` unless `handle` is set).
    pub reach: u64,
    /// The author's handle; `None` gives `author<reach>`.
    pub handle: Option<String>,
    /// The source (the post id's prefix).
    pub source: &'a str,
    /// The text; `None` gives `post <id> about things`.
    pub text: Option<String>,
    /// The post's URL.
    pub url: Option<String>,
    /// How long after `at` it was fetched (`None`: not set).
    pub fetched_after: Option<Duration>,
    /// How long after `at` it was scored.
    pub scored_after: Duration,
    /// The watchlist version it was scored with.
    pub watchlist_version: &'a str,
    /// Entity-specific sentiment overrides.
    pub entity_labels: Vec<(&'a str, SentimentLabel)>,
}

/// The compound score a seeded label stands for.
pub fn compound_of(label: SentimentLabel) -> f32 {
    match label {
        SentimentLabel::Positive => 0.6,
        SentimentLabel::Neutral => 0.0,
        SentimentLabel::Negative => -0.6,
    }
}

impl<'a> Seed<'a> {
    /// A neutral `hn` post `id` about nothing, published at `at`, fetched
    /// 5 s and scored 10 s later.
    pub fn new(id: impl Into<String>, at: DateTime<Utc>) -> Seed<'a> {
        Seed {
            id: id.into(),
            at,
            mentions: Vec::new(),
            spans: Vec::new(),
            label: SentimentLabel::Neutral,
            compound: None,
            shares: (0.3, 0.4, 0.3),
            intents: Vec::new(),
            route: Route::NONE,
            priority: 0,
            priority_reasons: Vec::new(),
            reach: 0,
            handle: None,
            source: "hn",
            text: None,
            url: None,
            fetched_after: Some(Duration::seconds(5)),
            scored_after: Duration::seconds(10),
            watchlist_version: "test",
            entity_labels: Vec::new(),
        }
    }

    /// The post alone.
    pub fn post(&self) -> Post {
        let mut post = Post::new(
            format!("{}:{}", self.source, self.id),
            self.text
                .clone()
                .unwrap_or_else(|| format!("post {} about things", self.id)),
        );
        post.published_at = Some(self.at);
        post.fetched_at = self.fetched_after.map(|d| self.at + d);
        post.url = self.url.clone();
        post.author.handle = Some(
            self.handle
                .clone()
                .unwrap_or_else(|| format!("author{}", self.reach)),
        );
        post.author.reach = Some(self.reach);
        post
    }

    /// The scored interaction.
    pub fn build(&self) -> Interaction {
        let (pos, neu, neg) = self.shares;
        Interaction {
            schema_version: SCHEMA_VERSION,
            post: self.post(),
            matches: self
                .mentions
                .iter()
                .enumerate()
                .map(|(n, (kind, id))| Match {
                    kind: *kind,
                    entity_id: id.to_string(),
                    rule: id.to_string(),
                    span: self.spans.get(n).copied(),
                })
                .collect(),
            sentiment: Sentiment {
                compound: self.compound.unwrap_or(compound_of(self.label)),
                pos,
                neu,
                neg,
                label: self.label,
            },
            entity_sentiment: self
                .entity_labels
                .iter()
                .map(|(e, l)| EntitySentiment {
                    entity_id: e.to_string(),
                    compound: compound_of(*l),
                    label: *l,
                })
                .collect(),
            intents: self.intents.clone(),
            route: self.route.clone(),
            priority: self.priority,
            priority_reasons: self.priority_reasons.clone(),
            watchlist_version: self.watchlist_version.into(),
            scored_at: self.at + self.scored_after,
            truncated: false,
            noise: Default::default(),
        }
    }
}
