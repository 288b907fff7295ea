//! The case maker's loop: consume scored interactions, send the ones that
//! need a case, record, acknowledge.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use earshot_alert::{Deliverer, Target};
use earshot_model::Interaction;
use earshot_sink::cases::{CaseRecord, CaseStatus, CaseStore, CaseStoreError};
use earshot_sink::SinkConfig;
use earshot_transport::{Bus, ConsumerOptions, Delivery, TopicsConfig, TransportError};
use futures::stream::{FuturesUnordered, StreamExt};
use tokio_util::sync::CancellationToken;

use crate::{Case, CasesConfig};

/// Header carrying the case id, the same on every retry of one case.
pub const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";

/// Failures that stop the case maker.
#[derive(Debug, thiserror::Error)]
pub enum CasesError {
    /// A variable the config names is unset, or does not hold what it should.
    #[error("{0}")]
    Env(String),
    /// The case record could not be opened.
    #[error(transparent)]
    Store(#[from] CaseStoreError),
    /// The bus refused the consumer.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The HTTP client could not be built.
    #[error("building the HTTP client: {0}")]
    Client(String),
}

/// What the case maker did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CasesStats {
    /// Interactions read.
    pub received: u64,
    /// Cases the CRM accepted.
    pub sent: u64,
    /// Cases recorded as failed (dead letters).
    pub failed: u64,
    /// Interactions that need no case.
    pub skipped: u64,
    /// Posts already sent at this priority or higher.
    pub already_sent: u64,
    /// Records that are no interaction (the sink dead-letters them).
    pub undecodable: u64,
}

#[derive(Default)]
struct Counters {
    received: AtomicU64,
    sent: AtomicU64,
    failed: AtomicU64,
    skipped: AtomicU64,
    already_sent: AtomicU64,
    undecodable: AtomicU64,
}

impl Counters {
    fn add(&self, c: &AtomicU64, outcome: &'static str) {
        c.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("earshot_cases_total", "outcome" => outcome).increment(1);
    }

    fn snapshot(&self) -> CasesStats {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        CasesStats {
            received: g(&self.received),
            sent: g(&self.sent),
            failed: g(&self.failed),
            skipped: g(&self.skipped),
            already_sent: g(&self.already_sent),
            undecodable: g(&self.undecodable),
        }
    }
}

struct Ctx {
    config: CasesConfig,
    url: reqwest::Url,
    secret: Vec<u8>,
    store: CaseStore,
    deliverer: Deliverer,
    counters: Counters,
    shutdown: CancellationToken,
}

fn env(var: &str, what: &str) -> Result<String, CasesError> {
    std::env::var(var)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| {
            CasesError::Env(format!(
                "[cases]: set the environment variable {var} ({what})"
            ))
        })
}

/// Runs the case maker until `shutdown`: reads `topics.scored` as
/// `config.group`, sends cases, records them in the store `sink` names.
pub async fn run(
    bus: Arc<dyn Bus>,
    topics: &TopicsConfig,
    config: &CasesConfig,
    sink: &SinkConfig,
    shutdown: CancellationToken,
) -> Result<CasesStats, CasesError> {
    CaseMaker::new(config, sink, shutdown)
        .await?
        .run(bus, topics)
        .await
}

/// A case maker whose endpoint, key and store are checked, ready to run.
pub struct CaseMaker {
    ctx: Arc<Ctx>,
}

impl CaseMaker {
    /// Reads the endpoint and key from the environment and opens the case
    /// record: what can be wrong is found before anything is consumed.
    pub async fn new(
        config: &CasesConfig,
        sink: &SinkConfig,
        shutdown: CancellationToken,
    ) -> Result<CaseMaker, CasesError> {
        let raw_url = env(&config.url_env, "the CRM endpoint cases are POSTed to")?;
        let url = reqwest::Url::parse(raw_url.trim())
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .ok_or_else(|| {
                CasesError::Env(format!(
                    "[cases]: the environment variable {} does not hold an http:// or https:// URL",
                    config.url_env
                ))
            })?;
        let secret = env(&config.secret_env, "the HMAC key cases are signed with")?.into_bytes();
        let ctx = Arc::new(Ctx {
            config: config.clone(),
            url,
            secret,
            store: CaseStore::open(sink).await?,
            deliverer: Deliverer::new(&config.delivery)
                .map_err(|e| CasesError::Client(e.to_string()))?,
            counters: Counters::default(),
            shutdown,
        });
        Ok(CaseMaker { ctx })
    }

