//! Black-box tests of `earshot check` and the embedded `earshot run`.

use std::path::Path;
use std::process::{Command, Output};

fn earshot(dir: &Path, args: &[&str]) -> Output {
    earshot_tests::process::command(Path::new(env!("CARGO_BIN_EXE_earshot")), dir, args)
        .env("EARSHOT_METRICS_ADDR", "127.0.0.1:0")
        .output()
        .expect("run earshot")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn issue_2_check_accepts_the_bundled_config() {
    let dir = tempfile::tempdir().unwrap();
    let out = earshot(dir.path(), &["check"]);
    assert!(out.status.success(), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("OK (watchlist version"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn issue_2_check_reports_every_problem_with_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.toml"),
        r#"
[matcher]
brands = ["brands.toml"]
[transport.kafka]
brokers = "nohost"
compression = "snappy"
[[connectors]]
name = "feeds"
kind = "rss"
feeds = []
"#,
    )
    .unwrap();
    std::fs::write(
        dir.path().join("brands.toml"),
        "[[brand]]\nid = \"acme\"\nname = \"Acme\"\nquery = 'acme AND'\n",
    )
    .unwrap();
    let out = earshot(dir.path(), &["check", "--config", "bad.toml"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    for expected in [
        "bad.toml: transport.kafka.brokers: `nohost`: expected host:port",
        "bad.toml: transport.kafka.compression: `snappy`: expected one of none, gzip, lz4, zstd",
        "bad.toml: connectors[0].feeds",
        "brands.toml:4:",
        "brand acme: query",
    ] {
        assert!(text.contains(expected), "missing `{expected}` in:\n{text}");
    }
}

#[test]
fn issue_2_unknown_keys_are_refused_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("typo.toml"), "[sink]\nkindd = \"sqlite\"\n").unwrap();
    let out = earshot(dir.path(), &["check", "--config", "typo.toml"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("typo.toml") && text.contains("kindd"),
        "{text}"
    );
}

/// The README's first command: the embedded default replays the bundled
/// samples into SQLite and prints the report; a second run resumes from the
/// cursor and refetches nothing, while the report still shows every post.
#[test]
fn issue_3_embedded_run_stores_every_sample_once() {
    let dir = tempfile::tempdir().unwrap();
    let samples = include_str!("../../../config/samples/posts.jsonl")
        .lines()
        .count();

    let first = earshot(dir.path(), &["run"]);
    let err = String::from_utf8_lossy(&first.stderr);
    assert!(first.status.success(), "{err}");
    assert!(
        err.contains(&format!("connectors: {samples} produced")),
        "{err}"
    );
    assert!(
        err.contains(&format!("{samples} received, {samples} scored")),
        "{err}"
    );
    assert!(
        stdout(&first).contains("Share of voice"),
        "{}",
        stdout(&first)
    );

    let second = earshot(dir.path(), &["run"]);
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(second.status.success(), "{err}");
    assert!(err.contains("connectors: 0 produced"), "{err}");

    let conn = rusqlite::Connection::open(dir.path().join(".earshot/earshot.db")).unwrap();
    let (rows, distinct): (i64, i64) = conn
        .query_row(
            "SELECT count(*), count(DISTINCT post_id) FROM interactions",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((rows, distinct), (samples as i64, samples as i64));
}

/// The production example in deploy/ stays valid as the config grows.
#[test]
fn issue_3_production_example_config_is_valid() {
    let dir = tempfile::tempdir().unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    for sub in ["watchlists", "lexicons"] {
        std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        for entry in std::fs::read_dir(repo.join("config").join(sub)).unwrap() {
            let path = entry.unwrap().path();
            std::fs::copy(&path, dir.path().join(sub).join(path.file_name().unwrap())).unwrap();
        }
    }
    for file in ["intents.toml", "routes.toml"] {
        std::fs::copy(repo.join("config").join(file), dir.path().join(file)).unwrap();
    }
    let production = std::fs::read_to_string(repo.join("deploy/earshot.production.toml")).unwrap();
    std::fs::write(dir.path().join("earshot.toml"), &production).unwrap();
    let out = earshot(dir.path(), &["check", "--config", "earshot.toml"]);
    assert!(out.status.success(), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("kafka at kafka-1.internal:9092"),
        "{}",
        stdout(&out)
    );
    // Issue 18: its cluster lines, uncommented, are valid too.
    let cluster = production
        .replace("# cluster = ", "cluster = ")
        .replace("# replica_path = ", "replica_path = ");
    assert!(cluster.contains("\ncluster = \"earshot\"\nreplica_path = "));
    std::fs::write(dir.path().join("cluster.toml"), cluster).unwrap();
    let out = earshot(dir.path(), &["check", "--config", "cluster.toml"]);
    assert!(out.status.success(), "{}", stdout(&out));
}

/// Runs earshot with its stdout a pipe whose reader is already gone (as in
/// `earshot check | head -0`), feeding `input` on stdin.
fn earshot_closed_stdout(dir: &Path, args: &[&str], input: &[u8]) -> Output {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_earshot"))
        .args(args)
        .current_dir(dir)
        .env_remove("EARSHOT_CONFIG")
        .env_remove("EARSHOT_KAFKA_BROKERS")
        .env("EARSHOT_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run earshot");
    // Close the only read end before earshot has loaded its config, so its
    // first write meets a closed pipe.
    drop(child.stdout.take());
    let mut stdin = child.stdin.take().unwrap();
    // earshot may stop reading (and close stdin) once stdout is gone.
    let _ = stdin.write_all(input);
    drop(stdin);
    child.wait_with_output().expect("wait for earshot")
}

fn assert_quiet_success(what: &str, out: &Output) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{what} panicked:\n{err}");
    assert_eq!(out.status.code(), Some(0), "{what}:\n{err}");
}

#[test]
fn issue_12_check_survives_closed_pipe() {
    let dir = tempfile::tempdir().unwrap();
    let out = earshot_closed_stdout(dir.path(), &["check"], b"");
    assert_quiet_success("earshot check", &out);
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn issue_12_score_survives_closed_pipe() {
    let dir = tempfile::tempdir().unwrap();
    let input = "I love Acme\n".repeat(10_000);
    let out = earshot_closed_stdout(dir.path(), &["score", "--text"], input.as_bytes());
    assert_quiet_success("earshot score", &out);
}

#[test]
fn issue_12_migrate_and_report_survive_closed_pipe() {
    let dir = tempfile::tempdir().unwrap();
    let out = earshot_closed_stdout(dir.path(), &["migrate"], b"");
    assert_quiet_success("earshot migrate", &out);
    // The migration itself happened before the write failed.
    assert!(dir.path().join(".earshot/earshot.db").exists());
    let out = earshot_closed_stdout(dir.path(), &["report"], b"");
    assert_quiet_success("earshot report", &out);
}

/// `earshot migrate` used to connect with whatever the file said; now every
/// command refuses an invalid config before acting, naming the key.
#[test]
fn issue_12_migrate_validates_the_config_first() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.toml"),
        r#"
[sink]
kind = "clickhouse"
[sink.clickhouse]
url = "http://127.0.0.1:9"
database = "x; DROP TABLE y"
"#,
    )
    .unwrap();
    for command in ["migrate", "report", "sink", "connect", "match", "run"] {
        let out = earshot(dir.path(), &[command, "--config", "bad.toml"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{command}: {err}");
        assert!(
            err.contains("bad.toml: sink.clickhouse.database: `x; DROP TABLE y`"),
            "{command}: {err}"
        );
    }
    let out = earshot(dir.path(), &["score", "--config", "bad.toml"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "score: {err}");
    assert!(err.contains("sink.clickhouse.database"), "score: {err}");
}

#[test]
fn issue_12_check_reports_too_deep_query_with_file_line_col() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("deep.toml"),
        "[matcher]\nbrands = [\"brands.toml\"]\n",
    )
    .unwrap();
    let parens = format!("{}acme{}", "(".repeat(2_000), ")".repeat(2_000));
    let nots = format!("acme AND {}refund", "NOT ".repeat(100_000));
    std::fs::write(
        dir.path().join("brands.toml"),
        format!(
            "[[brand]]\nid = \"a\"\nname = \"A\"\nquery = '{parens}'\n\n\
             [[brand]]\nid = \"b\"\nname = \"B\"\nquery = '{nots}'\n"
        ),
    )
    .unwrap();
    let out = earshot(dir.path(), &["check", "--config", "deep.toml"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    // Line 4, at the 101st `(` (the query starts at column 10).
    assert!(
        text.contains("brands.toml:4:110: brand a: query: nesting deeper than 100"),
        "{text}"
    );
    assert!(
        text.contains("brands.toml:9:10: brand b: query: query is 400015 bytes long"),
        "{text}"
    );
}

#[test]
fn issue_12_check_refuses_secret_kafka_properties() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("leak.toml"),
        r#"
[transport.kafka]
brokers = "kafka:9092"
properties = { "security.protocol" = "SASL_SSL", "ssl.key.pem" = "-----BEGIN PRIVATE KEY-----", "sasl.oauthbearer.config" = "x" }
"#,
    )
    .unwrap();
    let out = earshot(dir.path(), &["check", "--config", "leak.toml"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    for expected in [
        "leak.toml: transport.kafka.properties.ssl.key.pem: a secret, refused in config files: set the environment variable EARSHOT_KAFKA_SSL_KEY_PEM",
        "leak.toml: transport.kafka.properties.sasl.oauthbearer.config: a secret",
    ] {
        assert!(text.contains(expected), "missing `{expected}` in:\n{text}");
    }
    assert!(!text.contains("security.protocol"), "{text}");
}

/// Deeply nested TOML (arrays and inline tables) in the config or a
/// watchlist is an error naming the file, not a stack overflow.
#[test]
fn issue_12_check_survives_deeply_nested_toml() {
    let dir = tempfile::tempdir().unwrap();
    let arrays = format!("x = {}{}\n", "[".repeat(100_000), "]".repeat(100_000));
    let tables = format!("x = {}1{}\n", "{a = ".repeat(100_000), "}".repeat(100_000));
    for (n, deep) in [arrays, tables].iter().enumerate() {
        let config = format!("deep{n}.toml");
        std::fs::write(dir.path().join(&config), deep).unwrap();
        let out = earshot(dir.path(), &["check", "--config", &config]);
        let text = stdout(&out);
        assert_eq!(out.status.code(), Some(1), "{config}: {text}");
        assert!(text.contains(&config), "{text}");

        std::fs::write(
            dir.path().join("with-brands.toml"),
            "[matcher]\nbrands = [\"brands.toml\"]\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("brands.toml"), deep).unwrap();
        let out = earshot(dir.path(), &["check", "--config", "with-brands.toml"]);
        let text = stdout(&out);
        assert_eq!(out.status.code(), Some(1), "brands {n}: {text}");
        assert!(text.contains("brands.toml"), "{text}");
    }
}

/// Issue 19: `earshot run --once` with a feed connector ends by itself, and a
/// `jsonl` sink gets a clear "no report" instead of a failed run.
#[test]
fn issue_19_run_once_ends_with_feeds_and_a_jsonl_sink() {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let feed = "<rss><channel><title>t</title><item><title>Acme launches</title>\
                    <link>http://blog.test/1</link><description>Acme is great</description></item>\
                    <item><title>Second</title><link>http://blog.test/2</link></item></channel></rss>";
        for mut s in listener.incoming().flatten() {
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{feed}",
                feed.len()
            );
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("conf");
    earshot_tests::copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config"),
        &conf,
    );
    let toml = std::fs::read_to_string(conf.join("earshot.toml")).unwrap();
    let cut = toml
        .find("[[connectors]]")
        .expect("a connector in the bundled config");
    let toml = toml[..cut].replace(
        "[sink]\nkind = \"sqlite\"",
        "[sink]\nkind = \"jsonl\"\n\n[sink.jsonl]\npath = \"out.jsonl\"",
    ) + &format!(
        "[[connectors]]\nname = \"blog\"\nkind = \"rss\"\npoll_interval_secs = 3600\nfeeds = [\"http://{addr}/feed.xml\"]\n"
    );
    std::fs::write(conf.join("earshot.toml"), toml).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_earshot"))
        .args(["-c", "conf/earshot.toml", "run", "--once"])
        .current_dir(dir.path())
        .env_remove("EARSHOT_CONFIG")
        .env_remove("EARSHOT_KAFKA_BROKERS")
        .env("EARSHOT_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("`earshot run --once` did not end within 60 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("connectors: 2 produced"), "{err}");
    assert!(err.contains("no report: sink.kind = \"jsonl\""), "{err}");
    let lines = std::fs::read_to_string(dir.path().join("out.jsonl")).unwrap();
    assert_eq!(lines.lines().count(), 2, "{lines}");
}

/// The `acme` row of the spikes table in a report: `(last hour, mean, σ, threshold)`.
fn acme_spike_row(report: &str) -> (f64, f64, f64, f64) {
    let spikes = &report[report.find("Spikes:").expect("a spikes section")..];
    let row = spikes
        .lines()
        .find(|l| l.starts_with("│ acme "))
        .unwrap_or_else(|| panic!("no acme row in:\n{spikes}"));
    let cells: Vec<f64> = row
        .trim_matches(|c| c == '│' || c == ' ')
        .split('┆')
        .skip(1)
        .take(4)
        .map(|c| c.trim().parse().unwrap_or_else(|_| panic!("{row}")))
        .collect();
    (cells[0], cells[1], cells[2], cells[3])
}

/// Issue 13: the bundled samples are shifted to the run's clock, so right
/// after `earshot run` the default `earshot report` (last 24 h) has figures
/// in every section, spikes included, and both reports say so.
#[test]
fn issue_13_run_then_report_shows_figures_in_every_section() {
    let dir = tempfile::tempdir().unwrap();
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let run = earshot(dir.path(), &["run"]);
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{err}");
    let text = stdout(&run);
    assert!(
        text.contains("Dates: bundled samples shifted to the run's clock"),
        "{text}"
    );
    assert!(!text.contains("(no data in this window)"), "{text}");

    // The latest sample landed in the minute before the run's minute.
    let conn = rusqlite::Connection::open(dir.path().join(".earshot/earshot.db")).unwrap();
    let newest: i64 = conn
        .query_row(
            "SELECT max(max(published_at), max(fetched_at)) FROM interactions",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(
        newest >= started - started % 60 - 60 && newest < started - started % 60 + 60,
        "newest sample at {newest}, run started at {started}"
    );

    let report = earshot(dir.path(), &["report"]);
    let text = stdout(&report);
    assert!(
        report.status.success(),
        "{}",
        String::from_utf8_lossy(&report.stderr)
    );
    assert!(!text.contains("(no data in this window)"), "{text}");
    let (last_hour, ..) = acme_spike_row(&text);
    assert!(last_hour > 0.0, "{text}");
}

/// Issue 13: `--config config/earshot.toml run` (the bundled config as a
/// file) replays the bundled samples as the default does, instead of failing
/// on `.earshot/samples/posts.jsonl: No such file`.
#[test]
fn issue_13_explicit_bundled_config_runs_like_the_default() {
    let dir = tempfile::tempdir().unwrap();
    earshot_tests::copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config"),
        &dir.path().join("config"),
    );
    let samples = include_str!("../../../config/samples/posts.jsonl")
        .lines()
        .count();
    let out = earshot(dir.path(), &["--config", "config/earshot.toml", "run"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains(&format!("connectors: {samples} produced")),
        "{err}"
    );
    assert!(
        !stdout(&out).contains("(no data in this window)"),
        "{}",
        stdout(&out)
    );
    assert!(dir.path().join(".earshot/samples/posts.jsonl").exists());
}

/// Issue 13: `check` reads every file the config names: a missing
/// watchlist, lexicon or replay file is a problem naming it; the bundled
/// samples' path, which `earshot run` writes, is explained, not refused.
#[test]
fn issue_13_check_verifies_named_files_exist() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("config");
    earshot_tests::copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config"),
        &conf,
    );
    let out = earshot(dir.path(), &["check", "--config", "config/earshot.toml"]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains(
            "connector samples: .earshot/samples/posts.jsonl need not exist yet: `earshot run` writes"
        ),
        "{text}"
    );

    std::fs::remove_file(conf.join("lexicons/fr.tsv")).unwrap();
    std::fs::remove_file(conf.join("watchlists/customers.csv")).unwrap();
    let mut toml = std::fs::read_to_string(conf.join("earshot.toml")).unwrap();
    toml.push_str(
        "\n[[connectors]]\nname = \"backfill\"\nkind = \"file\"\npaths = [\"data/old.jsonl\"]\none_shot = true\n",
    );
    std::fs::write(conf.join("earshot.toml"), toml).unwrap();
    let out = earshot(dir.path(), &["check", "--config", "config/earshot.toml"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    for expected in [
        "config/earshot.toml: 3 problem(s)",
        "config/earshot.toml: connectors[1].paths[0]: data/old.jsonl:",
        "config/lexicons/fr.tsv: cannot read",
        "config/watchlists/customers.csv: cannot read",
    ] {
        assert!(text.contains(expected), "missing `{expected}` in:\n{text}");
    }

    // Present, the replay file passes.
    std::fs::create_dir_all(dir.path().join("data")).unwrap();
    std::fs::write(dir.path().join("data/old.jsonl"), "").unwrap();
    let out = earshot(dir.path(), &["check", "--config", "config/earshot.toml"]);
    let text = stdout(&out);
    assert!(!text.contains("data/old.jsonl"), "{text}");
}

/// Issue 13: `report` takes the README's query parameters: `--since` in
/// weeks, `--until` (an instant, or Unix seconds as `{until}`) and `--k`.
#[test]
fn issue_13_report_takes_weeks_until_and_k() {
    let dir = tempfile::tempdir().unwrap();
    let run = earshot(dir.path(), &["run"]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );

    let week = earshot(dir.path(), &["report", "--since", "1w", "--k", "0"]);
    let text = stdout(&week);
    assert!(
        week.status.success(),
        "{}",
        String::from_utf8_lossy(&week.stderr)
    );
    assert!(
        text.contains("Spikes: last hour vs mean + 0·σ of the 12 hours before"),
        "{text}"
    );
    let (_, mean, _, threshold) = acme_spike_row(&text);
    assert_eq!(threshold, mean, "k = 0: {text}");
    let (from, to) = {
        let header = text.lines().next().unwrap();
        let span: Vec<&str> = header
            .trim_start_matches("Earshot report: ")
            .trim_end_matches(" UTC")
            .split(" to ")
            .collect();
        let at = |s: &str| {
            chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M")
                .unwrap_or_else(|e| panic!("{header}: {e}"))
        };
        (at(span[0]), at(span[1]))
    };
    assert_eq!(to - from, chrono::Duration::weeks(1), "{text}");

    let k = earshot(dir.path(), &["report", "--k", "2.5"]);
    let text = stdout(&k);
    let (_, mean, sd, threshold) = acme_spike_row(&text);
    assert!(
        (threshold - (mean + 2.5 * sd)).abs() < 0.02,
        "threshold {threshold} ≠ {mean} + 2.5·{sd}:\n{text}"
    );

    // A window ending before the samples' dates holds none of them.
    for until in ["2020-01-01", "1577836800", "2020-01-01T00:00:00Z"] {
        let old = earshot(dir.path(), &["report", "--until", until]);
        let text = stdout(&old);
        assert!(
            old.status.success(),
            "{until}: {}",
            String::from_utf8_lossy(&old.stderr)
        );
        assert!(
            text.starts_with("Earshot report: 2019-12-31 00:00 to 2020-01-01 00:00 UTC"),
            "{until}: {text}"
        );
        assert!(!text.contains("│ acme "), "{until}: {text}");
    }

    for (args, expected) in [
        (&["report", "--since", "1y"][..], "expected s, m, h, d or w"),
        (&["report", "--until", "soon"], "expected a UTC time"),
        (&["report", "--k=-1"], "expected a number ≥ 0"),
    ] {
        let out = earshot(dir.path(), args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(expected), "{args:?}: {err}");
    }
}

/// Issue 13: a `--brand` the watchlist does not name is an error listing
/// the known ids, not a report of empty tables.
#[test]
fn issue_13_unknown_brand_is_an_error_listing_known_ones() {
    let dir = tempfile::tempdir().unwrap();
    assert!(earshot(dir.path(), &["migrate"]).status.success());
    let out = earshot(dir.path(), &["report", "--brand", "acmee"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("unknown brand `acmee`; the watchlist's brands and competitors are: acme, acme-rocket, acme-cloud, globex"),
        "{err}"
    );
    let out = earshot(dir.path(), &["report", "--brand", "globex"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout(&out)
            .lines()
            .next()
            .unwrap()
            .ends_with(", brand globex"),
        "{}",
        stdout(&out)
    );
}
