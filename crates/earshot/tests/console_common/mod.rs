//! Shared by the console tests: seeding a store through `earshot run` on the
//! bundled samples, starting the real `earshot console` on a loopback port
//! read from its log, and small HTTP helpers.

#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// `earshot ARGS` in `dir` (bundled config unless `config` is given).
pub fn earshot(dir: &Path, config: Option<&Path>, args: &[&str]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_earshot"));
    if let Some(config) = config {
        c.arg("--config").arg(config);
    }
    c.args(args)
        .current_dir(dir)
        .env_remove("EARSHOT_CONFIG")
        .env("EARSHOT_LOG", "warn")
        .output()
        .expect("run earshot")
}

/// Asserts success, returning stdout.
/// `earshot console --hash-password` on `password`.
pub fn hash(dir: &Path, password: &str) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_earshot"))
        .args(["console", "--hash-password"])
        .current_dir(dir)
        .env_remove("EARSHOT_CONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

pub fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A running `earshot console`; killed when dropped.
pub struct Console {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    log: PathBuf,
}

impl Console {
    /// Starts `earshot console --addr 127.0.0.1:0` in `dir` and waits for the
    /// address in its log. `token`: the API token's environment variable value.
    pub fn start(dir: &Path, config: Option<&Path>, token: Option<&str>) -> Console {
        Console::spawn(dir, config, &["console", "--addr", "127.0.0.1:0"], token)
    }

    /// Starts `earshot ARGS` (a command serving the console) and waits for
    /// the console's address in its log.
    pub fn spawn(dir: &Path, config: Option<&Path>, args: &[&str], token: Option<&str>) -> Console {
        let log = dir.join(format!("console-{}.log", std::process::id()));
        let file = std::fs::File::create(&log).unwrap();
        let mut c = Command::new(env!("CARGO_BIN_EXE_earshot"));
        if let Some(config) = config {
            c.arg("--config").arg(config);
        }
        c.args(args)
            .current_dir(dir)
            .env_remove("EARSHOT_CONFIG")
            .env_remove("EARSHOT_CONSOLE_TOKEN")
            .env("EARSHOT_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(file);
        if let Some(t) = token {
            c.env("EARSHOT_CONSOLE_TOKEN", t);
        }
        let mut child = c.spawn().expect("start earshot console");
        let started = Instant::now();
        loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if let Some(at) = text.find("console listening on http://") {
                let rest = &text[at + "console listening on ".len()..];
                let base = rest.split_whitespace().next().unwrap().to_string();
                return Console { child, base, log };
            }
            if let Some(status) = child.try_wait().unwrap() {
                panic!("earshot console exited ({status}):\n{text}");
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "no address in the console log:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `base` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends SIGTERM and waits (up to 30 s) for the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success());
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "no exit within 30 s of SIGTERM:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A client that does not follow redirects (the tests check them).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// GET `url`, asserting 200, returning the body.
pub async fn page(url: &str) -> String {
    let r = client().get(url).send().await.unwrap();
    let status = r.status();
    let body = r.text().await.unwrap();
    assert_eq!(status, 200, "{url}: {body}");
    body
}

/// The value of the first `name="NAME" value="…"` in `html`.
pub fn field(html: &str, name: &str) -> String {
    let key = format!("name=\"{name}\" value=\"");
    let at = html.find(&key).unwrap_or_else(|| panic!("no field {name}")) + key.len();
    html[at..].split('"').next().unwrap().to_string()
}

/// The config of a ClickHouse store at `url`, database `db`, reading the
/// bundled samples (the bundled matcher).
pub fn clickhouse_config(dir: &Path, url: &str, db: &str) -> PathBuf {
    let path = dir.join("earshot.toml");
    std::fs::write(
        &path,
        format!(
            r#"
[sink]
kind = "clickhouse"
[sink.clickhouse]
url = "{url}"
database = "{db}"

[cursors]
path = ".earshot/cursors.db"

[[connectors]]
name = "samples"
kind = "file"
paths = [".earshot/samples/posts.jsonl"]
one_shot = true
"#
        ),
    )
    .unwrap();
    path
}
