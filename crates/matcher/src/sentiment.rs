//! Lexicon-and-rule sentiment for social text, after VADER (Hutto & Gilbert,
//! 2014), with its rules applied per sentence.
//!
//! Rules, each with a unit test below: negation in a window of three
//! preceding tokens, boosters and dampeners, contrast (`but`), ALL-CAPS
//! emphasis, `!`/`?` amplification, emoticons and emoji, slang and idioms
//! (multi-word lexicon entries), per-brand overrides, and question damping.
//!
//! `sentiment/reference.rs` (tests only) states the same rules as plain
//! code over strings and hash maps; proptests hold this analyzer to it,
//! exactly, on random text and on the repository's texts. A rule change
//! goes in both.

mod explain;
mod hybrid;
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
mod lanes;
mod tokens;
mod window;
mod wordmap;
mod words;

use std::cell::RefCell;

use earshot_model::{Sentiment, SentimentLabel};
use serde::Deserialize;

use crate::lexicon::Lexicon;
pub use explain::{Explanation, Features};
use hybrid::{Grams, Model};
use tokens::{tokenize, Token};
use words::{flag, WordTable, SARCASM};

const B_INCR: f32 = 0.293;
const C_INCR: f32 = 0.733;
const N_SCALAR: f32 = -0.74;

/// Tunable parts of the sentiment rules (`[matcher.sentiment]`).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SentimentConfig {
    /// `|compound|` below this is neutral. VADER uses 0.05; social text with
    /// one mildly polar word in passing reads as neutral to people, so the
    /// default is wider (chosen on the evaluation's development half).
    pub neutral_threshold: f32,
    /// Valence of a sentence that asks a question (ends with `?`) is scaled
    /// by this: "is the acme support good?" is not praise.
    pub question_factor: f32,
    /// Which model labels a post: the lexicon and its rules alone, or the
    /// hybrid (the lexicon's scores and the text's word n-grams, weighed
    /// by a model learned on human-rated text). The default is the hybrid,
    /// which is more accurate on every evaluation set.
    pub model: SentimentModel,
    /// The hybrid's neutral band, `|compound|` below this; by default the
    /// one calibrated with its weights. `neutral_threshold` is the
    /// lexicon's (which entity sentiment and non-English posts use).
    pub hybrid_neutral_threshold: Option<f32>,
}

impl Default for SentimentConfig {
    fn default() -> Self {
        SentimentConfig {
            neutral_threshold: 0.35,
            question_factor: 0.5,
            model: SentimentModel::Hybrid,
            hybrid_neutral_threshold: None,
        }
    }
}

/// The sentiment model (`[matcher.sentiment] model`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SentimentModel {
    /// The lexicon and rules alone (VADER's way).
    Lexicon,
    /// The lexicon's scores combined with learned word n-gram weights, for
    /// English posts (and posts of no stated language); others get the
    /// lexicon's.
    #[default]
    Hybrid,
}

/// Per-brand term overrides (a game called "War Zone" is neutral).
pub type Overrides = Lexicon;

/// The sentiment analyzer: lexicons plus rules.
#[derive(Debug, Clone, Default)]
pub struct Analyzer {
    /// The main lexicon, and the same words with the rules' bits: built
    /// together in [`Analyzer::new`] so they cannot disagree.
    lexicon: Lexicon,
    table: WordTable,
    /// Lexicons that apply only to posts in one language (ISO 639-1).
    pub(crate) by_lang: Vec<(String, Lexicon)>,
    pub(crate) config: SentimentConfig,
    /// The hybrid model, when the config asks for it.
    hybrid: Option<&'static Model>,
}

/// A sentence's span in the original text and its summed valence.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct SentenceScore {
    pub start: u32,
    pub end: u32,
    pub sum: f32,
}

/// Buffers reused from post to post.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    tokens: Vec<Token>,
    /// An all-ASCII text, padded like `lower` (see the tokenizer).
    raw: Vec<u8>,
    /// The text's lowercase, then that of its non-ASCII tokens: what
    /// tokens are spans of. Empty until made (see the tokenizer).
    lower: String,
    join: String,
    /// Tokens the tokenizer found with a main-lexicon valence or able to
    /// start an idiom, in order: the only ones the lookup has to visit.
    marked: Vec<u32>,
    /// Tokens with a valence after the lookup, in order, and their scores:
    /// the rest (most) score 0, so the rules and sums skip them.
    valenced: Vec<u32>,
    scores: Vec<f32>,
    pub sentences: Vec<SentenceScore>,
    questions: Vec<bool>,
    /// The text's tokens for the hybrid model's n-grams.
    grams: Grams,
    sarcastic: bool,
    /// Union of every token's bits and the number of tokens in capitals,
    /// kept while tokenizing so passes with nothing to do are skipped.
    all_flags: u32,
    caps: usize,
    /// The text's `!` and `?`, whose counts amplify.
    exclaims: u32,
    queries: u32,
}

