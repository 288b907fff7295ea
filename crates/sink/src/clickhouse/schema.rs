//! The ClickHouse schema as numbered migrations, and the server features that
//! shape it.
//!
//! One SQL text serves ClickHouse 18.16 and current releases: placeholders
//! expand to `LowCardinality(String)`, a `TTL` clause and deduplication
//! settings only where `version()` says the server has them. Only the database
//! name (validated as a plain identifier) and numbers from the configuration
//! are spliced in; data never is.

/// What the connected server supports, from `SELECT version()`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Features {
    /// The version string as reported.
    pub version: String,
    /// `LowCardinality(String)` is usable without experimental flags (19.9+).
    pub low_cardinality: bool,
    /// Table `TTL` expressions (19.6+).
    pub ttl: bool,
    /// `insert_deduplication_token` and `non_replicated_deduplication_window` (22.2+).
    pub dedup_token: bool,
    /// Server-side query parameters `{name:Type}` (20.1+; older servers get client-side escaped binding).
    pub query_params: bool,
}

impl Features {
    /// Features of a server reporting `version` (`18.16.1`, `24.8.4.13`, ...).
    pub fn from_version(version: &str) -> Features {
        let mut parts = version
            .trim()
            .split('.')
            .map(|p| p.parse::<u32>().unwrap_or(0));
        let v = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
        Features {
            version: version.trim().to_string(),
            low_cardinality: v >= (19, 9),
            ttl: v >= (19, 6),
            dedup_token: v >= (22, 2),
            query_params: v >= (20, 1),
        }
    }

    /// The feature names in use, for reports and the migrations table.
    pub fn names(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.low_cardinality {
            out.push("low_cardinality");
        }
        if self.ttl {
            out.push("ttl");
        }
        if self.dedup_token {
            out.push("insert_deduplication_token");
        }
        if self.query_params {
            out.push("query_params");
        }
        out
    }
}

/// A numbered schema change.
pub struct Migration {
    /// Order and identity; recorded in `schema_migrations` once applied.
    pub version: u32,
    /// Short name.
    pub name: &'static str,
    /// Statements, with placeholders (see [`render`]). Each is idempotent
    /// (`IF NOT EXISTS`) so a migration interrupted halfway can simply run again.
    pub statements: &'static [&'static str],
    /// Copies existing rows into a new table after `statements`, one month
    /// partition of `mentions` and `interactions` at a time (`{month}` becomes e.g. `202611`) so
    /// memory stays bounded on large tables. It must be idempotent: an
    /// interrupted migration runs it again.
    pub backfill: Option<&'static str>,
}

pub use super::cluster::{Cluster, ClusterSqlError, LOCAL_SUFFIX};

/// Table recording applied migrations.
pub const MIGRATIONS_TABLE: &str = "CREATE TABLE IF NOT EXISTS {db}.schema_migrations (
    version UInt32,
    name String,
    features String,
    applied_at DateTime
) ENGINE = ReplacingMergeTree(applied_at) ORDER BY version";

