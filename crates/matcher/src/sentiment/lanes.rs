//! A short ASCII token read as sixteen SSE2 lanes (x86-64, where SSE2 is
//! always there): the same answers as [`super::window`]'s integers, with
//! one instruction per sixteen bytes where those take several per eight,
//! and one shape for every token of up to 15 bytes.
//!
//! Each question becomes a byte compare of the sixteen lanes and a
//! `movemask`, which packs the lanes' answers into the low sixteen bits of
//! an integer: bit `i` for byte `i`. The rest is arithmetic on those bits.

use std::arch::x86_64::{
    __m128i, _mm_and_si128, _mm_cmpeq_epi8, _mm_cmpgt_epi8, _mm_cmplt_epi8, _mm_cvtsi128_si32,
    _mm_cvtsi128_si64, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
    _mm_unpackhi_epi64,
};

use super::window::Shape;

/// A token shorter than sixteen bytes, read from its start.
pub(super) struct Lanes<'a> {
    /// The padded text the token is in, and where.
    raw: &'a [u8],
    at: usize,
    /// The lowercase bytes from the token's start.
    x: __m128i,
    len: usize,
    /// One bit per byte of the token.
    token: u32,
    letters: u32,
    alnum: u32,
    punct: u32,
    /// Bytes that lowercasing changed: capitals.
    upper: u32,
}

/// Sixteen bytes from `at` (in bounds: the buffers are padded).
#[inline(always)]
fn load(bytes: &[u8], at: usize) -> __m128i {
    let chunk = &bytes[at..at + 16];
    // SAFETY: `chunk` has 16 bytes; the load has no alignment requirement.
    unsafe { _mm_loadu_si128(chunk.as_ptr().cast()) }
}

// SAFETY (every `unsafe` block below but the loads'): the intrinsics
// need SSE2, which this module is compiled only with.

/// Bit `i` set where byte `i` of `x` is `b`.
#[inline(always)]
fn equal(x: __m128i, b: u8) -> u32 {
    unsafe { _mm_movemask_epi8(_mm_cmpeq_epi8(x, _mm_set1_epi8(b as i8))) as u32 }
}

/// Bit `i` set where byte `i` of `x`, taken as signed, is below `b`
/// (ASCII): bytes that are not ASCII are negative, so below too.
#[inline(always)]
fn less(x: __m128i, b: u8) -> u32 {
    unsafe { _mm_movemask_epi8(_mm_cmplt_epi8(x, _mm_set1_epi8(b as i8))) as u32 }
}

/// Bit `i` set where byte `i` of `x` is in `lo..=hi` (both ASCII).
#[inline(always)]
fn within(x: __m128i, lo: u8, hi: u8) -> u32 {
    unsafe {
        let above = _mm_cmpgt_epi8(x, _mm_set1_epi8((lo - 1) as i8));
        let below = _mm_cmplt_epi8(x, _mm_set1_epi8((hi + 1) as i8));
        _mm_movemask_epi8(_mm_and_si128(above, below)) as u32
    }
}

/// The ASCII lowercase of `r`, and a bit for each byte that it changed
/// (a capital).
#[inline(always)]
fn lowercase(r: __m128i) -> (__m128i, u32) {
    unsafe {
        let above = _mm_cmpgt_epi8(r, _mm_set1_epi8((b'A' - 1) as i8));
        let below = _mm_cmplt_epi8(r, _mm_set1_epi8((b'Z' + 1) as i8));
        let upper = _mm_and_si128(above, below);
        let x = _mm_or_si128(r, _mm_and_si128(upper, _mm_set1_epi8(0x20)));
        (x, _mm_movemask_epi8(upper) as u32)
    }
}

/// Bits of the bytes below `n` (at most 16).
#[inline(always)]
fn below(n: usize) -> u32 {
    (1u32 << n) - 1
}

