//! The schema on a ClickHouse cluster (`[sink.clickhouse] cluster`): one
//! generic transform of the single-server statements, so every migration,
//! including ones added later, gets it without being written twice.
//!
//! Each table `T` becomes a replicated local table `T_local`
//! (`Replicated*MergeTree` with the configured ZooKeeper path and the
//! `{replica}` macro) and, under the public name `T`, a `Distributed` table
//! over it. Dashboards, reports, the console and the sink keep reading and
//! writing the names they always used. Materialized views are created on the
//! local tables (each shard aggregates its own rows), `ALTER`s go to the local
//! tables, and every DDL statement runs `ON CLUSTER`.
//!
//! **Sharding.** A table with a `post_id` column is sharded by
//! `cityHash64(post_id)`: one post lives on one shard, so replacing by version
//! (`FINAL`, `argMax`) still sees all of a post's rows together. Other tables
//! are sharded by their sorting key, the key `ReplacingMergeTree` collapses on.
//! The per-minute aggregates are filled by views on each shard's local
//! `mentions`, so one aggregate key has rows on several shards, each holding
//! only that shard's posts. Reads stay exact: the posts of two shards are
//! disjoint sets (a post is on one shard), so merging `uniqExact` states or
//! summing counts across shards, which a `Distributed` read does, gives the
//! same figure as one server.

use thiserror::Error;

/// Where the schema lives on a cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cluster {
    /// The cluster's name in the servers' `remote_servers` (a validated identifier).
    pub name: String,
    /// ZooKeeper path of each replicated table; `{database}` and `{table}` are
    /// filled in here, server macros such as `{shard}` by ClickHouse.
    pub replica_path: String,
}

/// Suffix of the replicated table under a public (distributed) name.
pub const LOCAL_SUFFIX: &str = "_local";

/// A statement the cluster transform does not know how to distribute.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("cannot run on a cluster ({reason}):\n{sql}")]
pub struct ClusterSqlError {
    /// What was not understood.
    pub reason: &'static str,
    /// The statement.
    pub sql: String,
}

impl Cluster {
    /// The statements running `sql` (already rendered for database `db`) on
    /// this cluster, in order.
    pub fn transform(&self, sql: &str, db: &str) -> Result<Vec<String>, ClusterSqlError> {
        let err = |reason| ClusterSqlError {
            reason,
            sql: sql.to_string(),
        };
        let c = &self.name;
        let prefix = format!("{db}.");
        if let Some(rest) = sql.strip_prefix("CREATE DATABASE IF NOT EXISTS ") {
            return Ok(vec![format!(
                "CREATE DATABASE IF NOT EXISTS {} ON CLUSTER {c}",
                rest.trim()
            )]);
        }
        if let Some(rest) = sql.strip_prefix("CREATE TABLE IF NOT EXISTS ") {
            let (table, body) = qualified_name(rest, &prefix).ok_or_else(|| err("table name"))?;
            return self.create_table(db, table, body).map_err(err);
        }
        if let Some(rest) = sql.strip_prefix("CREATE MATERIALIZED VIEW IF NOT EXISTS ") {
            let (view, body) = qualified_name(rest, &prefix).ok_or_else(|| err("view name"))?;
            // A view without TO keeps its rows in a hidden inner table, which
            // would be neither replicated nor distributed.
            if !body.trim_start().starts_with("TO ") {
                return Err(err("a materialized view needs TO target"));
            }
            return Ok(vec![format!(
                "CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.{view} ON CLUSTER {c}{}",
                localise(body, &prefix)
            )]);
        }
        if let Some(rest) = sql.strip_prefix("CREATE VIEW IF NOT EXISTS ") {
            // A plain view stores nothing: on every server it reads the
            // distributed tables under their public names, unchanged.
            let (view, body) = qualified_name(rest, &prefix).ok_or_else(|| err("view name"))?;
            return Ok(vec![format!(
                "CREATE VIEW IF NOT EXISTS {db}.{view} ON CLUSTER {c}{body}"
            )]);
        }
        if let Some(rest) = sql.strip_prefix("ALTER TABLE ") {
            let (table, body) = qualified_name(rest, &prefix).ok_or_else(|| err("table name"))?;
            let local = format!("ALTER TABLE {db}.{table}{LOCAL_SUFFIX} ON CLUSTER {c}{body}");
            let body = body.trim_start();
            if !body.starts_with("ADD COLUMN") && !body.starts_with("MODIFY COLUMN") {
                return Ok(vec![local]);
            }
            // A new (or retyped) column must be on the distributed table
            // too, which inserts and queries go through. An ALTER of it ON CLUSTER is
            // refused where shards are replicated (code 371), so it is
            // created again over the altered local table: it holds no rows
            // (the sink inserts with `insert_distributed_sync`).
            let key = sharding_key_of(table)
                .ok_or_else(|| err("a column change to a table no migration creates"))?;
            return Ok(vec![
                local,
                format!("DROP TABLE IF EXISTS {db}.{table} ON CLUSTER {c}"),
                format!(
                    "CREATE TABLE IF NOT EXISTS {db}.{table} ON CLUSTER {c} AS {db}.{table}{LOCAL_SUFFIX} ENGINE = Distributed({c}, {db}, {table}{LOCAL_SUFFIX}, {key})"
                ),
            ]);
        }
        if let Some(rest) = sql.strip_prefix("DROP TABLE IF EXISTS ") {
            let (table, body) = qualified_name(rest, &prefix).ok_or_else(|| err("table name"))?;
            if !body.trim().is_empty() {
                return Err(err("DROP TABLE with more than a name"));
            }
            return Ok(vec![
                format!("DROP TABLE IF EXISTS {db}.{table} ON CLUSTER {c}"),
                format!("DROP TABLE IF EXISTS {db}.{table}{LOCAL_SUFFIX} ON CLUSTER {c}"),
            ]);
        }
        // Inserts (backfills) go through the distributed tables as they are.
        if sql.starts_with("INSERT INTO ") {
            return Ok(vec![sql.to_string()]);
        }
        Err(err("unknown statement kind"))
    }

