//! Delivering a result and acknowledging its raw post only once it is durable.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use earshot_transport::post_metrics::{self, source_of_key};
use earshot_transport::{
    dead_letter_record, shrink_refused, Attached, Delivery, DeliveryFuture, Record,
};

use crate::config::STAGE;
use crate::stage::Ctx;

/// Awaits a record's delivery and acknowledges the raw delivery only once it
/// succeeded. Transient failures are re-sent with backoff (until shutdown);
/// a permanent refusal (too large, invalid, not authorized) of a scored
/// record dead-letters the raw post with the reason instead, and a dead
/// letter refused whole is sent again with its payload cut to a prefix, so
/// the partition moves on. Only when even that is refused is the delivery
/// left unacknowledged: its partition is then held, and the consumer says so
/// periodically (log and metric).
pub(crate) async fn deliver(
    ctx: Arc<Ctx>,
    d: Delivery,
    record: Record,
    first: DeliveryFuture,
    poison: Option<&'static str>,
) {
    // `poison`: why the post is being dead-lettered (a fixed label value).
    let (mut record, mut poison) = (record, poison);
    let source = source_of_key(d.message.key.as_deref());
    let mut pending = first;
    let mut attempt = 0;
    loop {
        let result = tokio::select! {
            r = &mut pending => r,
            _ = ctx.abandon.cancelled() => break,
        };
        match result {
            Ok(()) => {
                d.ack.ack();
                let counter = match poison {
                    Some(reason) => {
                        ctx.posts_dead.count(source);
                        post_metrics::dead_letter(STAGE, reason);
                        &ctx.counters.dead_lettered
                    }
                    None => {
                        ctx.posts_out.count(source);
                        &ctx.counters.scored
                    }
                };
                counter.fetch_add(1, Ordering::Relaxed);
                return;
            }
            Err(e) if e.is_permanent() && poison.is_none() => {
                let m = &d.message;
                let reason = format!("scored record refused: {e}");
                tracing::warn!(topic = %m.topic, partition = m.partition, offset = m.offset, key = ?m.key, %reason, "permanent produce error: raw post dead-lettered");
                record = dead_letter_record(m, STAGE, &reason);
                poison = Some("scored_refused");
                pending = ctx
                    .producer
                    .send_copy(ctx.topic(poison), &record, Attached::none());
            }
            Err(e) if e.is_permanent() && shrink_refused(&mut record) => {
                let m = &d.message;
                tracing::warn!(topic = %m.topic, partition = m.partition, offset = m.offset, key = ?m.key, error = %e, keep = record.payload.len(), "dead letter refused; sending it again with its payload cut");
                pending = ctx
                    .producer
                    .send_copy(ctx.topic(poison), &record, Attached::none());
            }
            Err(e) if e.is_permanent() => {
                let m = &d.message;
                tracing::error!(topic = %m.topic, partition = m.partition, offset = m.offset, key = ?m.key, error = %e, "the dead-letter topic refused the record permanently; its partition stays held");
                d.ack
                    .nack(&format!("the dead-letter topic refused it: {e}"));
                return;
            }
            Err(e) => {
                ctx.counters.retries.fetch_add(1, Ordering::Relaxed);
                metrics::counter!("earshot_retries_total", "stage" => STAGE).increment(1);
                attempt += 1;
                let backoff = ctx.backoff.delay(attempt);
                tracing::warn!(topic = ctx.topic(poison), key = %record.key, error = %e, retry_in = ?backoff, "delivery failed; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = ctx.abandon.cancelled() => break,
                }
                pending = ctx
                    .producer
                    .send_copy(ctx.topic(poison), &record, Attached::none());
            }
        }
    }
    ctx.counters.abandoned.fetch_add(1, Ordering::Relaxed);
    d.ack.nack("shutdown before its result was delivered");
}
