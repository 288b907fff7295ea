//! The CRM-facing table of advocates and detractors (`crm_standings`, read
//! as `crm_standings_current` in either store): one row per period, brand,
//! standing and author, with the author's latest posts and the CRM accounts
//! the export links to the handle. A refresh replaces a period's rows: in
//! one transaction on the embedded store; on ClickHouse under a new
//! `refresh` number that the view selects at once, the older refreshes then
//! deleted by a mutation.
//!
//! Every value reaches SQL as a bound parameter.

use chrono::{DateTime, Utc};
use rusqlite::params;

use crate::authors::{AuthorStore, AuthorsError, Side, Standing};
use crate::queryable::Queryable;
use crate::report::from_secs;

/// One row of the CRM-facing table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrmStanding {
    /// The refresh's period name (`7d`, `30d`): its window ends at the refresh.
    pub period: String,
    /// The window's start (inclusive).
    pub window_start: DateTime<Utc>,
    /// The window's end (exclusive).
    pub window_end: DateTime<Utc>,
    /// Advocate or detractor.
    pub side: Side,
    /// The brand, the author, their posts and reach.
    pub author: Standing,
    /// CRM accounts the export (or a link file) ties the handle to.
    pub customer_ids: Vec<String>,
    /// Those accounts' owners (distinct, in the same order).
    pub account_owners: Vec<String>,
}

impl Side {
    /// The `standing` column's value: `advocate` or `detractor`.
    pub fn standing(self) -> &'static str {
        match self {
            Side::Advocates => "advocate",
            Side::Detractors => "detractor",
        }
    }

    fn from_standing(s: &str) -> Side {
        if s == "advocate" {
            Side::Advocates
        } else {
            Side::Detractors
        }
    }
}

/// The row as ClickHouse stores it; `standing = ''` marks a refresh that
/// found nobody, so the view moves past the period's older rows at once.
#[derive(clickhouse::Row, serde::Serialize, serde::Deserialize)]
struct ChRow {
    period: String,
    window_start: u32,
    window_end: u32,
    brand: String,
    standing: String,
    source: String,
    author_handle: String,
    posts: u64,
    reach: u64,
    latest_post: String,
    post_ids: Vec<String>,
    customer_ids: Vec<String>,
    account_owners: Vec<String>,
    refreshed_at: u32,
    refresh: u64,
}

const COLUMNS: &str = "period, window_start, window_end, brand, standing, source, author_handle, \
     posts, reach, latest_post, post_ids, customer_ids, account_owners, refreshed_at, refresh";

fn secs(t: DateTime<Utc>) -> u32 {
    t.timestamp().clamp(0, u32::MAX as i64) as u32
}

impl ChRow {
    fn into_standing(self) -> CrmStanding {
        CrmStanding {
            period: self.period,
            window_start: from_secs(self.window_start.into()),
            window_end: from_secs(self.window_end.into()),
            side: Side::from_standing(&self.standing),
            author: Standing {
                brand: self.brand,
                source: self.source,
                handle: self.author_handle,
                posts: self.posts,
                reach: self.reach,
                latest_post: self.latest_post,
                post_ids: self.post_ids,
            },
            customer_ids: self.customer_ids,
            account_owners: self.account_owners,
        }
    }
}

