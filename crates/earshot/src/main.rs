//! `earshot`: the binary that wires Earshot's stages together.
//!
//! It only parses arguments, loads the configuration and dispatches to a
//! subcommand; every stage lives in its own crate (connectors, transport,
//! matcher, sink) or module here.

mod bundled;
mod check;
mod config;
mod daemon;
mod match_stage;
mod report;
mod run;
mod score;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

/// Social listening ingestion for Social CRM.
#[derive(Debug, Parser)]
#[command(name = "earshot", version, about, long_about = None)]
struct Cli {
    /// Configuration file (earshot.toml). Without it, the bundled default
    /// config is used: in-memory bus, SQLite store, example watchlist.
    #[arg(long, short, global = true, env = "EARSHOT_CONFIG")]
    config: Option<PathBuf>,

    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value = "text")]
    log_format: LogFormat,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Score posts from stdin (JSON Lines) and write one interaction per line to stdout.
    Score {
        /// Read one raw text per line instead of JSON posts.
        #[arg(long)]
        text: bool,
    },
    /// Validate the whole configuration and print every problem found.
    Check,
    /// Run every stage in one process (embedded default: in-memory bus and SQLite).
    Run {
        /// Keep running after the replay connectors finish (otherwise stop once
        /// every replayed post is stored, and print the report).
        #[arg(long)]
        follow: bool,
        /// One pass: polling connectors (feeds, APIs) fetch everything once,
        /// then the run ends as without `--follow`; streams are not started.
        #[arg(long, conflicts_with = "follow")]
        once: bool,
    },
    /// Daemon: consume raw posts, score them, produce interactions.
    Match,
    /// Daemon: run the configured connectors, producing raw posts.
    Connect,
    /// Daemon: consume interactions and store them (ClickHouse, SQLite or JSONL).
    Sink,
    /// Create or upgrade the store's schema (idempotent).
    Migrate,
    /// Print the PR dashboards as terminal tables.
    Report {
        /// Time window, e.g. `90m`, `24h`, `7d`.
        #[arg(long, default_value = "24h", value_parser = parse_duration)]
        since: Duration,
        /// Only this brand id.
        #[arg(long)]
        brand: Option<String>,
    },
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: u64 = n
        .parse()
        .map_err(|_| format!("`{s}`: expected a number followed by s, m, h or d"))?;
    let secs = match unit {
        "s" => n,
        "m" => n * 60,
        "h" | "" => n * 3600,
        "d" => n * 86_400,
        _ => {
            return Err(format!(
                "`{s}`: unknown unit `{unit}`, expected s, m, h or d"
            ))
        }
    };
    Ok(Duration::from_secs(secs))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    daemon::init_logging(matches!(cli.log_format, LogFormat::Json));
    match dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("earshot: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    let path = cli.config.as_deref();
    match cli.command {
        Command::Check => Ok(check::run(path)),
        Command::Score { text } => {
            let config = config::load(path)?;
            let matcher = config.matcher()?;
            let stdin = std::io::stdin().lock();
            let stdout = std::io::BufWriter::new(std::io::stdout().lock());
            let summary = score::run(&matcher, text, stdin, stdout)?;
            Ok(if summary.failed == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        command => {
            let config = config::load(path)?;
            daemon::runtime()?.block_on(async move {
                match command {
                    Command::Run { follow, once } => run::run(config, follow, once).await,
                    Command::Match => daemon::run_match(config).await,
                    Command::Connect => daemon::run_connect(config).await,
                    Command::Sink => daemon::run_sink(config).await,
                    Command::Migrate => {
                        let report = earshot_sink::migrate(&config.sink).await?;
                        println!("{report}");
                        Ok(())
                    }
                    Command::Report { since, brand } => {
                        report::run(
                            &config.sink,
                            since,
                            brand.as_deref(),
                            std::io::stdout().lock(),
                        )
                        .await
                    }
                    Command::Check | Command::Score { .. } => unreachable!("handled above"),
                }
            })?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("90m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("24h").unwrap(), Duration::from_secs(86_400));
        assert_eq!(parse_duration("7d").unwrap(), Duration::from_secs(604_800));
        assert!(parse_duration("1w").unwrap_err().contains("unknown unit"));
        assert!(parse_duration("h").is_err());
    }

    #[test]
    fn cli_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
