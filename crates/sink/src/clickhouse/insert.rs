//! One table's insert: a RowBinary request per batch, retried while transient,
//! bisected when ClickHouse refuses the data so that only the bad rows are set aside.

use std::sync::atomic::AtomicU64;
use std::time::Duration;

use clickhouse::{Client, RowWrite};
use sha2::{Digest, Sha256};

use super::error::{classify, exception_code};
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

/// Inserts `rows` into `table`. Transient failures are retried (see
/// [`RetryPolicy`]); on a data error the range is halved until each refused row
/// stands alone, and every other row is inserted. Returns the refused rows.
/// An unclassified error is retried `max_unknown_attempts` times and then
/// handled like a data error; after that, the halves get one attempt each
/// (retrying each of them would multiply the wait by the batch size).
/// `keys[i]` names row `i`'s content (see [`dedup_token`]), so a retried or
/// re-batched range of the same rows is recognised as the same insert.
pub(crate) async fn insert_bisect<T: RowWrite>(
    ctx: &InsertCtx<'_>,
    table: &str,
    rows: &[T::Value<'_>],
    keys: &[String],
) -> Result<Vec<Refused>, SinkError> {
    let mut refused = Vec::new();
    let mut ranges = vec![(0, rows.len())];
    let mut gave_up = false;
    while let Some((lo, hi)) = ranges.pop() {
        if lo == hi {
            continue;
        }
        let token = ctx.dedup_token.then(|| dedup_token(table, &keys[lo..hi]));
        let what = format!("insert into {table} ({} rows)", hi - lo);
        let limit = if gave_up {
            1
        } else {
            ctx.retry.max_unknown_attempts()
        };
        let result = ctx
            .retry
            .run_limited(&what, ctx.retries, limit, || {
                insert_once::<T>(ctx, table, &rows[lo..hi], token.as_deref())
            })
            .await;
        let result = match result {
            Err(SinkError::Unknown(error)) => {
                gave_up = true;
                Err(SinkError::Data(error))
            }
            other => other,
        };
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

/// The `insert_deduplication_token` of a row range: a hash of the table and
/// the sorted keys of its rows (post id and scoring version, plus the entity
/// for mentions), so the same rows give the same token whatever the order,
/// the batch or the offsets they arrived with, and any other set of rows a
/// different one. ClickHouse (22.2+) then drops a repeated insert of the same
/// rows; a redelivery batched differently is a different set and is inserted
/// again, which `ReplacingMergeTree(version)` collapses (queries use `FINAL`
/// or `argMax`), so raw tables never show it twice to a deduplicating reader.
pub fn dedup_token(table: &str, keys: &[String]) -> String {
    let mut sorted: Vec<&str> = keys.iter().map(String::as_str).collect();
    sorted.sort_unstable();
    let mut h = Sha256::new();
    h.update(table.as_bytes());
    h.update([0]);
    for k in sorted {
        h.update((k.len() as u64).to_le_bytes());
        h.update(k.as_bytes());
    }
    format!("earshot-{}", hex::encode(&h.finalize()[..16]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(k: &[&str]) -> Vec<String> {
        k.iter().map(|s| s.to_string()).collect()
    }

    /// Finding 6 of issue 12: the token was derived from the batch's offsets,
    /// so the same rows redelivered at other offsets or in another order were
    /// inserted again. Now it depends on the set of rows only.
    #[test]
    fn issue_12_dedup_token_depends_on_the_rows_not_their_batch() {
        let a = keys(&["hn:1|1000", "hn:2|1000", "hn:3|1000"]);
        let shuffled = keys(&["hn:3|1000", "hn:1|1000", "hn:2|1000"]);
        assert_eq!(
            dedup_token("interactions", &a),
            dedup_token("interactions", &shuffled)
        );
        // Another scoring of one post, another set, another table: another token.
        let rescored = keys(&["hn:1|1000", "hn:2|2000", "hn:3|1000"]);
        assert_ne!(
            dedup_token("interactions", &a),
            dedup_token("interactions", &rescored)
        );
        assert_ne!(
            dedup_token("interactions", &a),
            dedup_token("interactions", &a[..2])
        );
        assert_ne!(dedup_token("interactions", &a), dedup_token("mentions", &a));
        // Keys are length-prefixed: no two sets collide by concatenation.
        assert_ne!(
            dedup_token("t", &keys(&["ab", "c"])),
            dedup_token("t", &keys(&["a", "bc"]))
        );
    }
}
