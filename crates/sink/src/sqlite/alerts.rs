//! The alert queries and state on the embedded store. `mentions` holds one
//! row per post and entity (upserted by post id), so counts are distinct posts.

use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension};

use super::report::{post_row, POST_COLUMNS};
use super::SqliteStore;
use crate::alerts::{
    fold_buckets, secs, status_of, AlertKey, AlertRecord, AlertStoreError, Delivery, EntityFigures,
    PostFilter, Suppression, DAYS, HOURS,
};
use crate::report::{from_secs, PostSummary};

const BUCKETS: &str =
    "SELECT entity_id, (event_time - ?1) / ?3 AS b, COUNT(*), SUM(sentiment_label = 'negative')
    FROM mentions
    WHERE event_time >= ?1 AND event_time < ?2 AND entity_kind IN ('brand', 'competitor')
    GROUP BY entity_id, b";

const INTENT_BUCKETS: &str = "SELECT m.entity_id, (m.event_time - ?1) / 3600 AS b, COUNT(DISTINCT m.post_id)
    FROM mentions m JOIN interactions i ON i.post_id = m.post_id
    WHERE m.event_time >= ?1 AND m.event_time < ?2 AND m.entity_kind IN ('brand', 'competitor')
      AND EXISTS (SELECT 1 FROM json_each(i.intents) j WHERE j.value IN (SELECT value FROM json_each(?3)))
    GROUP BY m.entity_id, b";

const POSTS_TAIL: &str = "FROM interactions i
    WHERE i.post_id IN (SELECT post_id FROM mentions
                        WHERE entity_id = ?3 AND entity_kind IN ('brand', 'competitor')
                          AND event_time >= ?1 AND event_time < ?2
                          AND (?4 = 0 OR sentiment_label = 'negative'))
      AND (?5 = '[]' OR EXISTS (SELECT 1 FROM json_each(i.intents) j
                                WHERE j.value IN (SELECT value FROM json_each(?5))))
    ORDER BY author_reach DESC, priority DESC, post_id
    LIMIT ?6";

