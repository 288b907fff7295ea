//! Routes that know the customer (issue 14, item 6), through `earshot check`
//! and `earshot score`: a CRM export under its own column names (account
//! owner, tier, `Twitter`, aliases, other columns kept as attributes), and
//! route rules naming brands, customers, owners and account attributes.

use std::path::Path;

fn earshot(dir: &std::path::Path, args: &[&str], stdin: &str) -> std::process::Output {
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_earshot"));
    earshot_tests::process::output_with_stdin(
        earshot_tests::process::command(bin, dir, args),
        stdin,
    )
}

const EXPORT: &str =
    "Account ID,Account Name,Account Tier,Account Owner,Twitter,Aliases,Region,ARR\n\
a-1,Globex Corporation,Enterprise,Ann Lee,globex,Globex Corp,EMEA,120000\n\
a-2,Initech,Business,Bill Lumbergh,initech,,AMER,40000\n";

const ROUTES: &str = r#"
[[rule]]
name = "key-account-emea"
customers = ["a-1"]
attributes = { region = ["emea", "apac"] }
route = "sales"
priority = 70

[[rule]]
name = "acme-mention"
brands = ["acme"]
route = "marketing"
priority = 30

[[boost]]
name = "ann-accounts"
owners = ["ann lee"]
add = 5
"#;

fn setup(routes: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let w = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
    w(
        "earshot.toml",
        "[matcher]\nbrands = [\"brands.toml\"]\ncustomers = [\"crm.csv\"]\nroutes = \"routes.toml\"\ndetect_language = false\n",
    );
    w(
        "brands.toml",
        "[[brand]]\nid = \"acme\"\nname = \"Acme\"\naliases = [\"acme\"]\n",
    );
    w("crm.csv", EXPORT);
    w("routes.toml", routes);
    dir
}

fn score(dir: &Path, posts: &[serde_json::Value]) -> Vec<serde_json::Value> {
    let input: String = posts.iter().map(|p| format!("{p}\n")).collect();
    let out = earshot(dir, &["--config", "earshot.toml", "score"], &input);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn issue_14_routes_name_brands_customers_owners_and_attributes() {
    let dir = setup(ROUTES);
    let out = score(
        dir.path(),
        &[
            // The customer by its author handle (the export's `Twitter` column).
            serde_json::json!({"id": "x:1", "text": "hello acme", "author": {"handle": "globex"}}),
            // No customer: the brand rule.
            serde_json::json!({"id": "x:2", "text": "acme is nice"}),
            // The customer by an alias from the export.
            serde_json::json!({"id": "x:3", "text": "Globex Corp rocks"}),
            // A customer outside the rule's regions, and no brand.
            serde_json::json!({"id": "x:4", "text": "Initech again"}),
        ],
    );
    let route = |i: usize| {
        (
            out[i]["route"].as_str().unwrap().to_string(),
            out[i]["priority"].as_u64().unwrap(),
        )
    };
    assert_eq!(route(0), ("sales".into(), 75), "{}", out[0]);
    let reasons = out[0]["priority_reasons"].to_string();
    for part in [
        "customer=a-1",
        "region=EMEA",
        "boost ann-accounts: owner=Ann Lee (+5)",
    ] {
        assert!(reasons.contains(part), "{part} not in {reasons}");
    }
    assert_eq!(route(1), ("marketing".into(), 30), "{}", out[1]);
    assert!(out[1]["priority_reasons"]
        .to_string()
        .contains("brand=acme"));
    assert_eq!(route(2), ("sales".into(), 75), "{}", out[2]);
    assert_eq!(route(3), ("none".into(), 0), "{}", out[3]);
}

#[test]
fn issue_14_check_names_unknown_ids_and_notes_kept_columns() {
    let dir = setup(ROUTES);
    let out = earshot(dir.path(), &["--config", "earshot.toml", "check"], "");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("note: crm.csv:1: header: column(s) region, arr kept as account attributes"),
        "{text}"
    );

    let typo = ROUTES
        .replace("[\"acme\"]", "[\"acmee\"]")
        .replace("[\"a-1\"]", "[\"a-9\"]");
    let dir = setup(&typo);
    let out = earshot(dir.path(), &["--config", "earshot.toml", "check"], "");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains(
            "routes.toml:10: rule acme-mention: brands: `acmee` is no brand or competitor id"
        ),
        "{text}"
    );
    assert!(
        text.contains("routes.toml:3: rule key-account-emea: customers: `a-9` is no customer id"),
        "{text}"
    );
}
