//! Splitting a text into tokens and sentences, in one pass that also looks
//! each token up in the word table.
//!
//! Tokens are spans into one lowercase buffer reused from post to post, so
//! the hot path allocates nothing. Plain ASCII pieces, most of social text,
//! take a byte-level path; anything else takes the Unicode path, which
//! computes the same things with `char` methods.

use super::words::{flag, form_flags, WordTable};
use super::{Scratch, SentenceScore};
use crate::lexicon::is_emoji;

#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Token {
    /// Span of the lowercased, punctuation-trimmed form in `Scratch::lower`.
    pub lstart: u32,
    pub lend: u32,
    /// Written in capitals (at least two letters, none lowercase).
    pub caps: bool,
    pub sentence: u32,
    /// What the word is to the rules ([`flag`] bits).
    pub flags: u32,
    /// Valence in the analyzer's main lexicon.
    pub main: Option<f32>,
    /// Valence after idioms and per-post lexicons; `None` when the token is
    /// in no lexicon.
    pub valence: Option<f32>,
}

/// Splits `text` into whitespace tokens (emoji split off), strips
/// punctuation except from emoticons, and records sentence ends.
pub(super) fn tokenize(table: &WordTable, text: &str, s: &mut Scratch) {
    s.tokens.clear();
    s.lower.clear();
    s.sentences.clear();
    s.questions.clear();
    s.sarcastic = false;
    let mut sentence = Sentence::default();
    let mut i = 0;
    while i < text.len() {
        let (c, len) = char_at(text, i);
        if c.is_whitespace() {
            if c == '\n' && sentence.has_tokens(s) {
                sentence.close(s, i as u32, false);
            }
            i += len;
            continue;
        }
        let mut end = i + len;
        while end < text.len() {
            let (c, len) = char_at(text, end);
            if c.is_whitespace() {
                break;
            }
            end += len;
        }
        let chunk = &text[i..end];
        if chunk.is_ascii() {
            push_token(table, text, i, end, sentence.index, s);
        } else {
            // Split emoji off the chunk: "great😀" is two tokens.
            let mut piece_start = i;
            for (j, c) in chunk.char_indices() {
                if is_emoji(c) {
                    let at = i + j;
                    push_token(table, text, piece_start, at, sentence.index, s);
                    push_token(table, text, at, at + c.len_utf8(), sentence.index, s);
                    piece_start = at + c.len_utf8();
                }
            }
            push_token(table, text, piece_start, end, sentence.index, s);
        }
        // A chunk ending in . ! ? (before closing quotes) ends a sentence.
        // Emoticons such as "(?)" do too: exempting them changes scores
        // and would be a rule change of its own.
        let tail = chunk.trim_end_matches(['"', '\'', ')', '”', '’']);
        if tail.ends_with(['.', '!', '?', '…']) {
            let question = tail.ends_with('?') && !tail.contains('!');
            sentence.close(s, end as u32, question);
        }
        i = end;
    }
    if sentence.has_tokens(s) || s.sentences.is_empty() {
        sentence.close(s, text.len() as u32, false);
    }
}

/// The sentence being read.
#[derive(Default)]
struct Sentence {
    index: u32,
    start: u32,
}

impl Sentence {
    fn has_tokens(&self, s: &Scratch) -> bool {
        s.tokens.last().is_some_and(|t| t.sentence == self.index)
    }

    fn close(&mut self, s: &mut Scratch, end: u32, question: bool) {
        s.sentences.push(SentenceScore {
            start: self.start,
            end,
            sum: 0.0,
        });
        s.questions.push(question);
        self.index += 1;
        self.start = end;
    }
}

/// The character at byte `i` and its length.
fn char_at(text: &str, i: usize) -> (char, usize) {
    let b = text.as_bytes()[i];
    if b.is_ascii() {
        (b as char, 1)
    } else {
        let c = text[i..].chars().next().unwrap_or(' ');
        (c, c.len_utf8())
    }
}

