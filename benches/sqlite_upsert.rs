//! The embedded store's write path alone (issue 11): `SqliteStore::upsert`
//! of real interactions into a fresh database, in batches the sink's group
//! commit makes, printing the CPU per row. For instructions per row, run it
//! under `valgrind --tool=callgrind --toggle-collect='*SqliteStore*upsert*'`
//! (or cachegrind at two sizes and take the difference).
//!
//! `cargo run --release -p earshot-benches --bin earshot-sqlite-upsert -- [INTERACTIONS.jsonl]`
//!
//! Without a file, `rows` seeded Reddit posts (`earshot_benches::stored_seed`:
//! a brand and a competitor each, every fourth routed) are written. With
//! one (e.g. the output of `earshot score`), its interactions are. Env:
//! `SQLITE_BENCH_ROWS` (default 20000; a file is cycled with fresh ids to
//! reach it), `SQLITE_BENCH_BATCH` (default 500), `SQLITE_BENCH_DB` (default
//! a temporary file).

use std::time::Instant;

use chrono::{TimeZone, Utc};
use earshot_model::Interaction;
use earshot_sink::sqlite::SqliteStore;
use earshot_sink::{Batch, BatchItem, Position};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// CPU seconds (user + system) of this process so far.
fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    rest.split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|v| v.parse::<f64>().ok())
        .sum::<f64>()
        / 100.0
}

fn main() {
    let rows = env("SQLITE_BENCH_ROWS", 20_000);
    let batch_size = env("SQLITE_BENCH_BATCH", 500).max(1);
    let input: Vec<Interaction> = match std::env::args().nth(1) {
        Some(path) => {
            let text = std::fs::read_to_string(&path).expect("reading the interactions");
            let read: Vec<Interaction> = text
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| Interaction::from_json(l.as_bytes()).expect("an interaction a line"))
                .collect();
            assert!(!read.is_empty(), "{path} holds no interactions");
            (0..rows)
                .map(|n| {
                    let mut i = read[n % read.len()].clone();
                    if n >= read.len() {
                        i.post.id = format!("{}#{}", i.post.id, n / read.len());
                    }
                    i
                })
                .collect()
        }
        None => {
            let at = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
            (0..rows)
                .map(|n| {
                    let mut s = earshot_benches::stored_seed(
                        n,
                        20,
                        at + chrono::Duration::seconds(n as i64 * 7),
                    );
                    s.scored_after = chrono::Duration::seconds(5);
                    s.build()
                })
                .collect()
        }
    };
    let batches: Vec<Batch> = input
        .chunks(batch_size)
        .enumerate()
        .map(|(b, chunk)| {
            let mut batch = Batch::default();
            for (k, i) in chunk.iter().enumerate() {
                batch.push(BatchItem {
                    raw: i.to_json(),
                    interaction: i.clone(),
                    position: Position {
                        topic: "scored".into(),
                        partition: 0,
                        offset: (b * batch_size + k) as i64,
                    },
                });
            }
            batch
        })
        .collect();

    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = std::env::var("SQLITE_BENCH_DB")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| dir.path().join("bench.db"));
    let store = SqliteStore::open(&path).expect("opening the store");
    store.migrate().expect("migrating");

    let (wall, cpu) = (Instant::now(), cpu_secs());
    for batch in &batches {
        store.upsert(batch).expect("upsert");
    }
    let (wall, cpu) = (wall.elapsed().as_secs_f64(), cpu_secs() - cpu);
    let stored: i64 = store
        .with_connection(|c| c.query_row("SELECT COUNT(*) FROM interactions", [], |r| r.get(0)))
        .expect("counting");
    assert_eq!(stored as usize, rows, "every row stored");
    println!(
        "rows={rows} batch={batch_size}: {:.2} µs CPU a row, {:.2} s wall ({:.0} rows/s)",
        cpu * 1e6 / rows as f64,
        wall,
        rows as f64 / wall
    );
}
