//! Console page times on the embedded store at 1M interactions (issue 15):
//! seeds a SQLite store through the sink's own upsert (batches of 10,000),
//! serves `earshot_console::router` on a loopback port and times each page
//! over real HTTP (one warm-up, then `CONSOLE_BENCH_ROUNDS` requests; median
//! and max). Run through `benches/console/run.sh`.
//!
//! Usage: `earshot-console-bench DB_PATH [ROWS]`; an existing store with
//! ROWS interactions is reused (re-runs time the pages only).
//! `earshot-console-bench --clickhouse URL DATABASE [ROWS]`: the same pages
//! over ClickHouse: migrates DATABASE, seeds it through the ClickHouse sink
//! (batches of 50,000) unless it already holds ROWS, times the pages; drop
//! the database afterwards (`run.sh` does).
//! `earshot-console-bench --write-cost DIR [ROWS]`: the sink's write time
//! per post and the cost of the console's two indexes (migration 19): seeds
//! ROWS (default 200,000) into fresh stores with and without them,
//! alternately, three rounds each, and prints the medians.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use earshot_model::Interaction;
use earshot_sink::sqlite::SqliteStore;
use earshot_sink::{Batch, BatchItem, Position, SinkConfig, SinkKind};

const TIERS: &[&str] = &["gold", "silver", "bronze"];
const BATCH: usize = 10_000;
/// The rows spread over the 30 days ending now, so each window sees its share.
const SPAN_SECS: i64 = 30 * 86_400;

fn interaction(n: usize, rows: usize, now: chrono::DateTime<Utc>) -> Interaction {
    let at = now - chrono::Duration::seconds(SPAN_SECS * (rows - n) as i64 / rows as i64);
    let mut s = earshot_benches::stored_seed(n, 30, at);
    s.fetched_after = Some(chrono::Duration::zero());
    s.scored_after = chrono::Duration::zero();
    s.priority_reasons = if n.is_multiple_of(4) {
        vec![
            format!("rule complaints: intent=complaint, tier={}", TIERS[n % 3]),
            "boost reach: reach>=10000 (+10)".into(),
        ]
    } else {
        vec!["no routing rule matched".into()]
    };
    s.build()
}

/// Migration 19's indexes, dropped for the comparison (the rollups are
/// written by the sink itself and cannot be turned off).
const READ_PATHS: &str = "DROP INDEX interactions_queue; DROP INDEX mentions_routed;";

fn write_cost(dir: &std::path::Path, rows: usize) {
    let mut with = Vec::new();
    let mut without = Vec::new();
    for round in 0..6 {
        let path = dir.join(format!("write-cost-{round}.db"));
        let store = SqliteStore::open(&path).expect("open store");
        store.migrate().expect("migrate");
        let plain = round % 2 == 1;
        if plain {
            store
                .with_connection(|c| c.execute_batch(READ_PATHS))
                .expect("drop the read paths");
        }
        let s = seed(&store, rows);
        drop(store);
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
        if plain {
            without.push(s)
        } else {
            with.push(s)
        }
    }
    with.sort_by(f64::total_cmp);
    without.sort_by(f64::total_cmp);
    let (w, o) = (with[1], without[1]);
    println!(
        "write cost, {rows} interactions, medians of 3 alternated rounds: {:.1} µs a post, {:.1} µs without the console's indexes (+{:.1} µs, +{:.0} %)",
        w * 1e6 / rows as f64,
        o * 1e6 / rows as f64,
        (w - o) * 1e6 / rows as f64,
        (w / o - 1.0) * 100.0
    );
}

/// Seeds `rows` interactions; returns the seconds it took.
fn seed(store: &SqliteStore, rows: usize) -> f64 {
    let now = Utc::now();
    let topic: Arc<str> = Arc::from("bench");
    let started = Instant::now();
    for b in 0..rows.div_ceil(BATCH) {
        let mut batch = Batch::default();
        for n in b * BATCH..((b + 1) * BATCH).min(rows) {
            let i = interaction(n, rows, now);
            batch.push(BatchItem {
                raw: Vec::new(),
                interaction: i,
                position: Position {
                    topic: topic.clone(),
                    partition: 0,
                    offset: n as i64,
                },
            });
        }
        store.upsert(&batch).expect("upsert");
    }
    let s = started.elapsed().as_secs_f64();
    println!(
        "seeded {rows} interactions in {s:.1} s ({:.0} rows/s through SqliteStore::upsert)",
        rows as f64 / s
    );
    s
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut args = std::env::args().skip(1).peekable();
    if args.peek().map(String::as_str) == Some("--write-cost") {
        args.next();
        let dir = std::path::PathBuf::from(args.next().expect("usage: --write-cost DIR [ROWS]"));
        let rows = args.next().and_then(|r| r.parse().ok()).unwrap_or(200_000);
        write_cost(&dir, rows);
        return;
    }
    if args.peek().map(String::as_str) == Some("--clickhouse") {
        args.next();
        let url = args
            .next()
            .expect("usage: --clickhouse URL DATABASE [ROWS]");
        let db = args
            .next()
            .expect("usage: --clickhouse URL DATABASE [ROWS]");
        let rows = args
            .next()
            .and_then(|r| r.parse().ok())
            .unwrap_or(1_000_000);
        let mut sink = SinkConfig {
            kind: SinkKind::Clickhouse,
            ..SinkConfig::default()
        };
        sink.clickhouse.url = url;
        sink.clickhouse.database = db;
        sink.clickhouse.timeout_s = 300;
        seed_clickhouse(&sink, rows).await;
        time_pages(&sink, rows).await;
        return;
    }
    let path = std::path::PathBuf::from(
        args.next()
            .expect("usage: earshot-console-bench DB_PATH [ROWS]"),
    );
    let rows: usize = args
        .next()
        .and_then(|r| r.parse().ok())
        .unwrap_or(1_000_000);

    let store = SqliteStore::open(&path).expect("open store");
    store.migrate().expect("migrate");
    let have: i64 = store
        .with_connection(|c| c.query_row("SELECT COUNT(*) FROM interactions", [], |r| r.get(0)))
        .expect("count");
    if have as usize != rows {
        assert_eq!(
            have,
            0,
            "{} holds {have} rows, not {rows}: remove it first",
            path.display()
        );
        seed(&store, rows);
    } else {
        println!("reusing {} ({rows} interactions)", path.display());
    }
    drop(store);

    let mut sink = SinkConfig {
        kind: SinkKind::Sqlite,
        ..SinkConfig::default()
    };
    sink.sqlite.path = path.clone();
    time_pages(&sink, rows).await;
}

