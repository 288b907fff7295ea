//! Issue 16, noise out, in both stores: ClickHouse (`EARSHOT_TEST_CLICKHOUSE`,
//! through the sink's real inserts, migration 23) and the embedded SQLite
//! store (migration 24). A copy-paste cluster of five posts counts once in
//! every dashboard figure and queues as its first post with its four copies;
//! the copies stay stored with their flags.

mod common;

use chrono::{DateTime, TimeZone, Utc};
use common::{batch_of, migrated_clickhouse, Seed};
use earshot_model::{EntityKind, Intent, Interaction, Route, SentimentLabel};
use earshot_sink::sqlite::SqliteStore;
use earshot_sink::work::{QueueFilter, WorkStore};
use earshot_sink::{ReportParams, Sink, SinkConfig, SinkKind};

fn until() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap()
}

/// Five copies (`hn:c0` first) and three other posts, all negative
/// complaints about acme routed to support; the copies from the third on
/// are flagged, one by a bot-like author.
fn posts() -> Vec<Interaction> {
    let mut out = Vec::new();
    for (n, id) in ["c0", "c1", "c2", "c3", "c4", "o1", "o2", "o3"]
        .iter()
        .enumerate()
    {
        let mut s = Seed::new(*id, until() - chrono::Duration::minutes(60 - n as i64));
        s.mentions.push((EntityKind::Brand, "acme"));
        s.label = SentimentLabel::Negative;
        s.intents.push(Intent::COMPLAINT);
        s.route = Route::SUPPORT;
        s.priority = 80;
        s.reach = 100 + n as u64;
        let mut i = s.build();
        if id.starts_with('c') && n > 0 {
            i.noise.cluster_id = Some("hn:c0".into());
            i.noise.cluster_size = n as u32 + 1;
            i.noise.near_duplicate = n >= 2;
            if i.noise.near_duplicate {
                i.priority = 0;
            }
        }
        if *id == "c4" {
            i.noise.bot_like = true;
            i.noise.bot_reasons = vec!["rate: more than 20 posts in an hour".into()];
        }
        out.push(i);
    }
    out
}

async fn check_figures(config: &SinkConfig) {
    let p = ReportParams::between(until() - chrono::Duration::days(1), until(), None);
    let r = earshot_sink::report(config, &p).await.unwrap();
    let sov = &r
        .share_of_voice
        .iter()
        .find(|(w, _)| w == "window")
        .unwrap()
        .1;
    assert_eq!(sov[0].entity_id, "acme");
    assert_eq!(
        sov[0].mentions, 4,
        "the cluster once, and three other posts"
    );
    let complaints = r.intents.iter().find(|c| c.key == "complaint").unwrap();
    assert_eq!(complaints.posts, 4);
    assert_eq!(r.sources.iter().map(|c| c.posts).sum::<u64>(), 4);
    let negative: Vec<&str> = r.top_negative.iter().map(|p| p.post_id.as_str()).collect();
    let mut queued: Vec<&str> = r.work_queue.iter().map(|p| p.post_id.as_str()).collect();
    queued.sort_unstable();
    assert_eq!(queued, ["hn:c0", "hn:o1", "hn:o2", "hn:o3"]);
    assert_eq!(negative.len(), 4, "{negative:?}");
    assert!(!negative
        .iter()
        .any(|id| id.starts_with("hn:c") && *id != "hn:c0"));

    let work = WorkStore::open(config).await.unwrap();
    let queue = work
        .queue(&QueueFilter {
            since: until() - chrono::Duration::days(1),
            until: until(),
            limit: 50,
            ..Default::default()
        })
        .await
        .unwrap();
    let shown: Vec<(&str, u64)> = queue
        .iter()
        .map(|q| (q.post.post_id.as_str(), q.copies))
        .collect();
    assert_eq!(shown.len(), 4, "{shown:?}");
    assert!(shown.contains(&("hn:c0", 4)), "{shown:?}");
    assert!(shown.contains(&("hn:o1", 0)), "{shown:?}");
}

/// A migrated embedded store in a temporary directory, holding [`posts`].
fn sqlite_with_posts() -> (tempfile::TempDir, SinkConfig, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = SinkConfig {
        kind: SinkKind::Sqlite,
        ..SinkConfig::default()
    };
    config.sqlite.path = dir.path().join("e.db");
    let store = SqliteStore::open(&config.sqlite.path).unwrap();
    store.migrate().unwrap();
    store.upsert(&batch_of(posts())).unwrap();
    (dir, config, store)
}

#[tokio::test]
async fn issue_16_sqlite_stores_noise_flags_and_counts_a_cluster_once() {
    let (_dir, config, _store) = sqlite_with_posts();
    let db = rusqlite::Connection::open(&config.sqlite.path).unwrap();
    let row: (String, i64, bool, bool, String, i64) = db
        .query_row(
            "SELECT cluster_id, cluster_size, near_duplicate, bot_like, bot_reasons, priority
             FROM interactions WHERE post_id = 'hn:c4'",
            [],
            |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            },
        )
        .unwrap();
    assert_eq!(
        row,
        (
            "hn:c0".into(),
            5,
            true,
            true,
            r#"["rate: more than 20 posts in an hour"]"#.into(),
            0
        )
    );
    let stored: i64 = db
        .query_row("SELECT COUNT(*) FROM interactions", [], |r| r.get(0))
        .unwrap();
    assert_eq!(stored, 8, "the copies stay stored");
    check_figures(&config).await;
}

/// A near-duplicate copy delivered again (a replay after a crash) is
/// replaced with its mentions: the store once took a stored copy for a new
/// post, kept its mention rows and refused the batch on their primary key.
#[tokio::test]
async fn issue_16_a_redelivered_cluster_copy_replaces_its_row_and_mentions() {
    let (_dir, config, store) = sqlite_with_posts();
    store
        .upsert(&batch_of(posts()))
        .expect("the same posts again are replaced, copies included");
    let db = rusqlite::Connection::open(&config.sqlite.path).unwrap();
    let mentions: i64 = db
        .query_row("SELECT COUNT(*) FROM mentions", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mentions, 8, "one mention row a post, not two");
    check_figures(&config).await;
}

#[derive(clickhouse::Row, serde::Deserialize, Debug, PartialEq)]
struct NoiseRow {
    cluster_id: String,
    cluster_size: u32,
    near_duplicate: u8,
    bot_like: u8,
    bot_reasons: Vec<String>,
    priority: u8,
}

#[tokio::test]
async fn issue_16_clickhouse_stores_noise_flags_and_counts_a_cluster_once() {
    let Some(url) = earshot_tests::clickhouse() else {
        return;
    };
    let (config, mut sink) = migrated_clickhouse(&url).await;
    sink.write(&batch_of(posts())).await.unwrap();
    let row: NoiseRow = common::client(&config)
        .query(
            "SELECT cluster_id, cluster_size, near_duplicate, bot_like, bot_reasons, priority
             FROM interactions WHERE post_id = 'hn:c4'",
        )
        .fetch_one()
        .await
        .unwrap();
    assert_eq!(
        row,
        NoiseRow {
            cluster_id: "hn:c0".into(),
            cluster_size: 5,
            near_duplicate: 1,
            bot_like: 1,
            bot_reasons: vec!["rate: more than 20 posts in an hour".into()],
            priority: 0,
        }
    );
    check_figures(&config).await;
}
