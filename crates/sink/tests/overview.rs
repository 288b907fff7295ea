//! The console's overview on the embedded store reads hourly rollups kept by
//! triggers (migration 17): after inserts, re-scorings that change sentiment,
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
        if (x + k as u64).is_multiple_of(2) {
            s.mentions.push(*e);
        }
    }
    if x.is_multiple_of(3) {
        s.intents.push(Intent::Complaint);
    }
    if x.is_multiple_of(4) {
        s.intents.push(Intent::Praise);
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
