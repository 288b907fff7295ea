//! A consumer-group member that reads nothing: its only output is which
//! partitions of the control topic it owns. A poll thread serves the group
//! protocol; the rebalance callbacks report each change to the async side
//! and, on revoke, block until the work of the revoked partitions stopped
//! (or the revoke timeout passed), so that two processes never knowingly
//! run the same partition's work at once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use rdkafka::consumer::{BaseConsumer, Consumer as _, ConsumerContext, Rebalance};
use rdkafka::{ClientContext, TopicPartitionList};
use tokio::sync::mpsc;

use super::member_config;
use crate::share::{AssignmentChange, Membership, MembershipOptions, Release};
use crate::{KafkaConfig, TransportError};

/// How long one poll waits: bounds how late a stop request is noticed.
const POLL: Duration = Duration::from_millis(100);

struct MemberCtx {
    group: String,
    topic: String,
    events: mpsc::UnboundedSender<AssignmentChange>,
    revoke_timeout: Duration,
    /// Set when leaving: the work already stopped, nobody answers a revoke.
    leaving: Arc<AtomicBool>,
}

impl MemberCtx {
    fn partitions(&self, tpl: &TopicPartitionList) -> Vec<i32> {
        let mut p: Vec<i32> = tpl
            .elements()
            .iter()
            .filter(|e| e.topic() == self.topic)
            .map(|e| e.partition())
            .collect();
        p.sort_unstable();
        p
    }
}

impl ClientContext for MemberCtx {}

impl ConsumerContext for MemberCtx {
    fn pre_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Revoke(revoked) => {
                crate::ready::readiness().fail(
                    &crate::ready::partitions_check(&self.group),
                    "rebalancing: control partitions revoked, waiting for the new assignment",
                );
                let partitions = self.partitions(revoked);
                tracing::info!(group = %self.group, ?partitions, "control partitions revoked");
                if partitions.is_empty() || self.leaving.load(Ordering::SeqCst) {
                    return;
                }
                let (tx, rx) = std::sync::mpsc::channel();
                let change = AssignmentChange::Revoked {
                    partitions,
                    release: Release(tx),
                };
                if self.events.send(change).is_err() {
                    return;
                }
                // A disconnect (the release was dropped) counts as released.
                if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                    rx.recv_timeout(self.revoke_timeout)
                {
                    tracing::warn!(
                        group = %self.group,
                        "revoked work did not stop within {:?}; the rebalance goes on",
                        self.revoke_timeout
                    );
                }
            }
            Rebalance::Assign(_) => {}
            Rebalance::Error(e) => {
                tracing::warn!(group = %self.group, error = %e, "rebalance error")
            }
        }
    }

    fn post_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(assigned) = rebalance {
            let partitions = self.partitions(assigned);
            tracing::info!(group = %self.group, ?partitions, "control partitions assigned");
            // An empty share (more members than partitions) is settled too.
            crate::ready::readiness().pass(&crate::ready::partitions_check(&self.group));
            let _ = self.events.send(AssignmentChange::Assigned(partitions));
        }
    }
}

pub(super) struct KafkaMembership {
    events: mpsc::UnboundedReceiver<AssignmentChange>,
    stop: Arc<AtomicBool>,
    leaving: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl KafkaMembership {
    pub(super) fn start(
        config: &KafkaConfig,
        options: MembershipOptions,
    ) -> Result<KafkaMembership, TransportError> {
        let (tx, rx) = mpsc::unbounded_channel();
        let leaving = Arc::new(AtomicBool::new(false));
        let mut c = member_config(config, &options.group);
        // Round robin over the partitions in order: connectors are laid out
        // on consecutive partitions, so each member gets its share.
        c.set("partition.assignment.strategy", "roundrobin")
            .set("auto.offset.reset", "latest");
        let consumer: BaseConsumer<MemberCtx> = c
            .create_with_context(MemberCtx {
                group: options.group.clone(),
                topic: options.topic.name.clone(),
                events: tx,
                revoke_timeout: options.revoke_timeout,
                leaving: leaving.clone(),
            })
            .map_err(|e| TransportError::Config(format!("Kafka group member: {e}")))?;
        consumer.subscribe(&[&options.topic.name]).map_err(|e| {
            TransportError::Broker(format!("subscribing to `{}`: {e}", options.topic.name))
        })?;
        let stop = Arc::new(AtomicBool::new(false));
        let st = stop.clone();
        let group = options.group.clone();
        let thread = std::thread::Builder::new()
            .name(format!("member-{}", options.group))
            .spawn(move || {
                let mut last_error = None;
                while !st.load(Ordering::SeqCst) {
                    // The control topic carries no records: polling serves
                    // the group protocol and the rebalance callbacks.
                    if let Some(Err(e)) = consumer.poll(POLL) {
                        let text = e.to_string();
                        if last_error.as_ref() != Some(&text) {
                            tracing::warn!(%group, error = %text, "group member error");
                            last_error = Some(text);
                        }
                    }
                }
                // Dropping the consumer leaves the group.
                drop(consumer);
            })
            .map_err(|e| TransportError::Broker(format!("cannot start the member thread: {e}")))?;
        Ok(KafkaMembership {
            events: rx,
            stop,
            leaving,
            thread: Some(thread),
        })
    }
}

#[async_trait]
impl Membership for KafkaMembership {
    async fn next(&mut self) -> Option<AssignmentChange> {
        self.events.recv().await
    }

    async fn leave(mut self: Box<Self>) {
        self.leaving.store(true, Ordering::SeqCst);
        self.stop.store(true, Ordering::SeqCst);
        self.events.close();
        if let Some(t) = self.thread.take() {
            let _ = tokio::task::spawn_blocking(move || t.join()).await;
        }
    }
}

impl Drop for KafkaMembership {
    fn drop(&mut self) {
        self.leaving.store(true, Ordering::SeqCst);
        self.stop.store(true, Ordering::SeqCst);
    }
}
