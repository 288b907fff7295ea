//! The in-memory bus: the embedded one-process mode's transport, with the same
//! partitions, consumer groups, acknowledgements and watermark commits as Kafka.
//!
//! RAM is not durable, so a plain [`MemoryBus`] acknowledges a produce that a
//! crash would lose. [`MemoryBus::end_to_end`] closes that hole for the
//! embedded mode: a produced record's delivery future resolves only once every
//! declared consumer group of its topic *acknowledged* it, so acknowledgements
//! travel back with the data (connector ← match ← sink's durable commit), and
//! a producer can run ahead of the store by no more than it awaits.

use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use futures::future::BoxFuture;
use futures::FutureExt;
use tokio::sync::{oneshot, Notify, OwnedSemaphorePermit, Semaphore};

use crate::watermark::HeldReporter;
use crate::{
    AckToken, Attached, Bus, Consumer, ConsumerOptions, Delivery, DeliveryFuture, Message,
    PartitionWatermark, Producer, Record, TopicSpec, TransportError,
};

/// A bus that lives in this process. Cloning shares the same topics.
#[derive(Clone, Default)]
pub struct MemoryBus {
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    /// Woken on every produce and every membership change.
    changed: Notify,
    /// End-to-end mode: `topic → groups` whose acknowledgement a produce to
    /// that topic waits for. Empty: produces resolve once the record is in RAM.
    downstream: HashMap<String, Vec<String>>,
}

#[derive(Default)]
struct State {
    topics: HashMap<String, Vec<PartitionLog>>,
    groups: HashMap<String, Group>,
    next_member: u64,
    /// Set by [`MemoryBus::abandon_pending`]: the consuming stages stopped,
    /// so an end-to-end produce fails at once instead of waiting forever.
    abandoned: bool,
}

/// Every bit of `n` (at most 64) groups.
fn all_bits(n: usize) -> u64 {
    if n >= 64 {
        u64::MAX
    } else {
        (1u64 << n) - 1
    }
}

/// A kept record: key, payload, headers, timestamp (Unix ms), in
/// end-to-end mode the producer waiting for its downstream acknowledgement,
/// and the producer's value of the payload until the first delivery takes it.
type Stored = (
    Option<String>,
    Vec<u8>,
    Vec<(String, Vec<u8>)>,
    i64,
    Option<Arc<Completion>>,
    Attached,
);

/// A produce waiting for the groups that must acknowledge its record.
struct Completion {
    state: Mutex<CompletionState>,
}

struct CompletionState {
    /// Groups that have not acknowledged yet: bit `i` stands for the `i`th
    /// group declared downstream of the topic (a bit set, not their names,
    /// so a produce allocates no strings).
    waiting: u64,
    /// Resolves the producer's delivery future; taken on the first outcome.
    tx: Option<oneshot::Sender<Result<(), String>>>,
}

/// One group's share of a [`Completion`], carried by the [`AckToken`] of the
/// delivery: settling the token settles it.
pub(crate) struct Downstream {
    completion: Arc<Completion>,
    /// The acknowledging group's bit in [`CompletionState::waiting`].
    group: u64,
}

impl std::fmt::Debug for Downstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Downstream")
            .field("group", &self.group)
            .finish()
    }
}

impl Downstream {
    /// An acknowledgement counts once per group; the first failure of any
    /// group fails the produce (its producer must not treat it as durable).
    pub(crate) fn settle(self, outcome: Result<(), String>) {
        let mut state = self.completion.state.lock().expect("completion lock");
        match outcome {
            Ok(()) => {
                state.waiting &= !self.group;
                if state.waiting == 0 {
                    if let Some(tx) = state.tx.take() {
                        let _ = tx.send(Ok(()));
                    }
                }
            }
            Err(reason) => {
                if let Some(tx) = state.tx.take() {
                    let _ = tx.send(Err(reason));
                }
            }
        }
    }
}

#[derive(Default)]
struct PartitionLog {
    /// Offset of `records[0]`; records below it were trimmed after every group committed past them.
    base: i64,
    records: VecDeque<Stored>,
}

#[derive(Default)]
struct Group {
    members: Vec<u64>,
    topics: Vec<String>,
    generation: u64,
    committed: HashMap<(String, i32), i64>,
}

