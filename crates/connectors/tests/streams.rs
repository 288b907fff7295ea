//! Push and stream connectors: Jetstream over a loopback websocket, the
//! webhook receiver, and JSON Lines file replay.

mod common;

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use earshot_connect::Daemon;
use earshot_transport::{MemoryBus, Producer, TopicsConfig, TransportError};
use futures::{FutureExt, SinkExt};
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

// ---------------------------------------------------------------- Jetstream

const T0: i64 = 1_750_000_000_000_000;

fn event(i: i64, text: &str) -> String {
    event_at(i, T0 + i * 1000, text)
}

fn event_at(i: i64, time_us: i64, text: &str) -> String {
    json!({"did": "did:plc:acme", "time_us": time_us, "kind": "commit",
           "commit": {"rev": format!("r{i}"), "operation": "create", "collection": "app.bsky.feed.post", "rkey": format!("k{i}"),
                      "record": {"$type": "app.bsky.feed.post", "createdAt": "2025-06-10T12:00:00.000Z", "langs": ["en"], "text": text},
                      "cid": "bafyrei"}})
    .to_string()
}

#[tokio::test]
#[allow(clippy::result_large_err)] // tungstenite's handshake callback signature
async fn jetstream_reconnects_from_the_cursor_with_a_rewind_and_no_gap() {
    init_tracing();
    let mut events: Vec<(i64, String)> = (1..=20)
        .map(|i| (T0 + i * 1000, event(i, &format!("Acme post {i}"))))
        .collect();
    // Events that produce nothing but must not break the stream.
    events.push((T0 + 4500, json!({"did": "did:plc:x", "time_us": T0 + 4500, "kind": "identity", "identity": {"did": "did:plc:x", "handle": "x.test", "seq": 1, "time": "2025-06-10T12:00:00Z"}}).to_string()));
    events.push((T0 + 5500, event_at(99, T0 + 5500, "unrelated chatter")));
    events.push((T0 + 6500, json!({"did": "did:plc:acme", "time_us": T0 + 6500, "kind": "commit", "commit": {"rev": "r", "operation": "delete", "collection": "app.bsky.feed.post", "rkey": "k1"}}).to_string()));
    events.push((T0 + 7500, "{\"did\": truncated".to_string()));
    events.sort_by_key(|e| e.0);
    let events = Arc::new(events);
    let cursors: Arc<Mutex<Vec<Option<i64>>>> = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (ev, cs) = (events.clone(), cursors.clone());
    tokio::spawn(async move {
        for conn in 1.. {
            let (sock, _) = listener.accept().await.unwrap();
            let mut query = String::new();
            let ws = tokio_tungstenite::accept_hdr_async(sock, |req: &Request, resp: Response| {
                query = req.uri().query().unwrap_or("").to_string();
                Ok(resp)
            })
            .await
            .unwrap();
            assert!(
                query.contains("wantedCollections=app.bsky.feed.post"),
                "{query}"
            );
            let cursor = query
                .split('&')
                .find_map(|kv| kv.strip_prefix("cursor="))
                .map(|c| c.parse::<i64>().unwrap());
            cs.lock().unwrap().push(cursor);
            let mut ws = ws;
            let from = cursor.unwrap_or(i64::MIN);
            for (t, e) in ev.iter().filter(|(t, _)| *t >= from) {
                // The first connection dies abruptly after event 10.
                if conn == 1 && *t > T0 + 10_000 {
                    break;
                }
                ws.send(Message::text(e.clone())).await.unwrap();
            }
            if conn == 1 {
                ws.flush().await.unwrap();
                drop(ws); // no close frame: a broken connection
            } else {
                tokio::spawn(async move {
                    // Stay open like a live stream.
                    while futures::StreamExt::next(&mut ws).await.is_some() {}
                });
            }
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        &dir,
        &format!(
            r#"
            [cursors]
            path = "CURSORS"
            [[connectors]]
            name = "bsky"
            kind = "bluesky"
            url = "ws://{addr}/subscribe"
            keywords = ["ACME"]
            rewind_secs = 0.003
            batch_interval_secs = 0.02
            reconnect_secs = 0.02
            "#
        ),
    );
    let bus = MemoryBus::new();
    let run = start(&bus, &cfg).await;
    run.wait("bsky", "all twenty posts over two connections", |s| {
        s.produced == 20 && s.polls == 2
    })
    .await;
    let stats = run.stop().await;
    let s = &stats.connectors["bsky"];
    assert!(
        s.duplicates >= 4,
        "the rewind replayed events 7-10, dropped by id: {s:?}"
    );
    assert_eq!(
        s.dead_letters, 2,
        "the truncated event, once per connection: {s:?}"
    );
    let c = cursors.lock().unwrap().clone();
    assert_eq!(c[0], None, "first connection starts live");
    assert_eq!(
        c[1],
        Some(T0 + 10_000 - 3000),
        "resumed from the last acknowledged event minus the rewind"
    );
    let posts = posts(&bus).await;
    let ids = unique_ids(&posts);
    assert_eq!(ids.len(), 20, "no gap, no duplicate, no off-keyword post");
    let p = posts.iter().find(|p| p.text == "Acme post 3").unwrap();
    assert_eq!(p.id, "bluesky:at://did:plc:acme/app.bsky.feed.post/k3");
    assert_eq!(
        p.url.as_deref(),
        Some("https://bsky.app/profile/did:plc:acme/post/k3")
    );
    assert_eq!(p.lang.as_deref(), Some("en"));
}

// ---------------------------------------------------------------- Webhook

/// `(timestamp, signature)` headers for `body`. Each call signs a different
/// (recent) second, as a sender signs each attempt afresh: an identical
/// signature would be refused as a replay.
fn sign(secret: &[u8], body: &[u8]) -> (String, String) {
    // Each call signs a distinct timestamp, so a retried body is a new
    // request and not a replay. Counted down from one fixed start: counting
    // down from the clock repeats a timestamp when the second ticks between
    // two calls.
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    static START: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    let start = *START.get_or_init(|| chrono::Utc::now().timestamp());
    let ts = (start - CALLS.fetch_add(1, Ordering::SeqCst) as i64).to_string();
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
    mac.update(ts.as_bytes());
    mac.update(b".");
    mac.update(body);
    let sig = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    (ts, sig)
}

#[tokio::test]
async fn webhook_answers_202_only_after_the_transport_acknowledged() {
    init_tracing();
    std::env::set_var("EARSHOT_TEST_HOOK_SECRET_1", "hook-secret");
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        &dir,
        r#"
        [cursors]
        path = "CURSORS"
        [[connectors]]
        name = "hook"
        kind = "webhook"
        listen = "127.0.0.1:0"
        path = "/ingest"
        secret_env = "EARSHOT_TEST_HOOK_SECRET_1"
        max_body_bytes = 2000
        "#,
    );
    // Deliveries take 150 ms to be acknowledged, or fail on demand.
    let acked = Arc::new(AtomicUsize::new(0));
    let fail = Arc::new(AtomicBool::new(false));
    let bus = {
        let (acked, fail) = (acked.clone(), fail.clone());
        FaultyBus::new(move |inner, topic, record| {
            if fail.load(Ordering::SeqCst) && topic == TopicsConfig::default().raw {
                let topic = topic.to_string();
                return async move {
                    Err(TransportError::Delivery {
                        topic,
                        message: "broker down".into(),
                    })
                }
                .boxed();
            }
            let f = inner.send(topic, record);
            let acked = acked.clone();
            async move {
                tokio::time::sleep(Duration::from_millis(150)).await;
                let r = f.await;
                acked.fetch_add(1, Ordering::SeqCst);
                r
            }
            .boxed()
        })
    };
    let shutdown = CancellationToken::new();
    let daemon = Daemon::new(
        Arc::new(bus.clone()),
        &TopicsConfig::default(),
        &cfg,
        shutdown.clone(),
    )
    .await
    .unwrap();
    let url = format!("http://{}/ingest", daemon.webhook_addr("hook").unwrap());
    let stats = daemon.stats();
    let handle = tokio::spawn(daemon.run());
    let client = reqwest::Client::new();
    let post = |body: Vec<u8>, (ts, sig): (String, String)| {
        client
            .post(&url)
            .header("X-Earshot-Timestamp", ts)
            .header("X-Earshot-Signature", sig)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };

    let body = br#"[{"id": "42", "text": "Acme helped me"}, {"id": "crm:7", "text": "pushed", "author": {"handle": "ann"}}]"#.to_vec();
    let r = post(body.clone(), sign(b"wrong", &body)).await.unwrap();
    assert_eq!(r.status(), 401);
    let r = post(
        body.clone(),
        (chrono::Utc::now().timestamp().to_string(), "sha256=".into()),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(bus.inner.len("earshot.raw"), 0);

    let big = serde_json::to_vec(&json!({"id": "big", "text": "x".repeat(3000)})).unwrap();
    let r = post(big.clone(), sign(b"hook-secret", &big)).await.unwrap();
    assert_eq!(r.status(), 413);

    let r = post(body.clone(), sign(b"hook-secret", &body))
        .await
        .unwrap();
    assert_eq!(
        acked.load(Ordering::SeqCst),
        2,
        "both acknowledged before the answer"
    );
    assert_eq!(r.status(), 202);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        v,
        json!({"accepted": 2, "duplicates": 0, "dead_lettered": 0})
    );
    // The sender retries: nothing is produced twice.
    let r = post(body.clone(), sign(b"hook-secret", &body))
        .await
        .unwrap();
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["duplicates"],
        2
    );

    let bad = b"{\"id\": \"x\", \"text\": ".to_vec();
    let r = post(bad.clone(), sign(b"hook-secret", &bad)).await.unwrap();
    assert_eq!(r.status(), 400);
    let mixed = br#"{"posts": [{"id": "web:9", "text": "ok"}, {"id": "web:10"}]}"#.to_vec();
    let r = post(mixed.clone(), sign(b"hook-secret", &mixed))
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["dead_lettered"],
        1
    );

    fail.store(true, Ordering::SeqCst);
    let retry = br#"{"id": "web:11", "text": "while the broker is down"}"#.to_vec();
    let r = post(retry.clone(), sign(b"hook-secret", &retry))
        .await
        .unwrap();
    assert_eq!(r.status(), 503, "not acknowledged: the sender must retry");
    fail.store(false, Ordering::SeqCst);
    let r = post(retry.clone(), sign(b"hook-secret", &retry))
        .await
        .unwrap();
    assert_eq!(r.status(), 202);

    shutdown.cancel();
    handle.await.unwrap().unwrap();
    let s = stats.snapshot().connectors["hook"].clone();
    assert_eq!((s.produced, s.dead_letters), (4, 2), "{s:?}");
    let posts = posts(&bus.inner).await;
    let ids = unique_ids(&posts);
    assert_eq!(ids, ["crm:7", "web:11", "web:9", "webhook:42"]);
    let dls = dead_letters(&bus.inner).await;
    assert!(
        dls.iter()
            .any(|d| d.reason.starts_with("invalid JSON")
                && d.payload == b"{\"id\": \"x\", \"text\": "),
        "{dls:?}"
    );
    assert!(dls.iter().any(|d| d.reason.contains("text")), "{dls:?}");
}

