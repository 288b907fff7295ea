//! A consumer-group member. librdkafka runs on a dedicated poll thread that
//! owns the `BaseConsumer`: it delivers messages while the in-flight budget
//! allows, pauses the assignment (and keeps polling, so the member stays in
//! its group and rebalances are served) when it does not, keeping what was
//! already fetched in a bounded stash, and commits the
//! contiguous watermarks every `commit_interval`. The async side only
//! receives deliveries and sends commands.

use std::sync::atomic::Ordering;
use std::sync::{mpsc as std_mpsc, Arc};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer as _};
use rdkafka::message::{BorrowedMessage, Headers, Message as _};
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit, Semaphore};

use super::context::{Ctx, Part, Shared};
use super::member_config;
use super::unassigned::{Unassigned, Verdict};
use crate::watermark::HeldReporter;
use crate::{
    AckToken, ConsumerOptions, Delivery, KafkaConfig, Message, PartitionWatermark, TransportError,
};

/// How long one poll waits: bounds the latency of commands and of resuming.
const POLL: Duration = Duration::from_millis(50);

/// Most bytes of prefetched records moved into the stash when the budget
/// runs out (see `Poller::stash_prefetched`): half of librdkafka's default
/// `queued.max.messages.kbytes`, which it would hold anyway. The stash is
/// delivered before the assignment resumes, so it is this plus at most a
/// resume margin of records.
const STASH_MAX_BYTES: usize = 32 << 20;

/// How long `Poller::stash_prefetched` waits for more prefetched records.
const STASH_POLL: Duration = Duration::from_millis(1);

/// How often librdkafka reports statistics (consumer lag), unless the
/// config's `properties` set `statistics.interval.ms`.
const STATS_INTERVAL_MS: &str = "5000";

enum Command {
    Commit(oneshot::Sender<Result<(), TransportError>>),
    /// Final commit, leave the group, then reply.
    Finish(oneshot::Sender<Result<(), TransportError>>),
}

pub(super) struct KafkaConsumer {
    deliveries: mpsc::UnboundedReceiver<Result<Delivery, TransportError>>,
    commands: std_mpsc::Sender<Command>,
    shared: Arc<Shared>,
    budget: Arc<Semaphore>,
    options: ConsumerOptions,
    /// Set once `Finish` was sent.
    finished: bool,
    /// Tells the poll thread to stop fetching (shutdown or close).
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl KafkaConsumer {
    pub(super) fn start(
        config: &KafkaConfig,
        options: ConsumerOptions,
    ) -> Result<KafkaConsumer, TransportError> {
        let shared = Arc::new(Shared::default());
        let session = config.session_timeout_ms.max(1000);
        // Offsets move only through our watermark commits.
        let mut c = member_config(config, &options.group);
        // A new group starts at the beginning: nothing already produced is skipped.
        c.set("auto.offset.reset", "earliest");
        if c.get("statistics.interval.ms").is_none() {
            // Consumer lag comes from librdkafka's statistics (see `Ctx::stats`).
            c.set("statistics.interval.ms", STATS_INTERVAL_MS);
        }
        // Well inside the rebalance timeout, and short enough that the group
        // is not held up for long by a slow stage.
        let revoke_drain = Duration::from_millis(u64::from(session / 2).min(5_000));
        let consumer = member(&c, &shared, revoke_drain, &options)?;
        let rejoin_after = match config.unassigned_rejoin_ms {
            None => Some(Duration::from_millis(2 * u64::from(session))),
            Some(0) => None,
            Some(ms) => Some(Duration::from_millis(ms.into())),
        };
        let unassigned = Unassigned::new(
            &options.group,
            &options.topics,
            Duration::from_millis(session.into()),
            rejoin_after,
            options.held_report_interval,
        );

        let budget = Arc::new(Semaphore::new(options.max_in_flight.max(1)));
        let (tx, rx) = mpsc::unbounded_channel();
        let (cmd_tx, cmd_rx) = std_mpsc::channel();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let poller = Poller {
            consumer,
            shared: shared.clone(),
            budget: budget.clone(),
            deliveries: tx,
            commands: cmd_rx,
            options: options.clone(),
            stop: stop.clone(),
            paused: false,
            config: c,
            revoke_drain,
            unassigned,
        };
        std::thread::Builder::new()
            .name(format!("kafka-{}", options.group))
            .spawn(move || poller.run())
            .map_err(|e| {
                TransportError::Broker(format!("cannot start the consumer thread: {e}"))
            })?;
        Ok(KafkaConsumer {
            deliveries: rx,
            commands: cmd_tx,
            shared,
            budget,
            options,
            finished: false,
            stop,
        })
    }

    /// Whether a delivery belongs to the current assignment of its partition
    /// (a rebalance may have revoked it while it waited in the channel).
    fn current(&self, d: &Delivery) -> bool {
        let parts = self.shared.parts.lock().expect("assignment lock");
        parts
            .get(&(d.message.topic.clone(), d.message.partition))
            .is_some_and(|p| d.ack.belongs_to(&p.watermark))
    }

    async fn request(
        &self,
        make: fn(oneshot::Sender<Result<(), TransportError>>) -> Command,
    ) -> Result<(), TransportError> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(make(tx))
            .map_err(|_| TransportError::Closed)?;
        rx.await.map_err(|_| TransportError::Closed)?
    }
}

