//! Training the context model from what Earshot already knows: the
//! analyst's labels first, then the console's "wrong match" feedback, then
//! the evidence of the watchlist's own rules on any posts (a brand matched
//! by a rule is a post about it; a name only inside an `exclude` phrase or
//! next to a `negative_context` term is a post not about it; a bare name is
//! left out). A post counts once, by the strongest source that speaks of
//! it. Counts are integers over sorted maps, so the same posts give the
//! same file byte for byte, in any order.

use std::collections::{BTreeMap, HashSet};

use earshot_model::Post;

use super::{BrandCounts, Features, ModelFile, MAX_WORDS};
use crate::eval::Labelled;
use crate::Matcher;

/// Posts counted per brand and source, for the trainer's summary.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    /// `[about, not about]` from labels.
    pub labels: [u64; 2],
    /// `[about, not about]` from "wrong match" feedback (always "not about").
    pub feedback: [u64; 2],
    /// `[about, not about]` from the watchlist's rules.
    pub rules: [u64; 2],
}

/// Accumulates training posts; [`Trainer::finish`] writes the model.
#[derive(Debug)]
pub struct Trainer<'m> {
    matcher: &'m Matcher,
    counts: BTreeMap<String, BrandCounts>,
    /// Per brand, how its posts came.
    pub tally: BTreeMap<String, Tally>,
    /// Posts already counted (a later source does not count them again).
    seen: HashSet<String>,
    /// Posts with labels: feedback and rules do not speak for them.
    labelled: HashSet<String>,
    /// `(post, brand)` pairs marked wrong.
    wrong: HashSet<(String, String)>,
}

impl<'m> Trainer<'m> {
    /// A trainer reading posts with `matcher`'s rules; compile it without a
    /// context model (the model must not label its own training posts;
    /// [`Matcher::context_evidence`] never asks it anyway).
    pub fn new(matcher: &'m Matcher) -> Trainer<'m> {
        Trainer {
            matcher,
            counts: BTreeMap::new(),
            tally: BTreeMap::new(),
            seen: HashSet::new(),
            labelled: HashSet::new(),
            wrong: HashSet::new(),
        }
    }

    fn count(&mut self, brand: &str, about: bool, features: &Features) {
        let c = self.counts.entry(brand.to_string()).or_default();
        if about {
            c.about += 1;
        } else {
            c.not_about += 1;
        }
        let class = usize::from(!about);
        for stem in features.stems.keys() {
            c.words.entry(stem.clone()).or_default()[class] += 1;
        }
    }

    /// An analyst-labelled post (the `earshot eval` labels format): for
    /// each brand with `context` it names or is labelled with, about the
    /// brand exactly when labelled so. Call before the other sources. A
    /// post without an `entities` label is read as an unlabelled post.
    pub fn add_labelled(&mut self, l: &Labelled) {
        let Some(entities) = &l.labels.entities else {
            return self.add_post(&l.post);
        };
        if !self.seen.insert(l.post.id.clone()) {
            return;
        }
        self.labelled.insert(l.post.id.clone());
        for e in self.matcher.context_evidence(&l.post) {
            let about = entities.contains(&e.brand);
            self.count(&e.brand, about, &e.features);
            self.tally.entry(e.brand).or_default().labels[usize::from(!about)] += 1;
        }
    }

    /// A match an analyst marked wrong in the console: `post` is not about
    /// `brand` (ignored for a brand without `context`, and for a labelled
    /// post). Call after the labels and before unlabelled posts.
    pub fn add_wrong(&mut self, post: &Post, brand: &str) {
        if self.labelled.contains(&post.id)
            || !self.wrong.insert((post.id.clone(), brand.to_string()))
        {
            return;
        }
        self.seen.insert(post.id.clone());
        let evidence = self.matcher.context_evidence(post);
        if let Some(e) = evidence.into_iter().find(|e| e.brand == brand) {
            self.count(&e.brand, false, &e.features);
            self.tally.entry(e.brand).or_default().feedback[1] += 1;
        }
    }

    /// Any post: the watchlist's rules decide it, or it is left out.
    pub fn add_post(&mut self, post: &Post) {
        if !self.seen.insert(post.id.clone()) {
            return;
        }
        for e in self.matcher.context_evidence(post) {
            if self.wrong.contains(&(post.id.clone(), e.brand.clone())) {
                continue;
            }
            let Some(about) = e.about else { continue };
            self.count(&e.brand, about, &e.features);
            self.tally.entry(e.brand).or_default().rules[usize::from(!about)] += 1;
        }
    }

    /// The model: per brand, the words found in at least `min_posts` of its
    /// training posts (at most [`MAX_WORDS`], the most frequent).
    pub fn finish(self, min_posts: u64) -> ModelFile {
        let mut model = ModelFile::new();
        for (brand, mut c) in self.counts {
            c.words.retain(|_, [a, n]| *a + *n >= min_posts.max(1));
            if c.words.len() > MAX_WORDS {
                let mut by_freq: Vec<(u64, String)> = c
                    .words
                    .iter()
                    .map(|(w, [a, n])| (a + n, w.clone()))
                    .collect();
                by_freq.sort_by(|x, y| y.0.cmp(&x.0).then(x.1.cmp(&y.1)));
                let keep: HashSet<String> = by_freq
                    .into_iter()
                    .take(MAX_WORDS)
                    .map(|(_, w)| w)
                    .collect();
                c.words.retain(|w, _| keep.contains(w));
            }
            model.brands.insert(brand, c);
        }
        model
    }
}
