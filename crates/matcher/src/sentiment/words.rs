//! The words the sentiment rules know, and one table that answers every
//! question about a token with a single hash lookup: its valence in the
//! analyzer's main lexicon, whether it starts an idiom, and what it is to
//! the rules (negation, booster, dampener, or one of the few words a rule
//! names, such as `but` or `least`).

use rustc_hash::FxHashMap;

use super::wordmap::WordMap;

use crate::lexicon::Lexicon;

/// Negations (VADER's list; `n't` contractions are recognized by form).
pub(super) const NEGATIONS: &[&str] = &[
    "aint", "arent", "cannot", "cant", "couldnt", "darent", "didnt", "doesnt", "dont", "hadnt",
    "hasnt", "havent", "isnt", "mightnt", "mustnt", "neither", "neednt", "never", "none", "nope",
    "nor", "not", "nothing", "nowhere", "oughtnt", "shant", "shouldnt", "uhuh", "uh-uh", "wasnt",
    "werent", "without", "wont", "wouldnt", "rarely", "seldom", "despite", "nobody", "no-one",
];

/// Markers that make a post's praise sarcastic ("Oh great, charged twice 🙄").
pub(super) const SARCASM: &[&str] = &[
    "yeah right",
    "oh great",
    "just what i needed",
    "thanks for nothing",
    "🙄",
    "🙃",
    "/s",
];

pub(super) const BOOSTERS: &[&str] = &[
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

pub(super) const DAMPENERS: &[&str] = &[
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

/// What a word is to the rules, as bits: computed once per token so the
/// rules test bits instead of comparing strings against word lists.
pub(super) mod flag {
    pub const NEGATION: u32 = 1 << 0;
    pub const BOOSTER: u32 = 1 << 1;
    pub const DAMPENER: u32 = 1 << 2;
    pub const SARCASM: u32 = 1 << 3;
    /// First word of an idiom in the main lexicon.
    pub const PHRASE_START: u32 = 1 << 4;
    /// In the main lexicon's word list (not only its emoji).
    pub const LEXICON_WORD: u32 = 1 << 5;
    pub const NO: u32 = 1 << 6;
    pub const OR_NOR: u32 = 1 << 7;
    pub const KIND: u32 = 1 << 8;
    pub const SORT: u32 = 1 << 9;
    pub const OF: u32 = 1 << 10;
    pub const A: u32 = 1 << 11;
    pub const BIT: u32 = 1 << 12;
    pub const JUST: u32 = 1 << 13;
    pub const ENOUGH: u32 = 1 << 14;
    pub const LEAST: u32 = 1 << 15;
    pub const AT: u32 = 1 << 16;
    pub const VERY: u32 = 1 << 17;
    pub const NEVER: u32 = 1 << 18;
    pub const SO_THIS: u32 = 1 << 19;
    pub const WITHOUT: u32 = 1 << 20;
    pub const DOUBT: u32 = 1 << 21;
    /// `but` or `however`: contrast.
    pub const BUT: u32 = 1 << 22;
    /// Second word of an idiom in the main lexicon.
    pub const PHRASE_NEXT: u32 = 1 << 23;
    /// Set by the lookup on the words of an idiom after its first.
    pub const IN_IDIOM: u32 = 1 << 24;
}

/// The words single rules name, with their bits.
const RULE_WORDS: &[(&str, u32)] = &[
    ("no", flag::NO),
    ("or", flag::OR_NOR),
    ("nor", flag::OR_NOR),
    ("kind", flag::KIND),
    ("sort", flag::SORT),
    ("of", flag::OF),
    ("a", flag::A),
    ("bit", flag::BIT),
    ("just", flag::JUST),
    ("enough", flag::ENOUGH),
    ("least", flag::LEAST),
    ("at", flag::AT),
    ("very", flag::VERY),
    ("never", flag::NEVER),
    ("so", flag::SO_THIS),
    ("this", flag::SO_THIS),
    ("without", flag::WITHOUT),
    ("doubt", flag::DOUBT),
    ("but", flag::BUT),
    ("however", flag::BUT),
];

/// A known word: its main-lexicon valence (word, else emoji), its bits,
/// and its number in the table (0 for unknown words), by which idioms are
/// matched without building strings.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(super) struct Word {
    pub valence: Option<f32>,
    pub flags: u32,
    pub id: u32,
}

/// An idiom of the main lexicon, as the ids of its words.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Phrase {
    pub ids: Box<[u32]>,
    pub valence: f32,
    /// One of the [`SARCASM`] markers.
    pub sarcasm: bool,
}

