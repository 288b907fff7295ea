//! Sharing work between processes through the broker itself: a
//! [`Membership`] in a consumer group on a small control topic says which of
//! its partitions (and so which units of work) this process owns, and a
//! [`CompactedLog`] keeps small keyed state (cursors) that follows the work
//! when it moves. Kafka Connect distributes its tasks the same way.
//!
//! Only the Kafka bus implements them: the in-memory bus does not cross
//! processes, so there is nothing to share.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use futures::future::BoxFuture;

use crate::{DeliveryFuture, TopicSpec, TransportError};

/// Settings of a [`Membership`].
#[derive(Debug, Clone)]
pub struct MembershipOptions {
    /// Consumer group: members of one group share the topic's partitions.
    pub group: String,
    /// The control topic whose partitions stand for units of work (created
    /// as specified when missing). No records are read or written: only its
    /// partitions' assignment matters.
    pub topic: TopicSpec,
    /// Longest wait, on a rebalance, for the work of revoked partitions to
    /// stop before the group moves on (keep it under the session timeout).
    pub revoke_timeout: Duration,
}

/// Given with [`AssignmentChange::Revoked`]: calling [`Release::release`]
/// (or dropping it) tells the group that the revoked partitions' work has
/// stopped, so the rebalance may hand them to another member.
#[derive(Debug)]
pub struct Release(pub(crate) std::sync::mpsc::Sender<()>);

impl Release {
    /// The revoked work stopped: let the rebalance proceed.
    pub fn release(self) {
        let _ = self.0.send(());
    }
}

/// One change of this member's share of the control topic.
#[derive(Debug)]
pub enum AssignmentChange {
    /// These partitions are this member's now: start their work.
    Assigned(Vec<i32>),
    /// These partitions are being taken away: stop their work, then
    /// release. The rebalance waits for the release, up to
    /// [`MembershipOptions::revoke_timeout`].
    Revoked {
        /// The partitions taken away.
        partitions: Vec<i32>,
        /// Release once their work stopped.
        release: Release,
    },
}

/// This process's membership in a group sharing a control topic.
#[async_trait]
pub trait Membership: Send {
    /// The next assignment change, waiting for one. `None` once the
    /// membership ended (it left, or its client failed for good).
    async fn next(&mut self) -> Option<AssignmentChange>;

    /// Leaves the group (the partitions go to the other members at once
    /// instead of after the session timeout). Stop the work first: a revoke
    /// during leaving is not reported.
    async fn leave(self: Box<Self>);
}

/// A compacted topic holding the latest value of each key: small durable
/// state, partitioned explicitly by its user so that one unit of work's keys
/// live in one partition and can be read back alone.
pub trait CompactedLog: Send + Sync {
    /// Writes `key = value` to `partition` (`None`: a tombstone deleting the
    /// key). Writes to one partition keep their call order; the future
    /// resolves once the broker durably has the record.
    fn put(&self, partition: i32, key: &str, value: Option<&[u8]>) -> DeliveryFuture;

    /// Reads `partition` from its beginning to its end as of the call (the
    /// high watermark), returning the latest value of every key that has
    /// one (tombstoned keys are left out).
    fn read(
        &self,
        partition: i32,
    ) -> BoxFuture<'_, Result<HashMap<String, Vec<u8>>, TransportError>>;

    /// The topic's name.
    fn topic(&self) -> &str;
}
