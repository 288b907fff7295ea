//! Authors (issue 14, items 1 and 3) on both stores: profiles over a window
//! and a brand's advocates and detractors, counted in distinct posts (a
//! redelivered batch changes nothing).

mod common;

use chrono::{DateTime, Duration, TimeZone, Utc};
use common::{batch_of, migrated_clickhouse, Seed};
use earshot_model::{EntityKind, Intent, SentimentLabel};
use earshot_sink::authors::{AuthorStore, Side, StandingQuery};
use earshot_sink::clickhouse::{prepare, Param};
use earshot_sink::sqlite::SqliteStore;
use earshot_sink::{Sink, SinkConfig};

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
    out[5].intents = vec![Intent::CHURN_RISK];
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
    let (config, mut sink) = migrated_clickhouse(&url).await;
    sink.write(&batch_of(seeds())).await.unwrap();
    // Redelivered: nothing counts twice.
    sink.write(&batch_of(seeds())).await.unwrap();
    let store = AuthorStore::open(&config).await.unwrap();
    check(&store).await;
}

/// The profile query as it was before `author_posts` (migration 021):
/// computed from the raw `interactions` at each post's latest version.
const RAW_PROFILES: &str = "
SELECT x_source AS source, x_handle AS author_handle, count() AS posts,
       toUInt32(min(x_time)) AS first_seen, toUInt32(max(x_time)) AS last_seen,
       argMax(x_reach, x_time) AS reach_latest, max(x_reach) AS reach_max,
       countIf(x_label = 'positive') AS positive, countIf(x_label = 'neutral') AS neutral,
       countIf(x_label = 'negative') AS negative,
       groupArray(x_entities) AS entities, groupArray(x_intents) AS intents,
       groupArray(x_customers) AS customers
FROM (
    SELECT post_id, toString(argMax(source, version)) AS x_source,
           argMax(author_handle, version) AS x_handle,
           argMax(author_reach, version) AS x_reach, argMax(event_time, version) AS x_time,
           toString(argMax(sentiment_label, version)) AS x_label,
           argMax(arrayConcat(brands, competitors), version) AS x_entities,
           arrayMap(x -> toString(x), argMax(intents, version)) AS x_intents,
           argMax(customers, version) AS x_customers
    FROM interactions
    WHERE event_time >= toDateTime({since:UInt32}) AND event_time < toDateTime({until:UInt32})
    GROUP BY post_id)
WHERE x_handle != '' AND ({source:String} = '' OR x_source = {source:String})
  AND ({handle:String} = '' OR x_handle = {handle:String})
  AND ({brand:String} = '' OR has(x_entities, {brand:String}))
GROUP BY x_source, x_handle
ORDER BY posts DESC, reach_max DESC, source, author_handle
LIMIT 1000";

#[derive(clickhouse::Row, serde::Deserialize)]
struct RawProfile {
    source: String,
    author_handle: String,
    posts: u64,
    first_seen: u32,
    last_seen: u32,
    reach_latest: u64,
    reach_max: u64,
    positive: u64,
    neutral: u64,
    negative: u64,
    entities: Vec<Vec<String>>,
    intents: Vec<Vec<String>>,
    customers: Vec<Vec<String>>,
}

/// Tallies of per-post lists, most first, as the profiles give them.
fn tally(lists: Vec<Vec<String>>) -> Vec<(String, u64)> {
    let mut counts: std::collections::BTreeMap<String, u64> = Default::default();
    for mut list in lists {
        list.sort_unstable();
        list.dedup();
        for v in list {
            *counts.entry(v).or_default() += 1;
        }
    }
    let mut out: Vec<(String, u64)> = counts.into_iter().collect();
    out.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    out
}

/// A tiny deterministic generator, so the data is the same on every run.
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

