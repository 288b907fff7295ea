//! Issue 16 item 3: routes are names from `routes.toml`, so ClickHouse's
//! `route` columns (an Enum8 of the five bundled routes until migration 24)
//! are strings. Migration 24 must keep the stored rows' routes, on Debian's
//! 18.16 (the harness server, through `earshot_sink::migrate`) and on current
//! ClickHouse (chdb 26.x, the same statements rendered for it); afterwards
//! the sink stores an analyst's own route and the work queue filters on it.

mod chdb;
mod common;

use chdb::{chdb_python, Chdb, Step};
use chrono::{TimeDelta, Utc};
use common::{clickhouse_config, client, Seed};
use earshot_model::{EntityKind, Route};
use earshot_sink::clickhouse::schema::{render, Features, MIGRATIONS, MIGRATIONS_TABLE};
use earshot_sink::clickhouse::{probe, ClickHouseSink};
use earshot_sink::work::{QueueFilter, WorkStore};
use earshot_sink::{RetryPolicy, Sink};
use tokio_util::sync::CancellationToken;

/// The schema as it was before migration 24, rendered for `features`:
/// the database, the migrations table and every earlier migration.
fn schema_before_24(features: &Features, db: &str) -> Vec<String> {
    let mut out = vec![
        format!("CREATE DATABASE IF NOT EXISTS {db}"),
        render(MIGRATIONS_TABLE, db, features, 0),
    ];
    for m in MIGRATIONS.iter().filter(|m| m.version < 24) {
        out.extend(
            m.statements
                .iter()
                .map(|s| render(s, db, features, 0))
                .filter(|s| !s.is_empty()),
        );
    }
    out
}

/// Rows as the old schema stored them: routes given by name into Enum8 columns.
fn old_rows(db: &str) -> Vec<String> {
    vec![
        format!(
            "INSERT INTO {db}.interactions (post_id, event_time, scored_at, brands, route, priority, version) VALUES \
             ('hn:old-1', now() - 60, now(), ['acme'], 'support', 40, 1), \
             ('hn:old-2', now() - 60, now(), ['acme'], 'pr', 80, 1), \
             ('hn:old-3', now() - 60, now(), ['acme'], 'none', 0, 1)"
        ),
        format!(
            "INSERT INTO {db}.mentions (entity_id, entity_kind, event_time, post_id, route, version) VALUES \
             ('acme', 'brand', now() - 60, 'hn:old-1', 'support', 1), \
             ('acme', 'brand', now() - 60, 'hn:old-2', 'marketing', 1)"
        ),
    ]
}

const ROUTES_QUERY: &str =
    "SELECT post_id, toString(route), toTypeName(route) FROM {table} ORDER BY post_id";

