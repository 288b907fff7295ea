//! `earshot respond` (issue 14, item 4) on the embedded store after
//! `earshot run` on the bundled samples: the answered post leaves the work
//! queue of `earshot report`; answering again is harmless; an unknown id is
//! an error naming it.

use std::path::Path;
use std::process::{Command, Output};

fn earshot(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_earshot"))
        .args(args)
        .current_dir(dir)
        .env_remove("EARSHOT_CONFIG")
        .env("EARSHOT_LOG", "warn")
        .output()
        .expect("run earshot")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The work queue section of `earshot report --since 7d`.
fn work_queue(dir: &Path) -> String {
    let out = earshot(dir, &["report", "--since", "7d"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = stdout(&out);
    let start = text.find("Work queue").expect("a work queue section");
    let end = text[start..].find("\n\n").map_or(text.len(), |e| start + e);
    // The table wraps long cells: join the last column's pieces, without spaces.
    text[start..end]
        .lines()
        .filter_map(|l| l.rsplit('┆').next().filter(|_| l.contains('┆')))
        .flat_map(|cell| cell.chars().filter(|c| !c.is_whitespace() && *c != '│'))
        .collect()
}

#[test]
fn issue_14_respond_takes_a_post_off_the_work_queue() {
    let dir = tempfile::tempdir().unwrap();
    let run = earshot(dir.path(), &["run"]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let db = dir.path().join(".earshot/earshot.db");
    let conn = rusqlite::Connection::open(&db).unwrap();
    // The report shows a post by its URL when it has one.
    let (id, url): (String, String) = conn
        .query_row(
            "SELECT post_id, url FROM interactions WHERE route != 'none' ORDER BY priority DESC, author_reach DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get::<_, Option<String>>(1)?.unwrap_or_default())),
        )
        .unwrap();
    let shown = if url.is_empty() { id.clone() } else { url };
    assert!(
        work_queue(dir.path()).contains(&shown),
        "{shown} not queued"
    );

    let out = earshot(
        dir.path(),
        &["respond", &id, "--by", "ann", "--note", "called them back"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout(&out).contains(&format!("{id}: answered by ann (cli)")),
        "{}",
        stdout(&out)
    );
    assert!(
        !work_queue(dir.path()).contains(&shown),
        "{shown} still queued"
    );

    let again = earshot(dir.path(), &["respond", &id, "--by", "bob"]);
    assert!(again.status.success());
    assert!(
        stdout(&again).contains("already answered by ann"),
        "{}",
        stdout(&again)
    );
    let (answers, logged): (i64, i64) = conn
        .query_row(
            "SELECT (SELECT COUNT(*) FROM responses WHERE post_id = ?1), (SELECT COUNT(*) FROM response_log WHERE post_id = ?1)",
            [&id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((answers, logged), (1, 2));

    let unknown = earshot(dir.path(), &["respond", "x:nope"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&unknown.stderr).contains("no post `x:nope` in the store"),
        "{}",
        String::from_utf8_lossy(&unknown.stderr)
    );
}

/// `earshot authors` and the report's advocates and detractors (issue 14,
/// items 1 and 3), checked against the store the run wrote.
#[test]
fn issue_14_authors_and_the_reports_advocates_and_detractors() {
    let dir = tempfile::tempdir().unwrap();
    let run = earshot(dir.path(), &["run"]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let conn = rusqlite::Connection::open(dir.path().join(".earshot/earshot.db")).unwrap();
    let (source, handle, posts): (String, String, i64) = conn
        .query_row(
            "SELECT source, author_handle, COUNT(*) AS n FROM interactions WHERE author_handle != ''
             GROUP BY source, author_handle ORDER BY n DESC, MAX(author_reach) DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    let top = earshot(dir.path(), &["authors", "--since", "7d", "--limit", "1"]);
    assert!(
        top.status.success(),
        "{}",
        String::from_utf8_lossy(&top.stderr)
    );
    let text = stdout(&top).replace(['│', '┆'], " ");
    let first_row: String = text
        .lines()
        .skip_while(|l| !l.contains('╞'))
        .nth(1)
        .unwrap_or_default()
        .to_string();
    assert!(
        first_row.contains(&format!(" {posts} ")),
        "{posts} posts not in {first_row:?}\n{text}"
    );
    let one = earshot(
        dir.path(),
        &[
            "authors",
            "--since",
            "7d",
            "--author",
            &format!("{source}:{handle}"),
        ],
    );
    assert!(stdout(&one).matches('╞').count() == 1, "{}", stdout(&one));
    let bad = earshot(dir.path(), &["authors", "--author", "nohandle"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("expected NETWORK:HANDLE"));

    // The store's own count of the top detractor of any brand.
    let (brand, det_handle, n): (String, String, i64) = conn
        .query_row(
            "SELECT m.entity_id, i.author_handle, COUNT(DISTINCT m.post_id) AS n
             FROM mentions m JOIN interactions i ON i.post_id = m.post_id
             WHERE m.sentiment_label = 'negative' AND m.entity_kind IN ('brand', 'competitor') AND i.author_handle != ''
             GROUP BY m.entity_id, i.source, i.author_handle HAVING n >= 2
             ORDER BY n DESC, MAX(i.author_reach) DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    let report = earshot(dir.path(), &["report", "--since", "7d"]);
    let text = stdout(&report);
    let detractors = &text[text.find("Detractors:").expect("a detractors section")..];
    let row = detractors
        .lines()
        .find(|l| l.contains(&det_handle))
        .unwrap_or_else(|| panic!("{det_handle} not among the detractors:\n{detractors}"));
    assert!(
        row.contains(&brand) && row.contains(&format!(" {n} ")),
        "{row}"
    );
    assert!(text.contains("Advocates:"), "{text}");
}
