//! Dashboards against ClickHouse: the documented queries in
//! `deploy/clickhouse/queries/*.sql`, compiled in, with their `{name:Type}`
//! parameters sent as server-side query parameters where the server has them
//! (20.1+) or bound client-side with the `clickhouse` crate's escaping
//! (`?` placeholders) on older servers. Data never reaches SQL by formatting.

use crate::StoreError;
use clickhouse::Client;
use serde::Deserialize;

use super::schema::Features;
use crate::report::{
    entity_kind, from_secs, Count, NetSentiment, PostSummary, Report, ReportParams, ShareOfVoice,
    Spike,
};

/// The dashboard queries, by file name.
pub const QUERIES: &[(&str, &str)] = &[
    (
        "share_of_voice",
        include_str!("../../../../deploy/clickhouse/queries/share_of_voice.sql"),
    ),
    (
        "net_sentiment_hourly",
        include_str!("../../../../deploy/clickhouse/queries/net_sentiment_hourly.sql"),
    ),
    (
        "top_negative_awaiting",
        include_str!("../../../../deploy/clickhouse/queries/top_negative_awaiting.sql"),
    ),
    (
        "intent_breakdown",
        include_str!("../../../../deploy/clickhouse/queries/intent_breakdown.sql"),
    ),
    (
        "route_breakdown",
        include_str!("../../../../deploy/clickhouse/queries/route_breakdown.sql"),
    ),
    (
        "source_breakdown",
        include_str!("../../../../deploy/clickhouse/queries/source_breakdown.sql"),
    ),
    (
        "work_queue",
        include_str!("../../../../deploy/clickhouse/queries/work_queue.sql"),
    ),
    (
        "spikes",
        include_str!("../../../../deploy/clickhouse/queries/spikes.sql"),
    ),
    (
        "author_standings",
        include_str!("../../../../deploy/clickhouse/queries/author_standings.sql"),
    ),
    (
        "threads",
        include_str!("../../../../deploy/clickhouse/queries/threads.sql"),
    ),
    (
        "author_profiles",
        include_str!("../../../../deploy/clickhouse/queries/author_profiles.sql"),
    ),
    (
        "thread",
        include_str!("../../../../deploy/clickhouse/queries/thread.sql"),
    ),
    (
        "response_times",
        include_str!("../../../../deploy/clickhouse/queries/response_times.sql"),
    ),
];

/// A dashboard query parameter's value.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(untagged)]
pub enum Param {
    /// A `UInt32` (Unix seconds).
    U32(u32),
    /// A `UInt64` (a count or reach).
    U64(u64),
    /// A `Float64` (the spike factor `k`).
    F64(f64),
    /// A `String` (the brand, `''` for all).
    Str(String),
}

/// A query as the sink sends it to a server: the SQL, and the server-side
/// parameters (`param_<name>` settings) when the server has them.
#[derive(Debug, Clone, PartialEq)]
pub struct PreparedSql {
    /// The SQL text, comments stripped. On servers without query parameters
    /// every `{name:Type}` is already replaced by its escaped literal.
    pub sql: String,
    /// Server-side parameters; empty when bound client-side.
    pub params: Vec<(String, Param)>,
}

/// The dashboard query `name` (a file of `deploy/clickhouse/queries/`, without `.sql`).
pub fn dashboard_query(name: &str) -> Option<&'static str> {
    QUERIES.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
}

fn sql(name: &str) -> &'static str {
    dashboard_query(name).expect("query is compiled in")
}

