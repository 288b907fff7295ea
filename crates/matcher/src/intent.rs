//! Intent rules (`intents.toml`): a query over the text plus optional
//! sentiment and question conditions.

use earshot_model::Intent;
use serde::Deserialize;

use crate::error::{from_toml, locate, locate_quoted, ConfigError};
use crate::query::Query;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct IntentsFile {
    #[serde(default)]
    intent: Vec<IntentDef>,
}

/// One `[[intent]]` rule as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntentDef {
    /// Which intent the rule detects: a name (`[a-z][a-z0-9_]{0,47}`); the
    /// rules' names are the configuration's intents.
    pub intent: String,
    /// Query over the text (same syntax as brand queries).
    pub query: Option<String>,
    /// Only when the compound sentiment is below this.
    pub sentiment_below: Option<f32>,
    /// Only when the compound sentiment is above this.
    pub sentiment_above: Option<f32>,
    /// Only when the post asks (`true`) or does not ask (`false`) a question.
    pub question: Option<bool>,
    /// Strength multiplier when several intents compete.
    #[serde(default = "one")]
    pub weight: f32,
}

fn one() -> f32 {
    1.0
}

/// A compiled intent rule.
#[derive(Debug, Clone)]
pub(crate) struct IntentRule {
    pub intent: Intent,
    /// Index of `intent` among the configured intents (first rule first):
    /// ties in strength list intents in that order.
    pub order: u32,
    pub query: Option<Query>,
    pub sentiment_below: Option<f32>,
    pub sentiment_above: Option<f32>,
    pub question: Option<bool>,
    pub weight: f32,
}

/// The rules of an intents file, and every problem in it.
pub(crate) fn parse_intents(file: &str, text: &str) -> (Vec<IntentRule>, Vec<ConfigError>) {
    let parsed: IntentsFile = match toml::from_str(text) {
        Ok(p) => p,
        Err(e) => return (Vec::new(), vec![from_toml(file, text, &e)]),
    };
    let mut out = Vec::new();
    let mut names: Vec<Intent> = Vec::new();
    let mut errors = Vec::new();
    let mut cursor = 0;
    for (n, def) in parsed.intent.into_iter().enumerate() {
        let at = locate_quoted(text, &def.intent, cursor).unwrap_or(cursor);
        cursor = at;
        let key = format!("intent #{} ({})", n + 1, def.intent);
        let intent = match def.intent.parse::<Intent>() {
            Ok(i) => Some(i),
            Err(e) => {
                errors.push(
                    ConfigError::new(file, format!("{key}: intent"), e.to_string())
                        .at_offset(text, at),
                );
                None
            }
        };
        let query = match &def.query {
            None => None,
            Some(q) => match Query::parse(q) {
                Ok(q) => Some(q),
                Err(e) => {
                    let at = locate(text, q, at).map_or(at, |p| p + e.offset);
                    errors.push(
                        ConfigError::new(file, format!("{key}: query"), e.message)
                            .at_offset(text, at),
                    );
                    None
                }
            },
        };
        if def.query.is_none()
            && def.sentiment_above.is_none()
            && def.sentiment_below.is_none()
            && def.question.is_none()
        {
            errors.push(
                ConfigError::new(
                    file,
                    &key,
                    "rule matches every post: expected a `query`, `question` or a sentiment bound",
                )
                .at_offset(text, at),
            );
            continue;
        }
        if let (Some(intent), true) = (intent, def.query.is_none() || query.is_some()) {
            let order = match names.iter().position(|n| *n == intent) {
                Some(p) => p,
                None => {
                    names.push(intent.clone());
                    names.len() - 1
                }
            } as u32;
            out.push(IntentRule {
                intent,
                order,
                query,
                sentiment_below: def.sentiment_below,
                sentiment_above: def.sentiment_above,
                question: def.question,
                weight: def.weight,
            });
        }
    }
    (out, errors)
}

/// The intents `rules` produce, each once, indexed by [`IntentRule::order`].
pub(crate) fn intent_names(rules: &[IntentRule]) -> Vec<Intent> {
    let mut names: Vec<Intent> = Vec::new();
    for r in rules {
        if r.order as usize == names.len() {
            names.push(r.intent.clone());
        }
    }
    names
}

const QUESTION_OPENERS: &[&str] = &[
    "how", "why", "what", "where", "when", "who", "which", "can", "could", "does", "do", "is",
    "are", "anyone", "any", "should", "will", "would", "has", "have",
];

/// Whether normalized text asks a question: a `?`, or a sentence opening
/// with an interrogative word ("anyone know how to reset acme").
pub(crate) fn asks_question(norm: &str) -> bool {
    let bytes = norm.as_bytes();
    if memchr::memchr(b'?', bytes).is_some() {
        return true;
    }
    // Sentences found with memchr: `str::split` on a set of chars tested
    // every char in turn, 3 % of `earshot score` (issue 11). The ends are
    // ASCII, so every slice falls on a char boundary.
    let mut start = 0;
    let ends = memchr::memchr3_iter(b'.', b'!', b'\n', bytes).chain([bytes.len()]);
    let opens = ends.into_iter().any(|end| {
        let sentence = &norm[start..end];
        start = end + 1;
        sentence
            .split_whitespace()
            .next()
            .is_some_and(|w| QUESTION_OPENERS.contains(&w))
    });
    opens && norm.split_whitespace().count() >= 3
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_reports() {
        let text = r#"
[[intent]]
intent = "complaint"
query = 'broken OR "not working"'
sentiment_below = 0.3

[[intent]]
intent = "Grumble"
query = "meh"

[[intent]]
intent = "praise"
"#;
        let (rules, errs) = parse_intents("intents.toml", text);
        assert_eq!(rules.len(), 1);
        assert_eq!(rules[0].intent, Intent::COMPLAINT);
        assert_eq!(errs.len(), 2, "{errs:?}");
        assert!(
            errs[0].message.contains("no valid intent name"),
            "{}",
            errs[0]
        );
        assert!(errs[0].key.ends_with(": intent"), "{}", errs[0]);
        assert_eq!(errs[0].line, Some(8));
        assert!(errs[1].message.contains("every post"));
    }

    #[test]
    fn questions() {
        assert!(asks_question("is acme down?"));
        assert!(asks_question("anyone know how to reset my acme router"));
        assert!(!asks_question("acme is down again"));
        assert!(!asks_question("how nice"));
        assert!(asks_question("great product. how do i return it"));
        assert!(asks_question("hello.how.x is it"));
        assert!(asks_question("ok!\n  why is acme down"));
    }

    /// The same answers as splitting on the chars, which it replaced.
    fn asks_question_by_split(norm: &str) -> bool {
        norm.contains('?')
            || norm
                .split(['.', '!', '\n'])
                .filter_map(|s| s.split_whitespace().next())
                .any(|w| QUESTION_OPENERS.contains(&w))
                && norm.split_whitespace().count() >= 3
    }

    proptest::proptest! {
        #[test]
        fn asks_question_agrees_with_splitting(
            words in proptest::collection::vec(
                proptest::sample::select(vec![
                    "how", "why", "is", "acme", "down", "é", "\u{a0}", " ", ".", "!", "\n", "?",
                    "how.", ".is", "!anyone", "\t", "do\u{2003}",
                ]),
                0..12,
            )
        ) {
            let text: String = words.concat();
            proptest::prop_assert_eq!(asks_question(&text), asks_question_by_split(&text), "{:?}", text);
        }
    }
}
