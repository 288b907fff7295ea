//! The "lag but no partitions" alarm (issue 12): a group member whose
//! assignment stays empty while its topics have lag, and while nobody in the
//! group makes progress on that lag, says so, then leaves and rejoins.
//!
//! Brokers are expected to spread partitions over members, but a member can
//! be left with nothing for good (tansu 0.6 did so to a consumer restarted
//! after `kill -9`, while the topic had a backlog); then nothing moves and,
//! before this alarm, nothing said so. A member is *stuck* when it has no
//! partition, its topics have records after the group's committed offsets,
//! and those committed offsets did not move since the previous check (so an
//! idle member of a group with more members than partitions, whose peers
//! consume, is not stuck). Once stuck for the alarm delay it logs a warning
//! every report interval (group, topics, lag, how long), publishes the
//! gauge `earshot_consumer_unassigned_seconds{group}`, and fails the
//! readiness check [`crate::ready::lag_check`]; once stuck for the rejoin delay it asks
//! the poll loop to recreate the consumer, which leaves the group and joins
//! it again as a new member (counted in `earshot_consumer_rejoins_total`).

use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer as _, ConsumerContext};
use rdkafka::error::KafkaResult;
use rdkafka::{Offset, TopicPartitionList};

/// How long one broker request of the lag check may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);

/// What the poll loop does after a check.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Verdict {
    /// Carry on.
    Fine,
    /// Recreate the consumer: leave the group and join it again.
    Rejoin,
}

/// The alarm's state for one member.
pub(super) struct Unassigned {
    group: String,
    topics: Vec<String>,
    /// Stuck this long: warn, gauge, readiness.
    alarm_after: Duration,
    /// Stuck this long: rejoin (`None`: never).
    rejoin_after: Option<Duration>,
    report_every: Duration,
    check_every: Duration,
    last_check: Option<Instant>,
    /// Since when this member is stuck.
    since: Option<Instant>,
    /// The group's committed offsets (or the log start where none) at the
    /// last check, to tell "nobody progresses" from "peers consume".
    committed: Option<Vec<i64>>,
    last_report: Option<Instant>,
    /// Whether this member raised the alarm (so that only it clears it).
    alarmed: bool,
}

impl Unassigned {
    /// `session`: the group session timeout, the alarm's delay (a join
    /// normally completes within it). `rejoin_after`: `None` never rejoins.
    pub fn new(
        group: &str,
        topics: &[String],
        session: Duration,
        rejoin_after: Option<Duration>,
        report_every: Duration,
    ) -> Unassigned {
        let alarm_after = rejoin_after.map_or(session, |r| r.min(session));
        Unassigned {
            group: group.to_string(),
            topics: topics.to_vec(),
            alarm_after,
            rejoin_after,
            report_every,
            check_every: (alarm_after / 3)
                .clamp(Duration::from_millis(200), Duration::from_secs(5)),
            last_check: None,
            since: None,
            committed: None,
            last_report: None,
            alarmed: false,
        }
    }

    /// Called by the poll loop on every turn with the number of partitions
    /// assigned; asks the broker about lag only when none is, at most every
    /// `check_every`.
    pub fn check<C: ConsumerContext>(
        &mut self,
        consumer: &BaseConsumer<C>,
        assigned: usize,
    ) -> Verdict {
        if assigned > 0 {
            self.clear();
            return Verdict::Fine;
        }
        if self
            .last_check
            .is_some_and(|t| t.elapsed() < self.check_every)
        {
            return Verdict::Fine;
        }
        self.last_check = Some(Instant::now());
        let (lag, committed) = match group_lag(consumer, &self.topics) {
            Ok(found) => found,
            Err(e) => {
                // The broker is unreachable: the broker check says so already.
                tracing::debug!(group = %self.group, error = %e, "cannot read the group's lag");
                return Verdict::Fine;
            }
        };
        let progressed = self.committed.as_ref().is_some_and(|c| *c != committed);
        self.committed = Some(committed);
        if lag <= 0 || progressed {
            self.clear();
            return Verdict::Fine;
        }
        let since = *self.since.get_or_insert_with(Instant::now);
        let stuck = since.elapsed();
        if stuck >= self.alarm_after {
            self.alarm(lag, stuck);
        }
        match self.rejoin_after {
            Some(after) if stuck >= after => {
                tracing::warn!(
                    group = %self.group,
                    topics = ?self.topics,
                    lag,
                    stuck_secs = stuck.as_secs(),
                    "no partitions assigned while the topics have lag: leaving and rejoining the group"
                );
                metrics::counter!("earshot_consumer_rejoins_total", "group" => self.group.clone())
                    .increment(1);
                // The new member starts its own count once it has joined.
                self.since = None;
                self.committed = None;
                self.last_report = None;
                Verdict::Rejoin
            }
            _ => Verdict::Fine,
        }
    }

    fn alarm(&mut self, lag: i64, stuck: Duration) {
        self.alarmed = true;
        metrics::gauge!("earshot_consumer_unassigned_seconds", "group" => self.group.clone())
            .set(stuck.as_secs_f64());
        crate::ready::readiness().fail(
            &crate::ready::lag_check(&self.group),
            format!(
                "no partitions assigned for {}s while {:?} have lag {lag} and the group makes no progress",
                stuck.as_secs(),
                self.topics
            ),
        );
        if self
            .last_report
            .is_none_or(|t| t.elapsed() >= self.report_every)
        {
            self.last_report = Some(Instant::now());
            tracing::warn!(
                group = %self.group,
                topics = ?self.topics,
                lag,
                stuck_secs = stuck.as_secs(),
                rejoin_after_secs = self.rejoin_after.map(|r| r.as_secs()),
                "no partitions assigned while the topics have lag and the group makes no progress"
            );
        }
    }

    fn clear(&mut self) {
        self.since = None;
        self.last_report = None;
        if self.alarmed {
            self.alarmed = false;
            metrics::gauge!("earshot_consumer_unassigned_seconds", "group" => self.group.clone())
                .set(0.0);
            crate::ready::readiness().pass(&crate::ready::lag_check(&self.group));
            tracing::info!(group = %self.group, "the unassigned-with-lag alarm is over");
        }
    }
}

/// The group's total lag over every partition of `topics`, and each
/// partition's committed offset (the log start where nothing is committed).
fn group_lag<C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    topics: &[String],
) -> KafkaResult<(i64, Vec<i64>)> {
    let mut tpl = TopicPartitionList::new();
    for topic in topics {
        let metadata = consumer.fetch_metadata(Some(topic), REQUEST_TIMEOUT)?;
        for t in metadata.topics() {
            for p in t.partitions() {
                tpl.add_partition(topic, p.id());
            }
        }
    }
    let committed = consumer.committed_offsets(tpl, REQUEST_TIMEOUT)?;
    let mut lag = 0;
    let mut offsets = Vec::new();
    for e in committed.elements() {
        let (low, high) = consumer.fetch_watermarks(e.topic(), e.partition(), REQUEST_TIMEOUT)?;
        let from = match e.offset() {
            Offset::Offset(o) => o.max(low),
            _ => low,
        };
        lag += (high - from).max(0);
        offsets.push(from);
    }
    Ok((lag, offsets))
}