/// 240 posts by 9 authors on 3 networks over 3 days (each author's posts
/// at distinct times), with brands, competitors, customers, entity
/// sentiment and intents; then 40 of them re-scored later with another
/// label, intents and customers (their mentions' entity sentiment kept).
fn varied() -> (
    Vec<earshot_model::Interaction>,
    Vec<earshot_model::Interaction>,
) {
    use SentimentLabel::*;
    let entities = [
        (EntityKind::Brand, "acme"),
        (EntityKind::Brand, "initech"),
        (EntityKind::Competitor, "globex"),
        (EntityKind::Customer, "cust-1"),
    ];
    let labels = [Positive, Neutral, Negative];
    let mut rng = Lcg(14);
    let mut seeds = Vec::new();
    for n in 0..240u64 {
        let mut s = Seed::new(format!("v{n}"), t0() + Duration::seconds(n as i64 * 1069));
        s.source = ["hn", "reddit", "x"][rng.next(3) as usize];
        s.mentions = entities
            .iter()
            .filter(|_| rng.next(2) == 0)
            .cloned()
            .collect();
        if s.mentions.is_empty() {
            s.mentions.push(entities[0]);
        }
        s.label = labels[rng.next(3) as usize];
        for (_, id) in s.mentions.clone() {
            if rng.next(2) == 0 {
                s.entity_labels.push((id, labels[rng.next(3) as usize]));
            }
        }
        s.intents = Intent::BUNDLED
            .iter()
            .filter(|_| rng.next(4) == 0)
            .cloned()
            .collect();
        s.reach = 10 + rng.next(5000);
        seeds.push(s);
    }
    let build = |s: &Seed, author: u64| {
        let mut i = s.build();
        i.post.author.handle = Some(format!("user{author}"));
        i
    };
    let authors: Vec<u64> = (0..seeds.len()).map(|_| rng.next(9)).collect();
    let first: Vec<_> = seeds
        .iter()
        .zip(&authors)
        .map(|(s, a)| build(s, *a))
        .collect();
    let rescored = seeds
        .iter()
        .zip(&authors)
        .step_by(6)
        .map(|(s, a)| {
            let mut s = s.clone();
            // Keep each mention's own sentiment; change the post's.
            let kept: Vec<(&str, SentimentLabel)> = s
                .mentions
                .iter()
                .map(|(_, id)| {
                    let l = s
                        .entity_labels
                        .iter()
                        .find(|(e, _)| e == id)
                        .map_or(s.label, |(_, l)| *l);
                    (*id, l)
                })
                .collect();
            s.entity_labels = kept;
            s.label = labels[(labels.iter().position(|l| *l == s.label).unwrap() + 1) % 3];
            s.intents = vec![Intent::BUNDLED[0].clone()];
            let mut i = build(&s, *a);
            i.scored_at += Duration::hours(1);
            i
        })
        .collect();
    (first, rescored)
}

/// Profiles and standings as comparable values.
async fn answers(store: &AuthorStore, window: (DateTime<Utc>, DateTime<Utc>)) -> Vec<String> {
    let mut out = Vec::new();
    for (author, brand) in [
        (None, ""),
        (None, "globex"),
        (Some(("reddit", "user3")), ""),
        (Some(("x", "user0")), "acme"),
    ] {
        let p = store
            .profiles(window.0, window.1, author, brand, 100)
            .await
            .unwrap();
        out.push(format!("profiles {author:?} {brand}: {p:#?}"));
    }
    for side in [Side::Advocates, Side::Detractors] {
        for brand in ["", "initech"] {
            let s = store
                .standings(&StandingQuery {
                    side,
                    since: window.0,
                    until: window.1,
                    brand: brand.into(),
                    min_posts: 2,
                    min_reach: 100,
                    limit: 100,
                })
                .await
                .unwrap();
            out.push(format!("standings {side:?} {brand}: {s:#?}"));
        }
    }
    out
}

