//! The single Aho-Corasick automaton over every term of every watchlist.
//!
//! Terms are deduplicated into patterns (normalized strings). The automaton
//! runs leftmost-longest, which hides shorter patterns nested in a longer
//! hit (`acme` inside `acme cloud`); to get them back each pattern carries
//! the list of other patterns found inside it at compile time, so one pass
//! over the text still yields every term hit.

use rustc_hash::FxHashMap as HashMap;

use aho_corasick::{AhoCorasick, AhoCorasickKind, Input, MatchKind};
use rust_stemmers::Stemmer;

use crate::normalize::{ends_word, is_word_char, starts_word, word_end, Normalizer};

/// Watchlists whose patterns total at most this many bytes get a DFA: a
/// table lookup per byte of text, about twice as fast as the default
/// contiguous NFA, for about 125 bytes of table per pattern byte (this
/// budget is about 64 MB; a 10k-term watchlist takes 29 MB). Larger ones
/// keep the NFA so that 100k terms still compile in well under 256 MB.
const DFA_MAX_PATTERN_BYTES: usize = 512 * 1024;

/// How a term's pattern must sit in the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Mode {
    /// Whole words: a boundary on both sides.
    Exact,
    /// Suffix wildcard: a boundary before, any word continuation after.
    Prefix,
    /// Same stem as the term in the post's language.
    Stem,
}

#[derive(Debug, Clone)]
struct TermDef {
    pattern: u32,
    mode: Mode,
    /// For [`Mode::Stem`]: the whole normalized word to compare stems with.
    word: Box<str>,
}

/// One term found in a post: `[start, end)` in normalized text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Hit {
    pub term: u32,
    pub start: u32,
    pub end: u32,
}

/// Collects terms while the watchlists compile.
#[derive(Debug)]
pub(crate) struct TermTable {
    pub norm: Normalizer,
    patterns: Vec<String>,
    pattern_ids: HashMap<String, u32>,
    terms: Vec<TermDef>,
    term_ids: HashMap<(u32, Mode), u32>,
    stem_ids: HashMap<String, u32>,
}

/// Stemmers tried when choosing the literal prefix of a stemmed term: the
/// prefix must be shared by the inflections of every language we stem.
const PREFIX_LANGS: [rust_stemmers::Algorithm; 5] = [
    rust_stemmers::Algorithm::English,
    rust_stemmers::Algorithm::French,
    rust_stemmers::Algorithm::German,
    rust_stemmers::Algorithm::Spanish,
    rust_stemmers::Algorithm::Italian,
];

impl TermTable {
    pub fn new(norm: Normalizer) -> TermTable {
        TermTable {
            norm,
            patterns: Vec::new(),
            pattern_ids: HashMap::default(),
            terms: Vec::new(),
            term_ids: HashMap::default(),
            stem_ids: HashMap::default(),
        }
    }

    /// Adds a term, returning its id, or `None` when it normalizes to nothing.
    pub fn add(&mut self, text: &str, mode: Mode) -> Option<u32> {
        let norm = self.norm.normalize_str(text.trim());
        let norm = collapse_spaces(&norm);
        if norm.is_empty() {
            return None;
        }
        let (pattern_text, mode) = match mode {
            // Stemming only applies to a single word; phrases stay exact.
            Mode::Stem if norm.chars().all(is_word_char) => (stem_prefix(&norm), Mode::Stem),
            Mode::Stem => (norm.clone(), Mode::Exact),
            m => (norm.clone(), m),
        };
        let pattern = match self.pattern_ids.get(&pattern_text) {
            Some(&p) => p,
            None => {
                let p = self.patterns.len() as u32;
                self.patterns.push(pattern_text.clone());
                self.pattern_ids.insert(pattern_text, p);
                p
            }
        };
        // Stemmed terms sharing a prefix still differ by their word.
        let key_word = if mode == Mode::Stem {
            norm.as_str()
        } else {
            ""
        };
        let known = if mode == Mode::Stem {
            self.stem_ids.get(key_word)
        } else {
            self.term_ids.get(&(pattern, mode))
        };
        if let Some(&t) = known {
            return Some(t);
        }
        let id = self.terms.len() as u32;
        self.terms.push(TermDef {
            pattern,
            mode,
            word: key_word.into(),
        });
        if mode == Mode::Stem {
            self.stem_ids.insert(key_word.to_string(), id);
        } else {
            self.term_ids.insert((pattern, mode), id);
        }
        Some(id)
    }