impl Scratch {
    fn word(&self, i: usize) -> &str {
        let t = &self.tokens[i];
        &self.lower[t.lstart as usize..t.lend as usize]
    }

    /// Whether token `k` has any of the `bits`.
    fn is(&self, k: usize, bits: u32) -> bool {
        self.tokens[k].flags & bits != 0
    }
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

impl Analyzer {
    /// An analyzer over one lexicon with the default rules and the
    /// lexicon model (see [`Analyzer::configure`]).
    pub fn new(lexicon: Lexicon) -> Analyzer {
        Analyzer {
            table: WordTable::new(&lexicon),
            lexicon,
            by_lang: Vec::new(),
            config: SentimentConfig {
                model: SentimentModel::Lexicon,
                ..SentimentConfig::default()
            },
            hybrid: None,
        }
    }

    /// Sets the rules' parameters and the model.
    pub fn configure(&mut self, config: SentimentConfig) {
        self.config = config;
        self.hybrid = match config.model {
            SentimentModel::Lexicon => None,
            SentimentModel::Hybrid => Some(Model::shipped()),
        };
    }

    /// Scores a text with the main lexicon (buffers are reused per thread).
    pub fn score(&self, text: &str) -> Sentiment {
        SCRATCH.with(|cell| match cell.try_borrow_mut() {
            Ok(mut s) => self.analyze(text, None, &[], &mut s),
            Err(_) => self.analyze(text, None, &[], &mut Scratch::default()),
        })
    }

    /// Compound score (VADER convention) of a raw valence sum.
    pub fn compound(sum: f32) -> f32 {
        (sum / (sum * sum + 15.0).sqrt()).clamp(-1.0, 1.0)
    }

    /// Label for a lexicon compound score (a post's under the lexicon
    /// model, a sentence's or an entity's under both) by the lexicon's
    /// neutral band.
    pub fn label(&self, compound: f32) -> SentimentLabel {
        SentimentLabel::from_compound_with(compound, self.config.neutral_threshold)
    }

    /// Scores `text`; leaves per-sentence sums in `s.sentences`.
    pub(crate) fn analyze(
        &self,
        text: &str,
        lang: Option<&str>,
        overrides: &[&Overrides],
        s: &mut Scratch,
    ) -> Sentiment {
        let lexicon = self.analyze_lexicon(text, lang, overrides, s);
        match self.hybrid {
            // Trained on English: other languages keep the lexicon's score.
            Some(m) if !s.tokens.is_empty() && lang.is_none_or(|l| l == "en") => {
                self.hybrid_score(m, text, lexicon, s)
            }
            _ => lexicon,
        }
    }

    /// [`Analyzer::analyze`] by the lexicon and rules alone.
    fn analyze_lexicon(
        &self,
        text: &str,
        lang: Option<&str>,
        overrides: &[&Overrides],
        s: &mut Scratch,
    ) -> Sentiment {
        tokenize(&self.table, text, s);
        let lang_lex = lang
            .and_then(|l| self.by_lang.iter().find(|(x, _)| x == l))
            .map(|(_, lex)| lex);
        if !overrides.is_empty() || lang_lex.is_some() {
            tokens::lowercase(text, s);
            self.lookup(overrides, lang_lex, s);
        } else if s.all_flags & flag::PHRASE_START != 0 {
            self.lookup_main(s);
        } else {
            // No idiom can start here and no other lexicon applies: the
            // marked tokens are exactly those with a valence.
            s.sarcastic = s.all_flags & flag::SARCASM != 0;
            std::mem::swap(&mut s.valenced, &mut s.marked);
        }
        let cap_diff = s.caps > 0 && s.caps < s.tokens.len();
        // Contrast weighs a score by where it stands against a "but" in its
        // sentence and the next, so it needs every score first; without
        // one (most posts), each token is scored, settled and tallied in one
        // pass.
        let contrast = s.all_flags & flag::BUT != 0;
        s.scores.clear();
        if contrast {
            for k in 0..s.valenced.len() {
                let v = self.valence(s.valenced[k] as usize, cap_diff, s);
                s.scores.push(v);
            }
            self.contrast(s);
        }
        let mut tally = Tally::new(s);
        for k in 0..s.valenced.len() {
            let i = s.valenced[k] as usize;
            let v = if contrast {
                s.scores[k]
            } else {
                self.valence(i, cap_diff, s)
            };
            let v = self.settle(v, i, s);
            tally.add(v);
            if contrast {
                s.scores[k] = v;
            } else {
                s.scores.push(v);
            }
        }
        self.finish(s, tally)
    }