/// Sixteen bytes of 0xff, then sixteen of zero: the sixteen bytes from
/// `16 - n` keep a key's first `n` bytes.
static PREFIX: [u8; 32] = {
    let mut t = [0u8; 32];
    let mut i = 0;
    while i < 16 {
        t[i] = 0xff;
        i += 1;
    }
    t
};

impl<'a> Lanes<'a> {
    /// Reads the token at `at` (not a space) in the text, padded with 16
    /// spaces; `None` when it is sixteen bytes or more, or ends at a byte
    /// that is not a space: a control byte, DEL or a byte that is not
    /// ASCII (signed, those compare below `!`). The caller reads those
    /// byte by byte.
    #[inline(always)]
    pub fn read(raw: &'a [u8], at: usize, is_space: impl Fn(u8) -> bool) -> Option<Lanes<'a>> {
        let r = load(raw, at);
        let stop = less(r, b'!') | equal(r, 0x7f);
        if stop == 0 {
            return None;
        }
        let len = stop.trailing_zeros() as usize;
        if !is_space(raw[at + len]) {
            return None;
        }
        // Every byte before the stop is printable ASCII.
        let token = below(len);
        let (x, upper) = lowercase(r);
        let letters = within(x, b'a', b'z') & token;
        let alnum = letters | within(x, b'0', b'9') & token;
        Some(Lanes {
            raw,
            at,
            x,
            len,
            token,
            letters,
            alnum,
            punct: token & !alnum,
            upper: upper & token,
        })
    }
}

impl Shape for Lanes<'_> {
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
        unsafe { _mm_cvtsi128_si32(self.x) as u16 }
    }

    #[inline(always)]
    fn ends(&self) -> (u8, u8) {
        let lower = |i: usize| self.raw[self.at + i].to_ascii_lowercase();
        (lower(0), lower(self.len - 1))
    }

    #[inline(always)]
    fn trimmed(&self) -> Option<(usize, usize)> {
        let word = self.token & !self.punct;
        (word != 0).then(|| {
            (
                word.trailing_zeros() as usize,
                32 - word.leading_zeros() as usize,
            )
        })
    }

    #[inline(always)]
    fn has_nt(&self, from: usize, to: usize) -> bool {
        let starts = equal(self.x, b'n') & equal(self.x, b'\'') >> 1 & equal(self.x, b't') >> 2;
        // The "t" too must be inside the span.
        let inside = below(to.saturating_sub(2)) & !below(from);
        starts & inside != 0
    }

    #[inline(always)]
    fn is_caps(&self) -> bool {
        (self.letters == self.upper) & (self.upper & self.upper.wrapping_sub(1) != 0)
    }

    #[inline(always)]
    fn key(&self, from: usize, to: usize) -> u128 {
        let x = if from == 0 {
            self.x
        } else {
            lowercase(load(self.raw, self.at + from)).0
        };
        let keep = load(&PREFIX, 16 - (to - from));
        let (lo, hi) = unsafe {
            let k = _mm_and_si128(x, keep);
            (
                _mm_cvtsi128_si64(k) as u64,
                _mm_cvtsi128_si64(_mm_unpackhi_epi64(k, k)) as u64,
            )
        };
        u128::from(lo) | u128::from(hi) << 64
    }

    #[inline(always)]
    fn marks(&self) -> (u32, u32) {
        (
            (equal(self.x, b'!') & self.token).count_ones(),
            (equal(self.x, b'?') & self.token).count_ones(),
        )
    }

    #[inline(always)]
    fn ends_sentence(&self) -> Option<bool> {
        let x = self.x;
        let closing = equal(x, b'"') | equal(x, b'\'') | equal(x, b')');
        let rest = self.token & !closing;
        if rest == 0 {
            return None;
        }
        let last = 31 - rest.leading_zeros() as usize;
        match self.raw[self.at + last] {
            b'.' | b'!' => Some(false),
            b'?' => Some(equal(x, b'!') & below(last + 1) == 0),
            _ => None,
        }
    }
}
