//! `earshot`: the binary that wires Earshot's stages together.
//!
//! It only parses arguments, loads the configuration and dispatches to a
//! subcommand; every stage lives in its own crate (connectors, transport,
//! matcher, sink) or module here.

mod alert;
mod authors;
mod bundled;
mod cases;
mod check;
mod config;
mod console;
mod conversations;
mod daemon;
mod dead_letters;
mod eval;
mod forget;
mod ops;
mod output;
mod reload;
mod report;
mod respond;
mod run;
mod train_context;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use clap::{Parser, Subcommand};

// Every stage hands posts between tasks and threads as many small, short-lived
// buffers; under glibc's allocator that cost about a third of `earshot run`'s
// CPU in malloc, free and consolidation (perf), and mimalloc's per-thread
// free lists cut it (benches/RESULTS.md, "Whole process"). Its `override`
// feature makes it the process's `malloc` too: librdkafka allocates each
// message on the producing thread and frees it on a broker thread, which
// cost 12 % of `earshot match`'s CPU in glibc's allocator (issue 11).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay` (the same number in its v2 and v3).
const MI_OPTION_PURGE_DELAY: std::ffi::c_int = 15;

unsafe extern "C" {
    /// mimalloc's public option setter (linked with the allocator above).
    fn mi_option_set(option: std::ffi::c_int, value: std::ffi::c_long);
}

/// How long mimalloc keeps freed memory before returning it to the OS, in
/// milliseconds, unless `MIMALLOC_PURGE_DELAY` says otherwise. Its default of
/// 1 s made `earshot match` return pages that a later batch needed again: a
/// drain of 100k posts purged 385 MiB and faulted it back in (the kernel
/// zeroing fresh pages was a quarter of the daemon's CPU; issue 11). 10 s
/// still did on a slower drain (the idle end of an arena outlives it); a
/// minute did not. Memory unused for that long still goes back, so a daemon
/// shrinks after a burst.
const PURGE_DELAY_MS: std::ffi::c_long = 60_000;

fn configure_allocator() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: a plain setter of a process-wide option, safe at any time.
        unsafe { mi_option_set(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS) };
    }
    if std::env::var_os("MIMALLOC_ALLOW_THP").is_none() {
        disable_transparent_huge_pages();
    }
}

/// Asks the kernel for no transparent huge pages in this process (Linux).
///
/// mimalloc asks for them on its arenas, so each first touch of an arena
/// page zeroed 2 MiB: with `earshot match` the kernel's `clear_page_erms`
/// was 8–10 % of the daemon's CPU and the peak RSS 135 MB (110 MB without);
/// `earshot run`'s peak RSS is 10 % lower without them (issue 11,
/// benches/RESULTS.md).
/// The prctl also covers a kernel set to `always`, where mimalloc's own
/// option would not. `MIMALLOC_ALLOW_THP=1` keeps huge pages.
#[cfg(target_os = "linux")]
fn disable_transparent_huge_pages() {
    // SAFETY: PR_SET_THP_DISABLE takes plain integers and only sets a flag
    // of this process's memory map; it fails harmlessly on old kernels.
    let _ = unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
}

