//! `earshot check`: validate a whole configuration and print every problem.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::bundled;
use crate::config;

/// Writes every problem found in the configuration at `path` (or the bundled
/// one) to `out`; exits 0 when there are none, 1 otherwise. Write errors
/// (a closed pipe) are returned, not panicked on.
pub fn run(path: Option<&Path>, mut out: impl Write) -> std::io::Result<ExitCode> {
    let config = match config::load(path) {
        Ok(c) => c,
        Err(e) => {
            writeln!(out, "{e:#}")?;
            out.flush()?;
            return Ok(ExitCode::FAILURE);
        }
    };
    let mut problems = config.validate();
    let (missing, written_by_run) = replay_files(&config);
    problems.extend(missing);
    let matcher = match config.matcher() {
        Ok(m) => Some(m),
        Err(e) => {
            problems.extend(e.0);
            None
        }
    };
    if let Some(m) = &matcher {
        // `[alert]` names brands by id: they must be the watchlist's.
        let known: Vec<&str> = m.brand_ids().collect();
        let unknown = config.alert.unknown_brands(&known);
        problems.extend(
            unknown
                .into_iter()
                .map(|(k, msg)| format!("{}: {k}: {msg}", config.name)),
        );
    }
    if problems.is_empty() {
        let m = matcher.expect("compiled when there are no problems");
        writeln!(
            out,
            "{}: OK (watchlist version {})",
            config.name,
            m.version()
        )?;
        writeln!(
            out,
            "  transport: {}",
            match &config.transport.kafka {
                Some(k) => format!("kafka at {}", k.brokers),
                None => "in-memory (embedded)".into(),
            }
        )?;
        writeln!(out, "  sink: {:?}", config.sink.kind)?;
        // The names analysts define (intents.toml, routes.toml), as the
        // cases, alerts and console filters must name them.
        let labels = m.labels();
        let list = |names: Vec<String>| {
            if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            }
        };
        writeln!(
            out,
            "  intents: {}",
            list(labels.intents.iter().map(ToString::to_string).collect())
        )?;
        writeln!(
            out,
            "  routes: {}",
            list(labels.routes.iter().map(ToString::to_string).collect())
        )?;
        let names: Vec<String> = config
            .connect
            .connectors
            .iter()
            .map(|c| format!("{} ({})", c.name, c.source.kind()))
            .collect();
        writeln!(
            out,
            "  connectors: {}",
            if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            }
        )?;
        // Not problems, but worth seeing before a run: a CRM export's
        // columns that are kept as attributes rather than read as handles.
        for n in m.notices() {
            writeln!(out, "  note: {n}")?;
        }
        for (connector, path) in &written_by_run {
            writeln!(
                out,
                "  connector {connector}: {} need not exist yet: `earshot run` writes the bundled sample posts there",
                path.display()
            )?;
        }
        out.flush()?;
        Ok(ExitCode::SUCCESS)
    } else {
        writeln!(out, "{}: {} problem(s)", config.name, problems.len())?;
        for p in &problems {
            writeln!(out, "  {p}")?;
        }
        out.flush()?;
        Ok(ExitCode::FAILURE)
    }
}

/// The replay inputs of enabled `file` connectors (relative to the working
/// directory, as the connector reads them): the missing ones as problems,
/// and those under the bundled samples' directory, which `earshot run`
/// creates itself, as `(connector name, path)`. The matcher's files
/// (watchlists, lexicons, intents, routes) are read, hence checked, by
/// [`config::Config::matcher`].
fn replay_files(config: &config::Config) -> (Vec<String>, Vec<(String, PathBuf)>) {
    let mut missing = Vec::new();
    let mut written_by_run = Vec::new();
    for (i, c) in config.connect.connectors.iter().enumerate() {
        let earshot_connect::SourceConfig::File(file) = &c.source else {
            continue;
        };
        if !c.enabled {
            continue;
        }
        for (j, path) in file.paths.iter().enumerate() {
            if bundled::is_sample_path(path) {
                written_by_run.push((c.name.clone(), path.clone()));
            } else if let Err(e) = std::fs::metadata(path) {
                missing.push(format!(
                    "{}: connectors[{i}].paths[{j}]: {}: {e} (replay paths are relative to the working directory, {})",
                    config.name,
                    path.display(),
                    std::env::current_dir().map_or_else(|_| "?".into(), |d| d.display().to_string())
                ));
            }
        }
    }
    (missing, written_by_run)
}
