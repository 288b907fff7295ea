//! `earshot cases`: the case maker as a daemon (in `earshot run` it runs
//! beside the other stages when `[cases] enabled = true`), refreshing the
//! CRM-facing advocates and detractors every `[cases.standings] every`.

use anyhow::Context;

use crate::config::Config;
use crate::ops::{Daemon, OpsArgs};

/// `earshot cases`.
pub async fn run(config: Config, ops: &OpsArgs) -> anyhow::Result<()> {
    let shutdown = crate::daemon::shutdown_on_signal();
    if !config.cases.enabled {
        anyhow::bail!(
            "{}: [cases] is not enabled: set `enabled = true` and the CRM endpoint's variables (`url_env`, `secret_env`)",
            config.name
        );
    }
    let _ops = crate::daemon::start_ops(
        Daemon::Cases,
        true,
        ops,
        &config,
        true,
        &[&config.cases.group],
    )
    .await?;
    let Some(bus) = crate::daemon::daemon_bus(&config, "cases", &shutdown).await? else {
        return Ok(());
    };
    tokio::spawn(crate::reload::ignore_sighup("cases", shutdown.clone()));
    tokio::spawn(crate::authors::refresh_standings_until(
        config.clone(),
        shutdown.clone(),
    ));
    let stats = earshot_cases::run(
        bus,
        &config.transport.topics,
        &config.cases,
        &config.sink,
        shutdown,
    )
    .await
    .context("earshot cases")?;
    tracing::info!(?stats, "cases stopped");
    Ok(())
}
