//! The stage's loop: receive raw deliveries in batches, score each batch on
//! the blocking pool (at most `workers` at once), deliver the results.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use earshot_match::SharedMatcher;
use earshot_model::Post;
use earshot_transport::post_metrics::{source_of_key, PostCounters, SourceTally};
use earshot_transport::stage::{Backoff, Progress};
use earshot_transport::{
    dead_letter_record, Attached, Bus, ConsumerOptions, Delivery, Producer, Record, TopicsConfig,
    TransportError,
};
use futures::FutureExt;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::{MatchStageConfig, STAGE};
use crate::deliver::deliver;
use crate::noise::NoiseTracker;
use crate::score::{score, BrandTally};
use crate::stats::{Counters, MatchStats};

/// Everything a batch task needs.
pub(crate) struct Ctx {
    pub producer: Arc<dyn Producer>,
    pub topics: TopicsConfig,
    pub counters: Counters,
    /// Cancelled when the drain time after shutdown is over: pending deliveries
    /// give up (unacknowledged, so redelivered after restart).
    pub abandon: CancellationToken,
    pub backoff: Backoff,
    pub max_record_bytes: usize,
    /// `earshot_posts_total{stage="match"}` by outcome.
    pub posts_in: PostCounters,
    pub posts_out: PostCounters,
    pub posts_dead: PostCounters,
    /// Near-duplicate clusters and authors of the recent window (issue 16).
    pub noise: std::sync::Mutex<NoiseTracker>,
    /// Batches done with, kept for the next ones (see [`Batch`]).
    pub spares: std::sync::Mutex<Vec<Batch>>,
}

/// A batch's raw deliveries and, once scored, the outcome of each (same
/// order): a record to send, with the interaction for a consumer in this
/// process, or why the post is dead-lettered. Batches are reused: a new
/// buffer of a few hundred deliveries per batch, made on one thread and freed
/// on another, was a steady source of fresh pages the kernel had to zero
/// (issue 11).
#[derive(Default)]
pub(crate) struct Batch {
    deliveries: Vec<Delivery>,
    outcomes: Vec<Result<(Record, Attached), String>>,
}

/// Spare batches kept: one per scoring worker in flight and one filling,
/// with a margin; more would only hold memory.
const MAX_SPARES: usize = 16;

impl Ctx {
    /// An empty batch with room for `capacity` deliveries, reused if one is spare.
    fn spare_batch(&self, capacity: usize) -> Batch {
        let spare = self.spares.lock().unwrap_or_else(|p| p.into_inner()).pop();
        spare.unwrap_or_else(|| Batch {
            deliveries: Vec::with_capacity(capacity),
            outcomes: Vec::with_capacity(capacity),
        })
    }

    /// Keeps `batch`'s buffers for a later batch.
    fn return_batch(&self, mut batch: Batch) {
        batch.deliveries.clear();
        batch.outcomes.clear();
        let mut spares = self.spares.lock().unwrap_or_else(|p| p.into_inner());
        if spares.len() < MAX_SPARES {
            spares.push(batch);
        }
    }

    /// Where a post's record goes: the scored topic, or the dead-letter
    /// topic when it is dead-lettered (`poison` names why).
    pub(crate) fn topic(&self, poison: Option<&'static str>) -> &str {
        match poison {
            None => &self.topics.scored,
            Some(_) => &self.topics.dead_letter,
        }
    }
}

/// Runs the match stage until `shutdown` is cancelled, then stops fetching,
/// drains in-flight work (up to `drain_timeout_ms`), commits and leaves.
pub async fn run(
    bus: Arc<dyn Bus>,
    topics: &TopicsConfig,
    matcher: Arc<SharedMatcher>,
    config: &MatchStageConfig,
    shutdown: CancellationToken,
) -> Result<MatchStats, TransportError> {
    let mut options = ConsumerOptions::new(&config.group, [&topics.raw]);
    options.max_in_flight = config.max_in_flight;
    options.commit_interval = Duration::from_millis(config.commit_interval_ms);
    options.shutdown = shutdown.clone();
    let mut consumer = bus.consumer(options).await?;
    let ctx = Arc::new(Ctx {
        producer: bus.producer(),
        topics: topics.clone(),
        counters: Counters::default(),
        abandon: CancellationToken::new(),
        backoff: Backoff::new(
            Duration::from_millis(config.retry_backoff_ms),
            Duration::from_millis(config.retry_backoff_max_ms),
        ),
        max_record_bytes: config.max_record_bytes,
        posts_in: PostCounters::new(STAGE, "in"),
        posts_out: PostCounters::new(STAGE, "out"),
        posts_dead: PostCounters::new(STAGE, "dead_letter"),
        noise: Default::default(),
        spares: Default::default(),
    });
    let workers = Arc::new(Semaphore::new(config.workers()));
    let tracker = TaskTracker::new();
    tracing::info!(
        group = %config.group, raw = %topics.raw, scored = %topics.scored, dead_letter = %topics.dead_letter,
        max_in_flight = config.max_in_flight, workers = config.workers(), "match stage started"
    );

    let mut progress = Progress::new(STAGE, Duration::from_secs(config.progress_interval_secs));
    let mut batch = ctx.spare_batch(config.batch_size);
    'consume: loop {
        let first = tokio::select! {
            d = consumer.recv() => d,
            _ = progress.tick() => {
                let stats = ctx.counters.snapshot();
                progress.log(stats.scored + stats.dead_lettered, &stats);
                continue;
            }
        };
        match first {
            None => break,
            Some(Ok(d)) => batch.deliveries.push(d),
            Some(Err(e)) => {
                consumer_error(&ctx, &e);
                continue;
            }
        }
        // Take whatever else is ready right away (recv is cancel-safe), so
        // batches grow under load and stay small when traffic is light.
        while batch.deliveries.len() < config.batch_size {
            match consumer.recv().now_or_never() {
                Some(Some(Ok(d))) => batch.deliveries.push(d),
                Some(Some(Err(e))) => consumer_error(&ctx, &e),
                Some(None) => {
                    spawn_batch(&tracker, &ctx, &matcher, &workers, batch).await;
                    break 'consume;
                }
                None => break,
            }
        }
        let next = ctx.spare_batch(config.batch_size);
        spawn_batch(
            &tracker,
            &ctx,
            &matcher,
            &workers,
            std::mem::replace(&mut batch, next),
        )
        .await;
    }

    // Shutdown: fetching stopped (recv returned None). Drain, then commit and leave.
    let drain = Duration::from_millis(config.drain_timeout_ms);
    let started = Instant::now();
    tracker.close();
    if tokio::time::timeout(drain, tracker.wait()).await.is_err() {
        tracing::warn!(
            "drain timeout: undelivered posts stay unacknowledged and will be redelivered"
        );
        ctx.abandon.cancel();
        tracker.wait().await;
    }
    let left = drain
        .saturating_sub(started.elapsed())
        .max(Duration::from_millis(500));
    consumer.close(left).await?;
    let stats = ctx.counters.snapshot();
    tracing::info!(%stats, "match stage stopped");
    Ok(stats)
}