#[cfg(not(target_os = "linux"))]
fn disable_transparent_huge_pages() {}

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
        /// Longest input line read; a longer one becomes an error line in its place.
        #[arg(long, default_value_t = earshot_scorer::lines::DEFAULT_MAX_LINE_BYTES)]
        max_line_bytes: usize,
        /// Threads scoring at once (default: one per core); output keeps input order.
        #[arg(long)]
        threads: Option<usize>,
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
        #[command(flatten)]
        ops: ops::OpsArgs,
        /// With `--follow`: serve the web console too (as `[console] enabled`).
        #[arg(long, requires = "follow")]
        console: bool,
    },
    /// Daemon: consume raw posts, score them, produce interactions.
    Match {
        #[command(flatten)]
        ops: ops::OpsArgs,
    },
    /// Daemon: run the configured connectors, producing raw posts. With
    /// `[connect] cursors = "kafka"`, the processes of one group share them.
    Connect {
        #[command(flatten)]
        ops: ops::OpsArgs,
        /// Copy the cursors and produced ids of the configured connectors
        /// from this SQLite cursor file into the group's cursor topic, then
        /// exit (once, when moving to `cursors = "kafka"`).
        #[arg(long, value_name = "FILE")]
        import_cursors: Option<std::path::PathBuf>,
    },
    /// Daemon: consume interactions and store them (ClickHouse, SQLite or JSONL).
    Sink {
        #[command(flatten)]
        ops: ops::OpsArgs,
    },
    /// Daemon: send interactions that need a person to the CRM as cases ([cases]).
    Cases {
        #[command(flatten)]
        ops: ops::OpsArgs,
    },
    /// Mark a post answered: it leaves the work queue (idempotent; the first
    /// response is the answer, every distinct one is logged).
    Respond {
        /// The post's id, as stored (`x:1790000000000000000`, `reddit:t3_abc`, ...).
        post_id: String,
        /// Who answered (an agent or team).
        #[arg(long, default_value_t = default_agent())]
        by: String,
        /// Where the answer was given (`x`, `email`, `phone`, ...).
        #[arg(long, default_value = "cli")]
        channel: String,
        /// Free text kept with the response.
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Create or upgrade the store's schema (idempotent).
    Migrate,
    /// Daemon: evaluate the `[alert]` rules every `alert.interval` and send
    /// what fires to the configured channels.
    Alert {
        /// Evaluate once, deliver, and exit (for cron and tests); exits 2 when
        /// a delivery failed every attempt.
        #[arg(long)]
        once: bool,
        #[command(flatten)]
        ops: ops::OpsArgs,
    },
    /// List the authors behind the posts: profiles by posts, or one author.
    Authors {
        /// Length of the window ending at `--until`, e.g. `7d`, `30d`.
        #[arg(long, default_value = "30d", value_parser = parse_duration)]
        since: Duration,
        /// End of the window (exclusive), as `report --until`. Default: now.
        #[arg(long, value_parser = parse_time)]
        until: Option<DateTime<Utc>>,
        /// Only this author, as NETWORK:HANDLE (`x:acme_fan`).
        #[arg(long)]
        author: Option<String>,
        /// Only authors posting about this brand or competitor id.
        #[arg(long)]
        brand: Option<String>,
        /// At most this many authors.
        #[arg(long, default_value_t = 20)]
        limit: u32,
        /// Every brand's advocates and detractors over the window, with the
        /// CRM accounts of each handle (`[cases.standings]` thresholds).
        #[arg(long)]
        standings: bool,
        /// With `--standings`: store them in the CRM-facing table
        /// `crm_standings` as the period named by `--since` (`30d`).
        #[arg(long, requires = "standings", conflicts_with_all = ["author", "brand"])]
        write: bool,
    },
    /// Forget an author or a CRM account: delete their posts, mentions,
    /// responses and case records, and never store them again.
    Forget {
        /// An author as NETWORK:HANDLE (`x:jane_doe`); repeatable.
        #[arg(long)]
        author: Vec<String>,
        /// A CRM account id: posts linked to it, and its handles in the export.
        #[arg(long)]
        customer: Option<String>,
        /// Do it (without: say what would be forgotten).
        #[arg(long)]
        yes: bool,
    },
    /// Evaluate the watchlist against labelled posts: precision, recall and
    /// F1 per brand and intent, sentiment accuracy, and every miss.
    Eval {
        /// JSON Lines of posts, each with a `labels` object
        /// (`entities`, `sentiment`, `intents`).
        #[arg(long)]
        labels: PathBuf,
        /// Show at most this many misses.
        #[arg(long, default_value_t = 50)]
        misses: usize,
    },
    /// Train the context model that decides bare names of brands with
    /// `context` from the whole post, and write it where
    /// `[matcher] context_model` points (a running matcher reloads it).
    TrainContext {
        #[command(flatten)]
        args: train_context::TrainArgs,
    },
    /// Show a thread's posts in order, the brand's own replies marked, and
    /// its time to first response.
    Thread {
        /// The thread's id (its first post's id), or any post's id in it.
        id: String,
    },
    /// Serve the web console: dashboards, the work queue and its actions,
    /// alerts, and the CRM's respond API (`[console]`).
    Console {
        /// Address to listen on (default: `[console] addr`, 127.0.0.1:8080).
        /// Beyond loopback it needs `[console] auth = "users"` or `"proxy"`.
        #[arg(long)]
        addr: Option<std::net::SocketAddr>,
        /// Print an argon2 hash of the password read from stdin, for
        /// `[[console.users]] password_hash`, and exit.
        #[arg(long)]
        hash_password: bool,
    },
    /// Print the PR dashboards as terminal tables.
    Report {
        /// Length of the window ending at `--until`, e.g. `90m`, `24h`, `7d`, `2w`.
        #[arg(long, default_value = "24h", value_parser = parse_duration)]
        since: Duration,
        /// End of the window (exclusive): `2026-11-22T21:10:00Z`, `2026-11-22 21:10`
        /// or `2026-11-22` (UTC), or Unix seconds as the dashboard queries' `{until}`.
        /// Default: now.
        #[arg(long, value_parser = parse_time)]
        until: Option<DateTime<Utc>>,
        /// Spike threshold factor k in mean + k·σ (the queries' `{k}`).
        #[arg(long, default_value_t = 3.0, value_parser = parse_k)]
        k: f64,
        /// Only this brand or competitor id (one the watchlist names).
        #[arg(long)]
        brand: Option<String>,
    },
}

