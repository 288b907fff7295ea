use std::collections::VecDeque;
use std::sync::Mutex;

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
    /// Delivered and not yet below the watermark, in offset order.
    pending: VecDeque<(i64, State)>,
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
        debug_assert!(inner.pending.back().is_none_or(|(o, _)| *o < offset));
        inner.pending.push_back((offset, State::InFlight));
    }

    /// Marks `offset` acknowledged and advances the watermark over every
    /// acknowledged offset at the front.
    pub fn ack(&self, offset: i64) {
        self.set(offset, State::Acked);
    }

    /// Marks `offset` failed: it holds the watermark until the partition is
    /// re-read (after a restart or a rebalance).
    pub fn fail(&self, offset: i64) {
        self.set(offset, State::Failed);
    }

    fn set(&self, offset: i64, state: State) {
        let mut inner = self.inner.lock().expect("watermark lock poisoned");
        if let Ok(i) = inner.pending.binary_search_by_key(&offset, |(o, _)| *o) {
            // An offset acknowledged after it failed stays failed: its data was not kept.
            if inner.pending[i].1 == State::InFlight {
                inner.pending[i].1 = state;
            }
        }
        while let Some(&(o, State::Acked)) = inner.pending.front() {
            inner.pending.pop_front();
            inner.committable = Some(o + 1);
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

    /// Whether a failed offset holds this partition.
    pub fn is_held(&self) -> bool {
        let inner = self.inner.lock().expect("watermark lock poisoned");
        inner.pending.iter().any(|(_, s)| *s == State::Failed)
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
