//! The sink's stream chain: consume → decode → batch → write → acknowledge.
//!
//! A reader task fills batches while a writer task stores the previous one
//! (a one-slot channel between them), so consumption overlaps inserts but
//! never runs more than two batches ahead. Tokens are acknowledged only after
//! the store has every row of their batch (or quarantined it), so the
//! transport's contiguous watermark commits nothing that is not stored.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use earshot_model::Interaction;
use earshot_transport::post_metrics::{self, source_of_key, PostCounters, SourceTally};
use earshot_transport::stage::Progress;
use earshot_transport::{
    dead_letter_record, readiness, ready, shrink_refused, AckToken, Bus, ConsumerOptions, Message,
    Producer, TopicsConfig,
};
use futures::FutureExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::batch::{BatchItem, Batcher, PendingBatch, Position};
use crate::forget::{author_key, ForgetStore};
use crate::retry::RetryPolicy;
use crate::{Sink, SinkConfig, SinkError, SinkStats};

/// Stage name written into dead letters.
const STAGE: &str = "sink";

/// Counters shared by the reader, the writer and the progress log.
#[derive(Default)]
pub(crate) struct Counters {
    pub metrics: StageMetrics,
    pub received: AtomicU64,
    pub undecodable: AtomicU64,
    pub stored: AtomicU64,
    pub dead_lettered: AtomicU64,
    pub dead_lettered_topic: AtomicU64,
    pub batches: AtomicU64,
    pub retries: AtomicU64,
    pub acked: AtomicU64,
}

/// The stage's metric handles, looked up once (at start, after the binary
/// installed its recorder).
pub(crate) struct StageMetrics {
    posts_in: PostCounters,
    posts_out: PostCounters,
    posts_dead: PostCounters,
    batch_rows: metrics::Histogram,
    insert_seconds: metrics::Histogram,
    retries: metrics::Counter,
}

impl Default for StageMetrics {
    fn default() -> Self {
        StageMetrics {
            posts_in: PostCounters::new(STAGE, "in"),
            posts_out: PostCounters::new(STAGE, "out"),
            posts_dead: PostCounters::new(STAGE, "dead_letter"),
            batch_rows: metrics::histogram!("earshot_sink_batch_rows"),
            insert_seconds: metrics::histogram!("earshot_sink_insert_seconds"),
            retries: metrics::counter!("earshot_retries_total", "stage" => STAGE),
        }
    }
}

impl Counters {
    pub fn snapshot(&self) -> SinkStats {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        SinkStats {
            received: g(&self.received),
            undecodable: g(&self.undecodable),
            stored: g(&self.stored),
            dead_lettered: g(&self.dead_lettered),
            dead_lettered_topic: g(&self.dead_lettered_topic),
            batches: g(&self.batches),
            retries: g(&self.retries),
            acknowledged: g(&self.acked),
        }
    }
}

