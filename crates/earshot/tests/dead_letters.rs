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
