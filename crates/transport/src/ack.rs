use std::sync::Arc;

use tokio::sync::OwnedSemaphorePermit;

use crate::memory::Downstream;
use crate::watermark::PartitionWatermark;

/// Acknowledgement handle travelling with a consumed message.
///
/// Call [`ack`](AckToken::ack) once the next stage durably has the data.
/// [`nack`](AckToken::nack), or dropping the token, marks the message failed:
/// its partition's committed offset stays below it, so it is delivered again
/// after a restart. The token also holds one slot of the consumer's in-flight
/// budget, which is how a slow stage pauses consumption (backpressure).
#[derive(Debug)]
pub struct AckToken {
    watermark: Arc<PartitionWatermark>,
    offset: i64,
    _permit: Option<OwnedSemaphorePermit>,
    settled: bool,
    /// In the end-to-end memory bus: the producer waiting for this record to
    /// be acknowledged downstream, told how this token settles.
    downstream: Option<Downstream>,
}

impl AckToken {
    /// Used by bus implementations: `offset` must already be tracked by `watermark`.
    pub(crate) fn new(
        watermark: Arc<PartitionWatermark>,
        offset: i64,
        permit: Option<OwnedSemaphorePermit>,
    ) -> AckToken {
        AckToken {
            watermark,
            offset,
            _permit: permit,
            settled: false,
            downstream: None,
        }
    }

    /// Tells `downstream` how this token settles (end-to-end memory bus).
    pub(crate) fn with_downstream(mut self, downstream: Option<Downstream>) -> AckToken {
        self.downstream = downstream;
        self
    }

    /// A token bound to nothing, for records that did not come from a consumer
    /// (tests, one-shot commands).
    pub fn detached() -> AckToken {
        let watermark = Arc::new(PartitionWatermark::new());
        watermark.track(0);
        AckToken::new(watermark, 0, None)
    }

    /// The next stage durably has the data: the offset may be committed.
    pub fn ack(mut self) {
        self.settled = true;
        self.watermark.ack(self.offset);
        if let Some(d) = self.downstream.take() {
            d.settle(Ok(()));
        }
    }

    /// The message could not be handed on: hold the watermark below it.
    pub fn nack(mut self, reason: &str) {
        self.settled = true;
        tracing::warn!(
            offset = self.offset,
            reason,
            "message not acknowledged; its partition's offset is held"
        );
        self.watermark.fail_because(self.offset, reason);
        if let Some(d) = self.downstream.take() {
            d.settle(Err(reason.to_string()));
        }
    }

    /// Whether this token settles into `watermark` (bus implementations use it
    /// to recognise tokens of a partition assignment that has since ended).
    pub(crate) fn belongs_to(&self, watermark: &Arc<PartitionWatermark>) -> bool {
        Arc::ptr_eq(&self.watermark, watermark)
    }

    /// Offset of the message this token acknowledges.
    pub fn offset(&self) -> i64 {
        self.offset
    }
}

impl Drop for AckToken {
    fn drop(&mut self) {
        if !self.settled {
            self.watermark.fail(self.offset);
            if let Some(d) = self.downstream.take() {
                d.settle(Err("dropped without acknowledgement".into()));
            }
        }
    }
}
