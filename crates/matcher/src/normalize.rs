//! Text normalization shared by patterns and posts.
//!
//! Patterns and post text go through the same function so that an
//! Aho-Corasick hit on normalized bytes means the same thing as a hit on what
//! the author wrote. The normalized text keeps a byte map back to the
//! original so spans can be reported in [`earshot_model::Post::full_text`].

use unicode_normalization::char::canonical_combining_class;
use unicode_normalization::{is_nfkc_quick, is_nfkd_quick, IsNormalized, UnicodeNormalization};

/// How text is normalized before matching.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Normalizer {
    /// Remove accents (`café` matches `cafe`).
    pub fold_accents: bool,
}

/// Text after normalization with a map back to the original byte offsets.
#[derive(Debug, Default, Clone)]
pub struct NormText {
    /// The normalized text.
    pub text: String,
    /// For every byte of `text` (plus one past the end), the byte offset in the
    /// original; empty when the two are byte-identical in length (ASCII input).
    map: Vec<u32>,
    original_len: usize,
}

impl NormText {
    /// Original byte offset of a normalized byte offset.
    pub fn to_original(&self, offset: usize) -> usize {
        if self.map.is_empty() {
            offset.min(self.original_len)
        } else {
            self.map
                .get(offset)
                .map_or(self.original_len, |&o| o as usize)
        }
    }

    /// Original span `[start, end)` of a normalized span.
    ///
    /// The end maps to the start of the next original character so a span
    /// never cuts an original character in half.
    pub fn span(&self, start: usize, end: usize) -> (usize, usize) {
        (self.to_original(start), self.to_original(end))
    }
}

impl Normalizer {
    /// Normalizes a pattern or query term (no offset map needed).
    pub fn normalize_str(&self, s: &str) -> String {
        let mut out = NormText::default();
        self.normalize_into(s, &mut out);
        out.text
    }

    /// Normalizes `s` into `out`, reusing its buffers.
    ///
    /// NFKC is applied per segment of one starter and its combining marks,
    /// which is where composition happens, so output offsets can point back
    /// to the segment that produced them.
    pub fn normalize_into(&self, s: &str, out: &mut NormText) {
        out.text.clear();
        out.map.clear();
        out.original_len = s.len();
        if s.is_ascii() {
            // ASCII is already NFKC and has no accents: lowercase in place.
            out.text.push_str(s);
            out.text.make_ascii_lowercase();
            return;
        }
        let bytes = s.as_bytes();
        let mut i = 0;
        while i < s.len() {
            // A run of ASCII is its own NFKC output, lowercased, except for
            // its last byte when a non-ASCII character follows (that one
            // may be a combining mark that composes with it).
            let run = bytes[i..].iter().position(|b| !b.is_ascii());
            let ascii_end = run.map_or(s.len(), |n| i + n.saturating_sub(1));
            if ascii_end > i {
                let start = out.text.len();
                out.text.push_str(&s[i..ascii_end]);
                out.text[start..].make_ascii_lowercase();
                out.map.extend(i as u32..ascii_end as u32);
                i = ascii_end;
                continue;
            }
            // A segment: one starter and the combining marks after it.
            let mut chars = s[i..].char_indices();
            let first = chars.next().map_or(' ', |(_, c)| c);
            let mut end = s.len();
            for (j, c) in chars {
                if canonical_combining_class(c) == 0 {
                    end = i + j;
                    break;
                }
            }
            let seg = &s[i..end];
            let before = out.text.len();
            if seg.len() == first.len_utf8() && self.is_stable(first) {
                // Most non-ASCII in posts (emoji, CJK) is already normalized.
                push_folded(first, &mut out.text);
            } else if self.fold_accents {
                for c in seg.nfkd().filter(|c| canonical_combining_class(*c) == 0) {
                    push_folded(c, &mut out.text);
                }
            } else {
                for c in seg.nfkc() {
                    push_folded(c, &mut out.text);
                }
            }
            let added = out.text.len() - before;
            out.map.extend(std::iter::repeat_n(i as u32, added));
            i = end;
        }
        out.map.push(s.len() as u32);
    }
}

