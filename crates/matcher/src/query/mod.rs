//! Boolean queries in the syntax PR teams know from Brandwatch and Meltwater.
//!
//! ```text
//! acme AND (refund* OR "money back") NOT site:acme.com
//! "acme cloud" NEAR/3 outage~
//! ```
//!
//! Operators are upper case: `AND`, `OR`, `NOT` (binary `a NOT b` means
//! `a AND NOT b`), `NEAR/n` (both terms within `n` words of each other, any
//! order) and `NEAR/nf` (the left one first). Precedence is
//! `NEAR` > `NOT` > `AND` > `OR`; parentheses group. Words written next to
//! each other without an operator are an error: quote them to make a phrase.
//!
//! Queries come from files an operator edits and reloads into a running
//! daemon, so their size is bounded: at most [`MAX_QUERY_BYTES`] bytes,
//! [`MAX_QUERY_TERMS`] terms and [`MAX_QUERY_DEPTH`] levels of nesting.

mod eval;
mod lexer;
mod parser;

use std::fmt;

pub(crate) use eval::{eval, Hits};
pub use lexer::MIN_WILDCARD_PREFIX;

/// Deepest nesting a query may have: parentheses, prefix `NOT`s and
/// `NEAR/n` links each count one level. Real queries nest a handful of
/// levels; the bound keeps parsing and every walk of the tree (evaluation,
/// display, drop) far within a 2 MiB thread stack, so a hostile watchlist
/// is refused with an error instead of overflowing the stack.
pub const MAX_QUERY_DEPTH: usize = 100;

/// Longest query text, in bytes. Checked before anything else, so parsing
/// work is bounded whatever the input.
pub const MAX_QUERY_BYTES: usize = 64 * 1024;

/// Most terms (words, phrases and field filters) one query may have.
pub const MAX_QUERY_TERMS: usize = 2_000;

/// A parsed query.
#[derive(Debug, Clone, PartialEq)]
pub enum Query {
    /// A word, wildcard, stemmed word or quoted phrase.
    Term(Term),
    /// Two operands within `distance` words of each other.
    Near {
        /// Left operand.
        left: Box<Query>,
        /// Right operand.
        right: Box<Query>,
        /// Maximum number of words between the operands.
        distance: u32,
        /// Whether `left` must come before `right` (`NEAR/nf`).
        ordered: bool,
    },
    /// A filter on the post's metadata.
    Field(Field, String),
    /// Negation.
    Not(Box<Query>),
    /// All must hold.
    And(Vec<Query>),
    /// At least one must hold.
    Or(Vec<Query>),
}

/// A leaf term of a query.
#[derive(Debug, Clone, PartialEq)]
pub struct Term {
    /// The text as written (without `*`, `~` or quotes).
    pub text: String,
    /// Written as a quoted phrase.
    pub phrase: bool,
    /// Suffix wildcard (`refund*`).
    pub wildcard: bool,
    /// Stemmed match in the post's language (`refund~`).
    pub stem: bool,
    /// Index into the compiled term table (0 until compiled).
    pub(crate) id: u32,
}

impl Term {
    pub(crate) fn new(text: String, phrase: bool, wildcard: bool, stem: bool) -> Term {
        Term {
            text,
            phrase,
            wildcard,
            stem,
            id: 0,
        }
    }
}

/// Metadata a query can filter on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    /// The author's handle (without `@`), case-insensitive.
    Author,
    /// The post URL's host or one of its parent domains.
    Site,
    /// The post's language (ISO 639-1), given or detected.
    Lang,
    /// The post's source kind (`reddit`, `hn`, ...).
    Source,
}

impl Field {
    /// Every field.
    pub const ALL: [Field; 4] = [Field::Author, Field::Site, Field::Lang, Field::Source];

    /// The name used in queries.
    pub fn as_str(self) -> &'static str {
        match self {
            Field::Author => "author",
            Field::Site => "site",
            Field::Lang => "lang",
            Field::Source => "source",
        }
    }
}

/// A query that does not parse, with the position of the problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryError {
    /// Byte offset in the query text.
    pub offset: usize,
    /// 1-based column (in characters) in the query text.
    pub column: usize,
    /// What was wrong and what was expected.
    pub message: String,
}

impl QueryError {
    pub(crate) fn at(src: &str, offset: usize, message: impl Into<String>) -> QueryError {
        let offset = offset.min(src.len());
        let column = src[..offset].chars().count() + 1;
        QueryError {
            offset,
            column,
            message: message.into(),
        }
    }
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "column {}: {}", self.column, self.message)
    }
}

impl std::error::Error for QueryError {}

impl Query {
    /// Parses a query, rejecting one that a post could match by what it
    /// lacks alone: every `OR` branch needs a term or a field filter
    /// (`site:acme.com OR acme` is fine, `acme OR NOT apple` is not).
    pub fn parse(src: &str) -> Result<Query, QueryError> {
        let q = parser::parse(src)?;
        if !q.anchored() {
            return Err(QueryError::at(
                src,
                0,
                "query can match posts by what they lack alone (a branch of only NOT): \
                 expected a term or a field filter in every OR branch, as in `acme NOT apple` \
                 or `site:acme.com OR acme`",
            ));
        }
        Ok(q)
    }