fn consumer_error(ctx: &Ctx, e: &TransportError) {
    ctx.counters.consumer_errors.fetch_add(1, Ordering::Relaxed);
    tracing::warn!(error = %e, "consumer error; continuing");
}

/// Waits for a scoring slot, then scores and delivers `batch` in a task.
async fn spawn_batch(
    tracker: &TaskTracker,
    ctx: &Arc<Ctx>,
    matcher: &Arc<SharedMatcher>,
    workers: &Arc<Semaphore>,
    mut batch: Batch,
) {
    if batch.deliveries.is_empty() {
        ctx.return_batch(batch);
        return;
    }
    ctx.counters
        .received
        .fetch_add(batch.deliveries.len() as u64, Ordering::Relaxed);
    let mut tally = SourceTally::default();
    for d in &batch.deliveries {
        tally.count(source_of_key(d.message.key.as_deref()));
    }
    ctx.posts_in.add(&tally);
    let permit = workers
        .clone()
        .acquire_owned()
        .await
        .expect("semaphore never closed");
    let (ctx, matcher) = (ctx.clone(), matcher.load());
    let max = ctx.max_record_bytes;
    // A bus that crosses processes has no use for the scored interactions:
    // they are freed here, on the thread that made them, not on the one that
    // sees the delivery reports (cross-thread frees left the allocator
    // abandoning pages, returning them to the OS and faulting fresh ones in:
    // issue 11).
    let keep_interactions = ctx.producer.takes_attached();
    tracker.spawn(async move {
        let scoring = ctx.clone();
        let scored = tokio::task::spawn_blocking(move || {
            let mut brands = BrandTally::default();
            let Batch { deliveries, outcomes } = &mut batch;
            outcomes.extend(deliveries.iter_mut().map(|d| {
                let attached = d.attached.take::<Post>();
                // A panic anywhere in decoding, scoring or encoding one
                // post must not take the batch's deliveries down with the
                // task (they would hold their partitions, silently): the
                // post is dead-lettered with the panic's message instead.
                std::panic::catch_unwind(AssertUnwindSafe(|| score(&matcher, d, attached, max, &mut brands, &scoring.noise)))
                    .unwrap_or_else(|panic| Err(format!("scoring panicked: {}", panic_message(&*panic))))
                    .map(|(record, interaction)| {
                        let attached = if keep_interactions { Attached::new(interaction) } else { Attached::none() };
                        (record, attached)
                    })
            }));
            brands.publish();
            batch
        })
        .await;
        drop(permit);
        let mut batch = match scored {
            Ok(b) => b,
            Err(e) => {
                // Only reachable if the pool is shutting down: the deliveries
                // were dropped unacknowledged, so they will be redelivered.
                tracing::error!(error = %e, "scoring task failed");
                return;
            }
        };
        let Batch { deliveries, outcomes } = &mut batch;
        let sends = deliveries.drain(..).zip(outcomes.drain(..)).map(|(d, outcome)| {
            let (record, attached, poison) = match outcome {
                Ok((record, attached)) => (record, attached, None),
                Err(reason) => {
                    let m = &d.message;
                    tracing::warn!(topic = %m.topic, partition = m.partition, offset = m.offset, key = ?m.key, %reason, "poison message: dead-lettered");
                    (dead_letter_record(m, STAGE, &reason), Attached::none(), Some("poison"))
                }
            };
            // A sink in this process takes the interaction as it is; the
            // record is kept to send it again after a transient failure.
            let first = ctx.producer.send_copy(ctx.topic(poison), &record, attached);
            deliver(ctx.clone(), d, record, first, poison)
        });
        futures::future::join_all(sends).await;
        ctx.return_batch(batch);
    });
}

/// The text of a caught panic's payload.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".into())
}
