//! `deploy/compose/docker-compose.yml` against the binary, its mounted
//! config, Prometheus's targets and Grafana's provisioning.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_norway::Value;

use super::{
    accepted, config_passes_check, loopback, metrics_addr, names, str_at, strings, subcommand,
    Dockerfile, ONE_SHOT,
};

pub const FILE: &str = "deploy/compose/docker-compose.yml";

/// A bind mount or named volume of a service: `(source, target)`.
pub fn mounts(service: &Value) -> Vec<(String, String)> {
    strings(service.get("volumes"))
        .into_iter()
        .filter_map(|v| {
            let mut parts = v.splitn(3, ':');
            Some((parts.next()?.to_string(), parts.next()?.to_string()))
        })
        .collect()
}

/// The host path bind-mounted at container path `target`, or under a
/// directory mount that covers it.
pub fn host_path(compose_dir: &Path, service: &Value, target: &str) -> Option<PathBuf> {
    mounts(service)
        .into_iter()
        .filter(|(src, _)| src.starts_with('.') || src.starts_with('/'))
        .find_map(|(src, dst)| {
            let rest = target.strip_prefix(dst.trim_end_matches('/'))?;
            match rest {
                "" => Some(compose_dir.join(&src)),
                r if r.starts_with('/') => Some(compose_dir.join(&src).join(&r[1..])),
                _ => None,
            }
        })
}

/// `${VAR}`, `${VAR:-default}`, `${VAR:?message}` and `$VAR`, from `env`
/// (the `.env`); an unset `:?` variable is a problem.
fn interpolate(text: &str, env: &BTreeMap<String, String>) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(inner) = after.strip_prefix('{') {
            let end = inner
                .find('}')
                .ok_or_else(|| format!("unclosed ${{ in {text:?}"))?;
            let expr = &inner[..end];
            let value = if let Some((n, default)) = expr.split_once(":-") {
                env.get(n)
                    .filter(|v| !v.is_empty())
                    .cloned()
                    .unwrap_or(default.to_string())
            } else if let Some((n, msg)) = expr.split_once(":?") {
                match env.get(n).filter(|v| !v.is_empty()) {
                    Some(v) => v.clone(),
                    None => {
                        return Err(format!(
                            "${{{n}}} is required ({msg}) but .env.example has no value for it"
                        ))
                    }
                }
            } else {
                env.get(expr).cloned().unwrap_or_default()
            };
            out.push_str(&value);
            rest = &inner[end + 1..];
        } else if let Some(stripped) = after.strip_prefix('$') {
            out.push('$');
            rest = stripped;
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            out.push_str(env.get(&after[..end]).map_or("", String::as_str));
            rest = &after[end..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// `KEY=value` lines of an env file.
fn env_file(path: &Path) -> Result<BTreeMap<String, String>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect())
}

/// A service's environment, interpolated.
fn environment(
    service: &Value,
    dotenv: &BTreeMap<String, String>,
    name: &str,
    out: &mut Vec<String>,
) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    if let Some(Value::Mapping(m)) = service.get("environment") {
        for (k, v) in m {
            let (Some(k), v) = (k.as_str(), v) else {
                continue;
            };
            let raw = match v {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                _ => String::new(),
            };
            match interpolate(&raw, dotenv) {
                Ok(v) => {
                    env.insert(k.to_string(), v);
                }
                Err(e) => out.push(format!("{FILE}: services.{name}.environment.{k}: {e}")),
            }
        }
    }
    env
}