impl AuthorStore {
    /// Replaces `period`'s rows of the CRM-facing table with `rows` (all of
    /// that period, both sides), as of `now`; returns the refresh number.
    pub async fn write_crm_standings(
        &self,
        period: &str,
        window: (DateTime<Utc>, DateTime<Utc>),
        rows: &[CrmStanding],
        now: DateTime<Utc>,
    ) -> Result<u64, AuthorsError> {
        // Increasing across refreshes, so the latest wins.
        let refresh = now.timestamp_nanos_opt().unwrap_or(0).max(0) as u64;
        let ch_rows: Vec<ChRow> = rows
            .iter()
            .map(|r| ChRow {
                period: period.to_string(),
                window_start: secs(window.0),
                window_end: secs(window.1),
                brand: r.author.brand.clone(),
                standing: r.side.standing().to_string(),
                source: r.author.source.clone(),
                author_handle: r.author.handle.clone(),
                posts: r.author.posts,
                reach: r.author.reach,
                latest_post: r.author.latest_post.clone(),
                post_ids: r.author.post_ids.clone(),
                customer_ids: r.customer_ids.clone(),
                account_owners: r.account_owners.clone(),
                refreshed_at: secs(now),
                refresh,
            })
            .collect();
        match &self.inner {
            Queryable::Sqlite(store) => {
                let (store, period) = (store.clone(), period.to_string());
                tokio::task::spawn_blocking(move || {
                    store.with_connection_mut(|c| {
                        let tx = c.transaction()?;
                        tx.execute("DELETE FROM crm_standings WHERE period = ?1", [&period])?;
                        {
                            let mut insert = tx.prepare(&format!(
                                "INSERT INTO crm_standings ({COLUMNS}) VALUES \
                                 (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"
                            ))?;
                            let json = |v: &Vec<String>| {
                                serde_json::to_string(v).expect("strings serialize")
                            };
                            for r in &ch_rows {
                                insert.execute(params![
                                    r.period,
                                    r.window_start,
                                    r.window_end,
                                    r.brand,
                                    r.standing,
                                    r.source,
                                    r.author_handle,
                                    r.posts.min(i64::MAX as u64) as i64,
                                    r.reach.min(i64::MAX as u64) as i64,
                                    r.latest_post,
                                    json(&r.post_ids),
                                    json(&r.customer_ids),
                                    json(&r.account_owners),
                                    r.refreshed_at,
                                    r.refresh as i64,
                                ])?;
                            }
                        }
                        tx.commit()
                    })
                })
                .await??;
            }
            Queryable::ClickHouse(ch) => {
                let client = &ch.0;
                let mut insert = client.insert::<ChRow>("crm_standings").await?;
                insert
                    .write(&ChRow {
                        period: period.to_string(),
                        window_start: secs(window.0),
                        window_end: secs(window.1),
                        brand: String::new(),
                        standing: String::new(),
                        source: String::new(),
                        author_handle: String::new(),
                        posts: 0,
                        reach: 0,
                        latest_post: String::new(),
                        post_ids: Vec::new(),
                        customer_ids: Vec::new(),
                        account_owners: Vec::new(),
                        refreshed_at: secs(now),
                        refresh,
                    })
                    .await?;
                for r in &ch_rows {
                    insert.write(r).await?;
                }
                insert.end().await?;
                client
                    .query("ALTER TABLE crm_standings DELETE WHERE period = ? AND refresh < ?")
                    .bind(period)
                    .bind(refresh)
                    .execute()
                    .await?;
            }
        }
        Ok(refresh)
    }

    /// The CRM-facing table as the CRM reads it (`crm_standings_current`):
    /// by period, brand, standing, then most posts and reach first.
    pub async fn crm_standings(&self) -> Result<Vec<CrmStanding>, AuthorsError> {
        const ORDER: &str =
            "ORDER BY period, brand, standing, posts DESC, reach DESC, source, author_handle";
        match &self.inner {
            Queryable::Sqlite(store) => {
                let store = store.clone();
                tokio::task::spawn_blocking(move || {
                    store.with_connection(|c| {
                        let mut stmt = c.prepare(&format!(
                            "SELECT {COLUMNS} FROM crm_standings_current {ORDER}"
                        ))?;
                        let rows = stmt.query_map([], |r| {
                            let list = |i: usize| -> rusqlite::Result<Vec<String>> {
                                Ok(serde_json::from_str(&r.get::<_, String>(i)?)
                                    .unwrap_or_default())
                            };
                            let n = |i: usize| -> rusqlite::Result<u64> {
                                Ok(r.get::<_, i64>(i)?.max(0) as u64)
                            };
                            Ok(ChRow {
                                period: r.get(0)?,
                                window_start: r.get(1)?,
                                window_end: r.get(2)?,
                                brand: r.get(3)?,
                                standing: r.get(4)?,
                                source: r.get(5)?,
                                author_handle: r.get(6)?,
                                posts: n(7)?,
                                reach: n(8)?,
                                latest_post: r.get(9)?,
                                post_ids: list(10)?,
                                customer_ids: list(11)?,
                                account_owners: list(12)?,
                                refreshed_at: r.get(13)?,
                                refresh: n(14)?,
                            }
                            .into_standing())
                        })?;
                        rows.collect::<rusqlite::Result<Vec<_>>>()
                    })
                })
                .await?
                .map_err(AuthorsError::from)
            }
            Queryable::ClickHouse(ch) => {
                let rows: Vec<ChRow> =
                    ch.0.query(&format!(
                        "SELECT {COLUMNS} FROM crm_standings_current WHERE standing != '' {ORDER}"
                    ))
                    .fetch_all()
                    .await?;
                Ok(rows.into_iter().map(ChRow::into_standing).collect())
            }
        }
    }
}