impl Normalizer {
    /// Whether a lone starter `c` is left as it is by this normalization
    /// (before case folding), so the decomposing iterators can be skipped.
    fn is_stable(&self, c: char) -> bool {
        if is_pictograph(c) {
            return true;
        }
        let once = std::iter::once(c);
        canonical_combining_class(c) == 0
            && if self.fold_accents {
                is_nfkd_quick(once) == IsNormalized::Yes
            } else {
                is_nfkc_quick(once) == IsNormalized::Yes
            }
    }
}

/// Emoji blocks (pictographs, emoticons, transport and supplemental
/// symbols): no decompositions, no case, no combining class, and most of
/// the non-ASCII in social posts, so they skip the table lookups.
fn is_pictograph(c: char) -> bool {
    ('\u{1F300}'..='\u{1FAFF}').contains(&c)
}

/// Lowercases one character, with the few full case-folding rules that
/// matter for matching (`ß` = `ss`, final sigma).
fn push_folded(c: char, out: &mut String) {
    match c {
        'ß' | 'ẞ' => out.push_str("ss"),
        'ς' => out.push('σ'),
        c if c.is_ascii() => out.push(c.to_ascii_lowercase()),
        c => out.extend(c.to_lowercase()),
    }
}

/// Whether `c` is part of a word for boundary purposes.
pub fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Scripts written without spaces between words: a term next to one of
/// these characters still counts as bounded.
pub fn is_unspaced_script(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF   // Hiragana, Katakana
        | 0x3400..=0x4DBF // CJK extension A
        | 0x4E00..=0x9FFF // CJK unified ideographs
        | 0xF900..=0xFAFF // CJK compatibility
        | 0x0E00..=0x0E7F // Thai
        | 0xAC00..=0xD7AF // Hangul syllables (spaced, but compounds are common)
    )
}

/// Whether a term may start at `start` in `text` (the previous character is
/// not a word character).
pub fn starts_word(text: &str, start: usize) -> bool {
    match text[..start].chars().next_back() {
        None => true,
        Some(c) => !is_word_char(c) || is_unspaced_script(c) || first_char_unspaced(text, start),
    }
}

/// Whether a term may end at `end` in `text` (the next character is not a
/// word character).
pub fn ends_word(text: &str, end: usize) -> bool {
    match text[end..].chars().next() {
        None => true,
        Some(c) => {
            !is_word_char(c)
                || is_unspaced_script(c)
                || text[..end]
                    .chars()
                    .next_back()
                    .is_some_and(is_unspaced_script)
        }
    }
}

fn first_char_unspaced(text: &str, start: usize) -> bool {
    text[start..].chars().next().is_some_and(is_unspaced_script)
}

