//! End-to-end benchmark Kafka -> `earshot match` -> `earshot sink` ->
//! ClickHouse, against a bare consumer that inserts the raw topic unmatched
//! (the baseline a user could pick instead), in one run on the same servers.
//! Run by `benches/e2e/run.sh`, which starts the servers and generates posts.
//!
//! Per path: a burst of `--posts` posts for throughput (first produce until a
//! deduplicated count shows all of them in ClickHouse), then `--paced` posts
//! at `--rate` posts/s for produce -> visible latency percentiles (send call
//! until the first poll, every 50 ms, that returns the post).
//!
//! Usage: earshot-e2e-bench --brokers HOST:PORT --clickhouse URL --earshot PATH
//!        --posts-file FILE [--posts 100000] [--paced 2000] [--rate 500] [--partitions 3]

mod baseline;
mod kafka_engine;
mod posts;
mod visible;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use clickhouse::Client;
use earshot_tests::process::Daemon;
use posts::RawPost;
use tokio_util::sync::CancellationToken;

const TAG: &str = "paced:";
const WAIT: Duration = Duration::from_secs(900);

struct Args {
    brokers: String,
    clickhouse: String,
    earshot: PathBuf,
    posts_file: String,
    posts: usize,
    paced: usize,
    rate: f64,
    partitions: i32,
}

fn parse_args() -> Args {
    let mut a = Args {
        brokers: std::env::var("EARSHOT_TEST_KAFKA").unwrap_or_default(),
        clickhouse: std::env::var("EARSHOT_TEST_CLICKHOUSE").unwrap_or_default(),
        earshot: PathBuf::from("target/release/earshot"),
        posts_file: String::new(),
        posts: 100_000,
        paced: 2_000,
        rate: 500.0,
        partitions: 3,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--brokers" => a.brokers = value,
            "--clickhouse" => a.clickhouse = value,
            "--earshot" => a.earshot = value.into(),
            "--posts-file" => a.posts_file = value,
            "--posts" => a.posts = value.parse().expect("--posts"),
            "--paced" => a.paced = value.parse().expect("--paced"),
            "--rate" => a.rate = value.parse().expect("--rate"),
            "--partitions" => a.partitions = value.parse().expect("--partitions"),
            _ => panic!("unknown flag {flag}"),
        }
    }
    assert!(!a.brokers.is_empty(), "--brokers (or EARSHOT_TEST_KAFKA)");
    assert!(
        !a.clickhouse.is_empty(),
        "--clickhouse (or EARSHOT_TEST_CLICKHOUSE)"
    );
    assert!(!a.posts_file.is_empty(), "--posts-file");
    a
}

struct Figures {
    posts_per_s: f64,
    produce_per_s: f64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * q).round() as usize]
}

/// The burst then the paced run into `table`, read through `client`.
async fn measure(a: &Args, name: &str, topic: &str, client: &Client, table: &str) -> Figures {
    let all = posts::load(&a.posts_file, a.posts, TAG);
    assert!(
        all.len() >= a.posts + a.paced,
        "{} holds {} posts; {} needed",
        a.posts_file,
        all.len(),
        a.posts + a.paced
    );
    let (burst, rest) = all.split_at(a.posts);
    let paced: Vec<RawPost> = rest
        .iter()
        .take(a.paced)
        .map(|p| RawPost {
            id: p.id.clone(),
            json: p.json.clone(),
        })
        .collect();
    let burst: Vec<RawPost> = burst
        .iter()
        .map(|p| RawPost {
            id: p.id.clone(),
            json: p.json.clone(),
        })
        .collect();

    let (brokers, t) = (a.brokers.clone(), topic.to_string());
    let producing = tokio::task::spawn_blocking(move || posts::produce(&brokers, &t, &burst, None));
    let visible = visible::all_visible(
        client,
        table,
        a.posts as u64,
        Duration::from_millis(100),
        WAIT,
    )
    .await;
    let (sent, acked) = producing.await.unwrap();
    let first = sent[0];
    eprintln!("[e2e] {name}: burst of {} visible", a.posts);

    let ids: Vec<String> = paced.iter().map(|p| p.id.clone()).collect();
    let (brokers, t, rate) = (a.brokers.clone(), topic.to_string(), a.rate);
    let producing =
        tokio::task::spawn_blocking(move || posts::produce(&brokers, &t, &paced, Some(rate)));
    let seen =
        visible::each_visible(client, table, TAG, &ids, Duration::from_millis(50), WAIT).await;
    let (paced_sent, _) = producing.await.unwrap();
    let mut l: Vec<f64> = paced_sent
        .iter()
        .zip(&seen)
        .map(|(s, v)| v.saturating_duration_since(*s).as_secs_f64() * 1e3)
        .collect();
    l.sort_by(|x, y| x.total_cmp(y));
    eprintln!(
        "[e2e] {name}: paced run of {} at {}/s visible",
        a.paced, a.rate
    );
    Figures {
        posts_per_s: a.posts as f64 / visible.duration_since(first).as_secs_f64(),
        produce_per_s: a.posts as f64 / acked.duration_since(first).as_secs_f64(),
        p50_ms: percentile(&l, 0.50),
        p99_ms: percentile(&l, 0.99),
        max_ms: *l.last().unwrap(),
    }
}