impl SqliteStore {
    pub(crate) fn alert_figures(
        &self,
        until: DateTime<Utc>,
        intents: &[String],
    ) -> Result<Vec<EntityFigures>, AlertStoreError> {
        let conn = self.conn.lock().expect("sqlite lock");
        let until = secs(until);
        let mut out: Vec<EntityFigures> = Vec::new();
        let series = [(HOURS as i64, 3600i64), (DAYS as i64, 86_400)];
        for (n, len) in series {
            let since = until - n * len;
            let mut stmt = conn.prepare_cached(BUCKETS)?;
            let rows: Vec<(String, i64, u64, u64)> = stmt
                .query_map(params![since, until, len], |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get::<_, i64>(2)? as u64,
                        r.get::<_, i64>(3)? as u64,
                    ))
                })?
                .collect::<Result<_, _>>()?;
            if len == 3600 {
                fold_buckets(&mut out, rows, |f| {
                    (&mut f.hourly, Some(&mut f.hourly_negative))
                });
            } else {
                fold_buckets(&mut out, rows, |f| (&mut f.daily, None));
            }
        }
        if !intents.is_empty() {
            let set = serde_json::to_string(intents).expect("strings serialize");
            let since = until - HOURS as i64 * 3600;
            let mut stmt = conn.prepare_cached(INTENT_BUCKETS)?;
            let rows: Vec<(String, i64, u64, u64)> = stmt
                .query_map(params![since, until, set], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)? as u64, 0))
                })?
                .collect::<Result<_, _>>()?;
            fold_buckets(&mut out, rows, |f| (&mut f.hourly_intent, None));
        }
        Ok(out)
    }

    pub(crate) fn alert_posts(
        &self,
        brand: &str,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        filter: &PostFilter,
        limit: u32,
    ) -> Result<Vec<PostSummary>, AlertStoreError> {
        let conn = self.conn.lock().expect("sqlite lock");
        let negative = matches!(filter, PostFilter::Negative) as i64;
        let intents = match filter {
            PostFilter::Intents(list) => serde_json::to_string(list).expect("strings serialize"),
            _ => "[]".to_string(),
        };
        let mut stmt = conn.prepare_cached(&format!("SELECT {POST_COLUMNS} {POSTS_TAIL}"))?;
        let rows = stmt.query_map(
            params![secs(since), secs(until), brand, negative, intents, limit],
            |r| post_row(r, false),
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub(crate) fn alert_suppression(
        &self,
        key: &AlertKey,
        cooldown_since: DateTime<Utc>,
    ) -> Result<Option<Suppression>, AlertStoreError> {
        let conn = self.conn.lock().expect("sqlite lock");
        let duplicate: Option<i64> = conn
            .query_row(
                "SELECT 1 FROM alerts WHERE brand = ?1 AND rule = ?2 AND window_start = ?3",
                params![key.brand, key.rule, secs(key.window_start)],
                |r| r.get(0),
            )
            .optional()?;
        if duplicate.is_some() {
            return Ok(Some(Suppression::Duplicate));
        }
        let last: Option<i64> = conn
            .query_row(
                "SELECT MAX(fired_at) FROM alerts
                 WHERE brand = ?1 AND rule = ?2 AND (fired_at > ?3 OR window_end > ?4)",
                params![
                    key.brand,
                    key.rule,
                    secs(cooldown_since),
                    secs(key.window_start)
                ],
                |r| r.get(0),
            )
            .optional()?
            .flatten();
        Ok(last.map(|t| Suppression::Cooldown {
            last_fired: from_secs(t),
        }))
    }

    pub(crate) fn record_alert(&self, a: &AlertRecord) -> Result<bool, AlertStoreError> {
        let conn = self.conn.lock().expect("sqlite lock");
        let n = conn.execute(
            "INSERT OR IGNORE INTO alerts
             (brand, rule, window_start, window_end, fired_at, observed, threshold, payload)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                a.key.brand,
                a.key.rule,
                secs(a.key.window_start),
                secs(a.window_end),
                secs(a.fired_at),
                a.observed,
                a.threshold,
                a.payload
            ],
        )?;
        Ok(n == 1)
    }

    pub(crate) fn record_delivery(
        &self,
        key: &AlertKey,
        d: &Delivery,
    ) -> Result<(), AlertStoreError> {
        let conn = self.conn.lock().expect("sqlite lock");
        conn.execute(
            "INSERT INTO alert_deliveries
             (brand, rule, window_start, channel, status, attempts, last_error, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT (brand, rule, window_start, channel) DO UPDATE SET
               status = excluded.status, attempts = excluded.attempts,
               last_error = excluded.last_error, updated_at = excluded.updated_at",
            params![
                key.brand,
                key.rule,
                secs(key.window_start),
                d.channel,
                d.status.as_str(),
                d.attempts,
                d.last_error,
                Utc::now().timestamp()
            ],
        )?;
        Ok(())
    }

    pub(crate) fn alerts_since(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<(AlertRecord, Vec<Delivery>)>, AlertStoreError> {
        let conn = self.conn.lock().expect("sqlite lock");
        let mut stmt = conn.prepare_cached(
            "SELECT brand, rule, window_start, window_end, fired_at, observed, threshold, payload
             FROM alerts WHERE fired_at >= ?1 ORDER BY fired_at, brand, rule",
        )?;
        let alerts: Vec<AlertRecord> = stmt
            .query_map([secs(since)], |r| {
                Ok(AlertRecord {
                    key: AlertKey {
                        brand: r.get(0)?,
                        rule: r.get(1)?,
                        window_start: from_secs(r.get(2)?),
                    },
                    window_end: from_secs(r.get(3)?),
                    fired_at: from_secs(r.get(4)?),
                    observed: r.get(5)?,
                    threshold: r.get(6)?,
                    payload: r.get(7)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        let mut deliveries = conn.prepare_cached(
            "SELECT channel, status, attempts, last_error FROM alert_deliveries
             WHERE brand = ?1 AND rule = ?2 AND window_start = ?3 ORDER BY channel",
        )?;
        let mut out = Vec::with_capacity(alerts.len());
        for a in alerts {
            let d: Vec<Delivery> = deliveries
                .query_map(
                    params![a.key.brand, a.key.rule, secs(a.key.window_start)],
                    |r| {
                        Ok(Delivery {
                            channel: r.get(0)?,
                            status: status_of(&r.get::<_, String>(1)?),
                            attempts: r.get(2)?,
                            last_error: r.get(3)?,
                        })
                    },
                )?
                .collect::<Result<_, _>>()?;
            out.push((a, d));
        }
        Ok(out)
    }
}