impl MemoryBus {
    /// An empty bus with no topics.
    pub fn new() -> MemoryBus {
        MemoryBus::default()
    }

    /// A bus whose produces resolve only once the record was acknowledged by
    /// every group `downstream` names for its topic (`(topic, group)` pairs),
    /// even groups that have not joined yet. Topics without a declared group
    /// resolve once the record is in RAM.
    ///
    /// The embedded mode declares `raw → match` and `scored → sink`: the sink
    /// acknowledges after its store committed, the match stage after its
    /// scored produce resolved, so a connector's produce resolves only once
    /// the post is durable in the store, and nothing acknowledged to a
    /// source is lost by a crash. Every producer is also held back to what
    /// it awaits: this is the bus's backpressure.
    pub fn end_to_end<'a>(downstream: impl IntoIterator<Item = (&'a str, &'a str)>) -> MemoryBus {
        let mut map: HashMap<String, Vec<String>> = HashMap::new();
        for (topic, group) in downstream {
            let groups = map.entry(topic.to_string()).or_default();
            if !groups.iter().any(|g| g == group) {
                groups.push(group.to_string());
            }
        }
        assert!(
            map.values().all(|groups| groups.len() <= 64),
            "at most 64 groups acknowledge a topic of the in-memory bus"
        );
        MemoryBus {
            shared: Arc::new(Shared {
                downstream: map,
                ..Shared::default()
            }),
        }
    }

    /// Records in a topic partition that are still kept (for tests and reports).
    pub fn len(&self, topic: &str) -> usize {
        let state = self.shared.state.lock().expect("bus lock");
        state
            .topics
            .get(topic)
            .map_or(0, |ps| ps.iter().map(|p| p.records.len()).sum())
    }

    /// Records produced but not yet committed, summed over every consumer
    /// group and its topics: zero once every stage has everything.
    pub fn total_lag(&self) -> u64 {
        let state = self.shared.state.lock().expect("bus lock");
        let mut lag = 0;
        for group in state.groups.values() {
            for topic in &group.topics {
                for (p, log) in state.topics.get(topic).into_iter().flatten().enumerate() {
                    let end = log.base + log.records.len() as i64;
                    let committed = group
                        .committed
                        .get(&(topic.clone(), p as i32))
                        .copied()
                        .unwrap_or(0);
                    lag += (end - committed).max(0) as u64;
                }
            }
        }
        lag
    }

    /// Fails every produce still waiting for a downstream acknowledgement
    /// (end-to-end mode), for when the consuming stages stopped: their
    /// producers learn the records were not handed on instead of waiting.
    pub fn abandon_pending(&self) {
        let mut state = self.shared.state.lock().expect("bus lock");
        state.abandoned = true;
        for parts in state.topics.values_mut() {
            for log in parts {
                for record in &mut log.records {
                    if let Some(c) = record.4.take() {
                        if let Some(tx) = c.state.lock().expect("completion lock").tx.take() {
                            let _ =
                                tx.send(Err("the bus stopped before it was acknowledged".into()));
                        }
                    }
                }
            }
        }
    }

    /// Committed offset of `group` on a partition.
    pub fn committed(&self, group: &str, topic: &str, partition: i32) -> Option<i64> {
        let state = self.shared.state.lock().expect("bus lock");
        state
            .groups
            .get(group)?
            .committed
            .get(&(topic.to_string(), partition))
            .copied()
    }
}

