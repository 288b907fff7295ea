//! The dashboards on the embedded store: the logic of
//! `deploy/clickhouse/queries/*.sql` in SQLite's dialect, with bound parameters.
//! The embedded store upserts by post id, so its tables are already deduplicated.
//! A post repeating a near-duplicate cluster (`cluster_id` set, issue 16)
//! is left out: its cluster counts once, through its first post.

use rusqlite::{params, Connection};

use super::SqliteStore;
use crate::report::{
    entity_kind, from_secs, spike, Count, NetSentiment, PostSummary, Report, ReportParams,
    ShareOfVoice,
};

impl SqliteStore {
    /// Runs every dashboard query.
    pub fn report(&self, p: &ReportParams) -> Result<Report, rusqlite::Error> {
        let conn = self.conn.lock().expect("sqlite lock");
        let (since, until, brand) = (p.since_s() as i64, p.until_s() as i64, p.brand_or_empty());
        let mut sov = vec![("window".to_string(), share_of_voice(&conn, since, until)?)];
        let week = until - 7 * 86_400;
        if week != since {
            sov.push(("7d".to_string(), share_of_voice(&conn, week.max(0), until)?));
        }
        Ok(Report {
            params: p.clone(),
            share_of_voice: sov,
            net_sentiment: net_sentiment(&conn, since, until, brand)?,
            top_negative: posts(&conn, TOP_NEGATIVE, false, since, until, brand)?,
            intents: counts(&conn, INTENTS, since, until, brand)?,
            sources: counts(&conn, SOURCES, since, until, brand)?,
            work_queue: posts(&conn, WORK_QUEUE, true, since, until, brand)?,
            spikes: spikes(&conn, until, brand, p.spike_k)?,
        })
    }
}

