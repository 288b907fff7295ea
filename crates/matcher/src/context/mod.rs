//! The learned context model: for a brand whose name is also a common word
//! (a brand with `context` terms), a bare-name hit whose post holds none of
//! the listed context words is decided from the whole post by a per-brand
//! naive Bayes model over stemmed words, instead of being dropped.
//!
//! The model is data: a JSON file of word counts that `earshot
//! train-context` writes ([`train`]) and the config names (`[matcher]
//! context_model`); it is read with the other config files, so it is part
//! of the watchlist's version and a change to it reloads like a watchlist.
//!
//! Scoring is binarized multinomial naive Bayes with add-one smoothing: a
//! post's distinct stems, other than the brand's own names and listed
//! context words, each add `ln P(w|about) − ln P(w|not about)`. There is no
//! prior: how many posts of each kind the training found says how often the
//! rules fire and analysts label, not how often a bare name is about the
//! brand, and with one a brand with many rule-found posts let bare names
//! count on the prior alone, against every word of the post. The
//! probability is compared with the brand's threshold; a post none of whose
//! words the model knows is not decided (the bare hit does not count, as
//! without a model).

mod stopwords;
pub mod train;

use std::collections::{BTreeMap, HashMap, HashSet};

use rust_stemmers::Stemmer;
use serde::{Deserialize, Serialize};

use crate::error::ConfigError;
use crate::normalize::{is_word_char, Normalizer};
use crate::watchlist::BrandDef;

/// The `format` a model file declares.
pub const FORMAT: &str = "earshot-context-model";
/// The model file version this build reads and writes.
pub const VERSION: u32 = 1;
/// Fewest posts of each class a brand's model needs to be used: with fewer,
/// every word looks like evidence for the class that has them.
pub const MIN_POSTS_PER_CLASS: u64 = 5;
/// Most words a brand's model may hold (the trainer keeps the most frequent).
pub const MAX_WORDS: usize = 50_000;
/// Words named in a decision's explanation.
const EXPLAIN_WORDS: usize = 3;

/// A model file as written: per brand id, the posts of each class and, per
/// stemmed word, in how many posts of each class it appears.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelFile {
    /// Always [`FORMAT`].
    pub format: String,
    /// Always [`VERSION`].
    pub version: u32,
    /// Per brand id.
    pub brands: BTreeMap<String, BrandCounts>,
}

/// One brand's counts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrandCounts {
    /// Posts about the brand.
    pub about: u64,
    /// Posts naming it that are not about it.
    pub not_about: u64,
    /// Per stem: `[posts about the brand holding it, other posts holding it]`.
    pub words: BTreeMap<String, [u64; 2]>,
}

impl ModelFile {
    /// An empty model.
    pub fn new() -> ModelFile {
        ModelFile {
            format: FORMAT.into(),
            version: VERSION,
            brands: BTreeMap::new(),
        }
    }

    /// Reads a model file, checking its format, version and sizes.
    pub fn parse(text: &str) -> Result<ModelFile, String> {
        let m: ModelFile = serde_json::from_str(text).map_err(|e| {
            format!("not a context model: {e} (write it with `earshot train-context`)")
        })?;
        if m.format != FORMAT {
            return Err(format!(
                "format `{}`: expected `{FORMAT}` (write it with `earshot train-context`)",
                m.format
            ));
        }
        if m.version != VERSION {
            return Err(format!(
                "version {}: expected {VERSION} (retrain with this release's `earshot train-context`)",
                m.version
            ));
        }
        for (id, b) in &m.brands {
            if b.words.len() > MAX_WORDS {
                return Err(format!(
                    "brand {id}: {} words, at most {MAX_WORDS}",
                    b.words.len()
                ));
            }
        }
        Ok(m)
    }

    /// The file's text: sorted keys, so equal models are equal bytes.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("counts always serialize");
        s.push('\n');
        s
    }
}

/// Whether a brand's counts can make a model: `Err` says why not (too few
/// posts of a class), and its bare names then count only with a context word.
pub fn usable(c: &BrandCounts) -> Result<(), String> {
    if c.about < MIN_POSTS_PER_CLASS || c.not_about < MIN_POSTS_PER_CLASS {
        return Err(format!(
            "trained on {} post(s) about it and {} not: at least {MIN_POSTS_PER_CLASS} of each are needed; its bare names count only with a context word",
            c.about, c.not_about
        ));
    }
    Ok(())
}

