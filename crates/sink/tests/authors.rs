//! Authors (issue 14, items 1 and 3) on both stores: profiles over a window
//! and a brand's advocates and detractors, counted in distinct posts (a
//! redelivered batch changes nothing).

mod common;

use chrono::{DateTime, Duration, TimeZone, Utc};
use common::{batch_of, clickhouse_config, Seed};
use earshot_model::{EntityKind, Intent, SentimentLabel};
use earshot_sink::authors::{AuthorStore, Side, StandingQuery};
use earshot_sink::clickhouse::ClickHouseSink;
use earshot_sink::sqlite::SqliteStore;
use earshot_sink::{RetryPolicy, Sink, SinkConfig};
use tokio_util::sync::CancellationToken;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap()
}

/// Authors are `author<reach>` (the seed builder's convention).
fn seeds() -> Vec<earshot_model::Interaction> {
    let post = |id: &str, minutes: i64, reach: u64, brand: &'static str, label: SentimentLabel| {
        let mut s = Seed::new(id, t0() + Duration::minutes(minutes));
        s.reach = reach;
        s.mentions = vec![(EntityKind::Brand, brand)];
        s.label = label;
        s
    };
    use SentimentLabel::*;
    let mut out = [
        // author100: three positive posts about acme: an advocate.
        post("a1", 1, 100, "acme", Positive),
        post("a2", 2, 100, "acme", Positive),
        post("a3", 3, 100, "acme", Positive),
        // ... and one negative about globex: not (yet) a detractor.
        post("a4", 4, 100, "globex", Negative),
        // author5000: two negative posts about acme, one a churn risk.
        post("d1", 5, 5000, "acme", Negative),
        post("d2", 6, 5000, "acme", Negative),
        // author7: one negative post: not repeated.
        post("s1", 7, 7, "acme", Negative),
    ];
    out[5].intents = vec![Intent::ChurnRisk];
    out.iter().map(Seed::build).collect()
}

async fn check(store: &AuthorStore) {
    let q = |side, brand: &str, min_reach| StandingQuery {
        side,
        since: t0(),
        until: t0() + Duration::hours(1),
        brand: brand.into(),
        min_posts: 2,
        min_reach,
        limit: 10,
    };
    let adv = store.standings(&q(Side::Advocates, "", 0)).await.unwrap();
    assert_eq!(adv.len(), 1, "{adv:?}");
    assert_eq!(
        (
            adv[0].brand.as_str(),
            adv[0].handle.as_str(),
            adv[0].posts,
            adv[0].reach
        ),
        ("acme", "author100", 3, 100)
    );
    assert_eq!(adv[0].latest_post, "hn:a3");
    let det = store
        .standings(&q(Side::Detractors, "acme", 0))
        .await
        .unwrap();
    assert_eq!(det.len(), 1, "{det:?}");
    assert_eq!((det[0].handle.as_str(), det[0].posts), ("author5000", 2));
    // A reach threshold above every detractor leaves none.
    assert!(store
        .standings(&q(Side::Detractors, "acme", 10_000))
        .await
        .unwrap()
        .is_empty());

    let all = store
        .profiles(t0(), t0() + Duration::hours(1), None, "", 10)
        .await
        .unwrap();
    assert_eq!(all.len(), 3, "{all:?}");
    let p = &all[0];
    assert_eq!(
        (p.source.as_str(), p.handle.as_str(), p.posts),
        ("hn", "author100", 4)
    );
    assert_eq!((p.positive, p.neutral, p.negative), (3, 0, 1));
    assert_eq!(
        p.brands,
        [("acme".to_string(), 3), ("globex".to_string(), 1)]
    );
    assert_eq!(p.first_seen, t0() + Duration::minutes(1));
    assert_eq!(p.last_seen, t0() + Duration::minutes(4));
    assert_eq!((p.reach_latest, p.reach_max), (100, 100));
    let one = store
        .profiles(
            t0(),
            t0() + Duration::hours(1),
            Some(("hn", "author5000")),
            "",
            10,
        )
        .await
        .unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].intents, [("churn_risk".to_string(), 1)]);
    let about_globex = store
        .profiles(t0(), t0() + Duration::hours(1), None, "globex", 10)
        .await
        .unwrap();
    assert_eq!(about_globex.len(), 1);
}

#[tokio::test]
async fn issue_14_authors_on_the_embedded_store() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = SinkConfig::default();
    config.sqlite.path = dir.path().join("a.db");
    let store = AuthorStore::open(&config).await.unwrap();
    SqliteStore::open(&config.sqlite.path)
        .unwrap()
        .upsert(&batch_of(seeds()))
        .unwrap();
    check(&store).await;
}

#[tokio::test]
async fn issue_14_authors_on_clickhouse() {
    let Some(url) = earshot_tests::clickhouse() else {
        return;
    };
    let config = clickhouse_config(&url);
    earshot_sink::migrate(&config).await.unwrap();
    let mut sink = ClickHouseSink::connect(
        &config.clickhouse,
        RetryPolicy::new(&config.retry, CancellationToken::new()),
    )
    .await
    .unwrap();
    sink.write(&batch_of(seeds())).await.unwrap();
    // Redelivered: nothing counts twice.
    sink.write(&batch_of(seeds())).await.unwrap();
    let store = AuthorStore::open(&config).await.unwrap();
    check(&store).await;
}
