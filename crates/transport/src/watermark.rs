use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Tracks one partition's delivered offsets and computes the contiguous
/// watermark: the offset to commit (next to read) such that every delivered
/// offset below it was acknowledged.
///
/// Offsets must be tracked in increasing order (as a partition delivers them);
/// gaps between them (compacted records, transaction markers) are fine.
#[derive(Debug, Default)]
pub struct PartitionWatermark {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Next offset to commit; `None` until the first acknowledgement moves it.
    committable: Option<i64>,
    /// Delivered and not yet below the watermark, in offset order, with
    /// when each was delivered (to say how long a partition has been held).
    pending: VecDeque<(i64, State, Instant)>,
    /// Why the first failed offset failed (the nack's reason), for the
    /// periodic "held" report.
    failure: Option<(i64, String)>,
}

/// What holds a partition's watermark: the lowest offset not acknowledged,
/// since when, and why (the nack's reason, or that it is still in flight).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    /// The offset the watermark cannot pass.
    pub offset: i64,
    /// How long ago it was delivered.
    pub age: Duration,
    /// The failure's reason, or `in flight` when it was not settled yet.
    pub reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    InFlight,
    Acked,
    Failed,
}

impl PartitionWatermark {
    /// An empty tracker.
    pub fn new() -> PartitionWatermark {
        PartitionWatermark::default()
    }

    /// Records that `offset` was handed to a stage.
    pub fn track(&self, offset: i64) {
        let mut inner = self.inner.lock().expect("watermark lock poisoned");
        debug_assert!(inner.pending.back().is_none_or(|(o, _, _)| *o < offset));
        inner
            .pending
            .push_back((offset, State::InFlight, Instant::now()));
    }

    /// Marks `offset` acknowledged and advances the watermark over every
    /// acknowledged offset at the front.
    pub fn ack(&self, offset: i64) {
        self.set(offset, State::Acked);
    }

    /// Marks `offset` failed: it holds the watermark until the partition is
    /// re-read (after a restart or a rebalance).
    pub fn fail(&self, offset: i64) {
        self.fail_because(offset, "dropped without acknowledgement");
    }

    /// [`fail`](Self::fail) with the reason the periodic held report names.
    pub fn fail_because(&self, offset: i64, reason: &str) {
        let mut inner = self.inner.lock().expect("watermark lock poisoned");
        if inner.failure.as_ref().is_none_or(|(o, _)| offset < *o) {
            inner.failure = Some((offset, reason.to_string()));
        }
        drop(inner);
        self.set(offset, State::Failed);
    }

    fn set(&self, offset: i64, state: State) {
        let mut inner = self.inner.lock().expect("watermark lock poisoned");
        if let Ok(i) = inner.pending.binary_search_by_key(&offset, |(o, _, _)| *o) {
            // An offset acknowledged after it failed stays failed: its data was not kept.
            if inner.pending[i].1 == State::InFlight {
                inner.pending[i].1 = state;
            }
        }
        while let Some(&(o, State::Acked, _)) = inner.pending.front() {
            inner.pending.pop_front();
            inner.committable = Some(o + 1);
        }
    }

    /// What holds the watermark, when the lowest unacknowledged offset failed
    /// or has been in flight for at least `min_age`; `None` otherwise.
    pub fn held(&self, min_age: Duration) -> Option<Held> {
        let inner = self.inner.lock().expect("watermark lock poisoned");
        let &(offset, state, since) = inner.pending.front()?;
        let age = since.elapsed();
        // A failed offset anywhere holds the partition for good; report the
        // lowest one even if an older offset is still (briefly) in flight.
        let failed = inner
            .pending
            .iter()
            .find(|(_, s, _)| *s == State::Failed)
            .map(|&(o, _, t)| (o, t));
        match (state, failed) {
            (State::Failed, _) | (State::InFlight, Some(_)) => {
                let (offset, since) = failed.unwrap_or((offset, since));
                let reason = match &inner.failure {
                    Some((o, r)) if *o == offset => format!("not acknowledged: {r}"),
                    _ => "not acknowledged".to_string(),
                };
                Some(Held {
                    offset,
                    age: since.elapsed(),
                    reason,
                })
            }
            (State::InFlight, None) if age >= min_age => Some(Held {
                offset,
                age,
                reason: "in flight: the next stage has not acknowledged it yet".into(),
            }),
            _ => None,
        }
    }