async fn create_topics(brokers: &str, names: &[&str], partitions: i32) {
    for n in names {
        earshot_tests::create_named_topic(brokers, n, partitions).await;
    }
}

/// The last line of a daemon's log containing `what`, for the record.
fn last_line(log: &Path, what: &str) -> String {
    std::fs::read_to_string(log)
        .ok()
        .and_then(|l| l.lines().rev().find(|l| l.contains(what)).map(String::from))
        .unwrap_or_else(|| format!("(no `{what}` line in {})", log.display()))
}

/// Earshot: raw -> `earshot match` -> scored -> `earshot sink` -> ClickHouse.
async fn earshot_path(a: &Args, dir: &Path) -> (Figures, String) {
    let raw = earshot_tests::unique_name("e2e_raw");
    let scored = earshot_tests::unique_name("e2e_scored");
    let dlq = earshot_tests::unique_name("e2e_dlq");
    create_topics(&a.brokers, &[&raw, &scored, &dlq], a.partitions).await;
    let database = earshot_tests::unique_name("earshot_e2e");
    let config = dir.join("earshot.toml");
    std::fs::write(
        &config,
        format!(
            "[transport.kafka]\nbrokers = \"{}\"\n\n[transport.topics]\nraw = \"{raw}\"\nscored = \"{scored}\"\n\
             dead_letter = \"{dlq}\"\npartitions = {}\n\n[match]\ngroup = \"{}\"\n\n\
             [sink]\nkind = \"clickhouse\"\ngroup = \"{}\"\n\n[sink.clickhouse]\nurl = \"{}\"\ndatabase = \"{database}\"\n",
            a.brokers,
            a.partitions,
            earshot_tests::unique_name("e2e_match"),
            earshot_tests::unique_name("e2e_sink"),
            a.clickhouse,
        ),
    )
    .unwrap();
    let migrate = Command::new(&a.earshot)
        .arg("--config")
        .arg(&config)
        .arg("migrate")
        .status()
        .expect("earshot migrate");
    assert!(migrate.success(), "earshot migrate: {migrate}");
    let mut matcher = Daemon::spawn(&a.earshot, &config, &["match"], dir, "match");
    let mut sink = Daemon::spawn(&a.earshot, &config, &["sink"], dir, "sink");
    matcher.wait_for_assignment(Duration::from_secs(60));
    sink.wait_for_assignment(Duration::from_secs(60));
    let client = Client::default()
        .with_url(&a.clickhouse)
        .with_database(&database)
        .with_validation(false);
    let f = measure(a, "earshot", &raw, &client, "interactions").await;
    let mut stats = Vec::new();
    for (d, stopped) in [
        (&mut matcher, "match stage stopped"),
        (&mut sink, "sink stopped"),
    ] {
        let (status, took) = d.terminate(Duration::from_secs(60));
        assert!(status.success(), "exit {status}: {}", d.log());
        stats.push(format!(
            "SIGTERM -> exit in {:.1}s; {}",
            took.as_secs_f64(),
            last_line(d.log_path(), stopped)
        ));
    }
    (f, stats.join("\n"))
}

