//! `earshot alert --once` end to end: interactions written through the real
//! sink into the embedded SQLite store (and ClickHouse, `EARSHOT_TEST_CLICKHOUSE`),
//! the real binary, and a loopback HTTP receiver standing in for Slack and a
//! generic webhook.

mod alert_common;
#[path = "../../alert/tests/receiver/mod.rs"]
mod receiver;

use alert_common::*;
use chrono::{Duration, Utc};
use earshot_model::{EntityKind, SentimentLabel};
use earshot_sink::alerts::{AlertStore, DeliveryStatus};
use earshot_sink::{SinkConfig, SinkKind};
use receiver::{verify, Answer, Receiver};

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
        // Any free port: parallel tests must not collide on the default one.
        .env("EARSHOT_METRICS_ADDR", "127.0.0.1:0")
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

    // Live reload (item 3): a broken rule is refused and the running rules
    // stay; a valid change is taken without a restart.
    let wait_log = |needle: &'static str| async move {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while !log().contains(needle) {
            assert!(
                std::time::Instant::now() < deadline,
                "no `{needle}`; log:\n{}",
                log()
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    };
    let good = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        good.replace("[alert.defaults]\n", "[alert.defaults]\nk = -2\n"),
    )
    .unwrap();
    wait_log("reload refused").await;
    assert!(log().contains("alert.defaults.k"), "{}", log());
    std::fs::write(
        &config,
        good.replace("[alert.defaults]\n", "[alert.defaults]\nk = 4.5\n"),
    )
    .unwrap();
    wait_log("alert rules reloaded").await;
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
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
        let label = if (x >> 20) & 3 == 0 {
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