    /// The offset to commit (the next one to read), if any progress was made.
    pub fn committable(&self) -> Option<i64> {
        self.inner
            .lock()
            .expect("watermark lock poisoned")
            .committable
    }

    /// Delivered offsets not yet acknowledged (in flight or failed).
    pub fn outstanding(&self) -> usize {
        self.inner
            .lock()
            .expect("watermark lock poisoned")
            .pending
            .len()
    }

    /// How long ago the lowest unacknowledged offset was delivered (zero
    /// when every delivered offset is acknowledged).
    pub fn oldest_age(&self) -> Duration {
        let inner = self.inner.lock().expect("watermark lock poisoned");
        inner
            .pending
            .front()
            .map_or(Duration::ZERO, |(_, _, since)| since.elapsed())
    }

    /// Whether a failed offset holds this partition.
    pub fn is_held(&self) -> bool {
        let inner = self.inner.lock().expect("watermark lock poisoned");
        inner.pending.iter().any(|(_, s, _)| *s == State::Failed)
    }
}

/// Publishes `earshot_watermark_oldest_seconds{group, topic, partition}`:
/// how long each partition's lowest unacknowledged offset has waited (0 when
/// none waits). Called at every commit tick, so it is fresh where the held
/// report (below) is deliberately slow.
pub(crate) fn publish_oldest<'a>(
    group: &str,
    parts: impl IntoIterator<Item = (&'a str, i32, &'a PartitionWatermark)>,
) {
    for (topic, partition, watermark) in parts {
        metrics::gauge!(
            "earshot_watermark_oldest_seconds",
            "group" => group.to_string(),
            "topic" => topic.to_string(),
            "partition" => partition.to_string()
        )
        .set(watermark.oldest_age().as_secs_f64());
    }
}

/// Publishes `earshot_consumer_lag{group, topic, partition}`: records in the
/// partition after the group's committed offset.
pub(crate) fn publish_lag(group: &str, topic: &str, partition: i32, lag: i64) {
    metrics::gauge!(
        "earshot_consumer_lag",
        "group" => group.to_string(),
        "topic" => topic.to_string(),
        "partition" => partition.to_string()
    )
    .set(lag.max(0) as f64);
}

/// Publishes `earshot_consumer_fetched_records_total{group}`: records this
/// member's client has received from brokers, records fetched again after a
/// pause or a rebalance counted each time (librdkafka's `rxmsgs`).
pub(crate) fn publish_fetched(group: &str, records: i64) {
    metrics::counter!("earshot_consumer_fetched_records_total", "group" => group.to_string())
        .absolute(records.max(0) as u64);
}

/// Says, at most once per `interval`, which partitions of a consumer are
/// held and why: a warn log line per held partition and the gauge
/// `earshot_watermark_held_seconds{group, topic, partition}` (0 once released),
/// so a stuck partition is never silent.
#[derive(Debug)]
pub(crate) struct HeldReporter {
    group: String,
    interval: Duration,
    last: Instant,
    /// Partitions reported held last time, to publish their release.
    reported: Vec<(String, i32)>,
}

impl HeldReporter {
    pub(crate) fn new(group: &str, interval: Duration) -> HeldReporter {
        HeldReporter {
            group: group.to_string(),
            interval,
            last: Instant::now(),
            reported: Vec::new(),
        }
    }

    /// Whether a report is due.
    pub(crate) fn due(&self) -> bool {
        self.last.elapsed() >= self.interval
    }

