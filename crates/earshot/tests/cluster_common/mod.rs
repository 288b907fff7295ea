//! Helpers of `issue_18_cluster.rs`: the harness's cluster, the posts, the
//! configs, `earshot` runs, counts that wait for replicas, and the
//! comparison of every dashboard with one server.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use earshot_model::{EntityKind, Intent, Interaction, Route, SentimentLabel};
use earshot_sink::clickhouse::Client;
use earshot_tests::process::Daemon;
use earshot_tests::seed::Seed;

/// Posts per test: three rounds, each written in a different state of the cluster.
pub const POSTS: usize = 1_500;
/// The report window's end: every post is published in the 24 h before it.
pub const UNTIL: &str = "2026-11-22T00:00:00Z";

// The tests stop and restart the cluster's servers: one at a time.
pub static CLUSTER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The harness's cluster: its state directory and each server's HTTP URL.
pub struct TestCluster {
    pub dir: PathBuf,
    pub http: [String; 2],
}

impl TestCluster {
    pub fn from_env() -> Option<TestCluster> {
        let dir = PathBuf::from(earshot_tests::server("EARSHOT_TEST_CLUSTER")?);
        let env = std::fs::read_to_string(dir.join("env"))
            .unwrap_or_else(|e| panic!("{}/env: {e}", dir.display()));
        let var = |name: &str| {
            env.lines()
                .find_map(|l| l.strip_prefix(&format!("{name}=")))
                .unwrap_or_else(|| panic!("{name} missing from {}/env", dir.display()))
                .to_string()
        };
        let http = [var("CLUSTER_HTTP_1"), var("CLUSTER_HTTP_2")];
        Some(TestCluster { dir, http })
    }

    /// `cluster.sh stop-server N` or `start-server N` (N = 1 or 2).
    pub fn server(&self, action: &str, n: usize) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/harness/cluster.sh");
        let out = Command::new(script)
            .args([action, &n.to_string()])
            .env("EARSHOT_HARNESS_DIR", self.dir.parent().unwrap())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "cluster.sh {action} {n}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub fn client(&self, n: usize, database: &str) -> Client {
        Client::default()
            .with_url(&self.http[n - 1])
            .with_database(database)
            .with_validation(false)
    }
}

/// Post `n`: brands, sentiment, sources, intents and routes vary with `n`
/// so that every section of the report has figures.
pub fn interaction(n: usize) -> Interaction {
    let at = Utc.with_ymd_and_hms(2026, 11, 21, 0, 0, 0).unwrap()
        + chrono::Duration::seconds((n * 86_000 / POSTS) as i64);
    let mut s = Seed::new(n.to_string(), at);
    s.source = ["hn", "reddit", "rss"][n % 3];
    s.text = Some(format!("post {n}"));
    s.handle = Some(format!("author{}", n % 17));
    s.reach = (n % 50) as u64 * 10;
    s.fetched_after = None;
    s.mentions = vec![(EntityKind::Brand, ["acme", "initech"][n % 2])];
    if n.is_multiple_of(5) {
        s.mentions.push((EntityKind::Competitor, "globex"));
    }
    s.label = [
        SentimentLabel::Negative,
        SentimentLabel::Neutral,
        SentimentLabel::Positive,
        SentimentLabel::Negative,
    ][n % 4];
    (s.intents, s.route) = match n % 7 {
        0 => (vec![Intent::COMPLAINT], Route::SUPPORT),
        1 => (vec![Intent::PURCHASE_INTENT], Route::SALES),
        2 => (vec![Intent::QUESTION], Route::NONE),
        _ => (vec![], Route::NONE),
    };
    s.priority = (n % 4) as u8;
    let mut i = s.build();
    // Every match of this data set is named by rule `r`.
    for m in &mut i.matches {
        m.rule = "r".into();
    }
    i
}

pub fn produce(brokers: &str, topic: &str, range: std::ops::Range<usize>) {
    earshot_tests::kafka::produce(
        brokers,
        topic,
        range.map(|n| {
            let i = interaction(n);
            (i.post.id.clone(), i.to_json(), vec![])
        }),
    );
}

