//! RSS/Atom/JSON Feed connector against real loopback HTTP servers.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use common::*;
use earshot_model::{ORIGIN_HEADER, SCHEMA_HEADER};
use earshot_transport::MemoryBus;
use tokio::io::AsyncWriteExt;

const RSS: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel>
  <title>Acme blog</title><link>https://blog.test/</link><language>en-us</language>
  <item>
    <title>Acme &amp;amp; friends</title>
    <link>/posts/1</link>
    <guid isPermaLink="false">post-1</guid>
    <description>&lt;p&gt;Acme&amp;#39;s &lt;b&gt;new&lt;/b&gt; phone&lt;/p&gt;&lt;script&gt;x()&lt;/script&gt;</description>
    <pubDate>Tue, 10 Jun 2025 04:00:00 GMT</pubDate>
    <author>jane@blog.test (Jane)</author>
  </item>
  <item>
    <title>Second</title>
    <link>https://blog.test/posts/2</link>
    <guid>post-2</guid>
    <description>plain &amp;eacute;t&amp;eacute;</description>
  </item>
</channel></rss>"#;

const ATOM: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>Atom feed</title><id>urn:atom</id><updated>2025-06-10T00:00:00Z</updated>
  <entry>
    <title type="html">Atom &lt;i&gt;entry&lt;/i&gt;</title>
    <id>urn:entry:1</id>
    <link rel="alternate" href="entries/1"/>
    <updated>2025-06-10T00:00:00Z</updated>
    <author><name>Ann</name></author>
    <content type="html">&lt;div&gt;Hello &amp;amp; welcome&lt;/div&gt;</content>
  </entry>
</feed>"#;

const JSON_FEED: &str = r#"{
  "version": "https://jsonfeed.org/version/1.1",
  "title": "JSON feed",
  "items": [
    {"id": "j1", "url": "https://json.test/j1", "content_html": "<p>JSON &amp; feed</p>", "date_published": "2025-06-10T00:00:00Z"}
  ]
}"#;

/// Answers 304 when the client already has `etag`.
fn cond(h: &HeaderMap, body: &'static str, etag: &'static str) -> Response {
    if h.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) == Some(etag) {
        return StatusCode::NOT_MODIFIED.into_response();
    }
    xml(body, etag)
}

fn xml(body: &'static str, etag: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/rss+xml"),
            (header::ETAG, etag),
        ],
        body,
    )
        .into_response()
}

#[tokio::test]
async fn conditional_get_redirects_relative_links_and_html_to_text() {
    init_tracing();
    let conditional_hits = Arc::new(AtomicUsize::new(0));
    let ch = conditional_hits.clone();
    let app = Router::new()
        .route(
            "/old-feed",
            get(|| async { Redirect::permanent("/feed.xml") }),
        )
        .route(
            "/feed.xml",
            get(move |h: HeaderMap| {
                let ch = ch.clone();
                async move {
                    if h.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) == Some("\"v1\"")
                    {
                        ch.fetch_add(1, Ordering::SeqCst);
                        return StatusCode::NOT_MODIFIED.into_response();
                    }
                    xml(RSS, "\"v1\"")
                }
            }),
        )
        .route("/atom", get(|| async { xml(ATOM, "\"a1\"") }))
        .route(
            "/feed.json",
            get(|| async {
                ([(header::CONTENT_TYPE, "application/feed+json")], JSON_FEED).into_response()
            }),
        );
    let addr = serve(app).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        &dir,
        &format!(
            r#"
            [cursors]
            path = "CURSORS"
            [connect]
            per_host_requests_per_second = 0
            [[connectors]]
            name = "blogs"
            kind = "rss"
            keep_raw = true
            poll_interval_secs = 0.05
            feeds = ["http://{addr}/old-feed", {{ url = "http://{addr}/atom", poll_interval_secs = 0.05 }}, "http://{addr}/feed.json"]
            "#
        ),
    );
    let bus = MemoryBus::new();
    let run = start(&bus, &cfg).await;
    run.wait("blogs", "three feeds produced and a 304", |s| {
        s.produced == 4 && s.not_modified >= 2
    })
    .await;
    let stats = run.stop().await;
    let s = &stats.connectors["blogs"];
    assert_eq!(s.errors, 0, "{s:?}");
    assert_eq!(s.dead_letters, 0, "{s:?}");
    assert!(
        s.duplicates > 0,
        "re-polled feeds without validators are deduplicated: {s:?}"
    );
    assert!(conditional_hits.load(Ordering::SeqCst) >= 2);

    let msgs = read(&bus, "earshot.raw").await;
    assert_eq!(msgs.len(), 4, "each entry produced exactly once");
    for m in &msgs {
        assert_eq!(m.header(SCHEMA_HEADER), Some("1"));
        assert_eq!(m.header(ORIGIN_HEADER), Some("connect:blogs"));
    }
    let posts = posts(&bus).await;
    unique_ids(&posts);
    let first = posts
        .iter()
        .find(|p| p.title.as_deref() == Some("Acme & friends"))
        .expect("rss item 1");
    assert_eq!(first.text, "Acme's new phone");
    assert_eq!(
        first.url.as_deref(),
        Some(format!("http://{addr}/posts/1").as_str()),
        "relative link resolved against the redirected URL"
    );
    assert_eq!(first.lang.as_deref(), Some("en"));
    assert_eq!(
        first.published_at.unwrap().to_rfc3339(),
        "2025-06-10T04:00:00+00:00"
    );
    assert!(first.id.starts_with("rss:") && first.source == "rss");
    assert!(first.raw.is_some(), "keep_raw keeps the entry");
    let second = posts
        .iter()
        .find(|p| p.title.as_deref() == Some("Second"))
        .unwrap();
    assert_eq!(second.text, "plain été");
    let atom = posts
        .iter()
        .find(|p| p.title.as_deref() == Some("Atom entry"))
        .expect("atom entry");
    assert_eq!(atom.text, "Hello & welcome");
    assert_eq!(
        atom.url.as_deref(),
        Some(format!("http://{addr}/entries/1").as_str())
    );
    assert_eq!(atom.author.handle.as_deref(), Some("Ann"));
    let json = posts
        .iter()
        .find(|p| p.url.as_deref() == Some("https://json.test/j1"))
        .expect("json feed item");
    assert_eq!(json.text, "JSON & feed");
}

