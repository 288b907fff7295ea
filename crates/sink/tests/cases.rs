//! The CRM case maker's record (issue 14, item 5) on both stores: nothing
//! for a new post, then the latest record wins.

mod common;

use common::clickhouse_config;
use earshot_sink::cases::{CaseRecord, CaseStatus, CaseStore};
use earshot_sink::SinkConfig;

async fn check(store: &CaseStore) {
    assert_eq!(store.get("hn:1").await.unwrap(), None);
    let mut r = CaseRecord {
        post_id: "hn:1".into(),
        priority: 60,
        route: "support".into(),
        status: CaseStatus::Sent,
        attempts: 2,
        last_error: "HTTP 503".into(),
    };
    store.record(&r).await.unwrap();
    assert_eq!(store.get("hn:1").await.unwrap().as_ref(), Some(&r));
    // Re-scored higher and refused this time: the new record replaces it.
    r.priority = 85;
    r.status = CaseStatus::Failed;
    r.attempts = 5;
    r.last_error = "HTTP 400: bad case".into();
    // ClickHouse orders records by the time they were written, in nanoseconds.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    store.record(&r).await.unwrap();
    assert_eq!(store.get("hn:1").await.unwrap(), Some(r));
    assert_eq!(store.get("hn:2").await.unwrap(), None);
}

#[tokio::test]
async fn issue_14_case_record_on_the_embedded_store() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = SinkConfig::default();
    config.sqlite.path = dir.path().join("c.db");
    check(&CaseStore::open(&config).await.unwrap()).await;
}

#[tokio::test]
async fn issue_14_case_record_on_clickhouse() {
    let Some(url) = earshot_tests::clickhouse() else {
        return;
    };
    let config = clickhouse_config(&url);
    earshot_sink::migrate(&config).await.unwrap();
    check(&CaseStore::open(&config).await.unwrap()).await;
}
