//! The dashboards on a seeded dataset, for both stores: ClickHouse
//! (`EARSHOT_TEST_CLICKHOUSE`) and the embedded SQLite store. Expected figures
//! are computed here from the seeds, independently of either store's SQL.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashSet};

use chrono::{DateTime, TimeZone, Utc};
use common::{clickhouse_config, client, migrated_clickhouse, Seed};
use earshot_model::{EntityKind, Intent, Route, SentimentLabel};
use earshot_sink::clickhouse::ClickHouseSink;
use earshot_sink::sqlite::SqliteStore;
use earshot_sink::{Batch, Report, ReportParams, RetryPolicy, Sink, SinkConfig, SinkKind};
use tokio_util::sync::CancellationToken;

fn until() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap()
}

/// A tiny deterministic generator, so the dataset is the same on every run.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

const ENTITIES: &[(EntityKind, &str)] = &[
    (EntityKind::Brand, "acme"),
    (EntityKind::Brand, "initech"),
    (EntityKind::Competitor, "globex"),
    (EntityKind::Competitor, "umbrella"),
    (EntityKind::Customer, "cust-1"),
];

fn seeds() -> Vec<Seed<'static>> {
    let mut rng = Lcg(42);
    let labels = [
        SentimentLabel::Positive,
        SentimentLabel::Neutral,
        SentimentLabel::Negative,
    ];
    let routes = [Route::NONE, Route::SUPPORT, Route::SALES, Route::PR];
    let sources = ["hn", "reddit", "rss"];
    let mut out = Vec::new();
    // 400 posts over the 9 days before `until`.
    for n in 0..400 {
        let at = until() - chrono::Duration::seconds(rng.next(9 * 86_400) as i64 + 1);
        let mut s = Seed::new(format!("p{n}"), at);
        s.source = sources[rng.next(3) as usize];
        for e in ENTITIES {
            if rng.next(3) == 0 {
                s.mentions.push(*e);
            }
        }
        s.label = labels[rng.next(3) as usize];
        if let Some((_, id)) = s.mentions.iter().find(|(k, _)| *k != EntityKind::Customer) {
            if rng.next(4) == 0 {
                s.entity_labels.push((id, labels[rng.next(3) as usize]));
            }
        }
        for intent in Intent::BUNDLED {
            if rng.next(5) == 0 {
                s.intents.push(intent.clone());
            }
        }
        s.route = routes[rng.next(4) as usize].clone();
        s.priority = rng.next(101) as u8;
        s.reach = rng.next(10) * 1000 + rng.next(1000);
        out.push(s);
    }
    // A burst: 25 acme mentions in the last hour.
    for n in 0..25 {
        let mut s = Seed::new(
            format!("burst{n}"),
            until() - chrono::Duration::seconds(60 + n * 97),
        );
        s.mentions = vec![(EntityKind::Brand, "acme")];
        s.label = SentimentLabel::Negative;
        s.route = Route::SUPPORT;
        s.priority = 90;
        s.reach = 500 + n as u64;
        s.source = "reddit";
        out.push(s);
    }
    out
}

