//! The connector daemon: builds every enabled source and runs them until
//! shutdown (or until every one-shot source finished).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use earshot_transport::{Bus, Producer, TopicsConfig};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::backend::CursorBackend;
use crate::config::{ConnectConfig, ConnectSettings, ConnectorConfig};
use crate::cursor::CursorStore;
use crate::emit::Emitter;
use crate::error::ConnectError;
use crate::error::{SourceError, SourceResult};
use crate::http::{Http, SourceHttp};
use crate::share::{CursorsKind, KafkaCursors};
use crate::source::{Ctx, Source};
use crate::stats::{ConnectStats, StatsHandle};

/// How often ids older than their retention are forgotten.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);
/// How often `earshot_connector_cursor_age_seconds` is refreshed.
const CURSOR_AGE_EVERY: Duration = Duration::from_secs(5);

/// A configured daemon, ready to run. [`run`] is the one-call form.
pub struct Daemon {
    /// Local mode: every enabled source, built. Shared mode: empty.
    sources: Vec<(Box<dyn Source>, Ctx)>,
    stats: StatsHandle,
    webhooks: HashMap<String, SocketAddr>,
    cursors: Arc<dyn CursorBackend>,
    shutdown: CancellationToken,
    /// Set with `[connect] cursors = "kafka"`.
    shared: Option<SharedMode>,
}

/// What the shared mode needs to run connectors as they are assigned.
pub(crate) struct SharedMode {
    pub bus: Arc<dyn Bus>,
    pub builder: Arc<Builder>,
    pub cursors: Arc<KafkaCursors>,
    pub config: ConnectConfig,
    pub replication: i32,
}

/// What every connector of the daemon shares; builds one when it starts.
pub(crate) struct Builder {
    http: Arc<Http>,
    producer: Arc<dyn Producer>,
    topics: TopicsConfig,
    quarantine: CursorStore,
    pub stats: StatsHandle,
    settings: ConnectSettings,
}

impl Builder {
    /// The source of `c` and its context; a webhook is bound here (its
    /// address is returned) so a taken port fails at once.
    pub(crate) async fn build(
        &self,
        c: &ConnectorConfig,
        cursors: Arc<dyn CursorBackend>,
        shutdown: CancellationToken,
    ) -> SourceResult<(Box<dyn Source>, Ctx, Option<SocketAddr>)> {
        let counters = self.stats.counters(&c.name);
        let emitter = Emitter {
            name: c.name.clone(),
            origin: format!("connect:{}", c.name),
            producer: self.producer.clone(),
            raw_topic: self.topics.raw.clone(),
            dead_letter_topic: self.topics.dead_letter.clone(),
            cursors: cursors.clone(),
            quarantine: self.quarantine.clone(),
            counters: counters.clone(),
            keep_raw: c.keep_raw,
            dead_letter_max: self.settings.dead_letter_max_bytes,
            claims: Default::default(),
        };
        let ctx = Ctx {
            name: c.name.clone(),
            config: c.clone(),
            emitter,
            http: SourceHttp::new(self.http.clone(), c, counters.clone(), shutdown.clone()),
            cursors,
            counters,
            shutdown,
            once: self.settings.once,
        };
        let (source, addr) = c.source.build(&c.name).await?;
        Ok((source, ctx, addr))
    }
}

/// Runs every enabled connector of `config`, producing posts to
/// `topics.raw` and dead letters to `topics.dead_letter`, until `shutdown`
/// is cancelled or every source finished (one-shot file replays finish on
/// their own). Returns the counters per connector.
///
/// With `[connect] cursors = "kafka"` it runs only the connectors assigned
/// to this process (see the crate's "Scaling out" notes), until `shutdown`.
pub async fn run(
    bus: Arc<dyn Bus>,
    topics: &TopicsConfig,
    config: &ConnectConfig,
    shutdown: CancellationToken,
) -> Result<ConnectStats, ConnectError> {
    Daemon::new(bus, topics, config, shutdown)
        .await?
        .run()
        .await
}

impl Daemon {
    /// Validates `config`, opens the cursor store (the SQLite file, or the
    /// cursor topic), ensures the topics exist, and binds webhook listeners
    /// (so a taken port fails here, not later).
    pub async fn new(
        bus: Arc<dyn Bus>,
        topics: &TopicsConfig,
        config: &ConnectConfig,
        shutdown: CancellationToken,
    ) -> Result<Daemon, ConnectError> {
        let problems = config.validate();
        if !problems.is_empty() {
            let list: Vec<String> = problems
                .iter()
                .map(|(k, m)| format!("  {k}: {m}"))
                .collect();
            return Err(ConnectError::Config(list.join("\n")));
        }
        let store = CursorStore::open(&config.cursors.path)?;
        bus.ensure_topics(&topics.specs())
            .await
            .map_err(ConnectError::Topics)?;
        let builder = Arc::new(Builder {
            http: Arc::new(
                Http::new(&config.connect).map_err(|e| ConnectError::Http(format!("{e:#}")))?,
            ),
            producer: bus.producer(),
            topics: topics.clone(),
            quarantine: store.clone(),
            stats: StatsHandle::default(),
            settings: config.connect.clone(),
        });
        let stats = builder.stats.clone();
        if config.connect.cursors == CursorsKind::Kafka {
            let cursors = Arc::new(KafkaCursors::open(&*bus, config, topics.replication).await?);
            return Ok(Daemon {
                sources: Vec::new(),
                stats,
                webhooks: HashMap::new(),
                cursors: cursors.clone(),
                shutdown,
                shared: Some(SharedMode {
                    bus,
                    builder,
                    cursors,
                    config: config.clone(),
                    replication: topics.replication,
                }),
            });
        }
        let cursors: Arc<dyn CursorBackend> = Arc::new(store);
        let mut sources = Vec::new();
        let mut webhooks = HashMap::new();
        for c in config.connectors.iter().filter(|c| c.enabled) {
            if config.connect.once && c.source.is_stream() {
                // A stream has no "once": it would keep a one-pass run from ending.
                tracing::warn!(connector = %c.name, kind = c.source.kind(), "streaming connector not started in one-pass mode");
                continue;
            }
            let (source, ctx, addr) = builder
                .build(c, cursors.clone(), shutdown.clone())
                .await
                .map_err(|e| ConnectError::connector(&c.name, format!("{e:#}")))?;
            if let Some(addr) = addr {
                webhooks.insert(c.name.clone(), addr);
            }
            sources.push((source, ctx));
        }
        Ok(Daemon {
            sources,
            stats,
            webhooks,
            cursors,
            shutdown,
            shared: None,
        })
    }

