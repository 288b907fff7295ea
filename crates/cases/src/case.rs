//! The case a CRM receives: one JSON object per post, documented in the
//! README ("Cases to the CRM").

use earshot_model::{EntityKind, Interaction};
use serde::Serialize;

/// Version of the case shape; additive changes keep it.
pub const CASE_VERSION: u16 = 1;

/// A case: the post, who wrote it, what it is about, and why it needs a person.
#[derive(Debug, Clone, Serialize)]
pub struct Case<'a> {
    /// Shape version.
    pub case_version: u16,
    /// `<post id>:<priority>`: the same on every retry (also the
    /// `Idempotency-Key` header); a re-scored post sent again at a higher
    /// priority gets a new one.
    pub case_id: String,
    /// The post id.
    pub post_id: &'a str,
    /// Source network (`x`, `reddit`, `hn`, ...).
    pub source: &'a str,
    /// Link to the original.
    pub url: Option<&'a str>,
    /// When it was published (RFC 3339), when known.
    pub published_at: Option<String>,
    /// Its text.
    pub text: &'a str,
    /// Its author: handle, display name, reach, profile URL.
    pub author: &'a earshot_model::Author,
    /// Matched CRM customer ids (by the author's handle or a mention).
    pub customer_ids: Vec<&'a str>,
    /// Matched brand ids.
    pub brands: Vec<&'a str>,
    /// Matched competitor ids.
    pub competitors: Vec<&'a str>,
    /// The team the post is routed to.
    pub route: &'a str,
    /// 0-100.
    pub priority: u8,
    /// Each routing rule and boost applied, with the values that made it hold.
    pub reasons: &'a [String],
    /// Detected intents, strongest first.
    pub intents: Vec<&'a str>,
    /// Compound sentiment, -1 to 1.
    pub sentiment: f32,
    /// `positive`, `neutral` or `negative`.
    pub sentiment_label: &'static str,
}

impl<'a> Case<'a> {
    /// The case for `i`.
    pub fn of(i: &'a Interaction) -> Case<'a> {
        let ids = |kind: EntityKind| -> Vec<&'a str> {
            let mut v: Vec<&str> = i
                .matches
                .iter()
                .filter(|m| m.kind == kind)
                .map(|m| m.entity_id.as_str())
                .collect();
            v.sort_unstable();
            v.dedup();
            v
        };
        Case {
            case_version: CASE_VERSION,
            case_id: format!("{}:{}", i.post.id, i.priority),
            post_id: &i.post.id,
            source: &i.post.source,
            url: i.post.url.as_deref(),
            published_at: i.post.published_at.map(|t| t.to_rfc3339()),
            text: &i.post.text,
            author: &i.post.author,
            customer_ids: ids(EntityKind::Customer),
            brands: ids(EntityKind::Brand),
            competitors: ids(EntityKind::Competitor),
            route: i.route.as_str(),
            priority: i.priority,
            reasons: &i.priority_reasons,
            intents: i.intents.iter().map(|x| x.as_str()).collect(),
            sentiment: i.sentiment.compound,
            sentiment_label: i.sentiment.label.as_str(),
        }
    }
}