/// One brand's compiled model.
#[derive(Debug, Clone)]
pub(crate) struct BrandModel {
    weights: HashMap<String, f64>,
    /// Probability from which a bare hit counts.
    pub threshold: f64,
}

impl BrandModel {
    /// Compiles counts; `Err` says why the brand's model cannot be used.
    pub fn compile(c: &BrandCounts, threshold: f64) -> Result<BrandModel, String> {
        usable(c)?;
        let v = c.words.len() as f64;
        let (mut n_about, mut n_not) = (0.0, 0.0);
        for [a, n] in c.words.values() {
            n_about += *a as f64;
            n_not += *n as f64;
        }
        let weights = c
            .words
            .iter()
            .map(|(w, [a, n])| {
                let pa = (*a as f64 + 1.0) / (n_about + v);
                let pn = (*n as f64 + 1.0) / (n_not + v);
                (w.clone(), pa.ln() - pn.ln())
            })
            .collect();
        Ok(BrandModel { weights, threshold })
    }

    /// Decides a post from its features.
    pub fn decide(&self, features: &Features) -> Decision {
        let mut score = 0.0;
        let mut known: Vec<(f64, &str)> = Vec::new();
        for (stem, surface) in &features.stems {
            if let Some(&w) = self.weights.get(stem) {
                score += w;
                known.push((w, surface));
            }
        }
        let probability = 1.0 / (1.0 + (-score).exp());
        let any_known = !known.is_empty();
        let accept = any_known && probability >= self.threshold;
        // The words that pushed most towards the decision, strongest first
        // (ties by word, so the explanation is deterministic).
        let sign = if accept { 1.0 } else { -1.0 };
        known.retain(|(w, _)| w * sign > 0.0);
        known.sort_by(|a, b| (b.0 * sign).total_cmp(&(a.0 * sign)).then(a.1.cmp(b.1)));
        known.truncate(EXPLAIN_WORDS);
        Decision {
            accept,
            probability,
            words: known.into_iter().map(|(_, s)| s.to_string()).collect(),
            known: any_known,
        }
    }
}

/// What the model said about one bare-name hit.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// Whether the hit counts.
    pub accept: bool,
    /// The model's probability that the post is about the brand.
    pub probability: f64,
    /// The post's words that tipped it, strongest first.
    pub words: Vec<String>,
    /// Whether the model knew any of the post's words (when not, the hit
    /// does not count, whatever the prior says).
    pub known: bool,
}

impl Decision {
    /// The explanation a match or a miss carries.
    pub fn explain(&self, threshold: f64) -> String {
        if !self.known {
            return "context model: no word of the post is known".into();
        }
        let cmp = if self.accept { "≥" } else { "<" };
        format!(
            "context model {:.2} {cmp} {:.2}: {}",
            self.probability,
            threshold,
            self.words.join(", ")
        )
    }
}

/// A post's distinct stems for one brand, each with a word of the post
/// that has it (for explanations).
#[derive(Debug, Default)]
pub struct Features {
    /// Stem → the first surface word with it.
    pub stems: BTreeMap<String, String>,
}

/// The words a brand's own names and context terms are made of (normalized):
/// they are left out of its features, since they say nothing the rules do
/// not already say (the name is in every post asked about; a context word
/// already decides).
pub(crate) fn own_words(norm: &Normalizer, terms: &[&str]) -> HashSet<String> {
    let mut out = HashSet::new();
    for t in terms {
        for w in norm.normalize_str(t).split(|c: char| !is_word_char(c)) {
            if !w.is_empty() {
                out.insert(w.to_string());
            }
        }
    }
    out
}

/// Splits normalized text into the stems the model reads: words of two
/// letters or more that are not numbers, function words or the brand's own
/// words.
pub(crate) fn features(
    normalized: &str,
    stemmer: Option<&Stemmer>,
    own: &HashSet<String>,
) -> Features {
    let mut f = Features::default();
    for w in normalized.split(|c: char| !is_word_char(c)) {
        if w.chars().count() < 2
            || w.chars().all(|c| c.is_numeric())
            || own.contains(w)
            || stopwords::is_stopword(w)
        {
            continue;
        }
        let stem = match stemmer {
            Some(s) => s.stem(w).into_owned(),
            None => w.to_string(),
        };
        f.stems.entry(stem).or_insert_with(|| w.to_string());
    }
    f
}

