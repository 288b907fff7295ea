//! Issue 11: the embedded store writes new posts several rows a statement
//! (runs of up to 8 in a savepoint, row by row when a post of the run is
//! stored already or repeated). Whatever the path, the tables and rollups
//! must be what writing one post at a time gives: one row per post id, the
//! newest scoring winning with its mentions, rollups matching the rows.

mod common;

use chrono::{DateTime, Duration, TimeZone, Utc};
use common::{batch_of, Seed};
use earshot_model::{EntityKind, Interaction, SentimentLabel};
use earshot_sink::sqlite::SqliteStore;

fn at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap()
}

/// Post `hn:n` scored `later` seconds after the first scoring: naming acme
/// and globex at first, then (rescored) acme alone with another sentiment.
fn post(n: usize, later: i64) -> Interaction {
    let mut s = Seed::new(n.to_string(), at() - Duration::minutes(n as i64 * 7));
    s.scored_after = Duration::seconds(5 + later);
    s.mentions = vec![(EntityKind::Brand, "acme")];
    if later == 0 {
        s.mentions.push((EntityKind::Competitor, "globex"));
        s.label = SentimentLabel::Negative;
    } else {
        s.label = SentimentLabel::Positive;
    }
    s.compound = Some(later as f32 / 1000.0);
    s.reach = n as u64 * 3;
    s.build()
}

fn store(dir: &tempfile::TempDir, name: &str) -> SqliteStore {
    let store = SqliteStore::open(&dir.path().join(name)).unwrap();
    store.migrate().unwrap();
    store
}

/// Every table the sink writes, as text rows in a fixed order (rollup
/// rows that sum to nothing left out: a replaced post may leave them).
fn contents(store: &SqliteStore) -> Vec<Vec<String>> {
    let queries = [
        "SELECT * FROM interactions ORDER BY post_id",
        "SELECT * FROM mentions ORDER BY post_id, entity_id, entity_kind",
        "SELECT * FROM mention_hours WHERE posts != 0 ORDER BY 1, 2, 3, 4",
        "SELECT * FROM post_hours WHERE posts != 0 ORDER BY 1, 2, 3, 4",
    ];
    store
        .with_connection(|c| {
            let mut out = Vec::new();
            for q in queries {
                let mut stmt = c.prepare(q)?;
                let n = stmt.column_count();
                let rows = stmt.query_map([], |r| {
                    (0..n)
                        .map(|k| {
                            r.get::<_, rusqlite::types::Value>(k)
                                .map(|v| format!("{v:?}"))
                        })
                        .collect::<Result<Vec<_>, _>>()
                })?;
                for row in rows {
                    out.push(row?);
                }
                out.push(vec![format!("-- end of {q}")]);
            }
            Ok(out)
        })
        .unwrap()
}

/// (hour, entity/kind/label, mentions) rows.
type MentionCounts = Vec<(i64, String, i64)>;

/// The mention rollup, and the same recounted from the stored mentions.
fn mention_hours_recounted(store: &SqliteStore) -> (MentionCounts, MentionCounts) {
    store
        .with_connection(|c| {
            let read = |q: &str| -> rusqlite::Result<MentionCounts> {
                c.prepare(q)?
                    .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                    .collect()
            };
            Ok((
                read("SELECT hour, entity_id || '/' || entity_kind || '/' || sentiment_label, posts
                      FROM mention_hours WHERE posts != 0 ORDER BY 1, 2")?,
                read("SELECT (event_time / 3600) * 3600, entity_id || '/' || entity_kind || '/' || sentiment_label, COUNT(*)
                      FROM mentions GROUP BY 1, 2 ORDER BY 1, 2")?,
            ))
        })
        .unwrap()
}

#[test]
fn issue_11_runs_of_new_posts_store_what_one_post_at_a_time_stores() {
    let dir = tempfile::tempdir().unwrap();
    // 37 posts: runs of 8, 8, 8, 8, 4 and a single row.
    let posts: Vec<Interaction> = (0..37).map(|n| post(n, 0)).collect();
    let runs = store(&dir, "runs.db");
    runs.upsert(&batch_of(posts.clone())).unwrap();
    let one_by_one = store(&dir, "one.db");
    for p in &posts {
        one_by_one.upsert(&batch_of(vec![p.clone()])).unwrap();
    }
    let stored = contents(&runs);
    assert_eq!(stored, contents(&one_by_one));
    let count = |s: &SqliteStore, t: &str| -> i64 {
        s.with_connection(|c| c.query_row(&format!("SELECT COUNT(*) FROM {t}"), [], |r| r.get(0)))
            .unwrap()
    };
    assert_eq!(count(&runs, "interactions"), 37);
    assert_eq!(count(&runs, "mentions"), 74);
    let (rollup, recount) = mention_hours_recounted(&runs);
    assert_eq!(rollup, recount);
}

#[test]
fn issue_11_a_redelivered_post_replaces_its_row_and_mentions_in_a_run() {
    let dir = tempfile::tempdir().unwrap();
    // First delivery: posts 0..20. Then a batch of 0..8 redelivered as
    // stored (a run that must fall back row by row), 10..20 rescored later
    // (one mention instead of two), new posts 20..30, post 30 twice in one
    // run (older, then newer) and post 31 twice (newer, then older).
    let first: Vec<Interaction> = (0..20).map(|n| post(n, 0)).collect();
    let mut second: Vec<Interaction> = (0..8).map(|n| post(n, 0)).collect();
    second.extend((10..20).map(|n| post(n, 60)));
    second.extend((20..30).map(|n| post(n, 0)));
    second.extend([post(30, 0), post(30, 60), post(31, 60), post(31, 0)]);

    let runs = store(&dir, "runs.db");
    runs.upsert(&batch_of(first.clone())).unwrap();
    runs.upsert(&batch_of(second.clone())).unwrap();
    let one_by_one = store(&dir, "one.db");
    for p in first.iter().chain(&second) {
        one_by_one.upsert(&batch_of(vec![p.clone()])).unwrap();
    }
    assert_eq!(contents(&runs), contents(&one_by_one));

    let row = |id: &str| -> (String, i64) {
        runs.with_connection(|c| {
            c.query_row(
                "SELECT i.sentiment_label, (SELECT COUNT(*) FROM mentions m WHERE m.post_id = i.post_id)
                 FROM interactions i WHERE post_id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
        })
        .unwrap()
    };
    assert_eq!(row("hn:3"), ("negative".into(), 2), "redelivered as stored");
    assert_eq!(
        row("hn:12"),
        ("positive".into(), 1),
        "rescored: replaced with its mentions"
    );
    assert_eq!(row("hn:25"), ("negative".into(), 2), "new");
    assert_eq!(
        row("hn:30"),
        ("positive".into(), 1),
        "the newer scoring wins"
    );
    assert_eq!(
        row("hn:31"),
        ("positive".into(), 1),
        "an older scoring never wins"
    );
    let ids: i64 = runs
        .with_connection(|c| {
            c.query_row(
                "SELECT COUNT(DISTINCT post_id) - COUNT(*) + 32 FROM interactions",
                [],
                |r| r.get(0),
            )
        })
        .unwrap();
    assert_eq!(ids, 32, "one row per post id");
    let (rollup, recount) = mention_hours_recounted(&runs);
    assert_eq!(rollup, recount);
}
