//! The embedded store's write path: a batch's rows and mentions in its
//! transaction, the later scoring of a post winning.
//!
//! Most posts are new. Issue 11: one statement a row cost about a sixth of
//! the row in statement set-up and teardown, so new posts go in several at
//! a time: a multi-row `INSERT ... ON CONFLICT DO NOTHING` of a run of rows
//! (a power of two up to [`MAX_ROWS`]) inside a savepoint. When it stored
//! every row, the run is done but for its mentions (also several rows a
//! statement) and rollups. When it did not (a post stored already, or the
//! same post twice in the run), the savepoint is rolled back and the run
//! goes row by row: a stored post is read (what it added to the rollups),
//! replaced when this scoring is as new, and its mentions cleared, whatever
//! its cluster.

use std::borrow::Cow;
use std::sync::OnceLock;

use earshot_model::{EntityKind, Interaction};
use rusqlite::{Connection, Statement, ToSql};

use super::rollup::{Rollup, Stored};
use crate::clickhouse::rows::{event_time, version};
use crate::BatchItem;

/// The most rows one multi-row statement writes (runs are powers of two up
/// to it, so a handful of cached statements serve any batch). Measured
/// (benches/sqlite_upsert.rs): 8 beats 4, 16 and 32, whose bound texts
/// outgrow SQLite's lookaside slots and go to malloc.
pub(super) const MAX_ROWS: usize = 8;

/// The columns of an `interactions` row, in binding order.
const COLUMNS: &str = "post_id, source, event_time, published_at, fetched_at, scored_at, url, author_handle, author_name,
    author_reach, title, text, lang, brands, competitors, customers, intents, route, priority,
    priority_reasons, sentiment_label, sentiment_compound, likes, replies, reposts, reply_to, thread_id,
    watchlist_version, version, clamped, cluster_id, cluster_size, near_duplicate, bot_like, bot_reasons";
const COLUMN_COUNT: usize = 35;

/// A post's row replacing a stored one scored by an older version.
const ON_CONFLICT_REPLACE: &str = "ON CONFLICT(post_id) DO UPDATE SET
    source = excluded.source, event_time = excluded.event_time, published_at = excluded.published_at,
    fetched_at = excluded.fetched_at, scored_at = excluded.scored_at, url = excluded.url,
    author_handle = excluded.author_handle, author_name = excluded.author_name, author_reach = excluded.author_reach,
    title = excluded.title, text = excluded.text, lang = excluded.lang, brands = excluded.brands,
    competitors = excluded.competitors, customers = excluded.customers, intents = excluded.intents,
    route = excluded.route, priority = excluded.priority, priority_reasons = excluded.priority_reasons,
    sentiment_label = excluded.sentiment_label, sentiment_compound = excluded.sentiment_compound,
    likes = excluded.likes, replies = excluded.replies, reposts = excluded.reposts, reply_to = excluded.reply_to,
    thread_id = excluded.thread_id, watchlist_version = excluded.watchlist_version, version = excluded.version,
    clamped = excluded.clamped, cluster_id = excluded.cluster_id, cluster_size = excluded.cluster_size,
    near_duplicate = excluded.near_duplicate, bot_like = excluded.bot_like, bot_reasons = excluded.bot_reasons
WHERE excluded.version >= interactions.version";

const MENTION_COLUMNS: &str =
    "entity_id, entity_kind, event_time, post_id, source, sentiment_label,
    sentiment_compound, author_reach, priority, route, version, cluster_id";
const MENTION_COLUMN_COUNT: usize = 12;

/// `INSERT INTO table (columns) VALUES (?1, ...), ... tail` for `rows` rows.
fn insert_sql(table: &str, columns: &str, count: usize, rows: usize, tail: &str) -> String {
    let mut sql = format!("INSERT INTO {table} ({columns}) VALUES ");
    for r in 0..rows {
        sql.push_str(if r == 0 { "(" } else { ", (" });
        for c in 0..count {
            if c > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!("?{}", r * count + c + 1));
        }
        sql.push(')');
    }
    sql.push('\n');
    sql.push_str(tail);
    sql
}

/// The statements' text, built once: index `k` writes `2^k` rows.
struct Sql {
    new_rows: Vec<String>,
    mentions: Vec<String>,
    replace: String,
}

fn sql() -> &'static Sql {
    static SQL: OnceLock<Sql> = OnceLock::new();
    SQL.get_or_init(|| {
        let sizes = || (0..=MAX_ROWS.trailing_zeros()).map(|k| 1usize << k);
        Sql {
            new_rows: sizes()
                .map(|n| {
                    let tail = "ON CONFLICT(post_id) DO NOTHING";
                    insert_sql("interactions", COLUMNS, COLUMN_COUNT, n, tail)
                })
                .collect(),
            mentions: sizes()
                .map(|n| insert_sql("mentions", MENTION_COLUMNS, MENTION_COLUMN_COUNT, n, ""))
                .collect(),
            replace: insert_sql(
                "interactions",
                COLUMNS,
                COLUMN_COUNT,
                1,
                ON_CONFLICT_REPLACE,
            ),
        }
    })
}

