//! The console's overview on the embedded store reads hourly rollups kept by
//! triggers (migration 19): after inserts, re-scorings that change sentiment,
//! brands, intents, source and time, and older scorings that must change
//! nothing, its figures equal those `Report` computes from the raw tables.

mod common;

use chrono::{DateTime, TimeZone, Utc};
use common::Seed;
use earshot_model::{EntityKind, Intent, SentimentLabel};
use earshot_sink::overview::OverviewStore;
use earshot_sink::sqlite::SqliteStore;
use earshot_sink::{Batch, BatchItem, Position, ReportParams, SinkConfig, SinkKind};

fn until() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap()
}

const ENTITIES: &[(EntityKind, &str)] = &[
    (EntityKind::Brand, "acme"),
    (EntityKind::Brand, "initech"),
    (EntityKind::Competitor, "globex"),
    (EntityKind::Customer, "cust-1"),
];

fn seed(n: u64, generation: u64) -> Seed<'static> {
    seed_matching(n, generation, |_| true)
}

/// A seed naming its entities only when `matched(n + generation)`.
fn seed_matching(n: u64, generation: u64, matched: fn(u64) -> bool) -> Seed<'static> {
    let x = n * 7 + generation * 13;
    let at = until() - chrono::Duration::minutes((n * 37 % (3 * 24 * 60)) as i64 + 1);
    let mut s = Seed::new(
        format!("p{n}"),
        at + chrono::Duration::hours(generation as i64 % 2),
    );
    s.source = ["hn", "reddit", "rss"][(x % 3) as usize];
    s.label = [
        SentimentLabel::Positive,
        SentimentLabel::Neutral,
        SentimentLabel::Negative,
    ][(x % 3) as usize];
    for (k, e) in ENTITIES.iter().enumerate() {
        if matched(n + generation) && (x + k as u64).is_multiple_of(2) {
            s.mentions.push(*e);
        }
    }
    if x.is_multiple_of(3) {
        s.intents.push(Intent::COMPLAINT);
    }
    if x.is_multiple_of(4) {
        s.intents.push(Intent::PRAISE);
    }
    s
}

fn batch(seeds: &[Seed<'_>], scored_at: DateTime<Utc>) -> Batch {
    let mut b = Batch::default();
    for (n, s) in seeds.iter().enumerate() {
        let mut i = s.build();
        i.scored_at = scored_at;
        b.push(BatchItem {
            raw: i.to_json(),
            interaction: i,
            position: Position {
                topic: "scored".into(),
                partition: 0,
                offset: n as i64,
            },
        });
    }
    b
}

#[tokio::test]
async fn issue_15_hourly_rollups_match_the_raw_tables_after_rescoring() {
    rollups_match_the_raw_tables(seed).await;
}

/// Issue 16: posts about no brand, competitor or customer stay stored but
/// out of every figure; the overview's "all brands" rollup counted them in
/// its intents and sources. Every tenth post (by number and generation)
/// matches nothing, so re-scoring moves posts in and out of the figures.
#[tokio::test]
async fn issue_16_unmatched_posts_stay_out_of_the_overview() {
    rollups_match_the_raw_tables(|n, g| seed_matching(n, g, |k| k % 10 != 0)).await;
}

async fn rollups_match_the_raw_tables(seed: fn(u64, u64) -> Seed<'static>) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = SinkConfig {
        kind: SinkKind::Sqlite,
        ..SinkConfig::default()
    };
    config.sqlite.path = dir.path().join("e.db");
    let store = SqliteStore::open(&config.sqlite.path).unwrap();
    store.migrate().unwrap();
    let t0 = until() - chrono::Duration::days(1);
    let first: Vec<Seed> = (0..300).map(|n| seed(n, 0)).collect();
    store.upsert(&batch(&first, t0)).unwrap();
    // Re-scored later: a third of the posts change.
    let second: Vec<Seed> = (0..300).step_by(3).map(|n| seed(n, 1)).collect();
    store
        .upsert(&batch(&second, t0 + chrono::Duration::hours(1)))
        .unwrap();
    // An older scoring arrives late: it must change nothing.
    let stale: Vec<Seed> = (0..300).step_by(5).map(|n| seed(n, 2)).collect();
    store
        .upsert(&batch(&stale, t0 - chrono::Duration::hours(1)))
        .unwrap();

    let overview = OverviewStore::open(&config).await.unwrap();
    for brand in ["", "acme", "globex"] {
        let o = overview
            .overview(until() - chrono::Duration::days(3), until(), brand)
            .await
            .unwrap();
        let p = ReportParams::between(o.since, o.until, Some(brand));
        let r = store.report(&p).unwrap();
        let sov = &r
            .share_of_voice
            .iter()
            .find(|(l, _)| l == "window")
            .unwrap()
            .1;
        assert_eq!(&o.share_of_voice, sov, "share of voice, brand {brand:?}");
        assert_eq!(
            o.hourly, r.net_sentiment,
            "hourly sentiment, brand {brand:?}"
        );
        assert_eq!(o.intents, r.intents, "intents, brand {brand:?}");
        assert_eq!(o.sources, r.sources, "sources, brand {brand:?}");
        assert_eq!(o.spikes, r.spikes, "spikes, brand {brand:?}");
        assert!(!o.hourly.is_empty() && !o.intents.is_empty());
    }
}

