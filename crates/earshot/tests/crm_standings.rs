//! The CRM-facing advocates and detractors (issue 14, item 3) on the
//! embedded store: `earshot authors --standings --write` stores every
//! brand's advocates and detractors with their posts and the CRM accounts
//! (id, owner) the export ties the handle to, replacing the period's rows;
//! `earshot run --follow` with `[cases]` refreshes them on its schedule
//! (`[cases.standings] every`), as the `earshot cases` daemon does. The
//! table is checked against the store's own counts; one account is linked
//! by the export, another by a manual link file (`[matcher] customer_links`).

#[path = "../../alert/tests/receiver/mod.rs"]
mod receiver;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use earshot_tests::embedded::{file_connector_toml, write_config};
use receiver::Receiver;

/// `(id, handle, text)`: `x:starkops` is Stark Logistics' handle in the
/// bundled export (crm-002, owner Dana Ito).
const POSTS: &[(&str, &str, &str)] = &[
    (
        "x:1",
        "starkops",
        "Acme support is horrible and rude, terrible experience",
    ),
    (
        "x:2",
        "starkops",
        "Acme lost our shipment again, terrible and useless",
    ),
    ("x:3", "starkops", "Acme is a company that exists"),
    (
        "x:4",
        "happy_hal",
        "I love Acme, their support is wonderful and fast",
    ),
    (
        "x:5",
        "happy_hal",
        "Acme is great, amazing product, thank you",
    ),
    ("x:6", "once_only", "Acme is awful"),
];

fn write_posts(path: &Path) {
    let at = chrono::Utc::now() - chrono::Duration::hours(1);
    let lines: String = POSTS
        .iter()
        .enumerate()
        .map(|(n, (id, handle, text))| {
            let published = at + chrono::Duration::minutes(n as i64);
            format!(
                "{}\n",
                serde_json::json!({"id": id, "source": "x", "text": text,
                    "author": {"handle": handle, "reach": 100 * (n + 1)},
                    "published_at": published.to_rfc3339()})
            )
        })
        .collect();
    std::fs::write(path, lines).unwrap();
}

/// The bundled `[matcher]` (paths made absolute), plus a manual link file
/// tying `x:happy_hal` to Tyrell Design (crm-005, owner Lee Wong), an
/// account whose export row does not list that handle.
fn matcher(dir: &Path) -> String {
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config");
    let text = std::fs::read_to_string(config.join("earshot.toml")).unwrap();
    let start = text.find("[matcher]").unwrap();
    let end = start + text[start..].find("\n# ---").unwrap();
    let abs = |rel: &str| format!("\"{}/{rel}", config.display());
    let links = dir.join("links.csv");
    std::fs::write(&links, "Customer ID,Network,Handle\ncrm-005,x,@happy_hal\n").unwrap();
    text[start..end]
        .replace("\"watchlists/", &abs("watchlists/"))
        .replace("\"lexicons/", &abs("lexicons/"))
        .replace("\"intents.toml", &abs("intents.toml"))
        .replace("\"routes.toml", &abs("routes.toml"))
        .replacen(
            "[matcher]\n",
            &format!("[matcher]\ncustomer_links = [\"{}\"]\n", links.display()),
            1,
        )
}

fn config(dir: &Path, posts: &Path) -> std::path::PathBuf {
    let connector = file_connector_toml("posts", posts, "one_shot = true\nprogress = false\n");
    let cases = r#"[cases]
enabled = true
url_env = "ISSUE14_STANDINGS_CRM_URL"
secret_env = "ISSUE14_STANDINGS_CRM_SECRET"
[cases.standings]
every = "1s"
periods = ["1d"]
"#;
    write_config(
        &dir.join("earshot.toml"),
        dir,
        &matcher(dir),
        &format!("{connector}{cases}"),
    )
}

fn earshot(config: &Path, args: &[&str], crm: &str) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_earshot"))
        .args(["--config", config.to_str().unwrap()])
        .args(args)
        .env("EARSHOT_LOG", "warn")
        .env("ISSUE14_STANDINGS_CRM_URL", crm)
        .env("ISSUE14_STANDINGS_CRM_SECRET", "s")
        .output()
        .unwrap()
}

/// `(period, standing, brand, author) → (posts, post_ids, customers, owners)`.
type Table = BTreeMap<(String, String, String, String), (i64, String, String, String)>;

