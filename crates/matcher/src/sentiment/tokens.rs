//! Splitting a text into tokens and sentences, in one pass that also looks
//! each token up in the word table.
//!
//! Tokens are spans into one lowercase buffer reused from post to post (an
//! ASCII-lowercased copy of the text, then the Unicode-lowercased non-ASCII
//! pieces), so the hot path allocates nothing. All-ASCII texts, most social
//! posts, take a path that reads each token of up to 15 bytes whole and
//! lowercases it in registers (SSE2 lanes on x86-64, [`super::lanes`];
//! integers elsewhere, [`super::window`]), and longer ones byte by byte;
//! that path makes the lowercase copy only if a long token or a per-post
//! lexicon needs it. It hands over to the Unicode path, which computes the
//! same things with `char` methods, at the first byte that is not ASCII. A
//! proptest holds both readers of the ASCII path to the Unicode path's
//! tokens.

#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
use super::lanes::Lanes;
use super::window::{Narrow, Shape, Wide};
use super::wordmap;
use super::words::{flag, form_flags, Word, WordTable};
use super::{Scratch, SentenceScore};
use crate::lexicon::is_emoji;

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(super) struct Token {
    /// Span of the lowercased, punctuation-trimmed form in `Scratch::lower`.
    pub lstart: u32,
    pub lend: u32,
    /// Written in capitals (at least two letters, none lowercase).
    pub caps: bool,
    pub sentence: u32,
    /// What the word is to the rules ([`flag`] bits).
    pub flags: u32,
    /// The word's number in the word table (0 if it has none).
    pub id: u32,
    /// Valence in the analyzer's main lexicon, then, after the lookup, with
    /// idioms and per-post lexicons; `None` when the token is in none.
    pub valence: Option<f32>,
}

/// Splits `text` into whitespace tokens (emoji split off), strips
/// punctuation except from emoticons, and records sentence ends.
pub(super) fn tokenize(table: &WordTable, text: &str, s: &mut Scratch) {
    // Most texts are ASCII: the fast path is tried first and finds out
    // itself, which saves a pass over the text to ask.
    if !tokenize_ascii::<false>(table, text, s) {
        tokenize_any(table, text, s);
    }
}

/// Empties the buffers for `text`, whose lowercase they start with.
fn reset(text: &str, s: &mut Scratch) {
    clear(s);
    lowercase(text, s);
}

/// Empties the buffers, the lowercase copy included.
fn clear(s: &mut Scratch) {
    s.tokens.clear();
    s.marked.clear();
    s.lower.clear();
    s.sentences.clear();
    s.questions.clear();
    s.sarcastic = false;
    s.all_flags = 0;
    s.caps = 0;
    s.exclaims = 0;
    s.queries = 0;
}

/// Makes sure `s.lower` starts with the lowercase of `text`, which the
/// ASCII path's tokens are spans of (same offsets): that path reads short
/// tokens from the text and lowercases them itself, so it makes the copy
/// only for a long token or when asked after tokenizing.
pub(super) fn lowercase(text: &str, s: &mut Scratch) {
    if s.lower.is_empty() && !text.is_empty() {
        s.lower.push_str(text);
        s.lower.make_ascii_lowercase();
        // Padding, so that the word table can read 16 bytes from any
        // ASCII token's start.
        s.lower.push_str(PADDING);
    }
}

