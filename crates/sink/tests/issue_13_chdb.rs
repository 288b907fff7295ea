//! Issue 13, item 5: the ClickHouse schema and dashboards on a current engine.
//!
//! The harness's server is Debian's ClickHouse 18.16, so the newer paths of
//! the migrations (`LowCardinality`, `TTL`, `non_replicated_deduplication_window`),
//! the server-side query parameters of the dashboards and the inserts'
//! `insert_deduplication_token` would otherwise never run. chdb (ClickHouse
//! 26.x in a Python module, installed by `tests/harness/chdb-env.sh`) runs
//! them here: the test migrates both engines with the SQL each one gets,
//! stores the same rows in both (through the real sink on 18.16, then copied
//! byte for byte into chdb as RowBinary, where the materialized views fill the
//! aggregates on 26.x themselves), runs every dashboard query of
//! `deploy/clickhouse/queries/` and the alert queries on both with the same
//! parameters, each prepared as the sink prepares it for that server, and
//! requires the same figures (as sets where a query has no `ORDER BY`).
//!
//! chdb has no HTTP server, so the sink's own client cannot reach it; the
//! driver `tests/chdb/driver.py` runs the SQL in-process. The test skips (with
//! a message) only when chdb cannot be installed, and never under `CI=true`.

mod chdb;
mod common;

use std::collections::BTreeSet;

use chdb::{chdb_python, differences, same_field, Chdb, Step};
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use common::{clickhouse_config, client, Seed};
use earshot_model::{EntityKind, Intent, Route, SentimentLabel};
use earshot_sink::clickhouse::schema::{
    backfill_sql, migration_sql, retention_change, Features, TTL_TABLES,
};
use earshot_sink::clickhouse::{
    dedup_token, prepare_sql, probe, ClickHouseSink, Param, ALERT_QUERIES, QUERIES,
};
use earshot_sink::{Batch, RetryPolicy, Sink};
use tokio_util::sync::CancellationToken;

/// Days of retention the migrations get: switches `TTL` on (26.x) while
/// keeping every seeded row (they are at most 9 days old).
const RETENTION_DAYS: u32 = 30;

/// A tiny deterministic generator, so the dataset is the same on every run.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

/// 300 posts over 9 days before `until`, then a burst of 20 negative `acme`
/// posts in the last hour (so the spike query has a spike to find).
fn seeds(until: DateTime<Utc>) -> Vec<Seed<'static>> {
    const ENTITIES: &[(EntityKind, &str)] = &[
        (EntityKind::Brand, "acme"),
        (EntityKind::Brand, "initech"),
        (EntityKind::Competitor, "globex"),
        (EntityKind::Customer, "cust-1"),
    ];
    let labels = [
        SentimentLabel::Positive,
        SentimentLabel::Neutral,
        SentimentLabel::Negative,
    ];
    // An analyst's own route (issue 16) beside the bundled ones.
    let routes = [
        Route::NONE,
        Route::SUPPORT,
        Route::SALES,
        Route::PR,
        Route::new("product").unwrap(),
    ];
    let sources = ["hn", "reddit", "rss"];
    let mut rng = Lcg(13);
    let mut out = Vec::new();
    for n in 0..300 {
        let at = until - TimeDelta::seconds(rng.next(9 * 86_400) as i64 + 1);
        let mut s = Seed::new(format!("p{n}"), at);
        s.source = sources[rng.next(3) as usize];
        s.mentions = ENTITIES
            .iter()
            .filter(|_| rng.next(3) == 0)
            .cloned()
            .collect();
        s.label = labels[rng.next(3) as usize];
        if let Some((_, id)) = s.mentions.first() {
            if rng.next(4) == 0 {
                s.entity_labels.push((id, labels[rng.next(3) as usize]));
            }
        }
        s.intents = Intent::BUNDLED
            .iter()
            .filter(|_| rng.next(5) == 0)
            .cloned()
            .collect();
        s.route = routes[rng.next(5) as usize].clone();
        s.priority = rng.next(101) as u8;
        s.reach = rng.next(10) * 1000 + rng.next(1000);
        out.push(s);
    }
    for n in 0..20 {
        let mut s = Seed::new(format!("burst{n}"), until - TimeDelta::seconds(60 + n * 97));
        s.mentions = vec![(EntityKind::Brand, "acme")];
        s.label = SentimentLabel::Negative;
        s.route = Route::SUPPORT;
        s.priority = 90;
        s.reach = 500 + n as u64;
        s.source = "reddit";
        out.push(s);
    }
    out
}

