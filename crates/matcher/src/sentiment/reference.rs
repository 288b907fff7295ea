//! A plain reference for the sentiment rules: `String` tokens, `HashMap`
//! lexicons and straight loops, written from VADER's description and the
//! rules documented in `sentiment.rs`, with none of the fast analyzer's
//! machinery (no windows, lanes, perfect hash, bit flags, marked lists or
//! shortcuts). A proptest below holds the fast analyzer to it on random
//! text, so a change to either is a change to the definition, visible here.
//!
//! Floats: the reference does the same operations in the same order as
//! the fast analyzer (each rule's arithmetic is the definition, and sums
//! run in token order), so results are compared exactly, bit for bit up to
//! the sign of zero.
//!
//! Definitions the fast analyzer has that a reader might not expect (each
//! is kept here on purpose, and noted where it is applied):
//! - a zero valence counts as a scored word (it weighs as neutral in the
//!   proportions) but takes no capitals bonus and no modifier: words inside
//!   an idiom and entries of 0 (an override "war zone" = 0, the social
//!   lexicon's "bus stop" = 0) stay 0 (they went up before issue 17's
//!   reference found it);
//! - "NO good": "no" scores 0 and stays 0 (issue 17: its capitals pushed
//!   it up by 0.733, with the sign of +0, where VADER's `else` pushes it
//!   down; "no" before a sentiment word does not count itself, so neither
//!   does its emphasis);
//! - when the third token before a word is in its sentence and has no
//!   valence, "so" or "this" right before the word multiplies it by 1.25,
//!   whatever that third token is (from VADER's `or "this"` test, which
//!   is always true in Python), kept;
//! - "no" and "least" look back across sentence ends, and "kind" looks
//!   ahead to "of" across them; the other rules stay in the sentence;
//! - a sentence opening with "but" halves the sentence before it, even if
//!   that one's words were already halved by a "but" of its own.

use std::collections::HashMap;

use super::words::{BOOSTERS, DAMPENERS, NEGATIONS, SARCASM};
use super::{Analyzer, Scratch};
use crate::lexicon::{is_emoji, Lexicon};
use earshot_model::{Sentiment, SentimentLabel};

/// One lexicon as plain maps.
struct Plain {
    words: HashMap<String, f32>,
    emoji: HashMap<String, f32>,
    phrases: HashMap<String, f32>,
}

impl Plain {
    fn of(l: &Lexicon) -> Plain {
        let copy = |m: &rustc_hash::FxHashMap<String, f32>| {
            m.iter().map(|(k, &v)| (k.clone(), v)).collect()
        };
        Plain {
            words: copy(&l.words),
            emoji: copy(&l.emoji),
            phrases: copy(&l.phrases),
        }
    }

    /// A word's valence: the word list first, then the emoji list.
    fn word(&self, w: &str) -> Option<f32> {
        self.words.get(w).or_else(|| self.emoji.get(w)).copied()
    }
}

/// A token as the reference sees it.
#[derive(Debug, Clone)]
struct Tok {
    /// Lowercase, with punctuation trimmed unless it is an emoticon.
    word: String,
    /// Written in capitals: two letters or more, none lowercase.
    caps: bool,
    sentence: usize,
    valence: Option<f32>,
}

/// A sentence: its byte span in the text and whether it asks a question.
#[derive(Debug, Clone, Copy)]
struct Sent {
    start: usize,
    end: usize,
    question: bool,
}

/// What the reference computes: the post's scores and each sentence's
/// span and summed valence (the matcher's entity sentiment reads those).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Outcome {
    pub sentiment: Sentiment,
    pub sentences: Vec<(u32, u32, f32)>,
}

/// The reference analyzer for one setting: the analyzer's lexicons and
/// rule parameters, the post's language and the brands' overrides.
pub(super) struct Reference {
    main: Plain,
    /// Per-brand overrides, then the post language's lexicon: looked up
    /// before the main lexicon.
    extra: Vec<Plain>,
    question_factor: f32,
    neutral_threshold: f32,
}

const B_INCR: f32 = 0.293;
const C_INCR: f32 = 0.733;
const N_SCALAR: f32 = -0.74;

