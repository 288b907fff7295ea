//! A short ASCII token read as one integer: the bytes from its start in
//! the padded text, and their lowercase; eight of them ([`Narrow`], tokens
//! of at most 7 bytes, most of them) or sixteen ([`Wide`], up to 15 bytes,
//! nearly all the rest). This is the portable reader; on x86-64 the
//! tokenizer uses [`super::lanes`], which answers the same questions with
//! SSE2 in fewer instructions. Tests run both.
//!
//! Everything the tokenizer asks of such a token is answered here with
//! masks that hold one high bit per byte: where it ends, whether it has
//! punctuation, where its word starts and ends once the punctuation is
//! trimmed, whether it is in capitals, whether it has an "n't", whether it
//! ends a sentence. None of these takes a branch on the token's bytes,
//! whose outcome the processor could not guess: a byte loop mispredicts at
//! least once per token, at its end, and trimming loops once more. The
//! tokenizer branches on whether the token has punctuation (a quarter do),
//! to skip the questions only punctuated tokens raise, and on whether it
//! fits in eight bytes. Against the byte loop this is about as many
//! instructions and far fewer mispredicted branches (`benches/HISTORY.md`).
//!
//! Adding `0x80 - k` to an ASCII byte sets its high bit exactly when the
//! byte is at least `k`, and never carries into the next byte: so all the
//! bytes are compared with a constant at once.

/// What the tokenizer asks of a token read whole.
pub(super) trait Shape {
    /// Bytes in the token.
    fn len(&self) -> usize;
    /// Whether the token has ASCII punctuation.
    fn has_punct(&self) -> bool;
    /// Whether the token has an ASCII letter or digit.
    fn has_alnum(&self) -> bool;
    /// The token's first two lowercase bytes, little-endian.
    fn first_two(&self) -> u16;
    /// Whether the token is one of the emoticons that need no lexicon:
    /// `/s`, or at most two bytes with no letter or digit.
    #[inline(always)]
    fn is_short_emoticon(&self) -> bool {
        let slash_s = (self.len() == 2) & (self.first_two() == u16::from_le_bytes(*b"/s"));
        self.has_punct() & (slash_s | (self.len() <= 2) & !self.has_alnum())
    }
    /// The first and last bytes of the token.
    fn ends(&self) -> (u8, u8);
    /// The span of the token's word once the punctuation around it is
    /// trimmed, relative to its start; `None` if it is all punctuation.
    fn trimmed(&self) -> Option<(usize, usize)>;
    /// Whether the token's bytes `from..to` have an "n't" (a negation).
    fn has_nt(&self, from: usize, to: usize) -> bool;
    /// Written in capitals: two letters or more, none lowercase.
    fn is_caps(&self) -> bool;
    /// The lowercase bytes `from..to` of the token as one little-endian
    /// integer, zero past them: a word table key.
    fn key(&self, from: usize, to: usize) -> u128;
    /// How many `!` and `?` the token has.
    fn marks(&self) -> (u32, u32);
    /// Whether the token ends a sentence (its last byte before closing
    /// quotes and brackets is `.`, `!` or `?`), and if so whether it asks
    /// a question (`?` with no `!` before it): what `ends_sentence` says.
    fn ends_sentence(&self) -> Option<bool>;
}

