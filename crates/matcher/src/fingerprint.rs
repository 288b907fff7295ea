//! A post's text fingerprint for near-duplicate detection: a 64-bit SimHash
//! over the set of words and 3-word shingles of the normalised text
//! (handles and links left out).
//!
//! Near-identical texts (a copy-paste campaign, a title repeated above its
//! body, a changed handle or link) differ in a few shingles, so their
//! SimHashes differ in a few bits; unrelated texts differ in about 32 of 64.
//! The match stage compares fingerprints by [`distance`] and finds
//! candidates by the pigeonhole principle: two fingerprints within `k` bits
//! agree exactly on at least one of `k + 1` bands ([`bands`]), so a lookup
//! is a few hash-map probes, never a scan of the window.

use crate::normalize::is_word_char;

/// Words per shingle.
const SHINGLE: usize = 3;

/// FNV-1a over a word's bytes, then a finalising mix so that nearby
/// words spread over all 64 bits (SimHash reads every bit).
fn word_hash(w: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in w.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    mix(h)
}

/// SplitMix64's finaliser.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Reused buffers.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    words: Vec<u64>,
    shingles: Vec<u64>,
}

/// The SimHash of `norm` (already case-folded and normalised), or `None`
/// when it has fewer than `min_words` words. Linear in the text, plus a
/// sort of its shingles (each shingle counts once, so a title repeated in
/// the body does not change the fingerprint).
pub(crate) fn simhash(norm: &str, min_words: usize, s: &mut Scratch) -> Option<u64> {
    s.words.clear();
    // Handles and links are left out: a campaign varies them (`@acme If
    // Acme doesn't…`), and on a short post one extra word moves many bits.
    s.words.extend(
        norm.split_whitespace()
            .filter(|t| !t.starts_with('@') && !t.starts_with("http"))
            .flat_map(|t| t.split(|c: char| !is_word_char(c)))
            .filter(|w| !w.is_empty())
            .map(word_hash),
    );
    if s.words.len() < min_words.max(1) {
        return None;
    }
    s.shingles.clear();
    // Words as well as shingles: on a short post each shingle is a large
    // share of the votes, and the words steady them.
    s.shingles.extend_from_slice(&s.words);
    s.shingles.extend(
        s.words
            .windows(SHINGLE)
            .map(|w| mix(w[0] ^ w[1].rotate_left(21) ^ w[2].rotate_left(42))),
    );
    s.shingles.sort_unstable();
    s.shingles.dedup();
    let mut votes = [0i32; 64];
    for &h in &s.shingles {
        for (bit, v) in votes.iter_mut().enumerate() {
            *v += if h >> bit & 1 == 1 { 1 } else { -1 };
        }
    }
    Some(
        votes
            .iter()
            .enumerate()
            .filter(|(_, &v)| v > 0)
            .fold(0u64, |acc, (bit, _)| acc | 1 << bit),
    )
}

/// Bits in which two fingerprints differ (0 to 64).
pub fn distance(a: u64, b: u64) -> u32 {
    (a ^ b).count_ones()
}

/// The `max_distance + 1` bands of `fp` as `(band, bits)`: two fingerprints
/// within `max_distance` bits share at least one of them exactly.
pub fn bands(fp: u64, max_distance: u32) -> impl Iterator<Item = (u8, u64)> {
    let n = max_distance.min(63) + 1;
    (0..n).map(move |i| {
        let lo = 64 * i / n;
        let hi = 64 * (i + 1) / n;
        let width = hi - lo;
        let mask = if width == 64 {
            u64::MAX
        } else {
            (1u64 << width) - 1
        };
        (i as u8, (fp >> lo) & mask)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::Normalizer;

    fn fp(text: &str) -> u64 {
        let mut norm = crate::normalize::NormText::default();
        Normalizer { fold_accents: true }.normalize_into(text, &mut norm);
        simhash(&norm.text, 6, &mut Scratch::default()).expect("long enough")
    }

    const LEAK: &str = "If Acme doesn't fix this data leak we will talk to our lawyer.";

    #[test]
    fn issue_16_copies_and_small_edits_are_near_unrelated_texts_are_far() {
        assert_eq!(fp(LEAK), fp(LEAK));
        // Case, punctuation, handles and links change nothing.
        assert_eq!(fp(LEAK), fp(&LEAK.to_uppercase().replace('.', "!")));
        assert_eq!(fp(LEAK), fp(&format!("@acme {LEAK} https://x.test/a?b=1")));
        let long = "Acme leaked our customer records again and nobody at support answers; \
                    we are moving every account to another provider before the end of the month \
                    unless someone from Acme calls us back today";
        let edited = long.replace("today", "tomorrow");
        let d = distance(fp(long), fp(&edited));
        let default = crate::NoiseConfig::default().max_distance;
        assert!(d <= default, "one word changed in a long post: {d} bits");
        for other in [
            "Big thanks to @acme for the quick refund, excellent service as always",
            "Traffic on the bridge is awful again this morning, forty minutes late",
            "Acme announced a new office in Berlin today with two hundred jobs",
        ] {
            let d = distance(fp(LEAK), fp(other));
            assert!(d > 12, "{other:?} is only {d} bits from the leak post");
        }
    }

    #[test]
    fn issue_16_short_texts_get_no_fingerprint() {
        let mut s = Scratch::default();
        assert_eq!(simhash("coffee first then code", 6, &mut s), None);
        assert!(simhash("coffee first then code", 4, &mut s).is_some());
        assert_eq!(simhash("", 1, &mut s), None);
    }

    #[test]
    fn issue_16_bands_find_every_pair_within_the_distance() {
        let a = 0x0123_4567_89ab_cdefu64;
        for k in 0..=8u32 {
            let b_all: Vec<_> = bands(a, k).collect();
            assert_eq!(b_all.len() as u32, k + 1);
            // Flip k bits spread over the word: one band still agrees.
            let mut b = a;
            for i in 0..k {
                b ^= 1 << ((i * 61 + 7) % 64);
            }
            assert!(distance(a, b) <= k);
            assert!(bands(a, k).zip(bands(b, k)).any(|(x, y)| x == y), "k={k}");
        }
        assert_eq!(distance(0, u64::MAX), 64);
    }
}
