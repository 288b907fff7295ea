//! Issue 13, item 4: the container and service files, right by construction.
//!
//! No container runtime runs here, so the deployment files are checked
//! against the built binary and against each other (`deploy_check`):
//!
//! - every `earshot` invocation in the `Dockerfile` (`CMD`), the compose
//!   services' `command`s and the systemd units' `ExecStart` is accepted by
//!   the binary: it is run with `--help` appended, so clap refuses an unknown
//!   subcommand, flag or value exactly as it would at start-up;
//! - the `Dockerfile` builds `-p earshot`, installs it on `PATH`, runs it
//!   through `ENTRYPOINT ["earshot"]` as a non-root user, copies sources that
//!   exist, and its default `EARSHOT_CONFIG` passes `earshot check`;
//! - every compose service's config (its `--config`, `EARSHOT_CONFIG`, or the
//!   image's, with the service's bind mounts laid over the image's files)
//!   exists and passes `earshot --config FILE check` with the environment the
//!   compose file gives the service (interpolated from `.env.example`; a
//!   `${VAR:?}` it lacks is a problem);
//! - every daemon serves metrics (`[ops] metrics_addr` or `--metrics-addr`),
//!   has a restart policy and a healthcheck probing that port;
//! - every `depends_on` target exists, `service_healthy` targets have a
//!   healthcheck, `service_completed_successfully` ones do not restart;
//!   bind-mounted host paths exist and named volumes are declared;
//! - every Prometheus target is a compose service, and an Earshot daemon's
//!   target is the port its config serves; every daemon is scraped;
//! - Grafana's dashboard providers point at mounted directories holding
//!   dashboards, whose data source uids and types are provisioned.
//!
//! `issue_13_deploy_check_catches_each_kind_of_drift` breaks a copy of the
//! files one way at a time and requires the check to name each break.

mod deploy_check;

use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_earshot"))
}

#[test]
fn issue_13_deploy_files_agree_with_the_binary_and_each_other() {
    let problems = deploy_check::problems(&repo(), bin());
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// A copy of what the check reads.
fn copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for sub in ["config", "deploy"] {
        deploy_check::copy_dir(&repo().join(sub), &dir.path().join(sub)).unwrap();
    }
    std::fs::copy(repo().join("Dockerfile"), dir.path().join("Dockerfile")).unwrap();
    dir
}

/// Replaces `from` by `to` in `file` of the tree at `root` (it must be there).
fn edit(root: &Path, file: &str, from: &str, to: &str) {
    let path = root.join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "{file} no longer contains {from:?}");
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
}