#[tokio::test]
async fn retry_after_5xx_and_timeouts_are_survived_politely() {
    init_tracing();
    let times: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let t = times.clone();
    let app = Router::new().route(
        "/feed.xml",
        get(move || {
            let t = t.clone();
            async move {
                let n = {
                    let mut v = t.lock().unwrap();
                    v.push(Instant::now());
                    v.len()
                };
                match n {
                    1 => (
                        StatusCode::TOO_MANY_REQUESTS,
                        [(header::RETRY_AFTER, "1")],
                        "slow down",
                    )
                        .into_response(),
                    2 => (StatusCode::BAD_GATEWAY, "oops").into_response(),
                    3 => {
                        tokio::time::sleep(Duration::from_millis(800)).await;
                        xml(RSS, "\"late\"")
                    }
                    _ => xml(RSS, "\"v1\""),
                }
            }
        }),
    );
    let addr = serve(app).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        &dir,
        &format!(
            r#"
            [cursors]
            path = "CURSORS"
            [[connectors]]
            name = "flaky"
            kind = "rss"
            timeout_secs = 0.3
            backoff_initial_secs = 0.05
            backoff_max_secs = 0.2
            poll_interval_secs = 60
            feeds = ["http://{addr}/feed.xml"]
            "#
        ),
    );
    let bus = MemoryBus::new();
    let run = start(&bus, &cfg).await;
    run.wait("flaky", "the feed after 429, 502 and a timeout", |s| {
        s.produced == 2
    })
    .await;
    let stats = run.stop().await;
    let s = &stats.connectors["flaky"];
    assert_eq!(s.rate_limited, 1, "{s:?}");
    assert_eq!(
        s.retries, 3,
        "429, 502 and the timeout each retried once: {s:?}"
    );
    assert_eq!(s.errors, 0, "{s:?}");
    let times = times.lock().unwrap().clone();
    assert_eq!(times.len(), 4, "no extra requests");
    let gap = times[1] - times[0];
    assert!(
        gap >= Duration::from_millis(950),
        "Retry-After: 1 honored, waited only {gap:?}"
    );
    assert!(
        times[2] - times[1] < Duration::from_millis(900),
        "5xx backoff is short here"
    );
}

