//! The alert queries and state on ClickHouse. Counts read the per-minute
//! aggregate of distinct posts (`mention_posts_minute`), so redelivered rows
//! do not inflate them; posts are the latest scoring of each (argMax on
//! `version`). Values are bound (`{name:Type}` through [`prepare`], or `?`).

use chrono::{DateTime, Utc};
use clickhouse::{Client, Row};
use serde::Deserialize;

use super::report::{prepare, Param, PostRow};
use super::schema::Features;
use crate::alerts::{
    fold_buckets, secs, status_of, AlertKey, AlertRecord, AlertStoreError, Delivery, EntityFigures,
    PostFilter, Suppression, DAYS, HOURS,
};
use crate::report::{from_secs, PostSummary};

const BUCKETS: &str = "SELECT
    entity_id,
    toInt64(intDiv(toInt64(toUInt32(minute)) - toInt64({since:UInt32}), toInt64({len:UInt32}))) AS b,
    toUInt64(uniqExactMerge(posts)) AS n,
    toUInt8(sentiment_label = 'negative') AS negative
FROM mention_posts_minute
WHERE minute >= toDateTime({since:UInt32}) AND minute < toDateTime({until:UInt32})
  AND entity_kind IN ('brand', 'competitor')
GROUP BY entity_id, b, negative";

const INTENT_BUCKETS: &str = "SELECT
    entity_id,
    toInt64(intDiv(toInt64(x_event_time) - toInt64({since:UInt32}), 3600)) AS b,
    toUInt64(count()) AS n
FROM (
    SELECT
        post_id,
        argMax(arrayConcat(brands, competitors), version) AS x_entities,
        arrayMap(x -> toString(x), argMax(intents, version)) AS x_intents,
        toUInt32(argMax(event_time, version)) AS x_event_time
    FROM interactions
    WHERE event_time >= toDateTime({since:UInt32}) AND event_time < toDateTime({until:UInt32})
    GROUP BY post_id
)
ARRAY JOIN x_entities AS entity_id
WHERE hasAny(x_intents, splitByChar(',', {intents:String}))
GROUP BY entity_id, b";

/// The `LIMIT` is appended as a number (not data).
const POSTS: &str = "SELECT
    post_id,
    x_source AS source,
    x_author_handle AS author_handle,
    x_author_reach AS author_reach,
    x_priority AS priority,
    x_route AS route,
    x_sentiment_compound AS sentiment_compound,
    x_intents AS intents,
    x_entities AS entities,
    x_url AS url,
    x_text AS text,
    x_event_time AS event_time
FROM (
    SELECT
        post_id,
        toString(argMax(source, version)) AS x_source,
        argMax(author_handle, version) AS x_author_handle,
        argMax(author_reach, version) AS x_author_reach,
        argMax(priority, version) AS x_priority,
        toString(argMax(route, version)) AS x_route,
        argMax(sentiment_compound, version) AS x_sentiment_compound,
        arrayMap(x -> toString(x), argMax(intents, version)) AS x_intents,
        argMax(arrayConcat(brands, competitors), version) AS x_entities,
        argMax(url, version) AS x_url,
        substringUTF8(argMax(text, version), 1, 280) AS x_text,
        toUInt32(argMax(event_time, version)) AS x_event_time
    FROM interactions
    WHERE event_time >= toDateTime({since:UInt32}) AND event_time < toDateTime({until:UInt32})
    GROUP BY post_id
)
WHERE has(x_entities, {brand:String})
  AND ({negative:UInt32} = 0 OR post_id IN (
        SELECT post_id FROM mentions
        WHERE entity_id = {brand:String} AND sentiment_label = 'negative'
          AND event_time >= toDateTime({since:UInt32}) AND event_time < toDateTime({until:UInt32})))
  AND ({intents:String} = '' OR hasAny(x_intents, splitByChar(',', {intents:String})))
ORDER BY x_author_reach DESC, x_priority DESC, post_id
LIMIT ";

/// The alert queries by name, as [`prepare`] gets them (`posts` still needs
/// its `LIMIT` number): for tests that run them on other engines (chdb).
pub const QUERIES: &[(&str, &str)] = &[
    ("alert_buckets", BUCKETS),
    ("alert_intent_buckets", INTENT_BUCKETS),
    ("alert_posts", POSTS),
];

