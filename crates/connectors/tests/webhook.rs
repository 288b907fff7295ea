//! The webhook receiver's hardening (issue 12): signed timestamps with a
//! tolerance window, replay refusal, the size limit enforced before the body
//! is read, per-request timeouts and a connection limit.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::*;
use earshot_transport::MemoryBus;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const SECRET: &str = "issue-12-secret";

/// Starts a daemon with one webhook connector; `extra` adds keys to it.
async fn hook(dir: &tempfile::TempDir, bus: &MemoryBus, extra: &str) -> (Running, String) {
    std::env::set_var("EARSHOT_TEST_HOOK_SECRET_12", SECRET);
    let cfg = config(
        dir,
        &format!(
            r#"
            [cursors]
            path = "CURSORS"
            [[connectors]]
            name = "hook"
            kind = "webhook"
            listen = "127.0.0.1:0"
            path = "/ingest"
            secret_env = "EARSHOT_TEST_HOOK_SECRET_12"
            max_body_bytes = 2000
            {extra}
            "#
        ),
    );
    let running = start(bus, &cfg).await;
    let url = format!("http://{}/ingest", running.webhook.unwrap());
    (running, url)
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn sign(ts: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("{ts}.").as_bytes());
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

async fn send(url: &str, ts: Option<i64>, sig: &str, body: &[u8]) -> (u16, serde_json::Value) {
    let mut req = reqwest::Client::new()
        .post(url)
        .header("X-Earshot-Signature", sig)
        .body(body.to_vec());
    if let Some(ts) = ts {
        req = req.header("X-Earshot-Timestamp", ts.to_string());
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or_default())
}

/// Writes `head` (and `body`) on a raw connection and reads the status code
/// of the answer, with a deadline.
async fn raw_status(addr: SocketAddr, head: &str, body: &[u8], within: Duration) -> Option<u16> {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(body).await.unwrap();
    let mut buf = vec![0u8; 1024];
    let n = tokio::time::timeout(within, s.read(&mut buf))
        .await
        .ok()?
        .ok()?;
    let text = String::from_utf8_lossy(&buf[..n]);
    text.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()
}

#[tokio::test]
async fn issue_12_webhook_signs_the_timestamp_within_a_tolerance_window() {
    init_tracing();
    let dir = tempfile::tempdir().unwrap();
    let bus = MemoryBus::new();
    let (running, url) = hook(&dir, &bus, "tolerance_secs = 60").await;
    let body = br#"{"id": "1", "text": "Acme"}"#;

    // The old scheme (HMAC of the body alone, no timestamp) is refused.
    let mut old = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    old.update(body);
    let old = format!("sha256={}", hex::encode(old.finalize().into_bytes()));
    let (status, v) = send(&url, None, &old, body).await;
    assert_eq!(status, 401, "{v}");
    assert!(
        v["error"].as_str().unwrap().contains("X-Earshot-Timestamp"),
        "{v}"
    );
    // Right signature, but outside the window on either side.
    for ts in [now() - 61, now() + 61, 0] {
        let (status, v) = send(&url, Some(ts), &sign(ts, body), body).await;
        assert_eq!(status, 401, "{ts}: {v}");
        assert!(v["error"].as_str().unwrap().contains("tolerance"), "{v}");
    }
    // A signature over another timestamp than the one sent.
    let ts = now();
    let (status, _) = send(&url, Some(ts), &sign(ts - 1, body), body).await;
    assert_eq!(status, 401);
    assert_eq!(bus.len("earshot.raw"), 0);
    // Within the window: accepted.
    let ts = now() - 30;
    let (status, v) = send(&url, Some(ts), &sign(ts, body), body).await;
    assert_eq!((status, &v["accepted"]), (202, &1.into()), "{v}");
    running.stop().await;
}

#[tokio::test]
async fn issue_12_webhook_refuses_replays_within_the_window() {
    init_tracing();
    let dir = tempfile::tempdir().unwrap();
    let bus = MemoryBus::new();
    let (running, url) = hook(&dir, &bus, "").await;
    let body = br#"{"id": "2", "text": "Acme"}"#;
    let ts = now();
    let sig = sign(ts, body);
    let (status, _) = send(&url, Some(ts), &sig, body).await;
    assert_eq!(status, 202);
    // The captured request, sent again as is.
    let (status, v) = send(&url, Some(ts), &sig, body).await;
    assert_eq!(status, 409, "{v}");
    assert!(v["error"].as_str().unwrap().contains("replayed"), "{v}");
    // The sender's own retry, signed afresh, is accepted (and deduplicated).
    let (status, v) = send(&url, Some(ts - 1), &sign(ts - 1, body), body).await;
    assert_eq!((status, &v["duplicates"]), (202, &1.into()), "{v}");
    assert_eq!(bus.len("earshot.raw"), 1);
    running.stop().await;
}

#[tokio::test]
async fn issue_12_webhook_enforces_the_size_limit_before_reading_the_body() {
    init_tracing();
    let dir = tempfile::tempdir().unwrap();
    let bus = MemoryBus::new();
    let (running, _) = hook(&dir, &bus, "").await;
    let addr = running.webhook.unwrap();
    let ts = now();
    // A declared length over the limit is refused at once, no body sent.
    let head = format!(
        "POST /ingest HTTP/1.1\r\nhost: x\r\nX-Earshot-Timestamp: {ts}\r\nX-Earshot-Signature: {}\r\ncontent-length: 100000000\r\n\r\n",
        sign(ts, b"")
    );
    let started = Instant::now();
    assert_eq!(
        raw_status(addr, &head, b"", Duration::from_secs(5)).await,
        Some(413)
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    // A chunked body is cut off as soon as it grows past the limit: the
    // answer comes while the sender still has most of it to send.
    let head = format!(
        "POST /ingest HTTP/1.1\r\nhost: x\r\nX-Earshot-Timestamp: {ts}\r\nX-Earshot-Signature: {}\r\ntransfer-encoding: chunked\r\n\r\n",
        sign(ts, b"")
    );
    let chunk = format!("{:x}\r\n{}\r\n", 1500, "x".repeat(1500));
    let two = chunk.repeat(2);
    assert_eq!(
        raw_status(addr, &head, two.as_bytes(), Duration::from_secs(5)).await,
        Some(413)
    );
    // A bad signature costs no body read either when its timestamp is stale.
    let head = format!(
        "POST /ingest HTTP/1.1\r\nhost: x\r\nX-Earshot-Timestamp: {}\r\nX-Earshot-Signature: sha256=00\r\ncontent-length: 1000\r\n\r\n",
        ts - 10_000
    );
    assert_eq!(
        raw_status(addr, &head, b"", Duration::from_secs(5)).await,
        Some(401)
    );
    running.stop().await;
}

#[tokio::test]
async fn issue_12_webhook_times_out_slow_requests() {
    init_tracing();
    let dir = tempfile::tempdir().unwrap();
    let bus = MemoryBus::new();
    let (running, _) = hook(&dir, &bus, "timeout_secs = 1").await;
    let addr = running.webhook.unwrap();
    let ts = now();
    let body = br#"{"id": "3", "text": "Acme"}"#;
    // Announces the whole body, sends half of it, then stalls.
    let head = format!(
        "POST /ingest HTTP/1.1\r\nhost: x\r\nX-Earshot-Timestamp: {ts}\r\nX-Earshot-Signature: {}\r\ncontent-length: {}\r\n\r\n",
        sign(ts, body),
        body.len()
    );
    let started = Instant::now();
    let status = raw_status(addr, &head, &body[..10], Duration::from_secs(10)).await;
    assert_eq!(status, Some(408));
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(5),
        "{took:?}"
    );
    assert_eq!(bus.len("earshot.raw"), 0);

    // A stalled copy of an accepted request times out without making the
    // accepted signature replayable.
    let (url, body) = (
        format!("http://{addr}/ingest"),
        br#"{"id": "6", "text": "Acme"}"#,
    );
    let ts = now();
    let sig = sign(ts, body);
    assert_eq!(send(&url, Some(ts), &sig, body).await.0, 202);
    let head = format!(
        "POST /ingest HTTP/1.1\r\nhost: x\r\nX-Earshot-Timestamp: {ts}\r\nX-Earshot-Signature: {sig}\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    let status = raw_status(addr, &head, &body[..10], Duration::from_secs(10)).await;
    assert_eq!(status, Some(408));
    assert_eq!(send(&url, Some(ts), &sig, body).await.0, 409);
    running.stop().await;
}

#[tokio::test]
async fn issue_12_webhook_limits_connections() {
    init_tracing();
    let dir = tempfile::tempdir().unwrap();
    let bus = MemoryBus::new();
    let (running, url) = hook(&dir, &bus, "max_connections = 1").await;
    let addr = running.webhook.unwrap();
    // One idle connection takes the only slot.
    let idle = TcpStream::connect(addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let body = br#"{"id": "4", "text": "Acme"}"#;
    let ts = now();
    let waiting = reqwest::Client::new()
        .post(&url)
        .timeout(Duration::from_millis(700))
        .header("X-Earshot-Timestamp", ts.to_string())
        .header("X-Earshot-Signature", sign(ts, body))
        .body(body.to_vec())
        .send()
        .await;
    assert!(
        waiting.as_ref().is_err_and(|e| e.is_timeout()),
        "served past the limit: {waiting:?}"
    );
    // Once it closes, requests are served again.
    drop(idle);
    let body = br#"{"id": "5", "text": "Acme"}"#;
    let ts = now() - 1;
    let (status, v) = tokio::time::timeout(WAIT, send(&url, Some(ts), &sign(ts, body), body))
        .await
        .unwrap();
    assert_eq!(status, 202, "{v}");
    running.stop().await;
}
