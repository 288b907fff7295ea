//! Per-member assignment state and the rebalance callbacks that keep it
//! honest: commit what is safe on revoke, then forget the revoked partitions.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer as _, ConsumerContext, Rebalance};
use rdkafka::error::KafkaResult;
use rdkafka::statistics::Statistics;
use rdkafka::{ClientContext, Offset, TopicPartitionList};

use crate::{Message, PartitionWatermark};

/// One assigned partition.
pub(super) struct Part {
    /// Tracker of the deliveries made since this assignment. Replaced (never
    /// reused) on reassignment, so tokens of an earlier assignment cannot
    /// commit anything.
    pub watermark: Arc<PartitionWatermark>,
    /// Highest offset tracked, to detect a partition rewinding.
    pub last_tracked: Option<i64>,
    /// Last offset sent in a commit, to skip unchanged ones.
    pub committed: Option<i64>,
}

impl Part {
    fn new() -> Part {
        Part {
            watermark: Arc::new(PartitionWatermark::new()),
            last_tracked: None,
            committed: None,
        }
    }
}

/// State shared by the poll thread, the rebalance callbacks and the async side.
#[derive(Default)]
pub(super) struct Shared {
    /// Currently assigned partitions.
    pub parts: Mutex<HashMap<(String, i32), Part>>,
    /// Whether the poll loop keeps the assignment paused (budget used up or stopping).
    pub paused: AtomicBool,
    /// Messages already fetched and not yet delivered: those moved out of
    /// librdkafka's queue just before a pause (which would drop them) and
    /// those it returned after; they are delivered first once there is
    /// budget again, in order, and the assignment resumes only once they
    /// are nearly all delivered. Kept as
    /// [`Message`]s: the one copy out of librdkafka's buffer is the one handed on.
    pub stash: Mutex<VecDeque<Message>>,
    /// Set when the member is leaving: `close` already drained, so the final
    /// revoke does not wait for in-flight work again.
    pub closing: AtomicBool,
}

impl Shared {
    /// Watermarks that moved since the last commit, restricted to `only` when given.
    pub fn to_commit(&self, only: Option<&TopicPartitionList>) -> TopicPartitionList {
        let parts = self.parts.lock().expect("assignment lock");
        let mut tpl = TopicPartitionList::new();
        for ((topic, partition), part) in parts.iter() {
            if only.is_some_and(|o| o.find_partition(topic, *partition).is_none()) {
                continue;
            }
            if let Some(offset) = part.watermark.committable() {
                if part.committed != Some(offset) {
                    // Cannot fail: the offset is a plain number.
                    let _ = tpl.add_partition_offset(topic, *partition, Offset::Offset(offset));
                }
            }
        }
        tpl
    }

    /// Records a commit as done (or, with `ok == false`, forgets it so the next
    /// periodic commit retries).
    pub fn committed(&self, tpl: &TopicPartitionList, ok: bool) {
        let mut parts = self.parts.lock().expect("assignment lock");
        for e in tpl.elements() {
            if let (Some(part), Offset::Offset(o)) = (
                parts.get_mut(&(e.topic().to_string(), e.partition())),
                e.offset(),
            ) {
                part.committed = if ok { Some(o) } else { None };
            }
        }
    }

    /// Commits `only` (or every) moved watermark.
    pub fn commit<C: ConsumerContext>(
        &self,
        consumer: &BaseConsumer<C>,
        only: Option<&TopicPartitionList>,
        mode: CommitMode,
    ) -> KafkaResult<()> {
        let tpl = self.to_commit(only);
        if tpl.count() == 0 {
            return Ok(());
        }
        let result = consumer.commit(&tpl, mode);
        self.committed(&tpl, result.is_ok());
        if result.is_ok() && matches!(mode, CommitMode::Sync) {
            tracing::debug!(offsets = ?offsets_of(&tpl), "committed watermarks");
        }
        result
    }
}

pub(super) fn offsets_of(tpl: &TopicPartitionList) -> Vec<String> {
    tpl.elements()
        .iter()
        .map(|e| format!("{}/{}@{:?}", e.topic(), e.partition(), e.offset()))
        .collect()
}

/// The consumer's librdkafka context.
pub(super) struct Ctx {
    pub shared: Arc<Shared>,
    /// Longest wait on revoke for in-flight deliveries to be settled.
    pub revoke_drain: Duration,
    /// The consumer group, for the lag gauges and the readiness check.
    pub group: String,
}