/// Every migration, in order.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "interactions",
        statements: &["CREATE TABLE IF NOT EXISTS {db}.interactions (
    post_id String,
    source {lc},
    event_time DateTime,
    published_at Nullable(DateTime),
    fetched_at Nullable(DateTime),
    scored_at DateTime,
    url String,
    author_handle String,
    author_name String,
    author_reach UInt64,
    title String,
    text String,
    lang {lc},
    brands Array(String),
    competitors Array(String),
    customers Array(String),
    intents Array({lc}),
    route Enum8('none' = 0, 'support' = 1, 'sales' = 2, 'marketing' = 3, 'pr' = 4),
    priority UInt8,
    priority_reasons Array(String),
    sentiment_label Enum8('negative' = -1, 'neutral' = 0, 'positive' = 1),
    sentiment_compound Float32,
    likes UInt64,
    replies UInt64,
    reposts UInt64,
    reply_to String,
    thread_id String,
    watchlist_version String,
    version UInt64
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(event_time)
ORDER BY (event_time, post_id)
{ttl_event_time}
{settings}"],
        backfill: None,
    },
    Migration {
        version: 2,
        name: "mentions",
        statements: &["CREATE TABLE IF NOT EXISTS {db}.mentions (
    entity_id String,
    entity_kind Enum8('customer' = 1, 'brand' = 2, 'competitor' = 3),
    event_time DateTime,
    post_id String,
    source {lc},
    sentiment_label Enum8('negative' = -1, 'neutral' = 0, 'positive' = 1),
    sentiment_compound Float32,
    author_reach UInt64,
    priority UInt8,
    route Enum8('none' = 0, 'support' = 1, 'sales' = 2, 'marketing' = 3, 'pr' = 4),
    version UInt64
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(event_time)
ORDER BY (entity_id, event_time, post_id)
{ttl_event_time}
{settings}"],
        backfill: None,
    },
    Migration {
        version: 3,
        name: "mentions_minute",
        statements: &[
            "CREATE TABLE IF NOT EXISTS {db}.mentions_minute (
    entity_id String,
    entity_kind Enum8('customer' = 1, 'brand' = 2, 'competitor' = 3),
    minute DateTime,
    source {lc},
    sentiment_label Enum8('negative' = -1, 'neutral' = 0, 'positive' = 1),
    mentions UInt64,
    sentiment_sum Float64,
    reach_sum UInt64
) ENGINE = SummingMergeTree((mentions, sentiment_sum, reach_sum))
PARTITION BY toYYYYMM(minute)
ORDER BY (entity_id, minute, source, sentiment_label, entity_kind)
{ttl_minute}
{settings}",
            "CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.mentions_minute_mv TO {db}.mentions_minute AS
SELECT
    entity_id,
    entity_kind,
    toStartOfMinute(event_time) AS minute,
    source,
    sentiment_label,
    toUInt64(1) AS mentions,
    toFloat64(sentiment_compound) AS sentiment_sum,
    author_reach AS reach_sum
FROM {db}.mentions",
        ],
        backfill: None,
    },
    Migration {
        version: 4,
        name: "sink_dead_letters",
        statements: &["CREATE TABLE IF NOT EXISTS {db}.sink_dead_letters (
    at DateTime,
    target_table String,
    error_code Int32,
    error String,
    src_topic String,
    src_partition Int32,
    src_offset Int64,
    post_id String,
    payload String
) ENGINE = MergeTree
PARTITION BY toYYYYMM(at)
ORDER BY (at, src_topic, src_partition, src_offset)"],
        backfill: None,
    },
    Migration {
        version: 5,
        name: "responses",
        statements: &["CREATE TABLE IF NOT EXISTS {db}.responses (
    post_id String,
    responded_at DateTime,
    responder String,
    channel String
) ENGINE = ReplacingMergeTree(responded_at)
ORDER BY post_id"],
        backfill: None,
    },
    // The dashboards' aggregate, exact under at-least-once redelivery: per
    // entity x minute x source x sentiment label it keeps the *set* of post ids
    // (uniqExact state), so a redelivered row adds a post already in the set and
    // changes no count, whatever batch it arrives in. `mentions_minute` (003)
    // stays as the raw insert counter: sum(mentions) minus the distinct count is
    // the number of redelivered rows, an operations metric.
    Migration {
        version: 6,
        name: "mention_posts_minute",
        statements: &[
            "CREATE TABLE IF NOT EXISTS {db}.mention_posts_minute (
    entity_id String,
    entity_kind Enum8('customer' = 1, 'brand' = 2, 'competitor' = 3),
    minute DateTime,
    source {lc},
    sentiment_label Enum8('negative' = -1, 'neutral' = 0, 'positive' = 1),
    posts AggregateFunction(uniqExact, String)
) ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(minute)
ORDER BY (entity_id, minute, source, sentiment_label, entity_kind)
{ttl_minute}
{settings}",
            "CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.mention_posts_minute_mv TO {db}.mention_posts_minute AS
SELECT
    entity_id,
    entity_kind,
    toStartOfMinute(event_time) AS minute,
    source,
    sentiment_label,
    uniqExactState(post_id) AS posts
FROM {db}.mentions
GROUP BY entity_id, entity_kind, minute, source, sentiment_label",
        ],
        // Rows stored before the view existed. Rows inserted while this runs
        // reach the table twice (view and backfill): harmless, it is a set.
        backfill: Some(
            "INSERT INTO {db}.mention_posts_minute
SELECT
    entity_id,
    entity_kind,
    toStartOfMinute(event_time) AS minute,
    source,
    sentiment_label,
    uniqExactState(post_id) AS posts
FROM {db}.mentions
WHERE toYYYYMM(event_time) = {month}
GROUP BY entity_id, entity_kind, minute, source, sentiment_label",
        ),
    },
    // Issue 13 (found on ClickHouse 26.9): an insert the source table drops
    // as a repeat of its `insert_deduplication_token` still reaches the
    // materialized views (`deduplicate_blocks_in_dependent_materialized_views`,
    // on by default in current releases, leaves deduplication to each target),
    // and a target without a deduplication window keeps it: a retried batch
    // counted twice in `mentions_minute`. Tables created before 007 get the
    // window here; 003 and 006 now create it. Old servers have nothing to change.
    Migration {
        version: 7,
        name: "aggregate_dedup_window",
        statements: &[
            "{if_dedup_token}ALTER TABLE {db}.mentions_minute MODIFY SETTING non_replicated_deduplication_window = 1000",
            "{if_dedup_token}ALTER TABLE {db}.mention_posts_minute MODIFY SETTING non_replicated_deduplication_window = 1000",
        ],
        backfill: None,
    },
    // `earshot alert`: alerts sent (one per brand, rule and window start) and
    // each channel's delivery state. ReplacingMergeTree keeps one row per key
    // after merges; readers take the latest by `version` (argMax), not FINAL.
    Migration {
        version: 13,
        name: "alerts",
        statements: &[
            "CREATE TABLE IF NOT EXISTS {db}.alerts (
    brand String,
    rule String,
    window_start DateTime,
    window_end DateTime,
    fired_at DateTime,
    observed Float64,
    threshold Float64,
    payload String
) ENGINE = ReplacingMergeTree(fired_at)
ORDER BY (brand, rule, window_start)",
            "CREATE TABLE IF NOT EXISTS {db}.alert_deliveries (
    brand String,
    rule String,
    window_start DateTime,
    channel String,
    status String,
    attempts UInt32,
    last_error String,
    updated_at DateTime,
    version UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY (brand, rule, window_start, channel)",
        ],
        backfill: None,
    },
    // Every respond action (agent, channel, note), once each; the answer
    // itself is the post's first row in `responses`.
    Migration {
        version: 14,
        name: "response_log",
        statements: &["CREATE TABLE IF NOT EXISTS {db}.response_log (
    post_id String,
    responded_at DateTime,
    responder String,
    channel String,
    note String
) ENGINE = ReplacingMergeTree(responded_at)
ORDER BY (post_id, responder, channel, note)"],
        backfill: None,
    },
    // The console's "assign": the latest assignment of a post wins
    // (argMax by assigned_at when read).
    Migration {
        version: 15,
        name: "assignments",
        statements: &["CREATE TABLE IF NOT EXISTS {db}.assignments (
    post_id String,
    assignee String,
    assigned_by String,
    assigned_at DateTime
) ENGINE = ReplacingMergeTree(assigned_at)
ORDER BY post_id"],
        backfill: None,
    },
    // Analysts' feedback on matches ("this brand match is wrong"), once per
    // post, entity and analyst.
    Migration {
        version: 16,
        name: "match_feedback",
        statements: &["CREATE TABLE IF NOT EXISTS {db}.match_feedback (
    post_id String,
    entity_id String,
    verdict String,
    analyst String,
    note String,
    at DateTime
) ENGINE = ReplacingMergeTree(at)
ORDER BY (post_id, entity_id, analyst)"],
        backfill: None,
    },
    // The CRM case maker's durable record: the latest state per post wins
    // (`version`: nanoseconds); readers take it with argMax, not FINAL.
    Migration {
        version: 17,
        name: "cases",
        statements: &["CREATE TABLE IF NOT EXISTS {db}.cases (
    post_id String,
    priority UInt8,
    route String,
    status String,
    attempts UInt32,
    last_error String,
    updated_at DateTime,
    version UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY post_id"],
        backfill: None,
    },
    // `earshot forget`: what was forgotten and when. An author here is never
    // stored again (the sink drops a redelivered post of theirs).
    Migration {
        version: 18,
        name: "forgotten",
        statements: &["CREATE TABLE IF NOT EXISTS {db}.forgotten (
    kind String,
    key String,
    at DateTime,
    posts UInt64
) ENGINE = ReplacingMergeTree(at)
ORDER BY (kind, key)"],
        backfill: None,
    },
    // Author profiles (issue 14), fed as interactions land: one row per
    // author and post, the post's latest version kept as an aggregate state
    // (`argMaxState(..., version)`), so a redelivered row (same version)
    // changes nothing and a re-scored one replaces the post's label,
    // entities and intents rather than counting twice. Ordered by author, so
    // one author's profile reads a narrow range, and without the text. A
    // profile over any window (to the second) is the per-post merge grouped
    // by author: `deploy/clickhouse/queries/author_profiles.sql`.
    Migration {
        version: 21,
        name: "author_posts",
        statements: &[
            "CREATE TABLE IF NOT EXISTS {db}.author_posts (
    source {lc},
    author_handle String,
    event_time DateTime,
    post_id String,
    latest AggregateFunction(argMax, Tuple(UInt64, Int8, Array(String), Array(String), Array(String)), UInt64)
) ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(event_time)
ORDER BY (source, author_handle, event_time, post_id)
{ttl_event_time}
{settings}",
            "CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.author_posts_mv TO {db}.author_posts AS
SELECT
    source,
    author_handle,
    event_time,
    post_id,
    argMaxState((author_reach, toInt8(sentiment_label), arrayConcat(brands, competitors),
                 CAST(intents AS Array(String)), customers), version) AS latest
FROM {db}.interactions
WHERE author_handle != ''
GROUP BY source, author_handle, event_time, post_id",
        ],
        // Posts stored before the view existed; a post also reaching the
        // view meanwhile is merged by version, so it still counts once.
        backfill: Some(
            "INSERT INTO {db}.author_posts
SELECT
    source,
    author_handle,
    event_time,
    post_id,
    argMaxState((author_reach, toInt8(sentiment_label), arrayConcat(brands, competitors),
                 CAST(intents AS Array(String)), customers), version) AS latest
FROM {db}.interactions
WHERE toYYYYMM(event_time) = {month} AND author_handle != ''
GROUP BY source, author_handle, event_time, post_id",
        ),
    },
    // The CRM-facing advocates and detractors (issue 14): each refresh
    // (`earshot authors --standings --write`, or the `cases` daemon on a
    // schedule) writes one row per period, brand, standing and author under
    // a new `refresh` number (and a row with `standing = ''` marking the
    // refresh, so one that found nobody still hides the older rows), then
    // deletes the period's older refreshes.
    // The CRM reads `crm_standings_current`: each period's latest refresh,
    // so it never sees half of one (deletes are asynchronous mutations).
    Migration {
        version: 22,
        name: "crm_standings",
        statements: &[
            "CREATE TABLE IF NOT EXISTS {db}.crm_standings (
    period String,
    window_start DateTime,
    window_end DateTime,
    brand String,
    standing String,
    source String,
    author_handle String,
    posts UInt64,
    reach UInt64,
    latest_post String,
    post_ids Array(String),
    customer_ids Array(String),
    account_owners Array(String),
    refreshed_at DateTime,
    refresh UInt64
) ENGINE = ReplacingMergeTree(refresh)
ORDER BY (period, brand, standing, source, author_handle)",
            // GLOBAL: on a sharded cluster the subquery reads the distributed
            // table once, not per shard (which the server refuses by default).
            "CREATE VIEW IF NOT EXISTS {db}.crm_standings_current AS
SELECT * FROM {db}.crm_standings
WHERE standing != '' AND (period, refresh) GLOBAL IN (SELECT period, max(refresh) FROM {db}.crm_standings GROUP BY period)",
        ],
        backfill: None,
    },
    // Issue 16: near-duplicate clusters and bot-like authors. A post whose
    // `cluster_id` is set repeats that earlier post: it stays stored and
    // queryable, and the dashboards count its cluster once (through its first
    // post; such a post gets no `mentions` rows, so the per-minute
    // aggregates need no change). One ALTER, applied whole; `{add_column}`
    // is `ADD COLUMN IF NOT EXISTS` where the server has it, and on older
    // servers `migrate` takes "column exists" as done.
    Migration {
        version: 23,
        name: "noise",
        statements: &[
            "ALTER TABLE {db}.interactions {add_column} cluster_id String DEFAULT '',
    {add_column} cluster_size UInt32 DEFAULT 0,
    {add_column} near_duplicate UInt8 DEFAULT 0,
    {add_column} bot_like UInt8 DEFAULT 0,
    {add_column} bot_reasons Array(String) DEFAULT []",
        ],
        backfill: None,
    },
    // Issue 16: intents and routes are names from config, so `route` is no
    // longer an Enum8 of the five bundled routes but a string (low
    // cardinality where the server has it, as `intents` already is).
    // MODIFY COLUMN converts each stored value to its name ('support' stays
    // 'support'); on a cluster the distributed tables are created again over
    // the altered local tables, as for an added column. Queries compare
    // `route` with names only (`route != 'none'`), never by enum order.
    Migration {
        version: 24,
        name: "route_names",
        statements: &[
            "ALTER TABLE {db}.interactions MODIFY COLUMN route {lc}",
            "ALTER TABLE {db}.mentions MODIFY COLUMN route {lc}",
        ],
        backfill: None,
    },
];