#[async_trait]
impl crate::Consumer for KafkaConsumer {
    async fn recv(&mut self) -> Option<Result<Delivery, TransportError>> {
        let shutdown = self.options.shutdown.clone();
        loop {
            if shutdown.is_cancelled() {
                self.stop.store(true, Ordering::SeqCst);
                return None;
            }
            let next = tokio::select! {
                biased;
                _ = shutdown.cancelled() => continue,
                d = self.deliveries.recv() => d?,
            };
            match next {
                Ok(d) if self.current(&d) => return Some(Ok(d)),
                // Revoked while queued: the new owner re-reads it; dropping the
                // token touches only the forgotten tracker.
                Ok(_) => continue,
                Err(e) => return Some(Err(e)),
            }
        }
    }

    async fn commit(&mut self) -> Result<(), TransportError> {
        self.request(Command::Commit).await
    }

    async fn close(mut self: Box<Self>, drain: Duration) -> Result<(), TransportError> {
        self.stop.store(true, Ordering::SeqCst);
        // Deliveries never handed out were not processed: dropping their tokens
        // holds the watermark below them.
        self.deliveries.close();
        while self.deliveries.try_recv().is_ok() {}
        let all = self.options.max_in_flight.max(1) as u32;
        if tokio::time::timeout(drain, self.budget.acquire_many(all))
            .await
            .is_err()
        {
            tracing::warn!(
                group = %self.options.group,
                outstanding = all as usize - self.budget.available_permits(),
                "close: deliveries still unacknowledged after {drain:?}; they will be redelivered"
            );
        }
        self.finished = true;
        self.request(Command::Finish).await
    }
}

impl Drop for KafkaConsumer {
    fn drop(&mut self) {
        if !self.finished {
            // Dropped without close: still commit what is safe and leave.
            self.stop.store(true, Ordering::SeqCst);
            let (tx, _rx) = oneshot::channel();
            let _ = self.commands.send(Command::Finish(tx));
        }
    }
}

/// The poll thread's state.
struct Poller {
    consumer: BaseConsumer<Ctx>,
    shared: Arc<Shared>,
    budget: Arc<Semaphore>,
    deliveries: mpsc::UnboundedSender<Result<Delivery, TransportError>>,
    commands: std_mpsc::Receiver<Command>,
    options: ConsumerOptions,
    stop: Arc<std::sync::atomic::AtomicBool>,
    paused: bool,
    /// To create the member again (see `rejoin`).
    config: ClientConfig,
    revoke_drain: Duration,
    unassigned: Unassigned,
}

