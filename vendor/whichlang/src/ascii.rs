//! Patched (Earshot): the features of an ASCII text, which most posts are.
//!
//! `emit_tokens` decodes characters and dispatches on the feature kind for
//! every n-gram, then each n-gram is hashed and its row added, one at a time.
//! Here a batch of n-grams is built from the bytes first, then hashed in one
//! loop (eight at a time with AVX2) and its rows added (two 8-lane adds a
//! row with AVX2). The n-grams, their order and so every sum are the ones
//! `emit_tokens` and [`crate::add_rows`] give: integer hashes are exact and
//! each lane of the scores adds the same rows in the same order.

use crate::{murmurhash2, BIGRAM_MASK, DIMENSION, NUM_LANGUAGES, SEED, TRIGRAM_MASK};

/// N-grams a batch: a multiple of 3 (a byte gives at most three).
const BATCH: usize = 255;

/// The summed rows of an ASCII text's n-grams, and how many there are.
pub(crate) fn scores(bytes: &[u8]) -> ([f32; NUM_LANGUAGES], u32) {
    let mut scores = [0f32; NUM_LANGUAGES];
    let mut grams = [0u32; BATCH];
    let mut buckets = [0u16; BATCH];
    let mut prev = ' ' as u32;
    let mut pos = 0;
    let mut total = 0u32;
    while pos < bytes.len() {
        let mut n = 0;
        // `emit_tokens`'s state machine, unrolled: the text's first byte
        // gives a bigram, its second a bigram and a trigram, every later one
        // a bigram, a trigram and a 4-gram; a separator starts a new word.
        while pos < bytes.len() && n + 3 <= BATCH {
            let b = bytes[pos];
            let g = prev << 8 | b.to_ascii_lowercase() as u32;
            prev = if b.is_ascii_alphanumeric() {
                g
            } else {
                ' ' as u32
            };
            grams[n] = g & BIGRAM_MASK;
            n += 1;
            if pos >= 1 {
                grams[n] = g & TRIGRAM_MASK;
                n += 1;
            }
            if pos >= 2 {
                grams[n] = g;
                n += 1;
            }
            pos += 1;
        }
        add_grams(&grams[..n], &mut buckets, &mut scores);
        total = total.saturating_add(n as u32);
    }
    (scores, total)
}

#[inline(always)]
fn bucket(gram: u32) -> u16 {
    (murmurhash2(gram, SEED) % DIMENSION as u32) as u16
}

/// Hashes `grams` and adds their rows to `scores`, in order.
fn add_grams(grams: &[u32], buckets: &mut [u16; BATCH], scores: &mut [f32; NUM_LANGUAGES]) {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2, checked just above.
        unsafe { avx2::add_grams(grams, buckets, scores) };
        return;
    }
    portable_add_grams(grams, buckets, scores);
}

fn portable_add_grams(
    grams: &[u32],
    buckets: &mut [u16; BATCH],
    scores: &mut [f32; NUM_LANGUAGES],
) {
    for (b, &g) in buckets.iter_mut().zip(grams) {
        *b = bucket(g);
    }
    crate::add_rows(scores, &buckets[..grams.len()]);
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{bucket, BATCH};
    use crate::{DIMENSION, NUM_LANGUAGES, ROWS};
    use core::arch::x86_64::{_mm256_add_ps, _mm256_load_ps, _mm256_loadu_ps, _mm256_storeu_ps};

    /// [`super::portable_add_grams`] compiled for AVX2: the hash loop
    /// vectorises (`vpmulld`), and a row is two 8-lane adds.
    ///
    /// # Safety
    /// The CPU must support AVX2.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn add_grams(
        grams: &[u32],
        buckets: &mut [u16; BATCH],
        scores: &mut [f32; NUM_LANGUAGES],
    ) {
        for (b, &g) in buckets.iter_mut().zip(grams) {
            *b = bucket(g);
        }
        let p = scores.as_mut_ptr();
        // SAFETY: `scores` holds 16 floats (two unaligned 8-lane loads and
        // stores); each row is 64 bytes at a 64-byte-aligned address
        // (`Rows` is `align(64)`), so the aligned loads at offsets 0 and 32
        // stay inside it; AVX2 (and so AVX) is enabled for this function.
        unsafe {
            let (mut lo, mut hi) = (_mm256_loadu_ps(p), _mm256_loadu_ps(p.add(8)));
            for &b in &buckets[..grams.len()] {
                let row = ROWS.0[b as usize % DIMENSION].as_ptr();
                lo = _mm256_add_ps(lo, _mm256_load_ps(row));
                hi = _mm256_add_ps(hi, _mm256_load_ps(row.add(8)));
            }
            _mm256_storeu_ps(p, lo);
            _mm256_storeu_ps(p.add(8), hi);
        }
    }
}

#[cfg(test)]
mod tests {
    /// A deterministic spread of ASCII texts: every length up to 600
    /// (batches are crossed), letters, digits, separators, capitals and
    /// control bytes.
    fn texts() -> impl Iterator<Item = String> {
        let alphabet = b"aAbzZ09 .,'\t\n-_#@!?eEtToO";
        let mut seed = 0x2545_f491_u32;
        (0..600).map(move |len| {
            (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 17;
                    seed ^= seed << 5;
                    alphabet[seed as usize % alphabet.len()] as char
                })
                .collect()
        })
    }

    #[test]
    fn ascii_path_sums_what_emit_tokens_gives() {
        for text in texts() {
            let (fast, n_fast) = super::scores(text.as_bytes());
            let (slow, n_slow) = crate::scores(&text);
            assert_eq!(n_fast, n_slow, "{text:?}");
            assert_eq!(fast.map(f32::to_bits), slow.map(f32::to_bits), "{text:?}");
        }
    }

    #[test]
    fn portable_and_avx2_batches_sum_alike() {
        let mut checked = 0;
        for text in texts() {
            let grams: Vec<u32> = text
                .bytes()
                .map(|b| b as u32 * 0x0101_0101)
                .take(super::BATCH)
                .collect();
            let mut buckets = [0u16; super::BATCH];
            let mut portable = [0.5f32; crate::NUM_LANGUAGES];
            super::portable_add_grams(&grams, &mut buckets, &mut portable);
            let mut dispatched = [0.5f32; crate::NUM_LANGUAGES];
            super::add_grams(&grams, &mut buckets, &mut dispatched);
            assert_eq!(portable.map(f32::to_bits), dispatched.map(f32::to_bits));
            checked += 1;
        }
        assert_eq!(checked, 600);
    }
}