/// Tables with a retention TTL, and the column it counts from.
pub const TTL_TABLES: &[(&str, &str)] = &[
    ("interactions", "event_time"),
    ("mentions", "event_time"),
    ("mentions_minute", "minute"),
    ("mention_posts_minute", "minute"),
    ("author_posts", "event_time"),
];

/// The `ALTER TABLE` that brings `table` (created as `create`) to
/// `retention_days` (0: keep forever), or `None` when it already is.
pub fn retention_change(
    db: &str,
    table: &str,
    column: &str,
    create: &str,
    retention_days: u32,
    features: &Features,
) -> Option<String> {
    let has_ttl = create.contains(" TTL ");
    if retention_days > 0 {
        let wanted = format!("toIntervalDay({retention_days})");
        (!has_ttl || !create.contains(&wanted)).then(|| {
            format!(
                "ALTER TABLE {db}.{table} MODIFY TTL {column} + toIntervalDay({retention_days})"
            )
        })
    } else {
        // REMOVE TTL exists from 21.1; older servers keep the old TTL (migrate says so).
        let major: u32 = features
            .version
            .split('.')
            .next()
            .and_then(|m| m.parse().ok())
            .unwrap_or(0);
        (has_ttl && major >= 21).then(|| format!("ALTER TABLE {db}.{table} REMOVE TTL"))
    }
}