/// The largest power of two not above `n` (≥ 1), capped at [`MAX_ROWS`].
fn run_len(n: usize) -> usize {
    (1usize << (usize::BITS - 1 - n.leading_zeros())).min(MAX_ROWS)
}

/// Writes `items` (a batch, in order) and adds their changes to `hourly`.
pub(super) fn write_items<'a>(
    conn: &Connection,
    items: &'a [BatchItem],
    hourly: &mut Rollup<'a>,
) -> rusqlite::Result<()> {
    let mut rest = items;
    while !rest.is_empty() {
        let (run, after) = rest.split_at(run_len(rest.len()));
        if run.len() == 1 || !insert_new_run(conn, run)? {
            for item in run {
                write_one(conn, item, hourly)?;
            }
        } else {
            let written: Vec<_> = run
                .iter()
                .map(|item| mentions_of(&item.interaction))
                .collect();
            insert_mentions(conn, run, &written)?;
            for (item, mentions) in run.iter().zip(&written) {
                add_to_rollup(hourly, &item.interaction, mentions);
            }
        }
        rest = after;
    }
    Ok(())
}

/// Inserts a run of posts if none is stored (nor repeated in the run):
/// true when done, false when nothing was written.
fn insert_new_run(conn: &Connection, run: &[BatchItem]) -> rusqlite::Result<bool> {
    conn.prepare_cached("SAVEPOINT new_rows")?.execute([])?;
    let mut stmt = conn.prepare_cached(&sql().new_rows[run.len().trailing_zeros() as usize])?;
    for (n, item) in run.iter().enumerate() {
        bind_row(&mut stmt, n * COLUMN_COUNT, item)?;
    }
    let stored = stmt.raw_execute()? == run.len();
    if !stored {
        conn.prepare_cached("ROLLBACK TO new_rows")?.execute([])?;
    }
    conn.prepare_cached("RELEASE new_rows")?.execute([])?;
    Ok(stored)
}

/// One post: inserted when new; otherwise its stored row is replaced (and
/// its rollups and mentions with it) unless the stored scoring is newer.
fn write_one<'a>(
    conn: &Connection,
    item: &'a BatchItem,
    hourly: &mut Rollup<'a>,
) -> rusqlite::Result<()> {
    let i = &item.interaction;
    let mut insert = conn.prepare_cached(&sql().new_rows[0])?;
    bind_row(&mut insert, 0, item)?;
    if insert.raw_execute()? == 0 {
        let stored = Stored::read(conn, &i.post.id)?;
        let mut replace = conn.prepare_cached(&sql().replace)?;
        bind_row(&mut replace, 0, item)?;
        if replace.raw_execute()? == 0 {
            return Ok(()); // an older scoring than the stored one: keep the stored row and its mentions
        }
        hourly.remove(stored);
        conn.prepare_cached("DELETE FROM mentions WHERE post_id = ?1")?
            .execute([&i.post.id])?;
    }
    let mentions = mentions_of(i);
    insert_mentions(
        conn,
        std::slice::from_ref(item),
        std::slice::from_ref(&mentions),
    )?;
    add_to_rollup(hourly, i, &mentions);
    Ok(())
}

fn add_to_rollup<'a>(hourly: &mut Rollup<'a>, i: &'a Interaction, mentions: &[Mention<'a>]) {
    let keys: Vec<_> = mentions
        .iter()
        .map(|m| (m.entity, m.kind, m.label))
        .collect();
    hourly.add(i, event_time(i).into(), &keys);
}

