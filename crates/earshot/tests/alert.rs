//! `earshot alert --once` end to end: interactions written through the real
//! sink into the embedded SQLite store (and ClickHouse, `EARSHOT_TEST_CLICKHOUSE`),
//! the real binary, and a loopback HTTP receiver standing in for Slack and a
//! generic webhook.

#[path = "../../alert/tests/receiver/mod.rs"]
mod receiver;

use std::path::Path;
use std::process::Output;

use chrono::{DateTime, Duration, Utc};
use earshot_model::{
    EntityKind, Interaction, Match, Post, Route, Sentiment, SentimentLabel, SCHEMA_VERSION,
};
use earshot_sink::alerts::{AlertStore, DeliveryStatus};
use earshot_sink::{Batch, BatchItem, Position, SinkConfig, SinkKind};
use receiver::{verify, Answer, Receiver};

const SECRET: &str = "issue-13-hmac-key";

/// A scored post mentioning `entity` at `at`.
fn post(
    id: &str,
    entity: (EntityKind, &str),
    at: DateTime<Utc>,
    label: SentimentLabel,
    reach: u64,
) -> Interaction {
    let compound = match label {
        SentimentLabel::Positive => 0.6,
        SentimentLabel::Neutral => 0.0,
        SentimentLabel::Negative => -0.7,
    };
    let mut p = Post::new(
        format!("reddit:{id}"),
        format!("{} battery recall {id} is everywhere", entity.1),
    );
    p.source = "reddit".into();
    p.url = Some(format!("https://reddit.example/{id}"));
    p.published_at = Some(at);
    p.author.handle = Some(format!("user{reach}"));
    p.author.reach = Some(reach);
    Interaction {
        schema_version: SCHEMA_VERSION,
        post: p,
        matches: vec![Match {
            kind: entity.0,
            entity_id: entity.1.to_string(),
            rule: entity.1.to_string(),
            span: None,
        }],
        sentiment: Sentiment {
            compound,
            pos: 0.3,
            neu: 0.4,
            neg: 0.3,
            label,
        },
        entity_sentiment: vec![],
        intents: vec![],
        route: Route::None,
        priority: 10,
        priority_reasons: vec![],
        watchlist_version: "test".into(),
        scored_at: at + Duration::seconds(5),
        truncated: false,
    }
}

/// acme: 2 posts an hour for 12 hours, then 30 in the last hour (3 of them
/// negative, under `min_negative`); globex: a steady 3 an hour (no spike);
/// initrode: 1 an hour, then 3 (above a flat baseline, under `min_mentions`).
fn spike_seeds(now: DateTime<Utc>, with_acme: bool) -> Vec<Interaction> {
    let mut out = Vec::new();
    let acme = (EntityKind::Brand, "acme");
    let globex = (EntityKind::Competitor, "globex");
    let initrode = (EntityKind::Competitor, "initrode");
    for h in 1..=12 {
        let at = now - Duration::minutes(h * 60 + 30);
        if with_acme {
            for n in 0..2 {
                out.push(post(
                    &format!("a{h}_{n}"),
                    acme,
                    at + Duration::minutes(n),
                    SentimentLabel::Neutral,
                    10,
                ));
            }
        }
        for n in 0..3 {
            out.push(post(
                &format!("g{h}_{n}"),
                globex,
                at + Duration::minutes(n),
                SentimentLabel::Neutral,
                10,
            ));
        }
        out.push(post(
            &format!("i{h}"),
            initrode,
            at,
            SentimentLabel::Neutral,
            10,
        ));
    }
    // The last hour, at least 3 minutes old so a minute boundary before the run changes nothing.
    for n in 0..3i64 {
        out.push(post(
            &format!("g_last{n}"),
            globex,
            now - Duration::minutes(10 + n),
            SentimentLabel::Neutral,
            10,
        ));
        out.push(post(
            &format!("i_last{n}"),
            initrode,
            now - Duration::minutes(10 + n),
            SentimentLabel::Neutral,
            10,
        ));
    }
    if with_acme {
        for n in 0..30i64 {
            let label = if n < 3 {
                SentimentLabel::Negative
            } else {
                SentimentLabel::Neutral
            };
            out.push(post(
                &format!("spike{n}"),
                acme,
                now - Duration::minutes(3 + n),
                label,
                1000 + n as u64 * 100,
            ));
        }
    }
    out
}

