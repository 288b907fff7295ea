//! Shared helpers: loopback servers, a daemon runner, and topic readers.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use earshot_connect::{ConnectConfig, ConnectStats, Daemon, StatsHandle};
use earshot_model::{DeadLetter, Post};
use earshot_transport::{Bus, ConsumerOptions, MemoryBus, Message, TopicsConfig};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Generous bound for conditions that normally hold in milliseconds.
pub const WAIT: Duration = Duration::from_secs(10);

pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter("earshot_connect=debug")
        .with_test_writer()
        .try_init();
}

/// Serves `router` on an ephemeral loopback port.
pub async fn serve(router: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    addr
}

/// Parses a config, replacing `CURSORS` with a path in `dir`.
pub fn config(dir: &tempfile::TempDir, toml_text: &str) -> ConnectConfig {
    let path = dir.path().join("cursors.db");
    let text = toml_text.replace("CURSORS", &path.display().to_string());
    toml::from_str(&text).unwrap_or_else(|e| panic!("test config: {e}\n{text}"))
}

/// A running daemon.
pub struct Running {
    pub stats: StatsHandle,
    pub shutdown: CancellationToken,
    pub handle: JoinHandle<Result<ConnectStats, earshot_connect::ConnectError>>,
    pub webhook: Option<SocketAddr>,
}

impl Running {
    pub async fn stop(self) -> ConnectStats {
        self.shutdown.cancel();
        tokio::time::timeout(WAIT, self.handle)
            .await
            .expect("daemon stops")
            .unwrap()
            .unwrap()
    }

    /// Waits until the named connector's stats satisfy `pred`, failing the test with the stats otherwise.
    pub async fn wait(
        &self,
        name: &str,
        what: &str,
        pred: impl Fn(&earshot_connect::ConnectorStats) -> bool,
    ) {
        let ok = self
            .stats
            .wait_for(WAIT, |s| s.connectors.get(name).is_some_and(&pred))
            .await;
        assert!(
            ok,
            "timed out waiting for {what}: {:?}",
            self.stats.snapshot()
        );
    }
}

pub async fn start(bus: &MemoryBus, cfg: &ConnectConfig) -> Running {
    let shutdown = CancellationToken::new();
    let daemon = Daemon::new(
        Arc::new(bus.clone()),
        &TopicsConfig::default(),
        cfg,
        shutdown.clone(),
    )
    .await
    .unwrap();
    let webhook = cfg
        .connectors
        .iter()
        .find_map(|c| daemon.webhook_addr(&c.name));
    let stats = daemon.stats();
    let handle = tokio::spawn(daemon.run());
    Running {
        stats,
        shutdown,
        handle,
        webhook,
    }
}

/// Every message now in `topic`, read by a fresh group that never commits
/// (so nothing is trimmed and later reads see everything again).
pub async fn read(bus: &MemoryBus, topic: &str) -> Vec<Message> {
    let n = bus.len(topic);
    if n == 0 {
        return Vec::new();
    }
    let group = format!("reader-{}", rand_suffix());
    let mut c = bus
        .consumer(ConsumerOptions::new(group, [topic]))
        .await
        .unwrap();
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let d = tokio::time::timeout(WAIT, c.recv())
            .await
            .expect("message")
            .unwrap()
            .unwrap();
        out.push(d.message);
        // Not acknowledged on purpose: nothing commits, nothing is trimmed.
    }
    out
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

pub async fn posts(bus: &MemoryBus) -> Vec<Post> {
    let topic = TopicsConfig::default().raw;
    read(bus, &topic)
        .await
        .iter()
        .map(|m| Post::from_json(&m.payload).unwrap())
        .collect()
}

pub async fn dead_letters(bus: &MemoryBus) -> Vec<DeadLetter> {
    let topic = TopicsConfig::default().dead_letter;
    read(bus, &topic)
        .await
        .iter()
        .map(earshot_transport::read_dead_letter)
        .collect()
}

/// Asserts no id was produced twice and returns the ids sorted.
pub fn unique_ids(posts: &[Post]) -> Vec<String> {
    let mut ids: Vec<String> = posts.iter().map(|p| p.id.clone()).collect();
    ids.sort();
    let before = ids.len();
    ids.dedup();
    assert_eq!(ids.len(), before, "duplicate production: {ids:?}");
    ids
}

type SendFn = dyn Fn(&MemoryBus, &str, earshot_transport::Record) -> earshot_transport::DeliveryFuture
    + Send
    + Sync;

/// A memory bus whose producer goes through `send`: tests make deliveries
/// fail, lag or be refused there, and read what arrived from `inner`.
#[derive(Clone)]
pub struct FaultyBus {
    pub inner: MemoryBus,
    send: Arc<SendFn>,
}

impl FaultyBus {
    pub fn new(
        send: impl Fn(&MemoryBus, &str, earshot_transport::Record) -> earshot_transport::DeliveryFuture
            + Send
            + Sync
            + 'static,
    ) -> FaultyBus {
        FaultyBus {
            inner: MemoryBus::new(),
            send: Arc::new(send),
        }
    }
}

impl earshot_transport::Producer for FaultyBus {
    fn send(
        &self,
        topic: &str,
        record: earshot_transport::Record,
    ) -> earshot_transport::DeliveryFuture {
        (self.send)(&self.inner, topic, record)
    }

    fn flush(
        &self,
        timeout: Duration,
    ) -> futures::future::BoxFuture<'_, Result<(), earshot_transport::TransportError>> {
        earshot_transport::Producer::flush(&self.inner, timeout)
    }
}

#[async_trait::async_trait]
impl Bus for FaultyBus {
    async fn ensure_topics(
        &self,
        topics: &[earshot_transport::TopicSpec],
    ) -> Result<(), earshot_transport::TransportError> {
        self.inner.ensure_topics(topics).await
    }
    fn producer(&self) -> Arc<dyn earshot_transport::Producer> {
        Arc::new(self.clone())
    }
    async fn consumer(
        &self,
        options: ConsumerOptions,
    ) -> Result<Box<dyn earshot_transport::Consumer>, earshot_transport::TransportError> {
        self.inner.consumer(options).await
    }
}