/// Issue 14, item 1: on ClickHouse the profiles and standings read the
/// `author_posts` aggregate the sink's inserts feed. Their answers equal the
/// profile query over the raw `interactions` (as it was before the
/// aggregate) and the embedded store's, on posts that were redelivered
/// (in batches of another composition, before and after a re-scoring) and
/// re-scored, over windows that cut hours and days anywhere.
#[tokio::test]
async fn issue_14_clickhouse_author_aggregate_equals_the_raw_answers() {
    let Some(url) = earshot_tests::clickhouse() else {
        return;
    };
    let (first, rescored) = varied();
    let (config, mut sink) = migrated_clickhouse(&url).await;
    sink.write(&batch_of(first.clone())).await.unwrap();
    // Redelivered in another composition, then re-scored, then the old
    // versions redelivered once more: none of it may count twice.
    sink.write(&batch_of(
        first.iter().skip(1).step_by(2).cloned().collect(),
    ))
    .await
    .unwrap();
    sink.write(&batch_of(rescored.clone())).await.unwrap();
    sink.write(&batch_of(first.iter().step_by(3).cloned().collect()))
        .await
        .unwrap();
    let ch = AuthorStore::open(&config).await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    let mut embedded = SinkConfig::default();
    embedded.sqlite.path = dir.path().join("a.db");
    let sqlite = AuthorStore::open(&embedded).await.unwrap();
    let store = SqliteStore::open(&embedded.sqlite.path).unwrap();
    store.upsert(&batch_of(first.clone())).unwrap();
    store.upsert(&batch_of(rescored)).unwrap();
    store
        .upsert(&batch_of(first.iter().step_by(3).cloned().collect()))
        .unwrap();

    let client = common::client(&config);
    let features = earshot_sink::clickhouse::probe(&client).await.unwrap();
    let windows = [
        (t0(), t0() + Duration::days(4)),
        (
            t0() + Duration::seconds(12_345),
            t0() + Duration::seconds(150_001),
        ),
        (t0() + Duration::hours(30), t0() + Duration::hours(31)),
    ];
    for window in windows {
        let from_aggregate = answers(&ch, window).await;
        assert!(
            from_aggregate.iter().any(|a| a.contains("user")),
            "{from_aggregate:?}"
        );
        let embedded = answers(&sqlite, window).await;
        for (ours, theirs) in from_aggregate.iter().zip(&embedded) {
            let first_difference = ours
                .lines()
                .zip(theirs.lines())
                .enumerate()
                .find(|(_, (a, b))| a != b);
            assert!(
                first_difference.is_none() && ours.lines().count() == theirs.lines().count(),
                "{window:?}: ClickHouse and the embedded store differ at {first_difference:?} of:\n{ours}"
            );
        }

        // Today's raw query, every author of the window.
        let params = [
            ("since", Param::U32(window.0.timestamp() as u32)),
            ("until", Param::U32(window.1.timestamp() as u32)),
            ("source", Param::Str(String::new())),
            ("handle", Param::Str(String::new())),
            ("brand", Param::Str(String::new())),
        ];
        let raw: Vec<RawProfile> = prepare(&client, &features, RAW_PROFILES, &params)
            .fetch_all()
            .await
            .unwrap();
        let raw: Vec<String> = raw
            .into_iter()
            .map(|r| {
                let mut entities = r.entities;
                // The profiles count brands and competitors together.
                for e in &mut entities {
                    e.sort();
                }
                format!(
                    "{}:{} {} {}..{} {}/{} {}/{}/{} {:?} {:?} {:?}",
                    r.source,
                    r.author_handle,
                    r.posts,
                    r.first_seen,
                    r.last_seen,
                    r.reach_latest,
                    r.reach_max,
                    r.positive,
                    r.neutral,
                    r.negative,
                    tally(entities),
                    tally(r.intents),
                    tally(r.customers)
                        .into_iter()
                        .map(|(c, _)| c)
                        .collect::<Vec<_>>()
                )
            })
            .collect();
        let ours: Vec<String> = ch
            .profiles(window.0, window.1, None, "", 1000)
            .await
            .unwrap()
            .into_iter()
            .map(|p| {
                format!(
                    "{}:{} {} {}..{} {}/{} {}/{}/{} {:?} {:?} {:?}",
                    p.source,
                    p.handle,
                    p.posts,
                    p.first_seen.timestamp(),
                    p.last_seen.timestamp(),
                    p.reach_latest,
                    p.reach_max,
                    p.positive,
                    p.neutral,
                    p.negative,
                    p.brands,
                    p.intents,
                    p.customers
                )
            })
            .collect();
        assert_eq!(ours, raw, "{window:?}");
    }
}

