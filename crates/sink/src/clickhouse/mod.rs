//! The ClickHouse sink: RowBinary inserts into `interactions` and `mentions`
//! (the per-minute aggregate follows through its materialized view), refused
//! rows into `sink_dead_letters`.

pub(crate) mod alerts;
pub(crate) mod cluster;
pub use cluster::ClusterSqlError;
mod error;
mod insert;
pub(crate) mod report;
pub(crate) mod rows;
pub mod schema;

use crate::StoreError;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The `clickhouse` crate's HTTP client, re-exported for tools and tests that query Earshot's tables.
pub use ::clickhouse::Client;
use async_trait::async_trait;

pub use self::alerts::QUERIES as ALERT_QUERIES;
pub use self::insert::dedup_token;
use self::insert::{insert_bisect, InsertCtx, Refused};
pub use self::report::{dashboard_query, prepare, prepare_sql, Param, PreparedSql, QUERIES};
use self::rows::{
    interaction_key, interaction_row, mention_key, mention_rows, version, DeadLetterRow,
    InteractionRow, MentionRow,
};
use self::schema::{create_database, render_for, Features, MIGRATIONS, MIGRATIONS_TABLE};
use crate::config::{ClickHouseConfig, PASSWORD_ENV};
use crate::retry::RetryPolicy;
use crate::{Batch, MigrationReport, Report, ReportParams, Sink, SinkError, WriteReport};

/// A client for `config`; `with_database` makes unqualified names resolve in Earshot's database.
pub fn client(config: &ClickHouseConfig, with_database: bool) -> Client {
    let mut client = Client::default()
        .with_url(&config.url)
        .with_user(&config.user)
        // Validation needs RowBinaryWithNamesAndTypes, which ClickHouse 18.16 lacks;
        // row shapes are checked by the integration tests instead.
        .with_validation(false);
    if let Ok(password) = std::env::var(PASSWORD_ENV) {
        client = client.with_password(password);
    }
    if with_database {
        client = client.with_database(&config.database);
    }
    if config.cluster.is_some() {
        client = client
            // An insert into a distributed table is acknowledged only once
            // each shard's replica has written its part (instead of when the
            // server queued it in its local spool for a later send): the
            // sink's acknowledgement, and so the Kafka commit, then means the
            // rows are in a replicated table, and a retried batch reaches
            // that table's block deduplication as the same block.
            .with_setting("insert_distributed_sync", "1")
            // `x IN (SELECT … FROM distributed)` inside a query on a
            // distributed table is refused by default; `global` runs the
            // subquery once and ships its result to every shard, which is
            // right whatever the tables' sharding.
            .with_setting("distributed_product_mode", "global");
    }
    client
}

/// Whether a failure message is ClickHouse's UNKNOWN_DATABASE (81).
pub(crate) fn unknown_database(message: &str) -> bool {
    error::exception_code(message) == Some(81)
}

/// Asks the server for its version and derives the features to use.
pub async fn probe(client: &Client) -> Result<Features, SinkError> {
    let version: String = client
        .query("SELECT version()")
        .fetch_one()
        .await
        .map_err(error::classify)?;
    Ok(Features::from_version(&version))
}

