//! The hybrid sentiment model: a multinomial logistic regression over the
//! lexicon's scores and the text's hashed word unigrams and bigrams, whose
//! weights (`hybrid-weights.tsv`, compiled in) were learned on human-rated
//! text by `benches/sentiment-eval/train.sh`.
//!
//! The lexicon still explains a score: its words, their valences and the
//! per-sentence sums stay as they were; the model reads the lexicon's
//! compound and shares as three of its inputs and adds what the n-grams
//! say ("waste of", "the plot", "not worth") that no lexicon entry holds.
//!
//! Classes are negative, neutral and positive; neutral's logit is fixed at
//! 0, so each feature has two weights (positive, negative). The compound is
//! P(positive) − P(negative), in −1..1. The inputs: the lexicon's compound,
//! shares and label, the text's length in tokens, and whether it has a
//! mention, a link, a hashtag, `!`s, emoji or a `?` (social text is rated by
//! people differently from a review's sentence); then the n-grams, each
//! weighed by (1 − |lexicon compound|)²: where the lexicon is sure, the
//! n-grams (learned mostly on reviews) change little.
//!
//! Tokens for the n-grams (the same in training, which reads them through
//! [`super::Analyzer::features`]): runs of letters, digits and apostrophes
//! (`’` read as `'`), lowercased, apostrophes trimmed from both ends; any
//! other non-ASCII, non-space character (an emoji) is a token of its own,
//! except variation selectors, joiners and skin tones, which are skipped.
//! ASCII punctuation and spaces separate tokens.

use std::sync::OnceLock;

/// The shipped weights.
pub(super) const WEIGHTS: &str = include_str!("hybrid-weights.tsv");

/// The model's inputs besides the n-grams (see [`inputs`]).
pub(crate) const INPUTS: [&str; 18] = [
    "compound",
    "pos",
    "neg",
    "lexicon_positive",
    "lexicon_negative",
    "abs_compound",
    "log_tokens",
    "mention",
    "link",
    "hashtag",
    "exclaims",
    "emoji",
    "social",
    "social_compound",
    "social_abs_compound",
    "social_lexicon_positive",
    "social_lexicon_negative",
    "question",
];

/// The lexicon's default neutral band: its label is an input (fixed
/// here, whatever the config says, as the model was trained with it).
const LEXICON_BAND: f32 = 0.35;

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// The trained model: weights by n-gram hash in an open-addressing table.
#[derive(Debug, Clone)]
pub(crate) struct Model {
    /// The neutral band |compound| < this, calibrated with the weights.
    pub neutral_threshold: f32,
    /// The n-grams' weight in a social post, and in a question, times the
    /// gate.
    social_gate: f32,
    question_gate: f32,
    bias: [f32; 2],
    inputs: [[f32; 2]; INPUTS.len()],
    /// `(hash, [positive, negative])`; hash 0 marks an empty slot.
    slots: Vec<(u64, [f32; 2])>,
    shift: u32,
}

/// Reused per thread: the text's tokens, lowercased, end to end.
#[derive(Debug, Default)]
pub(crate) struct Grams {
    pub bytes: Vec<u8>,
    /// Where each token ends in `bytes` (it starts where the last ended).
    pub ends: Vec<u32>,
    /// Each token's [`key`], hashed as its bytes were written.
    pub keys: Vec<u64>,
    /// The key of the token being written, so far.
    hash: u64,
    /// `@` or `#` before a letter, digit or `_`; `http`; how many `!`; a
    /// character above U+2000 (emoji, symbols).
    pub mention: bool,
    pub hashtag: bool,
    pub link: bool,
    pub exclaims: u32,
    pub emoji: bool,
    /// A `?` anywhere: asking is not praising (the lexicon damps questions
    /// too).
    pub question: bool,
}

impl Grams {
    /// Written as social posts are (a mention, link, hashtag or emoji):
    /// people rate those differently from a review's sentence, so the
    /// model has inputs for them.
    pub fn is_social(&self) -> bool {
        self.mention || self.link || self.hashtag || self.emoji
    }