/// Prepares `text` for a server with `features`, as [`report`](super::report)
/// does: comments stripped, then `{name:Type}` parameters sent server-side
/// (20.1+) or bound client-side with the `clickhouse` crate's escaping.
pub fn prepare_sql(features: &Features, text: &str, params: &[(&str, Param)]) -> PreparedSql {
    let body: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n");
    if features.query_params {
        return PreparedSql {
            sql: body,
            params: params
                .iter()
                .map(|(n, v)| (n.to_string(), v.clone()))
                .collect(),
        };
    }
    // Client-side binding: each `{name:Type}` becomes `?`, bound in order of appearance.
    let mut out = String::with_capacity(body.len());
    let mut order = Vec::new();
    let mut rest = body.as_str();
    while let Some(start) = rest.find('{') {
        let Some(len) = rest[start..].find('}') else {
            break;
        };
        let inner = &rest[start + 1..start + len];
        match inner.split_once(':') {
            Some((name, _ty)) if name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => {
                out.push_str(&rest[..start]);
                out.push('?');
                order.push(name.to_string());
            }
            _ => out.push_str(&rest[..start + len + 1]),
        }
        rest = &rest[start + len + 1..];
    }
    out.push_str(rest);
    // The crate's `bind` escapes; an unconnected client only renders the text.
    let mut q = Client::default().query(&out);
    for name in order {
        let value = params
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone());
        q = match value {
            Some(Param::U32(v)) => q.bind(v),
            Some(Param::U64(v)) => q.bind(v),
            Some(Param::F64(v)) => q.bind(v),
            Some(Param::Str(v)) => q.bind(v),
            // A missing parameter is a bug in this file; the server reports the bad SQL.
            None => q.bind(clickhouse::sql::Identifier("missing_parameter")),
        };
    }
    PreparedSql {
        sql: q.sql_display().to_string(),
        params: Vec::new(),
    }
}

/// Prepares a query on `client`: see [`prepare_sql`].
pub fn prepare(
    client: &Client,
    features: &Features,
    text: &str,
    params: &[(&str, Param)],
) -> clickhouse::query::Query {
    let prepared = prepare_sql(features, text, params);
    // Raw: the text holds no `?` placeholders any more (and `?` in literals stays as it is).
    let mut q = client.query_raw(&prepared.sql);
    for (name, value) in &prepared.params {
        q = match value {
            Param::U32(v) => q.param(name, v),
            Param::U64(v) => q.param(name, v),
            Param::F64(v) => q.param(name, v),
            Param::Str(v) => q.param(name, v),
        };
    }
    q
}

#[derive(Row, Deserialize)]
struct SovRow {
    entity_id: String,
    kind: String,
    mentions: u64,
    share: f64,
}

#[derive(Row, Deserialize)]
struct NetRow {
    entity_id: String,
    hour: u32,
    positive: u64,
    neutral: u64,
    negative: u64,
    net: f64,
}

#[derive(Row, Deserialize)]
pub(crate) struct PostRow {
    pub(crate) post_id: String,
    source: String,
    author_handle: String,
    author_reach: u64,
    priority: u8,
    route: String,
    sentiment_compound: f32,
    intents: Vec<String>,
    entities: Vec<String>,
    url: String,
    text: String,
    event_time: u32,
}

#[derive(Row, Deserialize)]
struct CountRow {
    key: String,
    posts: u64,
}

#[derive(Row, Deserialize)]
struct SpikeRow {
    entity_id: String,
    last_hour: u64,
    mean: f64,
    stddev: f64,
    threshold: f64,
    spike: u8,
}

use clickhouse::Row;

impl From<PostRow> for PostSummary {
    fn from(r: PostRow) -> PostSummary {
        PostSummary {
            post_id: r.post_id,
            source: r.source,
            author: r.author_handle,
            reach: r.author_reach,
            priority: r.priority,
            route: r.route,
            compound: r.sentiment_compound,
            intents: r.intents,
            entities: r.entities,
            url: r.url,
            text: r.text,
            event_time: from_secs(r.event_time as i64),
        }
    }
}