/// An instant in UTC, in the forms `--until` documents.
fn parse_time(s: &str) -> Result<DateTime<Utc>, String> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, format) {
            return Ok(t.and_utc());
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d.and_time(NaiveTime::MIN).and_utc());
    }
    if let Some(t) = s
        .parse::<i64>()
        .ok()
        .and_then(|n| DateTime::from_timestamp(n, 0))
    {
        return Ok(t);
    }
    Err(format!(
        "`{s}`: expected a UTC time like 2026-11-22T21:10:00Z, 2026-11-22 21:10, 2026-11-22 or Unix seconds"
    ))
}

/// The agent named when `--by` is not given: the login name.
fn default_agent() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into())
}

fn parse_k(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(k) if k.is_finite() && k >= 0.0 => Ok(k),
        _ => Err(format!("`{s}`: expected a number ≥ 0, e.g. 3 or 2.5")),
    }
}

/// A window's length as `--since` takes it, in its largest whole unit
/// (`30d`, `36h`): the period name `authors --standings --write` stores.
fn period_name(d: Duration) -> String {
    let secs = d.as_secs();
    [(86_400, "d"), (3600, "h"), (60, "m")]
        .into_iter()
        .find(|(unit, _)| secs > 0 && secs.is_multiple_of(*unit))
        .map_or(format!("{secs}s"), |(unit, name)| {
            format!("{}{name}", secs / unit)
        })
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: u64 = n
        .parse()
        .map_err(|_| format!("`{s}`: expected a number followed by s, m, h, d or w"))?;
    let unit_secs: u64 = match unit {
        "s" => 1,
        "m" => 60,
        "h" | "" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => {
            return Err(format!(
                "`{s}`: unknown unit `{unit}`, expected s, m, h, d or w"
            ))
        }
    };
    n.checked_mul(unit_secs)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("`{s}`: too long"))
}