    /// Token `i`'s bytes.
    pub fn token(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.bytes[start..self.ends[i] as usize]
    }

    /// Splits `text` into the model's tokens.
    pub fn split(&mut self, text: &str) {
        self.bytes.clear();
        self.ends.clear();
        self.keys.clear();
        self.hash = FNV_OFFSET;
        (self.mention, self.hashtag, self.link) = (false, false, false);
        (self.exclaims, self.emoji, self.question) = (0, false, false);
        let bytes = text.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            if b < 0x80 {
                if b.is_ascii_alphanumeric() || b == b'\'' {
                    self.push(b.to_ascii_lowercase());
                    if b == b'h' && bytes[i..].starts_with(b"http") {
                        self.link = true;
                    }
                } else {
                    self.end();
                    match b {
                        b'!' => self.exclaims += 1,
                        b'?' => self.question = true,
                        b'@' | b'#' if text[i + 1..].chars().next().is_some_and(is_word) => {
                            if b == b'@' {
                                self.mention = true;
                            } else {
                                self.hashtag = true;
                            }
                        }
                        _ => {}
                    }
                }
                i += 1;
                continue;
            }
            // A non-ASCII character: decoded only here (rare in English).
            let c = text[i..].chars().next().unwrap_or(' ');
            i += c.len_utf8();
            self.emoji |= c > '\u{2000}';
            let mut buf = [0u8; 4];
            if c == '’' {
                self.push(b'\'');
            } else if c.is_alphanumeric() {
                for l in c.to_lowercase() {
                    for &b in l.encode_utf8(&mut buf).as_bytes() {
                        self.push(b);
                    }
                }
            } else if is_skipped(c) {
                // A modifier of the character before: not a token.
            } else {
                self.end();
                if !c.is_whitespace() {
                    for &b in c.encode_utf8(&mut buf).as_bytes() {
                        self.push(b);
                    }
                    self.end();
                }
            }
        }
        self.end();
    }

    /// Writes a byte of the current token.
    #[inline]
    fn push(&mut self, b: u8) {
        self.bytes.push(b);
        self.hash = (self.hash ^ u64::from(b)).wrapping_mul(FNV_PRIME);
    }

    /// Ends the token being written, if any.
    #[inline]
    fn end(&mut self) {
        let start = self.ends.last().map_or(0, |&e| e as usize);
        let len = self.bytes.len();
        if len == start {
            return;
        }
        if self.bytes[start] != b'\'' && self.bytes[len - 1] != b'\'' {
            self.ends.push(len as u32);
            self.keys.push(self.hash.max(1));
            self.hash = FNV_OFFSET;
            return;
        }
        self.trim(start);
        self.hash = FNV_OFFSET;
    }

    /// [`Grams::end`] of a token with apostrophes at either end: trims
    /// them, and drops the token if nothing is left.
    #[cold]
    fn trim(&mut self, start: usize) {
        let mut from = start;
        while from < self.bytes.len() && self.bytes[from] == b'\'' {
            from += 1;
        }
        let mut to = self.bytes.len();
        while to > from && self.bytes[to - 1] == b'\'' {
            to -= 1;
        }
        if from > start {
            self.bytes.copy_within(from..to, start);
        }
        let len = to - from;
        self.bytes.truncate(start + len);
        if len > 0 {
            self.ends.push(self.bytes.len() as u32);
            self.keys.push(key(&self.bytes[start..]));
        }
    }
}

/// What may follow `@` or `#` in a mention or hashtag.
pub(crate) fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The model's inputs besides the n-grams, in [`INPUTS`]' order.
pub(crate) fn inputs(lex: &earshot_model::Sentiment, g: &Grams) -> [f32; INPUTS.len()] {
    let c = lex.compound;
    let flag = |b: bool| f32::from(u8::from(b));
    let (positive, negative) = (flag(c >= LEXICON_BAND), flag(c <= -LEXICON_BAND));
    let social = flag(g.is_social());
    [
        c,
        lex.pos,
        lex.neg,
        positive,
        negative,
        c.abs(),
        (g.ends.len() as f32).ln_1p(),
        flag(g.mention),
        flag(g.link),
        flag(g.hashtag),
        g.exclaims.min(4) as f32 / 4.0,
        flag(g.emoji),
        social,
        social * c,
        social * c.abs(),
        social * positive,
        social * negative,
        flag(g.question),
    ]
}

