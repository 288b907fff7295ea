//! Conversations (issue 14, item 2) on both stores: threads, the brand's
//! own replies and recorded responses, time to first response per brand,
//! unanswered negative threads, and a thread's posts in order.

mod common;

use chrono::{DateTime, Duration, TimeZone, Utc};
use common::{batch_of, migrated_clickhouse, Seed};
use earshot_model::{EntityKind, Interaction, SentimentLabel};
use earshot_sink::clickhouse::{dashboard_query, prepare, probe, Param};
use earshot_sink::conversations::{response_times, ConversationStore};
use earshot_sink::responses::{Response, ResponseStore};
use earshot_sink::sqlite::SqliteStore;
use earshot_sink::{Sink, SinkConfig};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap()
}

fn post(
    id: &str,
    minutes: i64,
    author: &str,
    thread: Option<&str>,
    label: SentimentLabel,
) -> Interaction {
    naming(
        id,
        minutes,
        author,
        thread,
        label,
        (EntityKind::Brand, "acme"),
    )
}

/// A post naming `entity`, or nothing when its id is empty.
fn naming(
    id: &str,
    minutes: i64,
    author: &str,
    thread: Option<&str>,
    label: SentimentLabel,
    entity: (EntityKind, &'static str),
) -> Interaction {
    let mut s = Seed::new(id, t0() + Duration::minutes(minutes));
    s.mentions = if entity.1.is_empty() {
        vec![]
    } else {
        vec![entity]
    };
    s.label = label;
    let mut i = s.build();
    i.post.author.handle = Some(author.into());
    i.post.thread_id = thread.map(str::to_string);
    i
}

fn seeds() -> Vec<Interaction> {
    use SentimentLabel::*;
    vec![
        // Answered by the brand's account after 10 minutes.
        post("100", 0, "cust1", None, Negative),
        post("101", 10, "AcmeSupport", Some("hn:100"), Neutral),
        // Negative, never answered.
        post("200", 1, "cust2", None, Negative),
        // Answered through a recorded response after an hour.
        post("300", 2, "cust3", None, Positive),
        // The brand's announcement, a customer's comment, the brand's reply a minute later.
        post("400", -5, "acmesupport", None, Neutral),
        post("401", 3, "cust4", Some("hn:400"), Neutral),
        post("402", 4, "acmesupport", Some("hn:400"), Neutral),
        // Names no brand, competitor or customer: not a thread of the dashboards.
        naming("500", 5, "cust5", None, Negative, (EntityKind::Brand, "")),
        // Names a customer only: a thread, with no brand to count it for.
        naming(
            "600",
            6,
            "cust6",
            None,
            Negative,
            (EntityKind::Customer, "initech"),
        ),
    ]
}

async fn check(config: &SinkConfig) {
    let responses = ResponseStore::open(config).await.unwrap();
    responses
        .record(&Response {
            post_id: "hn:300".into(),
            responded_at: t0() + Duration::minutes(62),
            responder: "ann".into(),
            channel: "crm".into(),
            note: String::new(),
        })
        .await
        .unwrap();
    let store = ConversationStore::open(config).await.unwrap();
    let own = vec!["hn:acmesupport".to_string()];
    let threads = store
        .threads(
            t0() - Duration::minutes(10),
            t0() + Duration::hours(2),
            &own,
        )
        .await
        .unwrap();
    let mut got: Vec<(String, Option<i64>, bool, u64)> = threads
        .iter()
        .map(|t| (t.thread.clone(), t.response_secs(), t.negative, t.posts))
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            ("hn:100".to_string(), Some(600), true, 2),
            ("hn:200".to_string(), None, true, 1),
            ("hn:300".to_string(), Some(3600), false, 1),
            ("hn:400".to_string(), Some(60), false, 3),
            ("hn:600".to_string(), None, true, 1),
        ]
    );
    let times = response_times(&threads);
    assert_eq!(times.len(), 1);
    let acme = &times[0];
    assert_eq!(
        (acme.threads, acme.answered, acme.unanswered_negative),
        (4, 3, 1)
    );
    assert_eq!((acme.p50_secs, acme.p90_secs), (Some(600), Some(3600)));

    let thread = store.thread("hn:400").await.unwrap();
    let ids: Vec<&str> = thread.iter().map(|p| p.post_id.as_str()).collect();
    assert_eq!(ids, ["hn:400", "hn:401", "hn:402"]);
    let answered = store.thread("hn:300").await.unwrap();
    assert_eq!(answered[0].responded_at, Some(t0() + Duration::minutes(62)));
}

#[tokio::test]
async fn issue_14_conversations_on_the_embedded_store() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = SinkConfig::default();
    config.sqlite.path = dir.path().join("c.db");
    let _ = ResponseStore::open(&config).await.unwrap(); // migrates
    SqliteStore::open(&config.sqlite.path)
        .unwrap()
        .upsert(&batch_of(seeds()))
        .unwrap();
    check(&config).await;
}

#[tokio::test]
async fn issue_14_conversations_on_clickhouse() {
    let Some(url) = earshot_tests::clickhouse() else {
        return;
    };
    let (config, mut sink) = migrated_clickhouse(&url).await;
    sink.write(&batch_of(seeds())).await.unwrap();
    sink.write(&batch_of(seeds())).await.unwrap();
    check(&config).await;

    // The dashboard's response-time query (Grafana's percentile panel)
    // gives the figures the report computes from the threads.
    let (since, until) = (t0() - Duration::minutes(10), t0() + Duration::hours(2));
    let own = vec!["hn:acmesupport".to_string()];
    let threads = ConversationStore::open(&config)
        .await
        .unwrap()
        .threads(since, until, &own)
        .await
        .unwrap();
    let computed: Vec<_> = response_times(&threads)
        .into_iter()
        .map(|r| {
            (
                r.brand,
                r.threads,
                r.answered,
                r.p50_secs,
                r.p90_secs,
                r.unanswered_negative,
            )
        })
        .collect();
    let client = common::client(&config);
    let features = probe(&client).await.unwrap();
    let params = [
        ("since", Param::U32(since.timestamp() as u32)),
        ("until", Param::U32(until.timestamp() as u32)),
        ("own", Param::Str(own.join(","))),
    ];
    let sql = dashboard_query("response_times").unwrap();
    let rows: Vec<ResponseTimesRow> = prepare(&client, &features, sql, &params)
        .fetch_all()
        .await
        .unwrap();
    let shown: Vec<_> = rows
        .into_iter()
        .map(|r| {
            (
                r.brand,
                r.threads,
                r.answered,
                r.p50_secs,
                r.p90_secs,
                r.unanswered_negative,
            )
        })
        .collect();
    assert_eq!(shown, computed);
    assert_eq!(
        shown,
        [("acme".to_string(), 4, 3, Some(600), Some(3600), 1)]
    );
}

#[derive(clickhouse::Row, serde::Deserialize)]
struct ResponseTimesRow {
    brand: String,
    threads: u64,
    answered: u64,
    p50_secs: Option<i64>,
    p90_secs: Option<i64>,
    unanswered_negative: u64,
}