/// Inserts the mentions of `items` (`mentions[n]` those of `items[n]`),
/// several rows a statement.
fn insert_mentions(
    conn: &Connection,
    items: &[BatchItem],
    mentions: &[Vec<Mention<'_>>],
) -> rusqlite::Result<()> {
    let mut rows = items
        .iter()
        .zip(mentions)
        .flat_map(|(item, ms)| ms.iter().map(move |m| (&item.interaction, m)))
        .peekable();
    let mut left: usize = mentions.iter().map(Vec::len).sum();
    while left > 0 {
        let n = run_len(left);
        let mut stmt = conn.prepare_cached(&sql().mentions[n.trailing_zeros() as usize])?;
        for (r, (i, m)) in rows.by_ref().take(n).enumerate() {
            let at = r * MENTION_COLUMN_COUNT;
            let values: [&dyn ToSql; MENTION_COLUMN_COUNT] = [
                &m.entity,
                &m.kind.as_str(),
                &event_time(i),
                &i.post.id,
                &i.post.source,
                &m.label,
                &m.compound,
                &clamp(i.post.author.reach).0,
                &i.priority,
                &i.route.as_str(),
                &(version(i) as i64),
                &i.noise.cluster_id.as_deref().unwrap_or(""),
            ];
            for (c, v) in values.into_iter().enumerate() {
                stmt.raw_bind_parameter(at + c + 1, v)?;
            }
        }
        stmt.raw_execute()?;
        left -= n;
    }
    Ok(())
}

/// A list of names as the JSON array the column holds (most are empty).
fn json<S: AsRef<str> + serde::Serialize>(v: &[S]) -> Cow<'static, str> {
    if v.is_empty() {
        return Cow::Borrowed("[]");
    }
    Cow::Owned(serde_json::to_string(v).expect("string lists serialize"))
}

/// Binds `item`'s row to parameters `at + 1 ..= at + 35` of `stmt`.
fn bind_row(stmt: &mut Statement<'_>, at: usize, item: &BatchItem) -> rusqlite::Result<()> {
    let i = &item.interaction;
    let p = &i.post;
    let intents: Vec<&str> = i.intents.iter().map(|x| x.as_str()).collect();
    let counts = [
        ("author_reach", p.author.reach),
        ("likes", p.engagement.likes),
        ("replies", p.engagement.replies),
        ("reposts", p.engagement.reposts),
    ]
    .map(|(name, v)| (name, clamp(v)));
    let clamped: Vec<&str> = counts
        .iter()
        .filter(|(_, (_, was_clamped))| *was_clamped)
        .map(|(name, _)| *name)
        .collect();
    let [reach, likes, replies, reposts] = counts.map(|(_, (v, _))| v);
    let values: [&dyn ToSql; COLUMN_COUNT] = [
        &p.id,
        &p.source,
        &event_time(i),
        &p.published_at.map(|t| t.timestamp()),
        &p.fetched_at.map(|t| t.timestamp()),
        &i.scored_at.timestamp(),
        &p.url.as_deref().unwrap_or(""),
        &p.author.handle.as_deref().unwrap_or(""),
        &p.author.display_name.as_deref().unwrap_or(""),
        &reach,
        &p.title.as_deref().unwrap_or(""),
        &p.text,
        &p.lang.as_deref().unwrap_or(""),
        &json(&i.entities(EntityKind::Brand)),
        &json(&i.entities(EntityKind::Competitor)),
        &json(&i.entities(EntityKind::Customer)),
        &json(&intents),
        &i.route.as_str(),
        &i.priority,
        &json(&i.priority_reasons),
        &i.sentiment.label.as_str(),
        &i.sentiment.compound,
        &likes,
        &replies,
        &reposts,
        &p.reply_to.as_deref().unwrap_or(""),
        &p.thread_id.as_deref().unwrap_or(""),
        &i.watchlist_version,
        &(version(i) as i64),
        &clamped.join(","),
        &i.noise.cluster_id.as_deref().unwrap_or(""),
        &i.noise.cluster_size,
        &i.noise.near_duplicate,
        &i.noise.bot_like,
        &json(&i.noise.bot_reasons),
    ];
    for (c, v) in values.into_iter().enumerate() {
        stmt.raw_bind_parameter(at + c + 1, v)?;
    }
    Ok(())
}

/// A count as SQLite stores it (0 when unknown), and whether it had to be
/// clamped to `i64::MAX`: `as i64` would have wrapped `u64::MAX` to -1.
pub(super) fn clamp(v: Option<u64>) -> (i64, bool) {
    let v = v.unwrap_or(0);
    match i64::try_from(v) {
        Ok(v) => (v, false),
        Err(_) => (i64::MAX, true),
    }
}

/// A row of `mentions`: an entity a post names, with the entity's own
/// sentiment where known.
struct Mention<'a> {
    entity: &'a str,
    kind: EntityKind,
    label: &'static str,
    compound: f32,
}

/// Distinct (entity, kind) pairs with the entity's own sentiment where known.
fn mentions_of(i: &Interaction) -> Vec<Mention<'_>> {
    let mut out: Vec<Mention<'_>> = Vec::new();
    for m in &i.matches {
        if out
            .iter()
            .any(|o| o.entity == m.entity_id && o.kind == m.kind)
        {
            continue;
        }
        let (label, compound) = i.sentiment_toward(&m.entity_id);
        out.push(Mention {
            entity: &m.entity_id,
            kind: m.kind,
            label: label.as_str(),
            compound,
        });
    }
    out
}