#[tokio::test]
async fn malformed_feeds_are_dead_lettered_and_polling_goes_on() {
    init_tracing();
    let huge = format!(
        "<rss version=\"2.0\"><channel>{}</channel></rss>",
        "<item><title>x</title></item>".repeat(5000)
    );
    let huge: &'static str = Box::leak(huge.into_boxed_str());
    // A body in Latin-1 that claims to be UTF-8: read as lenient readers do (CP-1252).
    let latin1: &'static [u8] = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel><title>caf\xe9</title><item><title>\xe9t\xe9</title><guid>l1</guid></item></channel></rss>";
    let app = Router::new()
        .route("/bad.xml", get(|h: HeaderMap| async move { cond(&h, "<rss><channel><item><title>unclosed", "\"b\"") }))
        .route("/not-a-feed", get(|h: HeaderMap| async move { cond(&h, "{\"this\": \"is json\", \"not\": [\"a feed\"]}", "\"j\"") }))
        .route("/huge.xml", get(move || async move { xml(huge, "\"h\"") }))
        .route("/latin1.xml", get(move || async move { ([(header::CONTENT_TYPE, "application/rss+xml")], latin1).into_response() }))
        .route("/empty-entry.xml", get(|| async { xml("<rss version=\"2.0\"><channel><title>t</title><item></item></channel></rss>", "\"e\"") }))
        .route("/good.xml", get(|| async { xml(RSS, "\"g\"") }));
    let addr = serve(app).await;
    // A server that promises 5,000 bytes and hangs up after a few.
    let raw = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let raw_addr = raw.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (mut sock, _) = raw.accept().await.unwrap();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = tokio::io::AsyncReadExt::read(&mut sock, &mut buf).await;
                let _ = sock
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nContent-Length: 5000\r\n\r\n<rss version=\"2.0\"><channel><item><title>cut")
                    .await;
                let _ = sock.shutdown().await;
            });
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        &dir,
        &format!(
            r#"
            [cursors]
            path = "CURSORS"
            [connect]
            per_host_requests_per_second = 0
            [[connectors]]
            name = "messy"
            kind = "rss"
            max_body_bytes = 50000
            max_retries = 1
            backoff_initial_secs = 0.01
            poll_interval_secs = 0.05
            feeds = ["http://{addr}/bad.xml", "http://{addr}/not-a-feed", "http://{addr}/huge.xml", "http://{addr}/latin1.xml",
                     "http://{addr}/empty-entry.xml", "http://{addr}/good.xml", "http://{raw_addr}/truncated.xml"]
            "#
        ),
    );
    let bus = MemoryBus::new();
    let run = start(&bus, &cfg).await;
    run.wait(
        "messy",
        "readable feeds produced, bad ones dead-lettered, and more polls",
        |s| s.produced == 4 && s.dead_letters >= 4 && s.polls >= 12,
    )
    .await;
    let stats = run.stop().await;
    let dls = dead_letters(&bus).await;
    let reason_for = |path: &str| -> Vec<String> {
        dls.iter()
            .filter(|d| matches!(&d.origin, earshot_model::Origin::Source { locator, .. } if locator.ends_with(path)))
            .map(|d| d.reason.clone())
            .collect()
    };
    // Issue 19: an unclosed feed is read as far as it goes, and a body that is
    // not UTF-8 as declared is decoded as lenient readers do; neither is lost.
    assert!(reason_for("/bad.xml").is_empty(), "{dls:?}");
    assert!(reason_for("/latin1.xml").is_empty(), "{dls:?}");
    let posts_now = posts(&bus).await;
    assert!(posts_now
        .iter()
        .any(|p| p.title.as_deref() == Some("unclosed")));
    assert!(posts_now.iter().any(|p| p.title.as_deref() == Some("été")));
    assert!(
        reason_for("/not-a-feed")[0].starts_with("invalid feed"),
        "{:?}",
        reason_for("/not-a-feed")
    );
    assert_eq!(
        reason_for("/not-a-feed").len(),
        1,
        "a bad version is reported once (its ETag is remembered): {dls:?}"
    );
    assert!(
        reason_for("/huge.xml")[0].contains("larger than max_body_bytes"),
        "{:?}",
        reason_for("/huge.xml")
    );
    assert!(reason_for("/empty-entry.xml")[0].contains("no title, text or link"));
    assert!(
        reason_for("/truncated.xml")
            .iter()
            .all(|r| r.contains("truncated")),
        "{:?}",
        reason_for("/truncated.xml")
    );
    let huge_dl = dls
        .iter()
        .find(|d| d.reason.contains("larger than"))
        .unwrap();
    assert_eq!(
        huge_dl.payload.len(),
        50000,
        "the kept payload is the capped prefix"
    );
    assert_eq!(huge_dl.stage, "connect:messy");
    let bad = dls
        .iter()
        .find(|d| d.reason.starts_with("invalid feed"))
        .unwrap();
    assert_eq!(
        bad.payload_text(),
        "{\"this\": \"is json\", \"not\": [\"a feed\"]}",
        "bad payload kept for inspection"
    );
    assert!(stats.connectors["messy"].dead_letters as usize >= dls.len());
    assert_eq!(unique_ids(&posts(&bus).await).len(), 4);
}
