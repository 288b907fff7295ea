//! `earshot alert`: the `[alert]` rules over the configured store, every
//! `alert.interval` (daemon) or once (`--once`, for cron). The rules, messages
//! and delivery live in `earshot-alert`; this module picks the brands, reads
//! the channels' secrets and runs the loop.

use std::io::Write;

use anyhow::Context;
use earshot_alert::{AlertConfig, Channel, Engine};
use earshot_sink::alerts::AlertStore;
use tokio_util::sync::CancellationToken;

use crate::config::{Config, ConfigErrors};

/// Runs `earshot alert` (`once`: one evaluation, then exit).
pub async fn run(config: Config, once: bool) -> anyhow::Result<()> {
    let brands = brands(&config)?;
    let alert = config.alert.clone();
    if alert.channels.is_empty() {
        anyhow::bail!(
            "{}: [alert] has no [[alert.channels]]: add a `slack` or `webhook` channel for alerts to go to",
            config.name
        );
    }
    let channels =
        Channel::from_env(&alert.channels).map_err(|e| anyhow::anyhow!("{}: {e}", config.name))?;
    let store = AlertStore::open(&config.sink)
        .await
        .context("earshot alert")?;
    let interval = alert.interval;
    let engine = Engine::new(store, alert, brands, channels)?;
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
    let shutdown = crate::daemon::shutdown_on_signal();
    tracing::info!(interval = ?interval, "alert daemon started");
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = ticks.tick() => {}
        }
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
