//! Customer accounts imported from a CRM export (CSV or JSON Lines).
//!
//! CSV: one row per account; header names are matched without regard to
//! case, spaces, `-` or `_`, and the common names CRM exports use are
//! recognised (see [`column_role`]): `id`, `name`, `tier`, `domains`,
//! `owner`, `aliases`, and one handle column per network (`handle_x`,
//! `twitter`, `x`, `mastodon`, `bluesky`, `reddit`, ...; several handles
//! separated by `;`). A network of `any` matches the handle on every source.
//! `[matcher] customer_columns` maps an export's own header names onto these
//! roles. Every other column is kept as an attribute of the account (routing
//! rules can test it) and reported by `earshot check`, never dropped
//! silently.
//!
//! JSON Lines: `{"id", "name", "tier", "owner", "aliases": [...],
//! "domains": [...], "handles": {"x": ["..."]}, "attributes": {"region": "emea"}}`.

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
    /// Other names the account goes by, matched in the text like `name`.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// The account owner (an agent or team) the CRM assigns.
    #[serde(default)]
    pub owner: String,
    /// The export's other columns (lowercased names), for routing rules.
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
}

/// What a CSV column holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColumnRole {
    /// The CRM id.
    Id,
    /// The account name.
    Name,
    /// The tier.
    Tier,
    /// Web domains.
    Domains,
    /// The account owner.
    Owner,
    /// Other names.
    Aliases,
    /// Handles on one network (source kind, or `any`).
    Handle(String),
    /// Anything else: kept as an attribute under this name.
    Attribute(String),
}

/// A header name as compared: lowercase, without spaces, `-` or `_`.
fn squash(h: &str) -> String {
    h.chars()
        .filter(|c| !matches!(c, ' ' | '-' | '_' | '.'))
        .flat_map(char::to_lowercase)
        .collect()
}

/// The role of a CSV column by its header, as CRM exports usually name
/// them: `Account ID`, `Account Owner`, `Twitter`, `Website`, ...
pub fn column_role(header: &str) -> ColumnRole {
    let h = squash(header);
    let network = |n: &str| -> Option<&'static str> {
        Some(match n {
            "x" | "twitter" => "x",
            "mastodon" => "mastodon",
            "bluesky" | "bsky" => "bluesky",
            "reddit" => "reddit",
            "youtube" => "youtube",
            "hn" | "hackernews" => "hn",
            "any" => "any",
            _ => return None,
        })
    };
    match h.as_str() {
        "id" | "accountid" | "customerid" | "crmid" => ColumnRole::Id,
        "name" | "accountname" | "customername" | "company" | "companyname" => ColumnRole::Name,
        "tier" | "accounttier" | "customertier" => ColumnRole::Tier,
        "domain" | "domains" | "website" | "websites" => ColumnRole::Domains,
        "owner" | "accountowner" | "accountmanager" => ColumnRole::Owner,
        "alias" | "aliases" | "aka" | "alsoknownas" => ColumnRole::Aliases,
        _ => {
            let handle = h
                .strip_prefix("handle")
                .or_else(|| h.strip_suffix("handle"))
                .unwrap_or(&h);
            match network(handle) {
                Some(n) => ColumnRole::Handle(n.to_string()),
                // `handle_<network>` for any other network keeps its name.
                None if h.starts_with("handle") && h.len() > "handle".len() => {
                    ColumnRole::Handle(handle.to_string())
                }
                None => ColumnRole::Attribute(header.trim().to_lowercase()),
            }
        }
    }
}

/// The role of every column, `map` (export header → role name) first.
fn roles(headers: &[String], map: &BTreeMap<String, String>) -> Vec<ColumnRole> {
    let mapped: BTreeMap<String, &str> = map.iter().map(|(k, v)| (squash(k), v.as_str())).collect();
    headers
        .iter()
        .map(|h| match mapped.get(&squash(h)) {
            Some(role) => column_role(role),
            None => column_role(h),
        })
        .collect()
}

/// A parsed customers file: the accounts, the problems, and the notices
/// (`earshot check` shows them; they do not stop a run).
#[derive(Debug, Default)]
pub(crate) struct ParsedCustomers {
    pub customers: Vec<Customer>,
    pub errors: Vec<ConfigError>,
    pub notices: Vec<ConfigError>,
}

