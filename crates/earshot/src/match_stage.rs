//! `earshot match`: consume raw posts, score them, produce interactions.
//!
//! Each raw delivery is acknowledged only once its result is durably on the
//! bus: the interaction on the scored topic, or (for poison input: undecodable
//! JSON, an unknown schema version) the original record on the dead-letter
//! topic with the reason in its headers. A failed produce is retried with
//! backoff, never acknowledged, so after a crash the consumer group resumes
//! from the last contiguous acknowledged offset and nothing is lost (duplicates
//! are possible and carry the same key).
//!
//! Scoring is CPU-bound, so batches are scored on the blocking pool, at most
//! `workers` batches at once; the consumer's in-flight budget (`max_in_flight`)
//! bounds everything received and not yet acknowledged, including produces.

use std::fmt;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use earshot_match::{Matcher, SharedMatcher};
use earshot_model::{EntityKind, Interaction, Post, ORIGIN_HEADER, SCHEMA_HEADER, SCHEMA_VERSION};
use earshot_transport::post_metrics::{self, source_of_key, PostCounters, SourceTally};
use earshot_transport::{
    dead_letter_record, shrink_refused, Bus, ConsumerOptions, Delivery, DeliveryFuture, Producer,
    Record, TopicsConfig,
};
use futures::FutureExt;
use serde::Deserialize;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Stage name in dead-letter headers and the origin header of scored records.
pub const STAGE: &str = "match";

/// `[match]` section of `earshot.toml`: the match daemon.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatchStageConfig {
    /// Consumer group (default `earshot-match`). Every `earshot match`
    /// process of one group shares the raw topic's partitions.
    #[serde(default = "default_group")]
    pub group: String,
    /// Most raw posts received and not yet acknowledged per process (default
    /// 5,000). When reached, consumption pauses until results are delivered.
    #[serde(default = "default_max_in_flight")]
    pub max_in_flight: usize,
    /// Posts scored together in one task (default 256).
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    /// Batches scored at once on the blocking pool (default 0: one per CPU).
    #[serde(default)]
    pub workers: usize,
    /// How often consumed offsets are committed, in milliseconds (default 1,000).
    #[serde(default = "default_commit_interval_ms")]
    pub commit_interval_ms: u64,
    /// On shutdown, how long to wait for in-flight posts to be delivered
    /// before leaving them to be redelivered, in milliseconds (default 5,000).
    #[serde(default = "default_drain_timeout_ms")]
    pub drain_timeout_ms: u64,
    /// First wait before re-sending a record whose delivery failed, in
    /// milliseconds (default 200); doubles per attempt.
    #[serde(default = "default_retry_backoff_ms")]
    pub retry_backoff_ms: u64,
    /// Longest wait between delivery attempts, in milliseconds (default 10,000).
    #[serde(default = "default_retry_backoff_max_ms")]
    pub retry_backoff_max_ms: u64,
    /// How often progress is logged, in seconds (default 10; 0 disables).
    #[serde(default = "default_progress_interval_secs")]
    pub progress_interval_secs: u64,
    /// Largest scored record produced, in bytes (default 900,000: under
    /// Kafka's default 1 MB message limit with room for key and headers).
    /// A larger one is made to fit: the source's raw JSON is dropped, then
    /// matches are cut to one per entity, then the text is truncated with a
    /// marker; what was cut is named in the `earshot-trimmed` header. A
    /// record that still does not fit is dead-lettered.
    #[serde(default = "default_max_record_bytes")]
    pub max_record_bytes: usize,
}

impl Default for MatchStageConfig {
    fn default() -> Self {
        MatchStageConfig {
            group: default_group(),
            max_in_flight: default_max_in_flight(),
            batch_size: default_batch_size(),
            workers: 0,
            commit_interval_ms: default_commit_interval_ms(),
            drain_timeout_ms: default_drain_timeout_ms(),
            retry_backoff_ms: default_retry_backoff_ms(),
            retry_backoff_max_ms: default_retry_backoff_max_ms(),
            progress_interval_secs: default_progress_interval_secs(),
            max_record_bytes: default_max_record_bytes(),
        }
    }
}

fn default_group() -> String {
    "earshot-match".into()
}
fn default_max_in_flight() -> usize {
    5_000
}
fn default_batch_size() -> usize {
    256
}
fn default_commit_interval_ms() -> u64 {
    1_000
}
fn default_drain_timeout_ms() -> u64 {
    5_000
}
fn default_retry_backoff_ms() -> u64 {
    200
}
fn default_retry_backoff_max_ms() -> u64 {
    10_000
}
fn default_progress_interval_secs() -> u64 {
    10
}
fn default_max_record_bytes() -> usize {
    900_000
}