/// Where the queue's seeds are written.
enum Target {
    Sqlite(SqliteStore),
    ClickHouse(Box<earshot_sink::clickhouse::ClickHouseSink>),
}

impl Target {
    async fn write(&mut self, b: &Batch) {
        match self {
            Target::Sqlite(s) => s.upsert(b).map(|_| ()).unwrap(),
            Target::ClickHouse(s) => {
                use earshot_sink::Sink;
                s.write(b).await.unwrap();
            }
        }
    }
}

/// 30,000 posts: acme in every one (a common brand), initech in every
/// 1,000th (rare), 25 hours of posts, half routed; then every tenth
/// re-scored an hour later with its route flipped and another priority, so
/// a post routed only in an older version must not be queued.
async fn queue_agrees_with_the_seeds(config: &SinkConfig, mut target: Target) {
    use earshot_model::Route;
    use earshot_sink::work::{QueueFilter, WorkStore};

    let mut seeds: Vec<Seed> = (0..30_000u64)
        .map(|n| {
            let mut s = Seed::new(
                format!("p{n}"),
                until() - chrono::Duration::seconds(n as i64 * 3 + 1),
            );
            s.mentions.push((EntityKind::Brand, "acme"));
            if n % 1000 == 0 {
                s.mentions.push((EntityKind::Brand, "initech"));
            }
            if n % 3 == 0 {
                s.intents.push(Intent::COMPLAINT);
            }
            s.route = if n % 2 == 0 {
                Route::SUPPORT
            } else {
                Route::NONE
            };
            s.priority = (n % 100) as u8;
            s.reach = n % 977;
            s
        })
        .collect();
    for chunk in seeds.chunks(5_000) {
        target.write(&batch(chunk, until())).await;
    }
    let rescored: Vec<Seed> = seeds
        .iter_mut()
        .step_by(10)
        .map(|s| {
            s.route = if s.route == Route::NONE {
                Route::SUPPORT
            } else {
                Route::NONE
            };
            s.priority = 99 - s.priority;
            s.clone()
        })
        .collect();
    target
        .write(&batch(&rescored, until() + chrono::Duration::hours(1)))
        .await;
    let work = WorkStore::open(config).await.unwrap();
    let since = until() - chrono::Duration::hours(30);
    for (brand, intent) in [
        ("", ""),
        ("acme", ""),
        ("initech", ""),
        ("initech", "complaint"),
        ("umbrella", ""),
        ("", "praise"),
        ("acme", "complaint"),
    ] {
        let mut expected: Vec<&Seed> = seeds
            .iter()
            .filter(|s| s.route != Route::NONE && s.at >= since && s.at < until())
            .filter(|s| brand.is_empty() || s.mentions.iter().any(|(_, e)| *e == brand))
            .filter(|s| {
                intent.is_empty()
                    || (intent == "complaint" && s.intents.contains(&Intent::COMPLAINT))
            })
            .collect();
        expected.sort_by(|a, b| {
            b.priority
                .cmp(&a.priority)
                .then(b.reach.cmp(&a.reach))
                .then(b.at.cmp(&a.at))
                .then(format!("hn:{}", a.id).cmp(&format!("hn:{}", b.id)))
        });
        let expected: Vec<String> = expected
            .iter()
            .take(100)
            .map(|s| format!("hn:{}", s.id))
            .collect();
        let got: Vec<String> = work
            .queue(&QueueFilter {
                since,
                until: until(),
                brand: brand.into(),
                intent: intent.into(),
                limit: 100,
                ..QueueFilter::default()
            })
            .await
            .unwrap()
            .into_iter()
            .map(|q| q.post.post_id)
            .collect();
        assert_eq!(got, expected, "brand {brand:?}, intent {intent:?}");
    }
}

/// The work queue on the embedded store takes one of three read paths by
/// what the rollups say of its filters (priority order for a common brand,
/// the mentions index for a rare one, nothing for an absent one); each must
/// list exactly the posts and order computed here from the seeds.
#[tokio::test]
async fn issue_15_work_queue_filters_agree_with_the_seeds_on_every_read_path() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = SinkConfig {
        kind: SinkKind::Sqlite,
        ..SinkConfig::default()
    };
    config.sqlite.path = dir.path().join("q.db");
    let store = SqliteStore::open(&config.sqlite.path).unwrap();
    store.migrate().unwrap();
    queue_agrees_with_the_seeds(&config, Target::Sqlite(store)).await;
}

/// The same on ClickHouse, whose queue query finds the page's posts on
/// their latest versions' narrow columns before reading their text.
#[tokio::test]
async fn issue_15_work_queue_filters_agree_with_the_seeds_on_clickhouse() {
    let Some(url) = earshot_tests::clickhouse() else {
        return;
    };
    let config = common::clickhouse_config(&url);
    earshot_sink::migrate(&config).await.unwrap();
    let sink = earshot_sink::clickhouse::ClickHouseSink::connect(
        &config.clickhouse,
        earshot_sink::RetryPolicy::new(&config.retry, tokio_util::sync::CancellationToken::new()),
    )
    .await
    .unwrap();
    queue_agrees_with_the_seeds(&config, Target::ClickHouse(Box::new(sink))).await;
}