#[tokio::test]
async fn issue_16_migration_24_keeps_old_routes_and_stores_custom_ones_on_18() {
    let Some(url) = earshot_tests::clickhouse() else {
        return;
    };
    let config = clickhouse_config(&url);
    let db = config.clickhouse.database.clone();
    let server = earshot_sink::clickhouse::client(&config.clickhouse, false);
    let features = probe(&server).await.unwrap();
    for sql in schema_before_24(&features, &db)
        .into_iter()
        .chain(old_rows(&db))
    {
        server.query(&sql).execute().await.unwrap();
    }
    for m in MIGRATIONS.iter().filter(|m| m.version < 24) {
        server
            .query(&format!(
                "INSERT INTO {db}.schema_migrations (version, name, features, applied_at) SELECT ?, ?, '', now()"
            ))
            .bind(m.version)
            .bind(m.name)
            .execute()
            .await
            .unwrap();
    }
    let read = |table: &'static str| {
        let c = client(&config);
        async move {
            let rows: Vec<(String, String, String)> = c
                .query(&ROUTES_QUERY.replace("{table}", table))
                .fetch_all()
                .await
                .unwrap();
            rows
        }
    };
    assert!(read("interactions").await[0].2.starts_with("Enum8("));
    // A sink started before the migration refuses to run, saying why.
    let refused = ClickHouseSink::connect(
        &config.clickhouse,
        RetryPolicy::new(&config.retry, CancellationToken::new()),
    )
    .await
    .err()
    .expect("the sink refuses an unmigrated route column");
    assert!(
        refused
            .to_string()
            .contains("predates migration 024_route_names")
            && refused.to_string().contains("earshot migrate"),
        "{refused}"
    );

    let report = earshot_sink::migrate(&config).await.unwrap();
    assert_eq!(report.applied, ["024_route_names"]);
    let s = |a: &str, b: &str| (a.to_string(), b.to_string(), "String".to_string());
    assert_eq!(
        read("interactions").await,
        [
            s("hn:old-1", "support"),
            s("hn:old-2", "pr"),
            s("hn:old-3", "none")
        ]
    );
    assert_eq!(
        read("mentions").await,
        [s("hn:old-1", "support"), s("hn:old-2", "marketing")]
    );
    // Again: nothing left to apply.
    assert!(earshot_sink::migrate(&config)
        .await
        .unwrap()
        .applied
        .is_empty());

    // An analyst's own route, through the sink and the work queue.
    let mut sink = ClickHouseSink::connect(
        &config.clickhouse,
        RetryPolicy::new(&config.retry, CancellationToken::new()),
    )
    .await
    .unwrap();
    let now = Utc::now();
    let mut seed = Seed::new("new-1", now - TimeDelta::minutes(5));
    seed.mentions = vec![(EntityKind::Brand, "acme")];
    seed.route = Route::new("product").unwrap();
    seed.priority = 30;
    let batch = common::batch_of(vec![seed.build()]);
    assert_eq!(sink.write(&batch).await.unwrap().stored, 1);
    assert!(read("interactions")
        .await
        .contains(&s("hn:new-1", "product")));
    assert!(read("mentions").await.contains(&s("hn:new-1", "product")));
    let work = WorkStore::open(&config).await.unwrap();
    let queue = |route: &str| QueueFilter {
        since: now - TimeDelta::hours(1),
        until: now + TimeDelta::minutes(1),
        route: route.into(),
        brand: String::new(),
        intent: String::new(),
        tier: String::new(),
        limit: 50,
    };
    let ids = |items: Vec<earshot_sink::work::QueueItem>| {
        items
            .into_iter()
            .map(|i| i.post.post_id)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        ids(work.queue(&queue("product")).await.unwrap()),
        ["hn:new-1"]
    );
    assert_eq!(
        ids(work.queue(&queue("support")).await.unwrap()),
        ["hn:old-1"]
    );
    let mut all = ids(work.queue(&queue("")).await.unwrap());
    all.sort();
    assert_eq!(all, ["hn:new-1", "hn:old-1", "hn:old-2"]);
    server
        .query(&format!("DROP DATABASE IF EXISTS {db}"))
        .execute()
        .await
        .unwrap();
}

#[test]
fn issue_16_migration_24_keeps_old_routes_on_26() {
    let Some(python) = chdb_python() else {
        return;
    };
    let chdb = Chdb::new(python);
    let version = chdb.run_ok(&[Step::sql("SELECT version()")]).remove(0);
    let features = Features::from_version(&version);
    assert!(features.low_cardinality, "{version}");
    let db = "l16";
    let mut steps: Vec<Step> = schema_before_24(&features, db)
        .into_iter()
        .chain(old_rows(db))
        .map(Step::sql)
        .collect();
    let m24 = MIGRATIONS.iter().find(|m| m.version == 24).unwrap();
    // Twice: an interrupted migration runs again.
    for _ in 0..2 {
        steps.extend(
            m24.statements
                .iter()
                .map(|s| Step::sql(render(s, db, &features, 0))),
        );
    }
    for table in ["interactions", "mentions"] {
        steps.push(Step::sql(
            ROUTES_QUERY.replace("{table}", &format!("{db}.{table}")),
        ));
    }
    let out = chdb.run_ok(&steps);
    let lc = "LowCardinality(String)";
    assert_eq!(
        out[out.len() - 2],
        format!("hn:old-1\tsupport\t{lc}\nhn:old-2\tpr\t{lc}\nhn:old-3\tnone\t{lc}\n")
    );
    assert_eq!(
        out[out.len() - 1],
        format!("hn:old-1\tsupport\t{lc}\nhn:old-2\tmarketing\t{lc}\n")
    );
}

