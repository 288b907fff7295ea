//! Recursive-descent parser; precedence NEAR > NOT > AND > OR.
//!
//! The recursion is bounded: every `(`, prefix `NOT` and `NEAR/n` link adds
//! one level, and a query nesting deeper than [`MAX_QUERY_DEPTH`] is refused
//! before the next level is entered. That bound is also what keeps every
//! other recursive walk of a parsed [`Query`] (evaluation, display, drop)
//! within a thread's stack, so a hostile watchlist gives an error, never a
//! stack overflow.

use super::lexer::{lex, Spanned, Tok};
use super::{Query, QueryError, Term, MAX_QUERY_BYTES, MAX_QUERY_DEPTH, MAX_QUERY_TERMS};

pub(crate) fn parse(src: &str) -> Result<Query, QueryError> {
    // Checked before lexing so that the work done on any input is bounded.
    if src.len() > MAX_QUERY_BYTES {
        return Err(QueryError::at(
            src,
            0,
            format!(
                "query is {} bytes long: expected at most {MAX_QUERY_BYTES} (split it into several brands or intents)",
                src.len()
            ),
        ));
    }
    let toks = lex(src)?;
    let terms = toks
        .iter()
        .filter(|t| matches!(t.tok, Tok::Word { .. } | Tok::Phrase(_) | Tok::Field(..)))
        .nth(MAX_QUERY_TERMS);
    if let Some(t) = terms {
        return Err(QueryError::at(
            src,
            t.offset,
            format!(
                "more than {MAX_QUERY_TERMS} terms in one query: expected at most {MAX_QUERY_TERMS} (split it into several brands or intents)"
            ),
        ));
    }
    if toks.is_empty() {
        return Err(QueryError::at(
            src,
            0,
            "empty query: expected a term, a \"phrase\" or `(`",
        ));
    }
    let mut p = Parser {
        src,
        toks,
        pos: 0,
        depth: 0,
    };
    let q = p.or()?;
    if let Some(t) = p.peek() {
        let msg = match t.tok {
            Tok::RParen => {
                "unbalanced `)`: expected AND, OR, NOT, NEAR/n or the end of the query".to_string()
            }
            _ => p.expected_operator(t),
        };
        return Err(QueryError::at(src, t.offset, msg));
    }
    Ok(q)
}

