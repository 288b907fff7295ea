//! Sink throughput against a real ClickHouse (`EARSHOT_TEST_CLICKHOUSE`, or
//! `EARSHOT_BENCH_CLICKHOUSE`): scripted runs printing figures.
//!
//! 1. insert: `ClickHouseSink::write` of 50k-row batches (interactions + mentions
//!    + the per-minute materialized view), rows/s and MB/s of scored JSON;
//! 2. chain: the whole sink stage over the in-memory bus (consume, decode,
//!    batch, insert, acknowledge) on a backlog, posts/s;
//! 3. latency: a steady 20k posts/s stream through the chain; produce → visible
//!    in ClickHouse (polled every 20 ms), p50 / p99.
//!
//! `cargo bench -p earshot-benches --bench sink_insert` (env `SINK_BENCH_ROWS`, default 500000).
//! Knobs: `SINK_BENCH_STEPS` (default `insert,chain,latency`),
//! `SINK_BENCH_CLUSTER` (a cluster name: the schema goes on that cluster, as
//! `[sink.clickhouse] cluster`), `SINK_BENCH_REPLICA_PATH`, and
//! `SINK_BENCH_SERVER_PIDS` (the ClickHouse servers' PIDs, comma-separated:
//! their CPU time is reported beside the bench's own).

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use earshot_model::Interaction;
use earshot_sink::clickhouse::{client, ClickHouseSink, Client};
use earshot_sink::{Batch, BatchItem, Position, RetryPolicy, Sink, SinkConfig, SinkKind};
use earshot_transport::{Bus, MemoryBus, Record, TopicsConfig};
use tokio_util::sync::CancellationToken;

fn interaction(n: usize) -> Interaction {
    let at = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap()
        + chrono::Duration::seconds((n % 1_500_000) as i64);
    let mut s = earshot_benches::stored_seed(n, 40, at);
    s.fetched_after = Some(chrono::Duration::seconds(3));
    s.scored_after = chrono::Duration::seconds(5);
    s.build()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// CPU seconds (user + system) used so far by process `pid` ("self" for this one).
fn cpu_secs(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces): utime is the 12th, stime the 13th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|v| v.parse().ok())
        .collect();
    f.iter().sum::<f64>() / 100.0
}

/// CPU seconds of this process and of the servers in `SINK_BENCH_SERVER_PIDS`.
fn cpu_now() -> (f64, f64) {
    let servers = std::env::var("SINK_BENCH_SERVER_PIDS").unwrap_or_default();
    let server: f64 = servers
        .split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|p| cpu_secs(p.trim()))
        .sum();
    (cpu_secs("self"), server)
}

/// "client X posts per CPU second, servers Y µs per post" over `rows` since `start`.
fn cpu_report(start: (f64, f64), rows: usize) -> String {
    let (client, server) = cpu_now();
    let (client, server) = (client - start.0, server - start.1);
    format!(
        "CPU: bench {client:.2} s = {:.0} posts per CPU second; servers {server:.2} s = {:.1} µs per post",
        rows as f64 / client.max(0.01),
        server * 1e6 / rows as f64
    )
}

async fn count(c: &Client) -> u64 {
    c.query("SELECT toUInt64(count()) FROM interactions")
        .fetch_one()
        .await
        .unwrap_or(0)
}