/// Every word of the main lexicon, of its idioms and of the rules' lists.
#[derive(Debug, Clone, Default)]
pub(super) struct WordTable {
    /// Keyed by bytes: tokens are looked up as byte spans of the lowercase
    /// buffer, without `str` slicing's char-boundary checks.
    words: WordMap,
    /// Idioms by the ids of their first two words, longest first.
    phrases: FxHashMap<u64, Vec<Phrase>>,
    /// Bit `first << 7 | last` (low seven bits of each byte) is set when a
    /// lexicon word with ASCII punctuation begins and ends with those bytes:
    /// most punctuated tokens ("great!", "ok,") can skip the lookup that
    /// asks whether they are emoticons.
    punctuated: Box<[u64]>,
}

impl WordTable {
    pub fn new(lexicon: &Lexicon) -> WordTable {
        let mut words: FxHashMap<Box<[u8]>, Word> = FxHashMap::default();
        let mut add = |w: &str, valence: Option<f32>, flags: u32| {
            let e = words.entry(w.as_bytes().into()).or_default();
            e.valence = e.valence.or(valence);
            e.flags |= flags;
        };
        for (w, &v) in &lexicon.words {
            add(w, Some(v), flag::LEXICON_WORD);
        }
        for (w, &v) in &lexicon.emoji {
            add(w, Some(v), 0);
        }
        for w in &lexicon.phrase_starts {
            add(w, None, flag::PHRASE_START);
        }
        let lists = [
            (NEGATIONS, flag::NEGATION),
            (BOOSTERS, flag::BOOSTER),
            (DAMPENERS, flag::DAMPENER),
            (SARCASM, flag::SARCASM),
        ];
        for (list, f) in lists {
            for w in list.iter().filter(|w| !w.contains(' ')) {
                add(w, None, f);
            }
        }
        for &(w, f) in RULE_WORDS {
            add(w, None, f);
        }
        for phrase in lexicon.phrases.keys() {
            for (n, w) in phrase.split(' ').enumerate() {
                add(w, None, if n == 1 { flag::PHRASE_NEXT } else { 0 });
            }
        }
        let words = WordMap::new(words.into_iter().collect());
        let mut phrases: FxHashMap<u64, Vec<Phrase>> = FxHashMap::default();
        for (text, &valence) in &lexicon.phrases {
            let ids: Box<[u32]> = text
                .split(' ')
                .map(|w| words.get(w.as_bytes()).id)
                .collect();
            if ids.len() < 2 {
                continue;
            }
            phrases
                .entry(pair(ids[0], ids[1]))
                .or_default()
                .push(Phrase {
                    ids,
                    valence,
                    sarcasm: SARCASM.contains(&text.as_str()),
                });
        }
        for list in phrases.values_mut() {
            list.sort_by(|a, b| b.ids.len().cmp(&a.ids.len()).then(a.ids.cmp(&b.ids)));
        }
        let mut punctuated = vec![0u64; 256];
        for w in lexicon.words.keys().map(|w| w.as_bytes()) {
            if let (Some(&first), Some(&last)) = (w.first(), w.last()) {
                if w.iter().any(u8::is_ascii_punctuation) {
                    let bit = first_last(first, last);
                    punctuated[bit / 64] |= 1 << (bit % 64);
                }
            }
        }
        WordTable {
            words,
            phrases,
            punctuated: punctuated.into(),
        }
    }

