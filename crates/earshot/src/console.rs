//! `earshot console`: serves the web console (`earshot_console`) over the
//! configured store until SIGINT or SIGTERM.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use earshot_match::SharedMatcher;

use crate::config::Config;

/// Opens the store, binds `addr` (or `[console] addr`) and serves.
pub async fn run(config: Config, addr: Option<SocketAddr>) -> anyhow::Result<()> {
    let shutdown = crate::daemon::shutdown_on_signal();
    let addr = match addr {
        Some(a) => a,
        None => config.console.addr.parse().with_context(|| {
            format!(
                "{}: console.addr: `{}` is not an address",
                config.name, config.console.addr
            )
        })?,
    };
    let state = open_state(&config, None).await?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("console: cannot listen on {addr}"))?;
    serve(listener, state, shutdown).await
}

/// `earshot run --follow` with `--console` or `[console] enabled`: binds
/// `[console] addr` (failing the run when it cannot) and serves in the
/// background until `stop`. The queue's intents and routes are read from
/// `matcher` on each page, so a reload shows there at once.
pub async fn spawn(
    config: &Config,
    matcher: Arc<SharedMatcher>,
    stop: tokio_util::sync::CancellationToken,
) -> anyhow::Result<()> {
    let addr: SocketAddr = config.console.addr.parse().with_context(|| {
        format!(
            "{}: console.addr: `{}` is not an address",
            config.name, config.console.addr
        )
    })?;
    let state = open_state(config, Some(matcher)).await?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("console: cannot listen on {addr}"))?;
    tokio::spawn(async move {
        if let Err(e) = serve(listener, state, stop).await {
            tracing::error!(error = format!("{e:#}"), "console stopped");
        }
    });
    Ok(())
}

/// The console's state: its stores, the brands' own accounts and the
/// configured intents and routes (the queue's filters): those of `live`,
/// the running matcher, when the console shares its process, else of the
/// config as it is now.
async fn open_state(
    config: &Config,
    live: Option<Arc<SharedMatcher>>,
) -> anyhow::Result<earshot_console::ConsoleState> {
    let matcher = config.matcher()?;
    let state = earshot_console::ConsoleState::open(&config.sink, &config.console)
        .await?
        .with_own_accounts(crate::conversations::own_accounts(&matcher));
    let names = |m: &earshot_match::Matcher| {
        let labels = m.labels();
        (
            labels.intents.iter().map(ToString::to_string).collect(),
            labels.routes.iter().map(ToString::to_string).collect(),
        )
    };
    Ok(match live {
        Some(live) => state.with_label_source(Arc::new(move || names(&live.load()))),
        None => {
            let (intents, routes) = names(&matcher);
            state.with_labels(intents, routes)
        }
    })
}

/// Serves on `listener` until `stop` is cancelled.
async fn serve(
    listener: tokio::net::TcpListener,
    state: earshot_console::ConsoleState,
    stop: tokio_util::sync::CancellationToken,
) -> anyhow::Result<()> {
    let bound = listener.local_addr()?;
    if !bound.ip().is_loopback() && !state.authenticates() {
        anyhow::bail!(
            "console: listening on {bound}, beyond loopback, with [console] auth = \"none\": set auth = \"users\" (with [[console.users]]) or \"proxy\", or listen on 127.0.0.1"
        );
    }
    tracing::info!(
        api = state.api_enabled(),
        "console listening on http://{bound}"
    );
    axum::serve(listener, earshot_console::router(state))
        .with_graceful_shutdown(async move { stop.cancelled().await })
        .await
        .context("console: serving")?;
    Ok(())
}

/// `earshot console --hash-password`: one line of `input` (the password,
/// without its newline) hashed with argon2id, for `[[console.users]]`.
pub fn hash_password(
    mut input: impl std::io::BufRead,
    mut out: impl std::io::Write,
) -> anyhow::Result<()> {
    let mut line = String::new();
    input.read_line(&mut line)?;
    let password = line.trim_end_matches(['\n', '\r']);
    if password.is_empty() {
        anyhow::bail!("--hash-password: give the password on stdin (one line)");
    }
    let hash =
        earshot_console::hash_password(password).map_err(|e| anyhow::anyhow!("hashing: {e}"))?;
    writeln!(out, "{hash}")?;
    Ok(())
}