/// The compiled model of a brand the config lets it decide (one with
/// `context`, not `context_model = false`) when the model file has it; a
/// brand it cannot be used for is a notice, not an error, so that a
/// retrained file never stops a reload.
pub(crate) fn brand_model(
    def: &BrandDef,
    file: Option<&(String, ModelFile)>,
    default_threshold: f64,
    notices: &mut Vec<ConfigError>,
) -> Option<BrandModel> {
    let (name, file) = file?;
    if def.context.is_empty() || def.context_model == Some(false) {
        return None;
    }
    let key = format!("brand {}", def.id);
    let Some(counts) = file.brands.get(&def.id) else {
        notices.push(ConfigError::new(
            name,
            key,
            "not in the context model: its bare names count only with a context word (retrain with `earshot train-context`)",
        ));
        return None;
    };
    let threshold = def.context_threshold.unwrap_or(default_threshold);
    match BrandModel::compile(counts, threshold) {
        Ok(m) => Some(m),
        Err(e) => {
            notices.push(ConfigError::new(name, key, e));
            None
        }
    }
}

/// [`own_words`] of a brand: its aliases (or name), handles, hashtags and
/// context terms, positive and negative.
pub(crate) fn brand_own_words(norm: &Normalizer, def: &BrandDef) -> HashSet<String> {
    let mut terms: Vec<&str> = vec![def.name.as_str()];
    terms.extend(def.aliases.iter().flatten().map(String::as_str));
    terms.extend(def.handles.iter().map(String::as_str));
    terms.extend(def.hashtags.iter().map(String::as_str));
    terms.extend(def.context.all().map(String::as_str));
    terms.extend(def.negative_context.iter().map(String::as_str));
    own_words(norm, &terms)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(about: u64, not_about: u64, words: &[(&str, u64, u64)]) -> BrandCounts {
        BrandCounts {
            about,
            not_about,
            words: words
                .iter()
                .map(|&(w, a, n)| (w.to_string(), [a, n]))
                .collect(),
        }
    }

    fn feats(words: &[&str]) -> Features {
        Features {
            stems: words
                .iter()
                .map(|w| (w.to_string(), w.to_string()))
                .collect(),
        }
    }

    #[test]
    fn words_of_one_class_tip_the_decision_and_explain_it() {
        let c = counts(
            10,
            10,
            &[
                ("flight", 8, 0),
                ("gate", 5, 0),
                ("river", 0, 9),
                ("my", 5, 5),
            ],
        );
        let m = BrandModel::compile(&c, 0.5).unwrap();
        let yes = m.decide(&feats(&["flight", "gate", "my"]));
        assert!(yes.accept && yes.probability > 0.9, "{yes:?}");
        assert_eq!(yes.words, ["flight", "gate"]);
        let no = m.decide(&feats(&["river", "my"]));
        assert!(!no.accept, "{no:?}");
        // "my" is as common in both classes, but the "about" posts hold more
        // words in all, so it leans a little towards "not about".
        assert_eq!(no.words, ["river", "my"]);
        assert!(
            no.explain(0.5).starts_with("context model 0.0"),
            "{}",
            no.explain(0.5)
        );
        // Nothing known: not decided, whatever the prior.
        let unknown = m.decide(&feats(&["zebra"]));
        assert!(!unknown.accept && !unknown.known);
        // A higher threshold turns a weak yes into a no.
        let weak = BrandModel::compile(&c, 0.999_999).unwrap();
        assert!(!weak.decide(&feats(&["gate"])).accept);
    }

    #[test]
    fn the_words_decide_not_how_many_posts_the_rules_found() {
        // Many more posts about the brand than not: a post whose only known
        // word leans "not about" is still not about it.
        let c = counts(1000, 5, &[("river", 1, 4), ("gate", 500, 1)]);
        let m = BrandModel::compile(&c, 0.5).unwrap();
        let d = m.decide(&feats(&["river"]));
        assert!(!d.accept && d.probability < 0.5, "{d:?}");
    }

    #[test]
    fn a_class_with_too_few_posts_is_refused() {
        let e = BrandModel::compile(&counts(10, 2, &[("x", 1, 1)]), 0.5).unwrap_err();
        assert!(e.contains("at least 5"), "{e}");
    }

    #[test]
    fn model_files_are_checked() {
        let mut m = ModelFile::new();
        m.brands.insert("a".into(), counts(5, 5, &[("w", 1, 0)]));
        assert_eq!(ModelFile::parse(&m.to_json()).unwrap(), m);
        assert!(ModelFile::parse("{}")
            .unwrap_err()
            .contains("not a context model"));
        let other = m.to_json().replace(FORMAT, "other");
        assert!(ModelFile::parse(&other)
            .unwrap_err()
            .contains("expected `earshot-context-model`"));
    }
}