fn table(db: &Path) -> Table {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT period, standing, brand, source || ':' || author_handle, posts, post_ids,
                    customer_ids, account_owners FROM crm_standings_current",
        )
        .unwrap();
    stmt.query_map([], |r| {
        Ok((
            (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?),
            (r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?),
        ))
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

/// The store's own advocates and detractors: 2+ posts about a brand with
/// that entity sentiment, and each one's posts, newest first.
fn expected(db: &Path, period: &str) -> BTreeMap<(String, String, String, String), (i64, String)> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT CASE m.sentiment_label WHEN 'positive' THEN 'advocate' ELSE 'detractor' END,
                    m.entity_id, i.source || ':' || i.author_handle, COUNT(*),
                    json_group_array(m.post_id)
             FROM (SELECT * FROM mentions ORDER BY event_time DESC) m
             JOIN interactions i ON i.post_id = m.post_id
             WHERE m.sentiment_label IN ('positive', 'negative') AND m.entity_kind IN ('brand', 'competitor')
             GROUP BY 1, 2, 3 HAVING COUNT(*) >= 2",
        )
        .unwrap();
    stmt.query_map([], |r| {
        Ok((
            (period.to_string(), r.get(0)?, r.get(1)?, r.get(2)?),
            (r.get(3)?, r.get(4)?),
        ))
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

fn check(db: &Path, period: &str) {
    let got = table(db);
    let want = expected(db, period);
    assert_eq!(
        got.iter()
            .map(|(k, v)| (k.clone(), (v.0, v.1.clone())))
            .collect::<BTreeMap<_, _>>(),
        want
    );
    // The detractor the export links to an account carries its id and owner.
    let stark = got
        .iter()
        .find(|(k, _)| k.1 == "detractor" && k.3 == "x:starkops")
        .unwrap_or_else(|| panic!("x:starkops is no detractor: {got:?}"));
    assert_eq!(
        (stark.1 .2.as_str(), stark.1 .3.as_str()),
        (r#"["crm-002"]"#, r#"["Dana Ito"]"#)
    );
    // The advocate the link file ties to an account.
    let hal = got
        .iter()
        .find(|(k, _)| k.1 == "advocate" && k.3 == "x:happy_hal")
        .unwrap_or_else(|| panic!("x:happy_hal is no advocate: {got:?}"));
    assert_eq!(
        (hal.1 .2.as_str(), hal.1 .3.as_str()),
        (r#"["crm-005"]"#, r#"["Lee Wong"]"#)
    );
    assert!(!got.keys().any(|k| k.3 == "x:once_only"), "{got:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_14_crm_standings_by_command_and_on_the_cases_schedule() {
    let dir = tempfile::tempdir().unwrap();
    let posts = dir.path().join("posts.jsonl");
    write_posts(&posts);
    let config = config(dir.path(), &posts);
    let db = dir.path().join("store.db");
    let crm = Receiver::start().await;
    let crm_url = crm.url("/cases");

    let out = earshot(&config, &["run"], &crm_url);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A profile names the accounts the handle is tied to, with their owners:
    // by the export, and by the link file.
    for (author, account) in [
        ("x:starkops", "crm-002 (owner Dana Ito)"),
        ("x:happy_hal", "crm-005 (owner Lee Wong)"),
    ] {
        let out = earshot(&config, &["authors", "--author", author], &crm_url);
        let text = String::from_utf8_lossy(&out.stdout);
        // The last column, its wrapped pieces joined.
        let last: Vec<&str> = text
            .lines()
            .filter_map(|l| l.rsplit('┆').next().filter(|_| l.contains('┆')))
            .map(|c| c.trim_matches(|c: char| c.is_whitespace() || c == '│'))
            .collect();
        assert!(
            last.join(" ").contains(account),
            "{author}: {account} not in {last:?}\n{text}"
        );
    }

    // By command: printed, then written as the period `7d`.
    let out = earshot(
        &config,
        &["authors", "--standings", "--write", "--since", "7d"],
        &crm_url,
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("Dana Ito") && text.contains("crm-002"),
        "{text}"
    );
    assert!(
        text.contains("wrote") && text.contains("period 7d"),
        "{text}"
    );
    check(&db, "7d");
    // A refresh replaces the period's rows: a narrower window that holds
    // none of the posts leaves the period empty.
    let out = earshot(
        &config,
        &[
            "authors",
            "--standings",
            "--write",
            "--since",
            "7d",
            "--until",
            "2020-01-01T00:00:00Z",
        ],
        &crm_url,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(table(&db).is_empty(), "{:?}", table(&db));
    // --write needs every brand and author.
    let out = earshot(
        &config,
        &["authors", "--standings", "--write", "--brand", "acme"],
        &crm_url,
    );
    assert_eq!(out.status.code(), Some(2));

    // On the schedule: `run --follow` with [cases] refreshes period `1d`
    // every second while it runs.
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_earshot"))
        .args(["--config", config.to_str().unwrap(), "run", "--follow"])
        .env("EARSHOT_LOG", "warn")
        .env("ISSUE14_STANDINGS_CRM_URL", &crm_url)
        .env("ISSUE14_STANDINGS_CRM_SECRET", "s")
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !table(&db).keys().any(|k| k.0 == "1d") {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no refresh of period 1d within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let pid = child.id().unwrap().to_string();
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(sent.success());
    let status = tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .expect("run --follow exits on SIGTERM")
        .unwrap();
    assert!(status.success(), "{status:?}");
    check(&db, "1d");
}