// The words single rules name.
fn is_negation(w: &str) -> bool {
    // VADER's list, plus any "n't" contraction.
    NEGATIONS.contains(&w) || w.contains("n't")
}
fn is_booster(w: &str) -> bool {
    BOOSTERS.contains(&w)
}
fn is_dampener(w: &str) -> bool {
    DAMPENERS.contains(&w)
}
fn is_but(w: &str) -> bool {
    w == "but" || w == "however"
}
fn is_so_this(w: &str) -> bool {
    w == "so" || w == "this"
}

impl Reference {
    pub fn new(a: &Analyzer, lang: Option<&str>, overrides: &[&Lexicon]) -> Reference {
        let mut extra: Vec<Plain> = overrides.iter().map(|l| Plain::of(l)).collect();
        if let Some((_, l)) = lang.and_then(|l| a.by_lang.iter().find(|(x, _)| x == l)) {
            extra.push(Plain::of(l));
        }
        Reference {
            main: Plain::of(&a.lexicon),
            extra,
            question_factor: a.config.question_factor,
            neutral_threshold: a.config.neutral_threshold,
        }
    }

    pub fn score(&self, text: &str) -> Outcome {
        let (mut toks, sents) = tokenize(text, &self.main.words);
        let exclaims = text.chars().filter(|&c| c == '!').count();
        let queries = text.chars().filter(|&c| c == '?').count();
        let sarcastic = self.look_up(&mut toks);

        // Capitals emphasize a word only when the post is not all capitals.
        let caps = toks.iter().filter(|t| t.caps).count();
        let cap_diff = caps > 0 && caps < toks.len();

        let mut scores: Vec<f32> = (0..toks.len())
            .map(|i| self.rules(&toks, i, cap_diff))
            .collect();
        contrast(&toks, &mut scores);

        let mut sums = vec![0.0f32; sents.len()];
        for (i, v) in scores.iter_mut().enumerate() {
            // Sarcasm: with a marker in the post, praise means the
            // opposite, weakly.
            if sarcastic && *v > 0.0 {
                *v *= -0.5;
            }
            // A question is not a statement: its sentence's words weigh less.
            if *v != 0.0 {
                let s = toks[i].sentence;
                if sents[s].question {
                    *v *= self.question_factor;
                }
                sums[s] += *v;
            }
        }
        let sentiment = self.finish(&scores, exclaims, queries);
        Outcome {
            sentiment,
            sentences: sents
                .iter()
                .zip(sums)
                .map(|(s, sum)| (s.start as u32, s.end as u32, sum))
                .collect(),
        }
    }

    /// Gives each token its lexicon valence. An idiom (a multi-word entry,
    /// longest first, within one sentence) takes its first word's place,
    /// and its other words become neutral (valence 0, "spoken for").
    /// Lexicons are asked in order: overrides, language, main. Returns
    /// whether the post has a sarcasm marker (a marker word not inside an
    /// idiom, or a marker idiom).
    fn look_up(&self, toks: &mut [Tok]) -> bool {
        let mut sarcastic = false;
        let lexicons: Vec<&Plain> = self.extra.iter().chain([&self.main]).collect();
        let longest = lexicons
            .iter()
            .flat_map(|l| l.phrases.keys())
            .map(|p| p.split(' ').count())
            .max()
            .unwrap_or(0);
        let mut i = 0;
        while i < toks.len() {
            let mut consumed = 1;
            let mut valence = None;
            for n in (2..=longest.min(toks.len() - i)).rev() {
                if toks[i + n - 1].sentence != toks[i].sentence {
                    continue;
                }
                let joined: Vec<&str> = toks[i..i + n].iter().map(|t| t.word.as_str()).collect();
                let joined = joined.join(" ");
                if let Some(v) = lexicons.iter().find_map(|l| l.phrases.get(&joined)) {
                    sarcastic |= SARCASM.contains(&joined.as_str());
                    valence = Some(*v);
                    consumed = n;
                    break;
                }
            }
            if SARCASM.contains(&toks[i].word.as_str()) {
                sarcastic = true;
            }
            if valence.is_none() {
                valence = lexicons.iter().find_map(|l| l.word(&toks[i].word));
            }
            toks[i].valence = valence;
            // The idiom's other words are skipped (so they are not sarcasm
            // markers either) and score 0.
            for t in &mut toks[i + 1..i + consumed] {
                t.valence = Some(0.0);
            }
            i += consumed;
        }
        sarcastic
    }