/// End offset of the word that contains or starts at `pos`.
pub fn word_end(text: &str, pos: usize) -> usize {
    text[pos..]
        .char_indices()
        .find(|&(_, c)| !is_word_char(c))
        .map_or(text.len(), |(i, _)| pos + i)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const N: Normalizer = Normalizer { fold_accents: true };
    const K: Normalizer = Normalizer {
        fold_accents: false,
    };

    #[test]
    fn ascii_is_lowercased() {
        assert_eq!(N.normalize_str("AcMe Cloud"), "acme cloud");
    }

    #[test]
    fn nfkc_compatibility_forms_fold() {
        // Fullwidth letters and the "ﬁ" ligature are compatibility forms.
        assert_eq!(K.normalize_str("ＡＣＭＥ"), "acme");
        assert_eq!(K.normalize_str("ﬁx"), "fix");
    }

    #[test]
    fn accents_fold_only_when_asked() {
        assert_eq!(N.normalize_str("Café Crème"), "cafe creme");
        assert_eq!(K.normalize_str("Café"), "café");
        // Decomposed input composes to the same string as precomposed input.
        assert_eq!(K.normalize_str("Cafe\u{301}"), K.normalize_str("Café"));
    }

    #[test]
    fn sharp_s_folds_to_ss() {
        assert_eq!(K.normalize_str("Straße"), "strasse");
    }

    #[test]
    fn spans_map_back_to_original() {
        let mut out = NormText::default();
        let src = "Ｈi café ACME";
        N.normalize_into(src, &mut out);
        let at = out.text.find("acme").unwrap();
        let (s, e) = out.span(at, at + 4);
        assert_eq!(&src[s..e], "ACME");
        let at = out.text.find("cafe").unwrap();
        let (s, e) = out.span(at, at + 4);
        assert_eq!(&src[s..e], "café");
    }

    #[test]
    fn boundaries() {
        let t = "pineapple apple_pie apple, #apple";
        assert!(!starts_word(t, 4)); // "apple" inside "pineapple"
        assert!(starts_word(t, 10));
        assert!(!ends_word(t, 15)); // followed by '_'
        assert!(ends_word(t, 25)); // followed by ','
        assert!(starts_word(t, 28)); // after '#'
                                     // Unspaced scripts: a Latin brand inside Japanese text is bounded.
        let j = "私はacmeが好き";
        let s = j.find("acme").unwrap();
        assert!(starts_word(j, s) && ends_word(j, s + 4));
    }

    #[test]
    fn pictographs_are_stable() {
        for c in '\u{1F300}'..='\u{1FAFF}' {
            let once = || std::iter::once(c);
            assert_eq!(canonical_combining_class(c), 0, "{c:?}");
            assert_eq!(is_nfkd_quick(once()), IsNormalized::Yes, "{c:?}");
            assert_eq!(is_nfkc_quick(once()), IsNormalized::Yes, "{c:?}");
            assert!(c.to_lowercase().eq(once()), "{c:?}");
        }
    }

    /// Normalization without the fast paths: every segment (a starter and
    /// its combining marks) through the Unicode iterators.
    fn reference(norm: Normalizer, s: &str) -> String {
        let mut out = String::new();
        let mut seg = String::new();
        let flush = |seg: &mut String, out: &mut String| {
            if norm.fold_accents {
                for c in seg.nfkd().filter(|c| canonical_combining_class(*c) == 0) {
                    push_folded(c, out);
                }
            } else {
                for c in seg.nfkc() {
                    push_folded(c, out);
                }
            }
            seg.clear();
        };
        for c in s.chars() {
            if canonical_combining_class(c) == 0 {
                flush(&mut seg, &mut out);
            }
            seg.push(c);
        }
        flush(&mut seg, &mut out);
        out
    }

    proptest! {
        #[test]
        fn fast_paths_agree_with_the_unicode_iterators(
            s in "([a-zA-Z .#@]|[\\u{300}-\\u{36F}]|[éÉßẞςÅﬁＡ𝐀🄰½]|[😀-😂🙏]|[가-갃]|[ᄀ-ᄂ]|[ᅡ-ᅣ]|\\PC){0,30}"
        ) {
            let mut out = NormText::default();
            for norm in [N, K] {
                norm.normalize_into(&s, &mut out);
                prop_assert_eq!(&out.text, &reference(norm, &s));
            }
        }

        #[test]
        fn normalization_is_idempotent(s in "\\PC{0,40}") {
            let once = N.normalize_str(&s);
            prop_assert_eq!(N.normalize_str(&once), once.clone());
            let once = K.normalize_str(&s);
            prop_assert_eq!(K.normalize_str(&once), once);
        }

        #[test]
        fn spans_are_char_boundaries(s in "\\PC{0,40}") {
            let mut out = NormText::default();
            N.normalize_into(&s, &mut out);
            for (i, _) in out.text.char_indices() {
                let o = out.to_original(i);
                prop_assert!(s.is_char_boundary(o));
            }
            prop_assert_eq!(out.to_original(out.text.len()), s.len());
        }
    }
}