#[derive(Row, Deserialize)]
struct BucketRow {
    entity_id: String,
    b: i64,
    n: u64,
    negative: u8,
}

#[derive(Row, Deserialize)]
struct IntentRow {
    entity_id: String,
    b: i64,
    n: u64,
}

fn ts(t: DateTime<Utc>) -> u32 {
    secs(t).clamp(0, u32::MAX as i64) as u32
}

pub(crate) async fn figures(
    client: &Client,
    features: &Features,
    until: DateTime<Utc>,
    intents: &[String],
) -> Result<Vec<EntityFigures>, AlertStoreError> {
    let mut out: Vec<EntityFigures> = Vec::new();
    for (n, len) in [(HOURS as u32, 3600u32), (DAYS as u32, 86_400)] {
        let since = ts(until).saturating_sub(n * len);
        let params = [
            ("since", Param::U32(since)),
            ("until", Param::U32(ts(until))),
            ("len", Param::U32(len)),
        ];
        let rows: Vec<BucketRow> = prepare(client, features, BUCKETS, &params)
            .fetch_all()
            .await?;
        let rows = rows.into_iter().map(|r| {
            let negative = if r.negative != 0 { r.n } else { 0 };
            (r.entity_id, r.b, r.n, negative)
        });
        if len == 3600 {
            fold_buckets(&mut out, rows, |f| {
                (&mut f.hourly, Some(&mut f.hourly_negative))
            });
        } else {
            fold_buckets(&mut out, rows, |f| (&mut f.daily, None));
        }
    }
    if !intents.is_empty() {
        let params = [
            (
                "since",
                Param::U32(ts(until).saturating_sub(HOURS as u32 * 3600)),
            ),
            ("until", Param::U32(ts(until))),
            ("intents", Param::Str(intents.join(","))),
        ];
        let rows: Vec<IntentRow> = prepare(client, features, INTENT_BUCKETS, &params)
            .fetch_all()
            .await?;
        fold_buckets(
            &mut out,
            rows.into_iter().map(|r| (r.entity_id, r.b, r.n, 0)),
            |f| (&mut f.hourly_intent, None),
        );
    }
    Ok(out)
}

