//! Customer accounts imported from a CRM export (CSV or JSON Lines).
//!
//! CSV columns: `id`, `name`, `tier`, `domains` (separated by `;` or
//! spaces) and one `handle_<network>` column per network (`handle_x`,
//! `handle_mastodon`, ...; several handles separated by `;`). A network of
//! `any` matches the handle on every source. Unknown columns are ignored,
//! since CRM exports carry many.
//!
//! JSON Lines: `{"id", "name", "tier", "domains": [...], "handles": {"x": ["..."]}}`.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::error::ConfigError;

/// One customer account.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Customer {
    /// CRM id.
    pub id: String,
    /// Account name, matched as a phrase in the text.
    pub name: String,
    /// Tier (`enterprise`, `business`, ...) used by routing rules.
    #[serde(default)]
    pub tier: String,
    /// Web domains, matched in the text (`globex.com`).
    #[serde(default)]
    pub domains: Vec<String>,
    /// Handles per network (source kind), without `@`.
    #[serde(default)]
    pub handles: BTreeMap<String, Vec<String>>,
}

/// Parses a customers file by its extension.
pub(crate) fn parse_customers(file: &str, text: &str) -> (Vec<Customer>, Vec<ConfigError>) {
    let lower = file.to_ascii_lowercase();
    if lower.ends_with(".csv") {
        parse_csv(file, text)
    } else if lower.ends_with(".jsonl") || lower.ends_with(".ndjson") {
        parse_jsonl(file, text)
    } else {
        (
            Vec::new(),
            vec![ConfigError::new(
                file,
                "",
                "unknown customers format: expected a .csv or .jsonl file",
            )],
        )
    }
}

fn split_list(s: &str) -> Vec<String> {
    s.split([';', ',', ' ', '|'])
        .map(|x| x.trim().trim_start_matches('@').to_string())
        .filter(|x| !x.is_empty())
        .collect()
}

fn parse_csv(file: &str, text: &str) -> (Vec<Customer>, Vec<ConfigError>) {
    let mut errors = Vec::new();
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(false)
        .from_reader(text.as_bytes());
    let headers = match rdr.headers() {
        Ok(h) => h
            .iter()
            .map(|h| h.trim().to_ascii_lowercase())
            .collect::<Vec<_>>(),
        Err(e) => {
            return (
                Vec::new(),
                vec![ConfigError::new(file, "header", e.to_string())],
            )
        }
    };
    let col = |name: &str| headers.iter().position(|h| h == name);
    let (Some(id_col), Some(name_col)) = (col("id"), col("name")) else {
        let mut e = ConfigError::new(file, "header", "expected columns `id` and `name` (and optionally `tier`, `domains`, `handle_<network>`)");
        e.line = Some(1);
        return (Vec::new(), vec![e]);
    };
    let tier_col = col("tier");
    let domains_col = col("domains").or_else(|| col("domain"));
    let handle_cols: Vec<(usize, String)> = headers
        .iter()
        .enumerate()
        .filter_map(|(i, h)| h.strip_prefix("handle_").map(|n| (i, n.to_string())))
        .collect();
    let mut out = Vec::new();
    for rec in rdr.records() {
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                let mut err = ConfigError::new(file, "row", e.to_string());
                err.line = e.position().map(|p| p.line() as usize);
                errors.push(err);
                continue;
            }
        };
        let line = rec.position().map(|p| p.line() as usize);
        let get = |i: Option<usize>| i.and_then(|i| rec.get(i)).unwrap_or("").trim().to_string();
        let c = Customer {
            id: get(Some(id_col)),
            name: get(Some(name_col)),
            tier: get(tier_col).to_ascii_lowercase(),
            domains: split_list(&get(domains_col)),
            handles: handle_cols
                .iter()
                .map(|(i, n)| (n.clone(), split_list(&get(Some(*i)))))
                .filter(|(_, h)| !h.is_empty())
                .collect(),
        };
        match check(&c) {
            Ok(()) => out.push(c),
            Err(msg) => {
                let mut e = ConfigError::new(file, format!("customer {}", c.id), msg);
                e.line = line;
                errors.push(e);
            }
        }
    }
    (out, errors)
}

fn parse_jsonl(file: &str, text: &str) -> (Vec<Customer>, Vec<ConfigError>) {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Customer>(line) {
            Ok(mut c) => {
                c.tier = c.tier.to_ascii_lowercase();
                for hs in c.handles.values_mut() {
                    for h in hs.iter_mut() {
                        *h = h.trim_start_matches('@').to_string();
                    }
                }
                match check(&c) {
                    Ok(()) => out.push(c),
                    Err(msg) => {
                        let mut e = ConfigError::new(file, format!("customer {}", c.id), msg);
                        e.line = Some(n + 1);
                        errors.push(e);
                    }
                }
            }
            Err(e) => {
                let mut err = ConfigError::new(file, "customer", format!("invalid JSON: {e}"));
                err.line = Some(n + 1);
                err.column = Some(e.column());
                errors.push(err);
            }
        }
    }
    (out, errors)
}

fn check(c: &Customer) -> Result<(), String> {
    if c.id.is_empty() {
        return Err("expected a non-empty `id`".into());
    }
    if c.name
        .trim()
        .chars()
        .filter(|c| c.is_alphanumeric())
        .count()
        < 2
    {
        return Err("expected a `name` of at least 2 letters".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_export_with_extra_columns() {
        let text = "id,name,tier,domains,handle_x,handle_mastodon,owner\n\
                    c1,Globex,Enterprise,globex.com;globex.io,@globex;globexhelp,globex@mastodon.social,Ann\n\
                    c2,,pro,,,,\n";
        let (cs, errs) = parse_customers("crm.csv", text);
        assert_eq!(cs.len(), 1);
        assert_eq!(cs[0].tier, "enterprise");
        assert_eq!(cs[0].domains, ["globex.com", "globex.io"]);
        assert_eq!(cs[0].handles["x"], ["globex", "globexhelp"]);
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].line, Some(3));
        assert_eq!(errs[0].key, "customer c2");
    }

    #[test]
    fn jsonl_export() {
        let text = "{\"id\":\"c1\",\"name\":\"Initech\",\"tier\":\"pro\",\"handles\":{\"x\":[\"@initech\"]}}\n{bad\n";
        let (cs, errs) = parse_customers("crm.jsonl", text);
        assert_eq!(cs[0].handles["x"], ["initech"]);
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].line, Some(2));
    }

    #[test]
    fn unknown_extension_is_an_error() {
        let (_, errs) = parse_customers("crm.xlsx", "");
        assert!(errs[0].message.contains(".csv or .jsonl"));
    }
}