    /// A token's score by VADER's rules, before contrast, sarcasm and
    /// questions.
    fn rules(&self, toks: &[Tok], i: usize, cap_diff: bool) -> f32 {
        let w = |k: usize| toks[k].word.as_str();
        let n = toks.len();
        // Boosters and dampeners modify; they do not count themselves.
        if is_booster(w(i)) || is_dampener(w(i)) {
            return 0.0;
        }
        // "kind of" is a dampener, not the word "kind".
        if w(i) == "kind" && i + 1 < n && w(i + 1) == "of" {
            return 0.0;
        }
        let Some(base) = toks[i].valence else {
            return 0.0;
        };
        let sentence = toks[i].sentence;
        let mut v = base;
        // "no" before a sentiment word negates it ("no good") rather than
        // counting itself.
        if w(i) == "no" && i + 1 < n && toks[i + 1].valence.is_some() {
            v = 0.0;
        }
        // "no" one or two words back negates; three back through "or"/"nor"
        // ("no fun or good"). Across sentence ends too.
        if (i > 0 && w(i - 1) == "no")
            || (i > 1 && w(i - 2) == "no")
            || (i > 2 && w(i - 3) == "no" && (w(i - 1) == "or" || w(i - 1) == "nor"))
        {
            v = base * N_SCALAR;
        }
        // A score of 0 here (a word inside an idiom, made neutral by a
        // lexicon or an override, or "no" before a sentiment word) has
        // nothing to amplify: capitals, boosters and dampeners leave it 0
        // (issue 17: they used to push it up).
        let amplifies = v != 0.0;
        // Capitals in a post that is not all capitals: emphasis away from
        // zero.
        if toks[i].caps && cap_diff && amplifies {
            v += C_INCR.copysign(v);
        }
        // The three words before, in the same sentence: boosters and
        // dampeners (weaker the farther), and negations.
        for j in 0..3 {
            if i <= j || toks[i - j - 1].sentence != sentence {
                break;
            }
            let k = i - j - 1;
            // A word with a valence of its own is neither.
            if toks[k].valence.is_some() {
                continue;
            }
            let mut scalar = if is_booster(w(k)) {
                B_INCR
            } else if is_dampener(w(k)) {
                -B_INCR
            } else {
                0.0
            };
            if scalar != 0.0 && amplifies {
                // A booster pushes a negative word further down.
                if v < 0.0 {
                    scalar = -scalar;
                }
                // A booster in capitals boosts more.
                if toks[k].caps && cap_diff {
                    scalar += C_INCR.copysign(v);
                }
                scalar *= [1.0, 0.95, 0.9][j];
                v += scalar;
            }
            v = negation(v, toks, i, j);
        }
        // Two-word dampeners: "kind of good", "sort of good", "a bit good",
        // "just enough good".
        if i > 1 && toks[i - 2].sentence == sentence {
            let pair = (w(i - 2), w(i - 1));
            if amplifies
                && matches!(
                    pair,
                    ("kind" | "sort", "of") | ("a", "bit") | ("just", "enough")
                )
            {
                v -= B_INCR.copysign(v);
            }
        }
        // "least" right before negates ("least good"), except "at least" and
        // "very least". Across sentence ends too.
        let at_least = i > 1 && (w(i - 2) == "at" || w(i - 2) == "very");
        if i > 0 && w(i - 1) == "least" && toks[i - 1].valence.is_none() && !at_least {
            v *= N_SCALAR;
        }
        v
    }