    /// Number of terms so far.
    pub fn len(&self) -> usize {
        self.terms.len()
    }

    /// Builds the automaton.
    pub fn build(self) -> Result<Automaton, String> {
        let bytes: usize = self.patterns.iter().map(String::len).sum();
        let kind = (bytes <= DFA_MAX_PATTERN_BYTES).then_some(AhoCorasickKind::DFA);
        let ac = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .kind(kind)
            .build(&self.patterns)
            .map_err(|e| format!("cannot build the term automaton: {e}"))?;
        let mut pattern_terms: Vec<Vec<u32>> = vec![Vec::new(); self.patterns.len()];
        for (t, d) in self.terms.iter().enumerate() {
            pattern_terms[d.pattern as usize].push(t as u32);
        }
        let any_prefix = self.terms.iter().any(|d| d.mode != Mode::Exact);
        let mut term_index = Vec::with_capacity(self.terms.len());
        let mut term_ranges = Vec::with_capacity(self.patterns.len());
        let mut sub_index = Vec::new();
        let mut sub_ranges = Vec::with_capacity(self.patterns.len());
        let mut edges = Vec::with_capacity(self.patterns.len());
        for (p, text) in self.patterns.iter().enumerate() {
            let start = term_index.len() as u32;
            term_index.extend_from_slice(&pattern_terms[p]);
            term_ranges.push((start, term_index.len() as u32));
            let start = sub_index.len() as u32;
            nested_patterns(
                text,
                p as u32,
                &self.pattern_ids,
                any_prefix,
                &mut sub_index,
            );
            sub_ranges.push((start, sub_index.len() as u32));
            edges.push((
                text.chars().next().is_some_and(is_word_char),
                text.chars().next_back().is_some_and(is_word_char),
            ));
        }
        Ok(Automaton {
            ac,
            norm: self.norm,
            terms: self.terms,
            pattern_len: self.patterns.iter().map(|p| p.len() as u32).collect(),
            edges,
            term_index,
            term_ranges,
            sub_index,
            sub_ranges,
        })
    }
}

fn collapse_spaces(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for w in s.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w);
    }
    out
}

/// The literal part of a stemmed term that the automaton looks for: the
/// longest prefix the word shares with its stems (at least 3 characters).
fn stem_prefix(word: &str) -> String {
    let mut len = word.len();
    for alg in PREFIX_LANGS {
        let stem = Stemmer::create(alg).stem(word).into_owned();
        let common = word
            .char_indices()
            .zip(stem.chars())
            .take_while(|((_, a), b)| a == b)
            .last()
            .map_or(0, |((i, a), _)| i + a.len_utf8());
        len = len.min(common.max(1));
    }
    let min: usize = word.char_indices().nth(3).map_or(word.len(), |(i, _)| i);
    word[..len.max(min)].to_string()
}

