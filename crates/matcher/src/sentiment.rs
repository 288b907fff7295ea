//! Lexicon-and-rule sentiment for social text, after VADER (Hutto & Gilbert,
//! 2014), with its rules applied per sentence.
//!
//! Rules, each with a unit test below: negation in a window of three
//! preceding tokens, boosters and dampeners, contrast (`but`), ALL-CAPS
//! emphasis, `!`/`?` amplification, emoticons and emoji, slang and idioms
//! (multi-word lexicon entries), per-brand overrides, and question damping.

use earshot_model::{Sentiment, SentimentLabel};
use serde::Deserialize;

use crate::lexicon::{is_emoji, Lexicon};

const B_INCR: f32 = 0.293;
const C_INCR: f32 = 0.733;
const N_SCALAR: f32 = -0.74;

const NEGATIONS: &[&str] = &[
    "aint", "arent", "cannot", "cant", "couldnt", "darent", "didnt", "doesnt", "dont", "hadnt",
    "hasnt", "havent", "isnt", "mightnt", "mustnt", "neither", "neednt", "never", "none", "nope",
    "nor", "not", "nothing", "nowhere", "oughtnt", "shant", "shouldnt", "uhuh", "uh-uh", "wasnt",
    "werent", "without", "wont", "wouldnt", "rarely", "seldom", "despite", "nobody", "no-one",
];

/// Markers that make a post's praise sarcastic ("Oh great, charged twice 🙄").
const SARCASM: &[&str] = &[
    "yeah right",
    "oh great",
    "just what i needed",
    "thanks for nothing",
    "🙄",
    "🙃",
    "/s",
];

const BOOSTERS: &[&str] = &[
    "absolutely",
    "amazingly",
    "awfully",
    "completely",
    "considerable",
    "considerably",
    "decidedly",
    "deeply",
    "effing",
    "enormous",
    "enormously",
    "entirely",
    "especially",
    "exceptional",
    "exceptionally",
    "extreme",
    "extremely",
    "fabulously",
    "flipping",
    "flippin",
    "frackin",
    "fracking",
    "fricking",
    "frickin",
    "frigging",
    "friggin",
    "fully",
    "fuckin",
    "fucking",
    "fuggin",
    "fugging",
    "greatly",
    "hella",
    "highly",
    "hugely",
    "incredible",
    "incredibly",
    "intensely",
    "major",
    "majorly",
    "more",
    "most",
    "particularly",
    "purely",
    "quite",
    "really",
    "remarkably",
    "so",
    "substantially",
    "thoroughly",
    "total",
    "totally",
    "tremendous",
    "tremendously",
    "uber",
    "unbelievably",
    "unusually",
    "utter",
    "utterly",
    "very",
    "super",
    "mega",
    "soooo",
    "sooo",
    "realy",
    "rly",
    "srsly",
    "seriously",
];

const DAMPENERS: &[&str] = &[
    "almost",
    "barely",
    "hardly",
    "kinda",
    "kindof",
    "kind-of",
    "less",
    "little",
    "marginal",
    "marginally",
    "occasional",
    "occasionally",
    "partly",
    "scarce",
    "scarcely",
    "slight",
    "slightly",
    "somewhat",
    "sorta",
    "sortof",
    "sort-of",
];

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
}

impl Default for SentimentConfig {
    fn default() -> Self {
        SentimentConfig {
            neutral_threshold: 0.35,
            question_factor: 0.5,
        }
    }
}

/// Per-brand term overrides (a game called "War Zone" is neutral).
pub type Overrides = Lexicon;

/// The sentiment analyzer: lexicons plus rules.
#[derive(Debug, Clone, Default)]
pub struct Analyzer {
    pub(crate) lexicon: Lexicon,
    /// Lexicons that apply only to posts in one language (ISO 639-1).
    pub(crate) by_lang: Vec<(String, Lexicon)>,
    pub(crate) config: SentimentConfig,
}

#[derive(Debug, Clone, Copy, Default)]
struct Token {
    /// Span of the lowercased form in the scratch buffer.
    lstart: u32,
    lend: u32,
    caps: bool,
    sentence: u32,
    /// Valence from a lexicon; `None` when the token is in no lexicon.
    valence: Option<f32>,
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
    lower: String,
    join: String,
    scores: Vec<f32>,
    pub sentences: Vec<SentenceScore>,
    questions: Vec<bool>,
    sarcastic: bool,
}

impl Scratch {
    fn word(&self, i: usize) -> &str {
        let t = &self.tokens[i];
        &self.lower[t.lstart as usize..t.lend as usize]
    }
}