    fn finish(&self, scores: &[f32], exclaims: usize, queries: usize) -> Sentiment {
        if scores.is_empty() {
            // Nothing to score: all zeros, neutral.
            return Sentiment {
                compound: 0.0,
                pos: 0.0,
                neu: 0.0,
                neg: 0.0,
                label: SentimentLabel::Neutral,
            };
        }
        // `Sum` starts at -0.0: a post of tokens scoring -0.0 sums to -0.0.
        let mut sum: f32 = scores.iter().sum();
        let (mut pos, mut neg, mut neu) = (0.0f32, 0.0f32, 0.0f32);
        for &v in scores {
            // VADER counts each scored word one more than its valence, so
            // a single word weighs against the neutral words.
            if v > 0.0 {
                pos += v + 1.0;
            } else if v < 0.0 {
                neg += v - 1.0;
            } else {
                neu += 1.0;
            }
        }
        // "!" (up to four) and "?" (two or more) amplify the post's sign.
        let mut amp = exclaims.min(4) as f32 * 0.292;
        amp += match queries {
            0 | 1 => 0.0,
            2 | 3 => queries as f32 * 0.18,
            _ => 0.96,
        };
        if sum > 0.0 {
            sum += amp;
        } else if sum < 0.0 {
            sum -= amp;
        }
        // VADER's normalization to -1..1 (alpha = 15).
        let compound = (sum / (sum * sum + 15.0).sqrt()).clamp(-1.0, 1.0);
        if pos > neg.abs() {
            pos += amp;
        } else if pos < neg.abs() {
            neg -= amp;
        }
        let total = pos + neg.abs() + neu;
        let r = |x: f32| (x * 1000.0).round() / 1000.0;
        let compound = (compound * 10000.0).round() / 10000.0;
        let label = if compound >= self.neutral_threshold {
            SentimentLabel::Positive
        } else if compound <= -self.neutral_threshold {
            SentimentLabel::Negative
        } else {
            SentimentLabel::Neutral
        };
        Sentiment {
            compound,
            pos: r(pos / total),
            neu: r(neu / total),
            neg: r(neg.abs() / total),
            label,
        }
    }
}

