//! Brand watchlists: TOML files of `[[brand]]` entries.

use serde::Deserialize;

use crate::error::{from_toml, locate, locate_quoted, ConfigError};
use crate::query::Query;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BrandsFile {
    #[serde(default)]
    brand: Vec<BrandDef>,
}

/// One `[[brand]]` entry as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrandDef {
    /// Stable id used in matches and rulesets.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Names the brand goes by. When absent, the display name is the alias,
    /// unless a `query` is given (then the query alone defines the brand).
    pub aliases: Option<Vec<String>>,
    /// Social handles (without `@`): matched as `@handle` mentions.
    #[serde(default)]
    pub handles: Vec<String>,
    /// Hashtags (without `#`).
    #[serde(default)]
    pub hashtags: Vec<String>,
    /// Web domains (`acme.com`): a post whose URL is on one of them (or a
    /// subdomain), or whose text names one, is about the brand; `context`
    /// and `exclude` do not apply (a domain is unambiguous).
    #[serde(default)]
    pub domains: Vec<String>,
    /// A competitor rather than one of ours.
    #[serde(default)]
    pub competitor: bool,
    /// Boolean query (Brandwatch syntax) that also matches the brand.
    pub query: Option<String>,
    /// When non-empty, an alias only counts if one of these terms also
    /// appears in the post (Apple next to iPhone, not next to pie). A list,
    /// or lists by language (`{ en = [...], fr = [...], any = [...] }`): a
    /// language's terms count in posts in that language or of unknown
    /// language.
    #[serde(default)]
    pub context: crate::ContextTerms,
    /// Terms that mark a bare alias (one without a `context` term in the
    /// post) as not about the brand: such a hit never counts, and the post
    /// is a negative example when the context model is trained.
    #[serde(default)]
    pub negative_context: Vec<String>,
    /// `false`: the context model never decides this brand's bare names.
    pub context_model: Option<bool>,
    /// The context model's probability from which a bare name counts
    /// (default `[matcher] context_threshold`).
    pub context_threshold: Option<f64>,
    /// Phrases that cancel an alias hit inside them (`apple pie`).
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Match aliases by stem in the post's language.
    #[serde(default)]
    pub stem: bool,
    /// The brand's own accounts, as `NETWORK:HANDLE` (`x:acmesupport`,
    /// `mastodon:acme@mastodon.social`): their posts in a thread are the
    /// brand's replies, which time to first response is measured by.
    #[serde(default)]
    pub own_accounts: Vec<String>,
}

/// A brand whose query parsed.
#[derive(Debug, Clone)]
pub(crate) struct ParsedBrand {
    pub def: BrandDef,
    pub query: Option<Query>,
}

/// Parses a brands file, returning the brands that are valid and every error.
pub(crate) fn parse_brands(file: &str, text: &str) -> (Vec<ParsedBrand>, Vec<ConfigError>) {
    let mut errors = Vec::new();
    let parsed: BrandsFile = match toml::from_str(text) {
        Ok(p) => p,
        Err(e) => return (Vec::new(), vec![from_toml(file, text, &e)]),
    };
    let mut out = Vec::new();
    let mut cursor = 0;
    for def in parsed.brand {
        // Find where this brand is written, to place errors about it.
        let id_at = locate_quoted(text, &def.id, cursor).unwrap_or(cursor);
        cursor = id_at;
        let key = format!("brand {}", def.id);
        let mut ok = true;
        if def.id.trim().is_empty() {
            errors.push(
                ConfigError::new(file, "brand", "expected a non-empty `id`").at_offset(text, id_at),
            );
            ok = false;
        }
        let wildcard = def
            .aliases
            .iter()
            .flatten()
            .chain(def.context.all())
            .chain(&def.negative_context)
            .chain(&def.exclude)
            .find(|a| a.contains('*'));
        if let Some(a) = wildcard {
            errors.push(
                ConfigError::new(file, &key, format!("`{a}`: aliases, context and exclude terms are literal; put wildcards in `query`"))
                    .at_offset(text, locate(text, a, id_at).unwrap_or(id_at)),
            );
        }
        let query = match &def.query {
            None => None,
            Some(q) => match Query::parse(q) {
                Ok(q) => Some(q),
                Err(e) => {
                    let mut err =
                        ConfigError::new(file, format!("{key}: query"), e.message.clone());
                    // Point into the file when the query is written on one line.
                    if let Some(at) = locate(text, q, id_at) {
                        err = err.at_offset(text, at + e.offset);
                    } else {
                        err.message = format!("column {} of the query: {}", e.column, e.message);
                        err = err.at_offset(text, id_at);
                    }
                    errors.push(err);
                    ok = false;
                    None
                }
            },
        };
        let has_terms = def.aliases.as_ref().is_none_or(|a| !a.is_empty())
            || query.is_some()
            || !def.handles.is_empty()
            || !def.hashtags.is_empty()
            || !def.domains.is_empty();
        for d in &def.domains {
            let d = d.trim();
            let valid = d.contains('.')
                && !d.contains("://")
                && !d.contains('/')
                && d.chars()
                    .all(|c| c.is_alphanumeric() || c == '.' || c == '-');
            if !valid {
                errors.push(
                    ConfigError::new(
                        file,
                        format!("{key}: domains"),
                        format!("`{d}`: expected a domain such as acme.com (no scheme or path)"),
                    )
                    .at_offset(text, id_at),
                );
                ok = false;
            }
        }
        if let Some(t) = def.context_threshold {
            if !(t > 0.0 && t < 1.0) {
                errors.push(
                    ConfigError::new(
                        file,
                        format!("{key}: context_threshold"),
                        format!("{t}: expected a probability above 0 and below 1"),
                    )
                    .at_offset(text, id_at),
                );
                ok = false;
            }
        }
        for a in &def.own_accounts {
            let valid = a
                .split_once(':')
                .is_some_and(|(n, h)| !n.is_empty() && !h.trim_start_matches('@').is_empty());
            if !valid {
                errors.push(
                    ConfigError::new(
                        file,
                        format!("{key}: own_accounts"),
                        format!("`{a}`: expected NETWORK:HANDLE, e.g. x:acmesupport"),
                    )
                    .at_offset(text, id_at),
                );
                ok = false;
            }
        }
        if ok && !has_terms {
            errors.push(
                ConfigError::new(
                    file,
                    &key,
                    "brand can never match: expected `aliases`, `handles`, `hashtags`, `domains` or a `query`",
                )
                .at_offset(text, id_at),
            );
            ok = false;
        }
        if ok {
            out.push(ParsedBrand { def, query });
        }
    }
    (out, errors)
}

