//! Cases to the CRM (issue 14, item 5), end to end: `earshot run` on the
//! embedded store with `[cases]` sends every interaction that needs a person
//! to a loopback CRM receiver that fails sometimes; each case arrives
//! signed, under one idempotency key across retries, and is recorded once; a
//! second pass over the same posts sends nothing; a case the CRM refuses is
//! recorded as failed with the reason.

#[path = "../../alert/tests/receiver/mod.rs"]
mod receiver;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Output;

use earshot_tests::embedded::{file_connector_toml, write_config};
use receiver::{verify, Answer, Receiver};

const SECRET: &str = "cases-secret";

const POSTS: &[&str] = &[
    "If Acme doesn't fix this data leak we will talk to our lawyer",
    "Acme support never answers, worst service ever, I'm so angry",
    "Acme is a company that exists",
    "Acme leaked my data, this is a scandal, calling the press",
    "Nice weather today",
];

fn write_posts(path: &Path, prefix: &str, texts: &[&str]) {
    let lines: String = texts
        .iter()
        .enumerate()
        .map(|(n, t)| {
            format!(
                "{}\n",
                serde_json::json!({"id": format!("{prefix}{n}"), "text": t})
            )
        })
        .collect();
    std::fs::write(path, lines).unwrap();
}

fn config(dir: &Path, connector: &str, posts: &Path) -> std::path::PathBuf {
    let connector_toml =
        file_connector_toml(connector, posts, "one_shot = true\nprogress = false\n");
    let cases = r#"[cases]
enabled = true
url_env = "ISSUE14_CRM_URL"
secret_env = "ISSUE14_CRM_SECRET"
min_priority = 50
[cases.delivery]
timeout = "2s"
max_attempts = 4
initial_backoff = "20ms"
max_backoff = "100ms"
"#;
    let path = dir.join(format!("{connector}.toml"));
    write_config(&path, dir, "", &format!("{connector_toml}{cases}"))
}

async fn run(config: &Path, r: &Receiver) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_earshot"))
        .args(["--config", config.to_str().unwrap(), "run"])
        .env("EARSHOT_LOG", "warn")
        .env("ISSUE14_CRM_URL", r.url("/cases"))
        .env("ISSUE14_CRM_SECRET", SECRET)
        .output()
        .await
        .unwrap()
}

/// `post_id → (priority, status, last_error)` of the case record.
fn cases(dir: &Path) -> BTreeMap<String, (u8, String, String)> {
    let conn = rusqlite::Connection::open(dir.join("store.db")).unwrap();
    let mut stmt = conn
        .prepare("SELECT post_id, priority, status, last_error FROM cases")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?, r.get(3)?))))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn needing_a_case(dir: &Path) -> BTreeSet<String> {
    let conn = rusqlite::Connection::open(dir.join("store.db")).unwrap();
    let mut stmt = conn
        .prepare("SELECT post_id FROM interactions WHERE route != 'none' AND priority >= 50")
        .unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_14_cases_reach_the_crm_once_signed_and_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let posts = dir.path().join("a.jsonl");
    write_posts(&posts, "a", POSTS);
    let r = Receiver::start().await;
    // The CRM fails three times (500, a 429 asking to wait, 503) then accepts.
    r.script([
        Answer::Status(500),
        Answer::RetryAfter(0),
        Answer::Status(503),
    ]);
    let out = run(&config(dir.path(), "first", &posts), &r).await;
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");

    let expected = needing_a_case(dir.path());
    assert!(
        expected.len() >= 2 && expected.len() < POSTS.len(),
        "{expected:?}"
    );
    let requests = r.requests_to("/cases");
    assert_eq!(requests.len(), expected.len() + 3, "{requests:?}");
    let mut keys: BTreeMap<String, String> = BTreeMap::new();
    for q in &requests {
        verify(q, SECRET.as_bytes()).unwrap();
        let case = q.json();
        let key = q.header("idempotency-key").unwrap().to_string();
        assert_eq!(case["case_id"], key.as_str());
        let post = case["post_id"].as_str().unwrap().to_string();
        assert_eq!(key, format!("{post}:{}", case["priority"]));
        assert!(case["reasons"].as_array().is_some_and(|r| !r.is_empty()));
        assert_eq!(case["brands"][0], "acme");
        // Retries carry the same key.
        assert_eq!(keys.entry(post).or_insert(key.clone()), &key);
    }
    assert_eq!(keys.keys().cloned().collect::<BTreeSet<_>>(), expected);
    let recorded = cases(dir.path());
    assert_eq!(recorded.keys().cloned().collect::<BTreeSet<_>>(), expected);
    assert!(
        recorded.values().all(|(_, s, _)| s == "sent"),
        "{recorded:?}"
    );
    assert!(
        err.contains(&format!("cases:      {} sent, 0 failed", expected.len())),
        "{err}"
    );

    // The same posts again (another connector re-reads the file): nothing sent twice.
    r.clear();
    let out = run(&config(dir.path(), "second", &posts), &r).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(r.requests().is_empty(), "{:?}", r.requests());

    // A case the CRM refuses (400) is recorded as failed with the reason.
    let refused = dir.path().join("b.jsonl");
    write_posts(&refused, "b", &[POSTS[0]]);
    r.otherwise(Answer::Status(400));
    let out = run(&config(dir.path(), "third", &refused), &r).await;
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert_eq!(r.requests().len(), 1, "a 400 is not retried");
    let (_, status, reason) = &cases(dir.path())["file:b0"];
    assert_eq!(status, "failed");
    assert!(reason.contains("HTTP 400"), "{reason}");
    assert!(err.contains("0 sent, 1 failed"), "{err}");
}

#[test]
fn issue_14_cases_without_the_crm_variables_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let posts = dir.path().join("a.jsonl");
    write_posts(&posts, "a", POSTS);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_earshot"))
        .args([
            "--config",
            config(dir.path(), "x", &posts).to_str().unwrap(),
            "run",
        ])
        .env("EARSHOT_LOG", "warn")
        .env_remove("ISSUE14_CRM_URL")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("set the environment variable ISSUE14_CRM_URL"),
        "{err}"
    );
}
