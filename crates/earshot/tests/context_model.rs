//! Issue 16 item 1 through the CLI: `earshot train-context` writes the
//! context model from posts files, labels, and the store's posts and
//! "wrong match" feedback; `earshot score` explains its decisions; a running
//! `earshot run --follow` reloads the model file when it changes.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Output;
use std::time::Duration;

use earshot_tests::process::Daemon;
use earshot_tests::webhook::{self, free_port, wait_listening};

const BRANDS: &str = r#"
[[brand]]
id = "delta"
name = "Delta"
handles = ["delta"]
context = ["flight", "@delta"]
exclude = ["delta river"]
negative_context = ["fishing"]
"#;

const MATCHER: &str = "[matcher]\nbrands = [\"brands.toml\"]\ncontext_model = \"model.json\"\n";

/// Posts the watchlist's rules decide (about the airline: a context word
/// or the handle; not: the exclude phrase or the negative context), plus
/// one bare name they cannot.
fn posts() -> String {
    let travel = [
        "lost my suitcase",
        "the crew were lovely",
        "boarding took ages",
        "my suitcase never arrived",
        "crew upgraded me",
        "boarding at gate 12",
        "suitcase damaged again",
    ];
    let river = [
        "sediment everywhere",
        "the water rose overnight",
        "sediment and mangroves",
        "water birds at dawn",
        "mangroves are protected",
        "the water is brown",
    ];
    let mut out = String::new();
    let mut line = |id: String, text: String| {
        out.push_str(&serde_json::json!({"id": id, "text": text, "lang": "en"}).to_string());
        out.push('\n');
    };
    for (i, t) in travel.iter().enumerate() {
        let text = if i % 2 == 0 {
            format!("Delta flight: {t}")
        } else {
            format!("@delta {t}")
        };
        line(format!("x:p{i}"), text);
    }
    for (i, t) in river.iter().enumerate() {
        let text = if i % 2 == 0 {
            format!("the Delta river: {t}")
        } else {
            format!("fishing on the Delta, {t}")
        };
        line(format!("x:n{i}"), text);
    }
    line("x:u1".into(), "Delta again, sediment and suitcase".into());
    out
}

fn earshot(dir: &std::path::Path, args: &[&str], stdin: &str) -> std::process::Output {
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_earshot"));
    earshot_tests::process::output_with_stdin(
        earshot_tests::process::command(bin, dir, args),
        stdin,
    )
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The cells of the table row whose first cell is `key`.
fn row(text: &str, key: &str) -> Vec<String> {
    text.lines()
        .map(|l| {
            l.split(['│', '┆'])
                .map(|c| c.trim().to_string())
                .collect::<Vec<_>>()
        })
        .find(|cells| cells.get(1).is_some_and(|c| c == key))
        .unwrap_or_else(|| panic!("no row {key} in\n{text}"))[2..]
        .to_vec()
}

fn rules(scored: &str) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_str(scored.lines().next().unwrap()).unwrap();
    v["matches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["rule"].as_str().unwrap().to_string())
        .collect()
}

const BARE: &str = "{\"id\": \"x:b\", \"text\": \"Delta lost my suitcase, the crew shrugged\", \"lang\": \"en\"}\n";

#[test]
fn issue_16_train_context_through_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("earshot.toml"), MATCHER).unwrap();
    std::fs::write(d.join("brands.toml"), BRANDS).unwrap();
    std::fs::write(d.join("posts.jsonl"), posts()).unwrap();
    std::fs::write(
        d.join("labels.jsonl"),
        "{\"id\": \"x:l1\", \"text\": \"Delta crew and suitcase again\", \"labels\": {\"entities\": [\"delta\"]}}\n",
    )
    .unwrap();
    let config = ["--config", "earshot.toml"];
    let train = |extra: &[&str]| {
        let mut args = config.to_vec();
        args.extend([
            "train-context",
            "--posts",
            "posts.jsonl",
            "--min-posts",
            "1",
        ]);
        args.extend(extra);
        earshot(d, &args, "")
    };

    let summary = ok(&train(&["--labels", "labels.jsonl"]));
    assert!(summary.contains("Context model written to"), "{summary}");
    // About / not about, from labels, feedback, rules, words, used.
    let r = row(&summary, "delta");
    assert_eq!(r[..5], ["8", "6", "1 / 0", "0 / 0", "7 / 6"], "{summary}");
    assert_eq!(r[6], "yes", "{summary}");
    let first = std::fs::read(d.join("model.json")).unwrap();
    ok(&train(&["--labels", "labels.jsonl"]));
    assert_eq!(
        first,
        std::fs::read(d.join("model.json")).unwrap(),
        "not deterministic"
    );

    // The bare name now counts, with the words that tipped it.
    let scored = ok(&earshot(d, &[config[0], config[1], "score"], BARE));
    let r = rules(&scored);
    assert_eq!(r.len(), 1, "{scored}");
    assert!(
        r[0].contains("context model") && r[0].contains("suitcase"),
        "{scored}"
    );
    // `check` accepts it; `--out` writes elsewhere.
    ok(&earshot(d, &[config[0], config[1], "check"], ""));
    ok(&train(&["--out", "other.json"]));
    assert!(d.join("other.json").exists());

    // Bad input: the file and line; nothing to train from; nowhere to write.
    std::fs::write(d.join("bad.jsonl"), format!("{}{{\"text\": 1}}\n", posts())).unwrap();
    let out = earshot(
        d,
        &[
            "--config",
            "earshot.toml",
            "train-context",
            "--posts",
            "bad.jsonl",
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.jsonl:15: not a post"), "{err}");
    let out = earshot(d, &["--config", "earshot.toml", "train-context"], "");
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing to train from"));
    std::fs::write(
        d.join("plain.toml"),
        "[matcher]\nbrands = [\"brands.toml\"]\n",
    )
    .unwrap();
    let out = earshot(
        d,
        &[
            "--config",
            "plain.toml",
            "train-context",
            "--posts",
            "posts.jsonl",
        ],
        "",
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("give --out"));
    assert_eq!(
        first,
        std::fs::read(d.join("model.json")).unwrap(),
        "a failed run wrote"
    );
}

#[test]
fn issue_16_train_context_reads_the_store_and_wrong_match_feedback() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("brands.toml"), BRANDS).unwrap();
    std::fs::write(d.join("posts.jsonl"), posts()).unwrap();
    std::fs::write(
        d.join("earshot.toml"),
        format!(
            "{MATCHER}[sink]\nkind = \"sqlite\"\n[sink.sqlite]\npath = \"store.db\"\n\
             [cursors]\npath = \"cursors.db\"\n\
             [[connectors]]\nname = \"backfill\"\nkind = \"file\"\npaths = [\"posts.jsonl\"]\none_shot = true\n"
        ),
    )
    .unwrap();
    // No model yet: the store is filled by the rules alone.
    std::fs::write(
        d.join("model.json"),
        "{\"format\": \"earshot-context-model\", \"version\": 1, \"brands\": {}}",
    )
    .unwrap();
    ok(&earshot(d, &["--config", "earshot.toml", "run"], ""));
    // An analyst marks one of the handle posts wrong in the console.
    let conn = rusqlite::Connection::open(d.join("store.db")).unwrap();
    conn.execute(
        "INSERT INTO match_feedback (post_id, entity_id, verdict, analyst, note, at) VALUES ('x:p1', 'delta', 'wrong', 'ana', '', 0)",
        [],
    )
    .unwrap();
    drop(conn);
    let summary = ok(&earshot(
        d,
        &[
            "--config",
            "earshot.toml",
            "train-context",
            "--store",
            "--min-posts",
            "1",
        ],
        "",
    ));
    let r = row(&summary, "delta");
    // x:p1 counts once, as feedback (not about), not also by its handle.
    assert_eq!(r[..5], ["6", "7", "0 / 0", "0 / 1", "6 / 6"], "{summary}");
    let scored = ok(&earshot(d, &["--config", "earshot.toml", "score"], BARE));
    assert!(rules(&scored)[0].contains("context model"), "{scored}");
}