/// Migrates the configured ClickHouse database and, unless it holds `rows`
/// interactions already, seeds them through the ClickHouse sink.
async fn seed_clickhouse(sink: &SinkConfig, rows: usize) {
    use earshot_sink::clickhouse::ClickHouseSink;
    use earshot_sink::{RetryPolicy, Sink};
    earshot_sink::migrate(sink).await.expect("migrate");
    let client = earshot_sink::clickhouse::client(&sink.clickhouse, true);
    let have: u64 = client
        .query("SELECT count() FROM (SELECT DISTINCT post_id FROM interactions)")
        .fetch_one()
        .await
        .expect("count");
    if have as usize == rows {
        println!("reusing {} ({rows} interactions)", sink.clickhouse.database);
        return;
    }
    assert_eq!(
        have, 0,
        "{} holds {have} posts, not {rows}: drop it first",
        sink.clickhouse.database
    );
    let mut writer = ClickHouseSink::connect(
        &sink.clickhouse,
        RetryPolicy::new(&sink.retry, tokio_util::sync::CancellationToken::new()),
    )
    .await
    .expect("connect");
    let now = Utc::now();
    let topic: Arc<str> = Arc::from("bench");
    let started = Instant::now();
    const CH_BATCH: usize = 50_000;
    for b in 0..rows.div_ceil(CH_BATCH) {
        let mut batch = Batch::default();
        for n in b * CH_BATCH..((b + 1) * CH_BATCH).min(rows) {
            batch.push(BatchItem {
                raw: Vec::new(),
                interaction: interaction(n, rows, now),
                position: Position {
                    topic: topic.clone(),
                    partition: 0,
                    offset: n as i64,
                },
            });
        }
        writer.write(&batch).await.expect("insert");
    }
    let s = started.elapsed().as_secs_f64();
    println!(
        "seeded {rows} interactions in {s:.1} s ({:.0} rows/s through the ClickHouse sink)",
        rows as f64 / s
    );
}

/// Serves the console over `sink` on loopback and times each page.
async fn time_pages(sink: &SinkConfig, rows: usize) {
    let rounds: usize = std::env::var("CONSOLE_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(5);
    let state =
        earshot_console::ConsoleState::open(sink, &earshot_console::ConsoleConfig::default())
            .await
            .expect("open console");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, earshot_console::router(state)).await });
    let client = reqwest::Client::new();

    println!("| page | median | max | bytes |");
    println!("|---|---|---|---|");
    let thread = format!("/thread/reddit:t3_{:08}", rows - 1);
    for path in [
        "/?window=24h",
        "/?window=7d",
        "/?window=30d",
        "/?window=7d&brand=acme",
        "/queue",
        "/queue?window=30d&route=support&intent=complaint&tier=gold",
        "/queue?window=30d&brand=acme",
        // No routed post names it: the whole window is read (worst case).
        "/queue?window=30d&brand=initech",
        "/alerts?window=30d",
        // One author (5,000 write the million posts: 200 each) and one thread.
        "/author/reddit/user42?window=30d",
        &thread,
    ] {
        let mut times = Vec::new();
        let mut bytes = 0;
        for round in 0..=rounds {
            let t = Instant::now();
            let r = client.get(format!("{base}{path}")).send().await.unwrap();
            assert_eq!(r.status(), 200, "{path}");
            bytes = r.bytes().await.unwrap().len();
            if round > 0 {
                times.push(t.elapsed());
            }
        }
        times.sort();
        let ms = |d: Duration| format!("{:.0} ms", d.as_secs_f64() * 1000.0);
        println!(
            "| `{path}` | {} | {} | {bytes} |",
            ms(times[times.len() / 2]),
            ms(*times.last().unwrap())
        );
    }
}
