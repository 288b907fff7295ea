//! Issue 11: `kill -9` of `earshot connect` (the built binary) in the middle
//! of a file replay to the real broker. The file connector keeps no record
//! per post: its cursor is the position plus the chunks acknowledged beyond
//! it. After the restart every post is in the raw topic, the replay resumed
//! mid-file, and no line the saved cursor covered at the kill was produced
//! again (only chunks acknowledged but not yet recorded may come twice).

use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use earshot_model::Post;
use earshot_tests::kafka::TopicReader;
use earshot_tests::process::Daemon;

const POSTS: usize = 60_000;
/// Lines a chunk, and the chunks the file connector keeps in flight
/// (`CHUNKS_IN_FLIGHT` of the file source).
const BATCH: usize = 100;
const CHUNKS_IN_FLIGHT: usize = 4;

fn post_id(i: usize) -> String {
    format!("kill11:{i}")
}

/// The lines (1-based) the saved cursor covers, and its position's line.
fn covered(cursors_db: &Path) -> (HashSet<u64>, u64, usize) {
    let db = rusqlite::Connection::open(cursors_db).unwrap();
    let value: String = db
        .query_row(
            "SELECT value FROM cursors WHERE connector = 'replay'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let seen: usize = db
        .query_row("SELECT count(*) FROM seen", [], |r| r.get(0))
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&value).unwrap();
    let base = v["line"].as_u64().unwrap();
    let mut lines: HashSet<u64> = (1..=base).collect();
    for span in v["done"].as_array().into_iter().flatten() {
        let (from, to) = (span[0].as_u64().unwrap(), span[2].as_u64().unwrap());
        lines.extend(from + 1..=to);
    }
    (lines, base, seen)
}

#[test]
fn issue_11_kill_9_mid_replay_resumes_mid_file_and_redoes_no_recorded_line() {
    let Some(brokers) = earshot_tests::kafka() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let raw = earshot_tests::unique_name("kill11_raw");
    let data = dir.path().join("posts.jsonl");
    let mut text = Vec::new();
    for i in 0..POSTS {
        text.extend_from_slice(&Post::new(post_id(i), format!("post number {i}")).to_json());
        text.push(b'\n');
    }
    std::fs::write(&data, text).unwrap();
    let cursors = dir.path().join("cursors.db");
    let config = dir.path().join("earshot.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[transport.kafka]
brokers = "{brokers}"

[transport.topics]
raw = "{raw}"
scored = "{raw}_scored"
dead_letter = "{raw}_dlq"
partitions = 3

[cursors]
path = "{cursors}"

[[connectors]]
name = "replay"
kind = "file"
paths = ["{data}"]
batch_size = {BATCH}
poll_interval_secs = 0.2
progress = false
"#,
            cursors = cursors.display(),
            data = data.display(),
        ),
    )
    .unwrap();
    let bin = Path::new(env!("CARGO_BIN_EXE_earshot"));
    let mut first = Daemon::spawn(bin, &config, &["connect"], dir.path(), "connect-1");
    let reader = TopicReader::start(&brokers, &raw, 3, false);
    reader.wait_until(
        Duration::from_secs(120),
        "a first part of the posts",
        |d, _| d >= 3_000,
    );
    first.kill9();
    let (lines, base, seen) = covered(&cursors);
    println!(
        "killed with {} posts in raw; cursor at line {base}, {} lines covered",
        reader.distinct(),
        lines.len()
    );
    assert!(
        base > 0 && (base as usize) < POSTS,
        "the kill must come mid-file, after a saved cursor: line {base}"
    );
    assert_eq!(seen, 0, "no id recorded per post");

    let mut second = Daemon::spawn(bin, &config, &["connect"], dir.path(), "connect-2");
    reader.wait_until(Duration::from_secs(300), "every post in raw", |d, _| {
        d >= POSTS
    });
    // Settle: anything produced twice after the last new key arrives too.
    std::thread::sleep(Duration::from_secs(2));
    let (status, _) = second.terminate(Duration::from_secs(30));
    assert!(status.success(), "{status}: {}", second.log());

    let counts = reader.counts();
    assert_eq!(counts.len(), POSTS, "only the file's posts");
    let mut redone = 0;
    for i in 0..POSTS {
        let n = counts.get(&post_id(i)).copied().unwrap_or(0);
        assert!(n >= 1, "{} lost", post_id(i));
        let line = i as u64 + 1;
        assert!(
            n == 1 || !lines.contains(&line),
            "line {line} was recorded before the kill but produced {n} times"
        );
        redone += n as usize - 1;
    }
    println!("{redone} posts produced twice (acknowledged, not yet recorded at the kill)");
    assert!(
        redone <= CHUNKS_IN_FLIGHT * BATCH,
        "{redone} duplicates: more than the chunks in flight"
    );
    let (_, end, _) = covered(&cursors);
    assert_eq!(end as usize, POSTS, "the cursor reached the end");
}