/// Expands a statement's placeholders for `features`. A statement starting
/// with `{if_dedup_token}` is only for servers with insert deduplication
/// tokens: elsewhere it renders empty, and empty statements are not run.
pub fn render(statement: &str, db: &str, features: &Features, retention_days: u32) -> String {
    let statement = match statement.strip_prefix("{if_dedup_token}") {
        Some(_) if !features.dedup_token => return String::new(),
        Some(rest) => rest,
        None => statement,
    };
    let ttl = |column: &str| {
        if features.ttl && retention_days > 0 {
            format!("TTL {column} + toIntervalDay({retention_days})")
        } else {
            String::new()
        }
    };
    // Insert deduplication on non-replicated tables needs a window; the token
    // derived from topic/partition/offsets then makes a retried batch a no-op.
    let settings = if features.dedup_token {
        "SETTINGS non_replicated_deduplication_window = 1000"
    } else {
        ""
    };
    statement
        .replace("{db}", db)
        .replace(
            "{lc}",
            if features.low_cardinality {
                "LowCardinality(String)"
            } else {
                "String"
            },
        )
        .replace("{ttl_event_time}", &ttl("event_time"))
        .replace("{ttl_minute}", &ttl("minute"))
        .replace("{settings}", settings)
        .replace(
            "{add_column}",
            if features.low_cardinality {
                "ADD COLUMN IF NOT EXISTS"
            } else {
                "ADD COLUMN"
            },
        )
}

