//! What every daemon shares: logging, the runtime, signals, building the
//! bus, and starting the ops server with the daemon's readiness checks.

use std::sync::Arc;

use earshot_match::SharedMatcher;
use earshot_transport::{readiness, ready, Bus, MemoryBus};
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::ops::{self, Daemon, OpsArgs};

/// Logs to stderr; `EARSHOT_LOG` (or `RUST_LOG`) sets the filter, default `info`.
pub fn init_logging(json: bool) {
    let filter = std::env::var("EARSHOT_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// The multi-threaded runtime the daemons run on.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
}

/// The process's token, cancelled on SIGINT or SIGTERM: daemons then stop
/// fetching, drain, commit and exit 0. A second signal exits at once.
///
/// Daemons call it first thing: until the handlers exist a SIGTERM kills
/// the process outright, and a supervisor that stops a daemon still
/// connecting to its broker must see a clean exit (a CI run of the
/// `kafka_crash` test stopped a just-restarted daemon and saw it killed). The handlers are registered before this returns,
/// not when a spawned task first runs; later calls share the same token.
pub fn shutdown_on_signal() -> CancellationToken {
    static TOKEN: std::sync::OnceLock<CancellationToken> = std::sync::OnceLock::new();
    TOKEN
        .get_or_init(|| {
            let token = CancellationToken::new();
            let cancel = token.clone();
            let mut signals = Signals::register();
            tokio::spawn(async move {
                signals.next().await;
                tracing::info!("shutdown requested: draining in-flight work and committing");
                // Load balancers stop sending work while the daemon drains.
                readiness().fail("shutdown", "stopping: draining in-flight work");
                cancel.cancel();
                signals.next().await;
                tracing::warn!("second signal: exiting without draining");
                std::process::exit(130);
            });
            token
        })
        .clone()
}

/// SIGINT and SIGTERM, listened to from the moment `register` returns.
struct Signals {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
}

impl Signals {
    fn register() -> Signals {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Signals {
                term: signal(SignalKind::terminate()).expect("SIGTERM handler"),
                int: signal(SignalKind::interrupt()).expect("SIGINT handler"),
            }
        }
        #[cfg(not(unix))]
        Signals {}
    }

    async fn next(&mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.int.recv() => {}
            _ = self.term.recv() => {}
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// [`bus`] for a daemon: `None` when `shutdown` comes first. Provisioning
/// waits for the broker, and a daemon told to stop while its broker is down
/// exits 0 instead of waiting on.
pub async fn daemon_bus(
    config: &Config,
    daemon: &str,
    shutdown: &CancellationToken,
) -> anyhow::Result<Option<Arc<dyn Bus>>> {
    tokio::select! {
        bus = bus(config, daemon) => bus.map(Some),
        _ = shutdown.cancelled() => {
            tracing::info!("stopped before the broker answered");
            Ok(None)
        }
    }
}

/// The configured bus, with every topic provisioned. Daemons other than
/// `run` need Kafka: the in-memory bus does not cross processes.
pub async fn bus(config: &Config, daemon: &str) -> anyhow::Result<Arc<dyn Bus>> {
    let bus: Arc<dyn Bus> = match &config.transport.kafka {
        #[cfg(feature = "kafka")]
        Some(kafka) => Arc::new(earshot_transport::KafkaBus::new(kafka)?),
        #[cfg(not(feature = "kafka"))]
        Some(_) => anyhow::bail!("{}: [transport.kafka] is set but this build has no Kafka support (feature `kafka`)", config.name),
        None if daemon == "run" => Arc::new(MemoryBus::new()),
        None => anyhow::bail!(
            "{}: `earshot {daemon}` needs [transport.kafka] (or EARSHOT_KAFKA_BROKERS); use `earshot run` for the one-process embedded mode",
            config.name
        ),
    };
    bus.ensure_topics(&config.transport.topics.specs()).await?;
    readiness().pass(ready::BROKER);
    Ok(bus)
}

/// Starts `daemon`'s ops server unless turned off (see [`ops::resolve`]),
/// declaring the readiness checks that the daemon's stages then set: the
/// broker, the store when `store`, and each consumer group's assignment.
pub async fn start_ops(
    daemon: Daemon,
    on_by_default: bool,
    args: &OpsArgs,
    config: &Config,
    store: bool,
    groups: &[&str],
) -> anyhow::Result<Option<std::net::SocketAddr>> {
    let mut required = vec![ready::BROKER.to_string()];
    if store {
        required.push(ready::STORE.to_string());
    }
    required.extend(groups.iter().map(|g| ready::partitions_check(g)));
    let addr = ops::resolve(daemon, on_by_default, args.metrics_addr, &config.ops);
    ops::start(addr, config, &required).await
}

/// `earshot match`.
pub async fn run_match(config: Config, ops: &OpsArgs) -> anyhow::Result<()> {
    let shutdown = shutdown_on_signal();
    let config = config.validated()?;
    let _ops = start_ops(
        Daemon::Match,
        true,
        ops,
        &config,
        false,
        &[&config.match_stage.group],
    )
    .await?;
    let (compiled, watched) = config.matcher_and_files()?;
    let matcher = Arc::new(SharedMatcher::new(compiled));
    ops::watchlist_loaded(None, matcher.load().version());
    let Some(bus) = daemon_bus(&config, "match", &shutdown).await? else {
        return Ok(());
    };
    tokio::spawn(crate::reload::run(
        config.path.clone(),
        matcher.clone(),
        watched,
        shutdown.clone(),
    ));
    let stats = earshot_scorer::run(
        bus,
        &config.transport.topics,
        matcher,
        &config.match_stage,
        shutdown,
    )
    .await?;
    tracing::info!(?stats, "match stopped");
    Ok(())
}

/// `earshot connect`.
pub async fn run_connect(config: Config, ops: &OpsArgs) -> anyhow::Result<()> {
    let shutdown = shutdown_on_signal();
    let config = config.validated()?;
    // Sharing connectors: ready once this process has its share of them.
    let shared = config.connect.connect.cursors == earshot_connect::share::CursorsKind::Kafka;
    let groups: Vec<&str> = match shared {
        true => vec![config.connect.connect.group.as_str()],
        false => vec![],
    };
    let _ops = start_ops(Daemon::Connect, true, ops, &config, false, &groups).await?;
    let Some(bus) = daemon_bus(&config, "connect", &shutdown).await? else {
        return Ok(());
    };
    tokio::spawn(crate::reload::ignore_sighup("connect", shutdown.clone()));
    let stats =
        earshot_connect::run(bus, &config.transport.topics, &config.connect, shutdown).await?;
    tracing::info!(?stats, "connect stopped");
    Ok(())
}

/// `earshot connect --import-cursors FILE`.
pub async fn import_cursors(config: Config, file: &std::path::Path) -> anyhow::Result<()> {
    let config = config.validated()?;
    if config.connect.connect.cursors != earshot_connect::share::CursorsKind::Kafka {
        anyhow::bail!(
            "{}: connect.cursors is \"sqlite\": set it to \"kafka\" to import cursors into the group's cursor topic",
            config.name
        );
    }
    let bus = bus(&config, "connect").await?;
    let imported = earshot_connect::share::import_cursors(
        &*bus,
        &config.connect,
        config.transport.topics.replication,
        file,
    )
    .await?;
    for (name, cursors, ids) in &imported {
        println!("{name}: {cursors} cursors, {ids} produced ids");
    }
    println!(
        "imported {} connectors from {} into `{}`",
        imported.len(),
        file.display(),
        earshot_connect::share::cursor_topic(&config.connect.connect.group)
    );
    Ok(())
}

/// `earshot sink`.
pub async fn run_sink(config: Config, ops: &OpsArgs) -> anyhow::Result<()> {
    let shutdown = shutdown_on_signal();
    let config = config.validated()?;
    let _ops = start_ops(
        Daemon::Sink,
        true,
        ops,
        &config,
        true,
        &[&config.sink.group],
    )
    .await?;
    let Some(bus) = daemon_bus(&config, "sink", &shutdown).await? else {
        return Ok(());
    };
    tokio::spawn(crate::reload::ignore_sighup("sink", shutdown.clone()));
    // Built here rather than in `earshot_sink::run` so that readiness can say
    // when the store answered (ClickHouse: `build` waits until it does).
    let sink = earshot_sink::build(&config.sink, shutdown.clone()).await?;
    readiness().pass(ready::STORE);
    let stats =
        earshot_sink::run_with(bus, &config.transport.topics, &config.sink, sink, shutdown).await?;
    tracing::info!(?stats, "sink stopped");
    Ok(())
}
