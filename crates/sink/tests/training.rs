//! What `earshot train-context` reads from the store (issue 16 item 1), on
//! both stores: the posts of a window page by page in id order, and the
//! matches marked wrong once per post and entity, with their posts.

mod common;

use chrono::{DateTime, Duration, TimeZone, Utc};
use common::{batch_of, migrated_clickhouse, Seed};
use earshot_model::{EntityKind, Interaction};
use earshot_sink::sqlite::SqliteStore;
use earshot_sink::training::TrainingStore;
use earshot_sink::work::WorkStore;
use earshot_sink::{Sink, SinkConfig};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap()
}

fn seeds() -> Vec<Interaction> {
    (1..=5)
        .map(|i| {
            let mut s = Seed::new(format!("{i}"), t0() + Duration::minutes(i));
            s.mentions = vec![(EntityKind::Brand, "delta")];
            let mut x = s.build();
            x.post.text = format!("Delta post {i}");
            x.post.lang = Some("en".into());
            x
        })
        .chain(std::iter::once({
            // Outside the window.
            let mut x = Seed::new("9", t0() - Duration::days(3)).build();
            x.post.text = "old".into();
            x
        }))
        .collect()
}

async fn check(config: &SinkConfig) {
    let work = WorkStore::open(config).await.unwrap();
    for analyst in ["ana", "bob"] {
        work.mark_wrong("hn:2", "delta", analyst, "", t0())
            .await
            .unwrap();
    }
    work.mark_wrong("hn:4", "delta", "ana", "river", t0())
        .await
        .unwrap();

    let store = TrainingStore::open(config).await.unwrap();
    let (since, until) = (t0() - Duration::hours(1), t0() + Duration::hours(1));
    let first = store.posts(since, until, "", 3).await.unwrap();
    let ids: Vec<&str> = first.iter().map(|p| p.post_id.as_str()).collect();
    assert_eq!(ids, ["hn:1", "hn:2", "hn:3"]);
    assert_eq!(first[1].text, "Delta post 2");
    assert_eq!(
        (first[1].source.as_str(), first[1].lang.as_str()),
        ("hn", "en")
    );
    let rest = store.posts(since, until, "hn:3", 3).await.unwrap();
    let ids: Vec<&str> = rest.iter().map(|p| p.post_id.as_str()).collect();
    assert_eq!(ids, ["hn:4", "hn:5"]);

    let wrong = store.wrong_matches().await.unwrap();
    let got: Vec<(&str, &str, &str)> = wrong
        .iter()
        .map(|(p, e)| (p.post_id.as_str(), e.as_str(), p.text.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("hn:2", "delta", "Delta post 2"),
            ("hn:4", "delta", "Delta post 4")
        ]
    );
}

#[tokio::test]
async fn issue_16_training_posts_and_feedback_on_the_embedded_store() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = SinkConfig::default();
    config.sqlite.path = dir.path().join("t.db");
    let _ = TrainingStore::open(&config).await.unwrap(); // migrates
    SqliteStore::open(&config.sqlite.path)
        .unwrap()
        .upsert(&batch_of(seeds()))
        .unwrap();
    check(&config).await;
}

#[tokio::test]
async fn issue_16_training_posts_and_feedback_on_clickhouse() {
    let Some(url) = earshot_tests::clickhouse() else {
        return;
    };
    let (config, mut sink) = migrated_clickhouse(&url).await;
    // Written twice: a redelivery leaves two versions of each row.
    sink.write(&batch_of(seeds())).await.unwrap();
    sink.write(&batch_of(seeds())).await.unwrap();
    check(&config).await;
}
