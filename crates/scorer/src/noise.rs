//! Near-duplicate clusters within a time window (issue 16): each scored
//! post's fingerprint is looked up by band ([`earshot_match::fingerprint::bands`]),
//! so a post costs `max_distance + 1` hash probes of at most [`BUCKET_CAP`]
//! entries each, never a scan of the window. Memory is bounded by
//! `max_entries`; the oldest posts leave first, and a post older than the
//! window (in post time) leaves when a newer one arrives.
//!
//! The state is per process: each `earshot match` clusters the posts it
//! scores (its partitions of the raw topic).

use std::collections::{HashMap, VecDeque};

use earshot_match::fingerprint::{bands, distance};
use earshot_match::NoiseConfig;
use earshot_model::Interaction;

use crate::authors::Authors;

/// Most entries looked at per band: a burst of identical copies fills a
/// bucket, and the newest copies are the ones worth comparing with.
const BUCKET_CAP: usize = 32;

struct Entry {
    fp: u64,
    at: i64,
    cluster: u64,
}

struct Cluster {
    first_id: String,
    size: u32,
    /// Entries of the window in this cluster: at 0 the cluster is forgotten.
    live: u32,
}

/// The window of recent fingerprints and authors.
#[derive(Default)]
pub(crate) struct NoiseTracker {
    entries: VecDeque<Entry>,
    /// Sequence number of `entries[0]`.
    base: u64,
    buckets: HashMap<(u8, u64), VecDeque<u64>>,
    clusters: HashMap<u64, Cluster>,
    /// The `max_distance` the buckets were built with; a reload that changes
    /// it starts a fresh window (band widths differ).
    bands_for: Option<u32>,
    newest: i64,
    authors: Authors,
}

impl NoiseTracker {
    /// Clusters `i` with the window's posts, flags it, caps its priority,
    /// and adds it to the window.
    pub(crate) fn observe(&mut self, i: &mut Interaction, config: &NoiseConfig) {
        if !config.enabled {
            return;
        }
        let at = i
            .post
            .published_at
            .or(i.post.fetched_at)
            .unwrap_or(i.scored_at)
            .timestamp();
        if self.bands_for != Some(config.max_distance) {
            *self = NoiseTracker {
                bands_for: Some(config.max_distance),
                ..Default::default()
            };
        }
        self.newest = self.newest.max(at);
        let window = (config.window_minutes * 60) as i64;
        self.evict(self.newest - window, config.max_entries);

        if let Some(fp) = i.noise.fingerprint {
            let cluster = self.find(fp, config.max_distance);
            let seq = self.base + self.entries.len() as u64;
            let cluster = match cluster {
                Some(c) => c,
                None => {
                    self.clusters.insert(
                        seq,
                        Cluster {
                            first_id: i.post.id.clone(),
                            size: 0,
                            live: 0,
                        },
                    );
                    seq
                }
            };
            let c = self
                .clusters
                .get_mut(&cluster)
                .expect("cluster of a live entry");
            // A redelivered first post is not a copy of itself.
            if c.first_id != i.post.id {
                c.size += 1;
                i.noise.cluster_id = Some(c.first_id.clone());
                i.noise.cluster_size = c.size.max(2);
                i.noise.near_duplicate = i.noise.cluster_size >= config.min_cluster_size;
            } else {
                c.size = c.size.max(1);
            }
            c.live += 1;
            self.entries.push_back(Entry { fp, at, cluster });
            for key in bands(fp, config.max_distance) {
                let b = self.buckets.entry(key).or_default();
                if b.len() == BUCKET_CAP {
                    b.pop_front();
                }
                b.push_back(seq);
            }
        }
        if i.noise.near_duplicate {
            let first = i.noise.cluster_id.as_deref().unwrap_or_default();
            i.priority_reasons.push(format!(
                "near_duplicate: repeats {first} (cluster of {}): priority {} -> 0, counted once with its first post",
                i.noise.cluster_size, i.priority
            ));
            i.priority = 0;
        }
        self.authors.observe(i, at, window, config);
    }

    /// The cluster of a window entry within `k` bits of `fp`, newest first.
    fn find(&self, fp: u64, k: u32) -> Option<u64> {
        for key in bands(fp, k) {
            let Some(bucket) = self.buckets.get(&key) else {
                continue;
            };
            for &seq in bucket.iter().rev() {
                let Some(e) = seq
                    .checked_sub(self.base)
                    .and_then(|ix| self.entries.get(ix as usize))
                else {
                    continue;
                };
                if distance(e.fp, fp) <= k {
                    return Some(e.cluster);
                }
            }
        }
        None
    }

    /// Drops entries older than `before`, and the oldest beyond `max`.
    fn evict(&mut self, before: i64, max: usize) {
        while let Some(e) = self.entries.front() {
            if e.at >= before && self.entries.len() < max {
                break;
            }
            let e = self.entries.pop_front().expect("front exists");
            let seq = self.base;
            self.base += 1;
            for key in bands(e.fp, self.bands_for.unwrap_or_default()) {
                if let Some(b) = self.buckets.get_mut(&key) {
                    b.retain(|&s| s != seq);
                    if b.is_empty() {
                        self.buckets.remove(&key);
                    }
                }
            }
            if let Some(c) = self.clusters.get_mut(&e.cluster) {
                c.live -= 1;
                if c.live == 0 {
                    self.clusters.remove(&e.cluster);
                }
            }
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> (usize, usize, usize) {
        (self.entries.len(), self.buckets.len(), self.clusters.len())
    }
}
