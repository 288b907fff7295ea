//! `earshot run --follow` stopped by SIGTERM while its file connector is in
//! the middle of a large replay: the matcher and the sink stop first, so the
//! connector's produces still waiting for them were never going to be
//! acknowledged. The process must end anyway (the waits fail, the cursor
//! does not move), and a second run must store every post once.

use std::path::Path;
use std::time::Duration;

use earshot_tests::embedded::{file_connector_toml, write_config};
use earshot_tests::process::Daemon;

const POSTS: usize = 60_000;

fn stored(db: &Path) -> (u64, u64) {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    conn.query_row(
        "SELECT COUNT(*), COUNT(DISTINCT post_id) FROM interactions",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .unwrap()
}

#[test]
fn issue_12_sigterm_mid_replay_ends_the_embedded_run_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let posts = dir.path().join("posts.jsonl");
    let lines: String = (0..POSTS)
        .map(|n| format!("{{\"id\": \"{n}\", \"text\": \"Acme support answered me ({n})\"}}\n"))
        .collect();
    std::fs::write(&posts, lines).unwrap();
    let db = dir.path().join("store.db");
    let config = write_config(
        &dir.path().join("earshot.toml"),
        dir.path(),
        "",
        &file_connector_toml("replay", &posts, ""),
    );
    let bin = Path::new(env!("CARGO_BIN_EXE_earshot"));
    for round in 0..3 {
        let name = format!("follow-{round}");
        let mut run = Daemon::spawn_with_env(
            bin,
            &config,
            &["run", "--follow"],
            dir.path(),
            &name,
            &[("EARSHOT_METRICS_ADDR", "off")],
        );
        run.wait_for_log("connector starting", 1, Duration::from_secs(60));
        // Mid-replay: the first pages are on the bus, the rest not yet read.
        std::thread::sleep(Duration::from_millis(300 + 200 * round));
        let (status, took) = run.terminate(Duration::from_secs(40));
        assert!(status.success(), "round {round}: {status:?}\n{}", run.log());
        assert!(took < Duration::from_secs(30), "round {round}: {took:?}");
    }
    // A run to the end stores what the stopped ones left: every post, once.
    let out = std::process::Command::new(bin)
        .arg("--config")
        .arg(&config)
        .args(["run", "--once"])
        .current_dir(dir.path())
        .env("EARSHOT_METRICS_ADDR", "off")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stored(&db), (POSTS as u64, POSTS as u64));
}
