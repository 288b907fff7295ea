//! The consistency check behind `tests/deploy.rs`: reads the deployment files
//! of a source tree (the repository, or a deliberately broken copy of it) and
//! lists every place where they drift from the binary or from each other.
//!
//! Files read, relative to the tree's root: `Dockerfile`,
//! `deploy/compose/docker-compose.yml` (with `.env.example` as its `.env`),
//! the Prometheus config and Grafana provisioning it mounts, and
//! `deploy/systemd/*.service`. The binary is the one Cargo built for the tests.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_norway::Value;

mod compose;
mod dockerfile;
mod observability;

pub use dockerfile::Dockerfile;

/// Subcommands that run once and exit; every other one is a daemon that
/// serves `/metrics` and `/health` and must have a healthcheck.
pub const ONE_SHOT: &[&str] = &["migrate", "check", "report", "score", "run", "respond"];

/// Everything found wrong in the tree at `root`, each naming the file and what drifted.
pub fn problems(root: &Path, bin: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let docker = match Dockerfile::read(&root.join("Dockerfile")) {
        Ok(d) => d,
        Err(e) => return vec![e],
    };
    docker.check(root, bin, &mut out);
    compose::check(root, bin, &docker, &mut out);
    check_systemd(root, bin, &mut out);
    out
}

/// Whether the binary accepts `args` (subcommand and flags): clap parses
/// everything before `--help` and refuses an unknown subcommand, flag or value.
pub fn accepted(bin: &Path, args: &[String]) -> Result<(), String> {
    let out = Command::new(bin)
        .args(args)
        .arg("--help")
        .env_remove("EARSHOT_CONFIG")
        .output()
        .map_err(|e| format!("running {}: {e}", bin.display()))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

/// The subcommand of an invocation: the first argument that is neither a
/// flag nor a global flag's value.
pub fn subcommand(args: &[String]) -> Option<&str> {
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        if a == "--config" || a == "-c" || a == "--log-format" || a == "--metrics-addr" {
            i += 2;
        } else if a.starts_with('-') {
            i += 1;
        } else {
            return Some(a);
        }
    }
    None
}

/// The value of flag `name` in `args` (`--name V` or `--name=V`).
pub fn flag<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.iter().enumerate().find_map(|(i, a)| {
        if a == name {
            args.get(i + 1).map(String::as_str)
        } else {
            a.strip_prefix(name).and_then(|rest| rest.strip_prefix('='))
        }
    })
}