    /// Reports every held partition among `parts`; returns them.
    pub(crate) fn report<'a>(
        &mut self,
        parts: impl IntoIterator<Item = (&'a str, i32, &'a PartitionWatermark)>,
    ) -> Vec<(String, i32, Held)> {
        self.last = Instant::now();
        let mut held = Vec::new();
        for (topic, partition, watermark) in parts {
            if let Some(h) = watermark.held(self.interval) {
                tracing::warn!(
                    group = %self.group,
                    topic,
                    partition,
                    held_offset = h.offset,
                    held_secs = h.age.as_secs(),
                    reason = %h.reason,
                    "partition watermark held: nothing after this offset is committed until it is settled or re-read"
                );
                metrics::gauge!(
                    "earshot_watermark_held_seconds",
                    "group" => self.group.clone(),
                    "topic" => topic.to_string(),
                    "partition" => partition.to_string()
                )
                .set(h.age.as_secs_f64());
                held.push((topic.to_string(), partition, h));
            }
        }
        for (topic, partition) in std::mem::take(&mut self.reported) {
            if !held.iter().any(|(t, p, _)| *t == topic && *p == partition) {
                tracing::info!(group = %self.group, %topic, partition, "partition watermark no longer held");
                metrics::gauge!(
                    "earshot_watermark_held_seconds",
                    "group" => self.group.clone(),
                    "topic" => topic,
                    "partition" => partition.to_string()
                )
                .set(0.0);
            }
        }
        self.reported = held.iter().map(|(t, p, _)| (t.clone(), *p)).collect();
        metrics::gauge!("earshot_watermark_held_partitions", "group" => self.group.clone())
            .set(held.len() as f64);
        held
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn out_of_order_acks_commit_contiguously() {
        let w = PartitionWatermark::new();
        for o in 10..15 {
            w.track(o);
        }
        w.ack(12);
        w.ack(11);
        assert_eq!(w.committable(), None, "10 is still in flight");
        w.ack(10);
        assert_eq!(w.committable(), Some(13));
        w.ack(14);
        assert_eq!(w.committable(), Some(13));
        w.ack(13);
        assert_eq!(w.committable(), Some(15));
        assert_eq!(w.outstanding(), 0);
    }

    #[test]
    fn a_failure_holds_the_watermark_forever() {
        let w = PartitionWatermark::new();
        for o in 0..5 {
            w.track(o);
        }
        w.ack(0);
        w.fail(1);
        for o in 2..5 {
            w.ack(o);
        }
        assert_eq!(w.committable(), Some(1));
        w.ack(1); // a late ack after failure does not release it
        assert_eq!(w.committable(), Some(1));
        assert!(w.is_held());
    }

    /// Finding 3 of issue 12: a held partition says which offset holds it,
    /// since when and why, and an offset merely in flight is reported only
    /// once it has been in flight for the report interval.
    #[test]
    fn issue_12_a_held_watermark_names_its_offset_and_reason() {
        let w = PartitionWatermark::new();
        for o in 0..4 {
            w.track(o);
        }
        w.ack(0);
        assert_eq!(w.held(Duration::from_secs(30)), None, "1 is only in flight");
        let h = w
            .held(Duration::ZERO)
            .expect("in flight past the threshold");
        assert_eq!(h.offset, 1);
        assert!(h.reason.contains("in flight"), "{h:?}");
        w.fail_because(2, "dead-letter send failed");
        let h = w.held(Duration::from_secs(30)).expect("a failure holds it");
        assert_eq!(h.offset, 2);
        assert!(h.reason.contains("dead-letter send failed"), "{h:?}");
        let mut reporter = HeldReporter::new("g", Duration::from_secs(30));
        let held = reporter.report([("raw", 3, &w)]);
        assert_eq!(held.len(), 1);
        assert_eq!(
            (held[0].0.as_str(), held[0].1, held[0].2.offset),
            ("raw", 3, 2)
        );
    }

    #[test]
    fn gaps_between_offsets_are_fine() {
        let w = PartitionWatermark::new();
        w.track(3);
        w.track(7);
        w.ack(7);
        w.ack(3);
        assert_eq!(w.committable(), Some(8));
    }

    proptest! {
        /// The committed watermark never passes an unacknowledged offset,
        /// whatever the acknowledgement order and failures.
        #[test]
        fn never_commits_past_unacked(order in Just((0..50i64).collect::<Vec<_>>()).prop_shuffle(),
                                      fail in proptest::option::of(0..50i64),
                                      acked_n in 0..=50usize) {
            let w = PartitionWatermark::new();
            for o in 0..50 { w.track(o); }
            if let Some(f) = fail { w.fail(f); }
            let acked: Vec<i64> = order[..acked_n].to_vec();
            for o in &acked { w.ack(*o); }
            let expect = (0..50i64)
                .take_while(|o| Some(*o) != fail && acked.contains(o))
                .last()
                .map(|o| o + 1);
            prop_assert_eq!(w.committable(), expect);
        }
    }
}
