//! Storage for the word table: byte strings to [`Word`]s, fixed when the
//! analyzer is built and looked up once per token of every post.
//!
//! Words of up to 16 bytes (nearly all) live in two perfect-hash tables,
//! one for keys of at most 8 bytes and one for 9 to 16, with the key inline
//! in its slot. A key's slot is computed, not searched for: hash the key,
//! read its bucket's pilot, mix the pilot in, and compare the one slot
//! there, with masks rather than a branch on whether the word is known
//! (about half of a post's tokens are not). Against the `FxHashMap` of
//! boxed keys it replaced, that removes the probe loop, the `memcmp` call
//! and the key's separate allocation; a `hashbrown` table with the same
//! inline keys measured as fast, with twice the memory (see
//! `benches/HISTORY.md`). Longer keys (URLs, emoji sequences) go to an
//! ordinary hash map.

use rustc_hash::FxHashMap;

use super::words::Word;

/// Bytes the caller's buffer must have from a token's start for
/// [`WordMap::get_in`] to read the key in place.
pub(super) const PADDING: usize = 16;

/// Bits of `Entry::meta`: the word's flags below bit 24, then whether it
/// has a valence, then the key's length in the top five bits.
const FLAGS: u32 = (1 << 24) - 1;
const HAS_VALENCE: u32 = 1 << 24;
const LEN_SHIFT: u32 = 27;
/// A length no key has: marks a free slot.
const FREE: u32 = 31 << LEN_SHIFT;

/// Byte strings to words.
#[derive(Debug, Clone)]
pub(super) struct WordMap {
    short: Perfect<1>,
    medium: Perfect<2>,
    long: FxHashMap<Box<[u8]>, Word>,
}

impl Default for WordMap {
    fn default() -> Self {
        WordMap::new(Vec::new())
    }
}

impl WordMap {
    /// Builds the map; each word's `id` is replaced by its own number, not
    /// 0 and the same from build to build for the same words.
    ///
    /// # Panics
    /// If two entries have the same key, or a word has flags above bit 23.
    pub fn new(mut words: Vec<(Box<[u8]>, Word)>) -> WordMap {
        words.sort_by(|a, b| a.0.cmp(&b.0));
        let mut by_size: [Vec<(&[u8], Word)>; 3] = Default::default();
        for (key, word) in &words {
            assert!(word.flags & !FLAGS == 0, "flags of {key:?} do not fit");
            let size = match key.len() {
                0..=8 => 0,
                9..=16 => 1,
                _ => 2,
            };
            by_size[size].push((key, *word));
        }
        let short = Perfect::build(&by_size[0], 1);
        let medium = Perfect::build(&by_size[1], 1 + short.entries.len() as u32);
        let first_long = 1 + (short.entries.len() + medium.entries.len()) as u32;
        let mut long = FxHashMap::default();
        for (n, (key, word)) in by_size[2].iter().enumerate() {
            let word = Word {
                id: first_long + n as u32,
                ..*word
            };
            assert!(
                long.insert(Box::from(*key), word).is_none(),
                "{key:?} twice"
            );
        }
        WordMap {
            short,
            medium,
            long,
        }
    }

    /// What the map holds for `key`, or the default word.
    pub fn get(&self, key: &[u8]) -> Word {
        if key.len() > PADDING {
            return self.long.get(key).copied().unwrap_or_default();
        }
        let mut buf = [0u8; 2 * PADDING];
        buf[..key.len()].copy_from_slice(key);
        self.get_in(&buf, 0, key.len())
    }

    /// [`WordMap::get`] of a key of `len` bytes (at most 16) given as one
    /// little-endian integer, zero past `len`: what the tokenizer already
    /// holds in a register for a short token.
    #[inline(always)]
    pub fn get_bits(&self, key: u128, len: usize) -> Word {
        debug_assert!(len == PADDING || len < PADDING && key >> (8 * len) == 0);
        if len <= 8 {
            self.short.find([key as u64], len)
        } else {
            self.medium.find([key as u64, (key >> 64) as u64], len)
        }
    }

    /// [`WordMap::get`] of `bytes[a..b]`, read in place when `bytes` has
    /// [`PADDING`] bytes from `a` (callers pad their buffers so that it
    /// does).
    #[inline(always)]
    pub fn get_in(&self, bytes: &[u8], a: usize, b: usize) -> Word {
        let len = b - a;
        if a + PADDING > bytes.len() || len > PADDING {
            return self.get(&bytes[a..b]);
        }
        if len <= 8 {
            self.short.find(load(bytes, a, len), len)
        } else {
            self.medium.find(load(bytes, a, len), len)
        }
    }
}

