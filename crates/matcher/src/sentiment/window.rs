//! A short ASCII token read as one 64-bit integer: the 8 bytes from its
//! start in the padded lowercase copy, and the same 8 of the text itself.
//!
//! Everything the tokenizer asks of a token of at most 7 bytes (most of
//! them) is answered here with masks that hold one high bit per byte:
//! where it ends, whether it has punctuation, where its word starts and
//! ends once the punctuation is trimmed, whether it is in capitals, whether
//! it has an "n't", whether it ends a sentence. None of these takes a
//! branch on the token's bytes, whose outcome the processor could not
//! guess: a byte loop mispredicts at least once per token, at its end, and
//! trimming loops once more. The tokenizer branches once, on whether the
//! token has punctuation (a quarter do), to skip the questions only
//! punctuated tokens raise. Against the byte loop this is about as many
//! instructions and a third fewer mispredicted branches, about 10% faster
//! (`benches/RESULTS.md`).
//!
//! Adding `0x80 - k` to an ASCII byte sets its high bit exactly when the
//! byte is at least `k`, and never carries into the next byte: so eight
//! bytes are compared with a constant at once.

const ONES: u64 = u64::from_le_bytes([1; 8]);
const HIGH: u64 = u64::from_le_bytes([0x80; 8]);

/// The high bit of each byte of `x` (all ASCII) that is at least `k`.
#[inline(always)]
fn at_least(x: u64, k: u8) -> u64 {
    x.wrapping_add(u64::from(0x80 - k) * ONES) & HIGH
}

/// The high bit of each byte of `x` (all ASCII) in `lo..hi`.
#[inline(always)]
fn in_range(x: u64, lo: u8, hi: u8) -> u64 {
    at_least(x, lo) & !at_least(x, hi)
}

/// The high bit of each byte of `x` (all ASCII) equal to `b`.
#[inline(always)]
fn equal(x: u64, b: u8) -> u64 {
    in_range(x, b, b + 1)
}

/// High bits of the bytes below `n` (`n <= 8`).
#[inline(always)]
fn below(n: usize) -> u64 {
    // Shifting by 64 would overflow: an 8-byte prefix is every byte.
    let all = u64::MAX.checked_shl(8 * n as u32).map_or(u64::MAX, |m| !m);
    all & HIGH
}

/// Index of the byte whose high bit is the highest set in `m` (not 0).
#[inline(always)]
fn last_byte(m: u64) -> usize {
    (63 - m.leading_zeros() as usize) / 8
}

/// The 8 bytes from `at` as an integer, first byte lowest.
#[inline(always)]
fn load(bytes: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(w)
}

/// A token of at most 7 bytes, read from its start.
pub(super) struct Window {
    /// The lowercase bytes, and the text's.
    lower: u64,
    raw: u64,
    /// Bytes in the token.
    pub len: usize,
    /// High bits of the token's bytes.
    token: u64,
    punct: u64,
    alnum: u64,
}

impl Window {
    /// Reads the token at `at` (not a space) in the lowercase copy and the
    /// text, both padded with 16 spaces; `None` when it is longer than 7
    /// bytes or a control byte (below `!`, not a space) is in it, which the
    /// caller reads byte by byte.
    #[inline(always)]
    pub fn read(
        lower: &[u8],
        raw: &[u8],
        at: usize,
        is_space: impl Fn(u8) -> bool,
    ) -> Option<Window> {
        let x = load(lower, at);
        let stop = !at_least(x, b'!') & HIGH;
        if stop == 0 {
            return None;
        }
        let len = stop.trailing_zeros() as usize / 8;
        if !is_space(lower[at + len]) {
            return None;
        }
        let token = below(len);
        let alnum = (in_range(x, b'a', b'z' + 1) | in_range(x, b'0', b'9' + 1)) & token;
        Some(Window {
            lower: x,
            raw: load(raw, at),
            len,
            token,
            punct: in_range(x, b'!', 0x7f) & token & !alnum,
            alnum,
        })
    }

    /// Whether the token has ASCII punctuation.
    pub fn has_punct(&self) -> bool {
        self.punct != 0
    }

    /// Whether the token is one of the emoticons that need no lexicon:
    /// `/s`, or at most two bytes with no letter or digit.
    pub fn is_short_emoticon(&self) -> bool {
        let slash_s = self.len == 2 && self.lower & 0xffff == u64::from(u16::from_le_bytes(*b"/s"));
        self.has_punct() & (slash_s | (self.len <= 2) & (self.alnum == 0))
    }

    /// The first and last bytes of the token.
    pub fn ends(&self) -> (u8, u8) {
        let byte = |i: usize| (self.lower >> (8 * i)) as u8;
        (byte(0), byte(self.len - 1))
    }

    /// The span of the token's word once the punctuation around it is
    /// trimmed, relative to its start; `None` if it is all punctuation.
    pub fn trimmed(&self) -> Option<(usize, usize)> {
        let word = self.token & !self.punct;
        (word != 0).then(|| (word.trailing_zeros() as usize / 8, last_byte(word) + 1))
    }

    /// Whether the token's bytes `from..to` have an "n't" (a negation).
    pub fn has_nt(&self, from: usize, to: usize) -> bool {
        let x = self.lower;
        let starts = equal(x, b'n') & equal(x >> 8, b'\'') & equal(x >> 16, b't');
        // The "t" too must be inside the span.
        let inside = below(to.saturating_sub(2)) & !below(from);
        starts & inside != 0
    }

    /// Written in capitals: two letters or more, none lowercase.
    pub fn is_caps(&self) -> bool {
        let upper = in_range(self.raw, b'A', b'Z' + 1) & self.token;
        let lower = in_range(self.raw, b'a', b'z' + 1) & self.token;
        lower == 0 && upper & upper.wrapping_sub(1) != 0
    }

    /// Whether the token ends a sentence (its last byte before closing
    /// quotes and brackets is `.`, `!` or `?`), and if so whether it asks
    /// a question (`?` with no `!` before it): what `ends_sentence` says.
    pub fn ends_sentence(&self) -> Option<bool> {
        let x = self.lower;
        let closing = equal(x, b'"') | equal(x, b'\'') | equal(x, b')');
        let rest = self.token & !closing;
        if rest == 0 {
            return None;
        }
        let last = last_byte(rest);
        let tail = below(last + 1);
        match (x >> (8 * last)) as u8 {
            b'.' | b'!' => Some(false),
            b'?' => Some(equal(x, b'!') & tail == 0),
            _ => None,
        }
    }
}