const SECRET_ENV: &str = "EARSHOT_TEST_CONTEXT_HOOK_SECRET";
const SECRET: &[u8] = b"context-secret";

/// The brands the store recorded for `post_id`.
fn brands_of(db: &Path, post_id: &str) -> Vec<String> {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    let mut stmt = conn
        .prepare("SELECT entity_id FROM mentions WHERE post_id = ?1 ORDER BY entity_id")
        .unwrap();
    stmt.query_map([post_id], |r| r.get::<_, String>(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn issue_16_context_model_change_reloads_a_running_run_follow() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("brands.toml"), BRANDS).unwrap();
    std::fs::write(d.join("posts.jsonl"), posts()).unwrap();
    std::fs::write(
        d.join("model.json"),
        "{\"format\": \"earshot-context-model\", \"version\": 1, \"brands\": {}}",
    )
    .unwrap();
    let port = free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let config = webhook::embedded_webhook_config(d, port, SECRET_ENV, MATCHER);
    std::env::set_var(SECRET_ENV, std::str::from_utf8(SECRET).unwrap());
    let bin = Path::new(env!("CARGO_BIN_EXE_earshot"));
    let mut run = Daemon::spawn(bin, &config, &["run", "--follow"], d, "run");
    wait_listening(addr, &mut run);
    let send = |run: &Daemon, id: &str| {
        let body = serde_json::json!({"id": id, "text": "Delta lost my suitcase, the crew shrugged", "lang": "en"});
        let status = webhook::post(addr, "/ingest", SECRET, body.to_string().as_bytes());
        assert_eq!(status, Some(202), "{}", run.log());
    };
    send(&run, "b1");
    assert!(brands_of(&d.join("store.db"), "webhook:b1").is_empty());

    // The trainer writes the configured file; the running matcher takes it.
    ok(&earshot(
        d,
        &[
            "--config",
            "earshot.toml",
            "train-context",
            "--posts",
            "posts.jsonl",
            "--min-posts",
            "1",
        ],
        "",
    ));
    run.wait_for_log("watchlists reloaded", 1, Duration::from_secs(60));
    send(&run, "b2");
    assert_eq!(brands_of(&d.join("store.db"), "webhook:b2"), ["delta"]);
    let (status, _) = run.terminate(Duration::from_secs(30));
    assert!(status.success(), "{status}\n{}", run.log());
}