/// The key of `bytes[at..at + len]` as `W` little-endian words, zero past
/// `len`: reads `8 * W` bytes from `at`, which must be in bounds.
#[inline]
fn load<const W: usize>(bytes: &[u8], at: usize, len: usize) -> [u64; W] {
    let mut key = [0u64; W];
    for (j, k) in key.iter_mut().enumerate() {
        let mut w = [0u8; 8];
        w.copy_from_slice(&bytes[at + 8 * j..at + 8 * j + 8]);
        let n = len.saturating_sub(8 * j).min(8);
        // `n` bytes of this word belong to the key; shifts stay below 64.
        let mask = if n == 8 {
            u64::MAX
        } else {
            !(u64::MAX << (8 * n))
        };
        *k = u64::from_le_bytes(w) & mask;
    }
    key
}

/// A slot: the key, then the word without its id (which is the slot's
/// number).
#[derive(Debug, Clone, Copy)]
struct Entry<const W: usize> {
    key: [u64; W],
    valence: f32,
    meta: u32,
}

/// A perfect-hash table of keys of `W` words (hash and displace, after
/// PTHash): keys hash to buckets of about three; each bucket has a pilot,
/// chosen when building, that sends all of its keys to free slots.
#[derive(Debug, Clone)]
struct Perfect<const W: usize> {
    seed: u64,
    pilots: Box<[u16]>,
    /// A power of two long, at most 80% full.
    entries: Box<[Entry<W>]>,
    first_id: u32,
    /// One bit per hash (a one-hash Bloom filter, about six bits a key):
    /// clear means the key is absent. Half of a post's words are in no
    /// lexicon; their lookups read slot 0, which stays in cache, instead
    /// of a random slot that seldom is.
    filter: Box<[u64]>,
}

impl<const W: usize> Perfect<W> {
    fn build(keys: &[(&[u8], Word)], first_id: u32) -> Perfect<W> {
        let slots = (keys.len() * 5 / 4 + 1).next_power_of_two();
        let buckets = (keys.len() / 3).max(1);
        let loaded: Vec<([u64; W], usize)> = keys
            .iter()
            .map(|(k, _)| {
                let mut buf = [0u8; 2 * PADDING];
                buf[..k.len()].copy_from_slice(k);
                (load::<W>(&buf, 0, k.len()), k.len())
            })
            .collect();
        // Seeds are tried in order, so a build is reproducible; nearly
        // always the first one works.
        for seed in 0u64.. {
            let seed = seed.wrapping_mul(0xA076_1D64_78BD_642F);
            if let Some(pilots) = place(&loaded, seed, buckets, slots) {
                let filter_bits = (keys.len() * 6).next_power_of_two().max(64);
                let mut table = Perfect {
                    seed,
                    pilots,
                    filter: vec![0; filter_bits / 64].into(),
                    entries: vec![
                        Entry {
                            key: [0; W],
                            valence: 0.0,
                            meta: FREE
                        };
                        slots
                    ]
                    .into(),
                    first_id,
                };
                for ((key, len), (_, word)) in loaded.iter().zip(keys) {
                    let h = hash(seed, key, *len);
                    let bit = table.filter_bit(h);
                    table.filter[bit / 64] |= 1 << (bit % 64);
                    let slot = table.slot(h);
                    let has_valence = if word.valence.is_some() {
                        HAS_VALENCE
                    } else {
                        0
                    };
                    table.entries[slot] = Entry {
                        key: *key,
                        valence: word.valence.unwrap_or(0.0),
                        meta: word.flags | has_valence | (*len as u32) << LEN_SHIFT,
                    };
                }
                return table;
            }
        }
        unreachable!("some seed places every key")
    }

    /// The filter bit of a hash: bits the bucket and slot use little.
    #[inline]
    fn filter_bit(&self, h: u64) -> usize {
        (h >> 16) as usize & (self.filter.len() * 64 - 1)
    }

    #[inline]
    fn slot(&self, h: u64) -> usize {
        let pilot = self.pilots[bucket(h, self.pilots.len())];
        slot_of(h, pilot, self.entries.len())
    }

    /// The word at the key's slot if the key is there, else the default
    /// word; computed with masks rather than branches.
    #[inline(always)]
    fn find(&self, key: [u64; W], len: usize) -> Word {
        let h = hash(self.seed, &key, len);
        let bit = self.filter_bit(h);
        let maybe = (self.filter[bit / 64] >> (bit % 64)) & 1;
        // Slot 0 when the filter rules the key out: its compare fails.
        let slot = self.slot(h) & (maybe as usize).wrapping_neg();
        let e = &self.entries[slot];
        let mut diff = u64::from(e.meta >> LEN_SHIFT) ^ len as u64;
        for (stored, k) in e.key.iter().zip(&key) {
            diff |= stored ^ k;
        }
        let hit = diff == 0;
        let keep = u32::from(hit).wrapping_neg();
        Word {
            // Picked from an array by index: written as a branch, the
            // compiler may keep it one, and known or not is a coin toss.
            valence: [None, Some(e.valence)][usize::from(hit & (e.meta & HAS_VALENCE != 0))],
            flags: e.meta & FLAGS & keep,
            id: (self.first_id + slot as u32) & keep,
        }
    }
}