fn batch(seeds: &[Seed<'_>]) -> Batch {
    common::batch_of(seeds.iter().map(Seed::build).collect())
}

#[test]
fn issue_13_same_fields_compare_numbers_loosely_and_text_exactly() {
    assert!(same_field("0.30000000000000004", "0.3"));
    assert!(same_field("nan", "nan"));
    assert!(!same_field("0.31", "0.3"));
    assert!(!same_field("acme", "acme "));
    assert!(differences("a\t1\n", "a\t1\n").is_empty());
    assert_eq!(differences("a\t1\n", "a\t2\n").len(), 1);
    assert_eq!(differences("a\t1\n", "a\t1\nb\t1\n").len(), 1);
}

/// The parameter sets the queries run with: the report's three windows, and
/// the alert queries' bucket length, negative filter and intents (every
/// query receives them all; each uses those it names).
fn windows(until: DateTime<Utc>) -> Vec<(String, Vec<(&'static str, Param)>)> {
    let until_s = until.timestamp() as u32;
    let intents = format!(
        "{},{}",
        Intent::BUNDLED[0].as_str(),
        Intent::BUNDLED[1].as_str()
    );
    [
        (24 * 3600, "", 0, String::new()),
        (3 * 86_400, "acme", 0, intents),
        (7 * 86_400, "globex", 1, String::new()),
    ]
    .into_iter()
    .map(|(span, brand, negative, intents)| {
        (
            format!(
                "last {}h, brand {brand:?}, negative {negative}, intents {intents:?}",
                span / 3600
            ),
            vec![
                ("since", Param::U32(until_s - span)),
                ("until", Param::U32(until_s)),
                ("brand", Param::Str(brand.to_string())),
                ("k", Param::F64(3.0)),
                ("len", Param::U32(3600)),
                ("negative", Param::U32(negative)),
                ("intents", Param::Str(intents)),
                // author_standings: any author with a negative post.
                ("label", Param::Str("negative".into())),
                ("min_posts", Param::U32(1)),
                ("min_reach", Param::U64(0)),
                // threads: the seeds' authors are `author<reach>`.
                ("own", Param::Str("hn:author100,reddit:author100".into())),
                // author_profiles: every author; thread: the first burst post's.
                ("source", Param::Str(String::new())),
                ("handle", Param::Str(String::new())),
                ("thread", Param::Str("reddit:burst0".into())),
            ],
        )
    })
    .collect()
}

/// `text`'s lines in sorted order.
fn sorted_lines(text: &str) -> String {
    let mut lines: Vec<&str> = text.lines().collect();
    lines.sort_unstable();
    lines.iter().map(|l| format!("{l}\n")).collect()
}

/// Every dashboard query, then the alert queries (the posts query with the `LIMIT` the alerts use).
fn queries() -> Vec<(&'static str, String)> {
    QUERIES
        .iter()
        .map(|(n, q)| (*n, q.to_string()))
        .chain(ALERT_QUERIES.iter().map(|(n, q)| {
            let q = if q.trim_end().ends_with("LIMIT") {
                format!("{q}50")
            } else {
                q.to_string()
            };
            (*n, q)
        }))
        .collect()
}

#[tokio::test]
async fn issue_13_dashboards_agree_on_clickhouse_18_and_26() {
    let Some(url) = earshot_tests::clickhouse() else {
        return;
    };
    let Some(python) = chdb_python() else {
        return;
    };
    let chdb = Chdb::new(python);

    // The engines and the features the sink derives from their versions.
    let mut config = clickhouse_config(&url);
    config.clickhouse.retention_days = RETENTION_DAYS;
    let db = config.clickhouse.database.clone();
    let old = probe(&earshot_sink::clickhouse::client(&config.clickhouse, false))
        .await
        .unwrap();
    let version = chdb.run_ok(&[Step::sql("SELECT version()")]).remove(0);
    let new = Features::from_version(&version);
    assert!(
        new.low_cardinality && new.ttl && new.dedup_token && new.query_params,
        "chdb {version} should have every newer feature: {:?}",
        new.names()
    );
    assert!(
        !old.query_params,
        "the harness server is the old one: {old:?}"
    );

    // Migrations: the real `migrate` on 18.16, the same SQL rendered for 26.x on chdb.
    earshot_sink::migrate(&config).await.unwrap();
    let ddl: Vec<Step> = migration_sql(&new, &db, RETENTION_DAYS)
        .into_iter()
        .map(Step::sql)
        .collect();
    chdb.run_ok(&ddl);
    // Idempotent, as `migrate` relies on: every statement runs again cleanly.
    chdb.run_ok(&ddl);
    let created = chdb.run_ok(&[Step::sql(format!(
        "SELECT name, create_table_query FROM system.tables WHERE database = '{db}' ORDER BY name"
    ))]);
    for (table, wants) in [
        (
            "interactions",
            &[
                "LowCardinality(String)",
                "TTL event_time + toIntervalDay(30)",
                "non_replicated_deduplication_window = 1000",
            ][..],
        ),
        (
            "mentions",
            &[
                "LowCardinality(String)",
                "TTL event_time + toIntervalDay(30)",
                "non_replicated_deduplication_window = 1000",
            ],
        ),
        (
            "mention_posts_minute",
            &["LowCardinality(String)", "TTL minute + toIntervalDay(30)"],
        ),
        ("mentions_minute", &["TTL minute + toIntervalDay(30)"]),
    ] {
        let line = created[0]
            .lines()
            .find(|l| l.starts_with(&format!("{table}\t")))
            .unwrap_or_else(|| panic!("chdb has no table {table}:\n{}", created[0]));
        for want in wants {
            assert!(line.contains(want), "{table} lacks {want}: {line}");
        }
    }

    // The same rows in both: the sink writes them to 18.16 ...
    let until = Utc::now().duration_trunc(TimeDelta::hours(1)).unwrap();
    let seeds = seeds(until);
    let mut sink = ClickHouseSink::connect(
        &config.clickhouse,
        RetryPolicy::new(&config.retry, CancellationToken::new()),
    )
    .await
    .unwrap();
    let report = sink.write(&batch(&seeds)).await.unwrap();
    assert_eq!(report.stored, seeds.len());
    for s in seeds.iter().step_by(7) {
        client(&config)
            .query("INSERT INTO responses (post_id, responded_at, responder, channel) SELECT ?, now(), 'agent', 'reply'")
            .bind(format!("{}:{}", s.source, s.id))
            .execute()
            .await
            .unwrap();
    }
    // ... and the stored base tables go to chdb as RowBinary (types, times and
    // floats exactly as stored), where 26.x's materialized views fill
    // `mentions_minute` and `mention_posts_minute` themselves.
    let mut copies = Vec::new();
    for table in ["interactions", "mentions", "responses"] {
        let bytes = client(&config)
            .query(&format!("SELECT * FROM {table}"))
            .fetch_bytes("RowBinary")
            .unwrap()
            .collect()
            .await
            .unwrap();
        assert!(!bytes.is_empty(), "{table} is empty on 18.16");
        let file = chdb.dir.path().join(format!("{table}.bin"));
        std::fs::write(&file, &bytes).unwrap();
        copies.push(Step::sql(format!(
            "INSERT INTO {db}.{table} SELECT * FROM file('{}', 'RowBinary')",
            file.display()
        )));
    }
    chdb.run_ok(&copies);

    // Migration 006's backfill on 26.x, over the months now stored: it must
    // run, and (the aggregate holds sets of post ids) change no figure below.
    let months = chdb.run_ok(&[Step::sql(format!(
        "SELECT DISTINCT toYYYYMM(event_time) FROM {db}.mentions ORDER BY 1"
    ))]);
    let backfills: Vec<Step> = months[0]
        .lines()
        .flat_map(|m| backfill_sql(&new, &db, RETENTION_DAYS, m.parse().unwrap()))
        .map(Step::sql)
        .collect();
    assert!(!backfills.is_empty());
    chdb.run_ok(&backfills);

    // Every dashboard, every window, on both engines.
    let mut problems = Vec::new();
    let mut answered = BTreeSet::new();
    for (window, params) in windows(until) {
        let mut steps = Vec::new();
        let mut olds = Vec::new();
        for (name, text) in queries() {
            let text = text.as_str();
            let prepared = prepare_sql(&old, text, &params);
            assert!(prepared.params.is_empty());
            let rows = client(&config)
                .query_raw(&prepared.sql)
                .fetch_bytes("TabSeparated")
                .unwrap()
                .collect()
                .await
                .unwrap_or_else(|e| panic!("{name} on 18.16: {e}\n{}", prepared.sql));
            olds.push(String::from_utf8(rows.to_vec()).unwrap());
            let prepared = prepare_sql(&new, text, &params);
            assert_eq!(prepared.params.len(), params.len(), "{name}");
            // chdb's tables are in Earshot's database; the sink's client sets
            // it as the HTTP session's database instead.
            steps.push(Step {
                sql: format!("USE {db}"),
                params: Vec::new(),
            });
            steps.push(prepared.into());
        }
        let results = chdb.run(&steps);
        for (((name, text), old_rows), new_rows) in queries()
            .iter()
            .zip(&olds)
            .zip(results.iter().skip(1).step_by(2))
        {
            match new_rows {
                Err(e) => problems.push(format!("{name} ({window}) fails on 26.x: {e}")),
                Ok(new_rows) => {
                    if !old_rows.trim().is_empty() {
                        answered.insert(*name);
                    }
                    // Without ORDER BY the row order is the engine's (the
                    // alert buckets are folded order-free): compare as sets.
                    let (old_rows, new_rows) = if text.contains("ORDER BY") {
                        (old_rows.clone(), new_rows.clone())
                    } else {
                        (sorted_lines(old_rows), sorted_lines(new_rows))
                    };
                    for d in differences(&old_rows, &new_rows) {
                        problems.push(format!("{name} ({window}): {d}"));
                    }
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // The comparison means something only if every query returned rows somewhere.
    let never: Vec<&str> = queries()
        .into_iter()
        .map(|(n, _)| n)
        .filter(|n| !answered.contains(n))
        .collect();
    assert!(never.is_empty(), "queries with no rows: {never:?}");
}

/// The sink sends `insert_deduplication_token` with every insert on 22.2+
/// servers, relying on the tables' `non_replicated_deduplication_window`.
/// chdb cannot receive the sink's HTTP inserts, so the same setting, with a
/// token the sink derives, goes with an equivalent INSERT into the table as
/// migrated for 26.x: a repeat with the same token must be dropped, and the
/// same rows under another token (another set of rows, for the sink) kept.
#[test]
fn issue_13_insert_deduplication_token_is_honoured_by_26() {
    let Some(python) = chdb_python() else {
        return;
    };
    let chdb = Chdb::new(python);
    let new = Features::from_version("26.9");
    let db = "earshot_dedup";
    chdb.run_ok(
        &migration_sql(&new, db, RETENTION_DAYS)
            .into_iter()
            .map(Step::sql)
            .collect::<Vec<_>>(),
    );
    let insert = |keys: &[&str]| {
        let keys: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
        let token = dedup_token("mentions", &keys);
        Step::sql(format!(
            "INSERT INTO {db}.mentions (entity_id, entity_kind, event_time, post_id, source, \
             sentiment_label, sentiment_compound, author_reach, priority, route, version) \
             SETTINGS insert_deduplication_token = '{token}' \
             VALUES ('acme', 'brand', now(), 'hn:1', 'hn', 'negative', -0.5, 10, 50, 'support', 1)"
        ))
    };
    let count = || Step::sql(format!("SELECT count() FROM {db}.mentions"));
    let out = chdb.run_ok(&[
        insert(&["hn:1|1|acme"]),
        count(),
        insert(&["hn:1|1|acme"]),
        count(),
        insert(&["hn:1|1|acme", "hn:2|1|acme"]),
        count(),
        // The aggregate behind the dashboards follows the stored rows only.
        Step::sql(format!("SELECT sum(mentions) FROM {db}.mentions_minute")),
    ]);
    assert_eq!(
        [&out[1], &out[3], &out[5], &out[6]].map(|s| s.trim().to_string()),
        ["1", "1", "2", "2"],
        "counts after first insert, same token again, another token, raw aggregate"
    );
}

/// `earshot migrate` changes a table's TTL when `retention_days` changes
/// (`MODIFY TTL`, and `REMOVE TTL` from 21.1, which 18.16 never runs). On
/// 26.x: each ALTER runs, and the `create_table_query` it leaves is read back
/// as already at the wanted retention (so a second migrate changes nothing).
#[test]
fn issue_13_retention_changes_run_on_26() {
    let Some(python) = chdb_python() else {
        return;
    };
    let chdb = Chdb::new(python);
    let new = Features::from_version("26.9");
    let db = "earshot_ttl";
    chdb.run_ok(
        &migration_sql(&new, db, RETENTION_DAYS)
            .into_iter()
            .map(Step::sql)
            .collect::<Vec<_>>(),
    );
    let create = |table: &str| {
        chdb.run_ok(&[Step::sql(format!(
            "SELECT create_table_query FROM system.tables WHERE database = '{db}' AND name = '{table}'"
        ))])
        .remove(0)
        .trim()
        .to_string()
    };
    for (table, column) in TTL_TABLES {
        for days in [60, 0] {
            let before = create(table);
            let sql = retention_change(db, table, column, &before, days, &new)
                .unwrap_or_else(|| panic!("{table}: no change to {days} days from {before}"));
            chdb.run_ok(&[Step::sql(sql.clone())]);
            let after = create(table);
            assert_eq!(
                retention_change(db, table, column, &after, days, &new),
                None,
                "{table} after `{sql}`: {after}"
            );
            assert_eq!(after.contains(" TTL "), days > 0, "{table}: {after}");
        }
    }
}
