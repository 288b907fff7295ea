//! The embedded mode's dead letters, kept: `earshot run` on the in-memory
//! bus has its dead-letter topic in RAM, so a consumer of its own stores
//! each record in the SQLite store's `dead_letters` table, with the reason
//! and stage from its headers. Its group is one of the end-to-end groups, so
//! a stage that dead-letters something waits until it is stored.

use std::sync::Arc;
use std::time::Duration;

use earshot_sink::sqlite::{KeptDeadLetter, SqliteStore};
use earshot_transport::{read_dead_letter, Bus, ConsumerOptions};
use tokio_util::sync::CancellationToken;

/// The consumer group keeping the dead letters.
pub const GROUP: &str = "earshot-dead-letters";

/// Keeps every record of `topic` in `store` until `stop`; returns how many.
pub async fn keep(
    bus: Arc<dyn Bus>,
    topic: String,
    store: SqliteStore,
    stop: CancellationToken,
) -> anyhow::Result<u64> {
    let mut options = ConsumerOptions::new(GROUP, [topic]);
    options.shutdown = stop;
    let mut consumer = bus.consumer(options).await?;
    // This run's records: the topic's offsets start at 0 again after a restart.
    let run = chrono::Utc::now()
        .timestamp_nanos_opt()
        .unwrap_or_else(|| chrono::Utc::now().timestamp_micros());
    let mut kept = 0;
    while let Some(next) = consumer.recv().await {
        let d = match next {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(error = %e, "dead-letter consumer error; continuing");
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        let m = &d.message;
        let letter = read_dead_letter(m);
        let (stage, reason, payload) = (letter.stage, letter.reason, letter.payload);
        let key = m.key.clone().unwrap_or_default();
        let (store, partition, offset) = (store.clone(), m.partition, m.offset);
        let stored = tokio::task::spawn_blocking(move || {
            store.keep_dead_letter(&KeptDeadLetter {
                run,
                partition,
                offset,
                at: chrono::Utc::now().timestamp(),
                stage: &stage,
                reason: &reason,
                key: &key,
                payload: &payload,
            })
        })
        .await;
        match stored {
            Ok(Ok(())) => {
                kept += 1;
                d.ack.ack();
            }
            Ok(Err(e)) => {
                tracing::error!(error = %e, offset = m.offset, "cannot keep a dead letter in the store; it stays unacknowledged");
                d.ack.nack(&format!("keeping the dead letter: {e}"));
            }
            Err(e) => d.ack.nack(&format!("dead-letter task: {e}")),
        }
    }
    consumer.close(Duration::from_secs(10)).await?;
    Ok(kept)
}