macro_rules! window {
    ($name:ident, $int:ty, $bytes:literal) => {
        /// A token shorter than the window, read from its start.
        pub(super) struct $name {
            /// The lowercase bytes, and the text's.
            lower: $int,
            raw: $int,
            len: usize,
            /// High bits of the token's bytes.
            token: $int,
            letters: $int,
            punct: $int,
            alnum: $int,
        }

        impl $name {
            const ONES: $int = <$int>::from_le_bytes([1; $bytes]);
            const HIGH: $int = <$int>::from_le_bytes([0x80; $bytes]);

            /// The high bit of each byte of `x` (all ASCII) at least `k`.
            #[inline(always)]
            fn at_least(x: $int, k: u8) -> $int {
                x.wrapping_add(<$int>::from(0x80 - k) * Self::ONES) & Self::HIGH
            }

            /// The high bit of each byte of `x` (all ASCII) in `lo..hi`.
            #[inline(always)]
            fn in_range(x: $int, lo: u8, hi: u8) -> $int {
                Self::at_least(x, lo) & !Self::at_least(x, hi)
            }

            /// The high bit of each byte of `x` (all ASCII) equal to `b`.
            #[inline(always)]
            fn equal(x: $int, b: u8) -> $int {
                Self::in_range(x, b, b + 1)
            }

            /// High bits of the bytes below `n` (at most all of them).
            #[inline(always)]
            fn below(n: usize) -> $int {
                // A shift by the integer's width would overflow.
                let all = <$int>::MAX
                    .checked_shl(8 * n as u32)
                    .map_or(<$int>::MAX, |m| !m);
                all & Self::HIGH
            }

            /// Index of the byte whose high bit is the highest in `m` (not 0).
            #[inline(always)]
            fn last_byte(m: $int) -> usize {
                (8 * $bytes - 1 - m.leading_zeros() as usize) / 8
            }

            #[inline(always)]
            fn load(bytes: &[u8], at: usize) -> $int {
                let mut w = [0u8; $bytes];
                w.copy_from_slice(&bytes[at..at + $bytes]);
                <$int>::from_le_bytes(w)
            }

            /// Reads the token at `at` (not a space) in the text, padded
            /// with 16 spaces; `None` when it is too long, a control byte
            /// (below `!`, not a space) is in it, or a byte of the window
            /// is not ASCII (the arithmetic below would carry): the caller
            /// reads those byte by byte.
            #[inline(always)]
            pub fn read(raw: &[u8], at: usize, is_space: impl Fn(u8) -> bool) -> Option<$name> {
                let r = Self::load(raw, at);
                if r & Self::HIGH != 0 {
                    return None;
                }
                // Capitals get bit 5, moved there from the high bit.
                let x = r | Self::in_range(r, b'A', b'Z' + 1) >> 2;
                let stop = !Self::at_least(x, b'!') & Self::HIGH;
                if stop == 0 {
                    return None;
                }
                let len = stop.trailing_zeros() as usize / 8;
                if !is_space(raw[at + len]) {
                    return None;
                }
                // The bytes before the first stop.
                let token = stop.wrapping_sub(1) & !stop & Self::HIGH;
                let letters = Self::in_range(x, b'a', b'z' + 1) & token;
                let alnum = letters | Self::in_range(x, b'0', b'9' + 1) & token;
                Some($name {
                    lower: x,
                    raw: r,
                    len,
                    token,
                    letters,
                    punct: Self::in_range(x, b'!', 0x7f) & token & !alnum,
                    alnum,
                })
            }
        }

        impl Shape for $name {
            #[inline(always)]
            fn len(&self) -> usize {
                self.len
            }

            #[inline(always)]
            fn has_punct(&self) -> bool {
                self.punct != 0
            }

            #[inline(always)]
            fn has_alnum(&self) -> bool {
                self.alnum != 0
            }

            #[inline(always)]
            fn first_two(&self) -> u16 {
                self.lower as u16
            }

            #[inline(always)]
            fn ends(&self) -> (u8, u8) {
                let byte = |i: usize| (self.lower >> (8 * i)) as u8;
                (byte(0), byte(self.len - 1))
            }

            #[inline(always)]
            fn trimmed(&self) -> Option<(usize, usize)> {
                let word = self.token & !self.punct;
                (word != 0).then(|| {
                    (
                        word.trailing_zeros() as usize / 8,
                        Self::last_byte(word) + 1,
                    )
                })
            }

            #[inline(always)]
            fn has_nt(&self, from: usize, to: usize) -> bool {
                let x = self.lower;
                let starts =
                    Self::equal(x, b'n') & Self::equal(x >> 8, b'\'') & Self::equal(x >> 16, b't');
                // The "t" too must be inside the span.
                let inside = Self::below(to.saturating_sub(2)) & !Self::below(from);
                starts & inside != 0
            }

            #[inline(always)]
            fn is_caps(&self) -> bool {
                // Lowercasing flips bit 5 of capitals and nothing else:
                // moved to bit 7, it marks the letters written in capitals.
                let upper = self.letters & ((self.raw ^ self.lower) << 2);
                (self.letters == upper) & (upper & upper.wrapping_sub(1) != 0)
            }

            #[inline(always)]
            fn key(&self, from: usize, to: usize) -> u128 {
                // Whole bytes below `to - from`, from the high bits.
                let bytes = (Self::below(to - from) >> 7) * 0xff;
                u128::from((self.lower >> (8 * from)) & bytes)
            }

            #[inline(always)]
            fn marks(&self) -> (u32, u32) {
                // One 0/1 counter per byte; multiplying by ONES sums them
                // into the top byte (at most 16, so nothing carries out).
                let count = |b: u8| {
                    let ones = (Self::equal(self.lower, b) & self.token) >> 7;
                    (ones.wrapping_mul(Self::ONES) >> (8 * ($bytes - 1))) as u32
                };
                (count(b'!'), count(b'?'))
            }

            #[inline(always)]
            fn ends_sentence(&self) -> Option<bool> {
                let x = self.lower;
                let closing = Self::equal(x, b'"') | Self::equal(x, b'\'') | Self::equal(x, b')');
                let rest = self.token & !closing;
                if rest == 0 {
                    return None;
                }
                let last = Self::last_byte(rest);
                let tail = Self::below(last + 1);
                match (x >> (8 * last)) as u8 {
                    b'.' | b'!' => Some(false),
                    b'?' => Some(Self::equal(x, b'!') & tail == 0),
                    _ => None,
                }
            }
        }
    };
}

window!(Narrow, u64, 8);
window!(Wide, u128, 16);
