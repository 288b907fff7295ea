//! Sentiment lexicons: VADER, AFINN and VADER's emoji format.

use rustc_hash::{FxHashMap, FxHashSet};
use serde::Deserialize;

/// File format of a lexicon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LexiconFormat {
    /// `token<TAB>mean[<TAB>...]`, valence on VADER's −4..4 scale. Tokens
    /// with spaces are phrases (idioms).
    #[default]
    Vader,
    /// `token<TAB>score`, integer −5..5 (scaled by 0.8 to VADER's range).
    Afinn,
    /// `emoji<TAB>description`: each emoji is scored by its description's
    /// words in the lexicons loaded with it (as vaderSentiment does).
    VaderEmoji,
}

/// Word, phrase and emoji valences on VADER's −4..4 scale.
///
/// Keys are short strings looked up once per token: the maps use FxHash,
/// several times faster than SipHash on them (the keys come from files the
/// operator controls, so hash flooding is not a concern).
#[derive(Debug, Default, Clone)]
pub struct Lexicon {
    pub(crate) words: FxHashMap<String, f32>,
    pub(crate) phrases: FxHashMap<String, f32>,
    /// First words of phrases, to skip phrase lookups cheaply.
    pub(crate) phrase_starts: FxHashSet<String>,
    pub(crate) max_phrase_words: usize,
    pub(crate) emoji: FxHashMap<String, f32>,
    emoji_descriptions: Vec<(String, String)>,
}

impl Lexicon {
    /// Adds entries from a file's text; returns the 1-based line numbers and
    /// reasons of lines that could not be read.
    pub fn load(&mut self, text: &str, format: LexiconFormat) -> Vec<(usize, String)> {
        let mut bad = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim_end_matches('\r');
            if line.trim().is_empty() || line.starts_with("##") {
                continue;
            }
            let mut cols = line.split('\t');
            let token = cols.next().unwrap_or("").trim();
            let value = cols.next().map(str::trim);
            let Some(value) = value.filter(|_| !token.is_empty()) else {
                bad.push((n + 1, "expected `token<TAB>value`".to_string()));
                continue;
            };
            if format == LexiconFormat::VaderEmoji {
                self.emoji_descriptions
                    .push((token.to_string(), value.to_lowercase()));
                continue;
            }
            let Ok(v) = value.parse::<f32>() else {
                bad.push((
                    n + 1,
                    format!("expected a number after the tab, found `{value}`"),
                ));
                continue;
            };
            let v = if format == LexiconFormat::Afinn {
                v * 0.8
            } else {
                v
            };
            self.insert(token, v);
        }
        bad
    }

    /// Sets one entry (a word, a phrase, or an emoji).
    pub fn insert(&mut self, token: &str, valence: f32) {
        let token = token.to_lowercase().replace('’', "'");
        if token.contains(' ') {
            let words = token.split_whitespace().count();
            self.max_phrase_words = self.max_phrase_words.max(words);
            if let Some(first) = token.split_whitespace().next() {
                self.phrase_starts.insert(first.to_string());
            }
            self.phrases.insert(
                token.split_whitespace().collect::<Vec<_>>().join(" "),
                valence,
            );
        } else if token.chars().any(is_emoji) && token.chars().count() <= 2 {
            self.emoji.insert(token, valence);
        } else {
            self.words.insert(token, valence);
        }
    }

    /// Scores the emoji descriptions once every word list is loaded: the sum
    /// of the description words' valences, as vaderSentiment's expansion of
    /// emoji into words amounts to.
    pub(crate) fn resolve_emoji(&mut self) {
        for (emoji, desc) in std::mem::take(&mut self.emoji_descriptions) {
            let v: f32 = desc
                .split(|c: char| !c.is_alphanumeric() && c != '-' && c != '\'')
                .filter_map(|w| self.words.get(w))
                .sum();
            self.emoji.entry(emoji).or_insert(v.clamp(-4.0, 4.0));
        }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.words.len() + self.phrases.len() + self.emoji.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Pictographs, dingbats and symbols that the emoji lexicon covers.
pub(crate) fn is_emoji(c: char) -> bool {
    matches!(c as u32,
        0x1F000..=0x1FAFF | 0x2600..=0x27BF | 0x2B00..=0x2BFF | 0x2190..=0x21FF | 0x2300..=0x23FF | 0x3030 | 0x303D | 0x3297 | 0x3299)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_load() {
        let mut l = Lexicon::default();
        let bad = l.load(
            "good\t1.9\t0.9\t[2, 2]\nyeah right\t-2\n:)\t2.0\nbroken line\n",
            LexiconFormat::Vader,
        );
        assert_eq!(bad.len(), 1);
        assert_eq!(bad[0].0, 4);
        assert_eq!(l.words["good"], 1.9);
        assert_eq!(l.phrases["yeah right"], -2.0);
        assert_eq!(l.words[":)"], 2.0);
        let bad = l.load("awesome\t4\n", LexiconFormat::Afinn);
        assert!(bad.is_empty());
        assert!((l.words["awesome"] - 3.2).abs() < 1e-6);
        l.load(
            "😀\tgrinning face\n😡\tenraged face\n",
            LexiconFormat::VaderEmoji,
        );
        l.insert("grinning", 1.0);
        l.insert("enraged", -2.0);
        l.resolve_emoji();
        assert_eq!(l.emoji["😀"], 1.0);
        assert_eq!(l.emoji["😡"], -2.0);
    }
}