    /// Whether every match needs something present in the post: a term, or
    /// a field filter that holds.
    pub fn anchored(&self) -> bool {
        match self {
            Query::Term(_) | Query::Near { .. } | Query::Field(..) => true,
            Query::Not(_) => false,
            Query::And(items) => items.iter().any(Query::anchored),
            Query::Or(items) => items.iter().all(Query::anchored),
        }
    }

    /// Whether every match of the query needs at least one positive term hit.
    /// This is what lets the matcher evaluate only queries whose terms hit;
    /// the others (a field filter standing alone in a branch) are evaluated
    /// for every post.
    pub fn requires_term(&self) -> bool {
        match self {
            Query::Term(_) | Query::Near { .. } => true,
            Query::Field(..) | Query::Not(_) => false,
            Query::And(items) => items.iter().any(Query::requires_term),
            Query::Or(items) => items.iter().all(Query::requires_term),
        }
    }

    /// The cheapest set of compiled term ids of which at least one must hit
    /// for the query to hold, by the summed `cost` of its terms; `None` when
    /// the query can hold without any term (see [`Query::requires_term`]).
    ///
    /// The matcher evaluates a query only when one of these terms hit, so a
    /// common word shared by many queries (`refund*`) does not make every
    /// one of them a candidate: `acme AND refund*` waits for `acme`.
    pub(crate) fn trigger(&self, cost: &impl Fn(u32) -> u64) -> Option<Vec<u32>> {
        let total = |set: &Vec<u32>| (set.iter().map(|&t| cost(t)).sum::<u64>(), set.len());
        match self {
            Query::Term(t) => Some(vec![t.id]),
            Query::Field(..) | Query::Not(_) => None,
            // Both sides of NEAR must hit: either side's set is necessary.
            Query::Near { left, right, .. } => [left.trigger(cost), right.trigger(cost)]
                .into_iter()
                .flatten()
                .min_by_key(total),
            Query::And(items) => items
                .iter()
                .filter_map(|q| q.trigger(cost))
                .min_by_key(total),
            Query::Or(items) => {
                let mut set = Vec::new();
                for q in items {
                    set.extend(q.trigger(cost)?);
                }
                set.sort_unstable();
                set.dedup();
                Some(set)
            }
        }
    }

    /// Visits every term with whether it occurs under a negation.
    pub(crate) fn terms_mut(&mut self, negated: bool, f: &mut impl FnMut(&mut Term, bool)) {
        match self {
            Query::Term(t) => f(t, negated),
            Query::Near { left, right, .. } => {
                left.terms_mut(negated, f);
                right.terms_mut(negated, f);
            }
            Query::Field(..) => {}
            Query::Not(q) => q.terms_mut(!negated, f),
            Query::And(items) | Query::Or(items) => {
                for q in items {
                    q.terms_mut(negated, f);
                }
            }
        }
    }
}

impl fmt::Display for Term {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.phrase {
            write!(f, "\"{}\"", self.text)
        } else {
            let suffix = if self.wildcard {
                "*"
            } else if self.stem {
                "~"
            } else {
                ""
            };
            write!(f, "{}{suffix}", self.text)
        }
    }
}

/// Writes the query in canonical form; parsing the output gives the same
/// query back.
impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn group(q: &Query, f: &mut fmt::Formatter<'_>, paren: bool) -> fmt::Result {
            if paren {
                write!(f, "({q})")
            } else {
                write!(f, "{q}")
            }
        }
        match self {
            Query::Term(t) => write!(f, "{t}"),
            Query::Field(field, v) => {
                if v.contains(|c: char| c.is_whitespace() || "()\"".contains(c)) {
                    write!(f, "{}:\"{v}\"", field.as_str())
                } else {
                    write!(f, "{}:{v}", field.as_str())
                }
            }
            Query::Not(q) => {
                f.write_str("NOT ")?;
                group(q, f, matches!(**q, Query::And(_) | Query::Or(_)))
            }
            Query::Near {
                left,
                right,
                distance,
                ordered,
            } => {
                group(left, f, matches!(**left, Query::Or(_)))?;
                write!(f, " NEAR/{distance}{} ", if *ordered { "f" } else { "" })?;
                group(
                    right,
                    f,
                    matches!(**right, Query::Or(_) | Query::Near { .. }),
                )
            }
            Query::And(items) | Query::Or(items) => {
                let and = matches!(self, Query::And(_));
                let sep = if and { " AND " } else { " OR " };
                let nested =
                    |q: &Query| matches!(q, Query::Or(_)) || (and && matches!(q, Query::And(_)));
                for (i, q) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(sep)?;
                    }
                    group(q, f, nested(q))?;
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests;