/// Why the sink stage stopped other than by shutdown.
#[derive(Debug, thiserror::Error)]
pub enum StageError {
    /// The `[sink]` section is invalid (each problem on its own line).
    #[error("invalid sink configuration:\n  {0}")]
    Config(String),
    /// The bus failed (provisioning topics, consuming, committing).
    #[error(transparent)]
    Transport(#[from] earshot_transport::TransportError),
    /// The store could not be opened or migrated.
    #[error(transparent)]
    Store(#[from] crate::StoreError),
    /// The store failed a batch for good: offsets stay before that batch.
    #[error("{sink} sink: {source}")]
    Sink {
        /// The store's name.
        sink: String,
        /// Its error.
        #[source]
        source: SinkError,
    },
    /// The writer task panicked.
    #[error("sink writer panicked: {0}")]
    Panicked(String),
}

/// Runs the chain until `shutdown`, or until the sink fails fatally.
pub(crate) async fn run(
    bus: Arc<dyn Bus>,
    topics: &TopicsConfig,
    config: &SinkConfig,
    mut sink: Box<dyn Sink>,
    shutdown: CancellationToken,
) -> Result<SinkStats, StageError> {
    let counters = Arc::new(Counters::default());
    // Stops consumption on shutdown, or earlier when the writer hits a fatal error.
    let stop = shutdown.child_token();
    let mut options = ConsumerOptions::new(config.group.clone(), [topics.scored.clone()]);
    options.max_in_flight = config.max_in_flight();
    options.shutdown = stop.clone();
    let mut consumer = bus.consumer(options).await?;
    let producer = bus.producer();
    let dlq_tasks = TaskTracker::new();
    let retry = RetryPolicy::new(&config.retry, shutdown.clone());
    let dlq_retry = retry.clone();
    let sink_name = sink.name();
    tracing::info!(sink = sink_name, group = %config.group, topic = %topics.scored, "sink started");

    let (tx, mut rx) = mpsc::channel::<PendingBatch>(1);
    let writer = {
        let counters = counters.clone();
        let producer = producer.clone();
        let dlq_topic = topics.dead_letter.clone();
        let stop = stop.clone();
        let dlq_tasks = dlq_tasks.clone();
        tokio::spawn(async move {
            while let Some(pending) = rx.recv().await {
                if let Err(e) = write_batch(
                    &mut *sink, &retry, pending, &producer, &dlq_topic, &counters, &dlq_tasks,
                )
                .await
                {
                    stop.cancel();
                    return Err(e);
                }
            }
            Ok(())
        })
    };

    // Only over the store `config` names (a test's or a custom sink has none).
    let forgotten = if sink_name == config.kind.as_str() {
        Forgotten::start(config, stop.clone()).await
    } else {
        Forgotten::default()
    };
    let progress = spawn_progress(counters.clone(), stop.clone());
    let scored: Arc<str> = Arc::from(topics.scored.as_str());
    let mut batcher = Batcher::new(
        config.batch.max_rows,
        config.batch.max_bytes,
        config.max_age(),
    );
    loop {
        let deadline = batcher.deadline();
        // When idle flushing, an open batch is written as soon as nothing
        // more is ready (`recv` is cancel-safe, so polling it once is fine).
        let ready = if config.batch.flush_when_idle && deadline.is_some() {
            consumer.recv().now_or_never()
        } else {
            None
        };
        let next = match ready {
            Some(next) => next,
            // Group commit: the open batch goes to the writer once it can
            // take one; while it is still writing, records keep joining the
            // batch, so a busy store gets fewer, larger transactions (one
            // fsync each) instead of one per burst.
            None if config.batch.flush_when_idle && deadline.is_some() => tokio::select! {
                d = consumer.recv() => d,
                permit = tx.reserve() => {
                    let Ok(permit) = permit else { break };
                    if let Some(b) = batcher.take() {
                        permit.send(b);
                    }
                    continue;
                }
            },
            None => tokio::select! {
                d = consumer.recv() => d,
                _ = sleep_until(deadline) => {
                    if let Some(b) = batcher.take() {
                        if tx.send(b).await.is_err() { break; }
                    }
                    continue;
                }
            },
        };
        let delivery = match next {
            None => break,
            Some(Ok(d)) => d,
            Some(Err(e)) => {
                tracing::warn!(error = %e, "consumer error; continuing");
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        counters.received.fetch_add(1, Ordering::Relaxed);
        let (message, mut attached) = (delivery.message, delivery.attached);
        let source = source_of_key(message.key.as_deref());
        counters.metrics.posts_in.count(source);
        // From a match stage in this process: its interaction as it is.
        let decoded = match attached.take::<Interaction>() {
            Some(interaction) => Interaction::checked(interaction),
            None => Interaction::from_json(&message.payload),
        };
        match decoded {
            Ok(interaction) if forgotten.contains(&interaction) => {
                // `earshot forget`: never stored again, whatever redelivers it.
                tracing::debug!(post_id = %interaction.post.id, "post of a forgotten author dropped");
                delivery.ack.ack();
            }
            Ok(interaction) => {
                let topic = if *scored == *message.topic {
                    scored.clone()
                } else {
                    Arc::from(message.topic.as_str())
                };
                let item = BatchItem {
                    interaction,
                    position: Position {
                        topic,
                        partition: message.partition,
                        offset: message.offset,
                    },
                    raw: message.payload,
                };
                if let Some(b) = batcher.push(item, delivery.ack) {
                    if tx.send(b).await.is_err() {
                        break;
                    }
                }
            }
            Err(e) => {
                counters.undecodable.fetch_add(1, Ordering::Relaxed);
                counters.metrics.posts_dead.count(source);
                post_metrics::dead_letter(STAGE, "undecodable");
                tracing::warn!(topic = %message.topic, partition = message.partition, offset = message.offset, error = %e, "undecodable scored record; sent to the dead-letter topic");
                dead_letter_then_ack(
                    producer.clone(),
                    &dlq_retry,
                    &topics.dead_letter,
                    &message,
                    &e.to_string(),
                    delivery.ack,
                    &dlq_tasks,
                );
            }
        }
    }
    // Shutdown: hand the partial batch over (it is written and acknowledged if the store is up).
    if let Some(b) = batcher.take() {
        let _ = tx.send(b).await;
    }
    drop(tx);
    let result = writer
        .await
        .unwrap_or_else(|e| Err(StageError::Panicked(e.to_string())));
    dlq_tasks.close();
    dlq_tasks.wait().await;
    stop.cancel();
    progress.await.ok();
    consumer.close(Duration::from_secs(30)).await?;
    let stats = counters.snapshot();
    tracing::info!(?stats, "sink stopped");
    result.map(|()| stats)
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d.into()).await,
        None => std::future::pending().await,
    }
}

/// Writes one batch and settles its tokens. Errors are fatal for the stage.
async fn write_batch(
    sink: &mut dyn Sink,
    retry: &RetryPolicy,
    pending: PendingBatch,
    producer: &Arc<dyn Producer>,
    dlq_topic: &str,
    counters: &Counters,
    dlq_tasks: &TaskTracker,
) -> Result<(), StageError> {
    let PendingBatch { batch, tokens } = pending;
    let batch = Arc::new(batch);
    let started = Instant::now();
    // Sinks retry their own transient failures where they can do better (the
    // ClickHouse sink per table); this outer loop covers the rest.
    let mut attempt = 0;
    let result = loop {
        match sink.write_shared(&batch).await {
            Err(SinkError::Transient(reason)) => {
                attempt += 1;
                counters.retries.fetch_add(1, Ordering::Relaxed);
                counters.metrics.retries.increment(1);
                readiness().fail(
                    ready::STORE,
                    format!("{} sink: writes failing, retrying: {reason}", sink.name()),
                );
                if let Err(e) = retry.wait(attempt, "write batch", &reason).await {
                    break Err(e);
                }
            }
            other => break other,
        }
    };
    let report = match result {
        Ok(r) => r,
        Err(SinkError::Interrupted) => {
            tracing::info!(
                rows = batch.len(),
                "shutdown while retrying; batch left unacknowledged (redelivered on restart)"
            );
            drop(tokens);
            return Ok(());
        }
        Err(e) => {
            tracing::error!(sink = sink.name(), error = %e, rows = batch.len(), "sink failed fatally: consumption stopped, offsets kept before this batch");
            drop(tokens);
            return Err(StageError::Sink {
                sink: sink.name().to_string(),
                source: e,
            });
        }
    };
    readiness().pass(ready::STORE);
    counters.batches.fetch_add(1, Ordering::Relaxed);
    let m = &counters.metrics;
    m.batch_rows.record(batch.len() as f64);
    m.insert_seconds.record(started.elapsed().as_secs_f64());
    m.retries.increment(report.retries);
    publish_outcomes(m, &batch, &report);
    counters
        .stored
        .fetch_add(report.stored as u64, Ordering::Relaxed);
    counters
        .dead_lettered
        .fetch_add(report.dead_lettered as u64, Ordering::Relaxed);
    counters
        .retries
        .fetch_add(report.retries, Ordering::Relaxed);
    let mut tokens: Vec<Option<AckToken>> = tokens.into_iter().map(Some).collect();
    for (index, reason) in &report.rejected {
        let item = &batch.items[*index];
        let message = Message {
            topic: item.position.topic.to_string(),
            partition: item.position.partition,
            offset: item.position.offset,
            key: Some(item.interaction.post.id.clone()),
            payload: item.raw.clone(),
            headers: Vec::new(),
            timestamp_ms: None,
        };
        if let Some(token) = tokens[*index].take() {
            counters.dead_lettered_topic.fetch_add(1, Ordering::Relaxed);
            post_metrics::dead_letter(STAGE, "store_refused_row_and_dead_letter_table");
            tracing::warn!(post_id = %item.interaction.post.id, %reason, "row refused by the store and its dead-letter table; sent to the dead-letter topic");
            dead_letter_then_ack(
                producer.clone(),
                retry,
                dlq_topic,
                &message,
                reason,
                token,
                dlq_tasks,
            );
        }
    }
    for item in &batch.items {
        // One event per post, for following a post from connector to store.
        tracing::debug!(post_id = %item.interaction.post.id, "sink stored");
    }
    let acked = tokens.into_iter().flatten().map(AckToken::ack).count();
    counters.acked.fetch_add(acked as u64, Ordering::Relaxed);
    tracing::debug!(
        rows = batch.len(),
        bytes = batch.bytes,
        ms = started.elapsed().as_millis() as u64,
        "batch written"
    );
    Ok(())
}

/// Counts a written batch's posts by outcome. Rows the store kept in its
/// dead-letter table are not named by index in the [`crate::WriteReport`], so
/// in a batch with such rows every row is counted under source `other`.
fn publish_outcomes(m: &StageMetrics, batch: &crate::Batch, report: &crate::WriteReport) {
    if report.dead_lettered == 0 {
        let mut tally = SourceTally::default();
        for (i, item) in batch.items.iter().enumerate() {
            if !report.rejected.iter().any(|(r, _)| *r == i) {
                tally.count(source_of_key(Some(&item.interaction.post.id)));
            }
        }
        m.posts_out.add(&tally);
    } else {
        let other = |n: usize| {
            let mut t = SourceTally::default();
            t.0[post_metrics::SOURCES.len()] = n as u64;
            t
        };
        m.posts_out.add(&other(report.stored));
        m.posts_dead.add(&other(report.dead_lettered));
        post_metrics::dead_letters(STAGE, "store_refused_row", report.dead_lettered as u64);
    }
    let mut rejected = SourceTally::default();
    for (i, _) in &report.rejected {
        rejected.count(source_of_key(Some(&batch.items[*i].interaction.post.id)));
    }
    m.posts_dead.add(&rejected);
}

/// Sends a dead letter and acknowledges the original once the bus has it.
/// Transient failures are retried with backoff until shutdown; a permanent
/// refusal (too large) is retried with the payload cut. Only a dead letter
/// refused even cut, or unsent at shutdown, is left unacknowledged: its
/// partition is then held, which the consumer reports periodically.
fn dead_letter_then_ack(
    producer: Arc<dyn Producer>,
    retry: &RetryPolicy,
    topic: &str,
    message: &Message,
    reason: &str,
    token: AckToken,
    tasks: &TaskTracker,
) {
    let mut record = dead_letter_record(message, STAGE, reason);
    let mut pending = producer.send(topic, record.clone());
    let (topic, offset) = (topic.to_string(), message.offset);
    let retry = retry.clone();
    tasks.spawn(async move {
        let mut attempt = 0;
        loop {
            let error = match pending.await {
                Ok(()) => return token.ack(),
                Err(e) => e,
            };
            if error.is_permanent() && shrink_refused(&mut record) {
                let keep = record.payload.len();
                tracing::warn!(%topic, offset, %error, keep, "dead letter refused; sending it again with its payload cut");
            } else if error.is_permanent() {
                tracing::error!(%topic, offset, %error, "the dead-letter topic refused the record permanently; its partition stays held");
                return token.nack(&format!("the dead-letter topic refused it: {error}"));
            } else {
                attempt += 1;
                if retry
                    .wait(attempt, "dead-letter send", &error.to_string())
                    .await
                    .is_err()
                {
                    return token.nack("shutdown before its dead letter was delivered");
                }
            }
            pending = producer.send(&topic, record.clone());
        }
    });
}

fn spawn_progress(counters: Arc<Counters>, stop: CancellationToken) -> tokio::task::JoinHandle<()> {
    let progress = Progress::new("sink", Duration::from_secs(10));
    tokio::spawn(progress.run(stop, move || {
        let now = counters.snapshot();
        (now.stored, now)
    }))
}

/// The forgotten authors (`earshot forget`), re-read from the store every
/// [`Forgotten::REFRESH`], so a redelivered or refetched post of theirs is
/// dropped rather than stored again.
#[derive(Clone, Default)]
struct Forgotten {
    authors: Arc<std::sync::RwLock<std::collections::HashSet<String>>>,
}

impl Forgotten {
    /// How often the list is re-read; `earshot forget` waits longer than
    /// this between recording an author and deleting their posts.
    const REFRESH: Duration = Duration::from_secs(2);

    async fn start(config: &SinkConfig, stop: CancellationToken) -> Forgotten {
        let me = Forgotten::default();
        let store = match ForgetStore::open(config).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the forgotten authors (run `earshot migrate`); posts of forgotten authors are not filtered");
                return me;
            }
        };
        me.refresh(&store).await;
        let (m, s) = (me.clone(), store);
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(Forgotten::REFRESH) => m.refresh(&s).await,
                }
            }
        });
        me
    }

    async fn refresh(&self, store: &ForgetStore) {
        match store.authors().await {
            Ok(a) => *self.authors.write().expect("forgotten lock") = a,
            Err(e) => tracing::warn!(error = %e, "cannot re-read the forgotten authors"),
        }
    }

    fn contains(&self, i: &Interaction) -> bool {
        let authors = self.authors.read().expect("forgotten lock");
        !authors.is_empty()
            && i.post
                .author
                .handle
                .as_deref()
                .is_some_and(|h| authors.contains(&author_key(&i.post.source, h)))
    }
}
