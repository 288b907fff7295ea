//! Marking posts answered (issue 14, item 4) in both stores: the first
//! response is the answer, repeating an action changes nothing, each
//! distinct action is logged, and an unknown post id is refused.

mod common;

use chrono::{TimeZone, Utc};
use common::{batch_of, client, migrated_clickhouse, simple};
use earshot_sink::responses::{Recorded, Response, ResponseError, ResponseStore};
use earshot_sink::sqlite::SqliteStore;
use earshot_sink::{Sink, SinkConfig};

fn response(id: &str, by: &str, note: &str, at: i64) -> Response {
    Response {
        post_id: id.into(),
        responded_at: Utc.timestamp_opt(at, 0).unwrap(),
        responder: by.into(),
        channel: "cli".into(),
        note: note.into(),
    }
}

/// The same script on either store; returns the log's row count.
async fn script(store: &ResponseStore) {
    let first = response("hn:1", "ann", "called back", 1_800_000_000);
    assert_eq!(store.record(&first).await.unwrap(), Recorded::First);
    // The same action again, and another agent later: the first stays the answer.
    let mut answered = first.clone();
    answered.note.clear();
    for r in [first.clone(), response("hn:1", "bob", "", 1_800_000_600)] {
        assert_eq!(
            store.record(&r).await.unwrap(),
            Recorded::AlreadyAnswered(answered.clone())
        );
    }
    assert_eq!(store.answer("hn:1").await.unwrap(), Some(answered));
    assert_eq!(store.answer("hn:2").await.unwrap(), None);
    match store
        .record(&response("hn:999", "ann", "", 1_800_000_000))
        .await
    {
        Err(ResponseError::UnknownPost(id)) => assert_eq!(id, "hn:999"),
        other => panic!("{other:?}"),
    }
    let long = response("hn:2", &"x".repeat(5000), "", 1_800_000_000);
    assert!(matches!(
        store.record(&long).await,
        Err(ResponseError::Invalid(_))
    ));
}

#[tokio::test]
async fn issue_14_respond_on_the_embedded_store() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = SinkConfig::default();
    config.sqlite.path = dir.path().join("e.db");
    let store = ResponseStore::open(&config).await.unwrap(); // migrates
    let at = Utc.timestamp_opt(1_799_990_000, 0).unwrap();
    let sqlite = SqliteStore::open(&config.sqlite.path).unwrap();
    sqlite
        .upsert(&batch_of(vec![simple(1, at), simple(2, at)]))
        .unwrap();
    script(&store).await;
    let logged: i64 = sqlite
        .with_connection(|c| c.query_row("SELECT COUNT(*) FROM response_log", [], |r| r.get(0)))
        .unwrap();
    assert_eq!(logged, 2);
}

#[tokio::test]
async fn issue_14_respond_on_clickhouse() {
    let Some(url) = earshot_tests::clickhouse() else {
        return;
    };
    let at = Utc.timestamp_opt(1_799_990_000, 0).unwrap();
    let (config, mut sink) = migrated_clickhouse(&url).await;
    sink.write(&batch_of(vec![simple(1, at), simple(2, at)]))
        .await
        .unwrap();
    let store = ResponseStore::open(&config).await.unwrap();
    script(&store).await;
    let logged: u64 = client(&config)
        .query("SELECT count() FROM response_log FINAL")
        .fetch_one()
        .await
        .unwrap();
    assert_eq!(logged, 2);
}