    /// The hybrid model's score: its compound and label, with the
    /// lexicon's shares (which words weighed which way) kept.
    fn hybrid_score(&self, m: &Model, text: &str, lex: Sentiment, s: &mut Scratch) -> Sentiment {
        s.grams.split(text);
        let compound = hybrid::compound(m.logits(&lex, &s.grams));
        let band = self
            .config
            .hybrid_neutral_threshold
            .unwrap_or(m.neutral_threshold);
        Sentiment {
            compound,
            label: SentimentLabel::from_compound_with(compound, band),
            ..lex
        }
    }

    /// The last rules on a token's score: sarcasm (with a marker present,
    /// praise means the opposite, weakly) and question damping; adds the
    /// result to its sentence's sum.
    #[inline]
    fn settle(&self, mut v: f32, i: usize, s: &mut Scratch) -> f32 {
        if s.sarcastic && v > 0.0 {
            v *= -0.5;
        }
        if v != 0.0 {
            let sentence = s.tokens[i].sentence as usize;
            if s.questions.get(sentence).copied().unwrap_or(false) {
                v *= self.config.question_factor;
            }
            if let Some(sent) = s.sentences.get_mut(sentence) {
                sent.sum += v;
            }
        }
        v
    }

    /// Finds each token's lexicon valence; phrases (idioms) take their first
    /// token's place and neutralize the rest. Per-brand overrides come
    /// first, then the post language's lexicon, then the main one (whose
    /// answers the tokenizer already looked up).
    fn lookup(&self, overrides: &[&Overrides], lang_lex: Option<&Lexicon>, s: &mut Scratch) {
        let extra = || overrides.iter().copied().chain(lang_lex);
        let has_extra = !overrides.is_empty() || lang_lex.is_some();
        let max_phrase = extra()
            .map(|l| l.max_phrase_words)
            .fold(self.lexicon.max_phrase_words, usize::max);
        let mut i = 0;
        while i < s.tokens.len() {
            let mut consumed = 1;
            let mut valence = None;
            let starts_phrase = s.is(i, flag::PHRASE_START)
                || has_extra && extra().any(|l| l.phrase_starts.contains(s.word(i)));
            if max_phrase >= 2 && starts_phrase {
                'phrase: for n in (2..=max_phrase.min(s.tokens.len() - i)).rev() {
                    let same_sentence = s.tokens[i + n - 1].sentence == s.tokens[i].sentence;
                    if !same_sentence {
                        continue;
                    }
                    let mut join = std::mem::take(&mut s.join);
                    join.clear();
                    for k in i..i + n {
                        if k > i {
                            join.push(' ');
                        }
                        join.push_str(s.word(k));
                    }
                    let found = extra()
                        .chain(Some(&self.lexicon))
                        .find_map(|l| l.phrases.get(join.as_str()).copied());
                    if found.is_some() && SARCASM.contains(&join.as_str()) {
                        s.sarcastic = true;
                    }
                    s.join = join;
                    if let Some(v) = found {
                        valence = Some(v);
                        consumed = n;
                        break 'phrase;
                    }
                }
            }
            if s.is(i, flag::SARCASM) {
                s.sarcastic = true;
            }
            if valence.is_none() && has_extra {
                let word = s.word(i);
                valence =
                    extra().find_map(|l| l.words.get(word).or_else(|| l.emoji.get(word)).copied());
            }
            // The tokenizer left the main lexicon's valence in place.
            let valence = valence.or(s.tokens[i].valence);
            s.tokens[i].valence = valence;
            for k in i + 1..i + consumed {
                // Words inside an idiom are spoken for: neutral, not modifiers.
                s.tokens[k].valence = Some(0.0);
                s.tokens[k].flags |= flag::IN_IDIOM;
            }
            i += consumed;
        }
        s.valenced.clear();
        for (i, t) in s.tokens.iter().enumerate() {
            if t.valence.is_some() {
                s.valenced.push(i as u32);
            }
        }
    }