/// A scored record naming an invalid intent or route (not the name form, or
/// unbounded) is undecodable: dead-lettered with the reason, committed,
/// and never stored; a custom route beside them is stored.
#[tokio::test]
async fn issue_16_invalid_names_in_records_are_dead_lettered() {
    use earshot_transport::{Bus, ConsumerOptions, MemoryBus, Record, TopicsConfig};
    use std::sync::Arc;
    let Some(url) = earshot_tests::clickhouse() else {
        return;
    };
    let mut config = clickhouse_config(&url);
    earshot_sink::migrate(&config).await.unwrap();
    config.batch.max_age_ms = 50;
    let bus = MemoryBus::new();
    let topics = TopicsConfig::default();
    bus.ensure_topics(&topics.specs()).await.unwrap();
    let mut seed = Seed::new("custom", Utc::now() - TimeDelta::minutes(5));
    seed.mentions = vec![(EntityKind::Brand, "acme")];
    seed.route = Route::new("product").unwrap();
    let good = seed.build();
    let json = String::from_utf8(good.to_json()).unwrap();
    assert!(json.contains("\"route\":\"product\""), "{json}");
    let bad_intent = json
        .replace("\"intents\":[]", "\"intents\":[\"Bad Name\"]")
        .replace("hn:custom", "hn:bad-intent");
    let huge_route = json
        .replace(
            "\"route\":\"product\"",
            &format!("\"route\":\"{}\"", "x".repeat(100_000)),
        )
        .replace("hn:custom", "hn:huge-route");
    assert_ne!(bad_intent, json);
    let producer = bus.producer();
    for (key, payload) in [
        ("hn:custom", json.clone()),
        ("hn:bad-intent", bad_intent),
        ("hn:huge-route", huge_route),
    ] {
        producer
            .send(&topics.scored, Record::new(key, payload.into_bytes()))
            .await
            .unwrap();
    }
    let shutdown = CancellationToken::new();
    let task = earshot_sink::spawn(
        Arc::new(bus.clone()),
        topics.clone(),
        config.clone(),
        shutdown.clone(),
    );
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    while bus.len(&topics.dead_letter) < 2 {
        assert!(tokio::time::Instant::now() < deadline, "no dead letters");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    shutdown.cancel();
    let stats = task.await.unwrap().unwrap();
    assert_eq!((stats.stored, stats.undecodable), (1, 2));
    let stored: Vec<(String, String)> = client(&config)
        .query("SELECT post_id, toString(route) FROM interactions")
        .fetch_all()
        .await
        .unwrap();
    assert_eq!(stored, [("hn:custom".to_string(), "product".to_string())]);

    let mut dlq = bus
        .consumer(ConsumerOptions::new("check", [&topics.dead_letter]))
        .await
        .unwrap();
    let mut reasons = std::collections::BTreeMap::new();
    while reasons.len() < 2 {
        let d = dlq.recv().await.unwrap().unwrap();
        let reason = d
            .message
            .header("earshot-error")
            .unwrap_or_default()
            .to_string();
        reasons.insert(d.message.key.clone().unwrap_or_default(), reason);
    }
    let intent = &reasons["hn:bad-intent"];
    assert!(
        intent.contains("`Bad Name` is no valid intent name"),
        "{intent}"
    );
    let route = &reasons["hn:huge-route"];
    assert!(
        route.contains("is no valid route name") && route.len() < 400,
        "{route}"
    );
}
