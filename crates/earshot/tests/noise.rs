//! Issue 16 item 5, noise out, black box: `earshot run` (embedded) on the
//! bundled samples, with their 24 copy-paste "data leak" posts, plus a
//! bot-like author, with `[matcher.noise]` on; then the stored flags and
//! priorities, the overview's rollups and the console's queue.

mod console_common;

use std::path::{Path, PathBuf};

use console_common::*;

/// The campaign's text (one copy starts with `@acme` too).
const LEAK: &str = "If Acme doesn't fix this data leak we will talk to our lawyer.";

/// The bundled config and files in `dir`, reading `posts.jsonl` (the
/// samples and 25 posts of a new account within 25 minutes), noise on.
fn setup(dir: &Path) -> PathBuf {
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config");
    for sub in ["", "watchlists", "lexicons"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
        for e in std::fs::read_dir(config.join(sub)).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_file() {
                std::fs::copy(e.path(), dir.join(sub).join(e.file_name())).unwrap();
            }
        }
    }
    let mut posts = std::fs::read_to_string(config.join("samples/posts.jsonl")).unwrap();
    for n in 0..25 {
        posts.push_str(&format!(
            concat!(
                r#"{{"id": "mastodon:bot{n}", "author": {{"handle": "deals_now@m.test", "reach": 50000, "#,
                r#""created_at": "2026-11-19T12:00:00Z"}}, "text": "Acme refund scam number {n} is a lawsuit waiting: "#,
                r#"{w} customers should sue today", "published_at": "2026-11-20T10:{n:02}:00Z"}}"#,
                "\n"
            ),
            n = n,
            w = ["angry", "furious", "upset", "cheated", "ignored"][n % 5]
        ));
    }
    std::fs::write(dir.join("posts.jsonl"), posts).unwrap();
    let toml = std::fs::read_to_string(config.join("earshot.toml"))
        .unwrap()
        .replace(".earshot/samples/posts.jsonl", "posts.jsonl");
    let path = dir.join("earshot.toml");
    std::fs::write(&path, format!("{toml}\n[matcher.noise]\nenabled = true\n")).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_16_copy_paste_campaign_and_bot_are_flagged_counted_once_and_not_prioritised() {
    let dir = tempfile::tempdir().unwrap();
    let config = setup(dir.path());
    ok(&earshot(dir.path(), Some(&config), &["run"]));

    let db = rusqlite::Connection::open(dir.path().join(".earshot/earshot.db")).unwrap();
    let rows: Vec<(String, String, i64, bool, i64)> = db
        .prepare(
            "SELECT post_id, cluster_id, cluster_size, near_duplicate, priority FROM interactions
             WHERE text LIKE '%' || ?1 ORDER BY cluster_size",
        )
        .unwrap()
        .query_map([LEAK], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(rows.len(), 24, "every copy stays stored");
    let first = &rows[0];
    assert_eq!(
        (first.1.as_str(), first.2, first.3),
        ("", 0, false),
        "{first:?}"
    );
    assert_eq!(first.4, 80, "the first post keeps its priority");
    let sizes: Vec<i64> = rows[1..].iter().map(|r| r.2).collect();
    assert_eq!(sizes, (2..=24).collect::<Vec<_>>());
    for (id, cluster, size, flagged, priority) in &rows[1..] {
        assert_eq!(cluster, &first.0, "{id} joins the first post's cluster");
        assert_eq!(*flagged, *size >= 3, "{id}: min_cluster_size 3");
        assert_eq!(*priority, if *flagged { 0 } else { 80 }, "{id}");
    }

    // The bot: more than 20 posts in an hour from an account 22 hours old.
    let bot: Vec<(bool, String, i64)> = db
        .prepare("SELECT bot_like, bot_reasons, priority FROM interactions WHERE author_handle = 'deals_now@m.test' ORDER BY post_id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(bot.len(), 25);
    let flagged: Vec<_> = bot.iter().filter(|b| b.0).collect();
    assert!(flagged.len() >= 20, "{bot:?}");
    assert!(
        flagged.iter().all(|b| b.2 <= 10),
        "bot posts are capped at 10: {bot:?}"
    );
    assert!(
        flagged
            .iter()
            .any(|b| b.1.contains("rate: more than 20 posts in an hour")),
        "{bot:?}"
    );
    assert!(
        flagged
            .iter()
            .any(|b| b.1.contains("new_account: 0 days old")),
        "{bot:?}"
    );

    // The overview's rollups count matched posts that repeat nothing.
    let counted: i64 = db
        .query_row(
            "SELECT SUM(posts) FROM post_hours WHERE entity_id = '' AND intent = ''",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let firsts: i64 = db
        .query_row(
            "SELECT COUNT(*) FROM interactions WHERE cluster_id = ''
             AND (brands != '[]' OR competitors != '[]' OR customers != '[]')",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let stored: i64 = db
        .query_row("SELECT COUNT(*) FROM interactions", [], |r| r.get(0))
        .unwrap();
    assert_eq!(counted, firsts);
    assert!(
        firsts < stored - 23,
        "the 23 copies at least are out: {firsts} of {stored}"
    );

    // The console's queue: the campaign once, as its first post with its copies.
    let c = Console::start(dir.path(), Some(&config), None);
    let queue = page(&c.url("/queue?since=2026-11-01&until=2026-12-31")).await;
    assert!(
        queue.contains(&format!("<code>{}</code>", first.0)),
        "the first post is queued"
    );
    assert!(queue.contains("23 near-duplicate copies"), "{queue}");
    for (id, ..) in &rows[1..] {
        assert!(
            !queue.contains(&format!("<code>{id}</code>")),
            "{id} is hidden behind the first"
        );
    }
}