    /// [`Analyzer::lookup`] with the main lexicon alone, the common case:
    /// idioms are found by the ids of their words, without building strings.
    fn lookup_main(&self, s: &mut Scratch) {
        let n = s.tokens.len();
        s.valenced.clear();
        // Tokens before this one are inside an idiom already found.
        let mut next = 0;
        for m in 0..s.marked.len() {
            let i = s.marked[m] as usize;
            if i < next {
                continue;
            }
            let t = s.tokens[i];
            let found = if t.flags & flag::PHRASE_START != 0
                && i + 1 < n
                && s.tokens[i + 1].flags & flag::PHRASE_NEXT != 0
            {
                self.table
                    .phrases(t.id, s.tokens[i + 1].id)
                    .iter()
                    .find(|p| {
                        s.tokens.get(i..i + p.ids.len()).is_some_and(|span| {
                            span.last().is_some_and(|last| last.sentence == t.sentence)
                                && span.iter().zip(p.ids.iter()).all(|(t, &id)| t.id == id)
                        })
                    })
            } else {
                None
            };
            match found {
                Some(p) => {
                    s.sarcastic |= p.sarcasm;
                    s.tokens[i].valence = Some(p.valence);
                    next = i + p.ids.len();
                    for k in i..next {
                        s.valenced.push(k as u32);
                        if k > i {
                            // Words inside an idiom are spoken for: neutral,
                            // not modifiers, not sarcasm markers.
                            s.tokens[k].valence = Some(0.0);
                            s.tokens[k].flags |= flag::IN_IDIOM;
                        }
                    }
                }
                None if t.valence.is_some() => s.valenced.push(i as u32),
                None => {}
            }
        }
        if s.all_flags & flag::SARCASM != 0 {
            s.sarcastic |= s
                .tokens
                .iter()
                .any(|t| t.flags & (flag::SARCASM | flag::IN_IDIOM) == flag::SARCASM);
        }
    }

    fn valence(&self, i: usize, cap_diff: bool, s: &Scratch) -> f32 {
        // Most scored words have no rule word in the three before them: one
        // test instead of the rules' many, which the processor could not
        // predict.
        match unruled(i, cap_diff, s) {
            Some(v) => v,
            None => self.ruled(i, cap_diff, s),
        }
    }

    /// [`Analyzer::valence`] by the rules, one by one.
    fn ruled(&self, i: usize, cap_diff: bool, s: &Scratch) -> f32 {
        let n = s.tokens.len();
        if s.is(i, flag::BOOSTER | flag::DAMPENER) {
            return 0.0;
        }
        if s.is(i, flag::KIND) && i + 1 < n && s.is(i + 1, flag::OF) {
            return 0.0;
        }
        let Some(base) = s.tokens[i].valence else {
            return 0.0;
        };
        let sentence = s.tokens[i].sentence;
        let in_sentence = |k: usize| s.tokens[k].sentence == sentence;
        let mut v = base;
        // "no" before a sentiment word negates it instead of counting itself.
        if s.is(i, flag::NO) && i + 1 < n && s.tokens[i + 1].valence.is_some() {
            v = 0.0;
        }
        if (i > 0 && s.is(i - 1, flag::NO))
            || (i > 1 && s.is(i - 2, flag::NO))
            || (i > 2 && s.is(i - 3, flag::NO) && s.is(i - 1, flag::OR_NOR))
        {
            v = base * N_SCALAR;
        }
        // A score of 0 here (a word inside an idiom, a lexicon's neutral
        // word, or "no" before a sentiment word, which does not count
        // itself) has nothing for capitals, boosters or dampeners to
        // amplify: the additive rules leave it alone (they would add with
        // the sign of +0, upward). The multiplying ones keep it 0 anyway.
        let amplifies = v != 0.0;
        if s.tokens[i].caps && cap_diff && amplifies {
            v += C_INCR.copysign(v);
        }
        for j in 0..3 {
            if i <= j || !in_sentence(i - j - 1) {
                break;
            }
            let k = i - j - 1;
            if s.tokens[k].valence.is_some() {
                continue;
            }
            let mut scalar = modifier(s.tokens[k].flags);
            if scalar != 0.0 && amplifies {
                if v < 0.0 {
                    scalar = -scalar;
                }
                if s.tokens[k].caps && cap_diff {
                    scalar += C_INCR.copysign(v);
                }
                scalar *= [1.0, 0.95, 0.9][j];
                v += scalar;
            }
            v = self.negation(v, s, i, j);
        }
        // Two-word dampeners ("kind of good", "sort of works").
        if i > 1 && in_sentence(i - 2) {
            let pair = |a: u32, b: u32| s.is(i - 2, a) && s.is(i - 1, b);
            if amplifies
                && (pair(flag::KIND | flag::SORT, flag::OF)
                    || pair(flag::A, flag::BIT)
                    || pair(flag::JUST, flag::ENOUGH))
            {
                v -= B_INCR.copysign(v);
            }
        }
        // "least" negates unless "at least" / "very least".
        let at_least = i > 1 && s.is(i - 2, flag::AT | flag::VERY);
        if i > 0 && s.is(i - 1, flag::LEAST) && s.tokens[i - 1].valence.is_none() && !at_least {
            v *= N_SCALAR;
        }
        v
    }