impl Analyzer {
    /// An analyzer over one lexicon with default rules.
    pub fn new(lexicon: Lexicon) -> Analyzer {
        Analyzer {
            lexicon,
            by_lang: Vec::new(),
            config: SentimentConfig::default(),
        }
    }

    /// Scores a text (standalone use; the matcher reuses buffers instead).
    pub fn score(&self, text: &str) -> Sentiment {
        let mut s = Scratch::default();
        self.analyze(text, None, &[], &mut s)
    }

    /// Compound score (VADER convention) of a raw valence sum.
    pub fn compound(sum: f32) -> f32 {
        (sum / (sum * sum + 15.0).sqrt()).clamp(-1.0, 1.0)
    }

    /// Label for a compound score under this analyzer's neutral band.
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
        self.tokenize(text, s);
        let lang_lex = lang
            .and_then(|l| self.by_lang.iter().find(|(x, _)| x == l))
            .map(|(_, lex)| lex);
        self.lookup(overrides, lang_lex, s);
        let cap_diff = {
            let caps = s.tokens.iter().filter(|t| t.caps).count();
            caps > 0 && caps < s.tokens.len()
        };
        s.scores.clear();
        for i in 0..s.tokens.len() {
            let v = self.valence(i, cap_diff, s);
            s.scores.push(v);
        }
        self.contrast(s);
        // Sarcasm: with a marker present, praise words mean the opposite, weakly.
        if s.sarcastic {
            for v in s.scores.iter_mut().filter(|v| **v > 0.0) {
                *v *= -0.5;
            }
        }
        // Sum per sentence, damping questions.
        for (i, t) in s.tokens.iter().enumerate() {
            let q = s
                .questions
                .get(t.sentence as usize)
                .copied()
                .unwrap_or(false);
            let v = if q {
                s.scores[i] * self.config.question_factor
            } else {
                s.scores[i]
            };
            s.scores[i] = v;
            if let Some(sent) = s.sentences.get_mut(t.sentence as usize) {
                sent.sum += v;
            }
        }
        self.finish(text, s)
    }

    /// Splits into whitespace tokens (emoji split off), strips punctuation
    /// except from emoticons, and records sentence ends.
    fn tokenize(&self, text: &str, s: &mut Scratch) {
        s.tokens.clear();
        s.lower.clear();
        s.sentences.clear();
        s.questions.clear();
        s.sarcastic = false;
        let mut sentence = 0u32;
        let mut sent_start = 0u32;
        let close = |s: &mut Scratch,
                     end: u32,
                     question: bool,
                     sentence: &mut u32,
                     sent_start: &mut u32| {
            s.sentences.push(SentenceScore {
                start: *sent_start,
                end,
                sum: 0.0,
            });
            s.questions.push(question);
            *sentence += 1;
            *sent_start = end;
        };
        let mut i = 0;
        while i < text.len() {
            let c = text[i..].chars().next().unwrap_or(' ');
            if c.is_whitespace() {
                if c == '\n' && s.tokens.last().is_some_and(|t| t.sentence == sentence) {
                    close(s, i as u32, false, &mut sentence, &mut sent_start);
                }
                i += c.len_utf8();
                continue;
            }
            let mut end = i;
            while end < text.len() {
                let c = text[end..].chars().next().unwrap_or(' ');
                if c.is_whitespace() {
                    break;
                }
                end += c.len_utf8();
            }
            // Split emoji off the chunk: "great😀" is two tokens.
            let chunk = &text[i..end];
            let mut piece_start = i;
            for (j, c) in chunk.char_indices() {
                if is_emoji(c) {
                    let at = i + j;
                    self.push_token(text, piece_start, at, sentence, s);
                    self.push_token(text, at, at + c.len_utf8(), sentence, s);
                    piece_start = at + c.len_utf8();
                }
            }
            self.push_token(text, piece_start, end, sentence, s);
            // A chunk ending in . ! ? (before closing quotes) ends a sentence,
            // unless it is an emoticon such as ":-)" or "(?)".
            let tail = chunk.trim_end_matches(['"', '\'', ')', '”', '’']);
            let is_emoticon = s.tokens.last().is_some_and(|t| t.valence.is_some());
            if !is_emoticon && (tail.ends_with(['.', '!', '?', '…'])) {
                let question = tail.ends_with('?') && !tail.contains('!');
                close(s, end as u32, question, &mut sentence, &mut sent_start);
            }
            i = end;
        }
        if s.tokens.last().is_some_and(|t| t.sentence == sentence) || s.sentences.is_empty() {
            close(s, text.len() as u32, false, &mut sentence, &mut sent_start);
        }
    }

    fn push_token(&self, text: &str, start: usize, end: usize, sentence: u32, s: &mut Scratch) {
        let raw = &text[start..end];
        let raw = raw.trim_matches(|c| c == '\u{FE0F}' || c == '\u{200D}');
        if raw.is_empty()
            || raw
                .chars()
                .all(|c| ('\u{1F3FB}'..='\u{1F3FF}').contains(&c))
        {
            return;
        }
        let lstart = s.lower.len();
        push_lower(raw, &mut s.lower);
        let lower = &s.lower[lstart..];
        // Emoticons keep their punctuation; words lose it ("great!!" -> "great").
        let has_punct = lower.chars().any(is_punct) && lower != "/s";
        let emoticon = lower == "/s"
            || has_punct && self.lexicon.words.contains_key(lower)
            || lower.chars().count() <= 2 && !lower.chars().any(char::is_alphanumeric);
        let (off, len) = if emoticon {
            (0, lower.len())
        } else {
            let trimmed = lower.trim_start_matches(is_punct);
            let off = lower.len() - trimmed.len();
            let trimmed = trimmed.trim_end_matches(is_punct);
            if trimmed.is_empty() {
                s.lower.truncate(lstart);
                return;
            }
            (off, trimmed.len())
        };
        let caps = {
            let letters = raw.chars().filter(|c| c.is_alphabetic()).count();
            letters >= 2 && !raw.chars().any(char::is_lowercase)
        };
        // Drop the stripped punctuation from the buffer.
        s.lower.truncate(lstart + off + len);
        s.lower.replace_range(lstart..lstart + off, "");
        s.tokens.push(Token {
            lstart: lstart as u32,
            lend: s.lower.len() as u32,
            caps,
            sentence,
            valence: None,
        });
    }

    /// Finds each token's lexicon valence; phrases (idioms) take their first
    /// token's place and neutralize the rest.
    fn lookup(&self, overrides: &[&Overrides], lang_lex: Option<&Lexicon>, s: &mut Scratch) {
        let lexes: Vec<&Lexicon> = overrides
            .iter()
            .copied()
            .chain(lang_lex)
            .chain(Some(&self.lexicon))
            .collect();
        let max_phrase = lexes.iter().map(|l| l.max_phrase_words).max().unwrap_or(0);
        let mut i = 0;
        while i < s.tokens.len() {
            let word = s.word(i);
            let mut consumed = 1;
            let mut valence = None;
            if max_phrase >= 2 && lexes.iter().any(|l| l.phrase_starts.contains(word)) {
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
                    let found = lexes
                        .iter()
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
            if SARCASM.contains(&s.word(i)) {
                s.sarcastic = true;
            }
            if valence.is_none() {
                let word = s.word(i);
                valence = lexes
                    .iter()
                    .find_map(|l| l.words.get(word).or_else(|| l.emoji.get(word)).copied());
            }
            s.tokens[i].valence = valence;
            for k in i + 1..i + consumed {
                // Words inside an idiom are spoken for: neutral, not modifiers.
                s.tokens[k].valence = Some(0.0);
            }
            i += consumed;
        }
    }

    fn valence(&self, i: usize, cap_diff: bool, s: &Scratch) -> f32 {
        let word = s.word(i);
        if BOOSTERS.contains(&word) || DAMPENERS.contains(&word) {
            return 0.0;
        }
        if word == "kind" && i + 1 < s.tokens.len() && s.word(i + 1) == "of" {
            return 0.0;
        }
        let Some(base) = s.tokens[i].valence else {
            return 0.0;
        };
        let sentence = s.tokens[i].sentence;
        let in_sentence = |k: usize| s.tokens[k].sentence == sentence;
        let mut v = base;
        // "no" before a sentiment word negates it instead of counting itself.
        if word == "no" && i + 1 < s.tokens.len() && s.tokens[i + 1].valence.is_some() {
            v = 0.0;
        }
        if (i > 0 && s.word(i - 1) == "no")
            || (i > 1 && s.word(i - 2) == "no")
            || (i > 2 && s.word(i - 3) == "no" && matches!(s.word(i - 1), "or" | "nor"))
        {
            v = base * N_SCALAR;
        }
        if s.tokens[i].caps && cap_diff {
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
            let mut scalar = modifier(s.word(k));
            if scalar != 0.0 {
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
            let pair = (s.word(i - 2), s.word(i - 1));
            if matches!(
                pair,
                ("kind", "of") | ("sort", "of") | ("a", "bit") | ("just", "enough")
            ) {
                v -= B_INCR.copysign(v);
            }
        }
        // "least" negates unless "at least" / "very least".
        if i > 0 && s.word(i - 1) == "least" && s.tokens[i - 1].valence.is_none() {
            let before = if i > 1 { s.word(i - 2) } else { "" };
            if before != "at" && before != "very" {
                v *= N_SCALAR;
            }
        }
        v
    }

    /// VADER's negation window: the token `j + 1` places before `i`.
    fn negation(&self, v: f32, s: &Scratch, i: usize, j: usize) -> f32 {
        let w = |k: usize| s.word(k);
        let k = i - j - 1;
        match j {
            0 => {
                if is_negation(w(k)) {
                    return v * N_SCALAR;
                }
            }
            1 => {
                if w(k) == "never" && matches!(w(i - 1), "so" | "this") {
                    return v * 1.25;
                } else if w(k) == "without" && w(i - 1) == "doubt" {
                    return v;
                } else if is_negation(w(k)) {
                    return v * N_SCALAR;
                }
            }
            _ => {
                // "haven't been this sore": a negation three words back with
                // "so"/"this" right before the word intensifies (VADER does the same).
                if (w(k) == "never" && matches!(w(i - 2), "so" | "this"))
                    || matches!(w(i - 1), "so" | "this")
                {
                    return v * 1.25;
                } else if w(k) == "without" && (w(i - 2) == "doubt" || w(i - 1) == "doubt") {
                    return v;
                } else if is_negation(w(k)) {
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
        let mut i = 0;
        let mut prev_start = 0;
        while i < s.tokens.len() {
            let sentence = s.tokens[i].sentence;
            let mut end = i;
            while end < s.tokens.len() && s.tokens[end].sentence == sentence {
                end += 1;
            }
            if let Some(b) = (i..end).find(|&k| matches!(s.word(k), "but" | "however")) {
                let from = if b == i { prev_start } else { i };
                for k in from..end {
                    if k < b {
                        s.scores[k] *= 0.5;
                    } else if k > b {
                        s.scores[k] *= 1.5;
                    }
                }
            }
            prev_start = i;
            i = end;
        }
    }

    fn finish(&self, text: &str, s: &mut Scratch) -> Sentiment {
        if s.tokens.is_empty() {
            return Sentiment {
                compound: 0.0,
                pos: 0.0,
                neu: 0.0,
                neg: 0.0,
                label: SentimentLabel::Neutral,
            };
        }
        let mut sum: f32 = s.scores.iter().sum();
        let amp = punctuation_emphasis(text);
        if sum > 0.0 {
            sum += amp;
        } else if sum < 0.0 {
            sum -= amp;
        }
        let compound = Self::compound(sum);
        let (mut pos, mut neg, mut neu) = (0.0f32, 0.0f32, 0.0f32);
        for &v in &s.scores {
            if v > 0.0 {
                pos += v + 1.0;
            } else if v < 0.0 {
                neg += v - 1.0;
            } else {
                neu += 1.0;
            }
        }
        if pos > neg.abs() {
            pos += amp;
        } else if pos < neg.abs() {
            neg -= amp;
        }
        let total = pos + neg.abs() + neu;
        let r = |x: f32| (x * 1000.0).round() / 1000.0;
        let compound = (compound * 10000.0).round() / 10000.0;
        Sentiment {
            compound,
            pos: r(pos / total),
            neu: r(neu / total),
            neg: r(neg.abs() / total),
            label: self.label(compound),
        }
    }
}

fn push_lower(raw: &str, out: &mut String) {
    for c in raw.chars() {
        match c {
            '’' | '‘' => out.push('\''),
            c if c.is_ascii() => out.push(c.to_ascii_lowercase()),
            c => out.extend(c.to_lowercase()),
        }
    }
}

fn is_punct(c: char) -> bool {
    c.is_ascii_punctuation() || matches!(c, '…' | '“' | '”' | '«' | '»' | '¡' | '¿' | '—' | '–')
}

fn is_negation(w: &str) -> bool {
    NEGATIONS.contains(&w) || w.contains("n't")
}

/// Booster (+) or dampener (−) scalar of a modifier word.
fn modifier(w: &str) -> f32 {
    if BOOSTERS.contains(&w) {
        B_INCR
    } else if DAMPENERS.contains(&w) {
        -B_INCR
    } else {
        0.0
    }
}

/// VADER's emphasis from `!` (up to 4) and `?` (2 or more).
fn punctuation_emphasis(text: &str) -> f32 {
    let ep = text.matches('!').count().min(4) as f32 * 0.292;
    let qm = match text.matches('?').count() {
        0 | 1 => 0.0,
        n @ 2..=3 => n as f32 * 0.18,
        _ => 0.96,
    };
    ep + qm
}

/// Compound score of summed sentence valences (used for entity sentiment).
pub(crate) fn compound_of(sum: f32) -> f32 {
    (Analyzer::compound(sum) * 10000.0).round() / 10000.0
}

#[cfg(test)]
mod tests;
