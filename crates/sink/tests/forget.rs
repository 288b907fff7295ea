//! Forgetting an author (issue 14, item 7) on both stores: their posts go
//! from every table (on ClickHouse the author profiles' `author_posts` too),
//! their rows of the CRM-facing `crm_standings` go, the author is recorded,
//! and the sink's list of forgotten authors names them.

mod common;

use chrono::{TimeZone, Utc};
use common::{batch_of, client, migrated_clickhouse, Seed};
use earshot_model::EntityKind;
use earshot_sink::authors::{AuthorStore, Side, Standing};
use earshot_sink::crm_standings::CrmStanding;
use earshot_sink::forget::ForgetStore;
use earshot_sink::sqlite::SqliteStore;
use earshot_sink::{Sink, SinkConfig};

/// Posts `hn:1`, `hn:2` by `author5` and `hn:3` by `author9`.
fn seeds() -> Vec<earshot_model::Interaction> {
    let at = Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap();
    [("1", 5), ("2", 5), ("3", 9)]
        .into_iter()
        .map(|(id, reach)| {
            let mut s = Seed::new(id, at);
            s.reach = reach;
            s.mentions = vec![(EntityKind::Brand, "acme")];
            s.build()
        })
        .collect()
}

/// The CRM-facing table names both authors before the forgetting.
async fn stand(authors: &AuthorStore) {
    let at = Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap();
    let row = |handle: &str, post: &str| CrmStanding {
        period: "7d".into(),
        window_start: at,
        window_end: at,
        side: Side::Advocates,
        author: Standing {
            brand: "acme".into(),
            source: "hn".into(),
            handle: handle.into(),
            posts: 2,
            reach: 5,
            latest_post: post.into(),
            post_ids: vec![post.into()],
        },
        customer_ids: Vec::new(),
        account_owners: Vec::new(),
    };
    authors
        .write_crm_standings(
            "7d",
            (at, at),
            &[row("author5", "hn:2"), row("author9", "hn:3")],
            at,
        )
        .await
        .unwrap();
}

/// The handles left in the CRM-facing table.
async fn standing(authors: &AuthorStore) -> Vec<String> {
    let mut left: Vec<String> = authors
        .crm_standings()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.author.handle)
        .collect();
    left.sort();
    left
}

async fn forget(store: &ForgetStore) {
    let who = vec!["hn:author5".to_string()];
    let posts = store.posts(&who, None).await.unwrap();
    assert_eq!(posts, ["hn:1", "hn:2"]);
    store.forget(&who, None, &posts).await.unwrap();
    assert!(store.authors().await.unwrap().contains("hn:author5"));
}

#[tokio::test]
async fn issue_14_forget_on_the_embedded_store() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = SinkConfig::default();
    config.sqlite.path = dir.path().join("f.db");
    let store = ForgetStore::open(&config).await.unwrap();
    let sqlite = SqliteStore::open(&config.sqlite.path).unwrap();
    sqlite.upsert(&batch_of(seeds())).unwrap();
    let authors = AuthorStore::open(&config).await.unwrap();
    stand(&authors).await;
    forget(&store).await;
    assert_eq!(standing(&authors).await, ["author9"]);
    let left: Vec<String> = sqlite
        .with_connection(|c| {
            c.prepare("SELECT post_id FROM mentions ORDER BY post_id")?
                .query_map([], |r| r.get(0))?
                .collect()
        })
        .unwrap();
    assert_eq!(left, ["hn:3"]);
}

#[tokio::test]
async fn issue_14_forget_on_clickhouse() {
    let Some(url) = earshot_tests::clickhouse() else {
        return;
    };
    let (config, mut sink) = migrated_clickhouse(&url).await;
    sink.write(&batch_of(seeds())).await.unwrap();
    let store = ForgetStore::open(&config).await.unwrap();
    let authors = AuthorStore::open(&config).await.unwrap();
    stand(&authors).await;
    forget(&store).await;
    // Deletes are mutations, applied in the background: wait for them.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let left: Vec<String> = client(&config)
            .query(
                "SELECT DISTINCT post_id FROM mentions
                 UNION ALL SELECT DISTINCT post_id FROM author_posts",
            )
            .fetch_all()
            .await
            .unwrap();
        if left == ["hn:3", "hn:3"] && standing(&authors).await == ["author9"] {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "still {left:?}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}
