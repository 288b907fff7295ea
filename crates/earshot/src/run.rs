//! `earshot run`: every stage in one process.
//!
//! With no `[transport.kafka]` the stages talk over the in-memory bus, and the
//! bundled config replays the bundled sample posts into the embedded SQLite
//! store, so a newcomer sees the whole pipeline work with one command.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use earshot_match::SharedMatcher;
use earshot_transport::{Bus, MemoryBus};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::bundled;
use crate::config::Config;
use crate::daemon;

/// Runs connectors, matcher and sink together. Unless `follow`, stops once the
/// connectors are done and every record is stored, then prints the report.
/// `once` makes polling connectors fetch once (`[connect] once`), so that
/// a run with feeds ends too.
pub async fn run(
    mut config: Config,
    follow: bool,
    once: bool,
    ops: &crate::ops::OpsArgs,
) -> anyhow::Result<()> {
    let shutdown = daemon::shutdown_on_signal();
    if once {
        config.connect.connect.once = true;
    }
    // The bundled samples are written by the run itself, for the bundled
    // config and for any file (`--config config/earshot.toml`) whose replay
    // connector reads them, so both behave the same.
    let samples = if replays_bundled_samples(&config) {
        let shift = bundled::write_samples(
            std::path::Path::new(bundled::SAMPLES_DIR),
            chrono::Utc::now(),
        )
        .context("cannot write the bundled sample posts")?;
        tracing::info!(%shift, dir = bundled::SAMPLES_DIR, "bundled samples written");
        Some(shift)
    } else {
        None
    };
    let config = config.validated()?;
    if config.connect.connect.cursors == earshot_connect::share::CursorsKind::Kafka {
        anyhow::bail!(
            "{}: connect.cursors = \"kafka\" shares connectors between `earshot connect` processes; \
             `earshot run` is one process and keeps its cursors in SQLite (set cursors = \"sqlite\")",
            config.name
        );
    }
    // Served by default only by a run that keeps going.
    let mut groups = vec![
        config.match_stage.group.as_str(),
        config.sink.group.as_str(),
    ];
    if config.cases.enabled {
        groups.push(config.cases.group.as_str());
    }
    let _ops =
        daemon::start_ops(crate::ops::Daemon::Run, follow, ops, &config, true, &groups).await?;
    let (compiled, watched) = config.matcher_and_files()?;
    let matcher = Arc::new(SharedMatcher::new(compiled));
    crate::ops::watchlist_loaded(None, matcher.load().version());
    let migration = earshot_sink::migrate(&config.sink).await?;
    earshot_transport::readiness().pass(earshot_transport::ready::STORE);
    tracing::info!(%migration, "store ready");

    // RAM is not durable: in the embedded mode a produce resolves only once
    // the next stage acknowledged it, and the sink acknowledges only after
    // the store committed, so a connector's cursor, dedup record and a
    // webhook's 202 all mean "in the store" (issue 12). This also bounds how
    // far a source runs ahead of the store.
    let topics = &config.transport.topics;
    let memory = config.transport.kafka.is_none().then(|| {
        let mut groups = vec![
            (topics.raw.as_str(), config.match_stage.group.as_str()),
            (topics.scored.as_str(), config.sink.group.as_str()),
        ];
        // A post's acknowledgement then also means "its case is recorded".
        if config.cases.enabled {
            groups.push((topics.scored.as_str(), config.cases.group.as_str()));
        }
        // A dead letter is acknowledged once it is kept in the store.
        if config.sink.kind == earshot_sink::SinkKind::Sqlite {
            groups.push((topics.dead_letter.as_str(), crate::dead_letters::GROUP));
        }
        MemoryBus::end_to_end(groups)
    });
    let mut sink_config = config.sink.clone();
    // Producers wait for the store here, so batching by age only adds latency.
    sink_config.batch.flush_when_idle = memory.is_some();
    let bus: Arc<dyn Bus> = match &memory {
        Some(m) => {
            m.ensure_topics(&config.transport.topics.specs()).await?;
            earshot_transport::readiness().pass(earshot_transport::ready::BROKER);
            Arc::new(m.clone())
        }
        None => match daemon::daemon_bus(&config, "run", &shutdown).await? {
            Some(bus) => bus,
            None => return Ok(()),
        },
    };
    if follow {
        tokio::spawn(crate::reload::run(
            config.path.clone(),
            matcher.clone(),
            watched,
            shutdown.clone(),
        ));
    }
    if follow && config.console.enabled {
        crate::console::spawn(&config, matcher.clone(), shutdown.clone()).await?;
    }
    let stages = CancellationToken::new();
    let tracker = TaskTracker::new();
    let started = Instant::now();

    let (b, t, m, c, s) = (
        bus.clone(),
        config.transport.topics.clone(),
        matcher.clone(),
        config.match_stage.clone(),
        stages.clone(),
    );
    let match_task = tracker.spawn(async move { earshot_scorer::run(b, &t, m, &c, s).await });
    let (b, t, c, s) = (
        bus.clone(),
        config.transport.topics.clone(),
        sink_config,
        stages.clone(),
    );
    let sink_task = tracker.spawn(async move { earshot_sink::run(b, &t, &c, s).await });
    let (b, t, c, s) = (
        bus.clone(),
        config.transport.topics.clone(),
        config.connect.clone(),
        stages.clone(),
    );
    let dead_letter_task = match (&memory, config.sink.kind) {
        (Some(_), earshot_sink::SinkKind::Sqlite) => {
            let store = earshot_sink::sqlite::SqliteStore::open(&config.sink.sqlite.path)?;
            let (b, t, s) = (bus.clone(), topics.dead_letter.clone(), stages.clone());
            Some(tracker.spawn(async move { crate::dead_letters::keep(b, t, store, s).await }))
        }
        _ => None,
    };
    let cases_task = match config.cases.enabled {
        // Checked before anything runs: in the embedded mode the other
        // stages' acknowledgements wait for the case maker.
        true => {
            let maker =
                earshot_cases::CaseMaker::new(&config.cases, &config.sink, stages.clone()).await?;
            let (b, t) = (bus.clone(), config.transport.topics.clone());
            if follow {
                tokio::spawn(crate::authors::refresh_standings_until(
                    config.clone(),
                    stages.clone(),
                ));
            }
            Some(tracker.spawn(async move { maker.run(b, &t).await }))
        }
        false => None,
    };
    let mut connect_task = tracker.spawn(async move { earshot_connect::run(b, &t, &c, s).await });
    tracker.close();

    let finished = tokio::select! {
        r = &mut connect_task => Some(r.context("connectors panicked")??),
        _ = shutdown.cancelled() => None,
    };
    let connectors_done = finished.is_some();
    if let (Some(memory), true, false) = (&memory, connectors_done, follow) {
        // Connectors are done: wait until every consumer group has committed everything.
        let mut last_report = Instant::now();
        while memory.total_lag() > 0 && !shutdown.is_cancelled() {
            if last_report.elapsed() > Duration::from_secs(2) {
                tracing::info!(
                    lag = memory.total_lag(),
                    "waiting for matcher and sink to catch up"
                );
                last_report = Instant::now();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    } else {
        shutdown.cancelled().await;
    }
    stages.cancel();
    // The consuming stages stop first; then whatever is still on the bus is
    // acknowledged by nobody: waiting producers (a connector mid-page, a
    // webhook request) learn it was not stored instead of waiting forever,
    // so the connectors can stop too.
    let match_stats = match_task.await.context("matcher panicked")??;
    let sink_stats = sink_task.await.context("sink panicked")??;
    let dead_letters_kept = match dead_letter_task {
        Some(t) => Some(t.await.context("dead-letter keeper panicked")??),
        None => None,
    };
    let cases_stats = match cases_task {
        Some(t) => Some(t.await.context("case maker panicked")??),
        None => None,
    };
    if let Some(memory) = &memory {
        // A webhook then answers 503; a cursor does not move.
        memory.abandon_pending();
    }
    // Stopped by a signal: the connectors stop with the other stages, and their
    // counters are still worth printing.
    let connect_stats = match finished {
        Some(s) => Some(s),
        None => match connect_task.await.context("connectors panicked")? {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::warn!(error = format!("{e:#}"), "connectors stopped with an error");
                None
            }
        },
    };
    tracker.wait().await;

    eprintln!();
    eprintln!(
        "earshot run finished in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    match &connect_stats {
        Some(c) => {
            let t = c.total();
            eprintln!(
                "  connectors: {} produced, {} duplicates dropped, {} dead letters, {} errors",
                t.produced, t.duplicates, t.dead_letters, t.errors
            );
        }
        None => eprintln!("  connectors: stopped with an error (see the log above)"),
    }
    eprintln!("  matcher:    {match_stats}");
    eprintln!("  sink:       {sink_stats}");
    if let Some(n) = dead_letters_kept.filter(|&n| n > 0) {
        eprintln!(
            "  dead letters: {n} kept in the store's `dead_letters` table (with their reason)"
        );
    }
    if let Some(c) = cases_stats {
        eprintln!(
            "  cases:      {} sent, {} failed (dead letters), {} already sent, {} not needing a case",
            c.sent, c.failed, c.already_sent, c.skipped
        );
    }
    eprintln!();
    if config.sink.kind == earshot_sink::SinkKind::Jsonl {
        // A JSON Lines file cannot be queried; say so instead of failing the run.
        eprintln!(
            "no report: sink.kind = \"jsonl\" keeps no queryable store (the interactions are in {}); \
             use `sqlite` or `clickhouse` for `earshot report`",
            if config.sink.jsonl.path == "-" { "standard output" } else { &config.sink.jsonl.path }
        );
        return Ok(());
    }
    let note = samples.map(|s| s.to_string());
    crate::report::run(
        &config.sink,
        &crate::conversations::own_accounts(&matcher.load()),
        &earshot_sink::ReportParams::last(Duration::from_secs(3650 * 86_400), None),
        note.as_deref(),
        std::io::stdout().lock(),
    )
    .await
}

/// Whether an enabled `file` connector reads from [`bundled::SAMPLES_DIR`].
fn replays_bundled_samples(config: &Config) -> bool {
    config.connect.connectors.iter().any(|c| {
        c.enabled
            && matches!(&c.source, earshot_connect::SourceConfig::File(f)
                if f.paths.iter().any(|p| bundled::is_sample_path(p)))
    })
}
