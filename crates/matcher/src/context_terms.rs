//! A brand's `context` terms: one list for posts in any language, or lists
//! by language (issue 16), so a word that confirms the brand in one
//! language does not confirm it in another where it means something else.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

/// `context = ["gate", "flight"]` (any language) or
/// `context = { en = ["flight"], fr = ["vol"], any = ["A350"] }`: a term
/// listed under a language counts in posts in that language, and in posts
/// whose language is unknown; `any` terms count in every post.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContextTerms {
    /// Terms for every language.
    pub any: Vec<String>,
    /// Terms by ISO 639-1 code.
    pub by_language: BTreeMap<String, Vec<String>>,
}

impl ContextTerms {
    /// No term at all.
    pub fn is_empty(&self) -> bool {
        self.any.is_empty() && self.by_language.values().all(Vec::is_empty)
    }

    /// Every term with the language it is limited to (`None`: any).
    pub fn terms(&self) -> impl Iterator<Item = (&String, Option<&str>)> {
        self.any.iter().map(|t| (t, None)).chain(
            self.by_language
                .iter()
                .flat_map(|(l, ts)| ts.iter().map(move |t| (t, Some(l.as_str())))),
        )
    }

    /// Every term, whatever its language.
    pub fn all(&self) -> impl Iterator<Item = &String> {
        self.terms().map(|(t, _)| t)
    }
}

impl<'de> Deserialize<'de> for ContextTerms {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ContextTerms;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of terms, or a table of term lists by language (`{ en = [...], fr = [...], any = [...] }`)")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ContextTerms, A::Error> {
                let mut any = Vec::new();
                while let Some(t) = seq.next_element::<String>()? {
                    any.push(t);
                }
                Ok(ContextTerms {
                    any,
                    by_language: BTreeMap::new(),
                })
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ContextTerms, A::Error> {
                let mut out = ContextTerms::default();
                while let Some(lang) = map.next_key::<String>()? {
                    let terms: Vec<String> = map.next_value()?;
                    if lang == "any" {
                        out.any.extend(terms);
                    } else if lang.len() == 2 && lang.bytes().all(|b| b.is_ascii_lowercase()) {
                        out.by_language.entry(lang).or_default().extend(terms);
                    } else {
                        return Err(de::Error::custom(format!(
                            "`{lang}` is not a language: expected an ISO 639-1 code such as `en` or `fr`, or `any`"
                        )));
                    }
                }
                Ok(out)
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct B {
        context: ContextTerms,
    }

    #[test]
    fn issue_16_context_is_a_list_or_lists_by_language() {
        let b: B = toml::from_str(r#"context = ["gate", "flight"]"#).unwrap();
        assert_eq!(b.context.any, ["gate", "flight"]);
        let b: B = toml::from_str(
            r#"context = { en = ["flight"], fr = ["vol", "escale"], any = ["A350"] }"#,
        )
        .unwrap();
        let terms: Vec<_> = b.context.terms().map(|(t, l)| (t.as_str(), l)).collect();
        assert_eq!(
            terms,
            [
                ("A350", None),
                ("flight", Some("en")),
                ("vol", Some("fr")),
                ("escale", Some("fr"))
            ]
        );
        let e = toml::from_str::<B>(r#"context = { french = ["vol"] }"#)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("`french` is not a language"), "{e}");
        let e = toml::from_str::<B>(r#"context = "vol""#)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("a list of terms, or a table"), "{e}");
    }
}
