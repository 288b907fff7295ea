//! What an alert says: the JSON the generic webhook receives, the Slack
//! message built from it, and the top terms of its posts.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use earshot_sink::PostSummary;
use serde::Serialize;
use serde_json::{json, Value};
use unicode_segmentation::UnicodeSegmentation;

use crate::rules::Finding;

/// Characters of a post's text shown in an alert.
pub const EXCERPT_CHARS: usize = 200;

/// One alert, as the generic webhook receives it (JSON).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alert {
    /// `<brand>/<rule>/<window start, Unix seconds>`: the same spike always has the same id.
    pub id: String,
    /// Brand or competitor id.
    pub brand: String,
    /// Rule name.
    pub rule: String,
    /// One line for humans.
    pub summary: String,
    /// The figures behind it.
    pub figures: Figures,
    /// The window the rule looked at.
    pub window: Window,
    /// The window's posts, by author reach.
    pub top_posts: Vec<TopPost>,
    /// The most frequent terms of the window's posts.
    pub top_terms: Vec<Term>,
    /// Where to look (absent without `alert.link`).
    pub link: Option<String>,
    /// When it fired.
    pub fired_at: DateTime<Utc>,
}

/// The figures behind an alert.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figures {
    /// Posts (or, for `negative_share`, the share of negative posts, 0-1) in the window.
    pub observed: f64,
    /// Mean of the baseline.
    pub baseline_mean: f64,
    /// Population standard deviation of the baseline (null for `negative_share`).
    pub stddev: Option<f64>,
    /// The threshold crossed.
    pub threshold: f64,
    /// Posts counted in the window by the rule.
    pub count: u64,
    /// The rule's minimum count.
    pub min_count: u64,
}

/// Window and baseline of an alert.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Window {
    /// Start (inclusive).
    pub start: DateTime<Utc>,
    /// End (exclusive): the evaluation time, rounded down to the minute.
    pub end: DateTime<Utc>,
    /// Start of the baseline (it ends at `start`).
    pub baseline_start: DateTime<Utc>,
}

/// A post in an alert.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TopPost {
    /// Post id.
    pub id: String,
    /// URL ('' when the source has none).
    pub url: String,
    /// The first characters of its text.
    pub excerpt: String,
    /// Sentiment compound score (-1 to 1).
    pub sentiment: f32,
    /// Author reach.
    pub reach: u64,
    /// Author handle.
    pub author: String,
    /// Source kind.
    pub source: String,
}

/// A term and the number of the window's posts containing it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Term {
    /// The term, lower case.
    pub term: String,
    /// Posts containing it.
    pub posts: u64,
}

impl Alert {
    /// Builds the alert of `finding` for `brand` over `[start, end)`, fired at `fired_at`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        brand: &str,
        finding: &Finding,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        posts: &[PostSummary],
        top_posts: usize,
        top_terms: usize,
        link: Option<&str>,
        fired_at: DateTime<Utc>,
    ) -> Alert {
        let rule = finding.rule;
        let baseline_start = start - chrono::Duration::seconds(rule.baseline_secs());
        let summary = summary(brand, finding);
        let texts: Vec<&str> = posts.iter().map(|p| p.text.as_str()).collect();
        Alert {
            id: format!("{brand}/{}/{}", rule.as_str(), start.timestamp()),
            brand: brand.to_string(),
            rule: rule.as_str().to_string(),
            summary,
            figures: Figures {
                observed: finding.observed,
                baseline_mean: finding.mean,
                stddev: finding.stddev,
                threshold: finding.threshold,
                count: finding.count,
                min_count: finding.min_count,
            },
            window: Window {
                start,
                end,
                baseline_start,
            },
            top_posts: posts
                .iter()
                .take(top_posts)
                .map(|p| TopPost {
                    id: p.post_id.clone(),
                    url: p.url.clone(),
                    excerpt: excerpt(&p.text, EXCERPT_CHARS),
                    sentiment: p.compound,
                    reach: p.reach,
                    author: p.author.clone(),
                    source: p.source.clone(),
                })
                .collect(),
            top_terms: top_terms_of(&texts, &[brand], top_terms),
            link: link.and_then(|base| link_for(base, brand, rule.as_str(), baseline_start, end)),
            fired_at,
        }
    }

    /// The Slack incoming-webhook message: `text` (notifications, fallback) and `blocks`.
    pub fn slack(&self) -> Value {
        let f = &self.figures;
        let figures = match f.stddev {
            Some(s) => format!(
                "*Observed* {}  ·  *baseline mean* {:.2}  ·  *σ* {:.2}  ·  *threshold* {:.2}",
                fmt_num(f.observed),
                f.baseline_mean,
                s,
                f.threshold
            ),
            None => format!(
                "*Observed* {:.0}%  ·  *baseline* {:.0}%  ·  *threshold* {:.0}%  ·  {} negative posts",
                f.observed * 100.0,
                f.baseline_mean * 100.0,
                f.threshold * 100.0,
                f.count
            ),
        };
        let window = format!(
            "Window {} – {} UTC",
            self.window.start.format("%Y-%m-%d %H:%M"),
            self.window.end.format("%H:%M")
        );
        let mut blocks = vec![
            json!({"type": "header", "text": {"type": "plain_text", "text": truncate(&format!("{}: {}", self.brand, self.rule), 150)}}),
            json!({"type": "section", "text": {"type": "mrkdwn", "text": escape(&self.summary)}}),
            json!({"type": "section", "text": {"type": "mrkdwn", "text": format!("{figures}\n{window}")}}),
        ];
        if !self.top_posts.is_empty() {
            let lines: Vec<String> = self
                .top_posts
                .iter()
                .map(|p| {
                    let id = if p.url.is_empty() {
                        escape(&p.id)
                    } else {
                        format!("<{}|{}>", escape(&p.url), escape(&p.id))
                    };
                    format!(
                        "• {id} (reach {}, sentiment {:+.2}): {}",
                        p.reach,
                        p.sentiment,
                        escape(&p.excerpt)
                    )
                })
                .collect();
            // Slack refuses a section text over 3,000 characters.
            blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": truncate(&format!("*Top posts*\n{}", lines.join("\n")), 2900)}}));
        }
        if !self.top_terms.is_empty() {
            let terms: Vec<String> = self
                .top_terms
                .iter()
                .map(|t| format!("{} ({})", escape(&t.term), t.posts))
                .collect();
            blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": truncate(&format!("Top terms: {}", terms.join(", ")), 2900)}]}));
        }
        if let Some(link) = &self.link {
            blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": format!("<{}|Open in the dashboard>", escape(link))}}));
        }
        json!({"text": format!("Earshot alert: {}", self.summary), "blocks": blocks})
    }
}

