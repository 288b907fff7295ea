//! One table's insert: a RowBinary request per batch, retried while transient,
//! bisected when ClickHouse refuses the data so that only the bad rows are set aside.

use std::sync::atomic::AtomicU64;
use std::time::Duration;

use clickhouse::{Client, RowWrite};
use sha2::{Digest, Sha256};

use super::error::{classify, exception_code};
use crate::batch::Position;
use crate::retry::RetryPolicy;
use crate::SinkError;

/// What an insert needs besides the rows.
pub(crate) struct InsertCtx<'a> {
    pub client: &'a Client,
    pub retry: &'a RetryPolicy,
    pub retries: &'a AtomicU64,
    pub timeout: Duration,
    /// Send `insert_deduplication_token` (ClickHouse 22.2+).
    pub dedup_token: bool,
}

/// A row ClickHouse refused even on its own.
#[derive(Debug, Clone)]
pub(crate) struct Refused {
    /// Index of the row in the slice given to [`insert_bisect`].
    pub row: usize,
    /// ClickHouse's `Code: N`, or 0.
    pub code: i32,
    /// The server's message.
    pub error: String,
}

/// Inserts `rows` into `table`. Transient failures are retried (forever, see
/// [`RetryPolicy`]); on a data error the range is halved until each refused row
/// stands alone, and every other row is inserted. Returns the refused rows.
/// `owners[i]` is the position of the record row `i` came from; it makes the
/// deduplication token, so a retried range is recognised as the same insert.
pub(crate) async fn insert_bisect<T: RowWrite>(
    ctx: &InsertCtx<'_>,
    table: &str,
    rows: &[T::Value<'_>],
    owners: &[&Position],
) -> Result<Vec<Refused>, SinkError> {
    let mut refused = Vec::new();
    let mut ranges = vec![(0, rows.len())];
    while let Some((lo, hi)) = ranges.pop() {
        if lo == hi {
            continue;
        }
        let token = ctx.dedup_token.then(|| dedup_token(table, &owners[lo..hi]));
        let what = format!("insert into {table} ({} rows)", hi - lo);
        let result = ctx
            .retry
            .run(&what, ctx.retries, || {
                insert_once::<T>(ctx, table, &rows[lo..hi], token.as_deref())
            })
            .await;
        match result {
            Ok(()) => {}
            Err(SinkError::Data(error)) if hi - lo == 1 => {
                tracing::warn!(table, %error, "ClickHouse refused a row; it goes to the dead-letter table");
                refused.push(Refused {
                    row: lo,
                    code: exception_code(&error).unwrap_or(0),
                    error,
                });
            }
            Err(SinkError::Data(error)) => {
                tracing::info!(table, rows = hi - lo, %error, "ClickHouse refused a batch; bisecting to isolate the bad rows");
                let mid = lo + (hi - lo) / 2;
                // Pushed in reverse so the lower half is tried first (rows keep their order).
                ranges.push((mid, hi));
                ranges.push((lo, mid));
            }
            Err(e) => return Err(e),
        }
    }
    refused.sort_by_key(|r| r.row);
    Ok(refused)
}

async fn insert_once<T: RowWrite>(
    ctx: &InsertCtx<'_>,
    table: &str,
    rows: &[T::Value<'_>],
    token: Option<&str>,
) -> Result<(), SinkError> {
    let mut insert = ctx.client.insert::<T>(table).await.map_err(classify)?;
    insert = insert.with_timeouts(Some(ctx.timeout), Some(ctx.timeout));
    if let Some(token) = token {
        insert = insert.with_setting("insert_deduplication_token", token);
    }
    for row in rows {
        insert.write(row).await.map_err(classify)?;
    }
    insert.end().await.map_err(classify)
}

/// A token naming exactly which records a row range came from.
pub(crate) fn dedup_token(table: &str, owners: &[&Position]) -> String {
    let mut h = Sha256::new();
    h.update(table.as_bytes());
    for p in owners {
        h.update(p.topic.as_bytes());
        h.update([0]);
        h.update(p.partition.to_le_bytes());
        h.update(p.offset.to_le_bytes());
    }
    format!("earshot-{}", hex::encode(&h.finalize()[..16]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_depends_on_every_position() {
        let a = Position {
            topic: "t".into(),
            partition: 0,
            offset: 1,
        };
        let b = Position {
            topic: "t".into(),
            partition: 0,
            offset: 2,
        };
        let c = Position {
            topic: "t".into(),
            partition: 1,
            offset: 2,
        };
        assert_eq!(dedup_token("x", &[&a, &b]), dedup_token("x", &[&a, &b]));
        assert_ne!(dedup_token("x", &[&a, &b]), dedup_token("x", &[&a, &c]));
        assert_ne!(dedup_token("x", &[&a, &b]), dedup_token("y", &[&a, &b]));
        assert_ne!(dedup_token("x", &[&a]), dedup_token("x", &[&a, &b]));
    }
}
