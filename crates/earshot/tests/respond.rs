//! `earshot respond` (issue 14, item 4) on the embedded store after
//! `earshot run` on the bundled samples: the answered post leaves the work
//! queue of `earshot report`; answering again is harmless; an unknown id is
//! an error naming it.

use std::path::Path;
use std::process::Output;

fn earshot(dir: &Path, args: &[&str]) -> Output {
    earshot_tests::process::command(Path::new(env!("CARGO_BIN_EXE_earshot")), dir, args)
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

/// Conversations (issue 14, item 2): a brand's own account answering in a
/// thread, time to first response in the report, the negative thread
/// nobody answered, and `earshot thread`.
#[test]
fn issue_14_threads_time_to_first_response_and_unanswered_negatives() {
    let dir = tempfile::tempdir().unwrap();
    let now = chrono::Utc::now();
    let at = |minutes: i64| (now - chrono::Duration::minutes(minutes)).to_rfc3339();
    let posts = [
        serde_json::json!({"id": "hn:100", "text": "Acme broke my order, terrible service",
            "author": {"handle": "cust1"}, "published_at": at(60)}),
        serde_json::json!({"id": "hn:101", "text": "Sorry about that! Acme support here, we sent a fix",
            "author": {"handle": "AcmeSupport"}, "thread_id": "hn:100", "reply_to": "hn:100",
            "published_at": at(50)}),
        serde_json::json!({"id": "hn:200", "text": "Acme is awful and terrible, the worst company ever, I hate it",
            "author": {"handle": "cust2"}, "published_at": at(30)}),
    ];
    let lines: String = posts.iter().map(|p| format!("{p}\n")).collect();
    std::fs::write(dir.path().join("posts.jsonl"), lines).unwrap();
    std::fs::write(
        dir.path().join("brands.toml"),
        "[[brand]]\nid = \"acme\"\nname = \"Acme\"\nown_accounts = [\"hn:acmesupport\"]\n",
    )
    .unwrap();
    // The bundled English lexicon, so a negative post reads as negative.
    let lexicon =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/lexicons/vader_lexicon.txt");
    std::fs::write(
        dir.path().join("earshot.toml"),
        format!("[matcher]\nbrands = [\"brands.toml\"]\ndetect_language = false\n\
         lexicons = [{{ path = \"{}\", format = \"vader\" }}]\n\
         [sink]\nkind = \"sqlite\"\n[sink.sqlite]\npath = \"store.db\"\n[cursors]\npath = \"cursors.db\"\n\
         [[connectors]]\nname = \"replay\"\nkind = \"file\"\npaths = [\"posts.jsonl\"]\none_shot = true\nprogress = false\n", lexicon.display()),
    )
    .unwrap();
    let run = earshot(dir.path(), &["--config", "earshot.toml", "run"]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let report = stdout(&earshot(
        dir.path(),
        &["--config", "earshot.toml", "report", "--since", "1d"],
    ));
    let times = &report[report
        .find("Time to first response")
        .expect("a response-time section")..];
    let acme = times.lines().find(|l| l.contains("acme")).unwrap();
    let cells: Vec<&str> = acme.split(['│', '┆']).map(str::trim).collect();
    // Brand, threads, answered, median, 90th, negative unanswered.
    assert_eq!(
        &cells[1..7],
        ["acme", "2", "1", "10m", "10m", "1"],
        "{acme}"
    );
    let open = &report[report.find("Negative threads nobody answered").unwrap()..];
    assert!(
        open.contains("hn:200") && !open.contains("hn:100"),
        "{open}"
    );

    let thread = earshot(
        dir.path(),
        &["--config", "earshot.toml", "thread", "hn:100"],
    );
    let text = stdout(&thread);
    assert!(
        thread.status.success(),
        "{}",
        String::from_utf8_lossy(&thread.stderr)
    );
    assert!(text.contains("AcmeSupport (brand)"), "{text}");
    assert!(
        text.contains("First response 10m after the first customer post."),
        "{text}"
    );
    let missing = earshot(
        dir.path(),
        &["--config", "earshot.toml", "thread", "hn:999"],
    );
    assert_eq!(missing.status.code(), Some(2));
}

/// The right to be forgotten (issue 14, item 7): an author's posts,
/// mentions, responses and dedup records go, and a refetch of the same
/// posts stores nothing of theirs again.
#[test]
fn issue_14_forget_an_author_and_never_store_them_again() {
    let dir = tempfile::tempdir().unwrap();
    let posts = [
        ("hn:1", "jane", "Acme lost my parcel"),
        ("hn:2", "Jane", "Acme still has not answered"),
        ("hn:3", "bob", "Acme is fine by me"),
    ];
    let lines: String = posts
        .iter()
        .map(|(id, who, text)| {
            format!(
                "{}\n",
                serde_json::json!({"id": id, "text": text, "author": {"handle": who}})
            )
        })
        .collect();
    std::fs::write(dir.path().join("posts.jsonl"), lines).unwrap();
    std::fs::write(
        dir.path().join("brands.toml"),
        "[[brand]]\nid = \"acme\"\nname = \"Acme\"\n",
    )
    .unwrap();
    let config = |connector: &str| {
        std::fs::write(
            dir.path().join("earshot.toml"),
            format!(
                "[matcher]\nbrands = [\"brands.toml\"]\ndetect_language = false\n\
                 [sink]\nkind = \"sqlite\"\n[sink.sqlite]\npath = \"store.db\"\n[cursors]\npath = \"cursors.db\"\n\
                 [[connectors]]\nname = \"{connector}\"\nkind = \"file\"\npaths = [\"posts.jsonl\"]\none_shot = true\nprogress = false\n"
            ),
        )
        .unwrap();
    };
    let count = |db: &str, sql: &str| -> i64 {
        let c = rusqlite::Connection::open(dir.path().join(db)).unwrap();
        c.query_row(sql, [], |r| r.get(0)).unwrap()
    };
    config("first");
    let cli = |args: &[&str]| {
        let mut all = vec!["--config", "earshot.toml"];
        all.extend_from_slice(args);
        earshot(dir.path(), &all)
    };
    assert!(cli(&["run"]).status.success());
    assert!(cli(&["respond", "hn:1", "--by", "ann"]).status.success());
    assert_eq!(count("store.db", "SELECT COUNT(*) FROM interactions"), 3);
    // A polling connector (Hacker News, Reddit) remembers the ids it
    // produced; the file connector keeps an exact cursor instead (issue 11),
    // so record them here as a poller of the same posts would have.
    {
        let c = rusqlite::Connection::open(dir.path().join("cursors.db")).unwrap();
        for (id, _, _) in posts {
            c.execute(
                "INSERT INTO seen (connector, post_id, seen_at) VALUES ('hn-poller', ?1, 0)",
                [id],
            )
            .unwrap();
        }
    }

    let dry = cli(&["forget", "--author", "hn:JANE"]);
    assert!(
        stdout(&dry).contains("would forget hn:jane: 2 post(s)"),
        "{}",
        stdout(&dry)
    );
    assert_eq!(count("store.db", "SELECT COUNT(*) FROM interactions"), 3);

    let done = cli(&["forget", "--author", "hn:JANE", "--yes"]);
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    assert!(
        stdout(&done).contains("forgot hn:jane: 2 post(s) deleted"),
        "{}",
        stdout(&done)
    );
    assert!(
        stdout(&done).contains("2 dedup record(s) removed"),
        "{}",
        stdout(&done)
    );
    let jane = "post_id IN ('hn:1', 'hn:2')";
    for table in ["interactions", "mentions", "responses", "response_log"] {
        assert_eq!(
            count(
                "store.db",
                &format!("SELECT COUNT(*) FROM {table} WHERE {jane}")
            ),
            0,
            "{table}"
        );
    }
    assert_eq!(count("store.db", "SELECT COUNT(*) FROM interactions"), 1);
    assert_eq!(
        count(
            "cursors.db",
            &format!("SELECT COUNT(*) FROM seen WHERE {jane}")
        ),
        0
    );
    assert_eq!(count("cursors.db", "SELECT COUNT(*) FROM seen"), 1);
    assert_eq!(
        count(
            "store.db",
            "SELECT COUNT(*) FROM forgotten WHERE kind = 'author' AND key = 'hn:jane'"
        ),
        1
    );

    // Another connector re-reads the file: Jane's posts are dropped, not stored.
    config("second");
    let again = cli(&["run"]);
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert_eq!(
        count(
            "store.db",
            &format!("SELECT COUNT(*) FROM interactions WHERE {jane}")
        ),
        0
    );
    assert_eq!(count("store.db", "SELECT COUNT(*) FROM interactions"), 1);

    let bad = cli(&["forget", "--author", "jane"]);
    assert_eq!(bad.status.code(), Some(2));
    let none = cli(&["forget"]);
    assert_eq!(none.status.code(), Some(2));
}

/// Retention (issue 14, item 7) on the embedded store: a changed
/// `retention_days` takes effect at the next `earshot migrate`, which
/// deletes older posts with their mentions and responses.
#[test]
fn issue_14_sqlite_retention_takes_effect_on_migrate() {
    let dir = tempfile::tempdir().unwrap();
    let now = chrono::Utc::now();
    let posts = [("hn:old", 10), ("hn:new", 1)];
    let lines: String = posts
        .iter()
        .map(|(id, days)| {
            let at = (now - chrono::Duration::days(*days)).to_rfc3339();
            format!(
                "{}\n",
                serde_json::json!({"id": id, "text": "Acme again", "published_at": at})
            )
        })
        .collect();
    std::fs::write(dir.path().join("posts.jsonl"), lines).unwrap();
    std::fs::write(
        dir.path().join("brands.toml"),
        "[[brand]]\nid = \"acme\"\nname = \"Acme\"\n",
    )
    .unwrap();
    let config = |retention: u32| {
        std::fs::write(
            dir.path().join("earshot.toml"),
            format!(
                "[matcher]\nbrands = [\"brands.toml\"]\ndetect_language = false\n\
                 [sink]\nkind = \"sqlite\"\n[sink.sqlite]\npath = \"store.db\"\nretention_days = {retention}\n\
                 [cursors]\npath = \"cursors.db\"\n\
                 [[connectors]]\nname = \"r\"\nkind = \"file\"\npaths = [\"posts.jsonl\"]\none_shot = true\nprogress = false\n"
            ),
        )
        .unwrap();
    };
    let ids = || -> Vec<String> {
        let c = rusqlite::Connection::open(dir.path().join("store.db")).unwrap();
        let mut s = c
            .prepare("SELECT post_id FROM mentions ORDER BY post_id")
            .unwrap();
        s.query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    config(0);
    assert!(earshot(dir.path(), &["--config", "earshot.toml", "run"])
        .status
        .success());
    assert_eq!(ids(), ["hn:new", "hn:old"]);
    config(3);
    let migrate = earshot(dir.path(), &["--config", "earshot.toml", "migrate"]);
    assert!(
        migrate.status.success(),
        "{}",
        String::from_utf8_lossy(&migrate.stderr)
    );
    assert!(
        stdout(&migrate).contains("retention 3 days: 1 older post(s) deleted"),
        "{}",
        stdout(&migrate)
    );
    assert_eq!(ids(), ["hn:new"]);
    config(40_000);
    let bad = earshot(dir.path(), &["--config", "earshot.toml", "migrate"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("sink.sqlite.retention_days"));
}