    /// Whether `word` (lowercased, with ASCII punctuation, not empty) can
    /// be a word of the main lexicon; `false` is certain, `true` is not.
    pub fn may_be_punctuated_word(&self, word: &[u8]) -> bool {
        match (word.first(), word.last()) {
            (Some(&first), Some(&last)) => self.may_be_punctuated_ends(first, last),
            _ => false,
        }
    }

    /// [`WordTable::may_be_punctuated_word`] of a word that begins with
    /// `first` and ends with `last`.
    pub fn may_be_punctuated_ends(&self, first: u8, last: u8) -> bool {
        let bit = first_last(first, last);
        // Empty in the default table, which has no words.
        self.punctuated
            .get(bit / 64)
            .is_some_and(|w| w & (1 << (bit % 64)) != 0)
    }

    /// The idioms whose first two words are `first` and `second`, longest
    /// first.
    pub fn phrases(&self, first: u32, second: u32) -> &[Phrase] {
        if first == 0 || second == 0 {
            return &[];
        }
        self.phrases
            .get(&pair(first, second))
            .map_or(&[], Vec::as_slice)
    }

    /// What the table knows of `word` (lowercased); unknown words have no
    /// valence and no bits.
    pub fn get(&self, word: &[u8]) -> Word {
        self.words.get(word)
    }

    /// [`WordTable::get`] of `bytes[a..b]`, fastest when `bytes` has
    /// [`PADDING`](super::wordmap::PADDING) bytes from `a`.
    #[inline(always)]
    pub fn get_in(&self, bytes: &[u8], a: usize, b: usize) -> Word {
        self.words.get_in(bytes, a, b)
    }

    /// [`WordTable::get`] of a word of `len` bytes (at most 16, lowercased)
    /// given as one little-endian integer, zero past `len`.
    #[inline(always)]
    pub fn get_bits(&self, key: u128, len: usize) -> Word {
        self.words.get_bits(key, len)
    }
}

fn first_last(first: u8, last: u8) -> usize {
    usize::from(first & 0x7f) << 7 | usize::from(last & 0x7f)
}

fn pair(first: u32, second: u32) -> u64 {
    (u64::from(first) << 32) | u64::from(second)
}

/// Bits of a token that depend on its form rather than on a list.
pub(super) fn form_flags(word: &[u8]) -> u32 {
    if word.windows(3).any(|w| w == b"n't") {
        flag::NEGATION
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lexicon::LexiconFormat;

    /// The filter may answer "maybe" for any word, but never "no" for a
    /// punctuated word of the lexicon: that word would lose its punctuation
    /// and its valence (":-(" read as nothing).
    #[test]
    fn punctuated_filter_never_rejects_a_lexicon_word() {
        let mut lex = Lexicon::default();
        let text = include_str!("../../../../config/lexicons/vader_lexicon.txt");
        assert!(lex.load(text, LexiconFormat::Vader).is_empty());
        let table = WordTable::new(&lex);
        let punctuated: Vec<&String> = lex
            .words
            .keys()
            .filter(|w| w.bytes().any(|b| b.is_ascii_punctuation()))
            .collect();
        assert!(punctuated.len() > 100, "VADER has many emoticons");
        for w in punctuated {
            assert!(table.may_be_punctuated_word(w.as_bytes()), "{w}");
        }
        // And it does filter: words with a trailing comma or period.
        let rejected = ["great,", "ok.", "service,", "today."]
            .iter()
            .filter(|w| !table.may_be_punctuated_word(w.as_bytes()))
            .count();
        assert!(rejected >= 3, "{rejected}");
        assert!(!WordTable::default().may_be_punctuated_word(b":)"));
    }
}
