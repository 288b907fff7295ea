//! Manual links of network handles to CRM accounts (`[matcher]
//! customer_links`): a CSV with the columns `customer`, `network` and
//! `handle` (header names compared without case, spaces, `-` or `_`;
//! `customer id`, `account id`, `crm id` and `id` name the first), one
//! handle per row, for handles the CRM export does not list. Each row adds
//! the handle to the account's handles on that network (`any`: every
//! network), exactly as a handle column of the export would.

use crate::customers::Customer;
use crate::error::ConfigError;

/// What a link file's header names, squashed.
fn role(header: &str) -> Option<usize> {
    let h: String = header
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '_' | '.'))
        .flat_map(char::to_lowercase)
        .collect();
    match h.as_str() {
        "customer" | "customerid" | "accountid" | "crmid" | "id" | "account" => Some(0),
        "network" | "source" => Some(1),
        "handle" | "username" => Some(2),
        _ => None,
    }
}

/// Adds the links of `text` (the file `file`) to `customers`; problems
/// (a missing column, an account the export lacks, an empty cell) go to
/// `errors` with their line.
pub(crate) fn apply_links(
    file: &str,
    text: &str,
    customers: &mut [Customer],
    errors: &mut Vec<ConfigError>,
) {
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(false)
        .from_reader(text.as_bytes());
    let cols: Vec<Option<usize>> = match rdr.headers() {
        Ok(h) => h.iter().map(role).collect(),
        Err(e) => {
            errors.push(ConfigError::new(file, "header", e.to_string()));
            return;
        }
    };
    let col = |r: usize| cols.iter().position(|c| *c == Some(r));
    let (Some(id_col), Some(net_col), Some(handle_col)) = (col(0), col(1), col(2)) else {
        let mut e = ConfigError::new(
            file,
            "header",
            "expected the columns `customer`, `network` and `handle`",
        );
        e.line = Some(1);
        errors.push(e);
        return;
    };
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
        let get = |i: usize| rec.get(i).unwrap_or("").trim();
        let (id, network) = (get(id_col), get(net_col).to_ascii_lowercase());
        let handle = get(handle_col).trim_start_matches('@');
        let mut fail = |key: String, msg: &str| {
            let mut e = ConfigError::new(file, key, msg);
            e.line = line;
            errors.push(e);
        };
        if id.is_empty() || network.is_empty() || handle.is_empty() {
            fail(
                "row".into(),
                "expected a customer id, a network and a handle",
            );
            continue;
        }
        let Some(c) = customers.iter_mut().find(|c| c.id == id) else {
            fail(
                format!("customer {id}"),
                "not in the CRM export ([matcher] customers)",
            );
            continue;
        };
        let handles = c.handles.entry(network).or_default();
        if !handles.iter().any(|h| h.eq_ignore_ascii_case(handle)) {
            handles.push(handle.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn customer(id: &str) -> Customer {
        Customer {
            id: id.into(),
            name: format!("Account {id}"),
            tier: String::new(),
            domains: Vec::new(),
            handles: Default::default(),
            aliases: Vec::new(),
            owner: String::new(),
            attributes: Default::default(),
        }
    }

    #[test]
    fn links_add_handles_and_name_bad_rows() {
        let mut cs = vec![customer("crm-1"), customer("crm-2")];
        let mut errors = Vec::new();
        apply_links(
            "links.csv",
            "Customer ID,Network,Handle\ncrm-1,X,@jane\ncrm-1,x,JANE\ncrm-2,mastodon,bo@m.social\ncrm-9,x,ghost\ncrm-2,,nobody\n",
            &mut cs,
            &mut errors,
        );
        assert_eq!(cs[0].handles["x"], ["jane"]);
        assert_eq!(cs[1].handles["mastodon"], ["bo@m.social"]);
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert_eq!(
            (errors[0].key.as_str(), errors[0].line),
            ("customer crm-9", Some(5))
        );
        assert_eq!(errors[1].line, Some(6));
        let mut errors = Vec::new();
        apply_links("l.csv", "id,who\n", &mut cs, &mut errors);
        assert!(errors[0].message.contains("`network`"), "{errors:?}");
    }
}