/// Records patterns that occur inside `text` on word boundaries (and, when
/// wildcards or stems exist, prefixes of its words).
fn nested_patterns(
    text: &str,
    own: u32,
    ids: &HashMap<String, u32>,
    any_prefix: bool,
    out: &mut Vec<(u32, u32, u32)>,
) {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let multi = chars.iter().any(|&(_, c)| !is_word_char(c));
    if !multi && !any_prefix {
        return;
    }
    let starts: Vec<usize> = (0..chars.len())
        .filter(|&i| i == 0 || !is_word_char(chars[i].1) || !is_word_char(chars[i - 1].1))
        .map(|i| chars[i].0)
        .take(16)
        .collect();
    let mut ends: Vec<usize> = (1..chars.len())
        .filter(|&i| !is_word_char(chars[i].1) || !is_word_char(chars[i - 1].1))
        .map(|i| chars[i].0)
        .take(16)
        .collect();
    ends.push(text.len());
    for &a in &starts {
        let mut push = |b: usize| {
            if (a, b) != (0, text.len()) {
                if let Some(&p) = text.get(a..b).and_then(|s| ids.get(s)) {
                    if p != own {
                        out.push((p, a as u32, b as u32));
                    }
                }
            }
        };
        if multi {
            for &b in ends.iter().filter(|&&b| b > a) {
                push(b);
            }
        }
        if any_prefix {
            let word_end = word_end(text, a);
            for &(i, _) in chars.iter().filter(|&&(i, _)| i > a && i < word_end) {
                if !ends.contains(&i) {
                    push(i);
                }
            }
        }
    }
}

/// The compiled automaton with its term table.
#[derive(Debug)]
pub(crate) struct Automaton {
    ac: AhoCorasick,
    pub norm: Normalizer,
    terms: Vec<TermDef>,
    pattern_len: Vec<u32>,
    /// Whether a pattern's first and last characters are word characters
    /// (only those sides need a word boundary in the text).
    edges: Vec<(bool, bool)>,
    term_index: Vec<u32>,
    term_ranges: Vec<(u32, u32)>,
    sub_index: Vec<(u32, u32, u32)>,
    sub_ranges: Vec<(u32, u32)>,
}

impl Automaton {
    /// Number of distinct patterns.
    pub fn patterns(&self) -> usize {
        self.pattern_len.len()
    }

    /// Heap bytes used by the automaton itself.
    pub fn memory_usage(&self) -> usize {
        self.ac.memory_usage()
    }

    /// Finds every term hit in normalized `text`, appending to `hits`.
    pub fn scan(&self, text: &str, stemmer: Option<&Stemmer>, hits: &mut Vec<Hit>) {
        let mut pos = 0;
        while pos < text.len() {
            let Some(m) = self.ac.find(Input::new(text).range(pos..)) else {
                break;
            };
            let (s, e, p) = (m.start(), m.end(), m.pattern().as_u32());
            let (first_word, last_word) = self.edges[p as usize];
            if first_word && !starts_word(text, s) {
                pos = next_char(text, s);
                continue;
            }
            let end_ok = !last_word || ends_word(text, e);
            self.credit(p, s, e, text, stemmer, hits);
            let (a, b) = self.sub_ranges[p as usize];
            for &(q, qa, qb) in &self.sub_index[a as usize..b as usize] {
                // When the long pattern failed, inner patterns not at its start
                // are found again by the resumed search.
                if end_ok || qa == 0 {
                    self.credit(q, s + qa as usize, s + qb as usize, text, stemmer, hits);
                }
            }
            pos = if end_ok { e } else { next_char(text, s) };
        }
    }

    /// Records the hits of the terms of pattern `p` at `[s, e)`.
    fn credit(
        &self,
        p: u32,
        s: usize,
        e: usize,
        text: &str,
        stemmer: Option<&Stemmer>,
        hits: &mut Vec<Hit>,
    ) {
        let (first_word, last_word) = self.edges[p as usize];
        if first_word && !starts_word(text, s) {
            return;
        }
        let end_ok = !last_word || ends_word(text, e);
        let (a, b) = self.term_ranges[p as usize];
        for &t in &self.term_index[a as usize..b as usize] {
            let def = &self.terms[t as usize];
            let end = match def.mode {
                Mode::Exact if end_ok => e,
                Mode::Exact => continue,
                Mode::Prefix => word_end(text, e),
                Mode::Stem => {
                    let end = word_end(text, e);
                    let word = &text[s..end];
                    let same = match stemmer {
                        Some(st) => word == &*def.word || st.stem(word) == st.stem(&def.word),
                        None => word == &*def.word,
                    };
                    if !same {
                        continue;
                    }
                    end
                }
            };
            hits.push(Hit {
                term: t,
                start: s as u32,
                end: end as u32,
            });
        }
    }
}