/// Characters that modify the one before and are not tokens themselves.
pub(crate) fn is_skipped(c: char) -> bool {
    matches!(
        c,
        '\u{fe0e}' | '\u{fe0f}' | '\u{200d}' | '\u{1f3fb}'..='\u{1f3ff}'
    )
}

/// FNV-1a of `bytes`, continuing from `h`.
#[inline]
pub(crate) fn fnv(mut h: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(FNV_PRIME);
    }
    h
}

/// The key of a unigram.
#[inline]
pub(crate) fn key(token: &[u8]) -> u64 {
    fnv(FNV_OFFSET, token).max(1)
}

/// The key of a bigram, from its words' keys (so that scoring hashes each
/// token once).
#[inline]
pub(crate) fn pair_key(first: u64, second: u64) -> u64 {
    (first.rotate_left(23) ^ second)
        .wrapping_mul(0xff51_afd7_ed55_8ccd)
        .max(1)
}

impl Model {
    /// The shipped model, parsed once.
    pub fn shipped() -> &'static Model {
        static MODEL: OnceLock<Model> = OnceLock::new();
        MODEL.get_or_init(|| match Model::parse(WEIGHTS) {
            Ok(m) => m,
            // The file is compiled in and a test parses it.
            Err(e) => panic!("hybrid-weights.tsv: {e}"),
        })
    }

    /// Parses a weights file: `threshold`, `social_gate`, `question_gate`,
    /// `bias`, `input NAME` and
    /// `gram TEXT` lines, tab-separated, `#` comments.
    pub fn parse(text: &str) -> Result<Model, String> {
        let mut threshold = None;
        let mut social_gate = None;
        let mut question_gate = None;
        let mut bias = None;
        let mut inputs = [None; INPUTS.len()];
        let mut grams: Vec<(u64, [f32; 2])> = Vec::new();
        let mut unigrams: Vec<u64> = Vec::new();
        for (n, line) in text.lines().enumerate() {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |what: &str| format!("line {}: {what}", n + 1);
            let fields: Vec<&str> = line.split('\t').collect();
            let num = |s: &str| {
                s.parse::<f32>()
                    .ok()
                    .filter(|v| v.is_finite())
                    .ok_or_else(|| bad(&format!("`{s}`: expected a number")))
            };
            let pair = |a: &str, b: &str| Ok::<_, String>([num(a)?, num(b)?]);
            match fields.as_slice() {
                ["threshold", t] => threshold = Some(num(t)?),
                ["social_gate", t] => social_gate = Some(num(t)?),
                ["question_gate", t] => question_gate = Some(num(t)?),
                ["bias", p, q] => bias = Some(pair(p, q)?),
                ["input", name, p, q] => {
                    let i = INPUTS
                        .iter()
                        .position(|x| x == name)
                        .ok_or_else(|| bad(&format!("unknown input `{name}`")))?;
                    inputs[i] = Some(pair(p, q)?);
                }
                ["gram", g, p, q] => {
                    let mut parts = g.split(' ');
                    let first = key(parts.next().unwrap_or("").as_bytes());
                    let h = match (parts.next(), parts.next()) {
                        (None, _) => first,
                        (Some(second), None) => {
                            // Scoring looks a bigram up only after both its
                            // words were found: make sure they are there.
                            let second = key(second.as_bytes());
                            unigrams.push(first);
                            unigrams.push(second);
                            pair_key(first, second)
                        }
                        _ => return Err(bad("a gram has one or two words")),
                    };
                    grams.push((h, pair(p, q)?));
                }
                _ => {
                    return Err(bad(
                        "expected threshold, social_gate, question_gate, bias, input or gram and its numbers",
                    ))
                }
            }
        }
        let mut weights = [[0.0; 2]; INPUTS.len()];
        for (i, w) in inputs.iter().enumerate() {
            weights[i] = w.ok_or_else(|| format!("no `input {}` line", INPUTS[i]))?;
        }
        // A bigram's word without a weight of its own weighs 0 (and is
        // placed first, so that a listed weight replaces it).
        let zeros = unigrams.into_iter().map(|h| (h, [0.0; 2]));
        let grams: Vec<(u64, [f32; 2])> = zeros.chain(grams).collect();
        // At most about 2/3 full: short probes, and a table small enough
        // for the processor's L2 cache (17k n-grams: 512 KiB).
        let size = (grams.len() + grams.len() / 2).next_power_of_two().max(16);
        let shift = 64 - size.trailing_zeros();
        let mut slots = vec![(0u64, [0f32; 2]); size];
        for (h, w) in grams {
            let mut at = slot(h, shift);
            while slots[at].0 != 0 && slots[at].0 != h {
                at = (at + 1) & (size - 1);
            }
            slots[at] = (h, w);
        }
        Ok(Model {
            neutral_threshold: threshold.ok_or("no `threshold` line")?,
            social_gate: social_gate.ok_or("no `social_gate` line")?,
            question_gate: question_gate.ok_or("no `question_gate` line")?,
            bias: bias.ok_or("no `bias` line")?,
            inputs: weights,
            slots,
            shift,
        })
    }

    /// The weights of the n-gram with this key, if it has any.
    #[inline]
    pub fn weights(&self, h: u64) -> Option<[f32; 2]> {
        let mask = self.slots.len() - 1;
        let mut at = slot(h, self.shift);
        loop {
            let (k, w) = self.slots[at];
            if k == h {
                return Some(w);
            }
            if k == 0 {
                return None;
            }
            at = (at + 1) & mask;
        }
    }

    /// How much the n-grams weigh: (1 − |lexicon compound|)², times the
    /// social gate in a social post and the question gate in a question.
    pub fn gate(&self, c: f32, g: &Grams) -> f32 {
        let u = 1.0 - c.abs();
        let mut f = u * u;
        if g.is_social() {
            f *= self.social_gate;
        }
        if g.question {
            f *= self.question_gate;
        }
        f
    }

    /// The logits (positive, negative): the bias, the inputs, then every
    /// n-gram of the split text in token order (the unigram, then the
    /// bigram it ends), each weighed by the [`Model::gate`].
    pub fn logits(&self, lex: &earshot_model::Sentiment, g: &Grams) -> [f32; 2] {
        let mut z = self.bias;
        for (x, w) in inputs(lex, g).iter().zip(&self.inputs) {
            z[0] += x * w[0];
            z[1] += x * w[1];
        }
        let f = self.gate(lex.compound, g);
        // The key of the token before, if it has weights: a bigram has
        // weights only if both its words do (see `parse`).
        let mut prev: Option<u64> = None;
        for &h in &g.keys {
            let found = self.weights(h);
            if let Some(w) = found {
                z[0] += w[0] * f;
                z[1] += w[1] * f;
                if let Some(w) = prev.and_then(|p| self.weights(pair_key(p, h))) {
                    z[0] += w[0] * f;
                    z[1] += w[1] * f;
                }
            }
            prev = found.map(|_| h);
        }
        z
    }
}

/// The compound of the logits: P(positive) − P(negative), neutral's logit
/// being 0; rounded to 4 decimals as the lexicon's is.
pub(crate) fn compound(z: [f32; 2]) -> f32 {
    // Shifted by the largest logit so that exp cannot overflow.
    let top = z[0].max(z[1]).max(0.0);
    let (p, n, u) = ((z[0] - top).exp(), (z[1] - top).exp(), (-top).exp());
    let c = (p - n) / (p + n + u);
    (c * 10000.0).round() / 10000.0
}

#[inline]
fn slot(h: u64, shift: u32) -> usize {
    (h.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> shift) as usize
}
