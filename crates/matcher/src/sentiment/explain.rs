//! What drove a score (the lexicon's words and the model's n-grams), and
//! the inputs the hybrid model is trained on.

use earshot_model::Sentiment;

use super::hybrid::{inputs, key, pair_key, Grams, INPUTS};
use super::{tokens, Analyzer, Scratch};

/// How many of the model's n-grams an explanation lists.
const TOP_GRAMS: usize = 8;

/// Why a text scored as it did.
#[derive(Debug, Clone, PartialEq)]
pub struct Explanation {
    /// The score, as [`Analyzer::score`] gives it.
    pub sentiment: Sentiment,
    /// The lexicon's own score (the same as `sentiment` under the lexicon
    /// model).
    pub lexicon: Sentiment,
    /// The lexicon's words (and idioms, by their first word) with the
    /// valence each added after the rules (negation, boosters, contrast...),
    /// in text order; words that added nothing are left out.
    pub words: Vec<(String, f32)>,
    /// Under the hybrid model, its n-grams found in the text with what each
    /// pushed toward positive (its positive weight minus its negative
    /// one, times the gate of the lexicon's compound), strongest first, at
    /// most eight.
    pub grams: Vec<(String, f32)>,
}

/// The hybrid model's inputs for one text (for training it).
#[derive(Debug, Clone, PartialEq)]
pub struct Features {
    /// The inputs besides the n-grams, by name, in the model's order (the
    /// first is the lexicon's compound).
    pub inputs: Vec<(&'static str, f32)>,
    /// The text's tokens for the n-grams, lowercased, in order.
    pub tokens: Vec<String>,
}

impl Analyzer {
    /// Scores `text` (as [`Analyzer::score`]) and says what drove it.
    pub fn explain(&self, text: &str) -> Explanation {
        let mut s = Scratch::default();
        let lexicon = self.analyze_lexicon(text, None, &[], &mut s);
        tokens::lowercase(text, &mut s);
        let words = s
            .valenced
            .iter()
            .zip(&s.scores)
            .filter(|(_, &v)| v != 0.0)
            .map(|(&i, &v)| (s.word(i as usize).to_string(), v))
            .collect();
        let sentiment = self.analyze(text, None, &[], &mut s);
        let mut grams = Vec::new();
        if let Some(m) = self.hybrid.filter(|_| !s.tokens.is_empty()) {
            let g = &s.grams;
            let f = m.gate(lexicon.compound, g);
            for i in 0..g.ends.len() {
                let t = g.token(i);
                let mut push = |h: u64, name: String| {
                    if let Some(w) = m.weights(h).filter(|w| *w != [0.0; 2]) {
                        grams.push((name, (w[0] - w[1]) * f));
                    }
                };
                push(key(t), String::from_utf8_lossy(t).into_owned());
                if i > 0 {
                    let p = g.token(i - 1);
                    let name = format!(
                        "{} {}",
                        String::from_utf8_lossy(p),
                        String::from_utf8_lossy(t)
                    );
                    push(pair_key(key(p), key(t)), name);
                }
            }
            // Stable: equal pushes keep text order, so explanations are
            // deterministic.
            grams.sort_by(|a: &(String, f32), b| b.1.abs().total_cmp(&a.1.abs()));
            grams.truncate(TOP_GRAMS);
        }
        Explanation {
            sentiment,
            lexicon,
            words,
            grams,
        }
    }

    /// The hybrid model's inputs for `text`: the lexicon's score and the
    /// text's traits, and the n-gram tokens (what
    /// `benches/sentiment-eval/train.sh` learns from).
    pub fn features(&self, text: &str) -> Features {
        let mut s = Scratch::default();
        let lexicon = self.analyze_lexicon(text, None, &[], &mut s);
        let mut g = Grams::default();
        g.split(text);
        let tokens = (0..g.ends.len())
            .map(|i| String::from_utf8_lossy(g.token(i)).into_owned())
            .collect();
        let inputs = INPUTS.iter().copied().zip(inputs(&lexicon, &g)).collect();
        Features { inputs, tokens }
    }
}