    fn create_table(&self, db: &str, table: &str, body: &str) -> Result<Vec<String>, &'static str> {
        let c = &self.name;
        let local = format!("{table}{LOCAL_SUFFIX}");
        let at = body.find("ENGINE = ").ok_or("no ENGINE")?;
        let (columns, engine) = (&body[..at], &body[at + "ENGINE = ".len()..]);
        let name_end = engine
            .find(|ch: char| !ch.is_ascii_alphanumeric())
            .unwrap_or(engine.len());
        let (engine_name, after) = engine.split_at(name_end);
        if !engine_name.ends_with("MergeTree") || engine_name.starts_with("Replicated") {
            return Err("only non-replicated *MergeTree tables can be distributed");
        }
        let path = self
            .replica_path
            .replace("{database}", db)
            .replace("{table}", &local);
        // `ENGINE = X(args) rest` or `ENGINE = X rest`: the replication
        // arguments go first, the engine's own after them.
        let (args, rest) = match after.strip_prefix('(') {
            Some(inner) => {
                let close = matching_paren(inner).ok_or("unbalanced engine arguments")?;
                (format!(", {}", &inner[..close]), &inner[close + 1..])
            }
            None => (String::new(), after),
        };
        let key = sharding_key(columns, rest).ok_or("no post_id column and no ORDER BY")?;
        Ok(vec![
            format!(
                "CREATE TABLE IF NOT EXISTS {db}.{local} ON CLUSTER {c}{columns}ENGINE = Replicated{engine_name}('{path}', '{{replica}}'{args}){rest}"
            ),
            format!(
                "CREATE TABLE IF NOT EXISTS {db}.{table} ON CLUSTER {c} AS {db}.{local} ENGINE = Distributed({c}, {db}, {local}, {key})"
            ),
        ])
    }
}

/// `db.name rest` → (`name`, `rest`), when `s` starts with `prefix` (`db.`).
fn qualified_name<'a>(s: &'a str, prefix: &str) -> Option<(&'a str, &'a str)> {
    let s = s.strip_prefix(prefix)?;
    let end = s
        .find(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '_'))
        .unwrap_or(s.len());
    (end > 0).then(|| s.split_at(end))
}

