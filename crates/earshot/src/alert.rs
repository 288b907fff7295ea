//! `earshot alert`: the `[alert]` rules over the configured store, every
//! `alert.interval` (daemon) or once (`--once`, for cron). The rules, messages
//! and delivery live in `earshot-alert`; this module picks the brands, reads
//! the channels' secrets and runs the loop.

use std::io::Write;
use std::sync::Arc;

use anyhow::Context;
use earshot_alert::{AlertConfig, Channel, Engine};
use earshot_sink::alerts::AlertStore;
use tokio_util::sync::CancellationToken;

use crate::config::{Config, ConfigErrors};
use crate::ops::{Daemon, OpsArgs};

/// Runs `earshot alert` (`once`: one evaluation, then exit).
pub async fn run(config: Config, once: bool, ops: &OpsArgs) -> anyhow::Result<()> {
    // `--once` is a command, not a daemon: Ctrl-C ends it at once.
    let shutdown = match once {
        true => CancellationToken::new(),
        false => crate::daemon::shutdown_on_signal(),
    };
    let _ops = crate::daemon::start_ops(Daemon::Alert, !once, ops, &config, true, &[]).await?;
    let store = AlertStore::open(&config.sink)
        .await
        .context("earshot alert")?;
    earshot_transport::readiness().pass(earshot_transport::ready::STORE);
    let engine = engine(&config, store.clone()).map_err(ConfigErrors)?;
    let interval = config.alert.interval;
    if once {
        let summary = engine
            .run_once(chrono::Utc::now(), &CancellationToken::new())
            .await?;
        writeln!(std::io::stdout().lock(), "{summary}")?;
        if summary.failed > 0 {
            anyhow::bail!(
                "{} alert deliveries failed every attempt (dead letters: alert_deliveries rows with status 'failed')",
                summary.failed
            );
        }
        return Ok(());
    }
    // Rules, thresholds, channels and the watchlist's brands reload on
    // SIGHUP and on file change; the interval needs a restart.
    let (_, watched) = config.matcher_and_files()?;
    let (tx, engines) = tokio::sync::watch::channel(Arc::new(engine));
    let target = Rules {
        store,
        engine: tx,
        fingerprint: std::sync::Mutex::new(fingerprint(&config)),
    };
    tokio::spawn(crate::reload::run(
        config.path.clone(),
        target,
        watched,
        shutdown.clone(),
    ));
    tracing::info!(interval = ?interval, "alert daemon started");
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = ticks.tick() => {}
        }
        let engine = engines.borrow().clone();
        // An evaluation in progress finishes (its deliveries are bounded) before the
        // daemon exits; backoff waits end early on shutdown.
        match engine.run_once(chrono::Utc::now(), &shutdown).await {
            Ok(summary) if !summary.alerts.is_empty() || summary.failed > 0 => {
                tracing::info!(%summary, "alert evaluation")
            }
            Ok(summary) => tracing::debug!(%summary, "alert evaluation"),
            // The store may be restarting: log and try again at the next tick.
            Err(e) => tracing::error!(error = %e, "alert evaluation failed"),
        }
    }
    tracing::info!("alert daemon stopped");
    Ok(())
}

/// The engine for `config`'s `[alert]` section, its brands and channels;
/// every problem found, named.
fn engine(config: &Config, store: AlertStore) -> Result<Engine, Vec<String>> {
    let brands = brands(config).map_err(|e| vec![format!("{e:#}")])?;
    let alert = config.alert.clone();
    if alert.channels.is_empty() {
        return Err(vec![format!(
            "{}: [alert] has no [[alert.channels]]: add a `slack` or `webhook` channel for alerts to go to",
            config.name
        )]);
    }
    let channels =
        Channel::from_env(&alert.channels).map_err(|e| vec![format!("{}: {e}", config.name)])?;
    Engine::new(store, alert, brands, channels).map_err(|e| vec![format!("{}: {e}", config.name)])
}

/// What decides the engine: the `[alert]` section and the brands evaluated.
fn fingerprint(config: &Config) -> String {
    let brands = brands(config).unwrap_or_default();
    format!("{:?} {brands:?}", config.alert)
}

/// The alert rules as a live-reload target: a valid change builds a new
/// engine, which the next evaluation uses.
struct Rules {
    store: AlertStore,
    engine: tokio::sync::watch::Sender<Arc<Engine>>,
    fingerprint: std::sync::Mutex<String>,
}

impl crate::reload::Target for Rules {
    fn apply(&self, config: Config, cause: &str) -> Result<crate::reload::Outcome, Vec<String>> {
        let (_, files) = config.matcher_and_files().map_err(|e| e.0)?;
        let engine = engine(&config, self.store.clone())?;
        let now = fingerprint(&config);
        let mut running = self.fingerprint.lock().expect("fingerprint lock");
        if *running == now {
            return Ok(crate::reload::Outcome::Unchanged(files));
        }
        self.engine.send_replace(Arc::new(engine));
        *running = now;
        tracing::info!(cause, "alert rules reloaded");
        Ok(crate::reload::Outcome::Applied(files))
    }
}

/// The brands to evaluate: `alert.only`, or every brand and competitor of the
/// watchlist; ids the watchlist lacks are configuration errors.
fn brands(config: &Config) -> anyhow::Result<Vec<String>> {
    let matcher = config.matcher()?;
    let known: Vec<&str> = matcher.brand_ids().collect();
    let a: &AlertConfig = &config.alert;
    let unknown = a.unknown_brands(&known);
    if !unknown.is_empty() {
        return Err(ConfigErrors(
            unknown
                .into_iter()
                .map(|(k, m)| format!("{}: {k}: {m}", config.name))
                .collect(),
        )
        .into());
    }
    Ok(if a.only.is_empty() {
        known.into_iter().map(str::to_string).collect()
    } else {
        a.only.clone()
    })
}