/// VADER's negation window: the word `j + 1` places before `i` (in the
/// sentence, with no valence).
fn negation(v: f32, toks: &[Tok], i: usize, j: usize) -> f32 {
    let w = |k: usize| toks[k].word.as_str();
    let k = i - j - 1;
    match j {
        0 => {
            if is_negation(w(k)) {
                return v * N_SCALAR;
            }
        }
        1 => {
            // "never so good" intensifies; "without doubt good" is not a
            // negation.
            if w(k) == "never" && is_so_this(w(i - 1)) {
                return v * 1.25;
            } else if w(k) == "without" && w(i - 1) == "doubt" {
                return v;
            } else if is_negation(w(k)) {
                return v * N_SCALAR;
            }
        }
        _ => {
            // VADER's test here is `i-3 == "never" and i-2 in (so, this)
            // or i-1 == "so" or "this"`: the last part is always true in
            // Python; Earshot reads it as "i-1 is so/this", and keeps it.
            if (w(k) == "never" && is_so_this(w(i - 2))) || is_so_this(w(i - 1)) {
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

/// Contrast: in a sentence with "but" (or "however"), words before the
/// first one weigh half and words after it one and a half. A sentence that
/// opens with it contrasts with the sentence before (whose words are then
/// halved, and halved again if it had a "but" of its own).
fn contrast(toks: &[Tok], scores: &mut [f32]) {
    // Sentences as runs of tokens: sentences with no token have no run.
    let mut runs: Vec<(usize, usize)> = Vec::new();
    for (i, t) in toks.iter().enumerate() {
        match runs.last_mut() {
            Some((start, end)) if toks[*start].sentence == t.sentence => *end = i + 1,
            _ => runs.push((i, i + 1)),
        }
    }
    for (r, &(start, end)) in runs.iter().enumerate() {
        let Some(b) = (start..end).find(|&k| is_but(&toks[k].word)) else {
            continue;
        };
        let from = if b == start && r > 0 {
            runs[r - 1].0
        } else {
            start
        };
        // Words with no valence score +0, which weighing leaves +0.
        for (k, v) in scores.iter_mut().enumerate().take(end).skip(from) {
            if k < b {
                *v *= 0.5;
            } else if k > b {
                *v *= 1.5;
            }
        }
    }
}

/// Splits a text into tokens and sentences.
///
/// Tokens are whitespace-separated chunks; emoji are split off into
/// tokens of their own ("great😀" is two). Punctuation around a word is
/// trimmed ("great!!" is "great") unless the whole chunk is an emoticon: a
/// main-lexicon word with punctuation (":-(", "</3"), "/s", or at most two
/// characters with no letter or digit. Emoji joiners and variation
/// selectors are trimmed, skin tones alone dropped, curly apostrophes
/// straightened. A sentence ends at a newline and after a chunk ending in
/// `.`, `!`, `?` or `…` (before closing quotes and brackets); it asks a
/// question if it ends in `?` with no `!` in that tail.
fn tokenize(text: &str, emoticons: &HashMap<String, f32>) -> (Vec<Tok>, Vec<Sent>) {
    let mut toks = Vec::new();
    let mut sents: Vec<Sent> = Vec::new();
    let mut start = 0;
    let close = |sents: &mut Vec<Sent>, start: &mut usize, end: usize, question: bool| {
        sents.push(Sent {
            start: *start,
            end,
            question,
        });
        *start = end;
    };
    let has_tokens = |toks: &Vec<Tok>, sents: &Vec<Sent>| {
        toks.last().is_some_and(|t: &Tok| t.sentence == sents.len())
    };
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c.is_whitespace() {
            // A newline ends a sentence that has words.
            if c == '\n' && has_tokens(&toks, &sents) {
                close(&mut sents, &mut start, i, false);
            }
            continue;
        }
        let mut end = i + c.len_utf8();
        while let Some(&(j, d)) = chars.peek() {
            if d.is_whitespace() {
                break;
            }
            end = j + d.len_utf8();
            chars.next();
        }
        let chunk = &text[i..end];
        let mut piece = String::new();
        for ch in chunk.chars() {
            if is_emoji(ch) {
                push_piece(&piece, sents.len(), emoticons, &mut toks);
                push_piece(&ch.to_string(), sents.len(), emoticons, &mut toks);
                piece.clear();
            } else {
                piece.push(ch);
            }
        }
        push_piece(&piece, sents.len(), emoticons, &mut toks);
        if let Some(question) = ends_sentence(chunk) {
            close(&mut sents, &mut start, end, question);
        }
    }
    if has_tokens(&toks, &sents) || sents.is_empty() {
        close(&mut sents, &mut start, text.len(), false);
    }
    (toks, sents)
}

fn ends_sentence(chunk: &str) -> Option<bool> {
    // A chunk ending in a letter or digit does not ("e.g" no, "v1.0" no).
    if chunk.ends_with(|c: char| c.is_ascii_alphanumeric()) {
        return None;
    }
    let tail = chunk.trim_end_matches(['"', '\'', ')', '”', '’']);
    if !tail.ends_with(['.', '!', '?', '…']) {
        return None;
    }
    Some(tail.ends_with('?') && !tail.contains('!'))
}

/// Punctuation trimmed from words: ASCII's and the common typographic marks.
fn is_punct(c: char) -> bool {
    c.is_ascii_punctuation() || "…“”«»¡¿—–".contains(c)
}

/// Adds a piece of a chunk (a chunk, or a part between emoji, or an
/// emoji) as a token, unless nothing of it is left once trimmed.
fn push_piece(raw: &str, sentence: usize, emoticons: &HashMap<String, f32>, toks: &mut Vec<Tok>) {
    // Joiners and variation selectors belong to the emoji around them;
    // a skin tone alone says nothing.
    let raw = raw.trim_matches(['\u{FE0F}', '\u{200D}']);
    if raw.is_empty()
        || raw
            .chars()
            .all(|c| ('\u{1F3FB}'..='\u{1F3FF}').contains(&c))
    {
        return;
    }
    let mut lower = String::new();
    for c in raw.chars() {
        match c {
            // "isn’t" is "isn't".
            '’' | '‘' => lower.push('\''),
            c => lower.extend(c.to_lowercase()),
        }
    }
    // Emoticons keep their punctuation: ":-(" is a word of the lexicon,
    // ":(" or "<3" (two marks) and "/s" are taken as they are.
    let has_punct = lower.chars().any(is_punct);
    let emoticon = lower == "/s"
        || has_punct && emoticons.contains_key(&lower)
        || lower.chars().count() <= 2 && !lower.chars().any(char::is_alphanumeric);
    let word = if emoticon {
        lower
    } else {
        let trimmed = lower.trim_matches(is_punct);
        if trimmed.is_empty() {
            return;
        }
        trimmed.to_string()
    };
    let letters = raw.chars().filter(|c| c.is_alphabetic()).count();
    toks.push(Tok {
        word,
        caps: letters >= 2 && !raw.chars().any(char::is_lowercase),
        sentence,
        valence: None,
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::LexiconFormat;
    use proptest::prelude::*;

    /// The bundled lexicons, loaded as the config loads them, plus entries
    /// that the bundled ones lack and the rules must handle: words and an
    /// emoticon of 16 bytes or more (the tokenizer reads those byte by
    /// byte, shorter ones whole), a non-ASCII word, idioms of three words.
    fn analyzer() -> Analyzer {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../config/lexicons/");
        let read = |f: &str| std::fs::read_to_string(format!("{dir}{f}")).unwrap();
        let mut main = Lexicon::default();
        for (f, format) in [
            ("vader_lexicon.txt", LexiconFormat::Vader),
            ("social.tsv", LexiconFormat::Vader),
            ("vader_emoji_lexicon.txt", LexiconFormat::VaderEmoji),
        ] {
            assert!(main.load(&read(f), format).is_empty(), "{f}");
        }
        for (w, v) in [
            ("supercalifragilistic", 2.5),
            ("catastrophically-bad", -3.0),
            (":-((((((((((((((((", -2.2),
            ("génial", 2.8),
            ("out of stock", -1.4),
            ("not bad at all", 2.0),
        ] {
            main.insert(w, v);
        }
        main.resolve_emoji();
        let mut fr = Lexicon::default();
        assert!(fr.load(&read("fr.tsv"), LexiconFormat::Vader).is_empty());
        fr.resolve_emoji();
        let mut a = Analyzer::new(main);
        a.by_lang.push(("fr".into(), fr));
        a
    }

    /// Per-brand overrides: a zero idiom ("war zone"), a flipped word, a
    /// word made neutral, a long one.
    fn overrides() -> Lexicon {
        let mut o = Lexicon::default();
        for (w, v) in [
            ("war zone", 0.0),
            ("sick", 2.0),
            ("bad", 0.0),
            ("killer", 2.5),
            ("unputdownable-ish", 1.5),
        ] {
            o.insert(w, v);
        }
        o
    }

    /// The fast analyzer's outcome, in the reference's terms.
    fn fast(a: &Analyzer, text: &str, lang: Option<&str>, o: &[&Lexicon]) -> Outcome {
        let mut s = Scratch::default();
        let sentiment = a.analyze(text, lang, o, &mut s);
        Outcome {
            sentiment,
            sentences: s
                .sentences
                .iter()
                .map(|x| (x.start, x.end, x.sum))
                .collect(),
        }
    }

    /// Equal, float for float (`==`: +0 and -0 are the same score).
    fn check(
        a: &Analyzer,
        reference: &Reference,
        text: &str,
        lang: Option<&str>,
        o: &[&Lexicon],
    ) -> Result<(), String> {
        let want = reference.score(text);
        let got = fast(a, text, lang, o);
        if got == want {
            Ok(())
        } else {
            Err(format!(
                "{text:?} (lang {lang:?}, {} overrides)\n fast: {got:?}\n  ref: {want:?}",
                o.len()
            ))
        }
    }

    /// The three settings every text is scored in: the main lexicon alone
    /// (idioms found by word ids), with French, and with overrides (idioms
    /// found by strings), with their references (built once: each copies
    /// the lexicons).
    struct Settings {
        a: Analyzer,
        o: Lexicon,
        references: Vec<Reference>,
    }

    const LANGS: [Option<&str>; 3] = [None, Some("fr"), None];

    impl Settings {
        fn new() -> Settings {
            let a = analyzer();
            let o = overrides();
            let references = vec![
                Reference::new(&a, None, &[]),
                Reference::new(&a, Some("fr"), &[]),
                Reference::new(&a, None, &[&o]),
            ];
            Settings { a, o, references }
        }

        fn check(&self, setting: usize, text: &str) -> Result<(), String> {
            let o: &[&Lexicon] = if setting == 2 { &[&self.o] } else { &[] };
            check(&self.a, &self.references[setting], text, LANGS[setting], o)
        }
    }

    /// Words for random texts: each rule's words, in several spellings.
    #[rustfmt::skip]
    const VOCABULARY: &[&str] = &[
        // Lexicon words, idioms, slang.
        "good", "great", "bad", "hate", "love", "lol", "sux", "horrible", "nice", "killer", "sick",
        "yeah", "right", "oh", "under", "the", "weather", "war", "zone", "bus", "stop", "out",
        "of", "stock", "at", "all", "just", "what", "i", "needed", "thanks", "for", "nothing",
        "kind", "sort", "a", "bit", "enough", "least", "very", "doubt", "without", "never", "so",
        "this", "no", "or", "nor", "but", "however", "but.",
        // Whole idioms (random words rarely line up into one), in capitals
        // too, and French ones.
        "yeah right", "under the weather", "UNDER THE WEATHER", "just what i needed",
        "out of stock", "not bad at all", "war zone", "WAR ZONE", "bus stop", "BUS STOP",
        "customer service", "oh great", "thanks for nothing", "pas mal", "the bomb",
        // Boosters, dampeners, negations.
        "extremely", "really", "super", "slightly", "kinda", "barely", "sort-of", "not", "don't",
        "isn't", "cant", "nope", "uh-uh", "n't", "won't!", "rarely",
        // Capitals.
        "GOOD", "Bad", "BAD", "VERY", "NOT", "LOVE", "BUT", "YEAH", "RIGHT", "WAR", "ZONE", "BUS",
        "STOP", "OK", "I", "SO", "NO", "KIND", "LEAST", "THIS",
        // Punctuation.
        "!", "!!!", "?", "??", "?!", "!?", "...", ".", ",", "good!!", "bad?", "(great)",
        "\"nice.\"", "'why?'", "ok.)", "wow?\"", "-", "e.g", "v1.0",
        // Emoticons.
        ":)", ":D", ":-(", "</3", "<3", ":(", "/s", "/S", ":-P", ";)", "(?)", "XD",
        // Emoji, glued, with skin tones and joiners.
        "😀", "😠", "🙄", "🙃", "👍🏽", "❤️", "good😀", "😠😠", "🏽", "👨‍👩‍👧", "☹",
        // Non-ASCII words, two-letter capitals among them.
        "ÇA", "ÉS", "Ça", "génial", "GÉNIAL", "nul", "pas", "mal", "café", "naïve", "ÜBER",
        "isn’t", "don’t", "“good”", "«bad»", "¡great!", "¿bad?", "good…", "great—", "straße",
        "ΚΑΛΟ",
        // Long tokens: 16 bytes and more (read byte by byte), and 15 (the
        // longest read whole).
        "supercalifragilistic", "SUPERCALIFRAGILISTIC", "catastrophically-bad",
        ":-((((((((((((((((", "abcdefghijklmnopq", "https://example.com/a?b=c!",
        "unputdownable-ish", "wouldn't-couldn't!", "good,bad,great,ok,fine", "exactlyfifteen!",
        "sixteen-bytes-ok",
    ];

    fn text() -> impl Strategy<Value = String> {
        let word = prop_oneof![
            8 => proptest::sample::select(VOCABULARY).prop_map(str::to_string),
            1 => "[a-zA-Z'!?.,:()-]{1,20}",
            1 => "\\PC{1,6}",
        ];
        let sep = prop_oneof![
            8 => Just(" ".to_string()),
            1 => Just("\n".to_string()),
            1 => Just(String::new()),
            1 => "[ \t\n\r\u{a0}]{1,3}",
        ];
        proptest::collection::vec((word, sep), 0..24).prop_map(|parts| {
            parts.into_iter().fold(String::new(), |mut t, (w, s)| {
                t.push_str(&w);
                t.push_str(&s);
                t
            })
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        /// The fast analyzer scores random text as the reference does:
        /// compound, proportions, label and each sentence's span and sum,
        /// with the main lexicon alone (idioms found by word ids) and with
        /// overrides and the language's lexicon (idioms found by strings).
        #[test]
        fn fast_analyzer_matches_the_reference(text in text(), setting in 0..3usize) {
            thread_local! {
                static SETTINGS: Settings = Settings::new();
            }
            let result = SETTINGS.with(|s| s.check(setting, &text));
            prop_assert!(result.is_ok(), "{}", result.unwrap_err());
        }
    }

    /// The texts in the repository: the sentiment corpus, the golden
    /// texts and posts, and the 13,000 multilingual sentences of the
    /// language tests, each with the main lexicon alone, with French, and
    /// with overrides.
    #[test]
    fn fast_analyzer_matches_the_reference_on_the_repository_texts() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../");
        let read = |f: &str| std::fs::read_to_string(format!("{root}{f}")).unwrap();
        let mut texts: Vec<String> = Vec::new();
        texts.extend(
            read("benches/sentiment-eval/corpus.txt")
                .lines()
                .map(String::from),
        );
        texts.extend(read("tests/golden/texts.txt").lines().map(String::from));
        // The golden posts include a line that is not JSON on purpose.
        for line in read("tests/golden/posts.jsonl").lines() {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(line) {
                if let Some(t) = v.get("text").and_then(|t| t.as_str()) {
                    texts.push(t.to_string());
                }
            }
        }
        for line in read("crates/matcher/tests/data/lang-cases.tsv")
            .lines()
            .skip(1)
        {
            texts.push(line.splitn(3, '\t').nth(2).unwrap_or("").to_string());
        }
        assert!(texts.len() > 13_000, "{}", texts.len());
        let settings = Settings::new();
        let mut failures = Vec::new();
        for t in &texts {
            for setting in 0..3 {
                if let Err(e) = settings.check(setting, t) {
                    failures.push(e);
                }
            }
        }
        assert!(
            failures.is_empty(),
            "{} disagreements, first:\n{}",
            failures.len(),
            failures[..failures.len().min(5)].join("\n")
        );
    }

    /// The same on texts outside the repository, such as the 23,699
    /// human-rated texts in the vaderSentiment sdist that
    /// `benches/sentiment-eval/run.sh` downloads: the files named in
    /// `EARSHOT_REFERENCE_TEXTS` (separated by `:`), one text a line (the
    /// last tab-separated field, so ground-truth files read as they are).
    #[test]
    #[ignore = "needs EARSHOT_REFERENCE_TEXTS, a list of text files"]
    fn fast_analyzer_matches_the_reference_on_texts_named_in_the_environment() {
        let files = std::env::var("EARSHOT_REFERENCE_TEXTS")
            .expect("EARSHOT_REFERENCE_TEXTS: text files separated by ':'");
        let settings = Settings::new();
        let (mut texts, mut failures) = (0, Vec::new());
        for file in files.split(':') {
            let bytes = std::fs::read(file).unwrap_or_else(|e| panic!("{file}: {e}"));
            for line in String::from_utf8_lossy(&bytes).lines() {
                let text = line.rsplit('\t').next().unwrap_or(line);
                texts += 1;
                for setting in 0..3 {
                    if let Err(e) = settings.check(setting, text) {
                        failures.push(e);
                    }
                }
            }
        }
        assert!(texts > 0, "no texts in {files}");
        assert!(
            failures.is_empty(),
            "{} disagreements in {texts} texts, first:\n{}",
            failures.len(),
            failures[..failures.len().min(5)].join("\n")
        );
        eprintln!("{texts} texts agree in 3 settings");
    }
}