impl Ctx {
    /// Waits (up to `revoke_drain`) until no delivery of a revoked partition is
    /// still in flight. A partition held by a failed delivery cannot commit
    /// further anyway, so it is not waited for.
    fn wait_for_in_flight(&self, revoked: &TopicPartitionList) {
        if self.shared.closing.load(Ordering::SeqCst) {
            return;
        }
        let deadline = Instant::now() + self.revoke_drain;
        loop {
            let busy = {
                let parts = self.shared.parts.lock().expect("assignment lock");
                revoked.elements().iter().any(|e| {
                    parts
                        .get(&(e.topic().to_string(), e.partition()))
                        .is_some_and(|p| p.watermark.outstanding() > 0 && !p.watermark.is_held())
                })
            };
            if !busy {
                return;
            }
            if Instant::now() >= deadline {
                tracing::info!(
                    "revoke: in-flight deliveries not settled in {:?}; the next owner redoes them",
                    self.revoke_drain
                );
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl ClientContext for Ctx {
    /// librdkafka's periodic statistics (`statistics.interval.ms`): each
    /// assigned partition's lag behind the group's committed offset, the
    /// records fetched from brokers (refetches included), and
    /// whether any broker is up (the `broker` readiness check).
    fn stats(&self, statistics: Statistics) {
        let parts = self.shared.parts.lock().expect("assignment lock");
        for (topic, t) in &statistics.topics {
            for (partition, p) in &t.partitions {
                // -1 is librdkafka's "unknown" (nothing fetched or committed yet).
                if p.consumer_lag >= 0 && parts.contains_key(&(topic.clone(), *partition)) {
                    crate::watermark::publish_lag(&self.group, topic, *partition, p.consumer_lag);
                }
            }
        }
        drop(parts);
        crate::watermark::publish_fetched(&self.group, statistics.rxmsgs);
        // librdkafka's own "internal" and "logical" brokers are not servers.
        let up = statistics
            .brokers
            .values()
            .any(|b| b.state == "UP" && matches!(b.source.as_str(), "learned" | "configured"));
        if up {
            crate::ready::readiness().pass(crate::ready::BROKER);
        } else {
            crate::ready::readiness().fail(
                crate::ready::BROKER,
                "no Kafka broker is up (librdkafka statistics)",
            );
        }
    }
}

impl ConsumerContext for Ctx {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Revoke(revoked) => {
                // Let work already handed out on these partitions finish (the
                // stage keeps acknowledging while this thread waits), so the
                // commit below covers it and the next owner does not redo it.
                self.wait_for_in_flight(revoked);
                // Commit what is safe before another member takes over; a failure
                // here only means re-reading from the last committed offset.
                if let Err(e) = self
                    .shared
                    .commit(consumer, Some(revoked), CommitMode::Sync)
                {
                    tracing::warn!(error = %e, "commit on revoke failed; the new owner re-reads from the last commit");
                }
                let mut parts = self.shared.parts.lock().expect("assignment lock");
                for e in revoked.elements() {
                    parts.remove(&(e.topic().to_string(), e.partition()));
                }
                drop(parts);
                self.shared
                    .stash
                    .lock()
                    .expect("stash lock")
                    .retain(|m| revoked.find_partition(&m.topic, m.partition).is_none());
                tracing::info!(partitions = ?offsets_of(revoked), "partitions revoked");
                crate::ready::readiness().fail(
                    &crate::ready::partitions_check(&self.group),
                    "rebalancing: partitions revoked, waiting for the new assignment",
                );
                for e in revoked.elements() {
                    // Another member owns it now and publishes its lag.
                    crate::watermark::publish_lag(&self.group, e.topic(), e.partition(), 0);
                }
            }
            Rebalance::Assign(_) => {}
            Rebalance::Error(e) => tracing::warn!(error = %e, "rebalance error"),
        }
    }

    fn post_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(assigned) = rebalance {
            let mut parts = self.shared.parts.lock().expect("assignment lock");
            for e in assigned.elements() {
                parts.insert((e.topic().to_string(), e.partition()), Part::new());
            }
            drop(parts);
            if self.shared.paused.load(Ordering::SeqCst) {
                if let Err(e) = consumer.pause(assigned) {
                    tracing::warn!(error = %e, "cannot pause newly assigned partitions");
                }
            }
            tracing::info!(partitions = ?offsets_of(assigned), "partitions assigned");
            // Joined: even an empty share (more members than partitions) is a
            // settled member of the group.
            crate::ready::readiness().pass(&crate::ready::partitions_check(&self.group));
        }
    }

    fn commit_callback(&self, result: KafkaResult<()>, offsets: &TopicPartitionList) {
        if let Err(e) = result {
            tracing::warn!(error = %e, offsets = ?offsets_of(offsets), "offset commit failed; retried at the next interval");
            self.shared.committed(offsets, false);
        }
    }
}
