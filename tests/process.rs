//! Running Earshot as a real subprocess: a one-shot command with its
//! output, or a daemon to start, signal, kill and read the log of.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// `bin args...` run in `dir` as a test runs the CLI: no configuration,
/// broker or metrics address from the environment, warnings only in the log.
pub fn command(bin: &Path, dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(bin);
    c.args(args)
        .current_dir(dir)
        .env_remove("EARSHOT_CONFIG")
        .env_remove("EARSHOT_KAFKA_BROKERS")
        .env_remove("EARSHOT_METRICS_ADDR")
        .env("EARSHOT_LOG", "warn");
    c
}

/// Runs `command` to its end with `stdin` as its input.
pub fn output_with_stdin(mut command: Command, stdin: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run earshot");
    // Written from a thread: a command that answers before reading all its
    // input must not block on a full pipe.
    let mut input = child.stdin.take().expect("piped stdin");
    let stdin = stdin.to_string();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(stdin.as_bytes());
    });
    let out = child.wait_with_output().expect("wait for earshot");
    writer.join().expect("stdin writer");
    out
}

/// A running `earshot` subprocess; killed (SIGKILL) if still running when dropped.
pub struct Daemon {
    child: Child,
    name: String,
    log: PathBuf,
}

impl Daemon {
    /// Starts `bin --config config args...`, stderr (its log) to `dir/name.log`.
    pub fn spawn(bin: &Path, config: &Path, args: &[&str], dir: &Path, name: &str) -> Daemon {
        Daemon::spawn_with_env(bin, config, args, dir, name, &[])
    }

    /// [`spawn`](Self::spawn) with extra environment variables (set last, so
    /// they override the defaults, e.g. `EARSHOT_LOG`).
    pub fn spawn_with_env(
        bin: &Path,
        config: &Path,
        args: &[&str],
        dir: &Path,
        name: &str,
        env: &[(&str, &str)],
    ) -> Daemon {
        let log = dir.join(format!("{name}.log"));
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("daemon log file");
        let child = Command::new(bin)
            .arg("--config")
            .arg(config)
            .args(args)
            .env("EARSHOT_LOG", "info")
            // Plain log lines: tests search them.
            .env("NO_COLOR", "1")
            .env_remove("RUST_LOG")
            .env_remove("EARSHOT_KAFKA_BROKERS")
            // Tests run daemons side by side: each serves its ops endpoints
            // on a free port (logged) instead of its fixed default one.
            .env("EARSHOT_METRICS_ADDR", "127.0.0.1:0")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", bin.display()));
        Daemon {
            child,
            name: name.to_string(),
            log,
        }
    }

    /// Process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether it is still running.
    pub fn running(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_none()
    }

    /// Kills it with SIGKILL (a crash: no cleanup of any kind) and reaps it.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends SIGTERM and waits up to `timeout` for it to exit; returns its
    /// exit status and how long it took. Panics (with its log) on timeout.
    pub fn terminate(&mut self, timeout: Duration) -> (ExitStatus, Duration) {
        let started = Instant::now();
        let sent = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("running kill");
        assert!(sent.success(), "kill -TERM {} failed", self.pid());
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return (status, started.elapsed());
            }
            if started.elapsed() > timeout {
                self.kill9();
                panic!(
                    "{} did not exit within {timeout:?} of SIGTERM; log:\n{}",
                    self.name,
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Its log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Path of its log file.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// Waits until `needle` appears at least `count` times in its log;
    /// panics (with the log) if it exits or `timeout` passes first.
    pub fn wait_for_log(&mut self, needle: &str, count: usize, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while self.log().matches(needle).count() < count {
            assert!(
                self.running(),
                "{} exited before logging `{needle}`: {}",
                self.name,
                self.log()
            );
            assert!(
                Instant::now() < deadline,
                "{} did not log `{needle}` {count} time(s) within {timeout:?}: {}",
                self.name,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The address its ops server (`/metrics`, `/health`, `/ready`) listens
    /// on, from its log; panics (with the log) if it exits or `timeout`
    /// passes before it says.
    pub fn ops_addr(&mut self, timeout: Duration) -> std::net::SocketAddr {
        let deadline = Instant::now() + timeout;
        loop {
            let log = self.log();
            // Text logs say `addr=127.0.0.1:1234`, JSON ones `"addr":"127.0.0.1:1234"`.
            let value = |l: &str| {
                let rest = l
                    .split("addr=")
                    .nth(1)
                    .or_else(|| l.split("\"addr\":\"").nth(1))?;
                let end = rest
                    .find(|c: char| c.is_whitespace() || c == '"')
                    .unwrap_or(rest.len());
                rest[..end].parse().ok()
            };
            if let Some(addr) = log
                .lines()
                .filter(|l| l.contains("ops server listening"))
                .find_map(value)
            {
                return addr;
            }
            assert!(self.running(), "{} exited: {log}", self.name);
            assert!(
                Instant::now() < deadline,
                "{} logged no ops address: {log}",
                self.name
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until its log says it was assigned at least one partition;
    /// panics (with the log) if it exits or `timeout` passes first.
    pub fn wait_for_assignment(&mut self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while !self
            .log()
            .lines()
            .any(|l| l.contains("partitions assigned") && !l.contains("partitions=[]"))
        {
            assert!(self.running(), "daemon exited: {}", self.log());
            assert!(
                Instant::now() < deadline,
                "daemon did not join its group: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.running() {
            self.kill9();
        }
    }
}
