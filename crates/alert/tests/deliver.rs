//! Delivery over real HTTP to a loopback receiver: signatures, the Slack
//! format, retries (5xx, 429 with Retry-After, timeouts), the bounded give-up,
//! and no retry for answers a retry cannot change.

mod receiver;

use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use earshot_alert::rules::spike;
use earshot_alert::{Alert, Channel, ChannelKind, Deliverer, DeliveryConfig, Rule};
use earshot_sink::PostSummary;
use receiver::{verify, Answer, Receiver};
use tokio_util::sync::CancellationToken;

const KEY: &[u8] = b"alert-test-key";

fn alert() -> Alert {
    let finding = spike(Rule::VolumeSpike1h, &[2; 12], 40, 3.0, 10);
    let end = Utc.with_ymd_and_hms(2026, 12, 6, 12, 0, 0).unwrap();
    let post = PostSummary {
        post_id: "reddit:abc".into(),
        source: "reddit".into(),
        author: "loud".into(),
        reach: 90_000,
        priority: 80,
        route: "pr".into(),
        compound: -0.8,
        intents: vec!["pr_risk".into()],
        entities: vec!["acme".into()],
        url: "https://reddit.example/abc".into(),
        text: "Acme <battery> caught fire & nobody answers".into(),
        event_time: end - chrono::Duration::minutes(5),
    };
    Alert::new(
        "acme",
        &finding,
        end - chrono::Duration::hours(1),
        end,
        &[post],
        5,
        5,
        Some("https://grafana.example/d/earshot"),
        end + chrono::Duration::seconds(20),
    )
}

fn config(max_attempts: u32) -> DeliveryConfig {
    DeliveryConfig {
        timeout: Duration::from_millis(500),
        max_attempts,
        initial_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_secs(2),
    }
}

fn webhook(r: &Receiver) -> Channel {
    Channel::new(
        "hook",
        ChannelKind::Webhook,
        r.url("/hook").parse().unwrap(),
        Some(KEY.to_vec()),
    )
}

#[tokio::test]
async fn issue_13_webhook_body_is_the_alert_and_the_signature_verifies() {
    let r = Receiver::start().await;
    let d = Deliverer::new(&config(3)).unwrap();
    let a = alert();
    let out = d.deliver(&webhook(&r), &a, &CancellationToken::new()).await;
    assert_eq!((out.sent, out.attempts), (true, 1), "{out:?}");
    let reqs = r.requests();
    assert_eq!(reqs.len(), 1);
    verify(&reqs[0], KEY).unwrap();
    assert!(verify(&reqs[0], b"another key").is_err());
    assert_eq!(reqs[0].header("x-earshot-alert-id"), Some(a.id.as_str()));
    let body = reqs[0].json();
    assert_eq!(body["brand"], "acme");
    assert_eq!(body["rule"], "volume_spike_1h");
    assert_eq!(body["figures"]["observed"], 40.0);
    assert_eq!(body["figures"]["baseline_mean"], 2.0);
    assert_eq!(body["figures"]["stddev"], 0.0);
    assert_eq!(body["figures"]["threshold"], 2.0);
    assert_eq!(body["window"]["start"], "2026-12-06T11:00:00Z");
    assert_eq!(body["fired_at"], "2026-12-06T12:00:20Z");
    assert_eq!(body["top_posts"][0]["id"], "reddit:abc");
    assert_eq!(body["top_posts"][0]["reach"], 90_000);
    assert_eq!(body["top_terms"][0]["term"], "answers");
    let link = body["link"].as_str().unwrap();
    assert!(
        link.starts_with("https://grafana.example/d/earshot?brand=acme&rule=volume_spike_1h&from="),
        "{link}"
    );
}

#[tokio::test]
async fn issue_13_slack_message_has_text_and_blocks_escaped() {
    let r = Receiver::start().await;
    let d = Deliverer::new(&config(1)).unwrap();
    let slack = Channel::new(
        "slack",
        ChannelKind::Slack,
        r.url("/slack").parse().unwrap(),
        None,
    );
    assert!(
        d.deliver(&slack, &alert(), &CancellationToken::new())
            .await
            .sent
    );
    let req = &r.requests()[0];
    assert!(req.header("x-earshot-signature").is_none());
    let body = req.json();
    let text = body["text"].as_str().unwrap();
    assert!(text.contains("acme: 40 posts in the last hour"), "{text}");
    let blocks = body["blocks"].as_array().unwrap();
    assert_eq!(blocks[0]["type"], "header");
    let all = serde_json::to_string(blocks).unwrap();
    assert!(all.contains("*threshold* 2.00"), "{all}");
    assert!(
        all.contains("&lt;battery&gt; caught fire &amp; nobody"),
        "{all}"
    );
    assert!(
        all.contains("<https://reddit.example/abc|reddit:abc>"),
        "{all}"
    );
    assert!(all.contains("Open in the dashboard"), "{all}");
}