/// Finds a pilot for each bucket that sends its keys to free slots, the
/// biggest buckets first; `None` if some bucket has none.
fn place<const W: usize>(
    keys: &[([u64; W], usize)],
    seed: u64,
    buckets: usize,
    slots: usize,
) -> Option<Box<[u16]>> {
    let hashes: Vec<u64> = keys.iter().map(|(k, len)| hash(seed, k, *len)).collect();
    let mut members: Vec<Vec<u64>> = vec![Vec::new(); buckets];
    for &h in &hashes {
        members[bucket(h, buckets)].push(h);
    }
    let mut order: Vec<usize> = (0..buckets).collect();
    order.sort_by_key(|&b| std::cmp::Reverse(members[b].len()));
    let mut taken = vec![false; slots];
    let mut pilots = vec![0u16; buckets];
    let mut chosen = Vec::new();
    for b in order {
        if members[b].is_empty() {
            break;
        }
        let pilot = (0..=u16::MAX).find(|&p| {
            chosen.clear();
            members[b].iter().all(|&h| {
                let s = slot_of(h, p, slots);
                let free = !taken[s] && !chosen.contains(&s);
                chosen.push(s);
                free
            })
        })?;
        for &s in &chosen {
            taken[s] = true;
        }
        pilots[b] = pilot;
    }
    Some(pilots.into())
}

/// Mixes the key's words and length; the bucket comes from the high half
/// and the slot from the low half, which folds in the high one.
#[inline]
fn hash<const W: usize>(seed: u64, key: &[u64; W], len: usize) -> u64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut h = seed ^ (len as u64).wrapping_mul(0xD6E8_FEB8_6659_FD93);
    for &w in key {
        h = (h ^ w).wrapping_mul(K);
    }
    h ^ (h >> 32)
}

#[inline]
fn bucket(h: u64, buckets: usize) -> usize {
    (((h >> 32) * buckets as u64) >> 32) as usize
}

/// The pilot is mixed in before a multiplication, not after: with a plain
/// XOR two keys of a bucket whose hashes share their low bits would share
/// a slot whatever the pilot.
#[inline]
fn slot_of(h: u64, pilot: u16, slots: usize) -> usize {
    let mix = u64::from(pilot).wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    (((h ^ mix).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) as usize) & (slots - 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn word(n: u32) -> Word {
        Word {
            valence: n.is_multiple_of(2).then_some(n as f32 / 10.0),
            flags: n % 7,
            id: 0,
        }
    }

    #[test]
    fn keys_of_every_size_class_and_their_edges() {
        let keys: [&[u8]; 9] = [
            b"",
            b"a",
            b"a\0",
            b"12345678",
            b"123456789",
            b"1234567890123456",
            b"12345678901234567",
            b":-(",
            "\u{1F600}".as_bytes(),
        ];
        let map = WordMap::new(
            keys.iter()
                .enumerate()
                .map(|(n, k)| (Box::from(*k), word(n as u32)))
                .collect(),
        );
        let mut ids = Vec::new();
        for (n, k) in keys.iter().enumerate() {
            let got = map.get(k);
            assert_eq!(
                (got.valence, got.flags),
                (word(n as u32).valence, word(n as u32).flags)
            );
            assert_ne!(got.id, 0, "{k:?}");
            ids.push(got.id);
        }
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), keys.len(), "ids are distinct");
        for unknown in [&b"b"[..], b"1234567", b"123456789012345", b"a\0\0", b":-"] {
            assert_eq!(map.get(unknown), Word::default(), "{unknown:?}");
        }
        assert_eq!(WordMap::default().get(b"a"), Word::default());
    }

    proptest! {
        /// `get` answers what a standard map answers, and `get_in` on a
        /// padded or unpadded buffer what `get` answers.
        #[test]
        fn agrees_with_a_standard_map(
            words in proptest::collection::hash_set("[a-c:()\\-]{0,20}", 1..300),
            probes in proptest::collection::vec("[a-c:()\\-]{0,20}", 1..30),
        ) {
            let words: Vec<String> = words.into_iter().collect();
            let reference: std::collections::HashMap<&[u8], Word> = words
                .iter()
                .enumerate()
                .map(|(n, w)| (w.as_bytes(), word(n as u32)))
                .collect();
            let map = WordMap::new(
                reference.iter().map(|(k, w)| (Box::from(*k), *w)).collect(),
            );
            let mut buf = probes.join(" ").into_bytes();
            let text_len = buf.len();
            buf.extend_from_slice(&[b'x'; PADDING]);
            let mut at = 0;
            for p in probes.iter().chain(&words) {
                let got = map.get(p.as_bytes());
                let want = reference.get(p.as_bytes()).copied().unwrap_or_default();
                prop_assert_eq!((got.valence, got.flags), (want.valence, want.flags));
                prop_assert_eq!(got.id == 0, !reference.contains_key(p.as_bytes()));
            }
            for p in &probes {
                let end = at + p.len();
                prop_assert_eq!(map.get_in(&buf, at, end), map.get(p.as_bytes()));
                prop_assert_eq!(map.get_in(&buf[..text_len], at, end), map.get(p.as_bytes()));
                at = end + 1;
            }
        }
    }
}