    /// Runs until the shutdown token given to [`CaseMaker::new`] is cancelled.
    pub async fn run(
        self,
        bus: Arc<dyn Bus>,
        topics: &TopicsConfig,
    ) -> Result<CasesStats, CasesError> {
        let ctx = self.ctx;
        let config = &ctx.config;
        let shutdown = ctx.shutdown.clone();
        let mut options = ConsumerOptions::new(config.group.clone(), [topics.scored.clone()]);
        options.max_in_flight = config.concurrency * 4;
        options.shutdown = shutdown.clone();
        let mut consumer = bus.consumer(options).await?;
        tracing::info!(group = %config.group, topic = %topics.scored, min_priority = config.min_priority, "case maker started");
        let mut tasks = FuturesUnordered::new();
        let mut open = true;
        while open || !tasks.is_empty() {
            tokio::select! {
                Some(()) = tasks.next(), if !tasks.is_empty() => {}
                next = consumer.recv(), if open && tasks.len() < config.concurrency => match next {
                    None => open = false,
                    Some(Err(e)) => {
                        tracing::warn!(error = %e, "consumer error; continuing");
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                    Some(Ok(d)) => tasks.push(handle(ctx.clone(), d)),
                },
            }
        }
        consumer.close(Duration::from_secs(30)).await?;
        let stats = ctx.counters.snapshot();
        tracing::info!(?stats, "case maker stopped");
        Ok(stats)
    }
}

/// One interaction: acknowledged once nothing is left to do for it (no
/// case needed, already sent, or its case recorded); left unacknowledged
/// (redelivered after a restart) when the store cannot say or record.
async fn handle(ctx: Arc<Ctx>, d: Delivery) {
    let c = &ctx.counters;
    c.received.fetch_add(1, Ordering::Relaxed);
    let i = match Interaction::from_json(&d.message.payload) {
        Ok(i) => i,
        Err(e) => {
            tracing::warn!(offset = d.message.offset, error = %e, "undecodable scored record; no case (the sink dead-letters it)");
            c.add(&c.undecodable, "undecodable");
            return d.ack.ack();
        }
    };
    if !ctx.config.wants(&i) {
        c.add(&c.skipped, "skipped");
        return d.ack.ack();
    }
    match ctx.store.get(&i.post.id).await {
        Ok(Some(r)) if r.priority >= i.priority => {
            c.add(&c.already_sent, "already_sent");
            return d.ack.ack();
        }
        Ok(_) => {}
        Err(e) => {
            tracing::error!(post_id = %i.post.id, error = %e, "cannot read the case record; the interaction is redelivered after a restart");
            return d.ack.nack(&format!("case record: {e}"));
        }
    }
    let case = Case::of(&i);
    let body = serde_json::to_vec(&case).expect("cases serialize");
    let target = Target {
        name: "crm",
        url: &ctx.url,
        secret: Some(&ctx.secret),
        id_header: IDEMPOTENCY_HEADER,
        id: &case.case_id,
    };
    let outcome = ctx.deliverer.post(&target, &body, &ctx.shutdown).await;
    if !outcome.sent && ctx.shutdown.is_cancelled() {
        // Stopped mid-retry: not a dead letter; the next run sends it.
        return d.ack.nack("shutdown before the case was delivered");
    }
    let record = CaseRecord {
        post_id: i.post.id.clone(),
        priority: i.priority,
        route: i.route.as_str().to_string(),
        status: if outcome.sent {
            CaseStatus::Sent
        } else {
            CaseStatus::Failed
        },
        attempts: outcome.attempts,
        last_error: outcome.last_error.clone(),
    };
    if let Err(e) = ctx.store.record(&record).await {
        tracing::error!(post_id = %i.post.id, error = %e, "cannot record the case; the interaction is redelivered after a restart");
        return d.ack.nack(&format!("case record: {e}"));
    }
    if outcome.sent {
        tracing::debug!(post_id = %i.post.id, case_id = %case.case_id, attempts = outcome.attempts, "case sent");
        c.add(&c.sent, "sent");
    } else {
        tracing::warn!(post_id = %i.post.id, case_id = %case.case_id, error = %outcome.last_error, "case refused; recorded as failed (dead letter)");
        c.add(&c.failed, "failed");
    }
    d.ack.ack();
}