/// The statements that run `statement` where the schema lives: [`render`]ed,
/// then, on a cluster, transformed into replicated local tables, distributed
/// tables and `ON CLUSTER` DDL ([`Cluster::transform`]). Empty statements
/// (features the server lacks) give none. Every statement `earshot migrate`
/// runs goes through here, so a new migration is distributed without more work.
pub fn render_for(
    statement: &str,
    db: &str,
    features: &Features,
    retention_days: u32,
    cluster: Option<&Cluster>,
) -> Result<Vec<String>, ClusterSqlError> {
    let sql = render(statement, db, features, retention_days);
    match cluster {
        _ if sql.is_empty() => Ok(Vec::new()),
        None => Ok(vec![sql]),
        Some(cluster) => cluster.transform(&sql, db),
    }
}

/// Every statement `earshot migrate` runs on a fresh database `db` of a server
/// with `features`, in order: the database, the migrations table, then each
/// migration's statements. Backfills are not included: they copy existing
/// rows one month partition at a time (see [`Migration::backfill`]), which a
/// fresh database has none of; [`backfill_sql`] renders them for a month.
/// Tests run this on engines the sink cannot reach over HTTP (chdb).
pub fn migration_sql(features: &Features, db: &str, retention_days: u32) -> Vec<String> {
    migration_sql_on(features, db, retention_days, None)
        .expect("a single server runs every statement as it is")
}