/// Creates or upgrades the schema; safe to run again and concurrently.
pub async fn migrate(config: &ClickHouseConfig) -> Result<MigrationReport, StoreError> {
    let client = client(config, false);
    let features = probe(&client).await.map_err(|e| unreachable(config, e))?;
    let db = &config.database;
    let cluster = config.cluster();
    // Every statement runs where the schema lives: as it is on one server;
    // on a cluster as replicated and distributed tables, ON CLUSTER.
    let exec = |statement: String, retention_days: u32| {
        let client = client.clone();
        let sql = render_for(&statement, db, &features, retention_days, cluster.as_ref());
        async move {
            for sql in sql? {
                match client.query(&sql).execute().await {
                    Ok(()) => {}
                    // Servers before 19.9 have no `ADD COLUMN IF NOT EXISTS`:
                    // a column that exists (code 44: a rerun after an
                    // interruption) is what the statement wanted. Each such
                    // ALTER applies all its columns or none.
                    Err(source)
                        if sql.contains(" ADD COLUMN ")
                            && error::exception_code(&source.to_string()) == Some(44) => {}
                    Err(source) => return Err(StoreError::Migration { sql, source }),
                }
            }
            Ok::<(), StoreError>(())
        }
    };
    exec(create_database(db), 0).await?;
    exec(MIGRATIONS_TABLE.to_string(), 0).await?;
    let applied: Vec<u32> = client
        .query(&format!(
            "SELECT DISTINCT version FROM {db}.schema_migrations ORDER BY version"
        ))
        .fetch_all()
        .await?;
    let mut report = MigrationReport {
        store: match &cluster {
            Some(c) => format!(
                "clickhouse {} at {} (database {db}, cluster {})",
                features.version, config.url, c.name
            ),
            None => format!(
                "clickhouse {} at {} (database {db})",
                features.version, config.url
            ),
        },
        features: features.names().into_iter().map(String::from).collect(),
        applied: Vec::new(),
        already_applied: 0,
        notes: Vec::new(),
    };
    if config.retention_days > 0 && !features.ttl {
        report.notes.push(format!(
            "sink.clickhouse.retention_days = {} ignored: ClickHouse {} has no TTL; rows are kept",
            config.retention_days, features.version
        ));
    }
    for m in MIGRATIONS {
        if applied.contains(&m.version) {
            report.already_applied += 1;
            continue;
        }
        for statement in m.statements {
            exec(statement.to_string(), config.retention_days).await?;
        }
        if let Some(backfill) = m.backfill {
            // One month at a time keeps the GROUP BY's memory bounded on big
            // tables; the months of both base tables (a backfill reads one).
            let months: Vec<String> = if cluster.is_some() {
                // This server holds only its shard's parts: ask the distributed tables.
                client
                    .query(&format!(
                        "SELECT DISTINCT m FROM (
                            SELECT toString(toYYYYMM(event_time)) AS m FROM {db}.mentions
                            UNION ALL SELECT toString(toYYYYMM(event_time)) AS m FROM {db}.interactions
                         ) ORDER BY m"
                    ))
                    .fetch_all()
                    .await?
            } else {
                client
                    .query("SELECT DISTINCT partition FROM system.parts WHERE database = ? AND table IN ('mentions', 'interactions') AND active ORDER BY partition")
                    .bind(db.as_str())
                    .fetch_all()
                    .await?
            };
            for month in months {
                // Partition ids of `toYYYYMM` are numbers; anything else is not ours to splice.
                let month: u32 = month.trim_matches('\'').parse().map_err(|_| {
                    StoreError::Unexpected(format!(
                        "{db}: a partition id {month:?} that is not a month"
                    ))
                })?;
                exec(
                    backfill.replace("{month}", &month.to_string()),
                    config.retention_days,
                )
                .await?;
            }
        }
        client
            .query(&format!(
                "INSERT INTO {db}.schema_migrations (version, name, features, applied_at) SELECT ?, ?, ?, now()"
            ))
            .bind(m.version)
            .bind(m.name)
            .bind(features.names().join(","))
            .execute()
            .await?;
        tracing::info!(version = m.version, name = m.name, "migration applied");
        report.applied.push(format!("{:03}_{}", m.version, m.name));
    }
    if features.ttl {
        // A retention changed in the config takes effect here, on tables
        // created earlier with another (or no) TTL.
        for (table, column) in schema::TTL_TABLES {
            // On a cluster the TTL is the replicated local table's.
            let holder = match cluster {
                Some(_) => format!("{table}{}", schema::LOCAL_SUFFIX),
                None => table.to_string(),
            };
            let create: Vec<String> = client
                .query(
                    "SELECT create_table_query FROM system.tables WHERE database = ? AND name = ?",
                )
                .bind(db.as_str())
                .bind(holder.as_str())
                .fetch_all()
                .await?;
            let Some(create) = create.first() else {
                continue;
            };
            if let Some(sql) = schema::retention_change(
                db,
                table,
                column,
                create,
                config.retention_days,
                &features,
            ) {
                exec(sql.clone(), config.retention_days).await?;
                report.notes.push(format!("{table}: {sql}"));
            }
        }
    }
    Ok(report)
}

