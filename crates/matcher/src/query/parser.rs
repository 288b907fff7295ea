//! Recursive-descent parser; precedence NEAR > NOT > AND > OR.

use super::lexer::{lex, Spanned, Tok};
use super::{Query, QueryError, Term};

pub(crate) fn parse(src: &str) -> Result<Query, QueryError> {
    let toks = lex(src)?;
    if toks.is_empty() {
        return Err(QueryError::at(
            src,
            0,
            "empty query: expected a term, a \"phrase\" or `(`",
        ));
    }
    let mut p = Parser { src, toks, pos: 0 };
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
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Spanned> {
        self.toks.get(self.pos)
    }

    fn end_offset(&self) -> usize {
        self.src.len()
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
        if matches!(self.peek().map(|t| &t.tok), Some(Tok::Not)) {
            self.pos += 1;
            return Ok(Query::Not(Box::new(self.unary()?)));
        }
        self.near()
    }

    fn near(&mut self) -> Result<Query, QueryError> {
        let start = self.peek().map_or(self.end_offset(), |t| t.offset);
        let mut left = self.primary()?;
        while let Some(Tok::Near { distance, ordered }) = self.peek().map(|t| t.tok.clone()) {
            self.pos += 1;
            check_near_operand(self.src, start, &left)?;
            let right_at = self.peek().map_or(self.end_offset(), |t| t.offset);
            let right = self.primary()?;
            check_near_operand(self.src, right_at, &right)?;
            left = Query::Near {
                left: Box::new(left),
                right: Box::new(right),
                distance,
                ordered,
            };
        }
        Ok(left)
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
                let q = self.or()?;
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