fn next_char(text: &str, i: usize) -> usize {
    text[i..]
        .chars()
        .next()
        .map_or(text.len(), |c| i + c.len_utf8())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> TermTable {
        TermTable::new(Normalizer { fold_accents: true })
    }

    fn found(
        a: &Automaton,
        text: &str,
        lang: Option<rust_stemmers::Algorithm>,
    ) -> Vec<(u32, String)> {
        let norm = a.norm.normalize_str(text);
        let st = lang.map(Stemmer::create);
        let mut hits = Vec::new();
        a.scan(&norm, st.as_ref(), &mut hits);
        hits.sort();
        hits.iter()
            .map(|h| (h.term, norm[h.start as usize..h.end as usize].to_string()))
            .collect()
    }

    #[test]
    fn whole_words_only() {
        let mut t = table();
        let apple = t.add("Apple", Mode::Exact).unwrap();
        let a = t.build().unwrap();
        assert_eq!(
            found(&a, "pineapple apples APPLE.", None),
            vec![(apple, "apple".into())]
        );
        assert!(found(&a, "snapple_apple", None).is_empty());
    }

    #[test]
    fn nested_terms_survive_leftmost_longest() {
        let mut t = table();
        let acme = t.add("acme", Mode::Exact).unwrap();
        let cloud = t.add("acme cloud", Mode::Exact).unwrap();
        let cl = t.add("cloud", Mode::Exact).unwrap();
        let a = t.build().unwrap();
        let hits = found(&a, "the Acme Cloud is down", None);
        assert_eq!(
            hits,
            vec![
                (acme, "acme".into()),
                (cloud, "acme cloud".into()),
                (cl, "cloud".into())
            ]
        );
        // The long pattern fails its boundary; the short one at the same start still counts.
        assert_eq!(found(&a, "acme cloudy", None), vec![(acme, "acme".into())]);
    }

    #[test]
    fn wildcard_extends_to_word_end() {
        let mut t = table();
        let r = t.add("refund", Mode::Prefix).unwrap();
        let a = t.build().unwrap();
        assert_eq!(
            found(&a, "Refunded? no refunds", None),
            vec![(r, "refunded".into()), (r, "refunds".into())]
        );
        assert!(found(&a, "prerefund", None).is_empty());
    }

    #[test]
    fn stemming_follows_language() {
        let mut t = table();
        let r = t.add("fix", Mode::Stem).unwrap();
        let a = t.build().unwrap();
        let en = Some(rust_stemmers::Algorithm::English);
        assert_eq!(
            found(&a, "fixes fixed fixing fixture prefix", en),
            vec![
                (r, "fixes".into()),
                (r, "fixed".into()),
                (r, "fixing".into())
            ]
        );
        // Without a stemmer only the word itself matches.
        assert_eq!(found(&a, "fixes fix", None), vec![(r, "fix".into())]);
        // The post's language picks the stemmer: French plural of "panne".
        let mut t = table();
        let p = t.add("panne", Mode::Stem).unwrap();
        let a = t.build().unwrap();
        let fr = Some(rust_stemmers::Algorithm::French);
        assert_eq!(found(&a, "des pannes", fr), vec![(p, "pannes".into())]);
    }

    #[test]
    fn hashtags_and_mentions_are_bounded_by_symbols() {
        let mut t = table();
        let tag = t.add("#acmecares", Mode::Exact).unwrap();
        let at = t.add("@acme", Mode::Exact).unwrap();
        let a = t.build().unwrap();
        assert_eq!(
            found(&a, "thanks @Acme! #AcmeCares @acmesupport", None),
            vec![(tag, "#acmecares".into()), (at, "@acme".into())]
        );
    }
}
