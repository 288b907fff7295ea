//! Producing posts: deduplicate by id, produce, await every delivery, and only
//! then remember the ids and advance the cursor, in one SQLite transaction.
//!
//! A connector may run several tasks at once (Mastodon timelines, Reddit
//! subreddit and search, YouTube videos) that meet the same post. The
//! "already produced?" check and the claim of the ids to produce are made
//! under one lock per connector ([`Claims`]), and a claim is held until the
//! ids are recorded in the store, so two tasks never both produce one id.
//!
//! A source whose cursor is exact (a position in a file, each batch recorded
//! when acknowledged) produces with [`Emitter::emit_positioned`] instead:
//! no id is looked up or recorded, except the delivered ids of a batch that
//! failed half-way, which the source records with its position.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use earshot_model::{Post, ORIGIN_HEADER, SCHEMA_HEADER, SCHEMA_VERSION_TEXT};
use earshot_transport::post_metrics::source_of_key;
use earshot_transport::SourceTally;
use earshot_transport::{shrink_refused, source_dead_letter_record, Attached, Producer, Record};

use crate::backend::CursorBackend;
use crate::cursor::CursorStore;
use crate::error::{SourceError, SourceResult};
use crate::stats::Counters;

/// Produces one connector's posts and dead letters.
#[derive(Clone)]
pub(crate) struct Emitter {
    pub name: String,
    /// `connect:<name>`: the origin header value and dead-letter stage.
    pub origin: String,
    pub producer: Arc<dyn Producer>,
    pub raw_topic: String,
    pub dead_letter_topic: String,
    /// Cursors and produced ids.
    pub cursors: Arc<dyn CursorBackend>,
    /// Where a bad payload goes when the dead-letter topic refuses it.
    pub quarantine: CursorStore,
    pub counters: Arc<Counters>,
    pub keep_raw: bool,
    pub dead_letter_max: usize,
    /// Ids being produced by any task of this connector; shared by its clones.
    pub claims: Arc<Claims>,
}

/// The ids one connector is producing right now.
#[derive(Default)]
pub(crate) struct Claims {
    /// Held while checking the store and claiming, so check-and-claim is atomic.
    check: tokio::sync::Mutex<()>,
    in_flight: Mutex<HashSet<String>>,
}

impl Claims {
    fn release(&self, ids: &[String]) {
        let mut f = self.in_flight.lock().expect("claims lock");
        for id in ids {
            f.remove(id);
        }
    }
}

/// What became of one batch's deliveries.
#[derive(Default)]
struct Delivered {
    /// Ids delivered, or refused for good and dead-lettered: handled.
    delivered: Vec<String>,
    /// Posts delivered (the handled ones less the refused).
    produced: usize,
    /// Per source, the posts delivered.
    out: SourceTally,
    /// A delivery that failed and may succeed when retried.
    failure: Option<earshot_transport::TransportError>,
}

/// A batch of [`Emitter::emit_positioned`] that was not wholly delivered.
#[derive(Debug)]
pub(crate) struct Undelivered {
    /// Ids that were handled all the same (delivered, or dead-lettered).
    pub delivered: Vec<String>,
    /// Why the rest was not.
    pub error: SourceError,
}

/// What one [`Emitter::emit`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Emitted {
    pub produced: usize,
    pub duplicates: usize,
}

impl Emitter {
    /// Produces `posts` not produced before, waits for every acknowledgement,
    /// then records their ids and saves `cursor` (`(key, value)`) atomically.
    ///
    /// When a delivery fails the cursor is not advanced (the source refetches
    /// next time) but the ids that were delivered are remembered, so the
    /// refetch does not produce them twice.
    pub async fn emit(
        &self,
        posts: Vec<Post>,
        cursor: Option<(String, String)>,
    ) -> SourceResult<Emitted> {
        let mut in_batch = HashSet::new();
        let mut unique = Vec::with_capacity(posts.len());
        let mut duplicates = 0;
        let mut fetched = SourceTally::default();
        for p in &posts {
            fetched.count(source_of_key(Some(&p.id)));
        }
        self.counters.metrics.posts_in.add(&fetched);
        for p in posts {
            if in_batch.insert(p.id.clone()) {
                unique.push(p);
            } else {
                duplicates += 1;
            }
        }
        let claimed: Vec<Post> = {
            let _check = self.claims.check.lock().await;
            let candidates: Vec<Post> = {
                let f = self.claims.in_flight.lock().expect("claims lock");
                let (free, taken): (Vec<Post>, Vec<Post>) =
                    unique.into_iter().partition(|p| !f.contains(&p.id));
                duplicates += taken.len();
                free
            };
            let seen = self
                .cursors
                .seen(
                    &self.name,
                    candidates.iter().map(|p| p.id.clone()).collect(),
                )
                .await?;
            duplicates += seen.len();
            let fresh: Vec<Post> = candidates
                .into_iter()
                .filter(|p| !seen.contains(&p.id))
                .collect();
            let mut f = self.claims.in_flight.lock().expect("claims lock");
            f.extend(fresh.iter().map(|p| p.id.clone()));
            fresh
        };
        let claimed_ids: Vec<String> = claimed.iter().map(|p| p.id.clone()).collect();
        let outcome = self.produce(claimed, duplicates, cursor).await;
        // Recorded in the store (or not delivered): either way no longer in flight.
        self.claims.release(&claimed_ids);
        outcome
    }

