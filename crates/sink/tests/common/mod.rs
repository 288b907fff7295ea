//! Shared helpers for the sink's integration tests.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use earshot_model::{EntityKind, Interaction};
use earshot_sink::{SinkConfig, SinkKind};

/// A sink config for a fresh, uniquely named database on `url`.
pub fn clickhouse_config(url: &str) -> SinkConfig {
    let mut config = SinkConfig {
        kind: SinkKind::Clickhouse,
        ..SinkConfig::default()
    };
    config.clickhouse.url = url.to_string();
    config.clickhouse.database = earshot_tests::unique_name("sink");
    config.clickhouse.timeout_s = 10;
    config.retry.initial_backoff_ms = 50;
    config.retry.max_backoff_ms = 1_000;
    config
}

/// A fresh, migrated database on `url` (see [`clickhouse_config`]) and a
/// sink writing to it.
pub async fn migrated_clickhouse(
    url: &str,
) -> (SinkConfig, earshot_sink::clickhouse::ClickHouseSink) {
    let config = clickhouse_config(url);
    earshot_sink::migrate(&config).await.unwrap();
    let retry =
        earshot_sink::RetryPolicy::new(&config.retry, tokio_util::sync::CancellationToken::new());
    let sink = earshot_sink::clickhouse::ClickHouseSink::connect(&config.clickhouse, retry)
        .await
        .unwrap();
    (config, sink)
}

/// A client on the config's database.
pub fn client(config: &SinkConfig) -> clickhouse::Client {
    earshot_sink::clickhouse::client(&config.clickhouse, true)
}

pub use earshot_tests::seed::Seed;

/// A simple interaction `hn:<n>` mentioning brand `acme`, published at `at`.
pub fn simple(n: usize, at: DateTime<Utc>) -> Interaction {
    let mut s = Seed::new(n.to_string(), at);
    s.mentions = vec![
        (EntityKind::Brand, "acme"),
        (EntityKind::Competitor, "globex"),
    ];
    s.build()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A ClickHouse server of our own, from a copy of the packaged configuration,
/// that a test may stop and start (the shared harness server must not be stopped).
pub struct PrivateClickHouse {
    dir: tempfile::TempDir,
    config: PathBuf,
    pub http_port: u16,
    child: Option<Child>,
}

impl PrivateClickHouse {
    /// Starts one, or `None` when clickhouse-server is not installed (with a notice; fails under CI).
    pub fn start() -> Option<PrivateClickHouse> {
        let src = Path::new("/etc/clickhouse-server");
        if !src.join("config.xml").exists()
            || Command::new("clickhouse-server")
                .arg("--help")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_err()
        {
            assert!(
                !earshot_tests::under_ci(),
                "clickhouse-server is not installed but CI=true"
            );
            eprintln!("SKIPPED: clickhouse-server is not installed");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().display().to_string();
        let http_port = free_port();
        let config = std::fs::read_to_string(src.join("config.xml"))
            .unwrap()
            .replace("/var/lib/clickhouse/", &format!("{root}/data/"))
            .replace("/var/log/clickhouse-server/", &format!("{root}/log/"))
            .replace(
                "<http_port>8123</http_port>",
                &format!("<http_port>{http_port}</http_port>"),
            )
            .replace(
                "<tcp_port>9000</tcp_port>",
                &format!("<tcp_port>{}</tcp_port>", free_port()),
            )
            .replace(
                "<interserver_http_port>9009</interserver_http_port>",
                &format!(
                    "<interserver_http_port>{}</interserver_http_port>",
                    free_port()
                ),
            );
        let config_path = dir.path().join("config.xml");
        std::fs::write(&config_path, config).unwrap();
        std::fs::copy(src.join("users.xml"), dir.path().join("users.xml")).unwrap();
        let mut server = PrivateClickHouse {
            dir,
            config: config_path,
            http_port,
            child: None,
        };
        server.resume();
        Some(server)
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.http_port)
    }

    /// Kills the server (SIGKILL: the harshest outage) and waits for it to exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    /// Starts the server again on the same data and waits until it answers.
    pub fn resume(&mut self) {
        let log = std::fs::File::create(self.dir.path().join("stdout.log")).unwrap();
        let child = Command::new("clickhouse-server")
            .arg(format!("--config-file={}", self.config.display()))
            .current_dir(self.dir.path())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(("127.0.0.1", self.http_port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!(
            "private ClickHouse did not listen within 60 s; see {}",
            self.dir.path().display()
        );
    }
}

impl Drop for PrivateClickHouse {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A batch of `interactions`, at offsets 0, 1, ... of partition 0.
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