/// The CRM-facing table (issue 14, item 3) in a store: a refresh writes a
/// period's rows; the next replaces them (an author who fell out of the
/// standings is gone); another period is left alone; an empty refresh
/// empties its period.
async fn check_crm_table(store: &AuthorStore) {
    use earshot_sink::crm_standings::CrmStanding;
    let window = (t0(), t0() + Duration::hours(1));
    let detractors = store
        .standings(&StandingQuery {
            side: Side::Detractors,
            since: window.0,
            until: window.1,
            brand: String::new(),
            min_posts: 1,
            min_reach: 0,
            limit: 10,
        })
        .await
        .unwrap();
    assert_eq!(detractors.len(), 3, "{detractors:?}");
    let row = |period: &str, author: &earshot_sink::authors::Standing| CrmStanding {
        period: period.into(),
        window_start: window.0,
        window_end: window.1,
        side: Side::Detractors,
        author: author.clone(),
        customer_ids: vec!["crm-7".into()],
        account_owners: vec!["Dana Ito".into()],
    };
    let rows: Vec<CrmStanding> = detractors.iter().map(|d| row("1h", d)).collect();
    let now = t0() + Duration::hours(1);
    store
        .write_crm_standings("1h", window, &rows, now)
        .await
        .unwrap();
    store
        .write_crm_standings("1d", window, &rows[..1], now)
        .await
        .unwrap();
    // `period`'s rows of the table, and `rows` as the table orders them.
    let of = |got: &[CrmStanding], period: &str| -> Vec<CrmStanding> {
        got.iter().filter(|r| r.period == period).cloned().collect()
    };
    let ordered = |rows: &[CrmStanding], period: &str| -> Vec<CrmStanding> {
        let mut rows: Vec<CrmStanding> = rows
            .iter()
            .map(|r| CrmStanding {
                period: period.into(),
                ..r.clone()
            })
            .collect();
        rows.sort_by(|a, b| {
            (
                &a.author.brand,
                std::cmp::Reverse(a.author.posts),
                &a.author.handle,
            )
                .cmp(&(
                    &b.author.brand,
                    std::cmp::Reverse(b.author.posts),
                    &b.author.handle,
                ))
        });
        rows
    };
    let got = store.crm_standings().await.unwrap();
    assert_eq!(got.len(), 4, "{got:?}");
    assert_eq!(of(&got, "1h"), ordered(&rows, "1h"));
    assert_eq!(of(&got, "1d"), ordered(&rows[..1], "1d"));
    // author5000's two negative posts about acme, newest first.
    assert_eq!(of(&got, "1d")[0].author.post_ids, ["hn:d2", "hn:d1"]);
    // The next refresh of 1h keeps two of the three.
    let later = now + Duration::minutes(15);
    store
        .write_crm_standings("1h", window, &rows[1..], later)
        .await
        .unwrap();
    let got = store.crm_standings().await.unwrap();
    assert_eq!(of(&got, "1h"), ordered(&rows[1..], "1h"));
    assert_eq!(of(&got, "1d"), ordered(&rows[..1], "1d"));
    assert_eq!(got.len(), 3);
    // Nobody this time: the period is empty, the other one kept.
    store
        .write_crm_standings("1h", window, &[], later + Duration::minutes(15))
        .await
        .unwrap();
    let got = store.crm_standings().await.unwrap();
    assert_eq!(got, ordered(&rows[..1], "1d"));
}

#[tokio::test]
async fn issue_14_crm_standings_table_on_the_embedded_store() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = SinkConfig::default();
    config.sqlite.path = dir.path().join("a.db");
    let store = AuthorStore::open(&config).await.unwrap();
    SqliteStore::open(&config.sqlite.path)
        .unwrap()
        .upsert(&batch_of(seeds()))
        .unwrap();
    check_crm_table(&store).await;
}

#[tokio::test]
async fn issue_14_crm_standings_table_on_clickhouse() {
    let Some(url) = earshot_tests::clickhouse() else {
        return;
    };
    let (config, mut sink) = migrated_clickhouse(&url).await;
    sink.write(&batch_of(seeds())).await.unwrap();
    let store = AuthorStore::open(&config).await.unwrap();
    check_crm_table(&store).await;
}