/// [`migration_sql`] for a cluster (`None`: one server).
pub fn migration_sql_on(
    features: &Features,
    db: &str,
    retention_days: u32,
    cluster: Option<&Cluster>,
) -> Result<Vec<String>, ClusterSqlError> {
    let mut out = render_for(&create_database(db), db, features, 0, cluster)?;
    out.extend(render_for(MIGRATIONS_TABLE, db, features, 0, cluster)?);
    for m in MIGRATIONS {
        for statement in m.statements {
            out.extend(render_for(
                statement,
                db,
                features,
                retention_days,
                cluster,
            )?);
        }
    }
    Ok(out)
}

/// Every migration's backfill for the month partition `month` (`202611`).
pub fn backfill_sql(features: &Features, db: &str, retention_days: u32, month: u32) -> Vec<String> {
    MIGRATIONS
        .iter()
        .filter_map(|m| m.backfill)
        .map(|b| render(b, db, features, retention_days).replace("{month}", &month.to_string()))
        .collect()
}

/// The statement creating Earshot's database (the name is a validated identifier).
pub(crate) fn create_database(db: &str) -> String {
    format!("CREATE DATABASE IF NOT EXISTS {db}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_servers_get_plain_sql() {
        let old = Features::from_version("18.16.1");
        assert!(!old.low_cardinality && !old.ttl && !old.dedup_token && !old.query_params);
        let sql = render(MIGRATIONS[0].statements[0], "earshot", &old, 30);
        assert!(
            !sql.contains("LowCardinality") && !sql.contains("TTL") && !sql.contains('{'),
            "{sql}"
        );
        assert!(sql.contains("earshot.interactions"));
    }

    #[test]
    fn new_servers_get_new_features() {
        let new = Features::from_version("24.8.4.13");
        assert_eq!(
            new.names(),
            [
                "low_cardinality",
                "ttl",
                "insert_deduplication_token",
                "query_params"
            ]
        );
        let sql = render(MIGRATIONS[1].statements[0], "e", &new, 30);
        assert!(sql.contains("source LowCardinality(String)"), "{sql}");
        assert!(sql.contains("TTL event_time + toIntervalDay(30)"), "{sql}");
        assert!(sql.contains("non_replicated_deduplication_window"), "{sql}");
        let sql = render(MIGRATIONS[1].statements[0], "e", &new, 0);
        assert!(!sql.contains("TTL"), "{sql}");
    }

    #[test]
    fn migration_sql_lists_every_statement_in_order() {
        let new = Features::from_version("26.9.2.1");
        let sql = migration_sql(&new, "e", 30);
        let statements: usize = MIGRATIONS.iter().map(|m| m.statements.len()).sum();
        assert_eq!(sql.len(), 2 + statements);
        // Old servers skip what only newer ones have (007).
        let old = migration_sql(&Features::from_version("18.16.1"), "e", 30);
        assert_eq!(old.len(), sql.len() - 2);
        assert!(old.iter().all(|s| !s.contains("deduplication")), "{old:#?}");
        assert_eq!(sql[0], "CREATE DATABASE IF NOT EXISTS e");
        assert!(sql[1].contains("e.schema_migrations"));
        assert!(sql.iter().all(|s| !s.contains('{')), "{sql:#?}");
        let backfill = backfill_sql(&new, "e", 30, 202611);
        assert_eq!(backfill.len(), 2);
        assert!(backfill
            .iter()
            .all(|b| b.contains("toYYYYMM(event_time) = 202611")));
    }

    /// Issue 18: every statement of every migration (and the migrations
    /// table) has a cluster form, for old and new servers, with and without
    /// retention: replicated local tables, distributed tables under the
    /// public names, views and alters on the local tables, all ON CLUSTER.
    #[test]
    fn issue_18_every_migration_renders_for_a_cluster() {
        let cluster = Cluster {
            name: "prod".into(),
            replica_path: "/clickhouse/tables/{shard}/{database}/{table}".into(),
        };
        for version in ["18.16.1", "26.9.2.1"] {
            let f = Features::from_version(version);
            let single = migration_sql(&f, "e", 30);
            let sql = migration_sql_on(&f, "e", 30, Some(&cluster))
                .unwrap_or_else(|e| panic!("{version}: {e}"));
            assert!(
                sql.iter().all(|s| s.contains(" ON CLUSTER prod")),
                "{sql:#?}"
            );
            let tables = single
                .iter()
                .filter(|s| s.starts_with("CREATE TABLE"))
                .count();
            let replicated = sql
                .iter()
                .filter(|s| s.contains("ENGINE = Replicated"))
                .count();
            let distributed = sql
                .iter()
                .filter(|s| s.contains("ENGINE = Distributed(prod, e, "))
                .count();
            // A column added to (or retyped in) a table is changed in its
            // distributed table too, by dropping and creating it again.
            let added = single
                .iter()
                .filter(|s| {
                    s.starts_with("ALTER TABLE")
                        && (s.contains("ADD COLUMN") || s.contains("MODIFY COLUMN"))
                })
                .count();
            assert_eq!(
                (replicated, distributed),
                (tables, tables + added),
                "{sql:#?}"
            );
            assert_eq!(sql.len(), single.len() + tables + 2 * added);
            for s in &sql {
                if s.contains("ENGINE = Replicated") {
                    assert!(
                        s.contains("'/clickhouse/tables/{shard}/e/")
                            && s.contains("_local', '{replica}'"),
                        "{s}"
                    );
                }
                if s.starts_with("CREATE MATERIALIZED VIEW") {
                    assert!(
                        s.contains("_local AS")
                            && (s.contains("FROM e.mentions_local")
                                || s.contains("FROM e.interactions_local")),
                        "{s}"
                    );
                }
                if s.starts_with("ALTER TABLE") {
                    assert!(s.contains("_local ON CLUSTER prod"), "{s}");
                }
            }
            // One post on one shard wherever rows are keyed by post.
            for table in [
                "interactions",
                "mentions",
                "responses",
                "cases",
                "sink_dead_letters",
            ] {
                let dist = sql
                    .iter()
                    .find(|s| s.starts_with(&format!("CREATE TABLE IF NOT EXISTS e.{table} ")))
                    .unwrap();
                assert!(
                    dist.ends_with(&format!("{table}_local, cityHash64(post_id))")),
                    "{dist}"
                );
            }
        }
    }

    #[test]
    fn versions_are_increasing() {
        assert!(MIGRATIONS.windows(2).all(|w| w[0].version < w[1].version));
    }

    #[test]
    fn retention_changes_only_what_differs() {
        let f = Features::from_version("24.8.4.13");
        let with_30 = "CREATE TABLE earshot.mentions (...) ENGINE = ReplacingMergeTree(version) ORDER BY x TTL event_time + toIntervalDay(30) SETTINGS index_granularity = 8192";
        let none = "CREATE TABLE earshot.mentions (...) ENGINE = ReplacingMergeTree(version) ORDER BY x SETTINGS index_granularity = 8192";
        assert_eq!(
            retention_change("earshot", "mentions", "event_time", with_30, 30, &f),
            None
        );
        assert_eq!(
            retention_change("earshot", "mentions", "event_time", with_30, 90, &f).as_deref(),
            Some("ALTER TABLE earshot.mentions MODIFY TTL event_time + toIntervalDay(90)")
        );
        assert_eq!(
            retention_change("earshot", "mentions", "event_time", none, 7, &f).as_deref(),
            Some("ALTER TABLE earshot.mentions MODIFY TTL event_time + toIntervalDay(7)")
        );
        assert_eq!(
            retention_change("earshot", "mentions", "event_time", with_30, 0, &f).as_deref(),
            Some("ALTER TABLE earshot.mentions REMOVE TTL")
        );
        assert_eq!(
            retention_change("earshot", "mentions", "event_time", none, 0, &f),
            None
        );
        let old = Features::from_version("20.3.1");
        assert_eq!(
            retention_change("earshot", "mentions", "event_time", with_30, 0, &old),
            None
        );
    }
}