/// [`tokenize`] for all-ASCII texts, most social posts: the same tokens and
/// sentences, found in a padded copy of the text. A token of up to 15
/// bytes is read whole ([`Lanes`]) and lowercased there; longer ones, and
/// the rare ones with control bytes, byte by byte in a lowercase copy. No
/// `char` decoding. `false`, with the buffers half filled, if the text is
/// not all ASCII.
/// `PORTABLE` picks the integer reader where the SSE2 one is available, for
/// tests.
fn tokenize_ascii<const PORTABLE: bool>(table: &WordTable, text: &str, s: &mut Scratch) -> bool {
    clear(s);
    let mut raw = std::mem::take(&mut s.raw);
    raw.clear();
    raw.extend_from_slice(text.as_bytes());
    raw.extend_from_slice(PADDING.as_bytes());
    let bytes = &raw[..];
    let is_space = |b: u8| ASCII_CLASS[usize::from(b)] & SPACE != 0;
    let mut sentence = Sentence::default();
    let n = text.len();
    let mut i = 0;
    while i < n {
        if is_space(bytes[i]) {
            if bytes[i] == b'\n' && sentence.has_tokens(s) {
                sentence.close(s, i as u32, false);
            }
            i += 1;
            continue;
        }
        let start = i;
        let ends = if let Some((len, ends)) =
            short_token::<PORTABLE>(table, bytes, start, sentence.index, s)
        {
            i += len;
            ends
        } else {
            // The padding ends the last token at the end of the text.
            let mut classes = 0;
            while !is_space(bytes[i]) {
                if !bytes[i].is_ascii() {
                    s.raw = raw;
                    return false;
                }
                classes |= ASCII_CLASS[usize::from(bytes[i])];
                i += 1;
            }
            if classes & MARK != 0 {
                count_marks(&bytes[start..i], s);
            }
            let caps = classes & ALPHA != 0 && is_caps(&bytes[start..i]);
            lowercase(text, s);
            let lower = std::mem::take(&mut s.lower);
            push_ascii(table, &lower, start, i, classes, caps, sentence.index, s);
            s.lower = lower;
            if classes & PUNCT != 0 {
                ends_sentence_ascii(&bytes[start..i])
            } else {
                None
            }
        };
        if let Some(question) = ends {
            sentence.close(s, i as u32, question);
        }
        // The space that ended the token (the padding's, at the end), here
        // rather than by another turn of the loop.
        if bytes[i] == b'\n' && sentence.has_tokens(s) {
            sentence.close(s, i as u32, false);
        }
        i += 1;
    }
    if sentence.has_tokens(s) || s.sentences.is_empty() {
        sentence.close(s, n as u32, false);
    }
    s.raw = raw;
    true
}

/// Reads and pushes the token at `start` if it is short enough to be read
/// whole: its length, and what [`push_window`] says of its sentence.
#[inline(always)]
fn short_token<const PORTABLE: bool>(
    table: &WordTable,
    raw: &[u8],
    start: usize,
    sentence: u32,
    s: &mut Scratch,
) -> Option<(usize, Option<bool>)> {
    let is_space = |b: u8| ASCII_CLASS[usize::from(b)] & SPACE != 0;
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    if !PORTABLE {
        let window = Lanes::read(raw, start, is_space)?;
        return Some((
            window.len(),
            push_window(table, start, &window, sentence, s),
        ));
    }
    if let Some(window) = Narrow::read(raw, start, is_space) {
        return Some((
            window.len(),
            push_window(table, start, &window, sentence, s),
        ));
    }
    let window = Wide::read(raw, start, is_space)?;
    Some((
        window.len(),
        push_window(table, start, &window, sentence, s),
    ))
}

/// [`push_ascii`] for a token read whole; returns whether it ends a
/// sentence, and if so whether it asks a question.
#[inline(always)]
fn push_window(
    table: &WordTable,
    start: usize,
    window: &impl Shape,
    sentence: u32,
    s: &mut Scratch,
) -> Option<bool> {
    let end = start + window.len();
    if !window.has_punct() {
        let word = table.get_bits(window.key(0, window.len()), window.len());
        push(start, end, window.is_caps(), sentence, word, s);
        return None;
    }
    let (exclaims, queries) = window.marks();
    s.exclaims += exclaims;
    s.queries += queries;
    push_punctuated(table, start, window, sentence, s);
    window.ends_sentence()
}

/// [`push_window`] for a token with punctuation.
#[inline(always)]
fn push_punctuated(
    table: &WordTable,
    start: usize,
    window: &impl Shape,
    sentence: u32,
    s: &mut Scratch,
) {
    // Emoticons keep their punctuation; words lose it ("great!!" -> "great").
    let mut emoticon = window.is_short_emoticon();
    let (first, last) = window.ends();
    if table.may_be_punctuated_ends(first, last) {
        let whole = table.get_bits(window.key(0, window.len()), window.len());
        emoticon |= whole.flags & flag::LEXICON_WORD != 0;
    }
    let (from, to) = if emoticon {
        (0, window.len())
    } else {
        match window.trimmed() {
            Some(span) => span,
            None => return,
        }
    };
    let (a, b) = (start + from, start + to);
    // Looked up again even when the span is the whole token (a rare
    // emoticon): a branch on it would cost more than the lookup.
    let mut word = table.get_bits(window.key(from, to), to - from);
    // Only punctuated words can be "n't" contractions.
    word.flags |= flag::NEGATION * u32::from(window.has_nt(from, to));
    push(a, b, window.is_caps(), sentence, word, s);
}