/// Posts answered already (every seventh).
fn responded(seeds: &[Seed<'_>]) -> Vec<String> {
    seeds
        .iter()
        .step_by(7)
        .map(|s| format!("{}:{}", s.source, s.id))
        .collect()
}

fn batch(seeds: &[Seed<'_>]) -> Batch {
    common::batch_of(seeds.iter().map(Seed::build).collect())
}

fn label_of(s: &Seed<'_>, entity: &str) -> SentimentLabel {
    s.entity_labels
        .iter()
        .find(|(e, _)| *e == entity)
        .map_or(s.label, |(_, l)| *l)
}

fn in_window(s: &Seed<'_>, since: DateTime<Utc>, until: DateTime<Utc>) -> bool {
    s.at >= since && s.at < until
}

fn post_id(s: &Seed<'_>) -> String {
    format!("{}:{}", s.source, s.id)
}

fn matches_brand(s: &Seed<'_>, brand: Option<&str>, with_customers: bool) -> bool {
    brand.is_none_or(|b| {
        s.mentions
            .iter()
            .any(|(k, id)| *id == b && (with_customers || *k != EntityKind::Customer))
    })
}

/// Checks every dashboard of `r` against figures computed from `seeds`.
fn check(r: &Report, seeds: &[Seed<'_>], brand: Option<&str>) {
    let (since, until) = (r.params.since, r.params.until);
    let answered: HashSet<String> = responded(seeds).into_iter().collect();

    // Share of voice over each window.
    for (label, rows) in &r.share_of_voice {
        let from = if label == "window" {
            since
        } else {
            until - chrono::Duration::days(7)
        };
        let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
        for s in seeds.iter().filter(|s| in_window(s, from, until)) {
            for (k, id) in &s.mentions {
                if *k != EntityKind::Customer {
                    *counts.entry(id).or_default() += 1;
                }
            }
        }
        let total: u64 = counts.values().sum();
        let mut expected: Vec<(&str, u64)> = counts.into_iter().collect();
        expected.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let got: Vec<(&str, u64)> = rows
            .iter()
            .map(|r| (r.entity_id.as_str(), r.mentions))
            .collect();
        assert_eq!(got, expected, "share of voice ({label})");
        for row in rows {
            assert!((row.share - row.mentions as f64 / total as f64).abs() < 1e-9);
        }
    }

    // Net sentiment per brand per hour.
    let mut hourly: BTreeMap<(String, i64), [u64; 3]> = BTreeMap::new();
    for s in seeds.iter().filter(|s| in_window(s, since, until)) {
        for (k, id) in &s.mentions {
            if *k == EntityKind::Customer || brand.is_some_and(|b| b != *id) {
                continue;
            }
            let hour = s.at.timestamp() - s.at.timestamp().rem_euclid(3600);
            let slot = match label_of(s, id) {
                SentimentLabel::Positive => 0,
                SentimentLabel::Neutral => 1,
                SentimentLabel::Negative => 2,
            };
            hourly.entry((id.to_string(), hour)).or_default()[slot] += 1;
        }
    }
    assert_eq!(r.net_sentiment.len(), hourly.len(), "net sentiment rows");
    for (row, ((id, hour), [pos, neu, neg])) in r.net_sentiment.iter().zip(&hourly) {
        assert_eq!((&row.entity_id, row.hour.timestamp()), (id, *hour));
        assert_eq!(
            (row.positive, row.neutral, row.negative),
            (*pos, *neu, *neg),
            "{id} at {hour}"
        );
        let net = (pos + neg > 0).then(|| (*pos as f64 - *neg as f64) / (pos + neg) as f64);
        match (row.net, net) {
            (Some(a), Some(b)) => assert!((a - b).abs() < 1e-9),
            (a, b) => assert_eq!(a, b),
        }
    }

    // Top negative posts awaiting a response.
    let mut negative: Vec<&Seed<'_>> = seeds
        .iter()
        .filter(|s| in_window(s, since, until) && s.label == SentimentLabel::Negative)
        .filter(|s| !answered.contains(&post_id(s)) && matches_brand(s, brand, false))
        // A post about nobody stays out of the list (issue 16).
        .filter(|s| !s.mentions.is_empty())
        .collect();
    negative.sort_by(|a, b| {
        b.reach
            .cmp(&a.reach)
            .then(b.priority.cmp(&a.priority))
            .then(post_id(a).cmp(&post_id(b)))
    });
    let expected: Vec<String> = negative.iter().take(50).map(|s| post_id(s)).collect();
    let got: Vec<String> = r.top_negative.iter().map(|p| p.post_id.clone()).collect();
    assert_eq!(got, expected, "top negative");
    if let (Some(first), Some(seed)) = (r.top_negative.first(), negative.first()) {
        assert_eq!(first.reach, seed.reach);
        assert_eq!(first.route, seed.route.as_str());
        let entities: Vec<&str> = seed
            .mentions
            .iter()
            .filter(|(k, _)| *k != EntityKind::Customer)
            .map(|(_, id)| *id)
            .collect();
        let mut got_entities: Vec<&str> = first.entities.iter().map(String::as_str).collect();
        got_entities.sort();
        let mut want = entities.clone();
        want.sort();
        assert_eq!(got_entities, want);
    }

    // Work queue.
    let mut queue: Vec<&Seed<'_>> = seeds
        .iter()
        .filter(|s| in_window(s, since, until) && s.route != Route::NONE)
        .filter(|s| !answered.contains(&post_id(s)) && matches_brand(s, brand, true))
        .collect();
    queue.sort_by(|a, b| {
        b.priority
            .cmp(&a.priority)
            .then(b.reach.cmp(&a.reach))
            .then(b.at.cmp(&a.at))
            .then(post_id(a).cmp(&post_id(b)))
    });
    let expected: Vec<String> = queue.iter().take(50).map(|s| post_id(s)).collect();
    let got: Vec<String> = r.work_queue.iter().map(|p| p.post_id.clone()).collect();
    assert_eq!(got, expected, "work queue");

    // Intents and sources: distinct posts.
    let scoped: Vec<&Seed<'_>> = seeds
        .iter()
        .filter(|s| in_window(s, since, until) && matches_brand(s, brand, false))
        .filter(|s| !s.mentions.is_empty())
        .collect();
    let mut intents: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    let mut sources: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for s in &scoped {
        for i in &s.intents {
            intents.entry(i.as_str()).or_default().insert(post_id(s));
        }
        sources.entry(s.source).or_default().insert(post_id(s));
    }
    for (name, got, want) in [
        ("intents", &r.intents, intents),
        ("sources", &r.sources, sources),
    ] {
        let mut want: Vec<(String, u64)> = want
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.len() as u64))
            .collect();
        want.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let got: Vec<(String, u64)> = got.iter().map(|c| (c.key.clone(), c.posts)).collect();
        assert_eq!(got, want, "{name}");
    }

    // Spikes: last hour against the 12 hours before.
    let mut per_hour: BTreeMap<&str, [u64; 13]> = BTreeMap::new();
    let start = until - chrono::Duration::hours(13);
    for s in seeds.iter().filter(|s| in_window(s, start, until)) {
        for (k, id) in &s.mentions {
            if *k != EntityKind::Customer && brand.is_none_or(|b| b == *id) {
                per_hour.entry(id).or_default()[((s.at - start).num_seconds() / 3600) as usize] +=
                    1;
            }
        }
    }
    assert_eq!(r.spikes.len(), per_hour.len(), "spike rows");
    for spike in &r.spikes {
        let counts = per_hour[spike.entity_id.as_str()];
        let mean = counts[..12].iter().sum::<u64>() as f64 / 12.0;
        let var = counts[..12]
            .iter()
            .map(|c| (*c as f64 - mean).powi(2))
            .sum::<f64>()
            / 12.0;
        assert_eq!(spike.last_hour, counts[12], "{}", spike.entity_id);
        assert!(
            (spike.mean - mean).abs() < 1e-9 && (spike.stddev - var.sqrt()).abs() < 1e-9,
            "{}",
            spike.entity_id
        );
        assert_eq!(
            spike.spike,
            counts[12] as f64 > mean + 3.0 * var.sqrt(),
            "{}",
            spike.entity_id
        );
    }
    if brand.is_none_or(|b| b == "acme") {
        assert!(
            r.spikes[0].spike && r.spikes[0].entity_id == "acme",
            "the burst is detected first: {:?}",
            r.spikes
        );
    }
}

fn windows() -> Vec<(ReportParams, Option<&'static str>)> {
    let day = ReportParams::between(until() - chrono::Duration::hours(24), until(), None);
    let three_days_acme =
        ReportParams::between(until() - chrono::Duration::days(3), until(), Some("acme"));
    let week_globex =
        ReportParams::between(until() - chrono::Duration::days(7), until(), Some("globex"));
    vec![
        (day, None),
        (three_days_acme, Some("acme")),
        (week_globex, Some("globex")),
    ]
}

#[tokio::test]
async fn clickhouse_dashboards_match_the_seeded_data() {
    let Some(url) = earshot_tests::clickhouse() else {
        return;
    };
    let seeds = seeds();
    let (config, mut sink) = migrated_clickhouse(&url).await;
    sink.write(&batch(&seeds)).await.unwrap();
    for id in responded(&seeds) {
        client(&config)
            .query("INSERT INTO responses (post_id, responded_at, responder, channel) SELECT ?, now(), 'agent', 'reply'")
            .bind(id)
            .execute()
            .await
            .unwrap();
    }
    for (params, brand) in windows() {
        let report = earshot_sink::report(&config, &params).await.unwrap();
        check(&report, &seeds, brand);
    }
}

/// A crash between an insert and its offset commit redelivers rows, and the
/// restarted sink batches them differently (other neighbours, other order), so
/// neither the server's insert deduplication nor a token can drop them. The
/// dashboards read `mention_posts_minute`, whose post-id sets absorb them.
#[tokio::test]
async fn clickhouse_dashboards_are_unchanged_by_redelivered_rows() {
    let Some(url) = earshot_tests::clickhouse() else {
        return;
    };
    let config = clickhouse_config(&url);
    earshot_sink::migrate(&config).await.unwrap();
    let seeds = seeds();
    let connect = || {
        ClickHouseSink::connect(
            &config.clickhouse,
            RetryPolicy::new(&config.retry, CancellationToken::new()),
        )
    };
    let mut sink = connect().await.unwrap();
    // First delivery: in three batches, as the first sink process cut them.
    let all = batch(&seeds);
    for chunk in all.items.chunks(all.len() / 3 + 1) {
        let mut b = Batch::default();
        for item in chunk {
            b.push(item.clone());
        }
        sink.write(&b).await.unwrap();
    }
    for id in responded(&seeds) {
        client(&config)
            .query("INSERT INTO responses (post_id, responded_at, responder, channel) SELECT ?, now(), 'agent', 'reply'")
            .bind(id)
            .execute()
            .await
            .unwrap();
    }
    let before: Vec<Report> = {
        let mut out = Vec::new();
        for (params, _) in windows() {
            out.push(earshot_sink::report(&config, &params).await.unwrap());
        }
        out
    };

    // Redelivery after a "crash": a new sink writes the second half of the
    // records interleaved with every third record of the first half, reversed.
    drop(sink);
    let mut sink = connect().await.unwrap();
    let half = all.len() / 2;
    let mut again = Batch::default();
    for (n, item) in all.items.iter().enumerate().rev() {
        if n >= half || n % 3 == 0 {
            again.push(item.clone());
        }
    }
    let redelivered = again.len() as u64;
    sink.write(&again).await.unwrap();

    // The raw insert counter shows the redelivered mentions did reach ClickHouse…
    let inserted = client(&config)
        .query("SELECT toUInt64(sum(mentions)) FROM mentions_minute")
        .fetch_one::<u64>()
        .await
        .unwrap();
    let distinct = client(&config)
        .query("SELECT toUInt64(count()) FROM mentions FINAL")
        .fetch_one::<u64>()
        .await
        .unwrap();
    assert!(
        inserted > distinct && redelivered > 0,
        "redelivered rows were inserted: {inserted} mentions inserted, {distinct} distinct"
    );
    // …and every dashboard shows the same figures as before, which are the seeds' own.
    for ((params, brand), before) in windows().into_iter().zip(before) {
        let after = earshot_sink::report(&config, &params).await.unwrap();
        check(&after, &seeds, brand);
        assert_eq!(after, before, "window {params:?}");
    }
}

#[tokio::test]
async fn embedded_store_dashboards_match_the_seeded_data() {
    let dir = tempfile::tempdir().unwrap();
    let config = SinkConfig {
        kind: SinkKind::Sqlite,
        sqlite: earshot_sink::SqliteConfig {
            path: dir.path().join("e.db"),
            ..Default::default()
        },
        ..SinkConfig::default()
    };
    let first = earshot_sink::migrate(&config).await.unwrap();
    assert_eq!(first.applied.len(), 18);
    assert_eq!(
        earshot_sink::migrate(&config)
            .await
            .unwrap()
            .already_applied,
        18
    );
    let store = SqliteStore::open(&config.sqlite.path).unwrap();
    let seeds = seeds();
    let b = batch(&seeds);
    store.upsert(&b).unwrap();
    // Upserting the same rows again (a redelivery) changes nothing.
    store.upsert(&b).unwrap();
    for id in responded(&seeds) {
        store.record_response(&id, "agent", "reply").unwrap();
    }
    for (params, brand) in windows() {
        let report = earshot_sink::report(&config, &params).await.unwrap();
        check(&report, &seeds, brand);
    }
}