/// Parses a customers file by its extension; `columns` maps a CSV's own
/// header names onto roles (`owner`, `handle_x`, ...).
pub(crate) fn parse_customers(
    file: &str,
    text: &str,
    columns: &BTreeMap<String, String>,
) -> ParsedCustomers {
    let lower = file.to_ascii_lowercase();
    if lower.ends_with(".csv") {
        parse_csv(file, text, columns)
    } else if lower.ends_with(".jsonl") || lower.ends_with(".ndjson") {
        let (customers, errors) = parse_jsonl(file, text);
        ParsedCustomers {
            customers,
            errors,
            notices: Vec::new(),
        }
    } else {
        ParsedCustomers {
            errors: vec![ConfigError::new(
                file,
                "",
                "unknown customers format: expected a .csv or .jsonl file",
            )],
            ..Default::default()
        }
    }
}

fn split_list(s: &str) -> Vec<String> {
    s.split([';', ',', ' ', '|'])
        .map(|x| x.trim().trim_start_matches('@').to_string())
        .filter(|x| !x.is_empty())
        .collect()
}

fn parse_csv(file: &str, text: &str, map: &BTreeMap<String, String>) -> ParsedCustomers {
    let mut out = ParsedCustomers::default();
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(false)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = match rdr.headers() {
        Ok(h) => h.iter().map(str::to_string).collect(),
        Err(e) => {
            out.errors
                .push(ConfigError::new(file, "header", e.to_string()));
            return out;
        }
    };
    let roles = roles(&headers, map);
    let col = |role: ColumnRole| roles.iter().position(|r| *r == role);
    let (Some(id_col), Some(name_col)) = (col(ColumnRole::Id), col(ColumnRole::Name)) else {
        let mut e = ConfigError::new(file, "header", "expected columns `id` and `name` (or names mapped to them in [matcher] customer_columns; optionally `tier`, `domains`, `owner`, `aliases` and handle columns such as `twitter` or `handle_mastodon`)");
        e.line = Some(1);
        out.errors.push(e);
        return out;
    };
    let attributes: Vec<(usize, &str)> = roles
        .iter()
        .enumerate()
        .filter_map(|(i, r)| match r {
            ColumnRole::Attribute(name) => Some((i, name.as_str())),
            _ => None,
        })
        .collect();
    if !attributes.is_empty() {
        let names: Vec<&str> = attributes.iter().map(|(_, n)| *n).collect();
        let mut notice = ConfigError::new(
            file,
            "header",
            format!(
                "column(s) {} kept as account attributes (routing rules can test them as `attributes`); map one to a role with [matcher] customer_columns if it is a handle, owner or alias",
                names.join(", ")
            ),
        );
        notice.line = Some(1);
        out.notices.push(notice);
    }
    let handle_cols: Vec<(usize, &str)> = roles
        .iter()
        .enumerate()
        .filter_map(|(i, r)| match r {
            ColumnRole::Handle(n) => Some((i, n.as_str())),
            _ => None,
        })
        .collect();
    for rec in rdr.records() {
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                let mut err = ConfigError::new(file, "row", e.to_string());
                err.line = e.position().map(|p| p.line() as usize);
                out.errors.push(err);
                continue;
            }
        };
        let line = rec.position().map(|p| p.line() as usize);
        let get = |i: Option<usize>| i.and_then(|i| rec.get(i)).unwrap_or("").trim().to_string();
        let mut handles: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (i, network) in &handle_cols {
            handles
                .entry(network.to_string())
                .or_default()
                .extend(split_list(&get(Some(*i))));
        }
        handles.retain(|_, h| !h.is_empty());
        let c = Customer {
            id: get(Some(id_col)),
            name: get(Some(name_col)),
            tier: get(col(ColumnRole::Tier)).to_ascii_lowercase(),
            domains: split_list(&get(col(ColumnRole::Domains))),
            handles,
            aliases: split_names(&get(col(ColumnRole::Aliases))),
            owner: get(col(ColumnRole::Owner)),
            attributes: attributes
                .iter()
                .map(|(i, n)| (n.to_string(), get(Some(*i))))
                .filter(|(_, v)| !v.is_empty())
                .collect(),
        };
        match check(&c) {
            Ok(()) => out.customers.push(c),
            Err(msg) => {
                let mut e = ConfigError::new(file, format!("customer {}", c.id), msg);
                e.line = line;
                out.errors.push(e);
            }
        }
    }
    out
}