    /// Saves a cursor alone, for a source that emits with `cursor: None`
    /// and advances it itself once everything before it is acknowledged.
    pub async fn save_cursor(&self, cursor: (String, String)) -> SourceResult<()> {
        Ok(self
            .cursors
            .commit(&self.name, Some(cursor), Vec::new())
            .await?)
    }

    /// Produces `posts` as they are, for a source whose cursor alone says
    /// exactly what was produced (the file connector: lines of a file).
    /// Nothing is checked or recorded per id: the caller records the batch's
    /// position once it returns. When a delivery fails, the ids that were
    /// delivered come back in [`Undelivered`] for the caller to record with
    /// that position, so its re-read can skip them.
    pub async fn emit_positioned(&self, posts: Vec<Post>) -> Result<Emitted, Undelivered> {
        let mut fetched = SourceTally::default();
        for p in &posts {
            fetched.count(source_of_key(Some(&p.id)));
        }
        self.counters.metrics.posts_in.add(&fetched);
        let d = self.deliver(posts).await;
        self.count(d.produced, &d.out, 0);
        match d.failure {
            None => Ok(Emitted {
                produced: d.produced,
                duplicates: 0,
            }),
            Some(cause) => Err(Undelivered {
                delivered: d.delivered,
                error: SourceError::Delivery {
                    delivered: d.produced,
                    cause,
                },
            }),
        }
    }

    /// Produces claimed posts, waits, records them and the cursor.
    async fn produce(
        &self,
        fresh: Vec<Post>,
        duplicates: usize,
        cursor: Option<(String, String)>,
    ) -> SourceResult<Emitted> {
        let Delivered {
            delivered,
            produced,
            out,
            failure,
        } = self.deliver(fresh).await;
        let cursor = if failure.is_none() { cursor } else { None };
        let moved = cursor.is_some();
        self.cursors.commit(&self.name, cursor, delivered).await?;
        if moved {
            self.counters.cursor_saved();
        }
        self.count(produced, &out, duplicates);
        match failure {
            None => Ok(Emitted {
                produced,
                duplicates,
            }),
            Some(cause) => Err(SourceError::Delivery {
                delivered: produced,
                cause,
            }),
        }
    }

    /// Produces `posts` and waits for every acknowledgement. A post the
    /// transport refuses for good is dead-lettered and counts as handled.
    async fn deliver(&self, posts: Vec<Post>) -> Delivered {
        let now = chrono::Utc::now();
        let mut ids = Vec::with_capacity(posts.len());
        let mut payloads = Vec::with_capacity(posts.len());
        let mut deliveries = Vec::with_capacity(posts.len());
        for mut p in posts {
            if !self.keep_raw {
                p.raw = None;
            }
            p.fetched_at.get_or_insert(now);
            let payload = p.to_json();
            let record = Record::new(p.id.clone(), payload.clone())
                .header(SCHEMA_HEADER, SCHEMA_VERSION_TEXT)
                .header(ORIGIN_HEADER, self.origin.as_str());
            ids.push(p.id.clone());
            payloads.push(payload);
            // In one process the match stage takes the post as it is instead
            // of decoding the payload again.
            deliveries.push(
                self.producer
                    .send_attached(&self.raw_topic, record, Attached::new(p)),
            );
        }
        let results = futures::future::join_all(deliveries).await;
        let mut d = Delivered {
            delivered: Vec::with_capacity(ids.len()),
            ..Delivered::default()
        };
        let mut refused = 0;
        for ((id, r), payload) in ids.into_iter().zip(results).zip(payloads) {
            match r {
                Ok(()) => {
                    // One event per post, for following a post from connector to store.
                    tracing::debug!(connector = %self.name, post_id = %id, "connector emitted");
                    d.out.count(source_of_key(Some(&id)));
                    d.delivered.push(id);
                }
                // The transport refuses this post itself (over the broker's
                // message size limit, say): producing it again cannot work,
                // so it is kept as a dead letter (or quarantined) and counts
                // as handled, and the cursor may move past it.
                Err(e) if e.is_permanent() => {
                    self.dead_letter(
                        &format!("post refused by the transport: {e}"),
                        &id,
                        &payload,
                    )
                    .await;
                    d.delivered.push(id);
                    refused += 1;
                }
                Err(e) => d.failure = Some(e),
            }
        }
        d.produced = d.delivered.len() - refused;
        d
    }

