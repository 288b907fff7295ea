//! `earshot check`: validate a whole configuration and print every problem.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

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
    let matcher = match config.matcher() {
        Ok(m) => Some(m),
        Err(e) => {
            problems.extend(e.0);
            None
        }
    };
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