struct Parser<'a> {
    src: &'a str,
    toks: Vec<Spanned>,
    pos: usize,
    /// Nesting levels currently open (parentheses, prefix NOTs, NEAR links).
    depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Spanned> {
        self.toks.get(self.pos)
    }

    fn end_offset(&self) -> usize {
        self.src.len()
    }

    /// Opens one nesting level for the token at `offset`, refusing to go
    /// deeper than [`MAX_QUERY_DEPTH`]. Each successful call is paired with
    /// a `self.depth -= 1` once the level's operand is parsed.
    fn enter(&mut self, offset: usize) -> Result<(), QueryError> {
        if self.depth >= MAX_QUERY_DEPTH {
            return Err(QueryError::at(
                self.src,
                offset,
                format!(
                    "nesting deeper than {MAX_QUERY_DEPTH} (parentheses, NOT and NEAR/n chains): expected a flatter query"
                ),
            ));
        }
        self.depth += 1;
        Ok(())
    }

    fn expected_operator(&self, t: &Spanned) -> String {
        let hint = match &t.tok {
            Tok::Word { .. } | Tok::Phrase(_) => {
                " (to match words next to each other, quote them: \"acme cloud\")"
            }
            _ => "",
        };
        format!(
            "expected AND, OR, NOT, NEAR/n, `)` or the end of the query, found {}{hint}",
            t.tok.describe()
        )
    }

    fn or(&mut self) -> Result<Query, QueryError> {
        let mut items = vec![self.and()?];
        while matches!(self.peek().map(|t| &t.tok), Some(Tok::Or)) {
            self.pos += 1;
            items.push(self.and()?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Query::Or(items)
        })
    }

    fn and(&mut self) -> Result<Query, QueryError> {
        let mut items = vec![self.unary()?];
        loop {
            match self.peek().map(|t| &t.tok) {
                Some(Tok::And) => {
                    self.pos += 1;
                    items.push(self.unary()?);
                }
                // `a NOT b` is the Brandwatch spelling of `a AND NOT b`.
                Some(Tok::Not) => items.push(self.unary()?),
                Some(Tok::Word { .. } | Tok::Phrase(_) | Tok::Field(..) | Tok::LParen) => {
                    let t = self.peek().cloned().unwrap_or(Spanned {
                        tok: Tok::LParen,
                        offset: 0,
                    });
                    return Err(QueryError::at(
                        self.src,
                        t.offset,
                        self.expected_operator(&t),
                    ));
                }
                _ => break,
            }
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Query::And(items)
        })
    }

    fn unary(&mut self) -> Result<Query, QueryError> {
        // A run of prefix NOTs is read in a loop (no recursion), but each one
        // still nests the tree one level, so each one counts against the limit.
        let mut nots = 0;
        let mut result = Ok(());
        while let Some(t) = self.peek().filter(|t| matches!(t.tok, Tok::Not)) {
            let offset = t.offset;
            if let Err(e) = self.enter(offset) {
                result = Err(e);
                break;
            }
            self.pos += 1;
            nots += 1;
        }
        let q = result.and_then(|()| self.near());
        self.depth -= nots;
        let mut q = q?;
        for _ in 0..nots {
            q = Query::Not(Box::new(q));
        }
        Ok(q)
    }

    fn near(&mut self) -> Result<Query, QueryError> {
        let start = self.peek().map_or(self.end_offset(), |t| t.offset);
        let mut left = self.primary()?;
        // A NEAR chain builds a left-deep tree without recursing here, so its
        // links are counted as levels too (evaluation recurses through them).
        let mut links = 0;
        let result = loop {
            let Some((Tok::Near { distance, ordered }, offset)) =
                self.peek().map(|t| (t.tok.clone(), t.offset))
            else {
                break Ok(left);
            };
            if let Err(e) = self.enter(offset) {
                break Err(e);
            }
            links += 1;
            self.pos += 1;
            if let Err(e) = check_near_operand(self.src, start, &left) {
                break Err(e);
            }
            let right_at = self.peek().map_or(self.end_offset(), |t| t.offset);
            let right = match self.primary() {
                Ok(r) => r,
                Err(e) => break Err(e),
            };
            if let Err(e) = check_near_operand(self.src, right_at, &right) {
                break Err(e);
            }
            left = Query::Near {
                left: Box::new(left),
                right: Box::new(right),
                distance,
                ordered,
            };
        };
        self.depth -= links;
        result
    }

    fn primary(&mut self) -> Result<Query, QueryError> {
        let Some(t) = self.peek().cloned() else {
            return Err(QueryError::at(
                self.src,
                self.end_offset(),
                "unexpected end of query: expected a term, a \"phrase\", a field or `(`",
            ));
        };
        self.pos += 1;
        match t.tok {
            Tok::LParen => {
                self.enter(t.offset)?;
                let q = self.or();
                self.depth -= 1;
                let q = q?;
                match self.peek() {
                    Some(Spanned {
                        tok: Tok::RParen, ..
                    }) => {
                        self.pos += 1;
                        Ok(q)
                    }
                    Some(other) => {
                        let msg = self.expected_operator(other);
                        Err(QueryError::at(self.src, other.offset, msg))
                    }
                    None => Err(QueryError::at(
                        self.src,
                        t.offset,
                        "unclosed `(`: expected a matching `)`",
                    )),
                }
            }
            Tok::Word {
                text,
                wildcard,
                stem,
            } => Ok(Query::Term(Term::new(text, false, wildcard, stem))),
            Tok::Phrase(p) => Ok(Query::Term(Term::new(p, true, false, false))),
            Tok::Field(f, v) => Ok(Query::Field(f, v)),
            other => Err(QueryError::at(
                self.src,
                t.offset,
                format!(
                    "expected a term, a \"phrase\", a field or `(`, found {}",
                    other.describe()
                ),
            )),
        }
    }
}

/// NEAR compares word positions, so its operands must be things that have
/// positions: terms, phrases, OR-groups of them, or another NEAR.
fn check_near_operand(src: &str, offset: usize, q: &Query) -> Result<(), QueryError> {
    fn ok(q: &Query) -> bool {
        match q {
            Query::Term(_) | Query::Near { .. } => true,
            Query::Or(items) => items.iter().all(ok),
            _ => false,
        }
    }
    if ok(q) {
        Ok(())
    } else {
        Err(QueryError::at(
            src,
            offset,
            "NEAR/n operands must be terms, phrases or (OR-groups) of them, not AND, NOT or fields",
        ))
    }
}