/// Runs the dashboards against ClickHouse.
pub async fn report(
    config: &ClickHouseConfig,
    params: &ReportParams,
) -> Result<Report, StoreError> {
    let client = client(config, true);
    let features = probe(&client).await.map_err(|e| unreachable(config, e))?;
    report::run_report(&client, &features, params).await
}

fn unreachable(config: &ClickHouseConfig, e: SinkError) -> StoreError {
    StoreError::Unreachable {
        url: config.url.clone(),
        message: e.to_string(),
    }
}

/// Writes batches to ClickHouse.
pub struct ClickHouseSink {
    client: Client,
    features: Features,
    retry: RetryPolicy,
    timeout: Duration,
    retries: Arc<AtomicU64>,
}

impl ClickHouseSink {
    /// Connects (retrying while the server is unreachable) and checks the schema exists.
    pub async fn connect(
        config: &ClickHouseConfig,
        retry: RetryPolicy,
    ) -> Result<ClickHouseSink, SinkError> {
        let client = client(config, true);
        let retries = Arc::new(AtomicU64::new(0));
        let features = retry
            .run("connect to ClickHouse", &retries, || probe(&client))
            .await
            .map_err(|e| match e {
                SinkError::Fatal(m) if error::exception_code(&m) == Some(81) => {
                    SinkError::Fatal(format!(
                        "database `{}` does not exist at {}: run `earshot migrate` first ({m})",
                        config.database, config.url
                    ))
                }
                e => e,
            })?;
        // A missing table is a configuration error: say so before consuming anything.
        let tables: Vec<String> = retry
            .run("check schema", &retries, || {
                let client = client.clone();
                async move {
                    client
                        .query("SELECT name FROM system.tables WHERE database = ? AND name IN ('interactions', 'mentions', 'sink_dead_letters')")
                        .bind(config.database.as_str())
                        .fetch_all()
                        .await
                        .map_err(error::classify)
                }
            })
            .await?;
        if tables.len() < 3 {
            return Err(SinkError::Fatal(format!(
                "database `{}` at {} lacks Earshot's tables (found {tables:?}): run `earshot migrate` first",
                config.database, config.url
            )));
        }
        // Migration 024 made `route` a name: rows with a route of the
        // analyst's own cannot go into the older Enum8 column.
        let route_type: Vec<String> = retry
            .run("check schema", &retries, || {
                let client = client.clone();
                async move {
                    client
                        .query("SELECT type FROM system.columns WHERE database = ? AND table = 'interactions' AND name = 'route'")
                        .bind(config.database.as_str())
                        .fetch_all()
                        .await
                        .map_err(error::classify)
                }
            })
            .await?;
        if route_type.iter().any(|t| t.starts_with("Enum8")) {
            return Err(SinkError::Fatal(format!(
                "database `{}` at {} predates migration 024_route_names (`route` is still an Enum8): run `earshot migrate` first",
                config.database, config.url
            )));
        }
        tracing::info!(version = %features.version, features = ?features.names(), "connected to ClickHouse");
        Ok(ClickHouseSink {
            client,
            features,
            retry,
            timeout: Duration::from_secs(config.timeout_s),
            retries,
        })
    }