fn partition_for(key: &str, partitions: usize) -> usize {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    key.hash(&mut h);
    (h.finish() % partitions as u64) as usize
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[async_trait]
impl Bus for MemoryBus {
    async fn ensure_topics(&self, topics: &[TopicSpec]) -> Result<(), TransportError> {
        let mut state = self.shared.state.lock().expect("bus lock");
        for t in topics {
            let parts = state.topics.entry(t.name.clone()).or_default();
            if parts.is_empty() {
                parts.resize_with(t.partitions.max(1) as usize, PartitionLog::default);
            } else if parts.len() < t.partitions as usize {
                return Err(TransportError::Topic {
                    topic: t.name.clone(),
                    message: format!(
                        "has {} partitions, configured {}",
                        parts.len(),
                        t.partitions
                    ),
                });
            }
        }
        Ok(())
    }

    fn producer(&self) -> Arc<dyn Producer> {
        Arc::new(self.clone())
    }

    async fn consumer(
        &self,
        options: ConsumerOptions,
    ) -> Result<Box<dyn Consumer>, TransportError> {
        let member = {
            let mut state = self.shared.state.lock().expect("bus lock");
            for t in &options.topics {
                if !state.topics.contains_key(t) {
                    return Err(TransportError::Topic {
                        topic: t.clone(),
                        message: "does not exist".into(),
                    });
                }
            }
            state.next_member += 1;
            let member = state.next_member;
            let group = state.groups.entry(options.group.clone()).or_default();
            group.members.push(member);
            for t in &options.topics {
                if !group.topics.contains(t) {
                    group.topics.push(t.clone());
                }
            }
            group.generation += 1;
            member
        };
        self.shared.changed.notify_waiters();
        Ok(Box::new(MemoryConsumer {
            bus: self.clone(),
            member,
            generation: 0,
            assigned: Vec::new(),
            next: 0,
            budget: Arc::new(Semaphore::new(options.max_in_flight.max(1))),
            held: HeldReporter::new(&options.group, options.held_report_interval),
            options,
            last_commit: tokio::time::Instant::now(),
            since_periodic: 0,
        }))
    }
}

impl Producer for MemoryBus {
    fn send(&self, topic: &str, record: Record) -> DeliveryFuture {
        self.send_attached(topic, record, Attached::none())
    }

    fn send_attached(&self, topic: &str, record: Record, attached: Attached) -> DeliveryFuture {
        let (completion, rx) = match self.shared.downstream.get(topic) {
            Some(groups) if !groups.is_empty() => {
                let (tx, rx) = oneshot::channel();
                let completion = Arc::new(Completion {
                    state: Mutex::new(CompletionState {
                        waiting: all_bits(groups.len()),
                        tx: Some(tx),
                    }),
                });
                (Some(completion), Some(rx))
            }
            _ => (None, None),
        };
        let result = {
            let mut state = self.shared.state.lock().expect("bus lock");
            let abandoned = state.abandoned && completion.is_some();
            match state.topics.get_mut(topic) {
                // Nobody will acknowledge it any more: refused, not kept.
                Some(_) if abandoned => Err(TransportError::Delivery {
                    topic: topic.to_string(),
                    message:
                        "not acknowledged downstream: the bus stopped before it was acknowledged"
                            .into(),
                }),
                Some(parts) => {
                    let n = parts.len();
                    parts[partition_for(&record.key, n)].records.push_back((
                        Some(record.key),
                        record.payload,
                        record.headers,
                        now_ms(),
                        completion,
                        attached,
                    ));
                    Ok(())
                }
                None => Err(TransportError::Delivery {
                    topic: topic.to_string(),
                    message: "unknown topic".into(),
                }),
            }
        };
        self.shared.changed.notify_waiters();
        match (result, rx) {
            (Ok(()), Some(rx)) => {
                let topic = topic.to_string();
                async move {
                    match rx.await {
                        Ok(Ok(())) => Ok(()),
                        Ok(Err(reason)) => Err(TransportError::Delivery {
                            topic,
                            message: format!("not acknowledged downstream: {reason}"),
                        }),
                        // The record was dropped unsettled (the bus went away).
                        Err(_) => Err(TransportError::Closed),
                    }
                }
                .boxed()
            }
            (result, _) => futures::future::ready(result).boxed(),
        }
    }

    fn flush(&self, _timeout: Duration) -> BoxFuture<'_, Result<(), TransportError>> {
        futures::future::ready(Ok(())).boxed()
    }
}

/// One member of a consumer group on a [`MemoryBus`].
struct MemoryConsumer {
    bus: MemoryBus,
    member: u64,
    generation: u64,
    assigned: Vec<Assigned>,
    /// Round-robin cursor over `assigned`.
    next: usize,
    budget: Arc<Semaphore>,
    options: ConsumerOptions,
    /// When watermarks were last committed; kept across `recv` calls so a
    /// consumer that is never idle still commits every `commit_interval`.
    last_commit: tokio::time::Instant,
    /// Says which partitions are held, every `held_report_interval`.
    held: HeldReporter,
    /// `recv` calls since the fast path last looked at the clock.
    since_periodic: u32,
}