fn share_of_voice(
    conn: &Connection,
    since: i64,
    until: i64,
) -> rusqlite::Result<Vec<ShareOfVoice>> {
    let mut stmt = conn.prepare_cached(
        "SELECT entity_id, entity_kind, COUNT(*) AS n FROM mentions
         WHERE event_time >= ?1 AND event_time < ?2 AND entity_kind IN ('brand', 'competitor') AND cluster_id = ''
         GROUP BY entity_id, entity_kind ORDER BY n DESC, entity_id",
    )?;
    let rows: Vec<(String, String, i64)> = stmt
        .query_map(params![since, until], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?
        .collect::<Result<_, _>>()?;
    let total: i64 = rows.iter().map(|r| r.2).sum();
    Ok(rows
        .into_iter()
        .map(|(entity_id, kind, n)| ShareOfVoice {
            entity_id,
            kind: entity_kind(&kind),
            mentions: n as u64,
            share: n as f64 / total as f64,
        })
        .collect())
}

fn net_sentiment(
    conn: &Connection,
    since: i64,
    until: i64,
    brand: &str,
) -> rusqlite::Result<Vec<NetSentiment>> {
    let mut stmt = conn.prepare_cached(
        "SELECT entity_id, (event_time / 3600) * 3600 AS hour,
                SUM(sentiment_label = 'positive'), SUM(sentiment_label = 'neutral'), SUM(sentiment_label = 'negative')
         FROM mentions
         WHERE event_time >= ?1 AND event_time < ?2 AND entity_kind IN ('brand', 'competitor') AND cluster_id = ''
           AND (?3 = '' OR entity_id = ?3)
         GROUP BY entity_id, hour ORDER BY entity_id, hour",
    )?;
    let rows = stmt.query_map(params![since, until, brand], |r| {
        let (positive, neutral, negative): (i64, i64, i64) = (r.get(2)?, r.get(3)?, r.get(4)?);
        Ok(NetSentiment {
            entity_id: r.get(0)?,
            hour: from_secs(r.get(1)?),
            positive: positive as u64,
            neutral: neutral as u64,
            negative: negative as u64,
            net: (positive + negative > 0)
                .then(|| (positive - negative) as f64 / (positive + negative) as f64),
        })
    })?;
    rows.collect()
}

pub(crate) const POST_COLUMNS: &str =
    "post_id, source, author_handle, author_reach, priority, route, sentiment_compound,
    intents, brands, competitors, customers, url, substr(text, 1, 280), event_time";

const TOP_NEGATIVE: &str = "FROM interactions i
    WHERE event_time >= ?1 AND event_time < ?2 AND sentiment_label = 'negative' AND cluster_id = ''
      AND (i.brands != '[]' OR i.competitors != '[]' OR i.customers != '[]')
      AND (?3 = '' OR EXISTS (SELECT 1 FROM json_each(i.brands) WHERE value = ?3)
                   OR EXISTS (SELECT 1 FROM json_each(i.competitors) WHERE value = ?3))
      AND post_id NOT IN (SELECT post_id FROM responses)
    ORDER BY author_reach DESC, priority DESC, post_id
    LIMIT 50";

const WORK_QUEUE: &str = "FROM interactions i
    WHERE event_time >= ?1 AND event_time < ?2 AND route != 'none' AND cluster_id = ''
      AND (?3 = '' OR EXISTS (SELECT 1 FROM json_each(i.brands) WHERE value = ?3)
                   OR EXISTS (SELECT 1 FROM json_each(i.competitors) WHERE value = ?3)
                   OR EXISTS (SELECT 1 FROM json_each(i.customers) WHERE value = ?3))
      AND post_id NOT IN (SELECT post_id FROM responses)
    ORDER BY priority DESC, author_reach DESC, event_time DESC, post_id
    LIMIT 50";

/// `with_customers`: list customers among the entities, as ClickHouse's work_queue.sql does.
fn posts(
    conn: &Connection,
    tail: &str,
    with_customers: bool,
    since: i64,
    until: i64,
    brand: &str,
) -> rusqlite::Result<Vec<PostSummary>> {
    let mut stmt = conn.prepare_cached(&format!("SELECT {POST_COLUMNS} {tail}"))?;
    let rows = stmt.query_map(params![since, until, brand], |r| {
        post_row(r, with_customers)
    })?;
    rows.collect()
}

/// A row of [`POST_COLUMNS`] as a [`PostSummary`].
pub(crate) fn post_row(
    r: &rusqlite::Row<'_>,
    with_customers: bool,
) -> rusqlite::Result<PostSummary> {
    let list = |idx: usize| -> rusqlite::Result<Vec<String>> {
        let text: String = r.get(idx)?;
        Ok(serde_json::from_str(&text).unwrap_or_default())
    };
    let mut entities = list(8)?;
    entities.extend(list(9)?);
    if with_customers {
        entities.extend(list(10)?);
    }
    Ok(PostSummary {
        post_id: r.get(0)?,
        source: r.get(1)?,
        author: r.get(2)?,
        reach: r.get::<_, i64>(3)? as u64,
        priority: r.get(4)?,
        route: r.get(5)?,
        compound: r.get::<_, f64>(6)? as f32,
        intents: list(7)?,
        entities,
        url: r.get(11)?,
        text: r.get(12)?,
        event_time: from_secs(r.get(13)?),
    })
}

const INTENTS: &str = "SELECT j.value AS intent, COUNT(DISTINCT i.post_id) AS posts
    FROM interactions i, json_each(i.intents) j
    WHERE i.event_time >= ?1 AND i.event_time < ?2 AND i.cluster_id = ''
      AND (i.brands != '[]' OR i.competitors != '[]' OR i.customers != '[]')
      AND (?3 = '' OR EXISTS (SELECT 1 FROM json_each(i.brands) WHERE value = ?3)
                   OR EXISTS (SELECT 1 FROM json_each(i.competitors) WHERE value = ?3))
    GROUP BY intent ORDER BY posts DESC, intent";

const SOURCES: &str = "SELECT i.source, COUNT(DISTINCT i.post_id) AS posts
    FROM interactions i
    WHERE i.event_time >= ?1 AND i.event_time < ?2 AND i.cluster_id = ''
      AND (i.brands != '[]' OR i.competitors != '[]' OR i.customers != '[]')
      AND (?3 = '' OR EXISTS (SELECT 1 FROM json_each(i.brands) WHERE value = ?3)
                   OR EXISTS (SELECT 1 FROM json_each(i.competitors) WHERE value = ?3))
    GROUP BY i.source ORDER BY posts DESC, i.source";

fn counts(
    conn: &Connection,
    sql: &str,
    since: i64,
    until: i64,
    brand: &str,
) -> rusqlite::Result<Vec<Count>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map(params![since, until, brand], |r| {
        Ok(Count {
            key: r.get(0)?,
            posts: r.get::<_, i64>(1)? as u64,
        })
    })?;
    rows.collect()
}