impl MatchStageConfig {
    /// Every problem with this section, as `(key, message)` pairs.
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut errors = Vec::new();
        let mut check = |ok: bool, key: &str, message: String| {
            if !ok {
                errors.push((format!("match.{key}"), message));
            }
        };
        check(
            !self.group.trim().is_empty(),
            "group",
            "expected a non-empty consumer group name".into(),
        );
        check(
            (1..=1_000_000).contains(&self.max_in_flight),
            "max_in_flight",
            format!("{}: expected 1 to 1000000", self.max_in_flight),
        );
        check(
            (1..=100_000).contains(&self.batch_size),
            "batch_size",
            format!("{}: expected 1 to 100000", self.batch_size),
        );
        check(
            self.workers <= 1024,
            "workers",
            format!("{}: expected 0 (one per CPU) to 1024", self.workers),
        );
        check(
            self.commit_interval_ms >= 10,
            "commit_interval_ms",
            format!("{}: expected at least 10", self.commit_interval_ms),
        );
        check(
            self.retry_backoff_ms >= 1 && self.retry_backoff_ms <= self.retry_backoff_max_ms,
            "retry_backoff_ms",
            format!(
                "{}: expected at least 1 and at most retry_backoff_max_ms ({})",
                self.retry_backoff_ms, self.retry_backoff_max_ms
            ),
        );
        check(
            self.max_record_bytes >= 4096,
            "max_record_bytes",
            format!("{}: expected at least 4096", self.max_record_bytes),
        );
        errors
    }

    fn workers(&self) -> usize {
        match self.workers {
            0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
            n => n,
        }
    }
}

/// What one run of the stage did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MatchStats {
    /// Raw deliveries received.
    pub received: u64,
    /// Interactions delivered to the scored topic (and their raw posts acknowledged).
    pub scored: u64,
    /// Poison records delivered to the dead-letter topic (and acknowledged).
    pub dead_lettered: u64,
    /// Produce attempts that failed and were retried.
    pub retries: u64,
    /// Errors reported by the consumer (logged; consumption continues).
    pub consumer_errors: u64,
    /// Deliveries left unacknowledged at shutdown (redelivered after restart).
    pub abandoned: u64,
}

impl fmt::Display for MatchStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} received, {} scored, {} dead-lettered, {} delivery retries, {} consumer errors, {} left for redelivery",
            self.received, self.scored, self.dead_lettered, self.retries, self.consumer_errors, self.abandoned
        )
    }
}

#[derive(Default)]
struct Counters {
    received: AtomicU64,
    scored: AtomicU64,
    dead_lettered: AtomicU64,
    retries: AtomicU64,
    consumer_errors: AtomicU64,
    abandoned: AtomicU64,
}

impl Counters {
    fn snapshot(&self) -> MatchStats {
        MatchStats {
            received: self.received.load(Ordering::Relaxed),
            scored: self.scored.load(Ordering::Relaxed),
            dead_lettered: self.dead_lettered.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            consumer_errors: self.consumer_errors.load(Ordering::Relaxed),
            abandoned: self.abandoned.load(Ordering::Relaxed),
        }
    }
}

/// Everything a batch task needs.
struct Ctx {
    producer: Arc<dyn Producer>,
    topics: TopicsConfig,
    counters: Counters,
    /// Cancelled when the drain time after shutdown is over: pending deliveries
    /// give up (unacknowledged, so redelivered after restart).
    abandon: CancellationToken,
    backoff: Duration,
    backoff_max: Duration,
    max_record_bytes: usize,
    /// `earshot_posts_total{stage="match"}` by outcome.
    posts_in: PostCounters,
    posts_out: PostCounters,
    posts_dead: PostCounters,
}

