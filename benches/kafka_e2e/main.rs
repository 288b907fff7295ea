//! Scripted end-to-end benchmark of `earshot match` on a real broker, run by
//! `benches/scripts/kafka-e2e.sh`.
//!
//! Measures, in one run and on the same broker:
//! 1. the broker's own ceiling: posts produced (Earshot's producer settings)
//!    and consumed back, one hop, no matching;
//! 2. the pipeline: posts produced to the raw topic, consumed, scored and
//!    produced by the `earshot match` daemon, and consumed from the scored
//!    topic: two hops plus matching.
//!
//! Each path runs twice: a burst of `--posts` posts for throughput (first
//! produce to last consume), then `--paced` posts at `--rate` posts/s for
//! latency percentiles (produce call to consume, per post).
//!
//! Usage: earshot-kafka-bench --brokers HOST:PORT --earshot PATH
//!        [--posts 50000] [--paced 3000] [--rate 500] [--partitions 6] [--max-in-flight N]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use earshot_model::Post;
use earshot_tests::process::Daemon;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, Producer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

const TEXTS: &[&str] = &[
    "Acme support is great, they fixed my order in minutes",
    "Still waiting for my Acme refund, this is terrible. Anyone from the refund desk?",
    "acme cloud is down again, dashboards not loading",
    "Thinking about switching from Globex to Acme, any advice?",
    "Nice weather today, going for a walk in the park with the kids and the dog",
    "Initrode shipped the wrong part twice. Never again.",
    "Acme Rocket launch was awesome!!! 🚀",
    "How do I cancel my Globex subscription? The website keeps failing",
];

struct Args {
    brokers: String,
    earshot: PathBuf,
    posts: usize,
    paced: usize,
    rate: f64,
    partitions: i32,
    /// `[match] max_in_flight` of the daemon (default: Earshot's default).
    max_in_flight: Option<usize>,
}

fn parse_args() -> Args {
    let mut a = Args {
        brokers: std::env::var("EARSHOT_TEST_KAFKA").unwrap_or_default(),
        earshot: PathBuf::from("target/release/earshot"),
        posts: 50_000,
        paced: 3_000,
        rate: 500.0,
        partitions: 6,
        max_in_flight: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--brokers" => a.brokers = value,
            "--earshot" => a.earshot = value.into(),
            "--posts" => a.posts = value.parse().expect("--posts"),
            "--paced" => a.paced = value.parse().expect("--paced"),
            "--rate" => a.rate = value.parse().expect("--rate"),
            "--partitions" => a.partitions = value.parse().expect("--partitions"),
            "--max-in-flight" => a.max_in_flight = Some(value.parse().expect("--max-in-flight")),
            _ => panic!("unknown flag {flag}"),
        }
    }
    assert!(
        !a.brokers.is_empty(),
        "--brokers (or EARSHOT_TEST_KAFKA) is required"
    );
    a
}

fn post(run: &str, i: usize) -> (String, Vec<u8>) {
    let p = Post::new(format!("{run}:{i}"), TEXTS[i % TEXTS.len()]);
    (p.id.clone(), p.to_json())
}

