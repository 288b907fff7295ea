//! Issue 13: the ops endpoints (`/metrics`, `/health`, `/ready`) of the
//! long-running commands, black-box: the real binary, real HTTP over
//! loopback, the address read from the daemon's log.

mod kafka_common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use earshot_tests::embedded::{file_connector_toml, write_config};
use earshot_tests::ops::{get, sample, wait_for_metrics, wait_ready};
use earshot_tests::process::Daemon;

fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_earshot"))
}

/// `earshot run --follow` on a watched file: health, readiness, and every
/// stage's counters equal to the posts it handled; with `EARSHOT_LOG=debug`
/// and JSON logs, one event per post and stage carries the post's id.
#[test]
fn issue_13_run_follow_serves_health_ready_and_counts_every_post() {
    let dir = tempfile::tempdir().unwrap();
    let posts = dir.path().join("posts.jsonl");
    let mut lines = String::new();
    for i in 0..4 {
        lines +=
            &format!(r#"{{"id": "hn:{i}", "text": "Acme support answered me, thanks ({i})"}}"#);
        lines.push('\n');
    }
    for i in 0..2 {
        lines += &format!(r#"{{"id": "reddit:t3_{i}", "text": "Nice weather today ({i})"}}"#);
        lines.push('\n');
    }
    std::fs::write(&posts, lines).unwrap();
    let config = write_config(
        &dir.path().join("earshot.toml"),
        dir.path(),
        "",
        &file_connector_toml("replay", &posts, "poll_interval_secs = 1\n"),
    );
    let mut run = Daemon::spawn_with_env(
        bin(),
        &config,
        &[
            "--log-format",
            "json",
            "run",
            "--follow",
            "--metrics-addr",
            "127.0.0.1:0",
        ],
        dir.path(),
        "run",
        &[(
            "EARSHOT_LOG",
            "info,earshot=debug,earshot_connect=debug,earshot_sink=debug",
        )],
    );
    let addr = run.ops_addr(Duration::from_secs(30));
    let (status, body) = get(addr, "/health");
    assert_eq!((status, body.as_str()), (200, "ok\n"));
    wait_ready(&mut run, addr, Duration::from_secs(30));

    fn stored<'a>(stage: &'a str, source: &'a str) -> impl Fn(&str) -> Option<f64> + 'a {
        move |m: &str| {
            sample(
                m,
                "earshot_posts_total",
                &[("stage", stage), ("source", source), ("outcome", "out")],
            )
        }
    }
    let metrics = wait_for_metrics(
        &mut run,
        addr,
        Duration::from_secs(60),
        "6 posts stored",
        |m| stored("sink", "hn")(m) == Some(4.0) && stored("sink", "reddit")(m) == Some(2.0),
    );
    for stage in ["connect", "match"] {
        assert_eq!(
            stored(stage, "hn")(&metrics),
            Some(4.0),
            "{stage}\n{metrics}"
        );
        assert_eq!(
            stored(stage, "reddit")(&metrics),
            Some(2.0),
            "{stage}\n{metrics}"
        );
    }
    for stage in ["connect", "match", "sink"] {
        let received = sample(
            &metrics,
            "earshot_posts_total",
            &[("stage", stage), ("outcome", "in")],
        );
        assert_eq!(received, Some(6.0), "{stage}\n{metrics}");
        let dead = sample(
            &metrics,
            "earshot_posts_total",
            &[("stage", stage), ("outcome", "dead_letter")],
        );
        assert_eq!(dead, Some(0.0), "{stage}\n{metrics}");
    }
    assert_eq!(
        sample(&metrics, "earshot_matches_total", &[("brand", "acme")]),
        Some(4.0),
        "{metrics}"
    );
    assert_eq!(
        sample(
            &metrics,
            "earshot_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        ),
        Some(1.0),
        "{metrics}"
    );
    assert!(
        metrics.contains("earshot_watchlist_info{version=\""),
        "{metrics}"
    );
    assert!(
        metrics.contains("# TYPE earshot_sink_insert_seconds histogram"),
        "{metrics}"
    );
    // Every row went through a batch: the histogram's row count says so.
    let metrics = wait_for_metrics(
        &mut run,
        addr,
        Duration::from_secs(20),
        "batch histogram and lag published",
        |m| {
            sample(m, "earshot_sink_batch_rows_sum", &[]) == Some(6.0)
                && sample(m, "earshot_consumer_lag", &[]) == Some(0.0)
        },
    );
    assert!(
        metrics.contains("earshot_watermark_oldest_seconds{"),
        "{metrics}"
    );

    // One debug event per post and stage, with the post's id as a field.
    let log = run.log();
    for id in ["hn:0", "reddit:t3_1"] {
        for message in ["connector emitted", "matcher scored", "sink stored"] {
            let found = log.lines().any(|l| {
                serde_json::from_str::<serde_json::Value>(l).is_ok_and(|v| {
                    v["fields"]["message"] == message && v["fields"]["post_id"] == id
                })
            });
            assert!(found, "no `{message}` event for {id}:\n{log}");
        }
    }
    let (status, _) = run.terminate(Duration::from_secs(30));
    assert!(status.success(), "{}", run.log());
}

/// Before its broker answers, a daemon is alive but not ready, and `/ready`
/// says which check fails.
#[test]
fn issue_13_ready_is_503_naming_the_failing_check_until_the_broker_answers() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("earshot.toml");
    // Nothing listens on port 1: creating the topics waits for its timeout.
    std::fs::write(&config, "[transport.kafka]\nbrokers = \"127.0.0.1:1\"\n").unwrap();
    let mut daemon = Daemon::spawn(bin(), &config, &["match"], dir.path(), "match");
    let addr = daemon.ops_addr(Duration::from_secs(30));
    let (status, body) = get(addr, "/health");
    assert_eq!(status, 200, "{body}");
    let (status, body) = get(addr, "/ready");
    assert_eq!(status, 503, "{body}");
    let ready: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(ready["ready"], false, "{body}");
    assert_eq!(ready["checks"]["config"], "ok", "{body}");
    assert_ne!(ready["checks"]["broker"], "ok", "{body}");
    assert_ne!(
        ready["checks"]["partitions assigned (earshot-match)"], "ok",
        "{body}"
    );
    let (status, metrics) = get(addr, "/metrics");
    assert_eq!(status, 200);
    assert!(metrics.contains("earshot_build_info{"), "{metrics}");
    daemon.kill9();
}

fn earshot(dir: &Path, args: &[&str]) -> Output {
    earshot_tests::process::command(bin(), dir, args)
        .output()
        .expect("run earshot")
}

/// A bad `[ops] metrics_addr` is a configuration error naming the file and
/// the key, for `check` and for the daemons; so is a bad `--metrics-addr`,
/// and an address already in use stops the daemon with a way out.
#[test]
fn issue_13_bad_metrics_addr_is_an_error_naming_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.toml"),
        "[ops]\nmetrics_addr = \"nine\"\n",
    )
    .unwrap();
    let out = earshot(dir.path(), &["--config", "bad.toml", "check"]);
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains(
            "bad.toml: ops.metrics_addr: `nine`: expected an address like 127.0.0.1:9464"
        ),
        "{text}"
    );
    for command in ["connect", "match", "sink"] {
        let out = earshot(dir.path(), &["--config", "bad.toml", command]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{command}: {err}");
        assert!(
            err.contains("bad.toml: ops.metrics_addr: `nine`"),
            "{command}: {err}"
        );
    }
    std::fs::write(
        dir.path().join("typo.toml"),
        "[ops]\nmetrics_adr = \"9464\"\n",
    )
    .unwrap();
    let out = earshot(dir.path(), &["--config", "typo.toml", "check"]);
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && text.contains("metrics_adr"),
        "{text}"
    );

    let out = earshot(dir.path(), &["run", "--follow", "--metrics-addr", "nine"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--metrics-addr") && err.contains("`nine`"),
        "{err}"
    );

    // The address is taken: the run stops at once, naming it and the way out.
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let flag = format!(":{port}");
    let out = earshot(dir.path(), &["run", "--follow", "--metrics-addr", &flag]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!(
            "cannot serve /metrics, /health and /ready on 127.0.0.1:{port}"
        )) && err.contains("--metrics-addr ADDR"),
        "{err}"
    );
}

