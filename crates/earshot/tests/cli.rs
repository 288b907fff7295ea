//! Black-box tests of `earshot check` and the embedded `earshot run`.

use std::path::Path;
use std::process::{Command, Output};

fn earshot(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_earshot"))
        .args(args)
        .current_dir(dir)
        .env_remove("EARSHOT_CONFIG")
        .env_remove("EARSHOT_KAFKA_BROKERS")
        .env("EARSHOT_LOG", "warn")
        .output()
        .expect("run earshot")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn issue_2_check_accepts_the_bundled_config() {
    let dir = tempfile::tempdir().unwrap();
    let out = earshot(dir.path(), &["check"]);
    assert!(out.status.success(), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("OK (watchlist version"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn issue_2_check_reports_every_problem_with_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.toml"),
        r#"
[matcher]
brands = ["brands.toml"]
[transport.kafka]
brokers = "nohost"
compression = "snappy"
[[connectors]]
name = "feeds"
kind = "rss"
feeds = []
"#,
    )
    .unwrap();
    std::fs::write(
        dir.path().join("brands.toml"),
        "[[brand]]\nid = \"acme\"\nname = \"Acme\"\nquery = 'acme AND'\n",
    )
    .unwrap();
    let out = earshot(dir.path(), &["check", "--config", "bad.toml"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    for expected in [
        "bad.toml: transport.kafka.brokers: `nohost`: expected host:port",
        "bad.toml: transport.kafka.compression: `snappy`: expected one of none, gzip, lz4, zstd",
        "bad.toml: connectors[0].feeds",
        "brands.toml:4:",
        "brand acme: query",
    ] {
        assert!(text.contains(expected), "missing `{expected}` in:\n{text}");
    }
}

#[test]
fn issue_2_unknown_keys_are_refused_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("typo.toml"), "[sink]\nkindd = \"sqlite\"\n").unwrap();
    let out = earshot(dir.path(), &["check", "--config", "typo.toml"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("typo.toml") && text.contains("kindd"),
        "{text}"
    );
}

/// The README's first command: the embedded default replays the bundled
/// samples into SQLite and prints the report; a second run resumes from the
/// cursor and refetches nothing, while the report still shows every post.
#[test]
fn issue_3_embedded_run_stores_every_sample_once() {
    let dir = tempfile::tempdir().unwrap();
    let samples = include_str!("../../../config/samples/posts.jsonl")
        .lines()
        .count();

    let first = earshot(dir.path(), &["run"]);
    let err = String::from_utf8_lossy(&first.stderr);
    assert!(first.status.success(), "{err}");
    assert!(
        err.contains(&format!("connectors: {samples} produced")),
        "{err}"
    );
    assert!(
        err.contains(&format!("{samples} received, {samples} scored")),
        "{err}"
    );
    assert!(
        stdout(&first).contains("Share of voice"),
        "{}",
        stdout(&first)
    );

    let second = earshot(dir.path(), &["run"]);
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(second.status.success(), "{err}");
    assert!(err.contains("connectors: 0 produced"), "{err}");

    let conn = rusqlite::Connection::open(dir.path().join(".earshot/earshot.db")).unwrap();
    let (rows, distinct): (i64, i64) = conn
        .query_row(
            "SELECT count(*), count(DISTINCT post_id) FROM interactions",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((rows, distinct), (samples as i64, samples as i64));
}

/// The production example in deploy/ stays valid as the config grows.
#[test]
fn issue_3_production_example_config_is_valid() {
    let dir = tempfile::tempdir().unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    for sub in ["watchlists", "lexicons"] {
        std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        for entry in std::fs::read_dir(repo.join("config").join(sub)).unwrap() {
            let path = entry.unwrap().path();
            std::fs::copy(&path, dir.path().join(sub).join(path.file_name().unwrap())).unwrap();
        }
    }
    for file in ["intents.toml", "routes.toml"] {
        std::fs::copy(repo.join("config").join(file), dir.path().join(file)).unwrap();
    }
    std::fs::copy(
        repo.join("deploy/earshot.production.toml"),
        dir.path().join("earshot.toml"),
    )
    .unwrap();
    let out = earshot(dir.path(), &["check", "--config", "earshot.toml"]);
    assert!(out.status.success(), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("kafka at kafka-1.internal:9092"),
        "{}",
        stdout(&out)
    );
}