struct Assigned {
    topic: String,
    partition: i32,
    position: i64,
    watermark: Arc<PartitionWatermark>,
    /// This group's bit among the topic's downstream groups (0: not one).
    downstream_bit: u64,
}

impl MemoryConsumer {
    fn commit_locked(&self, state: &mut State) {
        let Some(group) = state.groups.get_mut(&self.options.group) else {
            return;
        };
        for a in &self.assigned {
            if let Some(off) = a.watermark.committable() {
                group.committed.insert((a.topic.clone(), a.partition), off);
            }
        }
        trim(state, &self.assigned);
    }

    /// Publishes each assigned partition's lag behind the group's commit.
    fn publish_lag_locked(&self, state: &State) {
        let Some(group) = state.groups.get(&self.options.group) else {
            return;
        };
        for a in &self.assigned {
            let Some(log) = state
                .topics
                .get(&a.topic)
                .and_then(|p| p.get(a.partition as usize))
            else {
                continue;
            };
            let end = log.base + log.records.len() as i64;
            let committed = group
                .committed
                .get(&(a.topic.clone(), a.partition))
                .copied()
                .unwrap_or(0);
            crate::watermark::publish_lag(
                &self.options.group,
                &a.topic,
                a.partition,
                end - committed,
            );
        }
    }

    /// Re-reads the assignment after a membership change, committing what is safe first (like a revoke).
    fn rebalance_locked(&mut self, state: &mut State) {
        self.commit_locked(state);
        let group = state
            .groups
            .get(&self.options.group)
            .expect("own group exists");
        self.generation = group.generation;
        let mut all: Vec<(String, i32)> = Vec::new();
        for t in &group.topics {
            if let Some(parts) = state.topics.get(t) {
                all.extend((0..parts.len() as i32).map(|p| (t.clone(), p)));
            }
        }
        let me = group
            .members
            .iter()
            .position(|m| *m == self.member)
            .unwrap_or(0);
        let n = group.members.len().max(1);
        let downstream = &self.bus.shared.downstream;
        let own = &self.options.group;
        self.assigned = all
            .into_iter()
            .enumerate()
            .filter(|(i, (t, _))| i % n == me && self.options.topics.contains(t))
            .map(|(_, (topic, partition))| {
                let committed = group.committed.get(&(topic.clone(), partition)).copied();
                let base = state.topics[&topic][partition as usize].base;
                let downstream_bit = downstream
                    .get(&topic)
                    .and_then(|groups| groups.iter().position(|g| g == own))
                    .map_or(0, |i| 1 << i);
                Assigned {
                    downstream_bit,
                    position: committed.unwrap_or(base).max(base),
                    topic,
                    partition,
                    watermark: Arc::new(PartitionWatermark::new()),
                }
            })
            .collect();
        // A member of the in-memory bus has its share as soon as it looks.
        crate::ready::readiness().pass(&crate::ready::partitions_check(&self.options.group));
    }

    fn try_fetch(&mut self) -> Option<Fetched> {
        let shared = self.bus.shared.clone();
        let mut state = shared.state.lock().expect("bus lock");
        let generation = state
            .groups
            .get(&self.options.group)
            .map_or(0, |g| g.generation);
        if generation != self.generation {
            self.rebalance_locked(&mut state);
        }
        for step in 0..self.assigned.len() {
            let i = (self.next + step) % self.assigned.len();
            let a = &mut self.assigned[i];
            let log = &mut state
                .topics
                .get_mut(&a.topic)
                .expect("assigned topics exist")[a.partition as usize];
            let idx = (a.position - log.base) as usize;
            if let Some((key, payload, headers, ts, completion, attached)) =
                log.records.get_mut(idx)
            {
                let message = Message {
                    topic: a.topic.clone(),
                    partition: a.partition,
                    offset: a.position,
                    key: key.clone(),
                    payload: payload.clone(),
                    headers: headers.clone(),
                    timestamp_ms: Some(*ts),
                };
                let downstream = completion.as_ref().map(|c| Downstream {
                    completion: c.clone(),
                    group: a.downstream_bit,
                });
                a.watermark.track(a.position);
                a.position += 1;
                self.next = i + 1;
                let attached = std::mem::take(attached);
                return Some((message, a.watermark.clone(), downstream, attached));
            }
        }
        None
    }
}