/// `earshot match` against the real broker: `/ready` turns 200 once the
/// group assigned its partitions, and `/metrics` shows each partition's
/// consumer lag (from librdkafka's statistics) falling to 0 as the posts
/// are scored and committed.
#[test]
fn issue_13_kafka_match_is_ready_once_assigned_and_shows_consumer_lag() {
    let Some(p) = kafka_common::Pipeline::new("ops_lag", 2) else {
        return;
    };
    // Statistics every half second instead of every 5 s: a quicker test.
    let toml = std::fs::read_to_string(&p.config).unwrap().replace(
        "[transport.kafka]\n",
        "[transport.kafka]\nproperties = { \"statistics.interval.ms\" = \"500\" }\n",
    );
    std::fs::write(&p.config, toml).unwrap();
    const POSTS: usize = 40;
    p.produce_posts(0..POSTS);
    let mut daemon = p.start_match("match");
    let addr = daemon.ops_addr(Duration::from_secs(30));
    let before = wait_ready(&mut daemon, addr, Duration::from_secs(90));
    for (_, body) in &before {
        // Not ready yet: the answer names a check that has not passed.
        assert!(body.contains(r#""ready":false"#), "{body}");
    }
    let group = p.group.clone();
    let raw = p.raw.clone();
    let metrics = wait_for_metrics(
        &mut daemon,
        addr,
        Duration::from_secs(90),
        "every post scored and the lag at 0 on both partitions",
        |m| {
            let lag = |partition: &str| {
                sample(
                    m,
                    "earshot_consumer_lag",
                    &[("group", &group), ("topic", &raw), ("partition", partition)],
                )
            };
            sample(
                m,
                "earshot_posts_total",
                &[("stage", "match"), ("outcome", "out")],
            ) == Some(POSTS as f64)
                && lag("0") == Some(0.0)
                && lag("1") == Some(0.0)
        },
    );
    // Posts with ids of no known source count under `other`.
    assert_eq!(
        sample(
            &metrics,
            "earshot_posts_total",
            &[("stage", "match"), ("source", "other"), ("outcome", "in")]
        ),
        Some(POSTS as f64),
        "{metrics}"
    );
    assert!(
        metrics.contains("earshot_watermark_oldest_seconds{"),
        "{metrics}"
    );
    // The statistics that brought the lag also keep the broker check current.
    let (status, body) = get(addr, "/ready");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#""broker":"ok""#), "{body}");
    let (status, _) = daemon.terminate(Duration::from_secs(30));
    assert!(status.success(), "{}", daemon.log());
}

/// `--metrics-addr off` serves nothing: the run gets past the point where
/// the server would have started without logging an address.
#[test]
fn issue_13_metrics_addr_off_serves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("earshot.toml");
    std::fs::write(
        &config,
        format!(
            "[sink]\nkind = \"sqlite\"\n[sink.sqlite]\npath = \"{}\"\n",
            dir.path().join("store.db").display()
        ),
    )
    .unwrap();
    let mut run = Daemon::spawn(
        bin(),
        &config,
        &["run", "--follow", "--metrics-addr", "off"],
        dir.path(),
        "run",
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    // Logged after the ops server would have started.
    while !run.log().contains("store ready") {
        assert!(run.running(), "{}", run.log());
        assert!(Instant::now() < deadline, "{}", run.log());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!run.log().contains("ops server listening"), "{}", run.log());
    let (status, _) = run.terminate(Duration::from_secs(30));
    assert!(status.success(), "{}", run.log());
}

/// A feed answering 429 once: the connector's request, rate-limit and
/// backoff metrics say so, and its cursor age is published.
#[test]
fn issue_13_connector_metrics_count_requests_429s_and_backoff() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let feed_addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let feed = "<rss><channel><title>t</title><item><title>Acme launches</title>\
                    <link>http://blog.test/1</link><description>Acme is great</description></item>\
                    <item><title>Second</title><link>http://blog.test/2</link></item></channel></rss>";
        for (i, mut s) in listener.incoming().flatten().enumerate() {
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let _ = if i == 0 {
                write!(
                    s,
                    "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                )
            } else {
                write!(
                    s,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{feed}",
                    feed.len()
                )
            };
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        &dir.path().join("earshot.toml"),
        dir.path(),
        "",
        &format!(
            "[[connectors]]\nname = \"blog\"\nkind = \"rss\"\npoll_interval_secs = 3600\n\
             feeds = [\"http://{feed_addr}/feed.xml\"]\n"
        ),
    );
    let mut run = Daemon::spawn(bin(), &config, &["run", "--follow"], dir.path(), "run");
    let addr = run.ops_addr(Duration::from_secs(30));
    let blog = [("connector", "blog")];
    let metrics = wait_for_metrics(
        &mut run,
        addr,
        Duration::from_secs(60),
        "both feed items stored and the cursor age published",
        |m| {
            sample(
                m,
                "earshot_posts_total",
                &[("stage", "sink"), ("source", "rss"), ("outcome", "out")],
            ) == Some(2.0)
                && sample(m, "earshot_connector_cursor_age_seconds", &blog).is_some()
        },
    );
    let requests = |status: &str| {
        sample(
            &metrics,
            "earshot_connector_requests_total",
            &[("connector", "blog"), ("status", status)],
        )
    };
    assert_eq!(requests("429"), Some(1.0), "{metrics}");
    assert_eq!(requests("200"), Some(1.0), "{metrics}");
    assert_eq!(
        sample(&metrics, "earshot_connector_rate_limited_total", &blog),
        Some(1.0),
        "{metrics}"
    );
    let backoff = sample(&metrics, "earshot_connector_backoff_seconds_total", &blog).unwrap();
    assert!((0.5..=5.0).contains(&backoff), "{backoff}\n{metrics}");
    let (status, _) = run.terminate(Duration::from_secs(30));
    assert!(status.success(), "{}", run.log());
}