pub fn earshot(config: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_earshot"))
        .arg("--config")
        .arg(config)
        .args(args)
        .env_remove("EARSHOT_CLICKHOUSE_URL")
        .env_remove("EARSHOT_KAFKA_BROKERS")
        .env("EARSHOT_METRICS_ADDR", "off")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "earshot {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A config file for `url`, the scored topic and (on a cluster) `cluster`.
pub fn config(
    dir: &Path,
    name: &str,
    brokers: &str,
    topic: &str,
    url: &str,
    database: &str,
    cluster: &str,
) -> PathBuf {
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(
        &path,
        format!(
            r#"
[transport.kafka]
brokers = "{brokers}"
[transport.topics]
scored = "{topic}"
dead_letter = "{topic}_dlq"
partitions = 3

[sink]
kind = "clickhouse"
group = "{database}"
[sink.batch]
max_rows = 500
max_age_ms = 200
[sink.retry]
initial_backoff_ms = 100
max_backoff_ms = 1000
[sink.clickhouse]
url = "{url}"
database = "{database}"
timeout_s = 20
{cluster}
"#
        ),
    )
    .unwrap();
    path
}

pub async fn count(client: &Client, sql: &str) -> u64 {
    client
        .query(sql)
        .fetch_one::<u64>()
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// Waits until `sql` counts `want` (a server may be catching up), failing
/// early if `sink` exits.
pub async fn wait_count(
    client: &Client,
    sql: &str,
    want: u64,
    what: &str,
    mut sink: Option<&mut Daemon>,
) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let got = client.query(sql).fetch_one::<u64>().await.unwrap_or(0);
        if got == want {
            return;
        }
        let log = || sink.as_ref().map(|d| d.log()).unwrap_or_default();
        assert!(
            Instant::now() < deadline,
            "{what}: {got} of {want} after 120 s; sink log:\n{}",
            log()
        );
        if let Some(d) = sink.as_mut() {
            assert!(
                d.running(),
                "{what}: the sink exited; its log:\n{}",
                d.log()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Everything a test needs besides the cluster: broker, topic, a scratch directory.
pub struct Setup {
    pub brokers: String,
    pub single_url: String,
    pub topic: String,
    pub dir: tempfile::TempDir,
}

/// The cluster, the test's topic and scratch directory, and a config
/// writing to a fresh database `prefix_…` on server 1 with `cluster_keys`.
pub async fn setup(
    prefix: &str,
    cluster_keys: &str,
) -> Option<(TestCluster, Setup, String, PathBuf)> {
    let cluster = TestCluster::from_env()?;
    let brokers = earshot_tests::kafka()?;
    let single_url = earshot_tests::clickhouse()?;
    let topic = earshot_tests::unique_name(prefix);
    earshot_tests::create_named_topic(&brokers, &topic, 3).await;
    earshot_tests::create_named_topic(&brokers, &format!("{topic}_dlq"), 3).await;
    let dir = tempfile::tempdir().unwrap();
    let database = earshot_tests::clickhouse_database(prefix);
    let config = config(
        dir.path(),
        "cluster",
        &brokers,
        &topic,
        &cluster.http[0],
        &database,
        cluster_keys,
    );
    let s = Setup {
        brokers,
        single_url,
        topic,
        dir,
    };
    Some((cluster, s, database, config))
}

impl Setup {
    /// The same posts through `earshot sink` into one server, for the
    /// report to compare with; returns its config.
    pub async fn single_server(&self) -> PathBuf {
        let database = earshot_tests::clickhouse_database("issue18_single");
        let config = config(
            self.dir.path(),
            "single",
            &self.brokers,
            &self.topic,
            &self.single_url,
            &database,
            "",
        );
        earshot(&config, &["migrate"]);
        let mut sink = Daemon::spawn(
            Path::new(env!("CARGO_BIN_EXE_earshot")),
            &config,
            &["sink"],
            self.dir.path(),
            "single-sink",
        );
        let client = Client::default()
            .with_url(&self.single_url)
            .with_database(&database)
            .with_validation(false);
        wait_count(
            &client,
            "SELECT toUInt64(uniqExact(post_id)) FROM interactions",
            POSTS as u64,
            "single server",
            Some(&mut sink),
        )
        .await;
        let (status, _) = sink.terminate(Duration::from_secs(30));
        assert!(status.success(), "{}", sink.log());
        config
    }
}

/// `earshot report` for the day before [`UNTIL`], which holds every post.
pub fn report(config: &Path) -> String {
    earshot(config, &["report", "--since", "24h", "--until", UNTIL])
}

/// A TSV row with each array of arrays (a `groupArray` of per-post values,
/// whose order depends on which server and thread read which part) sorted.
pub fn unordered_groups(line: &str) -> String {
    line.split('\t')
        .map(
            |field| match field.strip_prefix("[[").and_then(|f| f.strip_suffix("]]")) {
                Some(inner) => {
                    let mut items: Vec<&str> = inner.split("],[").collect();
                    items.sort_unstable();
                    format!("[[{}]]", items.join("],["))
                }
                None => field.to_string(),
            },
        )
        .collect::<Vec<_>>()
        .join("\t")
}

/// Every dashboard and alert query (`QUERIES`, `ALERT_QUERIES`), as the
/// sink prepares them for 18.16, answers the same rows through `cluster`'s
/// distributed tables as through one server holding the same posts.
pub async fn dashboards_agree(single: &Path, cluster: &Path) {
    use earshot_sink::clickhouse::{prepare_sql, schema::Features, Param};
    let client = |config: &Path| {
        let text = std::fs::read_to_string(config).unwrap();
        let c: earshot_sink::SinkConfig = toml::from_str::<toml::Table>(&text).unwrap()["sink"]
            .clone()
            .try_into()
            .unwrap();
        earshot_sink::clickhouse::client(&c.clickhouse, true)
    };
    let (single, cluster) = (client(single), client(cluster));
    let until = chrono::DateTime::parse_from_rfc3339(UNTIL)
        .unwrap()
        .timestamp() as u32;
    let params = [
        ("since", Param::U32(until - 86_400)),
        ("until", Param::U32(until)),
        ("brand", Param::Str(String::new())),
        ("k", Param::F64(3.0)),
        ("len", Param::U32(3600)),
        ("negative", Param::U32(1)),
        ("intents", Param::Str("complaint,question".into())),
        ("label", Param::Str("negative".into())),
        ("min_posts", Param::U32(1)),
        ("min_reach", Param::U64(0)),
        ("own", Param::Str("hn:author3".into())),
        ("source", Param::Str(String::new())),
        ("handle", Param::Str(String::new())),
        ("thread", Param::Str("hn:3".into())),
    ];
    let old = Features::from_version("18.16.1");
    let alerts = earshot_sink::clickhouse::ALERT_QUERIES
        .iter()
        .map(|(n, q)| {
            // Alert queries end with a LIMIT their caller fills in.
            let q = q.trim_end();
            (
                *n,
                if q.ends_with("LIMIT") {
                    format!("{q} 50")
                } else {
                    q.to_string()
                },
            )
        });
    let queries = earshot_sink::clickhouse::QUERIES
        .iter()
        .map(|(n, q)| (*n, q.to_string()))
        .chain(alerts);
    let mut answered = 0;
    for (name, text) in queries {
        let sql = prepare_sql(&old, &text, &params).sql;
        let mut rows = Vec::new();
        for c in [&single, &cluster] {
            let bytes = c
                .query_raw(&sql)
                .fetch_bytes("TabSeparated")
                .unwrap()
                .collect()
                .await
                .unwrap_or_else(|e| panic!("{name}: {e}\n{sql}"));
            let mut lines: Vec<String> = String::from_utf8(bytes.to_vec())
                .unwrap()
                .lines()
                .map(unordered_groups)
                .collect();
            lines.sort_unstable();
            rows.push(lines);
        }
        assert_eq!(rows[0], rows[1], "{name} differs on the cluster");
        answered += usize::from(!rows[0].is_empty());
    }
    assert!(answered >= 8, "only {answered} queries had rows");
}

/// A batch of `interactions` at offsets 0, 1, ... of partition 0.
pub fn batch_of(interactions: Vec<Interaction>) -> earshot_sink::Batch {
    let mut b = earshot_sink::Batch::default();
    for (n, i) in interactions.into_iter().enumerate() {
        b.push(earshot_sink::BatchItem {
            raw: i.to_json(),
            interaction: i,
            position: earshot_sink::Position {
                topic: "scored".into(),
                partition: 0,
                offset: n as i64,
            },
        });
    }
    b
}
