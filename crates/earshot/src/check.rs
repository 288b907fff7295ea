//! `earshot check`: validate a whole configuration and print every problem.

use std::path::Path;
use std::process::ExitCode;

use crate::config;

/// Prints every problem found in the configuration at `path` (or the bundled
/// one); exits 0 when there are none, 1 otherwise.
pub fn run(path: Option<&Path>) -> ExitCode {
    let config = match config::load(path) {
        Ok(c) => c,
        Err(e) => {
            println!("{e:#}");
            return ExitCode::FAILURE;
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
        println!("{}: OK (watchlist version {})", config.name, m.version());
        println!(
            "  transport: {}",
            match &config.transport.kafka {
                Some(k) => format!("kafka at {}", k.brokers),
                None => "in-memory (embedded)".into(),
            }
        );
        println!("  sink: {:?}", config.sink.kind);
        let names: Vec<String> = config
            .connect
            .connectors
            .iter()
            .map(|c| format!("{} ({})", c.name, c.source.kind()))
            .collect();
        println!(
            "  connectors: {}",
            if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            }
        );
        ExitCode::SUCCESS
    } else {
        println!("{}: {} problem(s)", config.name, problems.len());
        for p in &problems {
            println!("  {p}");
        }
        ExitCode::FAILURE
    }
}
