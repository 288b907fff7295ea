//! The alert API on both stores (the embedded SQLite store and ClickHouse,
//! `EARSHOT_TEST_CLICKHOUSE`): figures against values computed here from the
//! seeds, the posts an alert shows, and the durable dedup/cooldown state.

mod common;

use chrono::{DateTime, Duration, TimeZone, Utc};
use common::{clickhouse_config, migrated_clickhouse, Seed};
use earshot_model::{EntityKind, Intent, SentimentLabel};
use earshot_sink::alerts::{
    AlertKey, AlertRecord, AlertStore, Delivery, DeliveryStatus, EntityFigures, PostFilter,
    Suppression, DAYS, HOURS,
};
use earshot_sink::sqlite::SqliteStore;
use earshot_sink::{Batch, Sink, SinkConfig};

fn until() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap()
}

const ACME: (EntityKind, &str) = (EntityKind::Brand, "acme");
const GLOBEX: (EntityKind, &str) = (EntityKind::Competitor, "globex");

fn intents() -> Vec<String> {
    vec!["pr_risk".into(), "churn_risk".into()]
}

fn seeds() -> Vec<Seed<'static>> {
    let mut out = Vec::new();
    let u = until();
    // Hour i of the 13 (0 = oldest) has i acme posts; the first i/2 are
    // negative about acme though positive overall.
    for i in 0..13i64 {
        for n in 0..i {
            let mut s = Seed::new(
                format!("h{i}_{n}"),
                u - Duration::hours(13 - i) + Duration::minutes(n),
            );
            s.mentions = vec![ACME];
            s.label = SentimentLabel::Positive;
            if n < i / 2 {
                s.entity_labels = vec![("acme", SentimentLabel::Negative)];
            }
            s.reach = (i * 100 + n) as u64;
            if i == 12 && n < 5 {
                s.intents = match n {
                    0 => vec![Intent::PR_RISK, Intent::CHURN_RISK], // counted once
                    1 | 2 => vec![Intent::PR_RISK],
                    3 => vec![Intent::CHURN_RISK],
                    _ => vec![Intent::COMPLAINT], // not PR risk
                };
            }
            if n == 0 {
                s.mentions.push(GLOBEX);
            }
            out.push(s);
        }
    }
    // Day d of the 7 before the last 24 hours has d + 1 acme posts.
    for d in 0..7i64 {
        for n in 0..=d {
            let mut s = Seed::new(
                format!("d{d}_{n}"),
                u - Duration::days(8 - d) + Duration::hours(2) + Duration::minutes(n),
            );
            s.mentions = vec![ACME];
            out.push(s);
        }
    }
    // Edges: at `until` (excluded), 8 days before it (included, day 0).
    let mut s = Seed::new("at_until", u);
    s.mentions = vec![ACME];
    out.push(s);
    let mut s = Seed::new("eight_days", u - Duration::days(8));
    s.mentions = vec![ACME];
    out.push(s);
    out
}

