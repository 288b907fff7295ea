//! Batches of decoded interactions, and the limits that close them.

use std::sync::Arc;
use std::time::{Duration, Instant};

use earshot_model::Interaction;
use earshot_transport::AckToken;

/// Where a row was read from; also the raw input of its dead letter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    /// Topic.
    pub topic: Arc<str>,
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
}

/// One decoded record of a batch.
#[derive(Debug, Clone)]
pub struct BatchItem {
    /// The scored interaction.
    pub interaction: Interaction,
    /// Where it came from.
    pub position: Position,
    /// The record as consumed (kept for dead letters).
    pub raw: Vec<u8>,
}

/// Rows written together; a [`crate::Sink`] stores all of them or reports which it could not.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    /// The rows, in consumption order.
    pub items: Vec<BatchItem>,
    /// Sum of the raw record sizes.
    pub bytes: usize,
}

impl Batch {
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether it holds no row.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Adds a row.
    pub fn push(&mut self, item: BatchItem) {
        self.bytes += item.raw.len();
        self.items.push(item);
    }
}

/// A batch with the acknowledgement tokens of its rows, kept apart so sinks cannot ack.
pub(crate) struct PendingBatch {
    pub batch: Batch,
    /// `tokens[i]` acknowledges `batch.items[i]`.
    pub tokens: Vec<AckToken>,
}

/// Accumulates rows and says when the current batch must be written.
pub(crate) struct Batcher {
    max_rows: usize,
    max_bytes: usize,
    max_age: Duration,
    current: PendingBatch,
    opened: Option<Instant>,
}

impl Batcher {
    pub fn new(max_rows: usize, max_bytes: usize, max_age: Duration) -> Batcher {
        Batcher {
            max_rows,
            max_bytes,
            max_age,
            current: PendingBatch {
                batch: Batch::default(),
                tokens: Vec::new(),
            },
            opened: None,
        }
    }

    /// Adds a row; returns the batch when a size limit was reached.
    pub fn push(&mut self, item: BatchItem, token: AckToken) -> Option<PendingBatch> {
        self.opened.get_or_insert_with(Instant::now);
        self.current.batch.push(item);
        self.current.tokens.push(token);
        if self.current.batch.len() >= self.max_rows || self.current.batch.bytes >= self.max_bytes {
            return self.take();
        }
        None
    }

    /// When the open batch must be written by age, if one is open.
    pub fn deadline(&self) -> Option<Instant> {
        self.opened.map(|t| t + self.max_age)
    }

    /// The open batch, if it has rows.
    pub fn take(&mut self) -> Option<PendingBatch> {
        self.opened = None;
        if self.current.batch.is_empty() {
            return None;
        }
        let capacity = self.current.batch.len();
        Some(std::mem::replace(
            &mut self.current,
            PendingBatch {
                batch: Batch {
                    items: Vec::with_capacity(capacity),
                    bytes: 0,
                },
                tokens: Vec::with_capacity(capacity),
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use earshot_model::Post;

    fn item(n: usize, size: usize) -> BatchItem {
        BatchItem {
            interaction: Interaction::neutral(Post::new(format!("t:{n}"), "x"), "v"),
            position: Position {
                topic: "t".into(),
                partition: 0,
                offset: n as i64,
            },
            raw: vec![b'x'; size],
        }
    }

    #[test]
    fn closes_on_rows_then_bytes() {
        let mut b = Batcher::new(3, 100, Duration::from_secs(1));
        assert!(b.push(item(0, 1), AckToken::detached()).is_none());
        assert!(b.deadline().is_some());
        assert!(b.push(item(1, 1), AckToken::detached()).is_none());
        let full = b
            .push(item(2, 1), AckToken::detached())
            .expect("3 rows close the batch");
        assert_eq!(full.batch.len(), 3);
        assert_eq!(full.tokens.len(), 3);
        assert!(b.deadline().is_none());
        let full = b
            .push(item(3, 150), AckToken::detached())
            .expect("150 bytes close it");
        assert_eq!(full.batch.bytes, 150);
        assert!(b.take().is_none());
        for t in full.tokens {
            t.ack();
        }
    }
}