impl BrandDef {
    /// Alias strings to compile: aliases (or the name), plus `#tag` and
    /// `@handle` forms, and squashed hashtag/handle forms of multi-word
    /// aliases (`Acme Cares` also matches `#AcmeCares` and `@acmecares`).
    pub(crate) fn alias_terms(&self, has_query: bool) -> Vec<String> {
        let names: Vec<String> = match &self.aliases {
            Some(a) => a.clone(),
            None if has_query => Vec::new(),
            None => vec![self.name.clone()],
        };
        let mut out = Vec::new();
        for n in &names {
            out.push(n.clone());
            let squashed: String = n.chars().filter(|c| c.is_alphanumeric()).collect();
            if !squashed.is_empty() && squashed != n.as_str() {
                out.push(format!("#{squashed}"));
                out.push(format!("@{squashed}"));
            }
        }
        for h in &self.handles {
            out.push(format!("@{}", h.trim_start_matches('@')));
        }
        for t in &self.hashtags {
            out.push(format!("#{}", t.trim_start_matches('#')));
        }
        out.dedup();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_errors_point_into_the_file() {
        let text = "[[brand]]\nid = \"acme\"\nname = \"Acme\"\nquery = 'acme AND (refund OR'\n";
        let (brands, errors) = parse_brands("brands.toml", text);
        assert!(brands.is_empty());
        assert_eq!(errors.len(), 1, "{errors:?}");
        let e = &errors[0];
        assert_eq!(e.key, "brand acme: query");
        assert_eq!(e.line, Some(4));
        // The query starts at column 10 and is 19 characters long: the
        // error is where a term was expected, at its end.
        assert_eq!(e.column, Some(29), "{e}");
        assert!(e.message.contains("unexpected end"), "{e}");
    }

    #[test]
    fn every_bad_brand_is_reported() {
        let text = r#"
[[brand]]
id = "a"
name = "A"
query = "NOT foo"

[[brand]]
id = "b"
name = "B"
query = "x y"

[[brand]]
id = "c"
name = "C"
aliases = []
"#;
        let (brands, errors) = parse_brands("w.toml", text);
        assert!(brands.is_empty());
        let keys: Vec<&str> = errors.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["brand a: query", "brand b: query", "brand c"]);
        assert!(errors[0].message.contains("by what they lack alone"));
        assert!(errors[1].message.contains("expected AND, OR"));
        assert_eq!(errors[1].line, Some(10));
    }

    #[test]
    fn toml_errors_have_positions() {
        let (_, errors) = parse_brands(
            "w.toml",
            "[[brand]]\nid = \"a\"\nname = \"A\"\ncolour = 1\n",
        );
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].line, Some(4));
        assert!(errors[0].message.contains("colour"), "{}", errors[0]);
    }

    #[test]
    fn alias_forms() {
        let def: BrandDef =
            toml::from_str("id='a'\nname='Acme Cares'\nhandles=['@acme']\nhashtags=['AcmeLove']")
                .unwrap();
        assert_eq!(
            def.alias_terms(false),
            [
                "Acme Cares",
                "#AcmeCares",
                "@AcmeCares",
                "@acme",
                "#AcmeLove"
            ]
        );
    }
}