/// Every `db.table` in `s` renamed to `db.table_local`.
fn localise(s: &str, prefix: &str) -> String {
    let mut out = String::with_capacity(s.len() + 32);
    let mut rest = s;
    while let Some(at) = rest.find(prefix) {
        let after = &rest[at + prefix.len()..];
        let end = after
            .find(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '_'))
            .unwrap_or(after.len());
        // Only a whole identifier (`x.db.t` or `mydb.t` are not ours).
        let starts_word = rest[..at]
            .chars()
            .next_back()
            .is_none_or(|ch| !(ch.is_ascii_alphanumeric() || ch == '_' || ch == '.'));
        out.push_str(&rest[..at + prefix.len() + end]);
        if starts_word && end > 0 {
            out.push_str(LOCAL_SUFFIX);
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// Index of the `)` closing the parenthesis just before `s`.
fn matching_paren(s: &str) -> Option<usize> {
    let mut depth = 1usize;
    for (i, ch) in s.char_indices() {
        match ch {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// The sharding key `table` was distributed with, from its `CREATE` in the
/// migrations (as [`Cluster::transform`] chose it then).
fn sharding_key_of(table: &str) -> Option<String> {
    let head = format!("CREATE TABLE IF NOT EXISTS {{db}}.{table} ");
    let body = super::schema::MIGRATIONS
        .iter()
        .flat_map(|m| m.statements.iter())
        .find_map(|s| s.strip_prefix(head.as_str()))?;
    let at = body.find("ENGINE = ")?;
    sharding_key(&body[..at], &body[at..])
}

/// `cityHash64(post_id)` when the table has a `post_id` column, otherwise a
/// hash of its sorting key (the columns `ORDER BY` names in `rest`).
fn sharding_key(columns: &str, rest: &str) -> Option<String> {
    if columns
        .lines()
        .any(|l| l.trim_start().starts_with("post_id "))
    {
        return Some("cityHash64(post_id)".into());
    }
    let order = &rest[rest.find("ORDER BY ")? + "ORDER BY ".len()..];
    let order = order.lines().next()?.trim();
    let inner = order
        .strip_prefix('(')
        .and_then(|o| o.strip_suffix(')'))
        .unwrap_or(order);
    (!inner.is_empty()).then(|| format!("cityHash64({inner})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster() -> Cluster {
        Cluster {
            name: "c1".into(),
            replica_path: "/clickhouse/tables/{shard}/{database}/{table}".into(),
        }
    }

    /// Issue 16: a column added to a table reaches its distributed table,
    /// created again over the altered local one with the same sharding key.
    #[test]
    fn issue_16_add_column_recreates_the_distributed_table() {
        let sql = "ALTER TABLE e.interactions ADD COLUMN x String DEFAULT ''";
        assert_eq!(
            cluster().transform(sql, "e").unwrap(),
            [
                "ALTER TABLE e.interactions_local ON CLUSTER c1 ADD COLUMN x String DEFAULT ''",
                "DROP TABLE IF EXISTS e.interactions ON CLUSTER c1",
                "CREATE TABLE IF NOT EXISTS e.interactions ON CLUSTER c1 AS e.interactions_local ENGINE = Distributed(c1, e, interactions_local, cityHash64(post_id))",
            ]
        );
        let err = cluster()
            .transform("ALTER TABLE e.nope ADD COLUMN x String", "e")
            .unwrap_err();
        assert_eq!(
            err.reason,
            "a column change to a table no migration creates"
        );
    }

    /// Issue 16 item 3: a retyped column (`route` from Enum8 to a name)
    /// reaches the distributed table the same way.
    #[test]
    fn issue_16_modify_column_recreates_the_distributed_table() {
        let sql = "ALTER TABLE e.mentions MODIFY COLUMN route String";
        let out = cluster().transform(sql, "e").unwrap();
        assert_eq!(out.len(), 3, "{out:#?}");
        assert_eq!(
            out[0],
            "ALTER TABLE e.mentions_local ON CLUSTER c1 MODIFY COLUMN route String"
        );
        assert_eq!(out[1], "DROP TABLE IF EXISTS e.mentions ON CLUSTER c1");
        assert!(
            out[2].starts_with("CREATE TABLE IF NOT EXISTS e.mentions ON CLUSTER c1 AS e.mentions_local ENGINE = Distributed("),
            "{}",
            out[2]
        );
    }

    #[test]
    fn tables_become_replicated_local_tables_under_distributed_names() {
        let sql = "CREATE TABLE IF NOT EXISTS e.responses (\n    post_id String,\n    at DateTime\n) ENGINE = ReplacingMergeTree(at)\nORDER BY post_id";
        let out = cluster().transform(sql, "e").unwrap();
        assert_eq!(
            out,
            [
                "CREATE TABLE IF NOT EXISTS e.responses_local ON CLUSTER c1 (\n    post_id String,\n    at DateTime\n) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/e/responses_local', '{replica}', at)\nORDER BY post_id",
                "CREATE TABLE IF NOT EXISTS e.responses ON CLUSTER c1 AS e.responses_local ENGINE = Distributed(c1, e, responses_local, cityHash64(post_id))",
            ]
        );
        // No engine arguments, and no post_id: the sorting key shards.
        let sql = "CREATE TABLE IF NOT EXISTS e.alerts (\n    brand String,\n    rule String\n) ENGINE = MergeTree\nORDER BY (brand, rule)";
        let out = cluster().transform(sql, "e").unwrap();
        assert!(out[0].contains("ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/e/alerts_local', '{replica}')\nORDER BY (brand, rule)"), "{out:#?}");
        assert!(out[1].ends_with("Distributed(c1, e, alerts_local, cityHash64(brand, rule))"));
    }

    #[test]
    fn views_read_and_write_local_tables_and_alters_go_to_them() {
        let sql = "CREATE MATERIALIZED VIEW IF NOT EXISTS e.m_mv TO e.m AS\nSELECT x FROM e.mentions WHERE y IN (SELECT y FROM e.other)";
        assert_eq!(
            cluster().transform(sql, "e").unwrap(),
            ["CREATE MATERIALIZED VIEW IF NOT EXISTS e.m_mv ON CLUSTER c1 TO e.m_local AS\nSELECT x FROM e.mentions_local WHERE y IN (SELECT y FROM e.other_local)"]
        );
        assert_eq!(
            cluster()
                .transform("ALTER TABLE e.m MODIFY TTL t + toIntervalDay(3)", "e")
                .unwrap(),
            ["ALTER TABLE e.m_local ON CLUSTER c1 MODIFY TTL t + toIntervalDay(3)"]
        );
        assert_eq!(
            cluster()
                .transform("CREATE DATABASE IF NOT EXISTS e", "e")
                .unwrap(),
            ["CREATE DATABASE IF NOT EXISTS e ON CLUSTER c1"]
        );
        assert_eq!(localise("FROM xe.t, e.t2", "e."), "FROM xe.t, e.t2_local");
    }

    #[test]
    fn plain_views_read_the_distributed_tables() {
        assert_eq!(
            cluster()
                .transform("CREATE VIEW IF NOT EXISTS e.v AS SELECT * FROM e.t", "e")
                .unwrap(),
            ["CREATE VIEW IF NOT EXISTS e.v ON CLUSTER c1 AS SELECT * FROM e.t"]
        );
    }

    #[test]
    fn what_cannot_be_distributed_is_refused() {
        let c = cluster();
        for sql in [
            "CREATE MATERIALIZED VIEW IF NOT EXISTS e.v AS SELECT 1",
            "CREATE TABLE IF NOT EXISTS e.t (a String) ENGINE = Log",
            "CREATE TABLE IF NOT EXISTS e.t (a String) ENGINE = ReplicatedMergeTree('/p', 'r') ORDER BY a",
            "CREATE TABLE IF NOT EXISTS e.t (a String) ENGINE = MergeTree",
            "RENAME TABLE e.a TO e.b",
            "CREATE TABLE IF NOT EXISTS other.t (a String) ENGINE = MergeTree ORDER BY a",
        ] {
            assert!(c.transform(sql, "e").is_err(), "{sql}");
        }
    }
}