/// Counts the `!` and `?` of a chunk (or a whole text), which amplify the
/// whole text.
fn count_marks(chunk: &[u8], s: &mut Scratch) {
    for &b in chunk {
        s.exclaims += u32::from(b == b'!');
        s.queries += u32::from(b == b'?');
    }
}

/// Whether an ASCII word is written in capitals: at least two letters,
/// none lowercase. Most words answer at their first or second byte.
fn is_caps(raw: &[u8]) -> bool {
    let mut letters = 0;
    for &b in raw {
        if b.is_ascii_lowercase() {
            return false;
        }
        letters += usize::from(b.is_ascii_uppercase());
    }
    letters >= 2
}

/// [`tokenize`] for any text.
fn tokenize_any(table: &WordTable, text: &str, s: &mut Scratch) {
    reset(text, s);
    let mut sentence = Sentence::default();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let (c, len) = char_at(text, i);
        if c == ' ' || c.is_whitespace() {
            if c == '\n' && sentence.has_tokens(s) {
                sentence.close(s, i as u32, false);
            }
            i += len;
            continue;
        }
        let chunk = Chunk::scan(text, i);
        let end = chunk.end;
        if chunk.classes & MARK != 0 {
            count_marks(&bytes[i..end], s);
        }
        if chunk.ascii {
            let caps = chunk.classes & ALPHA != 0 && is_caps(&bytes[i..end]);
            let lower = std::mem::take(&mut s.lower);
            push_ascii(
                table,
                &lower,
                i,
                end,
                chunk.classes,
                caps,
                sentence.index,
                s,
            );
            s.lower = lower;
        } else {
            // Split emoji off the chunk: "great😀" is two tokens.
            let mut piece_start = i;
            for (j, c) in text[i..end].char_indices() {
                if is_emoji(c) {
                    let at = i + j;
                    push_token(table, text, piece_start, at, sentence.index, s);
                    push_token(table, text, at, at + c.len_utf8(), sentence.index, s);
                    piece_start = at + c.len_utf8();
                }
            }
            push_token(table, text, piece_start, end, sentence.index, s);
        }
        let chunk = &text[i..end];
        if let Some(question) = ends_sentence(chunk) {
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

/// A whitespace-delimited chunk of text, and what its ASCII bytes are.
struct Chunk {
    end: usize,
    ascii: bool,
    /// Union of the ASCII bytes' classes.
    classes: u8,
}

impl Chunk {
    /// Reads the chunk starting at byte `start` (not whitespace).
    fn scan(text: &str, start: usize) -> Chunk {
        let bytes = text.as_bytes();
        let mut chunk = Chunk {
            end: start,
            ascii: true,
            classes: 0,
        };
        let mut i = start;
        while i < bytes.len() {
            let b = bytes[i];
            if b.is_ascii() {
                let class = ASCII_CLASS[b as usize];
                if class & SPACE != 0 {
                    break;
                }
                chunk.classes |= class;
                i += 1;
            } else {
                let (c, len) = char_at(text, i);
                if c.is_whitespace() {
                    break;
                }
                chunk.ascii = false;
                i += len;
            }
        }
        chunk.end = i;
        chunk
    }
}

/// Whether a chunk ending in . ! ? (before closing quotes) ends a
/// sentence, and if so whether it asks a question. Emoticons such as "(?)"
/// do too: exempting them changes scores and would be a rule change of its
/// own.
fn ends_sentence(chunk: &str) -> Option<bool> {
    if chunk
        .as_bytes()
        .last()
        .is_some_and(u8::is_ascii_alphanumeric)
    {
        return None;
    }
    let tail = chunk.trim_end_matches(['"', '\'', ')', '”', '’']);
    tail.ends_with(['.', '!', '?', '…'])
        .then(|| tail.ends_with('?') && !tail.contains('!'))
}

/// [`ends_sentence`] of an ASCII chunk that has punctuation.
fn ends_sentence_ascii(chunk: &[u8]) -> Option<bool> {
    let end = chunk
        .iter()
        .rposition(|b| !matches!(b, b'"' | b'\'' | b')'))?;
    let tail = &chunk[..=end];
    match tail[end] {
        b'.' | b'!' => Some(false),
        b'?' => Some(!tail.contains(&b'!')),
        _ => None,
    }
}

/// The character at byte `i` and its length.
#[inline]
fn char_at(text: &str, i: usize) -> (char, usize) {
    let b = text.as_bytes()[i];
    if b.is_ascii() {
        (b as char, 1)
    } else {
        let c = text[i..].chars().next().unwrap_or(' ');
        (c, c.len_utf8())
    }
}

/// Adds the all-ASCII chunk `start..end` as a token: the fast path of
/// [`push_token`]. Its lowercase is in `lower`, at the same offsets, with
/// padding after it.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn push_ascii(
    table: &WordTable,
    lower: &str,
    start: usize,
    end: usize,
    classes: u8,
    caps: bool,
    sentence: u32,
    s: &mut Scratch,
) {
    let (mut a, mut b) = (start, end);
    let lower = lower.as_bytes();
    let word = if classes & PUNCT != 0 {
        // Emoticons keep their punctuation; words lose it ("great!!" -> "great").
        let whole = &lower[a..b];
        let mut as_is = None;
        let emoticon = whole == b"/s"
            || table.may_be_punctuated_word(whole) && {
                let w = table.get_in(lower, a, b);
                as_is = Some(w);
                w.flags & flag::LEXICON_WORD != 0
            }
            || whole.len() <= 2 && classes & ALNUM == 0;
        if !emoticon {
            let Some(first) = whole.iter().position(|b| !b.is_ascii_punctuation()) else {
                return;
            };
            let last = whole.iter().rposition(|b| !b.is_ascii_punctuation());
            let (from, to) = (a + first, a + last.map_or(first, |l| l + 1));
            if (from, to) != (a, b) {
                (a, b) = (from, to);
                as_is = None;
            }
        }
        let mut word = as_is.unwrap_or_else(|| table.get_in(lower, a, b));
        // Only punctuated words can be "n't" contractions.
        word.flags |= form_flags(&lower[a..b]);
        word
    } else {
        table.get_in(lower, a, b)
    };
    push(a, b, caps, sentence, word, s);
}

/// Records a token and what the later passes need to know of it.
#[inline]
fn push(a: usize, b: usize, caps: bool, sentence: u32, word: Word, s: &mut Scratch) {
    s.all_flags |= word.flags;
    s.caps += usize::from(caps);
    // Pushed, then kept or not, rather than pushed under a branch: about
    // a third of tokens are marked, in no order the processor could guess.
    let marked = word.valence.is_some() | (word.flags & flag::PHRASE_START != 0);
    let len = s.marked.len();
    s.marked.push(s.tokens.len() as u32);
    s.marked.truncate(len + usize::from(marked));
    s.tokens.push(Token {
        lstart: a as u32,
        lend: b as u32,
        caps,
        sentence,
        flags: word.flags,
        id: word.id,
        valence: word.valence,
    });
}

/// Adds a piece of a chunk as a token, unless it is only punctuation,
/// emoji joiners or skin tones.
fn push_token(
    table: &WordTable,
    text: &str,
    start: usize,
    end: usize,
    sentence: u32,
    s: &mut Scratch,
) {
    let raw = &text[start..end];
    if raw.is_empty() {
        return;
    }
    if raw.is_ascii() {
        let classes = raw.bytes().fold(0, |c, b| c | ASCII_CLASS[usize::from(b)]);
        let caps = is_caps(raw.as_bytes());
        let lower = std::mem::take(&mut s.lower);
        push_ascii(table, &lower, start, end, classes, caps, sentence, s);
        s.lower = lower;
        return;
    }
    let lstart = s.lower.len();
    let Some((off, len, caps)) = unicode_shape(table, raw, s) else {
        s.lower.truncate(lstart);
        return;
    };
    let (a, b) = (lstart + off, lstart + off + len);
    let mut word = table.get(&s.lower.as_bytes()[a..b]);
    word.flags |= form_flags(&s.lower.as_bytes()[a..b]);
    push(a, b, caps, sentence, word, s);
}

const PADDING: &str = "                ";
const _: () = assert!(PADDING.len() == wordmap::PADDING);

const PUNCT: u8 = 1;
const ALNUM: u8 = 2;
const ALPHA: u8 = 4;
const LOWER: u8 = 8;
/// What `char::is_whitespace` says of ASCII: \t \n \x0B \x0C \r and space.
const SPACE: u8 = 16;
/// `!` or `?`, which amplify the whole text.
const MARK: u8 = 32;

/// Character classes of ASCII bytes, as bits (none for other bytes).
static ASCII_CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 128 {
        let c = b as u8;
        t[b] = if c == b'!' || c == b'?' {
            PUNCT | MARK
        } else if c.is_ascii_punctuation() {
            PUNCT
        } else if c.is_ascii_digit() {
            ALNUM
        } else if c.is_ascii_lowercase() {
            ALNUM | ALPHA | LOWER
        } else if c.is_ascii_uppercase() {
            ALNUM | ALPHA
        } else if matches!(c, b'\t'..=b'\r' | b' ') {
            SPACE
        } else {
            0
        };
        b += 1;
    }
    t
};