/// Runs `earshot --config FILE check` in FILE's directory with `env`.
pub fn config_passes_check(
    bin: &Path,
    config: &Path,
    env: &BTreeMap<String, String>,
) -> Result<(), String> {
    let out = Command::new(bin)
        .arg("--config")
        .arg(config)
        .arg("check")
        .current_dir(config.parent().unwrap())
        .env_remove("EARSHOT_CONFIG")
        .env_remove("EARSHOT_KAFKA_BROKERS")
        .env_remove("EARSHOT_CLICKHOUSE_URL")
        .envs(env.iter().filter(|(k, _)| *k != "EARSHOT_CONFIG"))
        .output()
        .map_err(|e| format!("running {}: {e}", bin.display()))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// The default ops port of each daemon when nothing sets one (on 127.0.0.1).
const DEFAULT_PORTS: &[(&str, u16)] = &[
    ("run", 9460),
    ("connect", 9461),
    ("match", 9462),
    ("sink", 9463),
    ("alert", 9464),
];

/// Where the daemon `sub` with config `config`, arguments `args` and
/// environment `env` serves `/metrics` and `/health`, as `(host, port)`:
/// `--metrics-addr`, else `EARSHOT_METRICS_ADDR`, else `[ops] metrics_addr`,
/// else the daemon's default port on 127.0.0.1; `None` when it is `off`.
pub fn metrics_addr(
    config: &Path,
    args: &[String],
    env: &BTreeMap<String, String>,
    sub: &str,
) -> Result<Option<(String, u16)>, String> {
    let configured = match flag(args, "--metrics-addr") {
        Some(a) => Some(a.to_string()),
        None => match env.get("EARSHOT_METRICS_ADDR") {
            Some(a) => Some(a.clone()),
            None => {
                let text = std::fs::read_to_string(config)
                    .map_err(|e| format!("{}: {e}", config.display()))?;
                let doc: toml::Table = text
                    .parse()
                    .map_err(|e| format!("{}: {e}", config.display()))?;
                doc.get("ops")
                    .and_then(|o| o.get("metrics_addr"))
                    .and_then(|a| a.as_str())
                    .map(String::from)
            }
        },
    };
    let Some(addr) = configured else {
        return Ok(DEFAULT_PORTS
            .iter()
            .find(|(s, _)| *s == sub)
            .map(|(_, p)| ("127.0.0.1".to_string(), *p)));
    };
    if addr == "off" {
        return Ok(None);
    }
    // A bare port (`9464` or `:9464`) means 127.0.0.1.
    let (host, port) = addr.rsplit_once(':').unwrap_or(("", &addr));
    let port = port
        .parse()
        .map_err(|_| format!("metrics address {addr:?} has no port"))?;
    let host = if host.is_empty() { "127.0.0.1" } else { host };
    Ok(Some((host.to_string(), port)))
}

/// Whether a listener on `host` is reachable only from inside its own container.
pub fn loopback(host: &str) -> bool {
    host == "localhost" || host.starts_with("127.") || host == "[::1]" || host == "::1"
}

/// Copies the directory `from` into `to` (created), recursively.
pub fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let dest = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &dest)?;
        } else {
            std::fs::copy(entry.path(), dest)?;
        }
    }
    Ok(())
}

/// Every `ExecStart` of `deploy/systemd/*.service` runs an `earshot` the binary accepts.
fn check_systemd(root: &Path, bin: &Path, out: &mut Vec<String>) {
    let dir = root.join("deploy/systemd");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        out.push(format!("{}: missing", dir.display()));
        return;
    };
    let mut units: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "service"))
        .collect();
    units.sort();
    for unit in units {
        let name = unit.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&unit).unwrap_or_default();
        let starts: Vec<&str> = text
            .lines()
            .filter_map(|l| l.trim().strip_prefix("ExecStart="))
            .collect();
        if starts.is_empty() {
            out.push(format!("deploy/systemd/{name}: no ExecStart"));
        }
        for line in starts {
            let mut words = line.split_whitespace().map(String::from);
            let program = words.next().unwrap_or_default();
            let args: Vec<String> = words.collect();
            if !program.ends_with("/earshot") {
                out.push(format!(
                    "deploy/systemd/{name}: ExecStart runs {program}, not earshot"
                ));
                continue;
            }
            if let Err(e) = accepted(bin, &args) {
                out.push(format!(
                    "deploy/systemd/{name}: `earshot {}` is refused by the binary: {e}",
                    args.join(" ")
                ));
            }
            if subcommand(&args).is_none() {
                out.push(format!(
                    "deploy/systemd/{name}: ExecStart names no subcommand"
                ));
            }
        }
    }
}

/// A YAML mapping's entry `key` as a string, if it is one.
pub fn str_at<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// A YAML list of scalars (or one scalar) as strings.
pub fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Sequence(items)) => items
            .iter()
            .filter_map(|i| match i {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                Value::Bool(b) => Some(b.to_string()),
                _ => None,
            })
            .collect(),
        Some(Value::String(s)) => s.split_whitespace().map(String::from).collect(),
        _ => Vec::new(),
    }
}

/// The keys of a YAML mapping, or the items of a YAML list (`depends_on`'s two forms).
pub fn names(v: Option<&Value>) -> BTreeSet<String> {
    match v {
        Some(Value::Mapping(m)) => m
            .keys()
            .filter_map(|k| k.as_str().map(String::from))
            .collect(),
        Some(Value::Sequence(_)) => strings(v).into_iter().collect(),
        _ => BTreeSet::new(),
    }
}
