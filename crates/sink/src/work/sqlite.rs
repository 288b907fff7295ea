//! The work queue and the console's actions on the embedded store.

use super::*;
use crate::sqlite::report::{post_row, POST_COLUMNS};

/// Posts of the whole hours covering the window that `sql` counts in a
/// rollup (at least the window's own count: 0 means none in the window).
fn covering_count(
    conn: &rusqlite::Connection,
    f: &QueueFilter,
    sql: &str,
    key: &str,
) -> rusqlite::Result<i64> {
    let since = f.since.timestamp().div_euclid(3600) * 3600;
    let until = (f.until.timestamp() + 3599).div_euclid(3600) * 3600;
    conn.prepare_cached(sql)?
        .query_row(params![since, until, key], |r| r.get(0))
}

/// A brand named by fewer routed posts than this in the window is looked
/// up through `mentions_routed` rather than found by reading the queue in
/// priority order.
const RARE: i64 = 20_000;

pub(super) fn queue(
    conn: &rusqlite::Connection,
    f: &QueueFilter,
) -> rusqlite::Result<Vec<QueueItem>> {
    // Reading the queue in priority order stops at the page, unless the
    // filters match little or nothing: the hourly rollups say so first.
    let mut rare_brand = false;
    if !f.brand.is_empty() {
        // Routed mentions of the brand in the window, counted up to RARE
        // on the partial index `mentions_routed`.
        let n: i64 = conn
            .prepare_cached(
                "SELECT COUNT(*) FROM (SELECT 1 FROM mentions
                 WHERE entity_id = ?3 AND route != 'none' AND event_time >= ?1 AND event_time < ?2
                 LIMIT ?4)",
            )?
            .query_row(
                params![f.since.timestamp(), f.until.timestamp(), f.brand, RARE],
                |r| r.get(0),
            )?;
        if n == 0 {
            return Ok(Vec::new());
        }
        rare_brand = n < RARE;
    }
    if !f.intent.is_empty() {
        let n = covering_count(
            conn,
            f,
            "SELECT COALESCE(SUM(posts), 0) FROM post_hours
             WHERE hour >= ?1 AND hour < ?2 AND entity_id = '' AND intent = ?3",
            &f.intent,
        )?;
        if n == 0 {
            return Ok(Vec::new());
        }
    }
    let (time, brand) = if rare_brand {
        (
            "event_time >= ?1 AND event_time < ?2",
            "post_id IN (SELECT post_id FROM mentions WHERE entity_id = ?3
                         AND route != 'none' AND event_time >= ?1 AND event_time < ?2)",
        )
    } else {
        // `+event_time`: read `interactions_queue` in priority order and
        // stop at the limit, rather than sort the whole window.
        (
            "+event_time >= ?1 AND +event_time < ?2",
            "(?3 = '' OR EXISTS (SELECT 1 FROM json_each(i.brands) WHERE value = ?3)
                      OR EXISTS (SELECT 1 FROM json_each(i.competitors) WHERE value = ?3)
                      OR EXISTS (SELECT 1 FROM json_each(i.customers) WHERE value = ?3))",
        )
    };
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {POST_COLUMNS}, priority_reasons FROM interactions i
         WHERE {time} AND route != 'none' AND {brand}
           AND (?4 = '' OR route = ?4)
           AND (?5 = '' OR EXISTS (SELECT 1 FROM json_each(i.intents) WHERE value = ?5))
           AND (?6 = '' OR EXISTS (SELECT 1 FROM json_each(i.priority_reasons)
                                   WHERE instr(value, 'tier=' || ?6) > 0))
           AND cluster_id = ''
           AND post_id NOT IN (SELECT post_id FROM responses)
         ORDER BY priority DESC, author_reach DESC, event_time DESC, post_id
         LIMIT ?7"
    ))?;
    let rows = stmt.query_map(
        params![
            f.since.timestamp(),
            f.until.timestamp(),
            f.brand,
            f.route,
            f.intent,
            f.tier,
            f.limit
        ],
        |r| {
            let reasons: String = r.get(14)?;
            Ok(QueueItem {
                post: post_row(r, true)?,
                reasons: serde_json::from_str(&reasons).unwrap_or_default(),
                assignee: None,
                wrong_matches: Vec::new(),
                copies: 0,
            })
        },
    )?;
    let mut items: Vec<QueueItem> = rows.collect::<Result<_, _>>()?;
    let mut assignee =
        conn.prepare_cached("SELECT assignee FROM assignments WHERE post_id = ?1")?;
    let mut wrong = conn.prepare_cached(
        "SELECT entity_id, analyst FROM match_feedback WHERE post_id = ?1 ORDER BY entity_id, analyst",
    )?;
    // A cluster's later posts are hidden behind its first (issue 16).
    let mut copies =
        conn.prepare_cached("SELECT COUNT(*) FROM interactions WHERE cluster_id = ?1")?;
    for item in &mut items {
        item.copies = copies.query_row([&item.post.post_id], |r| r.get::<_, i64>(0))? as u64;
        item.assignee = assignee
            .query_row([&item.post.post_id], |r| r.get(0))
            .optional()?;
        item.wrong_matches = wrong
            .query_map([&item.post.post_id], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
    }
    Ok(items)
}

fn known(conn: &rusqlite::Connection, id: &str) -> Result<(), WorkError> {
    let found: Option<i64> = conn
        .query_row("SELECT 1 FROM interactions WHERE post_id = ?1", [id], |r| {
            r.get(0)
        })
        .optional()?;
    found
        .map(|_| ())
        .ok_or_else(|| WorkError::UnknownPost(id.to_string()))
}

pub(super) fn assign(
    conn: &mut rusqlite::Connection,
    id: &str,
    who: &str,
    by: &str,
    at: u32,
) -> Result<(), WorkError> {
    let tx = conn.transaction()?;
    known(&tx, id)?;
    tx.execute(
        "INSERT INTO assignments (post_id, assignee, assigned_by, assigned_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (post_id) DO UPDATE SET assignee = excluded.assignee,
             assigned_by = excluded.assigned_by, assigned_at = excluded.assigned_at",
        params![id, who, by, at],
    )?;
    tx.commit()?;
    Ok(())
}

pub(super) fn mark_wrong(
    conn: &mut rusqlite::Connection,
    id: &str,
    entity: &str,
    analyst: &str,
    note: &str,
    at: u32,
) -> Result<(), WorkError> {
    let tx = conn.transaction()?;
    known(&tx, id)?;
    let matched: Option<i64> = tx
        .query_row(
            "SELECT 1 FROM interactions i WHERE post_id = ?1
             AND (EXISTS (SELECT 1 FROM json_each(i.brands) WHERE value = ?2)
               OR EXISTS (SELECT 1 FROM json_each(i.competitors) WHERE value = ?2)
               OR EXISTS (SELECT 1 FROM json_each(i.customers) WHERE value = ?2))",
            params![id, entity],
            |r| r.get(0),
        )
        .optional()?;
    if matched.is_none() {
        return Err(WorkError::NotMatched(id.to_string(), entity.to_string()));
    }
    tx.execute(
        "INSERT INTO match_feedback (post_id, entity_id, verdict, analyst, note, at)
         VALUES (?1, ?2, 'wrong', ?3, ?4, ?5)
         ON CONFLICT (post_id, entity_id, analyst) DO NOTHING",
        params![id, entity, analyst, note, at],
    )?;
    tx.commit()?;
    Ok(())
}