/// `earshot SUB --help`.
fn help(bin: &Path, sub: &str) -> String {
    std::process::Command::new(bin)
        .args([sub, "--help"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

/// What the compose file says about one Earshot service.
pub struct Daemon {
    /// Its subcommand.
    pub subcommand: String,
    /// The port it serves `/metrics` on, if it is a daemon that does.
    pub metrics_port: Option<u16>,
}

/// Every compose check; see the module doc of `tests/deploy.rs`.
pub fn check(root: &Path, bin: &Path, docker: &Dockerfile, out: &mut Vec<String>) {
    let dir = root.join("deploy/compose");
    let doc: Value = match std::fs::read_to_string(root.join(FILE))
        .map_err(|e| e.to_string())
        .and_then(|t| serde_norway::from_str(&t).map_err(|e| e.to_string()))
    {
        Ok(mut v) => {
            if let Err(e) = Value::apply_merge(&mut v) {
                out.push(format!("{FILE}: {e}"));
            }
            v
        }
        Err(e) => return out.push(format!("{FILE}: {e}")),
    };
    let dotenv = match env_file(&dir.join(".env.example")) {
        Ok(e) => e,
        Err(e) => return out.push(e),
    };
    let Some(Value::Mapping(services)) = doc.get("services") else {
        return out.push(format!("{FILE}: no services"));
    };
    let service_names: BTreeSet<String> = services
        .keys()
        .filter_map(|k| k.as_str().map(String::from))
        .collect();
    let volumes = names(doc.get("volumes"));
    let mut daemons: BTreeMap<String, Daemon> = BTreeMap::new();

    for (name, service) in services {
        let name = name.as_str().unwrap_or_default();
        let at = format!("{FILE}: services.{name}");
        let healthy = service
            .get("healthcheck")
            .is_some_and(|h| h.get("disable").and_then(Value::as_bool) != Some(true));

        // depends_on: existing services, valid conditions.
        for target in names(service.get("depends_on")) {
            if !service_names.contains(&target) {
                out.push(format!("{at}.depends_on: no service {target:?}"));
                continue;
            }
            let condition = service
                .get("depends_on")
                .and_then(|d| d.get(target.as_str()))
                .and_then(|d| str_at(d, "condition"))
                .unwrap_or("service_started");
            let other = &services[target.as_str()];
            match condition {
                "service_started" => {}
                "service_healthy" if other.get("healthcheck").is_some_and(|h| h.get("disable").and_then(Value::as_bool) != Some(true)) => {}
                "service_healthy" => out.push(format!(
                    "{at}.depends_on.{target}: service_healthy, but {target} has no healthcheck"
                )),
                "service_completed_successfully" if matches!(str_at(other, "restart"), Some("always" | "unless-stopped")) => out.push(format!(
                    "{at}.depends_on.{target}: service_completed_successfully, but {target} restarts after it exits"
                )),
                "service_completed_successfully" => {}
                c => out.push(format!("{at}.depends_on.{target}: unknown condition {c:?}")),
            }
        }

        // Volumes: bind-mounted host paths exist, named volumes are declared.
        for (src, dst) in mounts(service) {
            if src.starts_with('.') || src.starts_with('/') {
                if !dir.join(&src).exists() {
                    out.push(format!(
                        "{at}.volumes: {src} (mounted at {dst}) does not exist"
                    ));
                }
            } else if !volumes.contains(&src) {
                out.push(format!(
                    "{at}.volumes: named volume {src:?} is not declared"
                ));
            }
        }

        // Every `${VAR:?}` must have its value in .env.example.
        let env = environment(service, &dotenv, name, out);

        // Earshot services: the image built from the Dockerfile.
        let is_earshot = service.get("build").is_some()
            || str_at(service, "image").is_some_and(|i| i.starts_with("earshot"));
        if !is_earshot {
            continue;
        }
        let args = strings(service.get("command"));
        let args = if args.is_empty() {
            docker.cmd.clone()
        } else {
            args
        };
        if let Some(entry) = service.get("entrypoint") {
            out.push(format!(
                "{at}: overrides the image's entrypoint ({entry:?})"
            ));
        }
        if let Err(e) = accepted(bin, &args) {
            out.push(format!(
                "{at}.command `earshot {}` is refused by the binary: {e}",
                args.join(" ")
            ));
            continue;
        }
        let Some(sub) = subcommand(&args).map(String::from) else {
            out.push(format!("{at}.command names no subcommand"));
            continue;
        };
        let config = super::flag(&args, "--config")
            .map(String::from)
            .or_else(|| env.get("EARSHOT_CONFIG").cloned())
            .or_else(|| docker.config_path().map(String::from));
        let Some(config) = config else {
            out.push(format!(
                "{at}: no config (no --config, EARSHOT_CONFIG or image default)"
            ));
            continue;
        };
        // The container's /etc/earshot: the image's files, then the service's mounts.
        let image = tempfile::tempdir().unwrap();
        if let Err(e) = docker.layout(root, image.path()) {
            out.push(e);
            continue;
        }
        let file = image.path().join(config.trim_start_matches('/'));
        if let Some(host) = host_path(&dir, service, &config) {
            if !host.is_file() {
                out.push(format!(
                    "{at}: config {config} is mounted from {}, which is not a file",
                    host.display()
                ));
                continue;
            }
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::copy(&host, &file).unwrap();
        }
        if !file.is_file() {
            out.push(format!(
                "{at}: config {config} is neither mounted nor in the image"
            ));
            continue;
        }
        if let Err(e) = config_passes_check(bin, &file, &env) {
            out.push(format!("{at}: its config {config} fails `earshot check` with the service's environment: {e}"));
            continue;
        }
        let addr = match metrics_addr(&file, &args, &env, &sub) {
            Ok(a) => a,
            Err(e) => {
                out.push(format!("{at}: {e}"));
                None
            }
        };
        let daemon = !ONE_SHOT.contains(&sub.as_str());
        let port = addr.as_ref().map(|(_, p)| *p);
        // A daemon with an ops server takes `--metrics-addr`; one without
        // would ignore [ops] and leave Prometheus and the healthcheck nothing.
        if daemon && !help(bin, &sub).contains("--metrics-addr") {
            out.push(format!(
                "{at}: `earshot {sub}` has no ops server (its --help lists no --metrics-addr)"
            ));
        }
        if daemon {
            match addr {
                None => out.push(format!(
                    "{at}: daemon `{sub}` serves no metrics ([ops] metrics_addr or --metrics-addr is off)"
                )),
                Some((host, _)) if loopback(&host) => out.push(format!(
                    "{at}: daemon `{sub}` serves its metrics on {host}, which Prometheus in another container cannot reach (set [ops] metrics_addr = \"0.0.0.0:PORT\")"
                )),
                Some((_, port)) => {
                    let test = strings(service.get("healthcheck").and_then(|h| h.get("test"))).join(" ");
                    if !healthy {
                        out.push(format!("{at}: daemon `{sub}` has no healthcheck"));
                    } else if !test.contains(&format!("/{port}")) && !test.contains(&format!(":{port}")) {
                        out.push(format!("{at}.healthcheck does not probe the metrics port {port}: {test}"));
                    }
                }
            }
            if !matches!(
                str_at(service, "restart"),
                Some("always" | "unless-stopped" | "on-failure")
            ) {
                out.push(format!("{at}: daemon `{sub}` has no restart policy"));
            }
        }
        daemons.insert(
            name.to_string(),
            Daemon {
                subcommand: sub,
                metrics_port: if daemon { port } else { None },
            },
        );
    }

    super::observability::check_prometheus(&dir, services, &service_names, &daemons, out);
    super::observability::check_grafana(&dir, services, out);
}