#[test]
fn issue_13_deploy_check_catches_each_kind_of_drift() {
    type Break = fn(&Path);
    let cases: &[(&str, Break, &str)] = &[
        (
            "a renamed subcommand",
            |r| {
                edit(
                    r,
                    "deploy/compose/docker-compose.yml",
                    "command: [\"sink\"]",
                    "command: [\"sinks\"]",
                )
            },
            "`earshot sinks` is refused",
        ),
        (
            "an unknown flag in a unit",
            |r| {
                edit(
                    r,
                    "deploy/systemd/earshot-match.service",
                    "json match",
                    "json --bogus match",
                )
            },
            "earshot-match.service",
        ),
        (
            "an unknown config key",
            |r| {
                edit(
                    r,
                    "deploy/compose/earshot.toml",
                    "[match]\n",
                    "[match]\nbogus = 1\n",
                )
            },
            "fails `earshot check`",
        ),
        (
            "a missing config file",
            |r| {
                edit(
                    r,
                    "deploy/compose/docker-compose.yml",
                    "- ./earshot.toml:/etc/earshot/earshot.toml:ro\n  environment",
                    "- ./earshot-missing.toml:/etc/earshot/earshot.toml:ro\n  environment",
                )
            },
            "earshot-missing.toml",
        ),
        (
            "a secret .env.example lacks",
            |r| {
                edit(
                    r,
                    "deploy/compose/.env.example",
                    "GRAFANA_ADMIN_PASSWORD=change-me",
                    "GRAFANA_ADMIN_PASSWORD=",
                )
            },
            "GRAFANA_ADMIN_PASSWORD",
        ),
        (
            "a scrape port nobody serves",
            |r| {
                edit(
                    r,
                    "deploy/compose/prometheus.yml",
                    "match:9464",
                    "match:9465",
                )
            },
            "match:9465",
        ),
        (
            "a scrape target that is no service",
            |r| {
                edit(
                    r,
                    "deploy/compose/prometheus.yml",
                    "sink:9464",
                    "sinks:9464",
                )
            },
            "no compose service \"sinks\"",
        ),
        (
            "a dependency on no service",
            |r| {
                edit(
                    r,
                    "deploy/compose/docker-compose.yml",
                    "      migrate:\n        condition: service_completed_successfully\n\n  # Reads",
                    "      migrat:\n        condition: service_completed_successfully\n\n  # Reads",
                )
            },
            "no service \"migrat\"",
        ),
        (
            "a missing dashboard",
            |r| std::fs::remove_file(r.join("deploy/grafana/dashboards/earshot.json")).unwrap(),
            "no dashboard in",
        ),
        (
            "an unprovisioned data source",
            |r| {
                edit(
                    r,
                    "deploy/compose/grafana/datasources.yaml",
                    "type: grafana-clickhouse-datasource",
                    "type: clickhouse",
                )
            },
            "needs a grafana-clickhouse-datasource data source",
        ),
        (
            "metrics only on loopback",
            |r| {
                edit(
                    r,
                    "deploy/compose/earshot.toml",
                    "metrics_addr = \"0.0.0.0:9464\"",
                    "metrics_addr = \"127.0.0.1:9464\"",
                )
            },
            "cannot reach",
        ),
        (
            "a healthcheck on another port",
            |r| {
                edit(
                    r,
                    "deploy/compose/docker-compose.yml",
                    "/dev/tcp/127.0.0.1/9464",
                    "/dev/tcp/127.0.0.1/9999",
                )
            },
            "does not probe the metrics port 9464",
        ),
        (
            "another entrypoint",
            |r| {
                edit(
                    r,
                    "Dockerfile",
                    "ENTRYPOINT [\"earshot\"]",
                    "ENTRYPOINT [\"/bin/sh\"]",
                )
            },
            "ENTRYPOINT",
        ),
        (
            "a root image",
            |r| edit(r, "Dockerfile", "USER earshot:earshot", "USER root"),
            "runs as root",
        ),
    ];
    let clean = copy();
    let baseline = deploy_check::problems(clean.path(), bin());
    assert!(
        baseline.is_empty(),
        "the copy itself: {}",
        baseline.join("\n")
    );
    for (what, break_it, expected) in cases {
        let tree = copy();
        break_it(tree.path());
        let problems = deploy_check::problems(tree.path(), bin());
        assert!(
            problems.iter().any(|p| p.contains(expected)),
            "{what}: expected a problem containing {expected:?}, got:\n{}",
            problems.join("\n")
        );
    }
}

/// The daemons' healthcheck, as the compose file writes it, against a real
/// `earshot match` serving its ops endpoints: it succeeds while the daemon
/// runs (even with Kafka down: `/health` is liveness) and fails once nothing
/// listens. The image has no curl, so the check is bash speaking HTTP/1.0
/// itself; this runs that exact script, only the port changed.
#[test]
fn issue_13_deploy_healthcheck_command_probes_a_real_daemon() {
    let text = std::fs::read_to_string(repo().join("deploy/compose/docker-compose.yml")).unwrap();
    let mut doc: serde_norway::Value = serde_norway::from_str(&text).unwrap();
    doc.apply_merge().unwrap();
    let test = deploy_check::strings(doc["services"]["match"]["healthcheck"].get("test"));
    assert_eq!(test[..3], ["CMD", "bash", "-c"], "{test:?}");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let script = test[3].replace("/9464", &format!("/{port}"));
    assert_ne!(script, test[3], "the healthcheck names port 9464");
    let probe = || {
        std::process::Command::new("bash")
            .args(["-c", &script])
            .status()
            .unwrap()
            .success()
    };

    // The compose config and the image's files, Kafka pointed at a closed port.
    let dir = tempfile::tempdir().unwrap();
    deploy_check::copy_dir(&repo().join("config"), dir.path()).unwrap();
    std::fs::copy(
        repo().join("deploy/compose/earshot.toml"),
        dir.path().join("earshot.toml"),
    )
    .unwrap();
    let mut daemon = std::process::Command::new(bin())
        .args(["--config", "earshot.toml", "match", "--metrics-addr"])
        .arg(format!("127.0.0.1:{port}"))
        .current_dir(dir.path())
        .env("EARSHOT_KAFKA_BROKERS", "127.0.0.1:1")
        .env("EARSHOT_LOG", "off")
        .env_remove("EARSHOT_CONFIG")
        .env_remove("EARSHOT_METRICS_ADDR")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let mut healthy = false;
    while !healthy && std::time::Instant::now() < deadline {
        assert!(daemon.try_wait().unwrap().is_none(), "earshot match exited");
        healthy = probe();
        if !healthy {
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
    daemon.kill().unwrap();
    daemon.wait().unwrap();
    assert!(
        healthy,
        "the healthcheck never succeeded against the running daemon"
    );
    assert!(!probe(), "the healthcheck succeeded with nothing listening");
}