// ---------------------------------------------------------------- Files

fn line(id: &str, text: &str) -> String {
    format!("{}\n", json!({"id": id, "text": text}))
}

#[tokio::test]
async fn file_replay_one_shot_resumes_and_dead_letters_bad_lines() {
    init_tracing();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let plain = data.join("a.jsonl");
    let mut f = std::fs::File::create(&plain).unwrap();
    write!(
        f,
        "{}{}not json at all\n{{\"id\": \"3\"}}\n{}",
        line("1", "one"),
        line("hn:2", "two"),
        line("4", "four")
    )
    .unwrap();
    f.write_all(b"{\"id\": \"5\", \"text\": \"\xff\xfe\"}\n")
        .unwrap();
    drop(f);
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(data.join("b.jsonl.gz")).unwrap(),
        flate2::Compression::fast(),
    );
    gz.write_all(format!("{}{}", line("g1", "gz one"), line("g2", "gz two")).as_bytes())
        .unwrap();
    gz.finish().unwrap();
    let cfg = config(
        &dir,
        &format!(
            r#"
            [cursors]
            path = "CURSORS"
            [[connectors]]
            name = "replay"
            kind = "file"
            paths = ["{}"]
            one_shot = true
            batch_size = 2
            "#,
            data.display()
        ),
    );
    let bus = MemoryBus::new();
    let topics = TopicsConfig::default();
    let stats = earshot_connect::run(
        Arc::new(bus.clone()),
        &topics,
        &cfg,
        CancellationToken::new(),
    )
    .await
    .unwrap();
    let s = &stats.connectors["replay"];
    assert_eq!((s.produced, s.dead_letters), (5, 3), "{s:?}");
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&plain)
        .unwrap();
    write!(f, "{}{}", line("6", "six"), line("7", "seven")).unwrap();
    drop(f);
    let stats = earshot_connect::run(
        Arc::new(bus.clone()),
        &topics,
        &cfg,
        CancellationToken::new(),
    )
    .await
    .unwrap();
    let s = &stats.connectors["replay"];
    assert_eq!(
        (s.produced, s.dead_letters, s.duplicates),
        (2, 0, 0),
        "only the appended lines: {s:?}"
    );
    let posts = posts(&bus).await;
    assert_eq!(
        unique_ids(&posts),
        ["file:1", "file:4", "file:6", "file:7", "file:g1", "file:g2", "hn:2"]
    );
    let dls = dead_letters(&bus).await;
    let mut locators: Vec<String> = dls
        .iter()
        .map(|d| match &d.origin {
            earshot_model::Origin::Source { locator, .. } => {
                locator.rsplit('/').next().unwrap().to_string()
            }
            other => panic!("{other:?}"),
        })
        .collect();
    locators.sort();
    assert_eq!(locators, ["a.jsonl:3", "a.jsonl:4", "a.jsonl:6"]);
    assert!(
        dls.iter().any(|d| d.payload == b"not json at all"),
        "bad line kept: {dls:?}"
    );

    // A missing input makes a one-shot replay fail loudly.
    let missing = config(&dir, "[cursors]\npath = \"CURSORS\"\n[[connectors]]\nname = \"m\"\nkind = \"file\"\none_shot = true\npaths = [\"/nonexistent/x.jsonl\"]\n");
    let err = earshot_connect::run(
        Arc::new(bus.clone()),
        &topics,
        &missing,
        CancellationToken::new(),
    )
    .await
    .unwrap_err();
    assert!(
        format!("{err:#}").contains("/nonexistent/x.jsonl"),
        "{err:#}"
    );
}

#[tokio::test]
async fn file_watch_waits_for_a_partial_line_to_be_finished() {
    init_tracing();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("live.jsonl");
    let mut f = std::fs::File::create(&path).unwrap();
    write!(f, "{}{{\"id\": \"2\", \"te", line("1", "one")).unwrap();
    f.flush().unwrap();
    let cfg = config(
        &dir,
        &format!(
            "[cursors]\npath = \"CURSORS\"\n[[connectors]]\nname = \"tail\"\nkind = \"file\"\npaths = [\"{}\"]\npoll_interval_secs = 0.02\nprogress = false\n",
            path.display()
        ),
    );
    let bus = MemoryBus::new();
    let run = start(&bus, &cfg).await;
    run.wait("tail", "the complete line", |s| {
        s.produced == 1 && s.polls >= 1
    })
    .await;
    writeln!(f, "xt\": \"two\"}}").unwrap();
    f.flush().unwrap();
    run.wait("tail", "the finished line", |s| s.produced == 2)
        .await;
    let stats = run.stop().await;
    assert_eq!(
        stats.connectors["tail"].dead_letters, 0,
        "the half-written line was never read as bad"
    );
    assert_eq!(unique_ids(&posts(&bus).await), ["file:1", "file:2"]);
}
