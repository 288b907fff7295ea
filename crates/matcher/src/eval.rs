//! Evaluating a watchlist against posts an analyst labelled: brand (and
//! competitor, customer) precision, recall and F1 per entity, intent
//! figures, sentiment accuracy, and every miss with the reason, so a
//! watchlist can be tuned by measurement rather than by reading posts.
//!
//! A labelled post is a post (the input shape of `earshot score`) with a
//! `labels` object; a label left out is not evaluated for that post:
//!
//! ```json
//! {"id": "x:1", "text": "Flying Jaguar to Lyon", "labels": {"entities": [], "sentiment": "neutral", "intents": []}}
//! ```

use std::collections::{BTreeMap, BTreeSet};

use earshot_model::{EntityKind, Interaction, Post};
use serde::Deserialize;

use crate::Matcher;

/// What an analyst says about one post.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Labels {
    /// Every brand, competitor and customer id the post is about (an empty
    /// list: about none of them).
    pub entities: Option<Vec<String>>,
    /// `positive`, `neutral` or `negative`.
    pub sentiment: Option<String>,
    /// Every intent the post carries.
    pub intents: Option<Vec<String>>,
}

/// A post with its labels.
#[derive(Debug, Clone)]
pub struct Labelled {
    /// The post.
    pub post: Post,
    /// Its labels.
    pub labels: Labels,
    /// Its line in the labels file (1-based).
    pub line: usize,
}

/// Counts for one entity or intent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Found and labelled.
    pub true_positives: u64,
    /// Found, not labelled.
    pub false_positives: u64,
    /// Labelled, not found.
    pub false_negatives: u64,
}

impl Counts {
    /// Of the found, the share labelled (1 when nothing was found).
    pub fn precision(&self) -> f64 {
        ratio(
            self.true_positives,
            self.true_positives + self.false_positives,
        )
    }

    /// Of the labelled, the share found (1 when nothing was labelled).
    pub fn recall(&self) -> f64 {
        ratio(
            self.true_positives,
            self.true_positives + self.false_negatives,
        )
    }

    /// Harmonic mean of precision and recall.
    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }

    fn add(&mut self, o: Counts) {
        self.true_positives += o.true_positives;
        self.false_positives += o.false_positives;
        self.false_negatives += o.false_negatives;
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        1.0
    } else {
        a as f64 / b as f64
    }
}

/// One disagreement between the matcher and the labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Miss {
    /// The post.
    pub post_id: String,
    /// What disagreed: `entity acme`, `intent complaint`, `sentiment`.
    pub what: String,
    /// `found, not labelled` / `labelled, not found` / `neutral, labelled negative`.
    pub how: String,
    /// Why the matcher decided so: the rule that matched, or its text.
    pub why: String,
}

/// The evaluation of a watchlist.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Evaluation {
    /// Posts read.
    pub posts: u64,
    /// Per brand, competitor or customer id.
    pub entities: BTreeMap<String, Counts>,
    /// All entities together (micro-averaged).
    pub entities_total: Counts,
    /// Per intent.
    pub intents: BTreeMap<String, Counts>,
    /// Posts with a sentiment label, and how many the matcher agreed with.
    pub sentiment: (u64, u64),
    /// `(labelled, found)` → posts, for the sentiment labels.
    pub confusion: BTreeMap<(String, String), u64>,
    /// Every disagreement.
    pub misses: Vec<Miss>,
}

impl Evaluation {
    /// Share of sentiment labels the matcher agreed with.
    pub fn sentiment_accuracy(&self) -> f64 {
        ratio(self.sentiment.1, self.sentiment.0)
    }
}

/// Scores every labelled post with `matcher` and compares.
pub fn evaluate(matcher: &Matcher, posts: &[Labelled]) -> Evaluation {
    let mut e = Evaluation::default();
    for l in posts {
        e.posts += 1;
        let i = matcher.score(&l.post);
        if let Some(want) = &l.labels.entities {
            compare(
                &mut e.entities,
                &mut e.misses,
                &l.post.id,
                "entity",
                want.iter().cloned().collect(),
                i.matches.iter().map(|m| m.entity_id.clone()).collect(),
                |id| why_entity(matcher, &i, id),
            );
        }
        if let Some(want) = &l.labels.intents {
            compare(
                &mut e.intents,
                &mut e.misses,
                &l.post.id,
                "intent",
                want.iter().cloned().collect(),
                i.intents.iter().map(|x| x.as_str().to_string()).collect(),
                |_| format!("compound {:+.2}", i.sentiment.compound),
            );
        }
        if let Some(want) = &l.labels.sentiment {
            let found = i.sentiment.label.as_str();
            e.sentiment.0 += 1;
            *e.confusion
                .entry((want.clone(), found.to_string()))
                .or_default() += 1;
            if want == found {
                e.sentiment.1 += 1;
            } else {
                e.misses.push(Miss {
                    post_id: l.post.id.clone(),
                    what: "sentiment".into(),
                    how: format!("{found}, labelled {want}"),
                    why: format!("compound {:+.2}", i.sentiment.compound),
                });
            }
        }
    }
    for c in e.entities.values() {
        e.entities_total.add(*c);
    }
    e
}