    /// VADER's negation window: the token `j + 1` places before `i`.
    fn negation(&self, v: f32, s: &Scratch, i: usize, j: usize) -> f32 {
        use flag::{DOUBT, NEGATION, NEVER, SO_THIS, WITHOUT};
        let k = i - j - 1;
        match j {
            0 => {
                if s.is(k, NEGATION) {
                    return v * N_SCALAR;
                }
            }
            1 => {
                if s.is(k, NEVER) && s.is(i - 1, SO_THIS) {
                    return v * 1.25;
                } else if s.is(k, WITHOUT) && s.is(i - 1, DOUBT) {
                    return v;
                } else if s.is(k, NEGATION) {
                    return v * N_SCALAR;
                }
            }
            _ => {
                // "haven't been this sore": a negation three words back with
                // "so"/"this" right before the word intensifies (VADER does the same).
                if (s.is(k, NEVER) && s.is(i - 2, SO_THIS)) || s.is(i - 1, SO_THIS) {
                    return v * 1.25;
                } else if s.is(k, WITHOUT) && (s.is(i - 2, DOUBT) || s.is(i - 1, DOUBT)) {
                    return v;
                } else if s.is(k, NEGATION) {
                    return v * N_SCALAR;
                }
            }
        }
        v
    }

    /// Contrast: within a sentence, what comes after "but" weighs 1.5×,
    /// what comes before 0.5×. A sentence opening with "But" contrasts
    /// with the sentence before it.
    fn contrast(&self, s: &mut Scratch) {
        let n = s.tokens.len();
        let mut i = 0;
        let mut prev_start = 0;
        while i < n {
            let sentence = s.tokens[i].sentence;
            let mut end = i;
            let mut but = None;
            while end < n && s.tokens[end].sentence == sentence {
                if but.is_none() && s.is(end, flag::BUT) {
                    but = Some(end);
                }
                end += 1;
            }
            if let Some(b) = but {
                let from = if b == i { prev_start } else { i };
                for (&k, v) in s.valenced.iter().zip(&mut s.scores) {
                    let k = k as usize;
                    if (from..end).contains(&k) {
                        if k < b {
                            *v *= 0.5;
                        } else if k > b {
                            *v *= 1.5;
                        }
                    }
                }
            }
            prev_start = i;
            i = end;
        }
    }

    fn finish(&self, s: &Scratch, tally: Tally) -> Sentiment {
        if s.tokens.is_empty() {
            return Sentiment {
                compound: 0.0,
                pos: 0.0,
                neu: 0.0,
                neg: 0.0,
                label: SentimentLabel::Neutral,
            };
        }
        let Tally {
            mut sum,
            mut pos,
            mut neg,
            neu,
        } = tally;
        let amp = punctuation_emphasis(s.exclaims, s.queries);
        if sum > 0.0 {
            sum += amp;
        } else if sum < 0.0 {
            sum -= amp;
        }
        let compound = Self::compound(sum);
        if pos > neg.abs() {
            pos += amp;
        } else if pos < neg.abs() {
            neg -= amp;
        }
        let total = pos + neg.abs() + neu;
        let r = |x: f32| round(x * 1000.0) / 1000.0;
        let compound = round(compound * 10000.0) / 10000.0;
        Sentiment {
            compound,
            pos: r(pos / total),
            neu: r(neu / total),
            neg: r(neg.abs() / total),
            label: self.label(compound),
        }
    }
}