/// The bare consumer: raw -> plain ClickHouse table, no matching.
async fn baseline_path(a: &Args) -> Figures {
    let raw = earshot_tests::unique_name("e2e_bare_raw");
    create_topics(&a.brokers, &[&raw], a.partitions).await;
    let database = earshot_tests::unique_name("bare_e2e");
    let admin = Client::default()
        .with_url(&a.clickhouse)
        .with_validation(false);
    admin
        .query(&format!("CREATE DATABASE {database}"))
        .execute()
        .await
        .unwrap();
    let client = admin.clone().with_database(&database);
    client.query(baseline::TABLE_DDL).execute().await.unwrap();
    let group = earshot_tests::unique_name("e2e_bare");
    let stop = CancellationToken::new();
    let task = tokio::spawn(baseline::run(
        a.brokers.clone(),
        raw.clone(),
        group,
        a.partitions,
        client.clone(),
        stop.clone(),
    ));
    let f = measure(a, "bare consumer", &raw, &client, "raw_posts").await;
    stop.cancel();
    task.await.unwrap();
    f
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let a = parse_args();
    let dir = std::env::temp_dir().join(earshot_tests::unique_name("earshot_e2e"));
    std::fs::create_dir_all(&dir).unwrap();
    let load = |when: &str| {
        let l = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
        eprintln!("[e2e] load average {when}: {}", l.trim());
        l.split_whitespace().next().unwrap_or("?").to_string()
    };
    let load_before = load("before");
    let (earshot, stats) = earshot_path(&a, &dir).await;
    let bare = baseline_path(&a).await;
    // ClickHouse's own Kafka engine on the same broker, with a smaller sample:
    // the question is first whether it can read from it at all.
    let sample: Vec<RawPost> = posts::load(&a.posts_file, usize::MAX, TAG)
        .into_iter()
        .take(a.posts.min(20_000))
        .collect();
    let sample_n = sample.len();
    let engine = kafka_engine::try_engine(
        &a.brokers,
        &a.clickhouse,
        a.partitions,
        sample,
        Duration::from_secs(60),
    )
    .await;
    let load_after = load("after");

    println!();
    println!(
        "Earshot end-to-end benchmark (Kafka -> match -> ClickHouse): {} posts burst + {} paced at {}/s, \
         {} partitions, broker {}, ClickHouse {}; 1-min load average {load_before} before, {load_after} after",
        a.posts, a.paced, a.rate, a.partitions, a.brokers, a.clickhouse
    );
    println!(
        "{:<52} {:>9} {:>10} {:>8} {:>8} {:>8}",
        "path", "posts/s", "produce/s", "p50 ms", "p99 ms", "max ms"
    );
    for (name, f) in [
        (
            "earshot match + earshot sink (raw -> interactions)",
            &earshot,
        ),
        ("bare consumer, unmatched (raw -> raw_posts)", &bare),
    ] {
        println!(
            "{:<52} {:>9.0} {:>10.0} {:>8.0} {:>8.0} {:>8.0}",
            name, f.posts_per_s, f.produce_per_s, f.p50_ms, f.p99_ms, f.max_ms
        );
    }
    println!(
        "earshot throughput: {:.0}% of the bare consumer's; latency resolution: one 50 ms poll (visibility time is an upper bound)",
        earshot.posts_per_s * 100.0 / bare.posts_per_s
    );
    match engine {
        kafka_engine::Outcome::Ingested(rate) => println!(
            "ClickHouse Kafka engine (raw -> Kafka table -> MV -> MergeTree, unmatched): {sample_n} posts, {rate:.0} posts/s"
        ),
        kafka_engine::Outcome::Failed(why) => println!(
            "ClickHouse Kafka engine (raw -> Kafka table -> MV -> MergeTree, unmatched): FAILED on {sample_n} posts: {why}"
        ),
    }
    println!("{stats}");
    if std::env::var_os("EARSHOT_BENCH_KEEP").is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
}