impl Poller {
    fn run(mut self) {
        let mut last_commit = Instant::now();
        let mut held = HeldReporter::new(&self.options.group, self.options.held_report_interval);
        let finish = loop {
            match self.commands.try_recv() {
                Ok(Command::Commit(reply)) => {
                    let _ = reply.send(self.commit(CommitMode::Sync));
                    continue;
                }
                Ok(Command::Finish(reply)) => break Some(reply),
                Err(std_mpsc::TryRecvError::Disconnected) => break None,
                Err(std_mpsc::TryRecvError::Empty) => {}
            }
            let stopping = self.stop.load(Ordering::SeqCst) || self.options.shutdown.is_cancelled();
            let free = self.budget.available_permits();
            // Paused when the budget is used up, resumed only once a margin of
            // it is free again: resuming on a single permit paused again at
            // the next message, and each pause drops what librdkafka had
            // prefetched, so the same records were fetched over and over.
            let exhausted = free == 0
                || (self.paused
                    && (free < self.resume_margin() || self.stash_len() > self.resume_margin()));
            if exhausted && !self.paused && !stopping {
                self.stash_prefetched();
            }
            self.set_paused(stopping || exhausted);
            if !stopping {
                self.deliver_stash();
            }
            match self.consumer.poll(POLL) {
                Some(Ok(m)) => {
                    // One copy out of librdkafka's buffer, handed on as it is.
                    let m = to_message(&m);
                    let mut stash = self.shared.stash.lock().expect("stash lock");
                    if stopping || !stash.is_empty() {
                        stash.push_back(m);
                    } else {
                        drop(stash);
                        match self.budget.clone().try_acquire_owned() {
                            Ok(permit) => self.deliver(m, permit),
                            Err(_) => self.shared.stash.lock().expect("stash lock").push_back(m),
                        }
                    }
                }
                Some(Err(e)) => {
                    tracing::warn!(group = %self.options.group, error = %e, "Kafka consumer error");
                    let _ = self
                        .deliveries
                        .send(Err(TransportError::Broker(e.to_string())));
                }
                None => {}
            }
            if last_commit.elapsed() >= self.options.commit_interval {
                last_commit = Instant::now();
                if let Err(e) = self.commit(CommitMode::Async) {
                    tracing::warn!(group = %self.options.group, error = %e, "periodic commit failed");
                }
                let parts = self.shared.parts.lock().expect("assignment lock");
                crate::watermark::publish_oldest(
                    &self.options.group,
                    parts
                        .iter()
                        .map(|((t, p), part)| (t.as_str(), *p, &*part.watermark)),
                );
            }
            if held.due() {
                let parts = self.shared.parts.lock().expect("assignment lock");
                held.report(
                    parts
                        .iter()
                        .map(|((t, p), part)| (t.as_str(), *p, &*part.watermark)),
                );
            }
            let assigned = self.shared.parts.lock().expect("assignment lock").len();
            if !stopping && self.unassigned.check(&self.consumer, assigned) == Verdict::Rejoin {
                self.rejoin();
            }
        };
        self.shared.closing.store(true, Ordering::SeqCst);
        let result = self.commit(CommitMode::Sync);
        if let Err(e) = &result {
            tracing::warn!(group = %self.options.group, error = %e, "final commit failed");
        }
        // Dropping the consumer leaves the group (its revoke commits once more).
        drop(self.consumer);
        if let Some(reply) = finish {
            let _ = reply.send(result);
        }
    }

    /// Leaves the group and joins it again as a new member, for a member
    /// left without partitions while its topics have lag (see `unassigned`).
    /// It holds no partition, so nothing is in flight and nothing to commit.
    fn rejoin(&mut self) {
        match member(&self.config, &self.shared, self.revoke_drain, &self.options) {
            // Dropping the old member leaves the group.
            Ok(fresh) => drop(std::mem::replace(&mut self.consumer, fresh)),
            Err(e) => {
                tracing::warn!(group = %self.options.group, error = %e, "cannot rejoin the group; retried later")
            }
        }
    }

    fn commit(&self, mode: CommitMode) -> Result<(), TransportError> {
        self.shared
            .commit(&self.consumer, None, mode)
            .map_err(|e| TransportError::Broker(format!("commit: {e}")))
    }

    fn stash_len(&self) -> usize {
        self.shared.stash.lock().expect("stash lock").len()
    }

    /// Moves what librdkafka has already fetched into the stash, up to
    /// [`STASH_MAX_BYTES`], before the assignment is paused: a pause drops
    /// librdkafka's prefetched messages, and a fetch returns whole record
    /// batches (thousands of records), so pausing with them queued had the
    /// same records fetched, decompressed and parsed again after each resume
    /// (841k records parsed to deliver 100k from a backlog; issue 11).
    fn stash_prefetched(&mut self) {
        let mut bytes = 0usize;
        while bytes < STASH_MAX_BYTES {
            // Not a zero timeout: a poll that serves an event (a commit
            // result, statistics) returns nothing, and records queued behind
            // it would be dropped by the pause.
            match self.consumer.poll(STASH_POLL) {
                Some(Ok(m)) => {
                    let m = to_message(&m);
                    bytes += m.payload.len() + m.key.as_ref().map_or(0, String::len);
                    self.shared.stash.lock().expect("stash lock").push_back(m);
                }
                Some(Err(e)) => {
                    tracing::warn!(group = %self.options.group, error = %e, "Kafka consumer error");
                    let _ = self
                        .deliveries
                        .send(Err(TransportError::Broker(e.to_string())));
                    return;
                }
                None => return,
            }
        }
    }