/// [`Analyzer::valence`] of a scored word that no rule concerns, if it is
/// one: then its valence, with the capitals rule (the one rule that needs
/// no other word). A rule concerns it if it is itself a booster, dampener,
/// "kind" or "no", or if a word in the three before it has one of the bits
/// below for its place. Every rule of [`Analyzer::ruled`] needs one of
/// these: negations (which include "never" and "without", so the rules
/// that pair those with "so"/"this" or "doubt" need them too), "no",
/// boosters and dampeners, "so"/"this" right before the word, the second
/// word of "a bit", "just enough" and "at least", and the first of "kind
/// of" and "sort of". A property test checks that both agree.
fn unruled(i: usize, cap_diff: bool, s: &Scratch) -> Option<f32> {
    use flag::{BIT, BOOSTER, DAMPENER, ENOUGH, KIND, LEAST, NEGATION, NO, SORT, SO_THIS};
    const SELF: u32 = BOOSTER | DAMPENER | KIND | NO;
    const BACK_1: u32 = NO | BOOSTER | DAMPENER | NEGATION | SO_THIS | BIT | ENOUGH | LEAST;
    const BACK_2: u32 = NO | BOOSTER | DAMPENER | NEGATION | KIND | SORT;
    const BACK_3: u32 = NO | BOOSTER | DAMPENER | NEGATION;
    let t = &s.tokens[i];
    let before = |back: usize| i.checked_sub(back).map_or(0, |k| s.tokens[k].flags);
    let clear = t.flags & SELF == 0
        && before(1) & BACK_1 == 0
        && before(2) & BACK_2 == 0
        && before(3) & BACK_3 == 0;
    let base = t.valence.filter(|_| clear)?;
    // A valence of 0 takes no emphasis (see `ruled`).
    Some(if t.caps && cap_diff && base != 0.0 {
        base + C_INCR.copysign(base)
    } else {
        base
    })
}

/// The sums `finish` needs, kept as the scores are settled.
struct Tally {
    sum: f32,
    pos: f32,
    neg: f32,
    neu: f32,
}

impl Tally {
    /// Before any score: tokens without a valence score 0, which counts as
    /// neutral, and adds +0.0 to the sum (which decides the sign of a zero
    /// sum: `Sum` for `f32` starts from -0.0).
    fn new(s: &Scratch) -> Tally {
        let unscored = s.tokens.len() - s.valenced.len();
        Tally {
            sum: if unscored == 0 { -0.0 } else { 0.0 },
            pos: 0.0,
            neg: 0.0,
            neu: unscored as f32,
        }
    }

    /// Adds a settled score. Selected by multiplying with 0 or 1, not by
    /// branching on its sign (which varies from token to token): adding
    /// 0.0 leaves each sum as it was.
    #[inline]
    fn add(&mut self, v: f32) {
        self.sum += v;
        let (up, down) = (f32::from(u8::from(v > 0.0)), f32::from(u8::from(v < 0.0)));
        self.pos += up * (v + 1.0);
        self.neg += down * (v - 1.0);
        self.neu += 1.0 - up - down;
    }
}

/// Booster (+) or dampener (−) scalar of a modifier word.
fn modifier(flags: u32) -> f32 {
    if flags & flag::BOOSTER != 0 {
        B_INCR
    } else if flags & flag::DAMPENER != 0 {
        -B_INCR
    } else {
        0.0
    }
}

/// VADER's emphasis from `!` (up to 4) and `?` (2 or more).
fn punctuation_emphasis(exclaims: u32, queries: u32) -> f32 {
    let ep = exclaims.min(4) as f32 * 0.292;
    let qm = match queries {
        0 | 1 => 0.0,
        n @ 2..=3 => n as f32 * 0.18,
        _ => 0.96,
    };
    ep + qm
}

/// Compound score of summed sentence valences (used for entity sentiment).
pub(crate) fn compound_of(sum: f32) -> f32 {
    round(Analyzer::compound(sum) * 10000.0) / 10000.0
}

/// `f32::round` (half away from zero), without its library call: the
/// baseline x86-64 target has no rounding instruction, and scoring a post
/// rounds four times. Exact: below 2^23 the conversion to an integer
/// truncates exactly and `y - t` is exact too.
#[inline]
fn round(y: f32) -> f32 {
    if y.is_nan() || y.abs() >= 8_388_608.0 {
        // Large, infinite or NaN (never for scores).
        return y.round();
    }
    let t = y as i32 as f32;
    let d = y - t;
    // The sign too: -0.2 rounds to -0.0, as `f32::round` has it.
    (t + (i32::from(d >= 0.5) - i32::from(d <= -0.5)) as f32).copysign(y)
}

#[cfg(test)]
mod hybrid_reference;
#[cfg(test)]
mod reference;
#[cfg(test)]
mod tests;