/// Appends the lowercase of a piece to `s.lower` and returns the offset
/// and length of its word there (punctuation trimmed unless it is an
/// emoticon) and whether it is in capitals; `None` to drop it. Emoji
/// joiners and variation selectors are trimmed, skin tones alone are
/// dropped, curly apostrophes are straightened.
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
        || has_punct && table.get(lower.as_bytes()).flags & flag::LEXICON_WORD != 0
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
#[cfg(test)]
mod tests {
    use super::*;
    use crate::lexicon::{Lexicon, LexiconFormat};
    use proptest::prelude::*;

    fn table() -> WordTable {
        let mut lex = Lexicon::default();
        lex.load(
            "good\t1.9\nbad\t-2.5\n:)\t2.0\n:-(\t-1.5\ncan't stand\t-2\nn't\t0.1\n",
            LexiconFormat::Vader,
        );
        WordTable::new(&lex)
    }

    /// What tokenizing leaves in the scratch buffers.
    fn outcome(s: &Scratch) -> impl PartialEq + std::fmt::Debug + '_ {
        (
            &s.tokens,
            &s.lower,
            &s.sentences,
            &s.questions,
            (s.sarcastic, s.all_flags, s.caps, s.exclaims, s.queries),
        )
    }

    fn assert_same(text: &str) {
        let table = table();
        let (mut a, mut b, mut c) = Default::default();
        assert!(tokenize_ascii::<false>(&table, text, &mut a));
        assert!(tokenize_ascii::<true>(&table, text, &mut b));
        // As the analyzer does before reading tokens' words.
        lowercase(text, &mut a);
        lowercase(text, &mut b);
        tokenize_any(&table, text, &mut c);
        assert_eq!(outcome(&a), outcome(&c), "{text:?}");
        assert_eq!(outcome(&b), outcome(&c), "{text:?} (portable reader)");
    }

    #[test]
    fn ascii_path_matches_the_general_one_on_edge_cases() {
        for text in [
            "",
            " ",
            "\n\n",
            "good",
            "  GOOD bad!! \n so good?\n",
            "I can't stand it :) :-( ...",
            "\"Really?\" she said.) Not BAD!?",
            "a\tb\x0bc\x0cd\re\x01f\x7f",
            &"x".repeat(63),
            &format!("{} GOOD!!! {}", "word ".repeat(12), "y".repeat(150)),
            &format!("{}n't.", "z".repeat(62)),
            // Around the 8- and 16-byte windows: lengths 7 to 9 and 15 to
            // 17, control bytes inside a token, "n't" at its edges, closing
            // quotes.
            "abcdefg abcdefgh abcdefghi GOODBAD GOODBADX",
            "abcdefghijklmno abcdefghijklmnop abcdefghijklmnopq",
            "hello,world!!!! \"wouldn't,ever\" (isn't-it-so?) ABCDEFGHIJKLMNO.",
            "x\x01y \x01 don't! (can't) n't 'n't' isn't? won't.",
            "\"why?!\" wow?\" ok?) A.B.C. /s :-( </3 :) ... !!",
        ] {
            assert_same(text);
        }
    }

    proptest! {
        #[test]
        fn ascii_path_matches_the_general_one(
            words in proptest::collection::vec(
                "(good|bad|GOOD|Bad|can't|stand|:\\)|:-\\(|[a-zA-Z0-9]{1,12}|[!-/:-@\\[-`{-~]{1,3}|[ -~]{1,70})",
                0..40,
            ),
            seps in proptest::collection::vec("[ \t\n\r\x0b\x0c]{1,3}", 40),
        ) {
            let mut text = String::new();
            for (w, sep) in words.iter().zip(&seps) {
                text.push_str(w);
                text.push_str(sep);
            }
            assert_same(&text);
        }
    }
}