    /// Counts what one batch produced and how many duplicates it dropped.
    fn count(&self, produced: usize, out: &SourceTally, duplicates: usize) {
        self.counters.add(&self.counters.produced, produced as u64);
        self.counters.metrics.posts_out.add(out);
        if duplicates > 0 {
            self.counters
                .add(&self.counters.duplicates, duplicates as u64);
            self.counters
                .metrics
                .duplicates
                .increment(duplicates as u64);
        }
    }

    /// Keeps a bad payload: produces the dead-letter record (the payload, cut to
    /// `dead_letter_max`, with the reason and locator in headers) and waits for it; when that fails, stores it in the cursor database's
    /// `quarantine` table instead. Counted and logged either way.
    pub async fn dead_letter(&self, reason: &str, locator: &str, payload: &[u8]) {
        self.counters.add(&self.counters.dead_letters, 1);
        self.counters
            .metrics
            .posts_dead
            .count(source_of_key(Some(locator)));
        earshot_transport::post_metrics::dead_letter("connect", "bad_payload");
        tracing::warn!(connector = %self.name, %locator, %reason, bytes = payload.len(), "bad payload dead-lettered");
        let mut record = source_dead_letter_record(
            &self.origin,
            &self.name,
            locator,
            reason,
            payload,
            self.dead_letter_max,
        );
        // A dead letter the topic refuses whole (over the broker's message
        // limit: the post itself was refused for its size) is sent again with
        // its payload halved, as every stage does; only then is it quarantined.
        loop {
            let e = match self
                .producer
                .send(&self.dead_letter_topic, record.clone())
                .await
            {
                Ok(()) => return,
                Err(e) => e,
            };
            if e.is_permanent() && shrink_refused(&mut record) {
                tracing::warn!(connector = %self.name, error = %e, keep = record.payload.len(), "dead letter refused; sending it again with its payload cut");
                continue;
            }
            tracing::error!(connector = %self.name, error = %e, "dead-letter topic refused; quarantining in the cursor store");
            let kept = &record.payload;
            let reason = match payload.len() > kept.len() {
                true => format!("{reason} (payload cut from {} bytes)", payload.len()),
                false => reason.to_string(),
            };
            if let Err(e) = self
                .quarantine
                .quarantine(&self.name, &reason, locator, kept.to_vec())
                .await
            {
                tracing::error!(connector = %self.name, error = %e, "quarantine failed too; payload only in this log");
                tracing::error!(connector = %self.name, payload = %String::from_utf8_lossy(kept), "lost bad payload");
            }
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use earshot_transport::{Bus, MemoryBus, TopicsConfig};

    fn emitter(bus: &MemoryBus, store: CursorStore) -> Emitter {
        let topics = TopicsConfig::default();
        Emitter {
            name: "masto".into(),
            origin: "connect:masto".into(),
            producer: bus.producer(),
            raw_topic: topics.raw.clone(),
            dead_letter_topic: topics.dead_letter.clone(),
            cursors: Arc::new(store.clone()),
            quarantine: store,
            counters: crate::stats::StatsHandle::default().register("masto"),
            keep_raw: false,
            dead_letter_max: 1 << 20,
            claims: Arc::default(),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn issue_19_overlapping_tasks_never_produce_one_id_twice() {
        let dir = tempfile::tempdir().unwrap();
        let store = CursorStore::open(&dir.path().join("c.db")).unwrap();
        let bus = MemoryBus::new();
        bus.ensure_topics(&TopicsConfig::default().specs())
            .await
            .unwrap();
        let e = emitter(&bus, store);
        // Eight "timelines" whose pages overlap heavily, polled at once, many rounds.
        for round in 0..20 {
            let mut tasks = Vec::new();
            for t in 0..8 {
                let e = e.clone();
                tasks.push(tokio::spawn(async move {
                    let posts: Vec<Post> = (0..30)
                        .map(|k| {
                            let id = round * 40 + (t * 5 + k) % 40;
                            Post::new(format!("mastodon:{id}"), format!("status {id}"))
                        })
                        .collect();
                    e.emit(posts, Some((format!("tl{t}"), round.to_string())))
                        .await
                        .unwrap()
                }));
            }
            let mut produced = 0;
            for t in tasks {
                produced += t.await.unwrap().produced;
            }
            assert_eq!(produced, 40, "round {round}: each status once");
        }
        let raw = TopicsConfig::default().raw;
        assert_eq!(bus.len(&raw), 20 * 40);
        assert_eq!(
            e.counters
                .produced
                .load(std::sync::atomic::Ordering::Relaxed),
            800
        );
        assert!(
            e.claims.in_flight.lock().unwrap().is_empty(),
            "claims released"
        );
    }
}
