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

/// Word spans where a positional query (term, OR of terms, NEAR) holds.
fn spans(q: &Query, h: &impl Hits, out: &mut Vec<(u32, u32)>) {
    match q {
        Query::Term(t) => h.word_spans(t.id, out),
        Query::Or(items) => {
            for q in items {
                spans(q, h, out);
            }
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
            for &a in &l {
                for &b in &r {
                    if near(a, b, *distance, *ordered) {
                        out.push((a.0.min(b.0), a.1.max(b.1)));
                    }
                }
            }
        }
        // The parser only lets positional queries under NEAR.
        _ => {}
    }
}

/// Whether two word spans are at most `distance` words apart (words strictly
/// between them), without overlapping; `ordered` requires `a` first.
pub(crate) fn near(a: (u32, u32), b: (u32, u32), distance: u32, ordered: bool) -> bool {
    if a.1 <= b.0 {
        b.0 - a.1 <= distance
    } else if b.1 <= a.0 && !ordered {
        a.0 - b.1 <= distance
    } else {
        false
    }
}
