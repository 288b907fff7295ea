//! The per-stage post counters every stage shares:
//! `earshot_posts_total{stage, source, outcome}` and
//! `earshot_dead_letters_total{stage, reason}`.
//!
//! Label values come from fixed sets so a post can never create a new time
//! series (a source named by a webhook's caller is `other`), and the counter
//! handles are looked up once per stage, not per post.

use metrics::Counter;

/// The sources a label may name; any other is counted as `other`.
pub const SOURCES: [&str; 9] = [
    "rss", "hn", "reddit", "mastodon", "bluesky", "webhook", "file", "x", "youtube",
];

/// Number of source label values: [`SOURCES`] and `other`.
pub const SOURCE_LABELS: usize = SOURCES.len() + 1;

/// Index of `source`'s label value: its place in [`SOURCES`], or the last for `other`.
pub fn source_index(source: &str) -> usize {
    SOURCES
        .iter()
        .position(|s| *s == source)
        .unwrap_or(SOURCES.len())
}

/// The label value of the source at `index` (see [`source_index`]).
pub fn source_label(index: usize) -> &'static str {
    SOURCES.get(index).copied().unwrap_or("other")
}

/// The source of a post id (`source:native_id`, the records' key), for
/// stages that count posts before or without decoding them.
pub fn source_of_key(key: Option<&str>) -> &str {
    key.and_then(|k| k.split_once(':')).map_or("", |(s, _)| s)
}

/// `earshot_posts_total{stage, source, outcome}` handles for one stage and
/// outcome (`in`, `out` or `dead_letter`), one per source label.
#[derive(Clone)]
pub struct PostCounters {
    by_source: Vec<Counter>,
}

impl PostCounters {
    /// Registers the handles with the installed recorder (no-ops without one).
    pub fn new(stage: &'static str, outcome: &'static str) -> PostCounters {
        PostCounters {
            by_source: (0..SOURCE_LABELS)
                .map(|i| {
                    metrics::counter!(
                        "earshot_posts_total",
                        "stage" => stage,
                        "source" => source_label(i),
                        "outcome" => outcome
                    )
                })
                .collect(),
        }
    }

    /// Counts one post of `source`.
    pub fn count(&self, source: &str) {
        self.by_source[source_index(source)].increment(1);
    }

    /// Adds a batch's tally.
    pub fn add(&self, tally: &SourceTally) {
        for (counter, n) in self.by_source.iter().zip(tally.0) {
            if n > 0 {
                counter.increment(n);
            }
        }
    }
}

impl std::fmt::Debug for PostCounters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PostCounters")
    }
}

/// Posts of one batch counted by source label, to update the counters once per batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SourceTally(pub [u64; SOURCE_LABELS]);

impl SourceTally {
    /// Counts one post of `source`.
    pub fn count(&mut self, source: &str) {
        self.0[source_index(source)] += 1;
    }
}

/// Counts one dead letter: `earshot_dead_letters_total{stage, reason}`, where
/// `reason` is one of a stage's fixed reasons (never the error text).
pub fn dead_letter(stage: &'static str, reason: &'static str) {
    dead_letters(stage, reason, 1);
}

/// Counts `n` dead letters (see [`dead_letter`]).
pub fn dead_letters(stage: &'static str, reason: &'static str, n: u64) {
    metrics::counter!("earshot_dead_letters_total", "stage" => stage, "reason" => reason)
        .increment(n);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_sources_share_one_label() {
        assert_eq!(source_label(source_index("reddit")), "reddit");
        assert_eq!(source_label(source_index("my-crm")), "other");
        assert_eq!(source_label(source_index("")), "other");
        assert_eq!(source_of_key(Some("reddit:t3_abc")), "reddit");
        assert_eq!(source_of_key(Some("no-colon")), "");
        assert_eq!(source_of_key(None), "");
        let mut t = SourceTally::default();
        t.count("hn");
        t.count("hn");
        t.count("whatever");
        assert_eq!(t.0[source_index("hn")], 2);
        assert_eq!(t.0[SOURCES.len()], 1);
    }
}