/// The rule that matched `id` (with the context model's words when it
/// decided), the context model's reason for not letting a bare name count,
/// or what the post said.
fn why_entity(matcher: &Matcher, i: &Interaction, id: &str) -> String {
    match i.matches.iter().find(|m| m.entity_id == id) {
        Some(m) => {
            let kind = match m.kind {
                EntityKind::Brand => "brand",
                EntityKind::Competitor => "competitor",
                EntityKind::Customer => "customer",
            };
            format!("{kind} rule `{}`", m.rule)
        }
        None => {
            let text: String = i.post.text.chars().take(100).collect();
            match matcher
                .context_rejections(&i.post)
                .into_iter()
                .find(|(b, _)| b == id)
            {
                Some((_, why)) => format!("bare name, {why}: \"{text}\""),
                None => format!("no rule matched: \"{text}\""),
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn compare(
    counts: &mut BTreeMap<String, Counts>,
    misses: &mut Vec<Miss>,
    post_id: &str,
    what: &str,
    want: BTreeSet<String>,
    found: BTreeSet<String>,
    why: impl Fn(&str) -> String,
) {
    for id in want.union(&found) {
        let c = counts.entry(id.clone()).or_default();
        match (want.contains(id), found.contains(id)) {
            (true, true) => c.true_positives += 1,
            (false, true) => {
                c.false_positives += 1;
                misses.push(Miss {
                    post_id: post_id.to_string(),
                    what: format!("{what} {id}"),
                    how: "found, not labelled".into(),
                    why: why(id),
                });
            }
            (true, false) => {
                c.false_negatives += 1;
                misses.push(Miss {
                    post_id: post_id.to_string(),
                    what: format!("{what} {id}"),
                    how: "labelled, not found".into(),
                    why: why(id),
                });
            }
            (false, false) => {}
        }
    }
}

/// Problems with a labels line.
#[derive(Debug, thiserror::Error)]
pub enum LabelsError {
    /// Not a labelled post.
    #[error("line {line}: {message}")]
    Line {
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
}

/// Parses labelled posts, one JSON object per line (blank lines skipped).
pub fn parse_labelled(text: &str) -> Result<Vec<Labelled>, LabelsError> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let err = |message: String| LabelsError::Line {
            line: n + 1,
            message,
        };
        let mut v: serde_json::Value =
            serde_json::from_str(line).map_err(|e| err(format!("not JSON: {e}")))?;
        let labels = v
            .as_object_mut()
            .and_then(|o| o.remove("labels"))
            .ok_or_else(|| err("expected a `labels` object beside the post".into()))?;
        let labels: Labels = serde_json::from_value(labels).map_err(|e| {
            err(format!(
                "labels: {e} (expected `entities`, `sentiment`, `intents`)"
            ))
        })?;
        if let Some(s) = &labels.sentiment {
            if !matches!(s.as_str(), "positive" | "neutral" | "negative") {
                return Err(err(format!(
                    "labels.sentiment: `{s}`: expected positive, neutral or negative"
                )));
            }
        }
        let post = Post::from_json(v.to_string().as_bytes())
            .map_err(|e| err(format!("not a post: {e}")))?;
        out.push(Labelled {
            post,
            labels,
            line: n + 1,
        });
    }
    Ok(out)
}

/// The first intent label the matcher cannot produce (a typo, or an
/// intent of another config), named with its line and the known intents:
/// evaluated, it would only ever show as missed.
pub fn check_intents(posts: &[Labelled], known: &crate::Labels) -> Result<(), LabelsError> {
    for l in posts {
        for name in l.labels.intents.iter().flatten() {
            if let Some(problem) = known.check_intent(name) {
                return Err(LabelsError::Line {
                    line: l.line,
                    message: format!("labels.intents: {problem}"),
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_misses() {
        let config = crate::MatcherConfig {
            brands: vec!["b.toml".into()],
            detect_language: false,
            ..Default::default()
        };
        let files = crate::MemorySource::default().with(
            "b.toml",
            "[[brand]]\nid = \"jaguar\"\nname = \"Jaguar\"\ncontext = [\"car\", \"drive\"]\n",
        );
        let m = config.compile(&files).unwrap();
        let posts = parse_labelled(concat!(
            "{\"id\": \"x:1\", \"text\": \"my new Jaguar car\", \"labels\": {\"entities\": [\"jaguar\"]}}\n",
            "{\"id\": \"x:2\", \"text\": \"a jaguar in the zoo\", \"labels\": {\"entities\": []}}\n",
            "\n",
            "{\"id\": \"x:3\", \"text\": \"Jaguar service was slow\", \"labels\": {\"entities\": [\"jaguar\"], \"sentiment\": \"negative\"}}\n",
        ))
        .unwrap();
        let e = evaluate(&m, &posts);
        assert_eq!(e.posts, 3);
        let j = e.entities["jaguar"];
        assert_eq!(
            (j.true_positives, j.false_positives, j.false_negatives),
            (1, 0, 1)
        );
        assert_eq!((j.precision(), j.recall()), (1.0, 0.5));
        let miss = e
            .misses
            .iter()
            .find(|m| m.post_id == "x:3" && m.what == "entity jaguar")
            .unwrap();
        assert_eq!(miss.how, "labelled, not found");
        assert!(miss.why.contains("no rule matched"), "{miss:?}");
        assert_eq!(e.sentiment.0, 1);
        assert!(parse_labelled("{\"id\": \"x:1\", \"text\": \"t\"}\n")
            .unwrap_err()
            .to_string()
            .contains("line 1: expected a `labels`"));
        assert!(parse_labelled(
            "{\"id\": \"x:1\", \"text\": \"t\", \"labels\": {\"sentiment\": \"meh\"}}"
        )
        .is_err());
        assert!(
            parse_labelled("{\"id\": \"x:1\", \"text\": \"t\", \"labels\": {\"brands\": []}}")
                .is_err()
        );
    }
}
