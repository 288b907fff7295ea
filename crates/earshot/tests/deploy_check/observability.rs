//! The compose stack's Prometheus targets and Grafana provisioning.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_norway::Value;

use super::compose::{host_path, mounts, Daemon, FILE};
use super::{str_at, strings};

/// Every target Prometheus scrapes is a service, and an Earshot one on the
/// port its config serves; every Earshot daemon is scraped.
pub fn check_prometheus(
    dir: &Path,
    services: &serde_norway::Mapping,
    service_names: &BTreeSet<String>,
    daemons: &BTreeMap<String, Daemon>,
    out: &mut Vec<String>,
) {
    let Some((name, prom)) = services
        .iter()
        .find(|(_, s)| str_at(s, "image").is_some_and(|i| i.contains("prometheus")))
    else {
        return out.push(format!("{FILE}: no Prometheus service"));
    };
    let name = name.as_str().unwrap_or_default();
    let config = strings(prom.get("command"))
        .iter()
        .find_map(|a| a.strip_prefix("--config.file=").map(String::from))
        .unwrap_or_else(|| "/etc/prometheus/prometheus.yml".into());
    let Some(host) = host_path(dir, prom, &config) else {
        return out.push(format!(
            "{FILE}: services.{name} does not mount its {config}"
        ));
    };
    let doc: Value = match std::fs::read_to_string(&host)
        .map_err(|e| e.to_string())
        .and_then(|t| serde_norway::from_str(&t).map_err(|e| e.to_string()))
    {
        Ok(v) => v,
        Err(e) => return out.push(format!("{}: {e}", host.display())),
    };
    let mut scraped = BTreeSet::new();
    let jobs = doc
        .get("scrape_configs")
        .and_then(Value::as_sequence)
        .cloned()
        .unwrap_or_default();
    for job in &jobs {
        let statics = job
            .get("static_configs")
            .and_then(Value::as_sequence)
            .cloned()
            .unwrap_or_default();
        for target in statics.iter().flat_map(|s| strings(s.get("targets"))) {
            let Some((h, port)) = target.rsplit_once(':') else {
                out.push(format!("prometheus.yml: target {target:?} has no port"));
                continue;
            };
            if h == "localhost" || h == "127.0.0.1" {
                continue;
            }
            if !service_names.contains(h) {
                out.push(format!(
                    "prometheus.yml: target {target}: no compose service {h:?}"
                ));
                continue;
            }
            if let Some(d) = daemons.get(h) {
                scraped.insert(h.to_string());
                match d.metrics_port {
                    Some(p) if p.to_string() == port => {}
                    Some(p) => out.push(format!("prometheus.yml: target {target}, but `earshot {}` in {h} serves metrics on port {p}", d.subcommand)),
                    None => out.push(format!("prometheus.yml: target {target}, but {h} (`earshot {}`) serves no metrics", d.subcommand)),
                }
            }
        }
    }
    for (name, d) in daemons {
        if d.metrics_port.is_some() && !scraped.contains(name) {
            out.push(format!(
                "prometheus.yml: the daemon {name} (`earshot {}`) is not scraped",
                d.subcommand
            ));
        }
    }
}

/// Grafana's dashboard providers point at mounted directories holding the
/// dashboards, whose data sources are provisioned.
pub fn check_grafana(dir: &Path, services: &serde_norway::Mapping, out: &mut Vec<String>) {
    let Some((name, grafana)) = services
        .iter()
        .find(|(_, s)| str_at(s, "image").is_some_and(|i| i.contains("grafana")))
    else {
        return out.push(format!("{FILE}: no Grafana service"));
    };
    let name = name.as_str().unwrap_or_default();
    let at = format!("{FILE}: services.{name}");
    let mut uids = BTreeSet::new();
    let mut types = BTreeSet::new();
    let mut providers = Vec::new();
    for (src, dst) in mounts(grafana) {
        let host = dir.join(&src);
        let kind = if dst.starts_with("/etc/grafana/provisioning/datasources") {
            "datasources"
        } else if dst.starts_with("/etc/grafana/provisioning/dashboards") {
            "providers"
        } else {
            continue;
        };
        let Ok(doc) = std::fs::read_to_string(&host)
            .map_err(|e| e.to_string())
            .and_then(|t| serde_norway::from_str::<Value>(&t).map_err(|e| e.to_string()))
        else {
            out.push(format!("{at}: cannot read {src} as YAML"));
            continue;
        };
        for item in doc
            .get(kind)
            .and_then(Value::as_sequence)
            .cloned()
            .unwrap_or_default()
        {
            if kind == "datasources" {
                uids.extend(str_at(&item, "uid").map(String::from));
                types.extend(str_at(&item, "type").map(String::from));
            } else if let Some(path) = item.get("options").and_then(|o| str_at(o, "path")) {
                providers.push((src.clone(), path.to_string()));
            }
        }
    }
    if providers.is_empty() {
        out.push(format!("{at}: no dashboard provider is provisioned"));
    }
    for (file, path) in providers {
        let Some(host) = host_path(dir, grafana, &path) else {
            out.push(format!(
                "{at}: the dashboards of {file} ({path}) are not mounted"
            ));
            continue;
        };
        let dashboards: Vec<PathBuf> = std::fs::read_dir(&host)
            .map(|r| {
                r.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|x| x == "json"))
                    .collect()
            })
            .unwrap_or_default();
        if dashboards.is_empty() {
            out.push(format!(
                "{at}: no dashboard in {} (provisioned by {file} at {path})",
                host.display()
            ));
        }
        for d in dashboards {
            let text = std::fs::read_to_string(&d).unwrap_or_default();
            let Ok(json) = serde_json::from_str::<serde_json::Value>(&text) else {
                out.push(format!("{}: not JSON", d.display()));
                continue;
            };
            let mut used = BTreeSet::new();
            collect_uids(&json, &mut used);
            for uid in used.difference(&uids) {
                out.push(format!(
                    "{}: data source uid {uid:?} is not provisioned",
                    d.display()
                ));
            }
            // A `datasource` variable picks a provisioned data source of its plugin type.
            let variables = json["templating"]["list"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            for v in variables.iter().filter(|v| v["type"] == "datasource") {
                let plugin = v["query"].as_str().unwrap_or_default();
                if !types.contains(plugin) {
                    out.push(format!(
                        "{}: variable {} needs a {plugin} data source; none is provisioned",
                        d.display(),
                        v["name"]
                    ));
                }
            }
        }
    }
}

/// Fixed data source uids a dashboard names (`${datasource}` variables resolve at run time).
fn collect_uids(v: &serde_json::Value, into: &mut BTreeSet<String>) {
    match v {
        serde_json::Value::Object(m) => {
            if let Some(serde_json::Value::Object(ds)) = m.get("datasource") {
                if let Some(uid) = ds.get("uid").and_then(|u| u.as_str()) {
                    if !uid.starts_with('$') {
                        into.insert(uid.to_string());
                    }
                }
            }
            m.values().for_each(|x| collect_uids(x, into));
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| collect_uids(x, into)),
        _ => {}
    }
}
