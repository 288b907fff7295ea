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

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0100_0000_01b3;

/// The hash of each word of `token` (runs of word characters), pushed to
/// `out`: FNV-1a over its bytes, then a finalising mix so that nearby words
/// spread over all 64 bits (SimHash reads every bit). ASCII is classified
/// by byte; only other characters are decoded.
fn words_of(token: &str, out: &mut Vec<u64>) {
    let bytes = token.as_bytes();
    let (mut h, mut open, mut i) = (FNV_OFFSET, false, 0);
    while i < bytes.len() {
        let b = bytes[i];
        let (word, len) = if b < 0x80 {
            (b.is_ascii_alphanumeric() || b == b'_', 1)
        } else {
            let c = token[i..].chars().next().expect("at a char boundary");
            (is_word_char(c), c.len_utf8())
        };
        if word {
            for &x in &bytes[i..i + len] {
                h = (h ^ u64::from(x)).wrapping_mul(FNV_PRIME);
            }
            open = true;
        } else if open {
            out.push(mix(h));
            (h, open) = (FNV_OFFSET, false);
        }
        i += len;
    }
    if open {
        out.push(mix(h));
    }
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
/// when it has fewer than `min_words` words. One pass over the text; each
/// word and shingle votes as often as it occurs.
pub(crate) fn simhash(norm: &str, min_words: usize, s: &mut Scratch) -> Option<u64> {
    s.words.clear();
    // Handles and links are left out: a campaign varies them (`@acme If
    // Acme doesn't…`), and on a short post one extra word moves many bits.
    for token in norm.split_whitespace() {
        if token.starts_with('@') || token.starts_with("http") {
            continue;
        }
        words_of(token, &mut s.words);
    }
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
    // Bit `8 * lane + k` of each feature is counted in byte `lane` of
    // `packed[k]`: eight additions a feature instead of 64 (flushed before
    // a byte can overflow). A bit is set when more than half the features
    // have it.
    let mut ones = [0u32; 64];
    for chunk in s.shingles.chunks(255) {
        let mut packed = [0u64; 8];
        for &h in chunk {
            for (k, p) in packed.iter_mut().enumerate() {
                *p += (h >> k) & 0x0101_0101_0101_0101;
            }
        }
        for (k, p) in packed.iter().enumerate() {
            for lane in 0..8 {
                ones[8 * lane + k] += ((p >> (8 * lane)) & 0xff) as u32;
            }
        }
    }
    let n = s.shingles.len() as u32;
    Some(
        ones.iter()
            .enumerate()
            .filter(|(_, &c)| 2 * c > n)
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
        for other in [
            "Big thanks to @acme for the quick refund, excellent service as always",
            "Traffic on the bridge is awful again this morning, forty minutes late",
            "Acme announced a new office in Berlin today with two hundred jobs",
        ] {
            let d = distance(fp(LEAK), fp(other));
            assert!(d > 12, "{other:?} is only {d} bits from the leak post");
        }
    }

    /// How far one changed word moves the fingerprint, by post length, and
    /// how close unrelated posts come (2,000 random posts of a 2,000-word
    /// vocabulary per length; the figures are in benches/RESULTS.md).
    #[test]
    fn issue_16_one_word_edits_and_unrelated_posts_by_length() {
        let k = crate::NoiseConfig::default().max_distance;
        let vocab: Vec<String> = (0..2000)
            .map(|i| format!("w{}", mix(i) % 100_000))
            .collect();
        let mut seed = 7u64;
        let mut next = |n: usize| {
            seed = mix(seed.wrapping_add(1));
            (seed % n as u64) as usize
        };
        let f = |w: &[&str]| simhash(&w.join(" "), 1, &mut Scratch::default()).unwrap();
        let mut caught = Vec::new();
        for len in [12usize, 20, 30, 60] {
            let (mut within, mut nearest_other) = (0, 64);
            for _ in 0..2000 {
                let words: Vec<&str> = (0..len).map(|_| vocab[next(2000)].as_str()).collect();
                let mut edited = words.clone();
                edited[next(len)] = vocab[next(2000)].as_str();
                let other: Vec<&str> = (0..len).map(|_| vocab[next(2000)].as_str()).collect();
                within += usize::from(distance(f(&words), f(&edited)) <= k);
                nearest_other = nearest_other.min(distance(f(&words), f(&other)));
            }
            caught.push(within * 100 / 2000);
            assert!(
                nearest_other > 2 * k,
                "len {len}: an unrelated post {nearest_other} bits away"
            );
        }
        eprintln!("one-word edits within {k} bits at 12/20/30/60 words: {caught:?} %");
        assert!(caught.windows(2).all(|w| w[0] <= w[1]), "{caught:?}");
        assert!(caught[3] >= 70 && caught[2] >= 35, "{caught:?}");
    }

    /// Words split as `is_word_char` says, in every script; the packed
    /// counting gives the plain majority vote, past the 255-feature flush.
    #[test]
    fn issue_16_packed_counts_equal_the_plain_vote() {
        let mut words = Vec::new();
        words_of("café,naïve—日本語_x  x", &mut words);
        let each = |w: &str| {
            let mut v = Vec::new();
            words_of(w, &mut v);
            v
        };
        assert_eq!(words.len(), 4, "café | naïve | 日本語_x | x");
        assert_eq!(words[0], each("café")[0]);
        assert_ne!(words[0], each("cafe")[0]);
        let text: String = (0..400).map(|i| format!("w{} ", i % 333)).collect();
        let mut s = Scratch::default();
        let fast = simhash(&text, 1, &mut s).unwrap();
        let mut votes = [0i32; 64];
        for &h in &s.shingles {
            for (bit, v) in votes.iter_mut().enumerate() {
                *v += if h >> bit & 1 == 1 { 1 } else { -1 };
            }
        }
        let plain = (0..64)
            .filter(|&b| votes[b] > 0)
            .fold(0u64, |a, b| a | 1 << b);
        assert!(s.shingles.len() > 255);
        assert_eq!(fast, plain);
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
