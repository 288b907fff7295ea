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
    dead_letter_record, Attached, Bus, ConsumerOptions, Delivery, Producer, TopicsConfig,
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
    });
    let workers = Arc::new(Semaphore::new(config.workers()));
    let tracker = TaskTracker::new();
    tracing::info!(
        group = %config.group, raw = %topics.raw, scored = %topics.scored, dead_letter = %topics.dead_letter,
        max_in_flight = config.max_in_flight, workers = config.workers(), "match stage started"
    );

    let mut progress = Progress::new(STAGE, Duration::from_secs(config.progress_interval_secs));
    let mut batch: Vec<Delivery> = Vec::with_capacity(config.batch_size);
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
            Some(Ok(d)) => batch.push(d),
            Some(Err(e)) => {
                consumer_error(&ctx, &e);
                continue;
            }
        }
        // Take whatever else is ready right away (recv is cancel-safe), so
        // batches grow under load and stay small when traffic is light.
        while batch.len() < config.batch_size {
            match consumer.recv().now_or_never() {
                Some(Some(Ok(d))) => batch.push(d),
                Some(Some(Err(e))) => consumer_error(&ctx, &e),
                Some(None) => {
                    spawn_batch(
                        &tracker,
                        &ctx,
                        &matcher,
                        &workers,
                        std::mem::take(&mut batch),
                    )
                    .await;
                    break 'consume;
                }
                None => break,
            }
        }
        spawn_batch(
            &tracker,
            &ctx,
            &matcher,
            &workers,
            std::mem::take(&mut batch),
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
    batch: Vec<Delivery>,
) {
    if batch.is_empty() {
        return;
    }
    ctx.counters
        .received
        .fetch_add(batch.len() as u64, Ordering::Relaxed);
    let mut tally = SourceTally::default();
    for d in &batch {
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
    tracker.spawn(async move {
        let scoring = ctx.clone();
        let scored = tokio::task::spawn_blocking(move || {
            let mut brands = BrandTally::default();
            let scored = batch
                .into_iter()
                .map(|mut d| {
                    let attached = d.attached.take::<Post>();
                    // A panic anywhere in decoding, scoring or encoding one
                    // post must not take the batch's deliveries down with the
                    // task (they would hold their partitions, silently): the
                    // post is dead-lettered with the panic's message instead.
                    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| score(&matcher, &d, attached, max, &mut brands, &scoring.noise)))
                        .unwrap_or_else(|panic| Err(format!("scoring panicked: {}", panic_message(&*panic))));
                    (d, outcome)
                })
                .collect::<Vec<_>>();
            brands.publish();
            scored
        })
        .await;
        drop(permit);
        let scored = match scored {
            Ok(s) => s,
            Err(e) => {
                // Only reachable if the pool is shutting down: the deliveries
                // were dropped unacknowledged, so they will be redelivered.
                tracing::error!(error = %e, "scoring task failed");
                return;
            }
        };
        let sends = scored.into_iter().map(|(d, outcome)| {
            let (topic, record, attached, poison) = match outcome {
                Ok((record, interaction)) => (ctx.topics.scored.clone(), record, Attached::new(interaction), None),
                Err(reason) => {
                    let m = &d.message;
                    tracing::warn!(topic = %m.topic, partition = m.partition, offset = m.offset, key = ?m.key, %reason, "poison message: dead-lettered");
                    (ctx.topics.dead_letter.clone(), dead_letter_record(m, STAGE, &reason), Attached::none(), Some("poison"))
                }
            };
            // A sink in this process takes the interaction as it is.
            let first = ctx.producer.send_attached(&topic, record.clone(), attached);
            deliver(ctx.clone(), d, topic, record, first, poison)
        });
        futures::future::join_all(sends).await;
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