fn batch(interactions: Vec<Interaction>) -> Batch {
    let mut b = Batch::default();
    for (n, i) in interactions.into_iter().enumerate() {
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

fn sqlite_section(dir: &Path) -> String {
    format!(
        "[sink]\nkind = \"sqlite\"\n[sink.sqlite]\npath = \"{}\"\n",
        dir.join("earshot.db").display()
    )
}

/// The `[alert]` section: the three brands, the daily rule out of the way
/// (the seeds have no week of history), fast retries.
fn write_config(dir: &Path, sink: &str) -> std::path::PathBuf {
    let text = format!(
        r#"{sink}
[alert]
only = ["acme", "globex", "initrode"]
link = "https://grafana.example/d/earshot"
[alert.defaults]
min_daily_mentions = 100000
[alert.delivery]
timeout = "2s"
max_attempts = 3
initial_backoff = "50ms"
max_backoff = "200ms"
[[alert.channels]]
name = "pr-slack"
kind = "slack"
url_env = "ISSUE13_SLACK_URL"
[[alert.channels]]
name = "crm-hook"
kind = "webhook"
url_env = "ISSUE13_HOOK_URL"
secret_env = "ISSUE13_HOOK_SECRET"
"#
    );
    let path = dir.join("earshot.toml");
    std::fs::write(&path, text).unwrap();
    path
}

async fn alert_once(config: &Path, r: &Receiver) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_earshot"))
        .args(["--config", config.to_str().unwrap(), "alert", "--once"])
        .env_remove("EARSHOT_CONFIG")
        .env("EARSHOT_LOG", "warn")
        .env("ISSUE13_SLACK_URL", r.url("/slack"))
        .env("ISSUE13_HOOK_URL", r.url("/hook"))
        .env("ISSUE13_HOOK_SECRET", SECRET)
        .output()
        .await
        .expect("run earshot")
}

fn text(o: &Output) -> String {
    format!(
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

async fn seeded_sqlite(with_acme: bool) -> (tempfile::TempDir, std::path::PathBuf, SinkConfig) {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &sqlite_section(dir.path()));
    let mut sink = SinkConfig::default();
    sink.sqlite.path = dir.path().join("earshot.db");
    let store = earshot_sink::sqlite::SqliteStore::open(&sink.sqlite.path).unwrap();
    store.migrate().unwrap();
    store
        .upsert(&batch(spike_seeds(Utc::now(), with_acme)))
        .unwrap();
    (dir, config, sink)
}

/// The one expected alert: acme's hourly spike, to both channels.
fn check_spike_requests(r: &Receiver) {
    let slack = r.requests_to("/slack");
    let hook = r.requests_to("/hook");
    assert_eq!(slack.len(), 1, "{slack:?}");
    assert_eq!(hook.len(), 1, "{hook:?}");

    let s = slack[0].json();
    let s_text = s["text"].as_str().unwrap();
    assert!(
        s_text.contains("acme: 30 posts in the last hour"),
        "{s_text}"
    );
    assert!(s["blocks"].as_array().unwrap().len() >= 4, "{s}");

    verify(&hook[0], SECRET.as_bytes()).unwrap();
    let h = hook[0].json();
    assert_eq!(h["brand"], "acme");
    assert_eq!(h["rule"], "volume_spike_1h");
    assert_eq!(h["figures"]["observed"], 30.0);
    assert_eq!(h["figures"]["baseline_mean"], 2.0);
    assert_eq!(h["figures"]["stddev"], 0.0);
    assert_eq!(h["figures"]["threshold"], 2.0);
    let top = h["top_posts"].as_array().unwrap();
    assert_eq!(top.len(), 5);
    // By author reach: spike29 has the most.
    assert_eq!(top[0]["id"], "reddit:spike29");
    assert_eq!(top[0]["reach"], 3900);
    assert_eq!(top[0]["url"], "https://reddit.example/spike29");
    assert!(top[0]["excerpt"]
        .as_str()
        .unwrap()
        .contains("battery recall"));
    assert_eq!(h["top_terms"][0]["term"], "battery");
    assert_eq!(h["top_terms"][0]["posts"], 30);
    assert!(h["link"].as_str().unwrap().contains("brand=acme"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_13_alert_once_on_sqlite_sends_one_slack_and_one_signed_webhook_then_dedups() {
    let r = Receiver::start().await;
    let (_dir, config, sink) = seeded_sqlite(true).await;
    let out = alert_once(&config, &r).await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("1 alerts sent: 2 deliveries accepted, 0 failed"),
        "{}",
        text(&out)
    );
    check_spike_requests(&r);

    let store = AlertStore::open(&sink).await.unwrap();
    let alerts = store.alerts(Utc::now() - Duration::hours(1)).await.unwrap();
    assert_eq!(alerts.len(), 1);
    let (a, deliveries) = &alerts[0];
    assert_eq!(
        (a.key.brand.as_str(), a.key.rule.as_str()),
        ("acme", "volume_spike_1h")
    );
    assert_eq!(deliveries.len(), 2);
    assert!(deliveries
        .iter()
        .all(|d| d.status == DeliveryStatus::Sent && d.attempts == 1 && d.last_error.is_empty()));

    // Again: the spike is recorded, nothing is sent twice.
    let out = alert_once(&config, &r).await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("1 suppressed"), "{}", text(&out));
    assert_eq!(r.requests().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_13_alert_retries_a_500_and_records_the_attempts() {
    let r = Receiver::start().await;
    // Slack first (200), then the webhook answers 500 once.
    r.script([Answer::Status(200), Answer::Status(500)]);
    let (_dir, config, sink) = seeded_sqlite(true).await;
    let out = alert_once(&config, &r).await;
    assert!(out.status.success(), "{}", text(&out));
    let hook = r.requests_to("/hook");
    assert_eq!(hook.len(), 2);
    for h in &hook {
        verify(h, SECRET.as_bytes()).unwrap();
    }
    let alerts = AlertStore::open(&sink)
        .await
        .unwrap()
        .alerts(Utc::now() - Duration::hours(1))
        .await
        .unwrap();
    let d = alerts[0]
        .1
        .iter()
        .find(|d| d.channel == "crm-hook")
        .unwrap();
    assert_eq!((d.status, d.attempts), (DeliveryStatus::Sent, 2));
    assert!(d.last_error.contains("500"), "{d:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_13_alert_dead_letters_after_persistent_failure_and_does_not_resend() {
    let r = Receiver::start().await;
    r.otherwise(Answer::Status(503));
    let (_dir, config, sink) = seeded_sqlite(true).await;
    let out = alert_once(&config, &r).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("2 alert deliveries failed"),
        "{}",
        text(&out)
    );
    // Bounded: max_attempts = 3 per channel.
    assert_eq!(r.requests_to("/slack").len(), 3);
    assert_eq!(r.requests_to("/hook").len(), 3);

    let alerts = AlertStore::open(&sink)
        .await
        .unwrap()
        .alerts(Utc::now() - Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(alerts.len(), 1);
    let (a, deliveries) = &alerts[0];
    let payload: serde_json::Value = serde_json::from_str(&a.payload).unwrap();
    assert_eq!(payload["brand"], "acme");
    for d in deliveries {
        assert_eq!((d.status, d.attempts), (DeliveryStatus::Failed, 3), "{d:?}");
        assert!(
            d.last_error.contains("503") && d.last_error.contains("gave up"),
            "{d:?}"
        );
    }

    // A restart does not send it again.
    r.otherwise(Answer::Status(200));
    let out = alert_once(&config, &r).await;
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(r.requests().len(), 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_13_no_alert_under_threshold_or_below_min_count() {
    let r = Receiver::start().await;
    // globex steady, initrode 1 → 3 (above its flat baseline, under min_mentions).
    let (_dir, config, _sink) = seeded_sqlite(false).await;
    let out = alert_once(&config, &r).await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("3 brands evaluated, 0 rules fired"),
        "{}",
        text(&out)
    );
    assert!(r.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_13_alert_refuses_missing_secrets_and_unknown_brands() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &sqlite_section(dir.path()));
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_earshot"))
        .args(["--config", config.to_str().unwrap(), "alert", "--once"])
        .env_remove("ISSUE13_SLACK_URL")
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out)
            .contains("alert.channels[0].url_env: set the environment variable ISSUE13_SLACK_URL"),
        "{}",
        text(&out)
    );
    let bad = std::fs::read_to_string(&config)
        .unwrap()
        .replace("\"initrode\"]", "\"initech\"]");
    std::fs::write(&config, bad).unwrap();
    let r = Receiver::start().await;
    let out = alert_once(&config, &r).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).contains("alert.only[2]: `initech`: not a brand or competitor of the watchlist"),
        "{}",
        text(&out)
    );
    // `earshot check` reports it too, with the other problems.
    let bad = std::fs::read_to_string(&config)
        .unwrap()
        .replace("max_attempts = 3", "max_attempts = 0");
    std::fs::write(&config, bad).unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_earshot"))
        .args(["--config", config.to_str().unwrap(), "check"])
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    for expected in [
        "earshot.toml: alert.only[2]: `initech`",
        "earshot.toml: alert.delivery.max_attempts: 0: expected 1 to 20",
    ] {
        assert!(text(&out).contains(expected), "{expected}: {}", text(&out));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_13_alert_once_on_clickhouse_sends_once() {
    let Some(url) = earshot_tests::clickhouse() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let database = earshot_tests::clickhouse_database("alert");
    let config = write_config(
        dir.path(),
        &format!("[sink]\nkind = \"clickhouse\"\n[sink.clickhouse]\nurl = \"{url}\"\ndatabase = \"{database}\"\n"),
    );
    let mut sink = SinkConfig {
        kind: SinkKind::Clickhouse,
        ..SinkConfig::default()
    };
    sink.clickhouse.url = url.clone();
    sink.clickhouse.database = database.clone();
    earshot_sink::migrate(&sink).await.unwrap();
    let retry =
        earshot_sink::RetryPolicy::new(&sink.retry, tokio_util::sync::CancellationToken::new());
    let mut writer = earshot_sink::clickhouse::ClickHouseSink::connect(&sink.clickhouse, retry)
        .await
        .unwrap();
    use earshot_sink::Sink;
    let report = writer
        .write(&batch(spike_seeds(Utc::now(), true)))
        .await
        .unwrap();
    assert_eq!(report.dead_lettered, 0);

    let r = Receiver::start().await;
    let out = alert_once(&config, &r).await;
    assert!(out.status.success(), "{}", text(&out));
    check_spike_requests(&r);
    let alerts = AlertStore::open(&sink)
        .await
        .unwrap()
        .alerts(Utc::now() - Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(alerts.len(), 1);
    assert!(alerts[0].1.iter().all(|d| d.status == DeliveryStatus::Sent));

    let out = alert_once(&config, &r).await;
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(r.requests().len(), 2, "no second send");

    let client = earshot_sink::clickhouse::client(&sink.clickhouse, false);
    client
        .query(&format!("DROP DATABASE IF EXISTS {database}"))
        .execute()
        .await
        .unwrap();
}

/// acme steady at 10 posts an hour; in the last hour still 10 (no volume
/// spike) but 7 negative and 4 with PR-risk intents.
fn surge_seeds(now: DateTime<Utc>) -> Vec<Interaction> {
    let acme = (EntityKind::Brand, "acme");
    let mut out = Vec::new();
    for h in 1..=12 {
        for n in 0..10 {
            let at = now - Duration::minutes(h * 60 + 20) + Duration::minutes(n);
            out.push(post(
                &format!("b{h}_{n}"),
                acme,
                at,
                SentimentLabel::Neutral,
                10,
            ));
        }
    }
    for n in 0..10i64 {
        let label = if n < 7 {
            SentimentLabel::Negative
        } else {
            SentimentLabel::Positive
        };
        let mut i = post(
            &format!("s{n}"),
            acme,
            now - Duration::minutes(3 + n),
            label,
            100 + n as u64,
        );
        if (3..7).contains(&n) {
            i.intents = vec![earshot_model::Intent::PrRisk];
        }
        out.push(i);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_13_negative_surge_and_pr_risk_burst_alert_with_their_posts() {
    let r = Receiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &sqlite_section(dir.path()));
    let store = earshot_sink::sqlite::SqliteStore::open(&dir.path().join("earshot.db")).unwrap();
    store.migrate().unwrap();
    store.upsert(&batch(surge_seeds(Utc::now()))).unwrap();

    let out = alert_once(&config, &r).await;
    assert!(out.status.success(), "{}", text(&out));
    let hooks = r.requests_to("/hook");
    assert_eq!(hooks.len(), 2, "{}", text(&out));
    assert_eq!(r.requests_to("/slack").len(), 2);
    let by_rule = |rule: &str| {
        hooks
            .iter()
            .map(|h| h.json())
            .find(|b| b["rule"] == rule)
            .unwrap_or_else(|| panic!("no {rule} alert"))
    };
    let neg = by_rule("negative_share");
    assert_eq!(neg["brand"], "acme");
    assert_eq!(neg["figures"]["observed"], 0.7);
    assert_eq!(neg["figures"]["baseline_mean"], 0.0);
    assert_eq!(neg["figures"]["threshold"], 0.5);
    assert!(neg["figures"]["stddev"].is_null());
    let posts = neg["top_posts"].as_array().unwrap();
    assert_eq!(posts.len(), 5);
    assert_eq!(posts[0]["id"], "reddit:s6", "negative posts only, by reach");
    assert!(posts.iter().all(|p| p["sentiment"].as_f64().unwrap() < 0.0));

    let pr = by_rule("pr_risk_burst");
    assert_eq!(pr["figures"]["observed"], 4.0);
    assert_eq!(pr["figures"]["threshold"], 3.0);
    let ids: Vec<&str> = pr["top_posts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["reddit:s6", "reddit:s5", "reddit:s4", "reddit:s3"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_13_alert_daemon_sends_once_across_ticks_and_stops_on_sigterm() {
    let r = Receiver::start().await;
    let (dir, config, _sink) = seeded_sqlite(true).await;
    let text_ = std::fs::read_to_string(&config)
        .unwrap()
        .replace("[alert]\n", "[alert]\ninterval = \"1s\"\n");
    std::fs::write(&config, text_).unwrap();
    let log = std::fs::File::create(dir.path().join("alert.log")).unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_earshot"))
        .args(["--config", config.to_str().unwrap(), "alert"])
        .env("EARSHOT_LOG", "info")
        .env("ISSUE13_SLACK_URL", r.url("/slack"))
        .env("ISSUE13_HOOK_URL", r.url("/hook"))
        .env("ISSUE13_HOOK_SECRET", SECRET)
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let log = || std::fs::read_to_string(dir.path().join("alert.log")).unwrap_or_default();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while r.requests().len() < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "no alert; log:\n{}",
            log()
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // Three more ticks: the spike is still there, and still not sent again.
    tokio::time::sleep(std::time::Duration::from_millis(3200)).await;
    check_spike_requests(&r);
    let pid = child.id().unwrap().to_string();
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(sent.success());
    let status = tokio::time::timeout(std::time::Duration::from_secs(10), child.wait())
        .await
        .unwrap_or_else(|_| panic!("no exit within 10 s of SIGTERM; log:\n{}", log()))
        .unwrap();
    assert!(status.success(), "{status:?}; log:\n{}", log());
    assert!(log().contains("alert daemon stopped"), "{}", log());
}

/// Measures one `earshot alert --once` (process start included) over 8 days
/// of 200,000 posts on five brands, on SQLite and, when set, ClickHouse.
/// Run with `cargo test -p earshot --test alert -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement: run by hand"]
async fn issue_13_measure_alert_once_over_200k_posts() {
    let now = Utc::now();
    let brands = [
        (EntityKind::Brand, "acme"),
        (EntityKind::Brand, "acme-rocket"),
        (EntityKind::Brand, "acme-cloud"),
        (EntityKind::Competitor, "globex"),
        (EntityKind::Competitor, "initrode"),
    ];
    let mut seeds = Vec::with_capacity(200_000);
    let mut x: u64 = 7;
    for n in 0..200_000u64 {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let age = 120 + (x >> 33) % (8 * 86_400 - 120);
        let label = if (x >> 20) % 4 == 0 {
            SentimentLabel::Negative
        } else {
            SentimentLabel::Neutral
        };
        let entity = brands[(n % 5) as usize];
        seeds.push(post(
            &format!("m{n}"),
            entity,
            now - Duration::seconds(age as i64),
            label,
            (x >> 40) % 10_000,
        ));
    }
    // A spike for acme, so the timing includes one alert's posts and delivery.
    seeds.extend(
        spike_seeds(now, true)
            .into_iter()
            .filter(|i| i.post.id.contains("spike"))
            .flat_map(|i| {
                (0..20).map(move |k| {
                    let mut j = i.clone();
                    j.post.id = format!("{}_{k}", i.post.id);
                    j
                })
            }),
    );
    let dir = tempfile::tempdir().unwrap();
    let mut targets = vec![("sqlite", sqlite_section(dir.path()))];
    let store = earshot_sink::sqlite::SqliteStore::open(&dir.path().join("earshot.db")).unwrap();
    store.migrate().unwrap();
    for chunk in seeds.chunks(20_000) {
        store.upsert(&batch(chunk.to_vec())).unwrap();
    }
    if let Some(url) = earshot_tests::clickhouse() {
        let database = earshot_tests::clickhouse_database("alert_measure");
        let mut sink = SinkConfig {
            kind: SinkKind::Clickhouse,
            ..SinkConfig::default()
        };
        sink.clickhouse.url = url.clone();
        sink.clickhouse.database = database.clone();
        earshot_sink::migrate(&sink).await.unwrap();
        let retry =
            earshot_sink::RetryPolicy::new(&sink.retry, tokio_util::sync::CancellationToken::new());
        let mut writer = earshot_sink::clickhouse::ClickHouseSink::connect(&sink.clickhouse, retry)
            .await
            .unwrap();
        use earshot_sink::Sink;
        for chunk in seeds.chunks(50_000) {
            writer.write(&batch(chunk.to_vec())).await.unwrap();
        }
        targets.push(("clickhouse", format!("[sink]\nkind = \"clickhouse\"\n[sink.clickhouse]\nurl = \"{url}\"\ndatabase = \"{database}\"\n")));
    }
    for (name, section) in targets {
        let sub = dir.path().join(name);
        std::fs::create_dir_all(&sub).unwrap();
        let config = write_config(&sub, &section);
        let text_ = std::fs::read_to_string(&config).unwrap().replace(
            "only = [\"acme\", \"globex\", \"initrode\"]",
            "only = [\"acme\", \"acme-rocket\", \"acme-cloud\", \"globex\", \"initrode\"]",
        );
        std::fs::write(&config, text_).unwrap();
        let r = Receiver::start().await;
        let start = std::time::Instant::now();
        let out = alert_once(&config, &r).await;
        let took = start.elapsed();
        assert!(out.status.success(), "{}", text(&out));
        assert!(
            r.requests_to("/hook")
                .iter()
                .any(|h| h.json()["brand"] == "acme"),
            "{}",
            text(&out)
        );
        // The second run evaluates everything and sends nothing: the steady-state cost of a tick.
        let start = std::time::Instant::now();
        let again = alert_once(&config, &r).await;
        let steady = start.elapsed();
        assert!(again.status.success(), "{}", text(&again));
        println!(
            "{name}: first --once {took:?} ({} requests), second --once {steady:?}",
            r.requests().len()
        );
    }
}