/// Runs the match stage until `shutdown` is cancelled, then stops fetching,
/// drains in-flight work (up to `drain_timeout_ms`), commits and leaves.
pub async fn run(
    bus: Arc<dyn Bus>,
    topics: &TopicsConfig,
    matcher: Arc<SharedMatcher>,
    config: &MatchStageConfig,
    shutdown: CancellationToken,
) -> anyhow::Result<MatchStats> {
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
        backoff: Duration::from_millis(config.retry_backoff_ms),
        backoff_max: Duration::from_millis(config.retry_backoff_max_ms),
        max_record_bytes: config.max_record_bytes,
        posts_in: PostCounters::new(STAGE, "in"),
        posts_out: PostCounters::new(STAGE, "out"),
        posts_dead: PostCounters::new(STAGE, "dead_letter"),
    });
    let workers = Arc::new(Semaphore::new(config.workers()));
    let tracker = TaskTracker::new();
    tracing::info!(
        group = %config.group, raw = %topics.raw, scored = %topics.scored, dead_letter = %topics.dead_letter,
        max_in_flight = config.max_in_flight, workers = config.workers(), "match stage started"
    );

    let mut progress = Progress::new(config.progress_interval_secs);
    let mut batch: Vec<Delivery> = Vec::with_capacity(config.batch_size);
    'consume: loop {
        let first = tokio::select! {
            d = consumer.recv() => d,
            _ = progress.tick() => {
                progress.log(&ctx.counters);
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

fn consumer_error(ctx: &Ctx, e: &earshot_transport::TransportError) {
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
        let scored = tokio::task::spawn_blocking(move || {
            let mut brands = BrandTally::default();
            let scored = batch
                .into_iter()
                .map(|d| {
                    // A panic anywhere in decoding, scoring or encoding one
                    // post must not take the batch's deliveries down with the
                    // task (they would hold their partitions, silently): the
                    // post is dead-lettered with the panic's message instead.
                    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| score(&matcher, &d, max, &mut brands)))
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
            let (topic, record, poison) = match outcome {
                Ok(record) => (ctx.topics.scored.clone(), record, None),
                Err(reason) => {
                    let m = &d.message;
                    tracing::warn!(topic = %m.topic, partition = m.partition, offset = m.offset, key = ?m.key, %reason, "poison message: dead-lettered");
                    (ctx.topics.dead_letter.clone(), dead_letter_record(m, STAGE, &reason), Some("poison"))
                }
            };
            let first = ctx.producer.send(&topic, record.clone());
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

/// Header naming what was cut from a scored record to fit `max_record_bytes`
/// (e.g. `raw,matches:5400->1,text:70000->61234`).
pub const TRIMMED_HEADER: &str = earshot_model::headers::TRIMMED;

/// Serializes `interaction` within `max` bytes, cutting deterministically (the
/// same post always gives the same record, so a redelivery replaces it):
/// first the source's raw JSON, then repeated matches (one per entity is
/// kept, so mentions and entity lists do not change), then the end of the
/// text, which then ends with a visible marker. Returns the JSON and what was
/// cut; `Err` when even that does not fit.
fn fit(mut interaction: Interaction, max: usize) -> Result<(Vec<u8>, Vec<String>), String> {
    let mut json = interaction.to_json();
    let mut cut = Vec::new();
    let original = json.len();
    if json.len() <= max {
        return Ok((json, cut));
    }
    if interaction.post.raw.take().is_some() {
        cut.push("raw".to_string());
        json = interaction.to_json();
        if json.len() <= max {
            return Ok((json, cut));
        }
    }
    let before = interaction.matches.len();
    let mut seen = std::collections::HashSet::new();
    interaction
        .matches
        .retain(|m| seen.insert((m.kind, m.entity_id.clone())));
    if interaction.matches.len() < before {
        cut.push(format!("matches:{before}->{}", interaction.matches.len()));
        json = interaction.to_json();
        if json.len() <= max {
            return Ok((json, cut));
        }
    }
    let text = std::mem::take(&mut interaction.post.text);
    let marker = format!(" [earshot: text truncated from {} bytes]", text.len());
    // JSON escaping can make the text longer than its bytes: shrink until it
    // fits, by the measured excess each time (a few rounds at most).
    let mut keep = text.len();
    for _ in 0..8 {
        let over = json.len().saturating_sub(max) + marker.len();
        keep = keep.saturating_sub(over);
        while !text.is_char_boundary(keep) {
            keep -= 1;
        }
        interaction.post.text = format!("{}{marker}", &text[..keep]);
        json = interaction.to_json();
        if json.len() <= max {
            cut.push(format!("text:{}->{keep}", text.len()));
            return Ok((json, cut));
        }
        if keep == 0 {
            break;
        }
    }
    Err(format!(
        "scored record of {original} bytes does not fit max_record_bytes = {max} even without raw JSON, repeated matches and text ({} bytes)",
        json.len()
    ))
}

/// Watchlist matches of one batch by brand (or competitor) id, so that
/// `earshot_matches_total{brand}` is updated once per batch, not per post.
/// Each entry keeps the number of the last post counted, so a post naming a
/// brand many times counts once, in time linear in its matches.
#[derive(Default)]
struct BrandTally {
    by_brand: std::collections::HashMap<String, (u64, usize)>,
    posts: usize,
}

impl BrandTally {
    /// Counts each brand or competitor `interaction` matched, once per post.
    fn count(&mut self, interaction: &Interaction) {
        self.posts += 1;
        for m in &interaction.matches {
            if m.kind == EntityKind::Customer {
                continue;
            }
            let post = self.posts;
            match self.by_brand.get_mut(m.entity_id.as_str()) {
                Some((_, last)) if *last == post => {}
                Some((n, last)) => {
                    *n += 1;
                    *last = post;
                }
                None => {
                    self.by_brand.insert(m.entity_id.clone(), (1, post));
                }
            }
        }
    }

    fn publish(self) {
        for (brand, (n, _)) in self.by_brand {
            metrics::counter!("earshot_matches_total", "brand" => brand).increment(n);
        }
    }
}

/// Decodes and scores one raw post into the scored record, or names why it is poison.
fn score(
    matcher: &Matcher,
    d: &Delivery,
    max_record_bytes: usize,
    brands: &mut BrandTally,
) -> Result<Record, String> {
    if let Some(v) = d.message.header(SCHEMA_HEADER) {
        if v != SCHEMA_VERSION.to_string() {
            return Err(format!(
                "unsupported {SCHEMA_HEADER} header {v:?} (this build reads {SCHEMA_VERSION})"
            ));
        }
    }
    let post = Post::from_json(&d.message.payload).map_err(|e| e.to_string())?;
    // A matcher bug on one odd post must not stop the stage: quarantine it.
    let interaction = std::panic::catch_unwind(AssertUnwindSafe(|| matcher.score(&post)))
        .map_err(|_| "the matcher panicked on this post".to_string())?;
    brands.count(&interaction);
    tracing::debug!(post_id = %post.id, matches = interaction.matches.len(), route = %interaction.route, "matcher scored");
    let (payload, cut) = fit(interaction, max_record_bytes)?;
    let mut record = Record::new(post.id, payload)
        .header(SCHEMA_HEADER, SCHEMA_VERSION.to_string())
        .header(ORIGIN_HEADER, STAGE);
    if !cut.is_empty() {
        let m = &d.message;
        tracing::warn!(topic = %m.topic, partition = m.partition, offset = m.offset, key = ?m.key, cut = %cut.join(","), "scored record over max_record_bytes: trimmed to fit");
        record = record.header(TRIMMED_HEADER, cut.join(","));
    }
    Ok(record)
}

/// Awaits a record's delivery and acknowledges the raw delivery only once it
/// succeeded. Transient failures are re-sent with backoff (until shutdown);
/// a permanent refusal (too large, invalid, not authorized) of a scored
/// record dead-letters the raw post with the reason instead, and a dead
/// letter refused whole is sent again with its payload cut to a prefix, so
/// the partition moves on. Only when even that is refused is the delivery
/// left unacknowledged: its partition is then held, and the consumer says so
/// periodically (log and metric).
async fn deliver(
    ctx: Arc<Ctx>,
    d: Delivery,
    topic: String,
    record: Record,
    first: DeliveryFuture,
    poison: Option<&'static str>,
) {
    // `poison`: why the post is being dead-lettered (a fixed label value).
    let (mut topic, mut record, mut poison) = (topic, record, poison);
    let source = source_of_key(d.message.key.as_deref());
    let mut pending = first;
    let mut backoff = ctx.backoff;
    loop {
        let result = tokio::select! {
            r = &mut pending => r,
            _ = ctx.abandon.cancelled() => break,
        };
        match result {
            Ok(()) => {
                d.ack.ack();
                let counter = match poison {
                    Some(reason) => {
                        ctx.posts_dead.count(source);
                        post_metrics::dead_letter(STAGE, reason);
                        &ctx.counters.dead_lettered
                    }
                    None => {
                        ctx.posts_out.count(source);
                        &ctx.counters.scored
                    }
                };
                counter.fetch_add(1, Ordering::Relaxed);
                return;
            }
            Err(e) if e.is_permanent() && poison.is_none() => {
                let m = &d.message;
                let reason = format!("scored record refused: {e}");
                tracing::warn!(topic = %m.topic, partition = m.partition, offset = m.offset, key = ?m.key, %reason, "permanent produce error: raw post dead-lettered");
                topic = ctx.topics.dead_letter.clone();
                record = dead_letter_record(m, STAGE, &reason);
                poison = Some("scored_refused");
                pending = ctx.producer.send(&topic, record.clone());
            }
            Err(e) if e.is_permanent() && shrink_refused(&mut record) => {
                let m = &d.message;
                tracing::warn!(topic = %m.topic, partition = m.partition, offset = m.offset, key = ?m.key, error = %e, keep = record.payload.len(), "dead letter refused; sending it again with its payload cut");
                pending = ctx.producer.send(&topic, record.clone());
            }
            Err(e) if e.is_permanent() => {
                let m = &d.message;
                tracing::error!(topic = %m.topic, partition = m.partition, offset = m.offset, key = ?m.key, error = %e, "the dead-letter topic refused the record permanently; its partition stays held");
                d.ack
                    .nack(&format!("the dead-letter topic refused it: {e}"));
                return;
            }
            Err(e) => {
                ctx.counters.retries.fetch_add(1, Ordering::Relaxed);
                metrics::counter!("earshot_retries_total", "stage" => STAGE).increment(1);
                tracing::warn!(%topic, key = %record.key, error = %e, retry_in = ?backoff, "delivery failed; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = ctx.abandon.cancelled() => break,
                }
                backoff = (backoff * 2).min(ctx.backoff_max);
                pending = ctx.producer.send(&topic, record.clone());
            }
        }
    }
    ctx.counters.abandoned.fetch_add(1, Ordering::Relaxed);
    d.ack.nack("shutdown before its result was delivered");
}

/// Periodic progress logging.
struct Progress {
    interval: Option<Duration>,
    next: tokio::time::Instant,
    last: (Instant, u64),
}

impl Progress {
    fn new(secs: u64) -> Progress {
        let interval = (secs > 0).then(|| Duration::from_secs(secs));
        Progress {
            interval,
            next: tokio::time::Instant::now() + interval.unwrap_or(Duration::from_secs(3600)),
            last: (Instant::now(), 0),
        }
    }

    async fn tick(&mut self) {
        match self.interval {
            Some(i) => {
                tokio::time::sleep_until(self.next).await;
                self.next += i;
            }
            None => std::future::pending().await,
        }
    }

    fn log(&mut self, counters: &Counters) {
        let stats = counters.snapshot();
        let done = stats.scored + stats.dead_lettered;
        let rate = (done - self.last.1) as f64 / self.last.0.elapsed().as_secs_f64().max(1e-3);
        self.last = (Instant::now(), done);
        tracing::info!(%stats, per_second = rate.round(), "match progress");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use earshot_match::{MatcherConfig, MemorySource};
    use earshot_model::Interaction;
    use earshot_transport::MemoryBus;

    fn matcher() -> Arc<SharedMatcher> {
        let config: MatcherConfig = toml::from_str(r#"brands = ["brands.toml"]"#).unwrap();
        let files = MemorySource::default().with(
            "brands.toml",
            "[[brand]]\nid = \"acme\"\nname = \"Acme\"\nquery = 'acme'\n",
        );
        Arc::new(SharedMatcher::new(config.compile(&files).unwrap()))
    }

    async fn drain(bus: &MemoryBus, topic: &str, n: usize) -> Vec<earshot_transport::Message> {
        let mut c = bus
            .consumer(ConsumerOptions::new(
                earshot_tests::unique_name("check"),
                [topic],
            ))
            .await
            .unwrap();
        let mut out = Vec::new();
        while out.len() < n {
            // Generous: the oversize test scores a 70 KB post in a debug build.
            let d = tokio::time::timeout(Duration::from_secs(60), c.recv())
                .await
                .unwrap()
                .unwrap()
                .unwrap();
            out.push(d.message.clone());
            d.ack.ack();
        }
        c.close(Duration::from_secs(1)).await.unwrap();
        out
    }

    /// Good posts are scored, poison goes to the dead-letter topic, and the
    /// stage commits everything on shutdown (over the in-memory bus; the
    /// Kafka end-to-end tests drive the real binary).
    #[tokio::test]
    async fn scores_good_posts_and_dead_letters_poison() {
        let bus = MemoryBus::new();
        let topics = TopicsConfig::default();
        bus.ensure_topics(&topics.specs()).await.unwrap();
        let producer = bus.producer();
        for i in 0..50 {
            let post = Post::new(format!("test:{i}"), format!("acme post {i}"));
            producer
                .send(
                    &topics.raw,
                    Record::new(post.id.clone(), post.to_json()).header(SCHEMA_HEADER, "1"),
                )
                .await
                .unwrap();
        }
        producer
            .send(&topics.raw, Record::new("bad:1", b"{not json".to_vec()))
            .await
            .unwrap();
        let future = Post {
            schema_version: 99,
            ..Post::new("bad:2", "x")
        };
        producer
            .send(&topics.raw, Record::new("bad:2", future.to_json()))
            .await
            .unwrap();

        let shutdown = CancellationToken::new();
        let config = MatchStageConfig {
            batch_size: 8,
            ..MatchStageConfig::default()
        };
        let stage = tokio::spawn({
            let (bus, topics, shutdown) = (
                Arc::new(bus.clone()) as Arc<dyn Bus>,
                topics.clone(),
                shutdown.clone(),
            );
            async move { run(bus, &topics, matcher(), &config, shutdown).await }
        });

        let scored = drain(&bus, &topics.scored, 50).await;
        let mut ids: Vec<String> = scored.iter().map(|m| m.key.clone().unwrap()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 50);
        for m in &scored {
            assert_eq!(m.header(ORIGIN_HEADER), Some(STAGE));
            assert_eq!(m.header(SCHEMA_HEADER), Some("1"));
            let i = Interaction::from_json(&m.payload).unwrap();
            assert_eq!(Some(i.post.id.as_str()), m.key.as_deref());
            assert_eq!(i.entities(earshot_model::EntityKind::Brand), ["acme"]);
        }
        let dead = drain(&bus, &topics.dead_letter, 2).await;
        let reasons: Vec<&str> = dead
            .iter()
            .map(|m| m.header("earshot-error").unwrap())
            .collect();
        assert!(
            reasons.iter().any(|r| r.contains("invalid JSON")),
            "{reasons:?}"
        );
        assert!(
            reasons.iter().any(|r| r.contains("schema_version 99")),
            "{reasons:?}"
        );
        assert!(dead
            .iter()
            .all(|m| m.header("earshot-stage") == Some(STAGE)));

        shutdown.cancel();
        let stats = stage.await.unwrap().unwrap();
        assert_eq!(
            (
                stats.received,
                stats.scored,
                stats.dead_lettered,
                stats.abandoned
            ),
            (52, 50, 2, 0)
        );
        let committed: i64 = (0..topics.partitions)
            .map(|p| bus.committed("earshot-match", &topics.raw, p).unwrap_or(0))
            .sum();
        assert_eq!(
            committed, 52,
            "every raw post was acknowledged and committed"
        );
    }

    /// A bus whose producer fails the first `failures` sends to one topic.
    struct FlakyBus {
        inner: MemoryBus,
        topic: String,
        failures: Arc<AtomicU64>,
        refuse: bool,
    }

    struct FlakyProducer {
        inner: Arc<dyn Producer>,
        topic: String,
        failures: Arc<AtomicU64>,
        refuse: bool,
    }

    impl Producer for FlakyProducer {
        fn send(&self, topic: &str, record: Record) -> DeliveryFuture {
            let fail = topic == self.topic
                && self
                    .failures
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .is_ok();
            if fail {
                let topic = topic.to_string();
                let error = if self.refuse {
                    earshot_transport::TransportError::Refused {
                        topic,
                        message: "Broker: Message size too large (test)".into(),
                    }
                } else {
                    earshot_transport::TransportError::Delivery {
                        topic,
                        message: "broker unavailable (test)".into(),
                    }
                };
                return futures::future::ready(Err(error)).boxed();
            }
            self.inner.send(topic, record)
        }
        fn flush(
            &self,
            timeout: Duration,
        ) -> futures::future::BoxFuture<'_, Result<(), earshot_transport::TransportError>> {
            self.inner.flush(timeout)
        }
    }

    #[async_trait::async_trait]
    impl Bus for FlakyBus {
        async fn ensure_topics(
            &self,
            topics: &[earshot_transport::TopicSpec],
        ) -> Result<(), earshot_transport::TransportError> {
            self.inner.ensure_topics(topics).await
        }
        fn producer(&self) -> Arc<dyn Producer> {
            Arc::new(FlakyProducer {
                inner: self.inner.producer(),
                topic: self.topic.clone(),
                failures: self.failures.clone(),
                refuse: self.refuse,
            })
        }
        async fn consumer(
            &self,
            options: ConsumerOptions,
        ) -> Result<Box<dyn earshot_transport::Consumer>, earshot_transport::TransportError>
        {
            self.inner.consumer(options).await
        }
    }

    async fn run_flaky(
        failures: u64,
        posts: usize,
    ) -> (
        MatchStats,
        MemoryBus,
        TopicsConfig,
        Vec<earshot_transport::Message>,
    ) {
        let bus = MemoryBus::new();
        let topics = TopicsConfig {
            partitions: 1,
            ..TopicsConfig::default()
        };
        bus.ensure_topics(&topics.specs()).await.unwrap();
        for i in 0..posts {
            let post = Post::new(format!("test:{i}"), "acme");
            bus.producer()
                .send(&topics.raw, Record::new(post.id.clone(), post.to_json()))
                .await
                .unwrap();
        }
        let flaky = FlakyBus {
            inner: bus.clone(),
            topic: topics.scored.clone(),
            failures: Arc::new(AtomicU64::new(failures)),
            refuse: false,
        };
        let config = MatchStageConfig {
            retry_backoff_ms: 5,
            retry_backoff_max_ms: 20,
            drain_timeout_ms: 300,
            ..MatchStageConfig::default()
        };
        let shutdown = CancellationToken::new();
        let stage = tokio::spawn({
            let (topics, shutdown) = (topics.clone(), shutdown.clone());
            async move { run(Arc::new(flaky), &topics, matcher(), &config, shutdown).await }
        });
        let scored = if failures < u64::MAX {
            drain(&bus, &topics.scored, posts).await
        } else {
            tokio::time::sleep(Duration::from_millis(500)).await;
            Vec::new()
        };
        shutdown.cancel();
        let stats = stage.await.unwrap().unwrap();
        (stats, bus, topics, scored)
    }

    /// Failed deliveries to the scored topic are retried (the same record)
    /// until they succeed; only then is the raw post acknowledged.
    #[tokio::test]
    async fn failed_deliveries_are_retried_then_acknowledged() {
        let (stats, bus, topics, scored) = run_flaky(7, 10).await;
        assert_eq!(stats.retries, 7);
        assert_eq!((stats.scored, stats.abandoned), (10, 0));
        let mut keys: Vec<_> = scored.iter().map(|m| m.key.clone().unwrap()).collect();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), 10);
        assert_eq!(bus.committed("earshot-match", &topics.raw, 0), Some(10));
    }

    /// A delivery that never succeeds is never acknowledged: at shutdown the
    /// raw offsets stay uncommitted, so the posts are redelivered after restart.
    #[tokio::test]
    async fn a_delivery_that_keeps_failing_is_never_acknowledged() {
        let (stats, bus, topics, _) = run_flaky(u64::MAX, 10).await;
        assert_eq!((stats.received, stats.scored, stats.abandoned), (10, 0, 10));
        assert!(stats.retries > 10, "{stats}");
        assert_eq!(bus.committed("earshot-match", &topics.raw, 0), None);
        assert_eq!(bus.len(&topics.scored), 0);
    }

    /// A matcher whose brand is an alias (the bundled example's shape): one
    /// match per occurrence, as the bundled config gives.
    fn alias_matcher() -> Arc<SharedMatcher> {
        let config: MatcherConfig = toml::from_str(r#"brands = ["brands.toml"]"#).unwrap();
        let files = MemorySource::default()
            .with("brands.toml", "[[brand]]\nid = \"acme\"\nname = \"Acme\"\n");
        Arc::new(SharedMatcher::new(config.compile(&files).unwrap()))
    }

    /// Finding 2 of issue 12: a 70 KB post of repeated brand names scored
    /// into a 1.06 MB record, over Kafka's 1 MB limit, and was retried
    /// forever. Now it is made to fit (raw JSON dropped, one match per
    /// entity), says so in a header, and its raw offset is committed.
    #[tokio::test]
    async fn issue_12_oversize_scored_record_is_made_to_fit() {
        let bus = MemoryBus::new();
        let topics = TopicsConfig {
            partitions: 1,
            ..TopicsConfig::default()
        };
        bus.ensure_topics(&topics.specs()).await.unwrap();
        let mut post = Post::new("test:big", "acme ".repeat(14_000));
        post.raw = Some(serde_json::json!({"body": "acme ".repeat(14_000)}));
        bus.producer()
            .send(&topics.raw, Record::new(post.id.clone(), post.to_json()))
            .await
            .unwrap();
        let shutdown = CancellationToken::new();
        let stage = tokio::spawn({
            let (bus, topics, shutdown) = (
                Arc::new(bus.clone()) as Arc<dyn Bus>,
                topics.clone(),
                shutdown.clone(),
            );
            let config = MatchStageConfig::default();
            async move { run(bus, &topics, alias_matcher(), &config, shutdown).await }
        });
        let scored = drain(&bus, &topics.scored, 1).await;
        shutdown.cancel();
        let stats = stage.await.unwrap().unwrap();
        assert_eq!((stats.scored, stats.dead_lettered), (1, 0), "{stats}");
        let m = &scored[0];
        assert!(
            m.payload.len() <= MatchStageConfig::default().max_record_bytes,
            "{} bytes",
            m.payload.len()
        );
        let cut = m.header(TRIMMED_HEADER).expect("trimmed header");
        // The matcher reads the first 64 KiB (max_text_bytes): 13,107 "acme ".
        assert_eq!(cut, "raw,matches:13107->1");
        let i = Interaction::from_json(&m.payload).unwrap();
        assert!(i.truncated);
        assert_eq!(i.entities(earshot_model::EntityKind::Brand), ["acme"]);
        assert_eq!(i.post.text.len(), 70_000, "the text itself fitted");
        assert_eq!(bus.committed("earshot-match", &topics.raw, 0), Some(1));
    }

    /// Trimming is deterministic and, past raw and matches, cuts the text at
    /// a character boundary with a visible marker; what cannot fit is refused.
    #[test]
    fn issue_12_fit_cuts_text_last_and_deterministically() {
        let matcher = matcher().load();
        let post = Post::new("t:1", "acmé ".repeat(3_000));
        let a = fit(matcher.score(&post), 8_000).unwrap();
        let b = fit(matcher.score(&post), 8_000).unwrap();
        assert_eq!(a.1, b.1);
        assert!(a.0.len() <= 8_000);
        assert!(
            a.1.iter().any(|c| c.starts_with("text:18000->")),
            "{:?}",
            a.1
        );
        let i = Interaction::from_json(&a.0).unwrap();
        assert!(i
            .post
            .text
            .ends_with("[earshot: text truncated from 18000 bytes]"));
        assert!(fit(matcher.score(&post), 200).is_err());
    }

    /// Finding 2 of issue 12: a permanent produce error (the broker refuses
    /// the record itself) was retried forever, freezing the partition. Now
    /// the raw post goes to the dead-letter topic with the reason and the
    /// partition's offsets are committed past it.
    #[tokio::test]
    async fn issue_12_permanent_produce_error_dead_letters_and_moves_on() {
        let bus = MemoryBus::new();
        let topics = TopicsConfig {
            partitions: 1,
            ..TopicsConfig::default()
        };
        bus.ensure_topics(&topics.specs()).await.unwrap();
        for i in 0..5 {
            let post = Post::new(format!("test:{i}"), "acme");
            bus.producer()
                .send(&topics.raw, Record::new(post.id.clone(), post.to_json()))
                .await
                .unwrap();
        }
        let flaky = FlakyBus {
            inner: bus.clone(),
            topic: topics.scored.clone(),
            failures: Arc::new(AtomicU64::new(u64::MAX)),
            refuse: true,
        };
        let shutdown = CancellationToken::new();
        let stage = tokio::spawn({
            let (topics, shutdown) = (topics.clone(), shutdown.clone());
            let config = MatchStageConfig::default();
            async move { run(Arc::new(flaky), &topics, matcher(), &config, shutdown).await }
        });
        let dead = drain(&bus, &topics.dead_letter, 5).await;
        shutdown.cancel();
        let stats = stage.await.unwrap().unwrap();
        assert_eq!(
            (stats.dead_lettered, stats.retries, stats.abandoned),
            (5, 0, 0),
            "{stats}"
        );
        for m in &dead {
            let reason = m.header("earshot-error").unwrap();
            assert!(reason.contains("Message size too large"), "{reason}");
        }
        assert_eq!(bus.committed("earshot-match", &topics.raw, 0), Some(5));
        assert_eq!(bus.len(&topics.scored), 0);
    }

    /// Issue 13: `earshot_matches_total{brand}` counts posts, not matches:
    /// a post naming a brand 10,000 times counts once (and quickly), and
    /// customers are not labelled.
    #[test]
    fn issue_13_brand_tally_counts_each_post_once_per_brand() {
        use earshot_model::Match;
        let with = |ids: &[(EntityKind, &str)], repeat: usize| {
            let mut i = Interaction::neutral(Post::new("hn:1", "x"), "v");
            for _ in 0..repeat {
                for (kind, id) in ids {
                    i.matches.push(Match {
                        kind: *kind,
                        entity_id: id.to_string(),
                        rule: "r".into(),
                        span: None,
                    });
                }
            }
            i
        };
        let mut tally = BrandTally::default();
        tally.count(&with(
            &[
                (EntityKind::Brand, "acme"),
                (EntityKind::Competitor, "globex"),
            ],
            10_000,
        ));
        tally.count(&with(
            &[(EntityKind::Brand, "acme"), (EntityKind::Customer, "c-42")],
            3,
        ));
        let counts: std::collections::BTreeMap<&str, u64> = tally
            .by_brand
            .iter()
            .map(|(b, (n, _))| (b.as_str(), *n))
            .collect();
        assert_eq!(counts, [("acme", 2), ("globex", 1)].into_iter().collect());
    }

    #[test]
    fn validation_names_each_bad_key() {
        let config: MatchStageConfig = toml::from_str(
            "group = ''\nmax_in_flight = 0\nbatch_size = 0\nretry_backoff_ms = 20000",
        )
        .unwrap();
        let keys: Vec<String> = config.validate().into_iter().map(|(k, _)| k).collect();
        assert_eq!(
            keys,
            [
                "match.group",
                "match.max_in_flight",
                "match.batch_size",
                "match.retry_backoff_ms"
            ]
        );
        assert!(MatchStageConfig::default().validate().is_empty());
    }
}