impl MemoryConsumer {
    /// How often watermarks may be committed and held partitions reported
    /// while waiting: the shorter of the two intervals.
    fn tick(&self) -> Duration {
        self.options
            .commit_interval
            .min(self.options.held_report_interval)
    }

    /// Waits for in-flight budget; `None` on shutdown. While the budget is
    /// used up (the stage is stuck on its in-flight work, which is when a
    /// partition is held), keeps committing and reporting held partitions,
    /// as the Kafka bus's poll thread does.
    async fn wait_for_budget(&mut self) -> Option<OwnedSemaphorePermit> {
        let shutdown = self.options.shutdown.clone();
        let tick = self.tick();
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return None,
                p = self.budget.clone().acquire_owned() => return p.ok(),
                _ = tokio::time::sleep(tick) => self.periodic(),
            }
        }
    }

    /// Waits for the next record, holding `permit`; `None` on shutdown.
    async fn wait_for_record(
        &mut self,
        permit: OwnedSemaphorePermit,
    ) -> Option<Result<Delivery, TransportError>> {
        let shutdown = self.options.shutdown.clone();
        let tick = self.tick();
        let shared = self.bus.shared.clone();
        loop {
            self.periodic();
            // Register for wake-ups before looking, so a produce in between is not missed.
            let changed = shared.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if let Some(found) = self.try_fetch() {
                return Some(Ok(deliver(found, permit)));
            }
            tokio::select! {
                _ = shutdown.cancelled() => return None,
                _ = changed => {}
                _ = tokio::time::sleep(tick) => {}
            }
        }
    }

    /// Commits and reports held partitions when their intervals are due.
    fn periodic(&mut self) {
        if self.last_commit.elapsed() >= self.options.commit_interval {
            let mut state = self.bus.shared.state.lock().expect("bus lock");
            self.commit_locked(&mut state);
            self.publish_lag_locked(&state);
            drop(state);
            crate::watermark::publish_oldest(
                &self.options.group,
                self.assigned
                    .iter()
                    .map(|a| (a.topic.as_str(), a.partition, &*a.watermark)),
            );
            self.last_commit = tokio::time::Instant::now();
        }
        if self.held.due() {
            self.held.report(
                self.assigned
                    .iter()
                    .map(|a| (a.topic.as_str(), a.partition, &*a.watermark)),
            );
        }
    }
}

/// Drops records every group of a topic has committed past, so a long embedded run stays bounded.
fn trim(state: &mut State, assigned: &[Assigned]) {
    for a in assigned {
        let min = state
            .groups
            .values()
            .filter(|g| g.topics.contains(&a.topic))
            .map(|g| {
                g.committed
                    .get(&(a.topic.clone(), a.partition))
                    .copied()
                    .unwrap_or(0)
            })
            .min();
        if let (Some(min), Some(parts)) = (min, state.topics.get_mut(&a.topic)) {
            let log = &mut parts[a.partition as usize];
            while log.base < min && !log.records.is_empty() {
                log.records.pop_front();
                log.base += 1;
            }
        }
    }
}

/// A member dropped without [`Consumer::close`] (a stage that failed) leaves
/// its group like a Kafka member whose session expired, so the others take
/// its partitions over; it commits what is safe first, as the Kafka bus does.
impl Drop for MemoryConsumer {
    fn drop(&mut self) {
        let Ok(mut state) = self.bus.shared.state.lock() else {
            return;
        };
        let present = state
            .groups
            .get(&self.options.group)
            .is_some_and(|g| g.members.contains(&self.member));
        if !present {
            return;
        }
        self.commit_locked(&mut state);
        if let Some(group) = state.groups.get_mut(&self.options.group) {
            group.members.retain(|m| *m != self.member);
            group.generation += 1;
        }
        drop(state);
        self.bus.shared.changed.notify_waiters();
    }
}

/// A record taken from a partition: the message, its partition's
/// watermark, in end-to-end mode the producer waiting for it, and the
/// producer's value.
type Fetched = (
    Message,
    Arc<PartitionWatermark>,
    Option<Downstream>,
    Attached,
);

