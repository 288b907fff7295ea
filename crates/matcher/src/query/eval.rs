//! Evaluation of a compiled query against one post's term hits.

use super::{Field, Query};

/// What a query needs to know about a post.
pub(crate) trait Hits {
    /// Spans of a term's hits, as word index ranges `[first, last + 1)`.
    fn word_spans(&self, term: u32, out: &mut Vec<(u32, u32)>);
    /// Whether a term hit at all.
    fn hit(&self, term: u32) -> bool;
    /// Whether a metadata filter holds.
    fn field(&self, field: Field, value: &str) -> bool;
}

/// Whether the query holds for the post.
pub(crate) fn eval(q: &Query, h: &impl Hits) -> bool {
    match q {
        Query::Term(t) => h.hit(t.id),
        Query::Field(f, v) => h.field(*f, v),
        Query::Not(q) => !eval(q, h),
        Query::And(items) => items.iter().all(|q| eval(q, h)),
        Query::Or(items) => items.iter().any(|q| eval(q, h)),
        Query::Near { .. } => {
            let mut out = Vec::new();
            spans(q, h, &mut out);
            !out.is_empty()
        }
    }
}

/// Most word spans kept for one positional node. A NEAR over two terms
/// that each hit at every word of a long post has as many spans as words
/// times the distance, and a chain of NEARs multiplies them; keeping the
/// earliest spans bounds the work per post (a post past this many candidate
/// positions for one node may miss a match further on).
pub(crate) const MAX_SPANS: usize = 4096;

/// Word spans where a positional query (term, OR of terms, NEAR) holds.
/// Recursion follows the tree, whose depth the parser bounds.
fn spans(q: &Query, h: &impl Hits, out: &mut Vec<(u32, u32)>) {
    match q {
        Query::Term(t) => h.word_spans(t.id, out),
        Query::Or(items) => {
            for q in items {
                spans(q, h, out);
            }
            sorted_unique(out);
        }
        Query::Near {
            left,
            right,
            distance,
            ordered,
        } => {
            let mut l = Vec::new();
            spans(left, h, &mut l);
            if l.is_empty() {
                return;
            }
            let mut r = Vec::new();
            spans(right, h, &mut r);
            near_spans(&l, &mut r, *distance, *ordered, out);
        }
        // The parser only lets positional queries under NEAR.
        _ => {}
    }
}

/// Sorts, removes duplicates and keeps at most [`MAX_SPANS`].
fn sorted_unique(spans: &mut Vec<(u32, u32)>) {
    spans.sort_unstable();
    spans.dedup();
    spans.truncate(MAX_SPANS);
}

/// The spans covering each pair `(a, b)` of `l` × `r` that is [`near`].
/// Instead of trying every pair, each `a` looks only at the `b`s whose
/// start (after `a`) or end (before `a`) falls within `distance` words, found
/// by binary search, so the cost follows the number of near pairs.
pub(crate) fn near_spans(
    l: &[(u32, u32)],
    r: &mut [(u32, u32)],
    distance: u32,
    ordered: bool,
    out: &mut Vec<(u32, u32)>,
) {
    // Enough room that deduplication rarely has to drop anything.
    let cap = MAX_SPANS * 4;
    r.sort_unstable_by_key(|b| b.0);
    'after: for &a in l {
        let from = r.partition_point(|b| b.0 < a.1);
        for &b in &r[from..] {
            if b.0 - a.1 > distance {
                break;
            }
            out.push((a.0, b.1.max(a.1)));
            if out.len() >= cap {
                break 'after;
            }
        }
    }
    if !ordered {
        r.sort_unstable_by_key(|b| b.1);
        'before: for &a in l {
            let from = r.partition_point(|b| b.1 < a.0.saturating_sub(distance));
            for &b in &r[from..] {
                if b.1 > a.0 {
                    break;
                }
                out.push((b.0, a.1.max(b.1)));
                if out.len() >= cap {
                    break 'before;
                }
            }
        }
    }
    sorted_unique(out);
}

/// Whether two word spans are at most `distance` words apart (words strictly
/// between them), without overlapping; `ordered` requires `a` first.
///
/// The definition [`near_spans`] is tested against (it finds the same pairs
/// without trying each one).
#[cfg(test)]
pub(crate) fn near(a: (u32, u32), b: (u32, u32), distance: u32, ordered: bool) -> bool {
    if a.1 <= b.0 {
        b.0 - a.1 <= distance
    } else if b.1 <= a.0 && !ordered {
        a.0 - b.1 <= distance
    } else {
        false
    }
}