/// Runs every dashboard query.
pub(crate) async fn run_report(
    client: &Client,
    features: &Features,
    p: &ReportParams,
) -> Result<Report, StoreError> {
    let window = [
        ("since", Param::U32(p.since_s())),
        ("until", Param::U32(p.until_s())),
        ("brand", Param::Str(p.brand_or_empty().to_string())),
    ];
    let fetch_err = |name: &'static str| {
        move |source: clickhouse::error::Error| StoreError::Query { name, source }
    };

    let mut share_of_voice = Vec::new();
    let week = p.until_s().saturating_sub(7 * 86_400);
    let mut windows = vec![("window".to_string(), p.since_s())];
    if week != p.since_s() {
        windows.push(("7d".to_string(), week));
    }
    for (label, since) in windows {
        let params = [
            ("since", Param::U32(since)),
            ("until", Param::U32(p.until_s())),
        ];
        let rows: Vec<SovRow> = prepare(client, features, sql("share_of_voice"), &params)
            .fetch_all()
            .await
            .map_err(fetch_err("share_of_voice"))?;
        let rows = rows
            .into_iter()
            .map(|r| ShareOfVoice {
                entity_id: r.entity_id,
                kind: entity_kind(&r.kind),
                mentions: r.mentions,
                share: r.share,
            })
            .collect();
        share_of_voice.push((label, rows));
    }

    let net: Vec<NetRow> = prepare(client, features, sql("net_sentiment_hourly"), &window)
        .fetch_all()
        .await
        .map_err(fetch_err("net_sentiment_hourly"))?;
    let top: Vec<PostRow> = prepare(client, features, sql("top_negative_awaiting"), &window)
        .fetch_all()
        .await
        .map_err(fetch_err("top_negative_awaiting"))?;
    let intents: Vec<CountRow> = prepare(client, features, sql("intent_breakdown"), &window)
        .fetch_all()
        .await
        .map_err(fetch_err("intent_breakdown"))?;
    let sources: Vec<CountRow> = prepare(client, features, sql("source_breakdown"), &window)
        .fetch_all()
        .await
        .map_err(fetch_err("source_breakdown"))?;
    let queue: Vec<PostRow> = prepare(client, features, sql("work_queue"), &window)
        .fetch_all()
        .await
        .map_err(fetch_err("work_queue"))?;
    let spike_params = [
        ("until", Param::U32(p.until_s())),
        ("brand", Param::Str(p.brand_or_empty().to_string())),
        ("k", Param::F64(p.spike_k)),
    ];
    let spikes: Vec<SpikeRow> = prepare(client, features, sql("spikes"), &spike_params)
        .fetch_all()
        .await
        .map_err(fetch_err("spikes"))?;

    Ok(Report {
        params: p.clone(),
        share_of_voice,
        net_sentiment: net
            .into_iter()
            .map(|r| NetSentiment {
                entity_id: r.entity_id,
                hour: from_secs(r.hour as i64),
                positive: r.positive,
                neutral: r.neutral,
                negative: r.negative,
                net: r.net.is_finite().then_some(r.net),
            })
            .collect(),
        top_negative: top.into_iter().map(Into::into).collect(),
        intents: intents
            .into_iter()
            .map(|r| Count {
                key: r.key,
                posts: r.posts,
            })
            .collect(),
        sources: sources
            .into_iter()
            .map(|r| Count {
                key: r.key,
                posts: r.posts,
            })
            .collect(),
        work_queue: queue.into_iter().map(Into::into).collect(),
        spikes: spikes
            .into_iter()
            .map(|r| Spike {
                entity_id: r.entity_id,
                last_hour: r.last_hour,
                mean: r.mean,
                stddev: r.stddev,
                threshold: r.threshold,
                spike: r.spike != 0,
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_servers_get_escaped_client_side_binding() {
        let client = Client::default();
        let old = Features::from_version("18.16.1");
        let q = prepare(
            &client,
            &old,
            "-- a comment with {x:String}\nSELECT {a:UInt32}, {b:String}, {a:UInt32} FROM t WHERE m = map{}",
            &[("a", Param::U32(7)), ("b", Param::Str("it's; DROP".into()))],
        );
        assert_eq!(
            q.sql_display().to_string(),
            "SELECT 7, 'it\\'s; DROP', 7 FROM t WHERE m = map{}"
        );
    }

    /// Each query names only parameters its caller supplies: the report's
    /// (`since`, `until`, `brand`, `k`), or those of the author and
    /// conversation queries (`authors.rs`, `conversations.rs`).
    #[test]
    fn every_query_parameter_is_supplied() {
        let supplied = |name: &str| -> &[&str] {
            match name {
                "author_standings" => {
                    &["since", "until", "brand", "label", "min_posts", "min_reach"]
                }
                "author_profiles" => &["since", "until", "source", "handle", "brand"],
                "threads" | "response_times" => &["since", "until", "own"],
                "thread" => &["thread"],
                _ => &["since", "until", "brand", "k"],
            }
        };
        for (name, text) in QUERIES {
            for param in text
                .split('{')
                .skip(1)
                .filter_map(|s| s.split_once(':').map(|(n, _)| n))
            {
                assert!(
                    supplied(name).contains(&param),
                    "{name}: unexpected parameter {param}"
                );
            }
        }
    }
}