fn push_token(
    table: &WordTable,
    text: &str,
    start: usize,
    end: usize,
    sentence: u32,
    s: &mut Scratch,
) {
    let raw = &text[start..end];
    let lstart = s.lower.len();
    let shape = if raw.is_ascii() {
        ascii_shape(table, raw, s)
    } else {
        unicode_shape(table, raw, s)
    };
    let Some((off, len, caps)) = shape else {
        s.lower.truncate(lstart);
        return;
    };
    let (a, b) = (lstart + off, lstart + off + len);
    let word = table.get(&s.lower[a..b]);
    s.tokens.push(Token {
        lstart: a as u32,
        lend: b as u32,
        caps,
        sentence,
        flags: word.flags | form_flags(&s.lower[a..b]),
        main: word.valence,
        valence: None,
    });
}

/// Appends the lowercase of an ASCII piece to `s.lower` and returns the
/// offset and length of its word there (punctuation trimmed unless it is
/// an emoticon) and whether it is in capitals; `None` to drop it.
fn ascii_shape(table: &WordTable, raw: &str, s: &mut Scratch) -> Option<(usize, usize, bool)> {
    if raw.is_empty() {
        return None;
    }
    let lstart = s.lower.len();
    s.lower.push_str(raw);
    s.lower[lstart..].make_ascii_lowercase();
    let lower = &s.lower.as_bytes()[lstart..];
    let bytes = raw.as_bytes();
    let slash_s = lower == b"/s";
    let has_punct = !slash_s && bytes.iter().any(u8::is_ascii_punctuation);
    let emoticon = slash_s
        || has_punct && table.get(&s.lower[lstart..]).flags & flag::LEXICON_WORD != 0
        || lower.len() <= 2 && !bytes.iter().any(u8::is_ascii_alphanumeric);
    let (off, len) = if emoticon {
        (0, lower.len())
    } else {
        let first = lower.iter().position(|b| !b.is_ascii_punctuation())?;
        let last = lower.iter().rposition(|b| !b.is_ascii_punctuation())?;
        (first, last + 1 - first)
    };
    let letters = bytes.iter().filter(|b| b.is_ascii_alphabetic()).count();
    let caps = letters >= 2 && !bytes.iter().any(u8::is_ascii_lowercase);
    Some((off, len, caps))
}

/// [`ascii_shape`] for any text: emoji joiners and variation selectors
/// are trimmed, skin tones alone are dropped, curly apostrophes are
/// straightened.
fn unicode_shape(table: &WordTable, raw: &str, s: &mut Scratch) -> Option<(usize, usize, bool)> {
    let raw = raw.trim_matches(|c| c == '\u{FE0F}' || c == '\u{200D}');
    if raw.is_empty()
        || raw
            .chars()
            .all(|c| ('\u{1F3FB}'..='\u{1F3FF}').contains(&c))
    {
        return None;
    }
    let lstart = s.lower.len();
    push_lower(raw, &mut s.lower);
    let lower = &s.lower[lstart..];
    // Emoticons keep their punctuation; words lose it ("great!!" -> "great").
    let has_punct = lower.chars().any(is_punct) && lower != "/s";
    let emoticon = lower == "/s"
        || has_punct && table.get(lower).flags & flag::LEXICON_WORD != 0
        || lower.chars().count() <= 2 && !lower.chars().any(char::is_alphanumeric);
    let (off, len) = if emoticon {
        (0, lower.len())
    } else {
        let trimmed = lower.trim_start_matches(is_punct);
        let off = lower.len() - trimmed.len();
        let trimmed = trimmed.trim_end_matches(is_punct);
        if trimmed.is_empty() {
            return None;
        }
        (off, trimmed.len())
    };
    let letters = raw.chars().filter(|c| c.is_alphabetic()).count();
    let caps = letters >= 2 && !raw.chars().any(char::is_lowercase);
    Some((off, len, caps))
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
