//! Splits a boolean query into tokens, each with its position.

use super::{Field, QueryError};

/// One lexical token.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    LParen,
    RParen,
    And,
    Or,
    Not,
    Near {
        distance: u32,
        ordered: bool,
    },
    /// A bare word; `wildcard` for `refund*`, `stem` for `refund~`.
    Word {
        text: String,
        wildcard: bool,
        stem: bool,
    },
    Phrase(String),
    Field(Field, String),
}

impl Tok {
    /// How the token is named in "expected ..., found ..." messages.
    pub(crate) fn describe(&self) -> String {
        match self {
            Tok::LParen => "`(`".into(),
            Tok::RParen => "`)`".into(),
            Tok::And => "AND".into(),
            Tok::Or => "OR".into(),
            Tok::Not => "NOT".into(),
            Tok::Near { distance, ordered } => {
                format!("NEAR/{distance}{}", if *ordered { "f" } else { "" })
            }
            Tok::Word { text, .. } => format!("word `{text}`"),
            Tok::Phrase(p) => format!("phrase \"{p}\""),
            Tok::Field(f, v) => format!("`{}:{v}`", f.as_str()),
        }
    }
}

/// A token and the byte offset where it starts.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Spanned {
    pub tok: Tok,
    pub offset: usize,
}

/// Minimum number of letters before a `*` wildcard, so `a*` cannot flood
/// the matcher with hits.
pub const MIN_WILDCARD_PREFIX: usize = 3;

pub(crate) fn lex(src: &str) -> Result<Vec<Spanned>, QueryError> {
    let mut out = Vec::new();
    let bytes = src.as_bytes();
    let mut i = 0;
    while i < src.len() {
        let c = src[i..].chars().next().unwrap_or(' ');
        if c.is_whitespace() {
            i += c.len_utf8();
            continue;
        }
        let start = i;
        match c {
            '(' => {
                out.push(Spanned {
                    tok: Tok::LParen,
                    offset: start,
                });
                i += 1;
            }
            ')' => {
                out.push(Spanned {
                    tok: Tok::RParen,
                    offset: start,
                });
                i += 1;
            }
            '"' => {
                let Some(len) = src[i + 1..].find('"') else {
                    return Err(QueryError::at(
                        src,
                        start,
                        "unterminated phrase: expected a closing `\"`",
                    ));
                };
                let phrase = src[i + 1..i + 1 + len].trim();
                if phrase.is_empty() {
                    return Err(QueryError::at(
                        src,
                        start,
                        "empty phrase: expected words between the quotes",
                    ));
                }
                out.push(Spanned {
                    tok: Tok::Phrase(phrase.to_string()),
                    offset: start,
                });
                i += len + 2;
            }
            _ => {
                let mut end = i;
                while end < src.len() {
                    let c = src[end..].chars().next().unwrap_or(' ');
                    if c.is_whitespace() || c == '(' || c == ')' || c == '"' {
                        break;
                    }
                    end += c.len_utf8();
                }
                // A field value may be a quoted phrase: `author:"Acme Support"`.
                let word = &src[start..end];
                if word.ends_with(':') && bytes.get(end) == Some(&b'"') {
                    let name = &word[..word.len() - 1];
                    let field = field_named(src, start, name)?;
                    let Some(len) = src[end + 1..].find('"') else {
                        return Err(QueryError::at(
                            src,
                            end,
                            "unterminated phrase: expected a closing `\"`",
                        ));
                    };
                    let value = src[end + 1..end + 1 + len].trim().to_string();
                    // `site:""` would filter on nothing (and display as
                    // `site:`, which does not parse): refused like `site:`.
                    if value.is_empty() {
                        return Err(QueryError::at(
                            src,
                            end,
                            format!("expected a value after `{name}:`"),
                        ));
                    }
                    out.push(Spanned {
                        tok: Tok::Field(field, value),
                        offset: start,
                    });
                    i = end + len + 2;
                    continue;
                }
                out.push(Spanned {
                    tok: word_token(src, start, word)?,
                    offset: start,
                });
                i = end;
            }
        }
    }
    Ok(out)
}

fn field_named(src: &str, offset: usize, name: &str) -> Result<Field, QueryError> {
    Field::ALL
        .iter()
        .copied()
        .find(|f| f.as_str() == name)
        .ok_or_else(|| {
            QueryError::at(
                src,
                offset,
                format!("unknown field `{name}:`: expected one of author:, site:, lang:, source: (quote the text to match it literally)"),
            )
        })
}

fn word_token(src: &str, offset: usize, word: &str) -> Result<Tok, QueryError> {
    match word {
        "AND" => return Ok(Tok::And),
        "OR" => return Ok(Tok::Or),
        "NOT" => return Ok(Tok::Not),
        _ => {}
    }
    if let Some(rest) = word.strip_prefix("NEAR") {
        let spec = rest.strip_prefix('/').ok_or_else(|| {
            QueryError::at(
                src,
                offset,
                "expected a distance after NEAR, as in NEAR/3 or NEAR/3f",
            )
        })?;
        let (digits, ordered) = match spec.strip_suffix('f') {
            Some(d) => (d, true),
            None => (spec, false),
        };
        let distance: u32 = digits.parse().map_err(|_| {
            QueryError::at(
                src,
                offset,
                format!("expected a number of words in `{word}`, as in NEAR/3 or NEAR/3f"),
            )
        })?;
        return Ok(Tok::Near { distance, ordered });
    }
    if let Some((name, value)) = word.split_once(':') {
        let field = field_named(src, offset, name)?;
        if value.is_empty() {
            return Err(QueryError::at(
                src,
                offset + word.len(),
                format!("expected a value after `{name}:`"),
            ));
        }
        return Ok(Tok::Field(field, value.to_string()));
    }
    let (text, wildcard, stem) = if let Some(t) = word.strip_suffix('*') {
        (t, true, false)
    } else if let Some(t) = word.strip_suffix('~') {
        (t, false, true)
    } else {
        (word, false, false)
    };
    if let Some(p) = text.find(['*', '~']) {
        return Err(QueryError::at(
            src,
            offset + p,
            "`*` and `~` are only allowed at the end of a word (suffix wildcard, stemming)",
        ));
    }
    if wildcard && text.chars().filter(|c| c.is_alphanumeric()).count() < MIN_WILDCARD_PREFIX {
        return Err(QueryError::at(
            src,
            offset,
            format!("wildcard `{word}` needs at least {MIN_WILDCARD_PREFIX} letters before `*`"),
        ));
    }
    if text.is_empty() {
        return Err(QueryError::at(src, offset, "expected a word before `~`"));
    }
    Ok(Tok::Word {
        text: text.to_string(),
        wildcard,
        stem,
    })
}