#[tokio::test]
async fn issue_13_retries_after_a_500_then_delivers() {
    let r = Receiver::start().await;
    r.script([Answer::Status(500)]);
    let d = Deliverer::new(&config(3)).unwrap();
    let out = d
        .deliver(&webhook(&r), &alert(), &CancellationToken::new())
        .await;
    assert!(out.sent, "{out:?}");
    assert_eq!(out.attempts, 2);
    assert!(out.last_error.contains("500"), "{out:?}");
    // Each attempt is signed afresh and verifies.
    for req in r.requests() {
        verify(&req, KEY).unwrap();
    }
}

#[tokio::test]
async fn issue_13_honours_retry_after_on_429() {
    let r = Receiver::start().await;
    r.script([Answer::RetryAfter(1)]);
    let d = Deliverer::new(&config(3)).unwrap();
    let out = d
        .deliver(&webhook(&r), &alert(), &CancellationToken::new())
        .await;
    assert!(out.sent && out.attempts == 2, "{out:?}");
    let reqs = r.requests();
    let gap = reqs[1].at - reqs[0].at;
    assert!(gap >= Duration::from_millis(950), "waited only {gap:?}");
}

#[tokio::test]
async fn issue_13_gives_up_after_max_attempts_with_the_reason() {
    let r = Receiver::start().await;
    r.otherwise(Answer::Status(503));
    let d = Deliverer::new(&config(3)).unwrap();
    let start = Instant::now();
    let out = d
        .deliver(&webhook(&r), &alert(), &CancellationToken::new())
        .await;
    assert!(!out.sent);
    assert_eq!(out.attempts, 3);
    assert_eq!(r.requests().len(), 3);
    assert!(
        out.last_error.contains("503") && out.last_error.contains("gave up after 3 attempts"),
        "{out:?}"
    );
    // Backoff doubled: 20 ms + 40 ms at least.
    assert!(start.elapsed() >= Duration::from_millis(60));
}

#[tokio::test]
async fn issue_13_client_errors_are_not_retried() {
    let r = Receiver::start().await;
    r.otherwise(Answer::Status(404));
    let d = Deliverer::new(&config(5)).unwrap();
    let out = d
        .deliver(&webhook(&r), &alert(), &CancellationToken::new())
        .await;
    assert_eq!((out.sent, out.attempts), (false, 1), "{out:?}");
    assert!(out.last_error.contains("404"), "{out:?}");
}

#[tokio::test]
async fn issue_13_timeouts_are_retried() {
    let r = Receiver::start().await;
    r.script([Answer::Slow(Duration::from_secs(2))]);
    let d = Deliverer::new(&config(2)).unwrap();
    let out = d
        .deliver(&webhook(&r), &alert(), &CancellationToken::new())
        .await;
    assert!(out.sent && out.attempts == 2, "{out:?}");
    assert!(out.last_error.contains("timed out"), "{out:?}");
}

#[tokio::test]
async fn issue_13_shutdown_ends_the_backoff_wait() {
    let r = Receiver::start().await;
    r.otherwise(Answer::RetryAfter(60));
    let mut c = config(5);
    c.max_backoff = Duration::from_secs(60);
    let d = Deliverer::new(&c).unwrap();
    let shutdown = CancellationToken::new();
    let stop = shutdown.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        stop.cancel();
    });
    let start = Instant::now();
    let out = d.deliver(&webhook(&r), &alert(), &shutdown).await;
    assert!(start.elapsed() < Duration::from_secs(5));
    assert!(!out.sent && out.attempts == 1, "{out:?}");
    assert!(out.last_error.contains("shutdown"), "{out:?}");
}

#[tokio::test]
async fn issue_13_a_huge_error_answer_is_cut_in_the_recorded_reason() {
    let r = Receiver::start().await;
    r.otherwise(Answer::StatusBody(400, 5 << 20));
    let d = Deliverer::new(&config(1)).unwrap();
    let out = d
        .deliver(&webhook(&r), &alert(), &CancellationToken::new())
        .await;
    assert!(!out.sent);
    assert!(
        out.last_error.starts_with("HTTP 400 Bad Request: xxx"),
        "{}",
        &out.last_error[..40]
    );
    assert!(
        out.last_error.chars().count() <= 330,
        "{}",
        out.last_error.len()
    );
}
