//! What the stage counts: live counters and the summary a run returns.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

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
pub(crate) struct Counters {
    pub received: AtomicU64,
    pub scored: AtomicU64,
    pub dead_lettered: AtomicU64,
    pub retries: AtomicU64,
    pub consumer_errors: AtomicU64,
    pub abandoned: AtomicU64,
}

impl Counters {
    pub fn snapshot(&self) -> MatchStats {
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