    fn ctx(&self) -> InsertCtx<'_> {
        InsertCtx {
            client: &self.client,
            retry: &self.retry,
            retries: &self.retries,
            timeout: self.timeout,
            dedup_token: self.features.dedup_token,
        }
    }

    /// Stores refused rows in `sink_dead_letters`; returns those ClickHouse refused even there.
    async fn dead_letter(
        &self,
        batch: &Batch,
        refused: &[(usize, &'static str, Refused)],
    ) -> Result<Vec<(usize, String)>, SinkError> {
        if refused.is_empty() {
            return Ok(Vec::new());
        }
        let now = chrono::Utc::now().timestamp() as u32;
        let payloads: Vec<String> = refused
            .iter()
            .map(|(i, _, _)| String::from_utf8_lossy(&batch.items[*i].raw).into_owned())
            .collect();
        let rows: Vec<DeadLetterRow<'_>> = refused
            .iter()
            .zip(&payloads)
            .map(|((i, table, r), payload)| {
                let item = &batch.items[*i];
                DeadLetterRow {
                    at: now,
                    target_table: table,
                    error_code: r.code,
                    error: &r.error,
                    src_topic: &item.position.topic,
                    src_partition: item.position.partition,
                    src_offset: item.position.offset,
                    post_id: &item.interaction.post.id,
                    payload,
                }
            })
            .collect();
        let keys: Vec<String> = refused
            .iter()
            .map(|(i, table, _)| {
                let item = &batch.items[*i];
                format!(
                    "{}\0{}\0{table}",
                    item.interaction.post.id,
                    version(&item.interaction)
                )
            })
            .collect();
        let again = match insert_bisect::<DeadLetterRow<'static>>(
            &self.ctx(),
            "sink_dead_letters",
            &rows,
            &keys,
        )
        .await
        {
            Ok(again) => again,
            // Even the dead-letter table is unusable: hand every row to the dead-letter topic.
            Err(SinkError::Fatal(e)) => {
                tracing::error!(error = %e, "cannot write to sink_dead_letters; refused rows go to the dead-letter topic");
                return Ok(refused
                    .iter()
                    .map(|(i, table, r)| (*i, format!("{table}: {}", r.error)))
                    .collect());
            }
            Err(e) => return Err(e),
        };
        Ok(again
            .into_iter()
            .map(|a| {
                (
                    refused[a.row].0,
                    format!("{}: {}", refused[a.row].1, refused[a.row].2.error),
                )
            })
            .collect())
    }
}

#[async_trait]
impl Sink for ClickHouseSink {
    async fn write(&mut self, batch: &Batch) -> Result<WriteReport, SinkError> {
        let before = self.retries.load(Ordering::Relaxed);
        let ctx = self.ctx();

        let rows: Vec<InteractionRow<'_>> = batch.items.iter().map(interaction_row).collect();
        let keys: Vec<String> = batch.items.iter().map(interaction_key).collect();
        let bad =
            insert_bisect::<InteractionRow<'static>>(&ctx, "interactions", &rows, &keys).await?;
        drop(rows);
        let mut refused: Vec<(usize, &'static str, Refused)> = bad
            .into_iter()
            .map(|r| (r.row, "interactions", r))
            .collect();

        // Mentions of refused interactions are skipped: the whole record is in the dead-letter table.
        let mut mentions: Vec<MentionRow<'_>> = Vec::with_capacity(batch.len() * 2);
        let mut mention_owner: Vec<usize> = Vec::with_capacity(batch.len() * 2);
        for (i, item) in batch.items.iter().enumerate() {
            if refused.iter().any(|(r, _, _)| *r == i) {
                continue;
            }
            for m in mention_rows(item) {
                mentions.push(m);
                mention_owner.push(i);
            }
        }
        let keys: Vec<String> = mentions.iter().map(mention_key).collect();
        let bad = insert_bisect::<MentionRow<'static>>(&ctx, "mentions", &mentions, &keys).await?;
        drop(mentions);
        for r in bad {
            let item = mention_owner[r.row];
            // One dead letter per record and table is enough to replay it.
            if !refused
                .iter()
                .any(|(i, t, _)| *i == item && *t == "mentions")
            {
                refused.push((item, "mentions", r));
            }
        }

        let rejected = self.dead_letter(batch, &refused).await?;
        let stored = batch.len()
            - refused
                .iter()
                .filter(|(_, t, _)| *t == "interactions")
                .count();
        Ok(WriteReport {
            stored,
            dead_lettered: refused.len() - rejected.len(),
            rejected,
            retries: self.retries.load(Ordering::Relaxed) - before,
        })
    }

    fn name(&self) -> &'static str {
        "clickhouse"
    }
}