    /// Live counters (for progress reports and tests).
    pub fn stats(&self) -> StatsHandle {
        self.stats.clone()
    }

    /// The address a webhook connector listens on (useful with port 0).
    pub fn webhook_addr(&self, connector: &str) -> Option<SocketAddr> {
        self.webhooks.get(connector).copied()
    }

    /// Runs until shutdown or until every source finished. An error of one
    /// source does not stop the others; the first one is returned at the end.
    pub async fn run(self) -> Result<ConnectStats, ConnectError> {
        if let Some(shared) = self.shared {
            let retention = shared
                .config
                .connectors
                .iter()
                .filter(|c| c.enabled)
                .map(|c| (c.name.clone(), c.dedup_retention()))
                .collect();
            let chores = Housekeeping::start(self.cursors, retention, &self.stats, &self.shutdown);
            let outcome = crate::share::run_shared(shared, self.shutdown).await;
            chores.stop().await;
            outcome.map_err(|e| ConnectError::Shared(format!("{e:#}")))?;
            return Ok(self.stats.snapshot());
        }
        let tracker = TaskTracker::new();
        let retention = self
            .sources
            .iter()
            .map(|(_, c)| (c.name.clone(), c.config.dedup_retention()))
            .collect();
        let chores = Housekeeping::start(self.cursors, retention, &self.stats, &self.shutdown);
        let mut handles = Vec::new();
        for (source, ctx) in self.sources {
            let name = ctx.name.clone();
            let ctx = Arc::new(ctx);
            tracing::info!(connector = %name, kind = ctx.config.source.kind(), "connector starting");
            handles.push((name, tracker.spawn(source.run(ctx))));
        }
        tracker.close();
        let mut first_error = None;
        for (name, h) in handles {
            let outcome = match h.await {
                Ok(r) => r,
                Err(e) => Err(SourceError::Other(format!("task panicked: {e}"))),
            };
            match outcome {
                Ok(()) => tracing::info!(connector = %name, "connector stopped"),
                Err(e) => {
                    tracing::error!(connector = %name, error = format!("{e:#}"), "connector failed");
                    first_error.get_or_insert(ConnectError::connector(&name, format!("{e:#}")));
                }
            }
        }
        chores.stop().await;
        match first_error {
            Some(e) => Err(e),
            None => Ok(self.stats.snapshot()),
        }
    }
}

/// The daemon's background chores: forgetting old produced ids, and
/// publishing the cursor ages.
struct Housekeeping {
    stop: CancellationToken,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Housekeeping {
    fn start(
        store: Arc<dyn CursorBackend>,
        retention: Vec<(String, Duration)>,
        stats: &StatsHandle,
        shutdown: &CancellationToken,
    ) -> Housekeeping {
        let stop = CancellationToken::new();
        let (s, shut) = (stop.clone(), shutdown.clone());
        let pruner = tokio::spawn(async move {
            loop {
                for (name, keep) in &retention {
                    match store.prune_seen(name, *keep).await {
                        Ok(n) if n > 0 => {
                            tracing::debug!(connector = %name, forgotten = n, "pruned old ids")
                        }
                        Ok(_) => {}
                        Err(e) => {
                            tracing::warn!(connector = %name, error = %e, "pruning seen ids failed")
                        }
                    }
                }
                tokio::select! {
                    _ = s.cancelled() => break,
                    _ = shut.cancelled() => break,
                    _ = tokio::time::sleep(PRUNE_EVERY) => {}
                }
            }
        });
        let (stats, s, shut) = (stats.clone(), stop.clone(), shutdown.clone());
        let ages = tokio::spawn(async move {
            loop {
                stats.publish_cursor_ages();
                tokio::select! {
                    _ = s.cancelled() => break,
                    _ = shut.cancelled() => break,
                    _ = tokio::time::sleep(CURSOR_AGE_EVERY) => {}
                }
            }
        });
        Housekeeping {
            stop,
            tasks: vec![pruner, ages],
        }
    }

    async fn stop(self) {
        self.stop.cancel();
        for t in self.tasks {
            let _ = t.await;
        }
    }
}