pub(crate) async fn posts(
    client: &Client,
    features: &Features,
    brand: &str,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    filter: &PostFilter,
    limit: u32,
) -> Result<Vec<PostSummary>, AlertStoreError> {
    let params = [
        ("since", Param::U32(ts(since))),
        ("until", Param::U32(ts(until))),
        ("brand", Param::Str(brand.to_string())),
        (
            "negative",
            Param::U32(matches!(filter, PostFilter::Negative) as u32),
        ),
        (
            "intents",
            Param::Str(match filter {
                PostFilter::Intents(list) => list.join(","),
                _ => String::new(),
            }),
        ),
    ];
    let sql = format!("{POSTS}{limit}");
    let rows: Vec<PostRow> = prepare(client, features, &sql, &params).fetch_all().await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

#[derive(Row, Deserialize)]
struct SuppressionRow {
    duplicate: u64,
    last: u32,
}

pub(crate) async fn suppression(
    client: &Client,
    key: &AlertKey,
    cooldown_since: DateTime<Utc>,
) -> Result<Option<Suppression>, AlertStoreError> {
    let row: SuppressionRow = client
        .query(
            "SELECT toUInt64(countIf(window_start = toDateTime(?))) AS duplicate,
                    toUInt32(maxIf(fired_at, fired_at > toDateTime(?) OR window_end > toDateTime(?))) AS last
             FROM alerts WHERE brand = ? AND rule = ?",
        )
        .bind(ts(key.window_start))
        .bind(ts(cooldown_since))
        .bind(ts(key.window_start))
        .bind(key.brand.as_str())
        .bind(key.rule.as_str())
        .fetch_one()
        .await?;
    Ok(if row.duplicate > 0 {
        Some(Suppression::Duplicate)
    } else if row.last > 0 {
        Some(Suppression::Cooldown {
            last_fired: from_secs(row.last as i64),
        })
    } else {
        None
    })
}

/// ClickHouse has no unique keys: the key is checked, then inserted. One
/// `earshot alert` process per database (the systemd unit runs one).
pub(crate) async fn record_alert(
    client: &Client,
    a: &AlertRecord,
) -> Result<bool, AlertStoreError> {
    let existing: u64 = client
        .query("SELECT count() FROM alerts WHERE brand = ? AND rule = ? AND window_start = toDateTime(?)")
        .bind(a.key.brand.as_str())
        .bind(a.key.rule.as_str())
        .bind(ts(a.key.window_start))
        .fetch_one()
        .await?;
    if existing > 0 {
        return Ok(false);
    }
    client
        .query(
            "INSERT INTO alerts (brand, rule, window_start, window_end, fired_at, observed, threshold, payload)
             SELECT ?, ?, toDateTime(?), toDateTime(?), toDateTime(?), ?, ?, ?",
        )
        .bind(a.key.brand.as_str())
        .bind(a.key.rule.as_str())
        .bind(ts(a.key.window_start))
        .bind(ts(a.window_end))
        .bind(ts(a.fired_at))
        .bind(a.observed)
        .bind(a.threshold)
        .bind(a.payload.as_str())
        .execute()
        .await?;
    Ok(true)
}

pub(crate) async fn record_delivery(
    client: &Client,
    key: &AlertKey,
    d: &Delivery,
) -> Result<(), AlertStoreError> {
    let now = Utc::now();
    // Later states replace earlier ones: the version is the time in nanoseconds.
    let version = now.timestamp_nanos_opt().unwrap_or(0).max(0) as u64;
    client
        .query(
            "INSERT INTO alert_deliveries
             (brand, rule, window_start, channel, status, attempts, last_error, updated_at, version)
             SELECT ?, ?, toDateTime(?), ?, ?, toUInt32(?), ?, toDateTime(?), toUInt64(?)",
        )
        .bind(key.brand.as_str())
        .bind(key.rule.as_str())
        .bind(ts(key.window_start))
        .bind(d.channel.as_str())
        .bind(d.status.as_str())
        .bind(d.attempts)
        .bind(d.last_error.as_str())
        .bind(ts(now))
        .bind(version)
        .execute()
        .await?;
    Ok(())
}

#[derive(Row, Deserialize)]
struct AlertRow {
    brand: String,
    rule: String,
    start: u32,
    end: u32,
    fired: u32,
    observed: f64,
    threshold: f64,
    payload: String,
}

#[derive(Row, Deserialize)]
struct DeliveryRow {
    channel: String,
    status: String,
    attempts: u32,
    last_error: String,
}

pub(crate) async fn alerts_since(
    client: &Client,
    since: DateTime<Utc>,
) -> Result<Vec<(AlertRecord, Vec<Delivery>)>, AlertStoreError> {
    let rows: Vec<AlertRow> = client
        .query(
            "SELECT brand, rule, toUInt32(window_start) AS start, toUInt32(any(window_end)) AS end,
                    toUInt32(min(fired_at)) AS fired, any(observed) AS observed,
                    any(threshold) AS threshold, any(payload) AS payload
             FROM alerts WHERE fired_at >= toDateTime(?)
             GROUP BY brand, rule, window_start
             ORDER BY fired, brand, rule",
        )
        .bind(ts(since))
        .fetch_all()
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let deliveries: Vec<DeliveryRow> = client
            .query(
                "SELECT channel, argMax(status, version) AS status,
                        argMax(attempts, version) AS attempts, argMax(last_error, version) AS last_error
                 FROM alert_deliveries
                 WHERE brand = ? AND rule = ? AND window_start = toDateTime(?)
                 GROUP BY channel ORDER BY channel",
            )
            .bind(r.brand.as_str())
            .bind(r.rule.as_str())
            .bind(r.start)
            .fetch_all()
            .await?;
        out.push((
            AlertRecord {
                key: AlertKey {
                    brand: r.brand,
                    rule: r.rule,
                    window_start: from_secs(r.start as i64),
                },
                window_end: from_secs(r.end as i64),
                fired_at: from_secs(r.fired as i64),
                observed: r.observed,
                threshold: r.threshold,
                payload: r.payload,
            },
            deliveries
                .into_iter()
                .map(|d| Delivery {
                    channel: d.channel,
                    status: status_of(&d.status),
                    attempts: d.attempts,
                    last_error: d.last_error,
                })
                .collect(),
        ));
    }
    Ok(out)
}