fn spikes(
    conn: &Connection,
    until: i64,
    brand: &str,
    k: f64,
) -> rusqlite::Result<Vec<crate::Spike>> {
    let start = until - 13 * 3600;
    let mut stmt = conn.prepare_cached(
        "SELECT entity_id, (event_time - ?1) / 3600 AS h, COUNT(*) FROM mentions
         WHERE event_time >= ?1 AND event_time < ?2 AND entity_kind IN ('brand', 'competitor') AND cluster_id = ''
           AND (?3 = '' OR entity_id = ?3)
         GROUP BY entity_id, h ORDER BY entity_id",
    )?;
    let rows: Vec<(String, i64, i64)> = stmt
        .query_map(params![start, until, brand], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?
        .collect::<Result<_, _>>()?;
    let mut out: Vec<crate::Spike> = Vec::new();
    let mut i = 0;
    while i < rows.len() {
        let entity = rows[i].0.clone();
        let (mut last, mut sum, mut sum_sq) = (0u64, 0f64, 0f64);
        while i < rows.len() && rows[i].0 == entity {
            let (h, n) = (rows[i].1, rows[i].2);
            if h == 12 {
                last = n as u64;
            } else {
                sum += n as f64;
                sum_sq += (n * n) as f64;
            }
            i += 1;
        }
        out.push(spike(entity, last, sum, sum_sq, k));
    }
    out.sort_by(|a, b| {
        b.spike
            .cmp(&a.spike)
            .then(b.last_hour.cmp(&a.last_hour))
            .then(a.entity_id.cmp(&b.entity_id))
    });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SQLite's plan for `sql` with the report's parameters, one line a step.
    pub(crate) fn plan(conn: &Connection, sql: &str) -> String {
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let rows = stmt
            .query_map(params![0, 1, ""], |r| r.get::<_, String>(3))
            .unwrap();
        rows.map(Result::unwrap).collect::<Vec<_>>().join("\n")
    }

    /// A migrated store in `dir`.
    pub(crate) fn migrated(dir: &std::path::Path) -> SqliteStore {
        let store = SqliteStore::open(&dir.join("plan.db")).unwrap();
        store.migrate().unwrap();
        store
    }

    /// The report's queries about named or routed posts read them through
    /// the partial indexes of migration 25, not every post of the window:
    /// an edit to their conditions that loses the index fails here.
    #[test]
    fn issue_11_report_queries_read_only_named_or_routed_posts() {
        let dir = tempfile::tempdir().unwrap();
        let store = migrated(dir.path());
        store
            .with_connection(|conn| {
                for (name, sql, index) in [
                    ("intents", INTENTS.to_string(), "interactions_named"),
                    ("sources", SOURCES.to_string(), "interactions_named"),
                    (
                        "top negative",
                        format!("SELECT {POST_COLUMNS} {TOP_NEGATIVE}"),
                        "interactions_named",
                    ),
                    (
                        "work queue",
                        format!("SELECT {POST_COLUMNS} {WORK_QUEUE}"),
                        "interactions_routed",
                    ),
                ] {
                    let plan = plan(conn, &sql);
                    assert!(
                        plan.contains(&format!("SEARCH i USING INDEX {index}")),
                        "{name}: {plan}"
                    );
                }
                Ok(())
            })
            .unwrap();
    }
}