/// Figures computed from the seeds, independently of either store's SQL.
fn expected(seeds: &[Seed<'_>]) -> Vec<EntityFigures> {
    let u = until();
    let set = intents();
    let mut out: Vec<EntityFigures> = Vec::new();
    for s in seeds {
        for (kind, id) in &s.mentions {
            if *kind == EntityKind::Customer || s.at >= u || s.at < u - Duration::days(8) {
                continue;
            }
            let f = match out.iter_mut().position(|f| f.entity_id == *id) {
                Some(i) => &mut out[i],
                None => {
                    out.push(EntityFigures::empty(id));
                    out.last_mut().unwrap()
                }
            };
            let d = ((s.at - (u - Duration::days(8))).num_seconds() / 86_400) as usize;
            f.daily[d] += 1;
            if s.at >= u - Duration::hours(13) {
                let h = ((s.at - (u - Duration::hours(13))).num_seconds() / 3600) as usize;
                f.hourly[h] += 1;
                let label = s
                    .entity_labels
                    .iter()
                    .find(|(e, _)| e == id)
                    .map_or(s.label, |(_, l)| *l);
                if label == SentimentLabel::Negative {
                    f.hourly_negative[h] += 1;
                }
                if s.intents
                    .iter()
                    .any(|i| set.iter().any(|x| x == i.as_str()))
                {
                    f.hourly_intent[h] += 1;
                }
            }
        }
    }
    out.sort_by(|a, b| a.entity_id.cmp(&b.entity_id));
    out
}

fn batch(seeds: &[Seed<'_>]) -> Batch {
    common::batch_of(seeds.iter().map(Seed::build).collect())
}

async fn check_store(store: &AlertStore, seeds: &[Seed<'_>]) {
    let mut got = store
        .figures(until() + Duration::seconds(30), &intents())
        .await
        .unwrap();
    got.sort_by(|a, b| a.entity_id.cmp(&b.entity_id));
    let want = expected(seeds);
    assert_eq!(got, want);
    let acme = &got[0];
    assert_eq!(acme.hourly, (0..13).collect::<Vec<u64>>());
    assert_eq!(acme.hourly_intent[12], 4);
    assert_eq!((acme.hourly.len(), acme.daily.len()), (HOURS, DAYS));

    let (since, u) = (until() - Duration::hours(1), until());
    let ids = |posts: Vec<earshot_sink::PostSummary>| -> Vec<String> {
        posts.into_iter().map(|p| p.post_id).collect()
    };
    let all = store
        .posts("acme", since, u, &PostFilter::Any, 3)
        .await
        .unwrap();
    assert_eq!(ids(all), ["hn:h12_11", "hn:h12_10", "hn:h12_9"]);
    let negative = store
        .posts("acme", since, u, &PostFilter::Negative, 50)
        .await
        .unwrap();
    assert_eq!(
        ids(negative),
        ["hn:h12_5", "hn:h12_4", "hn:h12_3", "hn:h12_2", "hn:h12_1", "hn:h12_0"]
    );
    let risky = store
        .posts("acme", since, u, &PostFilter::Intents(intents()), 50)
        .await
        .unwrap();
    assert_eq!(ids(risky), ["hn:h12_3", "hn:h12_2", "hn:h12_1", "hn:h12_0"]);
    let globex = store
        .posts("globex", since, u, &PostFilter::Any, 50)
        .await
        .unwrap();
    assert_eq!(ids(globex), ["hn:h12_0"]);

    // Durable state: one spike alerts once; the cooldown and overlapping windows hold the rest.
    let key = AlertKey {
        brand: "acme".into(),
        rule: "volume_spike_1h".into(),
        window_start: since,
    };
    let cooldown_since = u - Duration::hours(2);
    assert_eq!(store.suppression(&key, cooldown_since).await.unwrap(), None);
    let record = AlertRecord {
        key: key.clone(),
        window_end: u,
        fired_at: u,
        observed: 12.0,
        threshold: 9.5,
        payload: "{\"brand\":\"acme\",\"note\":\"it's; DROP\"}".into(),
    };
    assert!(store.record_alert(&record).await.unwrap());
    assert!(
        !store.record_alert(&record).await.unwrap(),
        "the key is taken"
    );
    assert_eq!(
        store.suppression(&key, cooldown_since).await.unwrap(),
        Some(Suppression::Duplicate)
    );
    let next_minute = AlertKey {
        window_start: since + Duration::minutes(1),
        ..key.clone()
    };
    assert_eq!(
        store
            .suppression(&next_minute, u + Duration::minutes(1) - Duration::hours(2))
            .await
            .unwrap(),
        Some(Suppression::Cooldown { last_fired: u })
    );
    // Past the cooldown, with a window after the alerted one: free again.
    let later = AlertKey {
        window_start: u + Duration::hours(2),
        ..key.clone()
    };
    assert_eq!(
        store
            .suppression(&later, u + Duration::seconds(1))
            .await
            .unwrap(),
        None
    );
    // Another rule or brand is independent.
    let other = AlertKey {
        rule: "negative_share".into(),
        ..next_minute
    };
    assert_eq!(
        store.suppression(&other, cooldown_since).await.unwrap(),
        None
    );

    let mut d = Delivery {
        channel: "pr-slack".into(),
        status: DeliveryStatus::Pending,
        attempts: 0,
        last_error: String::new(),
    };
    store.record_delivery(&key, &d).await.unwrap();
    d.status = DeliveryStatus::Failed;
    d.attempts = 5;
    d.last_error = "HTTP 503: busy".into();
    store.record_delivery(&key, &d).await.unwrap();
    let alerts = store.alerts(u - Duration::hours(1)).await.unwrap();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].0, record);
    assert_eq!(alerts[0].1, vec![d]);
}

#[tokio::test]
async fn issue_13_embedded_store_alert_figures_posts_and_state() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = SinkConfig::default();
    config.sqlite.path = dir.path().join("e.db");
    let store = AlertStore::open(&config).await.unwrap(); // migrates
    let seeds = seeds();
    SqliteStore::open(&config.sqlite.path)
        .unwrap()
        .upsert(&batch(&seeds))
        .unwrap();
    check_store(&store, &seeds).await;
}

#[tokio::test]
async fn issue_13_clickhouse_alert_figures_posts_and_state() {
    let Some(url) = earshot_tests::clickhouse() else {
        return;
    };
    let seeds = seeds();
    let (config, mut sink) = migrated_clickhouse(&url).await;
    sink.write(&batch(&seeds)).await.unwrap();
    // A redelivered batch changes no figure (distinct posts).
    sink.write(&batch(&seeds)).await.unwrap();
    let store = AlertStore::open(&config).await.unwrap();
    check_store(&store, &seeds).await;
}

#[tokio::test]
async fn issue_13_clickhouse_alert_store_says_to_migrate_first() {
    let Some(url) = earshot_tests::clickhouse() else {
        return;
    };
    let config = clickhouse_config(&url);
    let e = AlertStore::open(&config)
        .await
        .err()
        .expect("no database yet");
    assert!(e.to_string().contains("run `earshot migrate` first"), "{e}");
    // The database without the alert tables (created by an older build) is refused the same way.
    earshot_sink::clickhouse::client(&config.clickhouse, false)
        .query(&format!("CREATE DATABASE {}", config.clickhouse.database))
        .execute()
        .await
        .unwrap();
    let e = AlertStore::open(&config)
        .await
        .err()
        .expect("no tables yet");
    assert!(e.to_string().contains("lacks the tables"), "{e}");
    earshot_sink::migrate(&config).await.unwrap();
    assert!(AlertStore::open(&config).await.is_ok());
}