/// Names separated by `;` or `|` (a name may contain spaces and commas).
fn split_names(s: &str) -> Vec<String> {
    s.split([';', '|'])
        .map(|x| x.trim().to_string())
        .filter(|x| !x.is_empty())
        .collect()
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
    if let Some(a) = c
        .aliases
        .iter()
        .find(|a| a.chars().filter(|c| c.is_alphanumeric()).count() < 2)
    {
        return Err(format!("alias `{a}`: expected at least 2 letters"));
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
        let parsed = parse_customers("crm.csv", text, &BTreeMap::new());
        let (cs, errs) = (parsed.customers, parsed.errors);
        assert_eq!(cs.len(), 1);
        assert_eq!(cs[0].owner, "Ann");
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
        let parsed = parse_customers("crm.jsonl", text, &BTreeMap::new());
        let (cs, errs) = (parsed.customers, parsed.errors);
        assert_eq!(cs[0].handles["x"], ["initech"]);
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].line, Some(2));
    }

    #[test]
    fn unknown_extension_is_an_error() {
        let errs = parse_customers("crm.xlsx", "", &BTreeMap::new()).errors;
        assert!(errs[0].message.contains(".csv or .jsonl"));
    }

    /// The columns CRM exports use under their usual names are read, and
    /// the rest are kept as attributes with a notice, not dropped.
    #[test]
    fn issue_14_export_columns_by_their_usual_names() {
        let text = "Account ID,Account Name,Account Tier,Website,Account Owner,Twitter,Mastodon Handle,bsky,Also Known As,Region,ARR\n\
                    a-1,Globex Corporation,Enterprise,globex.com,Ann Lee,@globex,globex@mastodon.social,globex.bsky.social,Globex; Globex Corp,EMEA,120000\n";
        let parsed = parse_customers("export.csv", text, &BTreeMap::new());
        assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
        let c = &parsed.customers[0];
        assert_eq!(
            (c.id.as_str(), c.name.as_str(), c.tier.as_str()),
            ("a-1", "Globex Corporation", "enterprise")
        );
        assert_eq!(c.owner, "Ann Lee");
        assert_eq!(c.domains, ["globex.com"]);
        assert_eq!(c.handles["x"], ["globex"]);
        assert_eq!(c.handles["mastodon"], ["globex@mastodon.social"]);
        assert_eq!(c.handles["bluesky"], ["globex.bsky.social"]);
        assert_eq!(c.aliases, ["Globex", "Globex Corp"]);
        assert_eq!(c.attributes["region"], "EMEA");
        assert_eq!(c.attributes["arr"], "120000");
        assert_eq!(parsed.notices.len(), 1);
        assert!(
            parsed.notices[0].message.contains("region, arr"),
            "{:?}",
            parsed.notices
        );
    }

    /// `[matcher] customer_columns` maps an export's own names onto roles.
    #[test]
    fn issue_14_customer_columns_map_headers() {
        let text = "Acct,Company,Mgr,TW\nz-9,Initech,Bill,initech\n";
        let map: BTreeMap<String, String> = [("Acct", "id"), ("Mgr", "owner"), ("TW", "handle_x")]
            .into_iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        let parsed = parse_customers("e.csv", text, &map);
        assert!(
            parsed.errors.is_empty() && parsed.notices.is_empty(),
            "{parsed:?}"
        );
        let c = &parsed.customers[0];
        assert_eq!((c.id.as_str(), c.owner.as_str()), ("z-9", "Bill"));
        assert_eq!(c.handles["x"], ["initech"]);
        // Without the map, `Acct` is no id column: the header is refused.
        assert!(!parse_customers("e.csv", text, &BTreeMap::new())
            .errors
            .is_empty());
    }
}