/// `recv` calls between two looks at the clock for due commits and reports
/// on the fast path: a consumer that never waits still commits every
/// `commit_interval`, give or take the time this many records take.
const PERIODIC_EVERY: u32 = 64;

fn deliver(found: Fetched, permit: OwnedSemaphorePermit) -> Delivery {
    let (message, watermark, downstream, attached) = found;
    let ack = AckToken::new(watermark, message.offset, Some(permit)).with_downstream(downstream);
    Delivery {
        message,
        ack,
        attached,
    }
}

#[async_trait]
impl Consumer for MemoryConsumer {
    async fn recv(&mut self) -> Option<Result<Delivery, TransportError>> {
        if self.options.shutdown.is_cancelled() {
            return None;
        }
        // Fast path, taken for nearly every record of a busy pipeline: budget
        // free and a record waiting. It skips the timers, wake-up
        // registrations and clock reads of the waiting path below, which cost
        // more than the hand-off itself (issue 11).
        self.since_periodic += 1;
        if self.since_periodic >= PERIODIC_EVERY {
            self.since_periodic = 0;
            self.periodic();
        }
        let permit = match self.budget.clone().try_acquire_owned() {
            Ok(permit) => {
                if let Some(found) = self.try_fetch() {
                    return Some(Ok(deliver(found, permit)));
                }
                permit
            }
            Err(_) => self.wait_for_budget().await?,
        };
        self.wait_for_record(permit).await
    }

    async fn commit(&mut self) -> Result<(), TransportError> {
        let mut state = self.bus.shared.state.lock().expect("bus lock");
        self.commit_locked(&mut state);
        Ok(())
    }

    async fn close(mut self: Box<Self>, drain: Duration) -> Result<(), TransportError> {
        let all = self.options.max_in_flight.max(1) as u32;
        let _ = tokio::time::timeout(drain, self.budget.acquire_many(all)).await;
        let mut state = self.bus.shared.state.lock().expect("bus lock");
        self.commit_locked(&mut state);
        if let Some(group) = state.groups.get_mut(&self.options.group) {
            group.members.retain(|m| *m != self.member);
            group.generation += 1;
        }
        drop(state);
        self.bus.shared.changed.notify_waiters();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::FutureExt;

    /// Finding 1 of issue 12: the embedded bus resolved a produce once the
    /// record was in RAM. End to end, it resolves only once the declared
    /// group acknowledged it, and fails when that group gives it up.
    #[tokio::test]
    async fn issue_12_end_to_end_produce_waits_for_the_downstream_ack() {
        let bus = MemoryBus::end_to_end([("raw", "match")]);
        bus.ensure_topics(&[TopicSpec::new("raw", 1), TopicSpec::new("dlq", 1)])
            .await
            .unwrap();
        let mut acked = bus.producer().send("raw", Record::new("a", b"1".to_vec()));
        let mut nacked = bus.producer().send("raw", Record::new("b", b"2".to_vec()));
        // No group declared for it: resolves at once.
        bus.producer()
            .send("dlq", Record::new("c", b"3".to_vec()))
            .await
            .unwrap();
        assert!(
            (&mut acked).now_or_never().is_none(),
            "nobody consumed it yet"
        );

        let mut consumer = bus
            .consumer(ConsumerOptions::new("match", ["raw"]))
            .await
            .unwrap();
        let first = consumer.recv().await.unwrap().unwrap();
        let second = consumer.recv().await.unwrap().unwrap();
        tokio::task::yield_now().await;
        assert!(
            (&mut acked).now_or_never().is_none(),
            "delivered, not acknowledged"
        );
        first.ack.ack();
        acked.await.unwrap();
        second.ack.nack("the store refused it");
        let err = (&mut nacked).await.unwrap_err();
        assert!(err.to_string().contains("the store refused it"), "{err}");

        let mut pending = bus.producer().send("raw", Record::new("d", b"4".to_vec()));
        bus.abandon_pending();
        assert!(pending.as_mut().await.is_err(), "abandoned at shutdown");
        // A produce after that fails at once instead of waiting forever.
        let late = bus.producer().send("raw", Record::new("e", b"5".to_vec()));
        assert!(late.await.is_err(), "refused after the stages stopped");
        consumer.close(Duration::from_millis(100)).await.unwrap();
    }
}