/// Receive time of each post index, filled by a reader thread.
struct Reader {
    seen: Arc<Mutex<(Vec<Option<Instant>>, usize)>>,
    /// Payload bytes of the timed posts.
    bytes: Arc<std::sync::atomic::AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Reader {
    /// Reads `topic` from the beginning, timing the `n` posts of run `run` (others are ignored).
    fn start(brokers: &str, topic: &str, partitions: i32, run: &str, n: usize) -> Reader {
        let prefix = format!("{run}:");
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", brokers)
            .set("group.id", earshot_tests::unique_name("bench_reader"))
            .set("enable.auto.commit", "false")
            .set("fetch.wait.max.ms", "10")
            .create()
            .expect("reader");
        let mut tpl = TopicPartitionList::new();
        for p in 0..partitions {
            tpl.add_partition_offset(topic, p, Offset::Beginning)
                .unwrap();
        }
        consumer.assign(&tpl).expect("assign");
        let seen = Arc::new(Mutex::new((vec![None; n], 0)));
        let stop = Arc::new(AtomicBool::new(false));
        let bytes = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let (s, st, b) = (seen.clone(), stop.clone(), bytes.clone());
        let thread = std::thread::spawn(move || {
            while !st.load(Ordering::Relaxed) {
                if let Some(Ok(m)) = consumer.poll(Duration::from_millis(50)) {
                    let now = Instant::now();
                    let i: Option<usize> = m
                        .key()
                        .and_then(|k| std::str::from_utf8(k).ok())
                        .and_then(|k| k.strip_prefix(&prefix)?.parse().ok());
                    if let Some(i) = i {
                        let mut s = s.lock().unwrap();
                        if i < s.0.len() && s.0[i].is_none() {
                            s.0[i] = Some(now);
                            s.1 += 1;
                            b.fetch_add(m.payload_len() as u64, Ordering::Relaxed);
                        }
                    }
                }
            }
        });
        Reader {
            seen,
            bytes,
            stop,
            thread: Some(thread),
        }
    }

    fn wait_all(&self, timeout: Duration) -> Vec<Instant> {
        let deadline = Instant::now() + timeout;
        loop {
            {
                let s = self.seen.lock().unwrap();
                if s.1 == s.0.len() {
                    return s.0.iter().map(|t| t.unwrap()).collect();
                }
                assert!(
                    Instant::now() < deadline,
                    "only {} of {} posts arrived within {timeout:?}",
                    s.1,
                    s.0.len()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Earshot's producer settings (see crates/transport/src/kafka/producer.rs).
/// Produces `n` posts of run `run` to `topic`, paced at `rate` posts/s when
/// given; returns each post's send time and the time the last was acknowledged.
fn produce(
    brokers: &str,
    topic: &str,
    run: &str,
    n: usize,
    rate: Option<f64>,
) -> (Vec<Instant>, Instant) {
    earshot_tests::kafka::produce_paced(brokers, topic, n, rate, |i| post(run, i))
}

struct Figures {
    posts_per_s: f64,
    produce_per_s: f64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    /// Mean payload size of the output records.
    output_bytes: f64,
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * q).round() as usize]
}

fn latencies(sent: &[Instant], got: &[Instant]) -> Vec<f64> {
    let mut l: Vec<f64> = sent
        .iter()
        .zip(got)
        .map(|(s, g)| g.saturating_duration_since(*s).as_secs_f64() * 1e3)
        .collect();
    l.sort_by(|a, b| a.total_cmp(b));
    l
}

/// One path: a burst for throughput, then a paced run for latency.
fn measure(a: &Args, name: &str, input: &str, output: &str, wait: Duration) -> Figures {
    let burst_run = earshot_tests::unique_name(&format!("{name}_burst"));
    let reader = Reader::start(&a.brokers, output, a.partitions, &burst_run, a.posts);
    let (sent, acked) = produce(&a.brokers, input, &burst_run, a.posts, None);
    let got = reader.wait_all(wait);
    let output_bytes = reader.bytes.load(Ordering::Relaxed) as f64 / a.posts as f64;
    drop(reader);
    let first = sent[0];
    let last = *got.iter().max().unwrap();
    let posts_per_s = a.posts as f64 / last.duration_since(first).as_secs_f64();
    let produce_per_s = a.posts as f64 / acked.duration_since(first).as_secs_f64();
    eprintln!("[bench] {name}: burst of {} done", a.posts);

    let paced_run = earshot_tests::unique_name(&format!("{name}_paced"));
    let reader = Reader::start(&a.brokers, output, a.partitions, &paced_run, a.paced);
    let (sent, _) = produce(&a.brokers, input, &paced_run, a.paced, Some(a.rate));
    let got = reader.wait_all(wait);
    let l = latencies(&sent, &got);
    eprintln!(
        "[bench] {name}: paced run of {} at {}/s done",
        a.paced, a.rate
    );
    Figures {
        posts_per_s,
        produce_per_s,
        p50_ms: percentile(&l, 0.50),
        p99_ms: percentile(&l, 0.99),
        max_ms: *l.last().unwrap(),
        output_bytes,
    }
}

/// A bare two-hop relay (consume, produce the record padded to `pad_to`
/// bytes, the size of Earshot's scored records), the broker's ceiling for a
/// pipeline with one stage: Earshot's match stage minus decoding, matching
/// and acknowledgement tracking.
struct Relay {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Relay {
    fn start(brokers: &str, input: &str, output: &str, pad_to: usize) -> Relay {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", brokers)
            .set("group.id", earshot_tests::unique_name("bench_relay"))
            .set("auto.offset.reset", "earliest")
            .set("session.timeout.ms", "6000")
            .create()
            .expect("relay consumer");
        consumer.subscribe(&[input]).expect("subscribe");
        let deadline = Instant::now() + Duration::from_secs(60);
        while consumer.assignment().map_or(0, |a| a.count()) == 0 {
            assert!(Instant::now() < deadline, "relay did not join its group");
            consumer.poll(Duration::from_millis(50));
        }
        let p = earshot_tests::kafka::producer(brokers);
        let output = output.to_string();
        let stop = Arc::new(AtomicBool::new(false));
        let st = stop.clone();
        let thread = std::thread::spawn(move || {
            while !st.load(Ordering::Relaxed) {
                if let Some(Ok(m)) = consumer.poll(Duration::from_millis(50)) {
                    let mut payload = m.payload().unwrap_or_default().to_vec();
                    payload.resize(payload.len().max(pad_to), b' ');
                    let mut record = BaseRecord::to(&output)
                        .key(m.key().unwrap_or_default())
                        .payload(&payload);
                    if let Some(h) = m.headers() {
                        record = record.headers(h.detach());
                    }
                    while let Err((e, r)) = p.send(record) {
                        assert!(
                            matches!(
                                e,
                                KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull)
                            ),
                            "relay: {e}"
                        );
                        record = r;
                        std::thread::sleep(Duration::from_millis(1));
                    }
                }
            }
            p.flush(Duration::from_secs(30)).expect("relay flush");
        });
        Relay {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn create_topics(brokers: &str, names: &[&str], partitions: i32) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for n in names {
        rt.block_on(earshot_tests::create_named_topic(brokers, n, partitions));
    }
}

fn main() {
    let a = parse_args();
    let wait = Duration::from_secs(600);
    let dir = std::env::temp_dir().join(earshot_tests::unique_name("earshot_bench"));
    std::fs::create_dir_all(&dir).unwrap();

    // 1. The broker's ceiling: one hop, no matching.
    let ceiling_topic = earshot_tests::unique_name("bench_ceiling");
    create_topics(&a.brokers, &[&ceiling_topic], a.partitions);
    let ceiling = measure(&a, "ceiling", &ceiling_topic, &ceiling_topic, wait);

    // 2. The pipeline through a running `earshot match`.
    let raw = earshot_tests::unique_name("bench_raw");
    let scored = earshot_tests::unique_name("bench_scored");
    let dlq = earshot_tests::unique_name("bench_dlq");
    create_topics(&a.brokers, &[&raw, &scored, &dlq], a.partitions);
    let config = dir.join("earshot.toml");
    std::fs::write(
        &config,
        format!(
            "[transport.kafka]\nbrokers = \"{}\"\n\n[transport.topics]\nraw = \"{raw}\"\nscored = \"{scored}\"\n\
             dead_letter = \"{dlq}\"\npartitions = {}\n\n[match]\ngroup = \"{}\"\n",
            a.brokers,
            a.partitions,
            earshot_tests::unique_name("bench_match")
        ) + &a.max_in_flight.map(|n| format!("max_in_flight = {n}\n")).unwrap_or_default(),
    )
    .unwrap();
    let mut daemon = Daemon::spawn(&a.earshot, &config, &["match"], &dir, "match");
    daemon.wait_for_assignment(Duration::from_secs(60));
    let cpu_before = cpu_seconds(daemon.pid());
    let pipeline = measure(&a, "pipeline", &raw, &scored, wait);
    let cpu_used = cpu_seconds(daemon.pid())
        .zip(cpu_before)
        .map(|(after, before)| after - before);
    let (status, took) = daemon.terminate(Duration::from_secs(30));
    assert!(
        status.success(),
        "earshot match exited with {status}; log in {}",
        daemon.log_path().display()
    );
    let stats = final_stats(daemon.log_path());

    // 3. The broker's two-hop ceiling: a bare relay writing records of the
    //    scored records' size, no matching.
    let (relay_in, relay_out) = (
        earshot_tests::unique_name("bench_relay_in"),
        earshot_tests::unique_name("bench_relay_out"),
    );
    create_topics(&a.brokers, &[&relay_in, &relay_out], a.partitions);
    let relay = Relay::start(
        &a.brokers,
        &relay_in,
        &relay_out,
        pipeline.output_bytes.round() as usize,
    );
    let two_hops = measure(&a, "relay", &relay_in, &relay_out, wait);
    drop(relay);

    println!();
    println!(
        "Earshot Kafka end-to-end benchmark: {} posts burst + {} paced at {}/s, {} partitions, broker {}",
        a.posts, a.paced, a.rate, a.partitions, a.brokers
    );
    println!(
        "{:<44} {:>10} {:>12} {:>9} {:>9} {:>9}",
        "path", "posts/s", "produce/s", "p50 ms", "p99 ms", "max ms"
    );
    for (name, f) in [
        ("broker ceiling, one hop (produce -> consume)", &ceiling),
        ("broker ceiling, two hops (bare relay)", &two_hops),
        ("earshot match (raw -> match -> scored)", &pipeline),
    ] {
        println!(
            "{:<44} {:>10.0} {:>12.0} {:>9.1} {:>9.1} {:>9.1}",
            name, f.posts_per_s, f.produce_per_s, f.p50_ms, f.p99_ms, f.max_ms
        );
    }
    println!(
        "earshot match throughput: {:.0}% of the one-hop ceiling, {:.0}% of the two-hop ceiling; SIGTERM -> exit 0 in {:.2}s",
        pipeline.posts_per_s * 100.0 / ceiling.posts_per_s,
        pipeline.posts_per_s * 100.0 / two_hops.posts_per_s,
        took.as_secs_f64(),
    );
    println!(
        "earshot match final stats: {}",
        stats.unwrap_or_else(|| "(not found in its log)".into())
    );
    if let Some(cpu) = cpu_used {
        let n = (a.posts + a.paced) as f64;
        println!(
            "earshot match CPU: {cpu:.1} s for {n} posts ({:.0} us per post, decode + match + encode + transport)",
            cpu * 1e6 / n
        );
    }
    println!(
        "mean record size: raw {:.0} bytes, scored {:.0} bytes (the two-hop relay pads to the scored size)",
        ceiling.output_bytes, pipeline.output_bytes
    );
    if std::env::var_os("EARSHOT_BENCH_KEEP").is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// User + system CPU time of a process so far (Linux; `None` elsewhere).
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name; utime and stime are 14 and 15.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0) // USER_HZ is 100 on Linux
}

/// The daemon's final stats line, for the record.
fn final_stats(log: &Path) -> Option<String> {
    let log = std::fs::read_to_string(log).ok()?;
    let line = log
        .lines()
        .rev()
        .find(|l| l.contains("match stage stopped"))?;
    Some(line.split("stats=").nth(1)?.trim().to_string())
}