fn summary(brand: &str, f: &Finding) -> String {
    use crate::rules::Rule;
    match f.rule {
        Rule::VolumeSpike1h => format!(
            "{brand}: {} posts in the last hour, against {:.1} an hour over the 12 hours before (threshold {:.1})",
            f.count, f.mean, f.threshold
        ),
        Rule::VolumeSpike24h => format!(
            "{brand}: {} posts in the last 24 hours, against {:.1} a day over the 7 days before (threshold {:.1})",
            f.count, f.mean, f.threshold
        ),
        Rule::NegativeShare => format!(
            "{brand}: {:.0}% of the last hour's posts are negative ({} posts), against {:.0}% over the 12 hours before",
            f.observed * 100.0,
            f.count,
            f.mean * 100.0
        ),
        Rule::PrRiskBurst => format!(
            "{brand}: {} posts with a PR-risk intent in the last hour (threshold {:.0}, {:.1} an hour before)",
            f.count, f.threshold, f.mean
        ),
    }
}

fn fmt_num(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// Slack's mrkdwn control characters, escaped as Slack documents.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn truncate(s: &str, max_chars: usize) -> String {
    if s.chars().count() <= max_chars {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max_chars.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// The first `max_chars` characters of `text`, whitespace collapsed.
pub fn excerpt(text: &str, max_chars: usize) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    truncate(&flat, max_chars)
}

fn link_for(
    base: &str,
    brand: &str,
    rule: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Option<String> {
    let mut url = url::Url::parse(base).ok()?;
    url.query_pairs_mut()
        .append_pair("brand", brand)
        .append_pair("rule", rule)
        .append_pair("from", &from.timestamp_millis().to_string())
        .append_pair("to", &to.timestamp_millis().to_string());
    Some(url.into())
}

/// Words that say nothing about a crisis (English and French).
const STOPWORDS: &[&str] = &[
    "the", "and", "for", "are", "but", "not", "you", "your", "yours", "all", "any", "can", "had",
    "her", "was", "one", "our", "out", "has", "have", "him", "his", "how", "its", "it's", "may",
    "new", "now", "old", "see", "two", "who", "did", "get", "got", "let", "say", "she", "too",
    "use", "with", "this", "that", "from", "they", "them", "then", "than", "there", "their",
    "what", "when", "where", "which", "will", "would", "could", "should", "been", "were", "about",
    "just", "like", "into", "over", "also", "only", "very", "more", "most", "some", "such", "here",
    "because", "these", "those", "being", "does", "doing", "after", "before", "again", "still",
    "even", "i'm", "don't", "didn't", "can't", "won't", "isn't", "les", "des", "une", "est", "pas",
    "que", "qui", "pour", "dans", "sur", "avec", "mais", "nous", "vous", "ils", "elle", "son",
    "ses", "leur", "cette", "http", "https", "www", "com",
];

/// The `n` terms found in the most of `texts` (each counted once per text),
/// ties by term; words of 3+ letters, not stopwords, not in `exclude`.
pub fn top_terms_of(texts: &[&str], exclude: &[&str], n: usize) -> Vec<Term> {
    let mut counts: HashMap<String, u64> = HashMap::new();
    for text in texts {
        let mut seen: Vec<String> = Vec::new();
        for word in text.unicode_words() {
            let w = word.to_lowercase();
            if w.chars().count() < 3
                || w.chars().all(|c| c.is_ascii_digit())
                || STOPWORDS.contains(&w.as_str())
                || exclude.iter().any(|e| e.eq_ignore_ascii_case(&w))
                || seen.contains(&w)
            {
                continue;
            }
            seen.push(w);
        }
        for w in seen {
            *counts.entry(w).or_default() += 1;
        }
    }
    let mut terms: Vec<Term> = counts
        .into_iter()
        .map(|(term, posts)| Term { term, posts })
        .collect();
    terms.sort_by(|a, b| b.posts.cmp(&a.posts).then_with(|| a.term.cmp(&b.term)));
    terms.truncate(n);
    terms
}
