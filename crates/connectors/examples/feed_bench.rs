//! Benchmark: one connector daemon polling 1,000 RSS feeds from a local
//! server (a child process, so its CPU is not counted), printing CPU time and
//! memory per 1,000 polls for three cases:
//!
//! * `first`: every feed new (200, parse 10 items, produce, save cursors);
//! * `304`: conditional GETs answered `304 Not Modified`;
//! * `200-unchanged`: a server without validators, so every poll downloads,
//!   parses and deduplicates 10 known items.
//!
//! Run: `cargo run --release -p earshot-connect --example feed_bench [FEEDS] [ROUNDS]`

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::Path;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use earshot_connect::{ConnectConfig, Daemon};
use earshot_transport::{MemoryBus, TopicsConfig};
use tokio_util::sync::CancellationToken;

const ITEMS: usize = 10;

fn feed(i: usize) -> String {
    let mut s = String::from("<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Feed</title><link>https://bench.test/</link>");
    for j in 0..ITEMS {
        s.push_str(&format!(
            "<item><title>Post {j} of feed {i} about Acme</title><link>/f{i}/p{j}</link><guid>f{i}-p{j}</guid>\
             <pubDate>Tue, 10 Jun 2025 04:00:00 GMT</pubDate><description>&lt;p&gt;Some &lt;b&gt;HTML&lt;/b&gt; text \
             about Acme&amp;#39;s product number {j}, long enough to look like a real summary of a blog post.&lt;/p&gt;</description></item>"
        ));
    }
    s.push_str("</channel></rss>");
    s
}

async fn serve() {
    let feeds: Arc<Vec<String>> = Arc::new((0..20_000).map(feed).collect());
    let f2 = feeds.clone();
    let app = Router::new()
        .route(
            "/etag/{i}",
            get(move |Path(i): Path<usize>, h: HeaderMap| {
                let feeds = feeds.clone();
                async move {
                    let etag = format!("\"v{i}\"");
                    if h.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok())
                        == Some(etag.as_str())
                    {
                        return StatusCode::NOT_MODIFIED.into_response();
                    }
                    ([(header::ETAG, etag)], feeds[i].clone()).into_response()
                }
            }),
        )
        .route(
            "/plain/{i}",
            get(move |Path(i): Path<usize>| {
                let feeds = f2.clone();
                async move { feeds[i].clone() }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    println!("{}", listener.local_addr().unwrap());
    std::io::stdout().flush().unwrap();
    axum::serve(listener, app).await.unwrap();
}

/// User + system CPU time of this process.
fn cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    // Fields 14 and 15 of stat(5), counted from the state field (3).
    let ticks: u64 = f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap();
    Duration::from_millis(ticks * 1000 / 100)
}

/// (current RSS, peak RSS) in MiB.
fn memory() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb = |k: &str| {
        status
            .lines()
            .find(|l| l.starts_with(k))
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap()
            .parse::<f64>()
            .unwrap()
            / 1024.0
    };
    (kb("VmRSS:"), kb("VmHWM:"))
}

async fn scenario(addr: &str, path: &str, feeds: usize, rounds: u64) {
    let dir = tempfile::tempdir().unwrap();
    let list: Vec<String> = (0..feeds)
        .map(|i| format!("\"http://{addr}/{path}/{i}\""))
        .collect();
    let cfg: ConnectConfig = toml::from_str(&format!(
        "[cursors]\npath = \"{}\"\n[connect]\nper_host_requests_per_second = 0\nmax_concurrent_requests = 64\n\
         [[connectors]]\nname = \"bench\"\nkind = \"rss\"\npoll_interval_secs = 0.5\nfeeds = [{}]\n",
        dir.path().join("c.db").display(),
        list.join(",")
    ))
    .unwrap();
    let bus = MemoryBus::new();
    let shutdown = CancellationToken::new();
    let daemon = Daemon::new(
        Arc::new(bus.clone()),
        &TopicsConfig::default(),
        &cfg,
        shutdown.clone(),
    )
    .await
    .unwrap();
    let stats = daemon.stats();
    let (c0, t0) = (cpu(), Instant::now());
    let handle = tokio::spawn(daemon.run());
    let n = feeds as u64;
    let polls = |s: &earshot_connect::ConnectStats| s.connectors["bench"].polls;
    assert!(
        stats
            .wait_for(Duration::from_secs(600), |s| polls(s) >= n)
            .await
    );
    let (c1, t1) = (cpu(), Instant::now());
    let (rss1, _) = memory();
    assert!(
        stats
            .wait_for(Duration::from_secs(600), |s| polls(s) >= n * (1 + rounds))
            .await
    );
    let (c2, t2) = (cpu(), Instant::now());
    let (rss2, peak) = memory();
    shutdown.cancel();
    let end = handle.await.unwrap().unwrap();
    let s = &end.connectors["bench"];
    assert_eq!(s.produced, n * ITEMS as u64, "{s:?}");
    assert_eq!(s.errors, 0, "{s:?}");
    let per = |c: Duration, polls: u64| c.as_secs_f64() * 1000.0 / (polls as f64 / 1000.0);
    let later = if path == "etag" {
        "304"
    } else {
        "200-unchanged"
    };
    println!(
        "{path:5} first round : {n} polls, {} posts, CPU {:.0} ms per 1,000 polls, wall {:.2} s, RSS {rss1:.1} MiB",
        n * ITEMS as u64,
        per(c1 - c0, n),
        (t1 - t0).as_secs_f64()
    );
    let later_polls = s.polls.saturating_sub(n).max(1);
    println!(
        "{path:5} {later:14}: {later_polls} polls, CPU {:.0} ms per 1,000 polls, {:.0} polls/s, RSS {rss2:.1} MiB (peak {peak:.1}); not_modified {}, duplicates {}",
        per(c2 - c1, later_polls),
        later_polls as f64 / (t2 - t1).as_secs_f64(),
        s.not_modified,
        s.duplicates
    );
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("serve") {
        return serve().await;
    }
    let feeds: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(1000);
    let rounds: u64 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(5);
    let mut child = Command::new(std::env::current_exe().unwrap())
        .arg("serve")
        .stdout(Stdio::piped())
        .spawn()
        .expect("server process");
    let mut addr = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut addr)
        .unwrap();
    let addr = addr.trim().to_string();
    println!(
        "feeds: {feeds} x {ITEMS} items, later rounds: {rounds}, server: {addr} (separate process)"
    );
    scenario(&addr, "etag", feeds, rounds).await;
    scenario(&addr, "plain", feeds, rounds).await;
    let _ = child.kill();
    let _ = child.wait();
}
