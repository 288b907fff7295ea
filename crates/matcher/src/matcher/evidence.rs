//! What the context model learns from and how it explains a bare name it
//! did not let count, read off a post's hits.

use earshot_model::{EntityKind, Post};
use rust_stemmers::{Algorithm, Stemmer};

use super::{full_text, Bare, Matcher, Scratch, SCRATCH};
use crate::context::Features;

/// What one post says about one brand with `context`, from the watchlist's
/// rules alone (never from the context model).
#[derive(Debug)]
pub struct Evidence {
    /// The brand's id.
    pub brand: String,
    /// `Some(true)`: a rule matched the brand (a context word, a handle or
    /// hashtag next to one, a domain, a query, an unambiguous alias);
    /// `Some(false)`: the name was there only inside an `exclude` phrase or
    /// next to a `negative_context` term; `None`: a bare name the rules
    /// cannot decide.
    pub about: Option<bool>,
    /// The post's words the model reads for this brand.
    pub features: Features,
}

impl Matcher {
    fn with_scratch<T>(&self, f: impl FnOnce(&mut Scratch) -> T) -> T {
        SCRATCH.with(|cell| match cell.try_borrow_mut() {
            Ok(mut s) => f(&mut s),
            Err(_) => f(&mut Scratch::default()),
        })
    }

    /// The evidence `post` gives for each brand with `context` that it
    /// names or matches (see [`Evidence`]); the context model is not asked.
    pub fn context_evidence(&self, post: &Post) -> Vec<Evidence> {
        let text = full_text(post);
        let lang = self.lang_of(post, &text);
        self.with_scratch(|s| {
            s.without_model = true;
            self.match_entities(post, &text, lang.as_deref(), s);
            s.without_model = false;
            let stemmer = stemmer(lang.as_deref());
            let mut brands: Vec<u32> = s.bare.iter().map(|&(b, _)| b).collect();
            for m in &s.matches {
                if m.kind == EntityKind::Customer {
                    continue;
                }
                if let Some(i) = self.brands.iter().position(|b| b.id == m.entity_id) {
                    if self.brands[i].has_context {
                        brands.push(i as u32);
                    }
                }
            }
            brands.sort_unstable();
            brands.dedup();
            brands
                .into_iter()
                .map(|i| {
                    let b = &self.brands[i as usize];
                    let matched = s
                        .matches
                        .iter()
                        .any(|m| m.kind != EntityKind::Customer && m.entity_id == b.id);
                    let mut hits = s.bare.iter().filter(|(x, _)| *x == i).map(|&(_, h)| h);
                    let about = if matched {
                        Some(true)
                    } else if hits.clone().any(|h| h == Bare::NegContext)
                        || hits.all(|h| h == Bare::Excluded)
                    {
                        Some(false)
                    } else {
                        None
                    };
                    Evidence {
                        brand: b.id.clone(),
                        about,
                        features: crate::context::features(
                            &s.norm.text,
                            stemmer.as_ref(),
                            &b.own_words,
                        ),
                    }
                })
                .collect()
        })
    }

    /// For each brand whose bare name in `post` the context model did not
    /// let count: the brand's id and the model's explanation (what
    /// `earshot eval` shows beside such a miss).
    pub fn context_rejections(&self, post: &Post) -> Vec<(String, String)> {
        let text = full_text(post);
        let lang = self.lang_of(post, &text);
        self.with_scratch(|s| {
            self.match_entities(post, &text, lang.as_deref(), s);
            s.decisions
                .iter()
                .filter(|(_, d)| !d.accept)
                .filter_map(|(b, d)| {
                    let b = &self.brands[*b as usize];
                    let model = b.model.as_ref()?;
                    Some((b.id.clone(), d.explain(model.threshold)))
                })
                .collect()
        })
    }
}

/// The stemmer `match_entities` uses for a language.
pub(super) fn stemmer(lang: Option<&str>) -> Option<Stemmer> {
    match lang {
        None => Some(Algorithm::English),
        Some(l) => crate::lang::stemmer_for(l),
    }
    .map(Stemmer::create)
}
