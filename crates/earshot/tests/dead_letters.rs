//! Issue 12: in the embedded mode the dead-letter topic lives in RAM, so
//! `earshot run` keeps what reaches it in the store's `dead_letters` table,
//! with the reason and the stage, before the stage that dead-lettered it
//! goes on.

use std::process::Command;

#[test]
fn issue_12_embedded_dead_letters_are_kept_in_the_store() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("posts.jsonl"),
        "{\"id\": \"1\", \"text\": \"Acme is fine\"}\nnot json at all\n{\"id\": \"2\", \"text\": \"Acme again\"}\n{\"text\": \"no id\"}\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("earshot.toml"),
        "[sink]\nkind = \"sqlite\"\n[sink.sqlite]\npath = \"store.db\"\n[cursors]\npath = \"cursors.db\"\n\
         [[connectors]]\nname = \"replay\"\nkind = \"file\"\npaths = [\"posts.jsonl\"]\none_shot = true\nprogress = false\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_earshot"))
        .args(["--config", "earshot.toml", "run"])
        .current_dir(dir.path())
        .env_remove("EARSHOT_CONFIG")
        .env("EARSHOT_LOG", "warn")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("dead letters: 2 kept"), "{err}");
    let conn = rusqlite::Connection::open(dir.path().join("store.db")).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT stage, reason, CAST(payload AS TEXT) FROM dead_letters ORDER BY dlq_offset",
        )
        .unwrap();
    let rows: Vec<(String, String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(
        rows.iter()
            .all(|(stage, reason, _)| stage == "connect:replay" && reason.contains("not a post")),
        "{rows:?}"
    );
    assert!(
        rows.iter()
            .any(|(_, _, payload)| payload.contains("not json at all")),
        "{rows:?}"
    );
    let stored: i64 = conn
        .query_row("SELECT COUNT(*) FROM interactions", [], |r| r.get(0))
        .unwrap();
    assert_eq!(stored, 2);
}

/// Found by the fault campaign (tests/faults/run.sh): the table was keyed by
/// the in-memory topic's partition and offset, which start at 0 again in
/// every process run, so after a restart (a crash, an upgrade) new dead
/// letters were ignored as already kept. Two runs on one store keep both
/// runs' dead letters.
#[test]
fn issue_12_embedded_dead_letters_of_a_restarted_process_are_kept_too() {
    let dir = tempfile::tempdir().unwrap();
    let run = |input: &str| {
        std::fs::write(dir.path().join("posts.jsonl"), input).unwrap();
        std::fs::write(
            dir.path().join("earshot.toml"),
            "[sink]\nkind = \"sqlite\"\n[sink.sqlite]\npath = \"store.db\"\n[cursors]\npath = \"cursors.db\"\n\
             [[connectors]]\nname = \"replay\"\nkind = \"file\"\npaths = [\"posts.jsonl\"]\none_shot = true\nprogress = false\n",
        )
        .unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_earshot"))
            .args(["--config", "earshot.toml", "run"])
            .current_dir(dir.path())
            .env_remove("EARSHOT_CONFIG")
            .env("EARSHOT_LOG", "warn")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    // Twenty bad lines per run: every partition of the in-memory topic gets
    // some, from offset 0, in both runs.
    let bad = |run: &str| -> String { (0..20).map(|i| format!("{run} bad line {i}\n")).collect() };
    let first = format!("{{\"id\": \"1\", \"text\": \"Acme\"}}\n{}", bad("first"));
    run(&first);
    // The file grew: the second run reads on from the cursor.
    run(&format!(
        "{first}{{\"id\": \"2\", \"text\": \"Acme\"}}\n{}",
        bad("second")
    ));
    let conn = rusqlite::Connection::open(dir.path().join("store.db")).unwrap();
    let count = |like: &str| -> i64 {
        conn.query_row(
            "SELECT COUNT(*) FROM dead_letters WHERE CAST(payload AS TEXT) LIKE ?1",
            [like],
            |r| r.get(0),
        )
        .unwrap()
    };
    assert_eq!(count("%first bad line%"), 20);
    assert_eq!(
        count("%second bad line%"),
        20,
        "the restarted run's dead letters are kept"
    );
}