    /// Free permits needed to resume a paused assignment: an eighth of the
    /// budget (at least one), enough for several fetches' worth of records.
    fn resume_margin(&self) -> usize {
        (self.options.max_in_flight / 8).max(1)
    }

    /// Pauses or resumes the whole assignment. While paused we keep polling:
    /// that serves rebalances and keeps the member alive, and librdkafka drops
    /// what it had prefetched for paused partitions, so memory stays bounded.
    fn set_paused(&mut self, pause: bool) {
        if pause == self.paused {
            return;
        }
        self.shared.paused.store(pause, Ordering::SeqCst);
        let assignment = match self.consumer.assignment() {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the assignment to pause/resume");
                return;
            }
        };
        let result = if pause {
            self.consumer.pause(&assignment)
        } else {
            self.consumer.resume(&assignment)
        };
        match result {
            Ok(()) => self.paused = pause,
            Err(e) => tracing::warn!(error = %e, pause, "pause/resume failed; retrying"),
        }
    }

    fn deliver_stash(&mut self) {
        loop {
            let Some(m) = self.shared.stash.lock().expect("stash lock").pop_front() else {
                return;
            };
            match self.budget.clone().try_acquire_owned() {
                Ok(permit) => self.deliver(m, permit),
                Err(_) => {
                    self.shared.stash.lock().expect("stash lock").push_front(m);
                    return;
                }
            }
        }
    }

    /// Tracks `m` in its partition's watermark and hands it to the async side.
    fn deliver(&mut self, message: Message, permit: OwnedSemaphorePermit) {
        let watermark = {
            let mut parts = self.shared.parts.lock().expect("assignment lock");
            let Some(part) = parts.get_mut(&(message.topic.clone(), message.partition)) else {
                // Not (or no longer) ours: never tracked, so never committed past.
                return;
            };
            if part.last_tracked.is_some_and(|last| message.offset <= last) {
                // The partition rewound (e.g. an offset reset): start a fresh
                // tracker so the old one's tokens cannot commit.
                tracing::warn!(
                    topic = %message.topic,
                    partition = message.partition,
                    offset = message.offset,
                    "partition rewound"
                );
                *part = Part {
                    watermark: Arc::new(PartitionWatermark::new()),
                    last_tracked: None,
                    committed: part.committed,
                };
            }
            part.watermark.track(message.offset);
            part.last_tracked = Some(message.offset);
            part.watermark.clone()
        };
        let ack = AckToken::new(watermark, message.offset, Some(permit));
        // If the receiver is gone the delivery (and its token) is dropped: held.
        let _ = self.deliveries.send(Ok(Delivery {
            message,
            ack,
            attached: crate::Attached::none(),
        }));
    }
}

/// A new group member with `c`'s settings, subscribed to the options' topics.
fn member(
    c: &ClientConfig,
    shared: &Arc<Shared>,
    revoke_drain: Duration,
    options: &ConsumerOptions,
) -> Result<BaseConsumer<Ctx>, TransportError> {
    let consumer: BaseConsumer<Ctx> = c
        .create_with_context(Ctx {
            shared: shared.clone(),
            revoke_drain,
            group: options.group.clone(),
        })
        .map_err(|e| TransportError::Config(format!("Kafka consumer: {e}")))?;
    let topics: Vec<&str> = options.topics.iter().map(String::as_str).collect();
    consumer
        .subscribe(&topics)
        .map_err(|e| TransportError::Broker(format!("subscribing to {topics:?}: {e}")))?;
    Ok(consumer)
}

fn to_message(m: &BorrowedMessage<'_>) -> Message {
    Message {
        topic: m.topic().to_string(),
        partition: m.partition(),
        offset: m.offset(),
        key: m.key().map(|k| String::from_utf8_lossy(k).into_owned()),
        payload: m.payload().map(<[u8]>::to_vec).unwrap_or_default(),
        headers: m
            .headers()
            .map(|hs| {
                hs.iter()
                    .map(|h| {
                        (
                            h.key.to_string(),
                            h.value.map(<[u8]>::to_vec).unwrap_or_default(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default(),
        timestamp_ms: m.timestamp().to_millis(),
    }
}