#[tokio::main]
async fn main() {
    let Ok(url) = std::env::var("EARSHOT_BENCH_CLICKHOUSE")
        .or_else(|_| std::env::var("EARSHOT_TEST_CLICKHOUSE"))
    else {
        eprintln!("SKIPPED: set EARSHOT_TEST_CLICKHOUSE (or EARSHOT_BENCH_CLICKHOUSE) to a ClickHouse HTTP endpoint");
        return;
    };
    let rows: usize = std::env::var("SINK_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500_000);
    let mut config = SinkConfig {
        kind: SinkKind::Clickhouse,
        ..SinkConfig::default()
    };
    config.clickhouse.url = url.clone();
    config.clickhouse.cluster = std::env::var("SINK_BENCH_CLUSTER").ok();
    if let Ok(path) = std::env::var("SINK_BENCH_REPLICA_PATH") {
        config.clickhouse.replica_path = path;
    }
    let steps = std::env::var("SINK_BENCH_STEPS").unwrap_or("insert,chain,latency".into());
    let step = |name: &str| steps.split(',').any(|s| s.trim() == name);
    let fresh = |config: &mut SinkConfig, tag: &str| {
        config.clickhouse.database = format!("earshot_bench_{tag}_{}", std::process::id());
    };

    // 1. Direct inserts.
    if step("insert") {
        fresh(&mut config, "insert");
        earshot_sink::migrate(&config).await.unwrap();
        let mut sink = ClickHouseSink::connect(
            &config.clickhouse,
            RetryPolicy::new(&config.retry, CancellationToken::new()),
        )
        .await
        .unwrap();
        let batch_rows = config.batch.max_rows;
        let batches: Vec<Batch> = (0..rows.div_ceil(batch_rows))
            .map(|b| {
                let mut batch = Batch::default();
                for n in b * batch_rows..((b + 1) * batch_rows).min(rows) {
                    let i = interaction(n);
                    batch.push(BatchItem {
                        raw: i.to_json(),
                        interaction: i,
                        position: Position {
                            topic: "bench".into(),
                            partition: 0,
                            offset: n as i64,
                        },
                    });
                }
                batch
            })
            .collect();
        let bytes: usize = batches.iter().map(|b| b.bytes).sum();
        let cpu = cpu_now();
        let started = Instant::now();
        for b in &batches {
            sink.write(b).await.unwrap();
        }
        let secs = started.elapsed().as_secs_f64();
        println!(
        "insert: {rows} rows ({} mention rows) in {secs:.2} s = {:.0} rows/s, {:.1} MB/s of scored JSON ({:.0} B/row), {batch_rows}-row batches",
        rows * 2,
        rows as f64 / secs,
        bytes as f64 / secs / 1e6,
        bytes as f64 / rows as f64
    );
        println!("insert {}", cpu_report(cpu, rows));
        drop(batches);
    }

    // 2. The chain on a backlog.
    if step("chain") {
        fresh(&mut config, "chain");
        earshot_sink::migrate(&config).await.unwrap();
        let c = client(&config.clickhouse, true);
        let bus = MemoryBus::new();
        let topics = TopicsConfig::default();
        bus.ensure_topics(&topics.specs()).await.unwrap();
        for n in 0..rows {
            let i = interaction(n);
            bus.producer()
                .send(&topics.scored, Record::new(i.post.id.clone(), i.to_json()))
                .await
                .unwrap();
        }
        let shutdown = CancellationToken::new();
        let cpu = cpu_now();
        let started = Instant::now();
        let task = earshot_sink::spawn(
            Arc::new(bus.clone()),
            topics.clone(),
            config.clone(),
            shutdown.clone(),
        );
        while count(&c).await < rows as u64 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let secs = started.elapsed().as_secs_f64();
        shutdown.cancel();
        let stats = task.await.unwrap().unwrap();
        println!("chain (memory bus → decode → batch → ClickHouse → ack): {rows} posts in {secs:.2} s = {:.0} posts/s ({} batches)", rows as f64 / secs, stats.batches);
        println!("chain {}", cpu_report(cpu, rows));
    }

    // 3. Latency at a steady rate.
    let topics = TopicsConfig::default();
    if step("latency") {
        fresh(&mut config, "latency");
        earshot_sink::migrate(&config).await.unwrap();
        let c = client(&config.clickhouse, true);
        let bus = MemoryBus::new();
        bus.ensure_topics(&topics.specs()).await.unwrap();
        let shutdown = CancellationToken::new();
        let task = earshot_sink::spawn(
            Arc::new(bus.clone()),
            topics.clone(),
            config.clone(),
            shutdown.clone(),
        );
        let rate = 20_000usize;
        let total = rate * 10;
        let origin = Instant::now();
        let producer = bus.producer();
        let scored = topics.scored.clone();
        let produce = tokio::spawn(async move {
            let mut sent_at = Vec::with_capacity(total);
            for n in 0..total {
                let due = origin + Duration::from_secs_f64(n as f64 / rate as f64);
                if due > Instant::now() {
                    tokio::time::sleep_until(due.into()).await;
                }
                let i = interaction(n);
                producer
                    .send(&scored, Record::new(i.post.id.clone(), i.to_json()))
                    .await
                    .unwrap();
                sent_at.push(Instant::now());
            }
            sent_at
        });
        // Visibility by count: the k-th post is taken as visible once k rows are
        // (posts are produced in order; partitions interleave within a batch).
        let mut visible_at: Vec<(u64, Instant)> = Vec::new();
        loop {
            let n = count(&c).await;
            visible_at.push((n, Instant::now()));
            if n >= total as u64 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let sent_at = produce.await.unwrap();
        shutdown.cancel();
        task.await.unwrap().unwrap();
        let mut lat: Vec<f64> = Vec::with_capacity(total);
        let mut j = 0;
        for (k, sent) in sent_at.iter().enumerate() {
            while visible_at[j].0 < k as u64 + 1 {
                j += 1;
            }
            lat.push(
                visible_at[j]
                    .1
                    .saturating_duration_since(*sent)
                    .as_secs_f64()
                    * 1000.0,
            );
        }
        lat.sort_by(f64::total_cmp);
        println!(
        "latency at {rate} posts/s for 10 s (produce → visible in ClickHouse, batch age {} ms): p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        config.batch.max_age_ms,
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        lat.last().copied().unwrap_or(0.0)
    );
    }
    let on_cluster = config
        .clickhouse
        .cluster
        .as_ref()
        .map(|c| format!(" ON CLUSTER {c}"))
        .unwrap_or_default();
    for tag in ["insert", "chain", "latency"] {
        let db = format!("earshot_bench_{tag}_{}", std::process::id());
        let _ = client(&config.clickhouse, false)
            .query(&format!("DROP DATABASE IF EXISTS {db}{on_cluster}"))
            .execute()
            .await;
    }
}
