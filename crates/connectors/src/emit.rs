//! Producing posts: deduplicate by id, produce, await every delivery, and only
//! then remember the ids and advance the cursor, in one SQLite transaction.

use std::collections::HashSet;
use std::sync::Arc;

use anyhow::anyhow;
use earshot_model::{DeadLetter, Origin, Post, ORIGIN_HEADER, SCHEMA_HEADER, SCHEMA_VERSION};
use earshot_transport::{Producer, Record};

use crate::cursor::CursorStore;
use crate::stats::Counters;

/// Header naming why a payload was dead-lettered (the transport's convention).
const ERROR_HEADER: &str = "earshot-error";
/// Header naming the stage that dead-lettered it.
const STAGE_HEADER: &str = "earshot-stage";

/// Produces one connector's posts and dead letters.
#[derive(Clone)]
pub(crate) struct Emitter {
    pub name: String,
    /// `connect:<name>`: the origin header value and dead-letter stage.
    pub origin: String,
    pub producer: Arc<dyn Producer>,
    pub raw_topic: String,
    pub dead_letter_topic: String,
    pub store: CursorStore,
    pub counters: Arc<Counters>,
    pub keep_raw: bool,
    pub dead_letter_max: usize,
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
    ) -> anyhow::Result<Emitted> {
        let mut in_batch = HashSet::new();
        let mut unique = Vec::with_capacity(posts.len());
        let mut duplicates = 0;
        for p in posts {
            if in_batch.insert(p.id.clone()) {
                unique.push(p);
            } else {
                duplicates += 1;
            }
        }
        let seen = self
            .store
            .seen(&self.name, unique.iter().map(|p| p.id.clone()).collect())
            .await?;
        duplicates += seen.len();
        let now = chrono::Utc::now();
        let mut ids = Vec::new();
        let mut payloads = Vec::new();
        let mut deliveries = Vec::new();
        for mut p in unique.into_iter().filter(|p| !seen.contains(&p.id)) {
            if !self.keep_raw {
                p.raw = None;
            }
            p.fetched_at.get_or_insert(now);
            let payload = p.to_json();
            let record = Record::new(p.id.clone(), payload.clone())
                .header(SCHEMA_HEADER, SCHEMA_VERSION.to_string())
                .header(ORIGIN_HEADER, self.origin.as_str());
            deliveries.push(self.producer.send(&self.raw_topic, record));
            ids.push(p.id);
            payloads.push(payload);
        }
        let results = futures::future::join_all(deliveries).await;
        let mut delivered = Vec::with_capacity(ids.len());
        let mut failure = None;
        let mut refused = 0;
        for ((id, r), payload) in ids.into_iter().zip(results).zip(payloads) {
            match r {
                Ok(()) => delivered.push(id),
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
                    delivered.push(id);
                    refused += 1;
                }
                Err(e) => failure = Some(e),
            }
        }
        let produced = delivered.len() - refused;
        let cursor = if failure.is_none() { cursor } else { None };
        self.store.commit(&self.name, cursor, delivered).await?;
        self.counters.add(&self.counters.produced, produced as u64);
        if duplicates > 0 {
            self.counters
                .add(&self.counters.duplicates, duplicates as u64);
        }
        match failure {
            None => Ok(Emitted {
                produced,
                duplicates,
            }),
            Some(e) => Err(anyhow!(
                "transport refused a post ({produced} delivered): {e}"
            )),
        }
    }

    /// Keeps a bad payload: produces a [`DeadLetter`] to the dead-letter topic
    /// and waits for it; when that fails, stores it in the cursor database's
    /// `quarantine` table instead. Counted and logged either way.
    pub async fn dead_letter(&self, reason: &str, locator: &str, payload: &[u8]) {
        self.counters.add(&self.counters.dead_letters, 1);
        tracing::warn!(connector = %self.name, %locator, %reason, bytes = payload.len(), "bad payload dead-lettered");
        let (kept, reason) = if payload.len() > self.dead_letter_max {
            let reason = format!(
                "{reason} (payload cut from {} to {} bytes)",
                payload.len(),
                self.dead_letter_max
            );
            (&payload[..self.dead_letter_max], reason)
        } else {
            (payload, reason.to_string())
        };
        let letter = DeadLetter::new(
            self.origin.clone(),
            reason.clone(),
            Origin::Source {
                connector: self.name.clone(),
                locator: locator.to_string(),
            },
            kept,
        );
        let record = Record::new(format!("{}:{locator}", self.origin), letter.to_json())
            .header(ORIGIN_HEADER, self.origin.as_str())
            .header(STAGE_HEADER, self.origin.as_str())
            .header(ERROR_HEADER, reason.as_str());
        if let Err(e) = self.producer.send(&self.dead_letter_topic, record).await {
            tracing::error!(connector = %self.name, error = %e, "dead-letter topic refused; quarantining in the cursor store");
            if let Err(e) = self
                .store
                .quarantine(&self.name, &reason, locator, kept.to_vec())
                .await
            {
                tracing::error!(connector = %self.name, error = %e, "quarantine failed too; payload only in this log");
                tracing::error!(connector = %self.name, payload = %String::from_utf8_lossy(kept), "lost bad payload");
            }
        }
    }
}
