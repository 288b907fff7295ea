//! When posts become visible in ClickHouse, seen from outside by polling.
//!
//! A row first returned by a query that started at `t` became visible after
//! the previous poll started and no later than `t`, so `t` is an upper bound
//! with a resolution of one poll interval plus the query's own time.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use clickhouse::Client;

/// Polls `SELECT uniqExact(post_id) FROM table` every `every` until it reaches
/// `n`; returns the start time of the poll that saw all `n`.
pub async fn all_visible(
    client: &Client,
    table: &str,
    n: u64,
    every: Duration,
    timeout: Duration,
) -> Instant {
    let sql = format!("SELECT toUInt64(uniqExact(post_id)) FROM {table}");
    let deadline = Instant::now() + timeout;
    let mut last = 0;
    loop {
        let at = Instant::now();
        last = client.query(&sql).fetch_one::<u64>().await.unwrap_or(last);
        if last >= n {
            return at;
        }
        assert!(
            Instant::now() < deadline,
            "{table}: only {last} of {n} posts visible after {timeout:?}"
        );
        tokio::time::sleep(every.saturating_sub(at.elapsed())).await;
    }
}

/// Polls the post ids starting with `tag` every `every` until all of `ids`
/// were seen; returns, per id, the start time of the poll that first saw it.
pub async fn each_visible(
    client: &Client,
    table: &str,
    tag: &str,
    ids: &[String],
    every: Duration,
    timeout: Duration,
) -> Vec<Instant> {
    let index: HashMap<&str, usize> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    let mut seen: Vec<Option<Instant>> = vec![None; ids.len()];
    let mut missing = ids.len();
    let sql = format!("SELECT DISTINCT post_id FROM {table} WHERE like(post_id, ?)");
    let pattern = format!("{tag}%");
    let deadline = Instant::now() + timeout;
    while missing > 0 {
        let at = Instant::now();
        let got: Vec<String> = client
            .query(&sql)
            .bind(pattern.as_str())
            .fetch_all()
            .await
            .unwrap_or_default();
        for id in got {
            if let Some(&i) = index.get(id.as_str()) {
                if seen[i].is_none() {
                    seen[i] = Some(at);
                    missing -= 1;
                }
            }
        }
        assert!(
            Instant::now() < deadline,
            "{table}: {missing} of {} paced posts not visible after {timeout:?}",
            ids.len()
        );
        tokio::time::sleep(every.saturating_sub(at.elapsed())).await;
    }
    seen.into_iter().map(Option::unwrap).collect()
}