fn main() -> ExitCode {
    configure_allocator();
    let cli = Cli::parse();
    daemon::init_logging(matches!(cli.log_format, LogFormat::Json));
    match dispatch(cli) {
        Ok(code) => code,
        // The reader of stdout went away (`earshot check | head -1`): it has
        // what it wanted, so end quietly and successfully, as ripgrep does.
        Err(e) if output::is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            // Not `eprintln!`: with stderr closed too it would panic.
            let _ = writeln!(std::io::stderr(), "earshot: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    let path = cli.config.as_deref();
    match cli.command {
        Command::Check => Ok(check::run(path, std::io::stdout().lock())?),
        Command::Eval { labels, misses } => {
            let config = config::load(path)?.validated()?;
            eval::run(
                &config.matcher()?,
                &labels,
                misses,
                std::io::stdout().lock(),
            )?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Score {
            text,
            max_line_bytes,
            threads,
        } => {
            // Every command validates the whole config before acting, so a
            // section it does not use cannot be broken unnoticed.
            let config = config::load(path)?.validated()?;
            let matcher = config.matcher()?;
            let stdin = std::io::stdin().lock();
            let stdout = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout());
            let summary = earshot_scorer::lines::run(
                &matcher,
                earshot_scorer::lines::ScoreOptions {
                    text_mode: text,
                    max_line_bytes,
                    threads: threads.unwrap_or_else(|| {
                        std::thread::available_parallelism().map_or(1, |n| n.get())
                    }),
                },
                stdin,
                stdout,
            )?;
            Ok(if summary.failed == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        command => {
            let config = config::load(path)?.validated()?;
            daemon::runtime()?.block_on(async move {
                match command {
                    Command::Run {
                        follow,
                        once,
                        ops,
                        console,
                    } => {
                        let mut config = config;
                        config.console.enabled |= console;
                        run::run(config, follow, once, &ops).await
                    }
                    Command::Match { ops } => daemon::run_match(config, &ops).await,
                    Command::Connect {
                        ops,
                        import_cursors,
                    } => match import_cursors {
                        Some(file) => daemon::import_cursors(config, &file).await,
                        None => daemon::run_connect(config, &ops).await,
                    },
                    Command::Sink { ops } => daemon::run_sink(config, &ops).await,
                    Command::Alert { once, ops } => alert::run(config, once, &ops).await,
                    Command::Cases { ops } => cases::run(config, &ops).await,
                    Command::Forget {
                        author,
                        customer,
                        yes,
                    } => {
                        forget::run(
                            &config,
                            &author,
                            customer.as_deref(),
                            yes,
                            std::io::stdout().lock(),
                        )
                        .await
                    }
                    Command::Thread { id } => {
                        let own = conversations::own_accounts(&config.matcher()?);
                        conversations::thread(&config.sink, &own, &id, std::io::stdout().lock())
                            .await
                    }
                    Command::Authors {
                        since,
                        until,
                        author,
                        brand,
                        limit,
                        standings,
                        write,
                    } => {
                        if standings {
                            let until = until.unwrap_or_else(Utc::now);
                            let start = chrono::Duration::from_std(since)
                                .ok()
                                .and_then(|l| until.checked_sub_signed(l))
                                .ok_or_else(|| anyhow::anyhow!("--since: window too long"))?;
                            return authors::standings(
                                &config,
                                (start, until),
                                &period_name(since),
                                write,
                                std::io::stdout().lock(),
                            )
                            .await;
                        }
                        if let Some(brand) = &brand {
                            report::check_brand(&config.matcher()?, brand)?;
                        }
                        let until = until.unwrap_or_else(Utc::now);
                        let start = chrono::Duration::from_std(since)
                            .ok()
                            .and_then(|l| until.checked_sub_signed(l))
                            .ok_or_else(|| anyhow::anyhow!("--since: window too long"))?;
                        authors::run(
                            &config.sink,
                            &config.matcher()?,
                            (start, until),
                            author.as_deref(),
                            brand.as_deref(),
                            limit,
                            std::io::stdout().lock(),
                        )
                        .await
                    }
                    Command::Console {
                        hash_password: true,
                        ..
                    } => console::hash_password(std::io::stdin().lock(), std::io::stdout().lock()),
                    Command::Console { addr, .. } => console::run(config, addr).await,
                    Command::Respond {
                        post_id,
                        by,
                        channel,
                        note,
                    } => {
                        respond::run(
                            &config,
                            &post_id,
                            &by,
                            &channel,
                            &note,
                            std::io::stdout().lock(),
                        )
                        .await
                    }
                    Command::TrainContext { args } => {
                        train_context::run(&config, &args, std::io::stdout().lock()).await
                    }
                    Command::Migrate => {
                        let report = earshot_sink::migrate(&config.sink).await?;
                        writeln!(std::io::stdout().lock(), "{report}")?;
                        Ok(())
                    }
                    Command::Report {
                        since,
                        until,
                        k,
                        brand,
                    } => {
                        if let Some(brand) = &brand {
                            report::check_brand(&config.matcher()?, brand)?;
                        }
                        let until = until.unwrap_or_else(Utc::now);
                        let length = chrono::Duration::from_std(since)
                            .ok()
                            .and_then(|l| until.checked_sub_signed(l))
                            .ok_or_else(|| anyhow::anyhow!("--since: window too long"))?;
                        let mut params =
                            earshot_sink::ReportParams::between(length, until, brand.as_deref());
                        params.spike_k = k;
                        let own = conversations::own_accounts(&config.matcher()?);
                        report::run(&config.sink, &own, &params, None, std::io::stdout().lock())
                            .await
                    }
                    Command::Check | Command::Score { .. } | Command::Eval { .. } => {
                        unreachable!("handled above")
                    }
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
        assert_eq!(parse_duration("1w").unwrap(), Duration::from_secs(604_800));
        assert!(parse_duration("1y").unwrap_err().contains("unknown unit"));
        assert!(parse_duration("99999999999999999w").is_err());
        assert!(parse_duration("h").is_err());
    }

    #[test]
    fn until_parses_every_documented_form() {
        let t = parse_time("2026-11-22T21:10:00Z").unwrap();
        assert_eq!(t.timestamp(), 1_795_381_800);
        assert_eq!(parse_time("2026-11-22 21:10").unwrap(), t);
        assert_eq!(parse_time("1795381800").unwrap(), t);
        assert_eq!(
            parse_time("2026-11-22").unwrap(),
            parse_time("2026-11-22T00:00:00+00:00").unwrap()
        );
        assert!(parse_time("yesterday").is_err());
        assert_eq!(parse_k("2.5").unwrap(), 2.5);
        assert!(parse_k("-1").is_err() && parse_k("NaN").is_err());
    }

    #[test]
    fn cli_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
