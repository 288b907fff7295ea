//! The threads of a window on the embedded store: those that name a brand,
//! competitor or customer, aggregated as their posts stream out of SQLite.
//!
//! The same figures as `threads.sql` on ClickHouse. Grouping in SQL
//! (`GROUP BY` with `json_group_array`, a correlated subquery per post and a
//! second sort for the order) cost about 30k instructions a post and was
//! most of `earshot report` and of the report that ends `earshot run`
//! (issue 11); sorting every post of the window by thread still cost half
//! of it. So the threads are found first (the posts naming an entity give
//! their keys), then one pass over the window's posts, in no order, sums up
//! each of those threads in a hash map. A window with more such threads than
//! [`HASHED_THREADS`] (whose map would not stay small) is grouped by
//! SQLite's sorter instead, which spills to disk: memory stays bounded
//! whatever the window. Either way only the [`MAX_THREADS`] newest threads
//! are kept.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};

use super::{first_response, ThreadSummary, MAX_THREADS};
use crate::report::from_secs;

/// Threads summed up in a hash map at most (about 200 bytes each, so some
/// 50 MB; the summaries kept are up to [`MAX_THREADS`] anyway); a window
/// with more is grouped by sorting.
const HASHED_THREADS: usize = 250_000;

/// A post's thread: its `thread_id`, else the post it replies to, else itself.
macro_rules! thread_of {
    () => {
        "COALESCE(NULLIF(i.thread_id, ''), NULLIF(i.reply_to, ''), i.post_id)"
    };
}

/// A post names a brand, competitor or customer.
macro_rules! named {
    () => {
        "(i.brands != '[]' OR i.competitors != '[]' OR i.customers != '[]')"
    };
}

/// The threads of `[since, until)` that name a brand, competitor or
/// customer, a row per post naming one.
const NAMING_THREADS: &str = concat!(
    "SELECT ",
    thread_of!(),
    " FROM interactions i
WHERE i.event_time >= ?1 AND i.event_time < ?2 AND ",
    named!()
);

/// The posts of `[since, until)`, one row each. `r` has at most one row a
/// post (its primary key), so the join keeps one row a post.
macro_rules! posts {
    () => {
        concat!(
            "SELECT ",
            thread_of!(),
            " AS thread,
       i.event_time, i.source, i.author_handle, i.brands, i.competitors,
       i.sentiment_label = 'negative', r.responded_at, ",
            named!(),
            "
FROM interactions i LEFT JOIN responses r ON r.post_id = i.post_id
WHERE i.event_time >= ?1 AND i.event_time < ?2"
        )
    };
}

/// The window's posts in no particular order.
const POSTS: &str = posts!();

/// The window's posts grouped by thread.
const POSTS_BY_THREAD: &str = concat!(posts!(), " ORDER BY thread");

/// One thread's figures so far.
#[derive(Default)]
struct Acc {
    thread: String,
    /// First post not by an own account.
    started: Option<i64>,
    posts: u64,
    negative: bool,
    entities: Vec<String>,
    own_times: Vec<i64>,
    responded: Option<i64>,
    /// A post names a brand, competitor or customer.
    named: bool,
}

impl Acc {
    /// Counts the post in row `r` of [`POSTS`]; `key` is scratch space.
    fn add(
        &mut self,
        r: &rusqlite::Row<'_>,
        own: &HashSet<&str>,
        key: &mut String,
    ) -> rusqlite::Result<()> {
        let t: i64 = r.get(1)?;
        // As SQLite's `lower(source || ':' || handle)`: ASCII letters only.
        let is_own = !own.is_empty() && {
            key.clear();
            key.push_str(text(r, 2)?);
            key.push(':');
            key.push_str(text(r, 3)?);
            key.make_ascii_lowercase();
            own.contains(key.as_str())
        };
        self.posts += 1;
        if is_own {
            self.own_times.push(t);
        } else {
            self.started = Some(self.started.map_or(t, |s| s.min(t)));
            self.negative |= r.get::<_, bool>(6)?;
        }
        extend_names(&mut self.entities, text(r, 4)?);
        extend_names(&mut self.entities, text(r, 5)?);
        if let Some(at) = r.get::<_, Option<i64>>(7)? {
            self.responded = Some(self.responded.map_or(at, |a| a.min(at)));
        }
        self.named |= r.get::<_, bool>(8)?;
        Ok(())
    }

    /// The thread's summary, if it has a post not by an own account and
    /// names a brand, competitor or customer.
    fn summary(mut self) -> Option<ThreadSummary> {
        let started = self.started.filter(|_| self.named)?;
        self.entities.sort_unstable();
        self.entities.dedup();
        Some(ThreadSummary {
            thread: self.thread,
            started: from_secs(started),
            posts: self.posts,
            negative: self.negative,
            entities: self.entities,
            first_response: first_response(started, &self.own_times, self.responded).map(from_secs),
        })
    }
}

/// The newest threads, at most `cap`: a heap whose top is the oldest kept
/// (latest start first, then thread id, as the SQL orders them).
struct Newest {
    heap: BinaryHeap<Reverse<ByStart>>,
    cap: usize,
}

/// A summary ordered by start, then by thread id reversed: the greatest is
/// the one listed first.
struct ByStart(ThreadSummary);

impl PartialEq for ByStart {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}
impl Eq for ByStart {}
impl PartialOrd for ByStart {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for ByStart {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.0.started, &other.0.thread).cmp(&(other.0.started, &self.0.thread))
    }
}

impl Newest {
    fn push(&mut self, t: ThreadSummary) {
        let t = ByStart(t);
        if self.heap.len() < self.cap {
            self.heap.push(Reverse(t));
        } else if let Some(mut oldest) = self.heap.peek_mut() {
            if t > oldest.0 {
                *oldest = Reverse(t);
            }
        }
    }

    /// Latest start first, then thread id.
    fn into_sorted(self) -> Vec<ThreadSummary> {
        // Ascending `Reverse` is descending `ByStart`: the first listed first.
        self.heap
            .into_sorted_vec()
            .into_iter()
            .map(|Reverse(ByStart(t))| t)
            .collect()
    }
}

/// Appends a JSON list of names (`brands`, `competitors`) to `out`.
fn extend_names(out: &mut Vec<String>, json: &str) {
    if json != "[]" {
        out.extend(serde_json::from_str::<Vec<String>>(json).unwrap_or_default());
    }
}

/// Column `i` of `r` as text, borrowed.
fn text<'a>(r: &'a rusqlite::Row<'_>, i: usize) -> rusqlite::Result<&'a str> {
    r.get_ref(i)?.as_str().map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e))
    })
}

/// Threads naming a brand, competitor or customer with a post not by an
/// own account in `[since, until)`, newest first; `own` lists the own accounts as
/// `network:handle`, lowercase.
pub(super) fn threads(
    c: &rusqlite::Connection,
    since: i64,
    until: i64,
    own: &[String],
) -> rusqlite::Result<Vec<ThreadSummary>> {
    newest_threads(c, since, until, own, MAX_THREADS as usize, HASHED_THREADS)
}

/// [`threads`], the `cap` newest, hashing at most `hashed` threads.
fn newest_threads(
    c: &rusqlite::Connection,
    since: i64,
    until: i64,
    own: &[String],
    cap: usize,
    hashed: usize,
) -> rusqlite::Result<Vec<ThreadSummary>> {
    let own: HashSet<&str> = own.iter().map(String::as_str).collect();
    let mut newest = Newest {
        heap: BinaryHeap::new(),
        cap,
    };
    match naming_threads(c, since, until, hashed)? {
        Some(threads) => by_hashing(c, since, until, &own, threads, &mut newest)?,
        None => by_sorting(c, since, until, &own, &mut newest)?,
    }
    Ok(newest.into_sorted())
}

/// The threads naming an entity, each with nothing counted yet; `None`
/// when there are more than `max`.
fn naming_threads(
    c: &rusqlite::Connection,
    since: i64,
    until: i64,
    max: usize,
) -> rusqlite::Result<Option<HashMap<String, Acc>>> {
    let mut stmt = c.prepare_cached(NAMING_THREADS)?;
    let mut rows = stmt.query(rusqlite::params![since, until])?;
    let mut threads = HashMap::new();
    while let Some(r) = rows.next()? {
        let thread = text(r, 0)?;
        if !threads.contains_key(thread) {
            if threads.len() == max {
                return Ok(None);
            }
            threads.insert(thread.to_string(), Acc::default());
        }
    }
    Ok(Some(threads))
}

/// Sums up `threads` over the window's posts, in one pass in any order.
fn by_hashing(
    c: &rusqlite::Connection,
    since: i64,
    until: i64,
    own: &HashSet<&str>,
    mut threads: HashMap<String, Acc>,
    newest: &mut Newest,
) -> rusqlite::Result<()> {
    if threads.is_empty() {
        return Ok(());
    }
    let mut key = String::new();
    let mut stmt = c.prepare_cached(POSTS)?;
    let mut rows = stmt.query(rusqlite::params![since, until])?;
    while let Some(r) = rows.next()? {
        if let Some(acc) = threads.get_mut(text(r, 0)?) {
            acc.add(r, own, &mut key)?;
        }
    }
    for (thread, mut acc) in threads {
        acc.thread = thread;
        if let Some(done) = acc.summary() {
            newest.push(done);
        }
    }
    Ok(())
}

/// Sums up every thread as its last post goes by, the posts sorted by thread.
fn by_sorting(
    c: &rusqlite::Connection,
    since: i64,
    until: i64,
    own: &HashSet<&str>,
    newest: &mut Newest,
) -> rusqlite::Result<()> {
    let mut key = String::new();
    let mut stmt = c.prepare_cached(POSTS_BY_THREAD)?;
    let mut rows = stmt.query(rusqlite::params![since, until])?;
    let mut acc = Acc::default();
    while let Some(r) = rows.next()? {
        let thread = text(r, 0)?;
        if thread != acc.thread || acc.posts == 0 {
            if let Some(done) = std::mem::take(&mut acc).summary() {
                newest.push(done);
            }
            acc.thread = thread.to_string();
        }
        acc.add(r, own, &mut key)?;
    }
    if let Some(done) = acc.summary() {
        newest.push(done);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The grouping in SQL this module replaced: the reference.
    const GROUPED_IN_SQL: &str = "
SELECT thread, MIN(CASE WHEN own = 0 THEN t END) AS started, COUNT(*),
       MAX(CASE WHEN own = 0 AND neg THEN 1 ELSE 0 END),
       json_group_array(json(brands)), json_group_array(json(competitors)),
       json_group_array(CASE WHEN own = 1 THEN t END), MIN(resp)
FROM (
    SELECT i.post_id, COALESCE(NULLIF(i.thread_id, ''), NULLIF(i.reply_to, ''), i.post_id) AS thread,
           i.event_time AS t, i.brands, i.competitors,
           lower(i.source || ':' || i.author_handle) IN (SELECT value FROM json_each(?3)) AS own,
           i.sentiment_label = 'negative' AS neg,
           (i.brands != '[]' OR i.competitors != '[]' OR i.customers != '[]') AS named,
           (SELECT MIN(r.responded_at) FROM responses r WHERE r.post_id = i.post_id) AS resp
    FROM interactions i
    WHERE i.event_time >= ?1 AND i.event_time < ?2)
GROUP BY thread
HAVING started IS NOT NULL AND MAX(named)
ORDER BY started DESC, thread
LIMIT ?4";

    fn reference(
        c: &rusqlite::Connection,
        since: i64,
        until: i64,
        own: &[String],
        cap: usize,
    ) -> Vec<ThreadSummary> {
        let lists = |json: String| -> Vec<Vec<String>> { serde_json::from_str(&json).unwrap() };
        let own = serde_json::to_string(own).unwrap();
        let mut stmt = c.prepare(GROUPED_IN_SQL).unwrap();
        let rows = stmt
            .query_map(rusqlite::params![since, until, own, cap as i64], |r| {
                let started: i64 = r.get(1)?;
                let mut entities: Vec<String> = lists(r.get(4)?)
                    .into_iter()
                    .chain(lists(r.get(5)?))
                    .flatten()
                    .collect();
                entities.sort_unstable();
                entities.dedup();
                let own_times: Vec<i64> =
                    serde_json::from_str::<Vec<Option<i64>>>(&r.get::<_, String>(6)?)
                        .unwrap()
                        .into_iter()
                        .flatten()
                        .collect();
                let responded: Option<i64> = r.get(7)?;
                Ok(ThreadSummary {
                    thread: r.get(0)?,
                    started: from_secs(started),
                    posts: r.get::<_, i64>(2)? as u64,
                    negative: r.get::<_, i64>(3)? != 0,
                    entities,
                    first_response: first_response(started, &own_times, responded).map(from_secs),
                })
            })
            .unwrap();
        rows.collect::<rusqlite::Result<_>>().unwrap()
    }

    /// A store of `n` posts in threads, replies, own accounts in any case,
    /// responses and entity lists, from a seeded generator.
    fn store(seed: u64, n: usize) -> rusqlite::Connection {
        let c = rusqlite::Connection::open_in_memory().unwrap();
        c.execute_batch(
            "CREATE TABLE interactions (post_id TEXT PRIMARY KEY, source TEXT NOT NULL,
                 event_time INTEGER NOT NULL, author_handle TEXT NOT NULL, brands TEXT NOT NULL,
                 competitors TEXT NOT NULL, sentiment_label TEXT NOT NULL, reply_to TEXT NOT NULL,
                 thread_id TEXT NOT NULL, customers TEXT NOT NULL);
             CREATE INDEX interactions_event_time ON interactions (event_time);
             CREATE TABLE responses (post_id TEXT PRIMARY KEY, responded_at INTEGER NOT NULL);",
        )
        .unwrap();
        let mut x = seed | 1;
        let mut next = |m: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % m
        };
        let pick = |i: u64, from: &[&'static str]| from[i as usize % from.len()];
        for i in 0..n {
            let id = format!("p{i}");
            let thread = if next(4) == 0 {
                format!("t{}", next(8))
            } else {
                String::new()
            };
            let reply = if i > 0 && next(3) == 0 {
                format!("p{}", next(i as u64))
            } else {
                String::new()
            };
            let names = |k: u64| match k {
                0 | 1 => "[]",
                2 => r#"["acme"]"#,
                3 => r#"["acme","globex"]"#,
                _ => r#"["globex"]"#,
            };
            c.execute(
                "INSERT INTO interactions VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                rusqlite::params![
                    id,
                    pick(next(2), &["x", "reddit"]),
                    next(1000) as i64,
                    pick(next(6), &["", "Acme", "acme", "bob", "CAROL", "carol"]),
                    names(next(5)),
                    names(next(6)),
                    pick(next(3), &["negative", "neutral", "positive"]),
                    reply,
                    thread,
                    if next(4) == 0 { r#"["initech"]"# } else { "[]" },
                ],
            )
            .unwrap();
            if next(5) == 0 {
                c.execute(
                    "INSERT INTO responses VALUES (?1, ?2)",
                    rusqlite::params![id, next(1200) as i64],
                )
                .unwrap();
            }
        }
        c
    }

    /// The threads naming an entity are found through migration 25's
    /// partial index, not by reading every post of the window.
    #[test]
    fn issue_11_naming_threads_read_only_named_posts() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::sqlite::SqliteStore::open(&dir.path().join("t.db")).unwrap();
        store.migrate().unwrap();
        let plan = store
            .with_connection(|c| {
                c.query_row(
                    &format!("EXPLAIN QUERY PLAN {NAMING_THREADS}"),
                    rusqlite::params![0, 1],
                    |r| r.get::<_, String>(3),
                )
            })
            .unwrap();
        assert!(plan.contains("USING INDEX interactions_named"), "{plan}");
    }

    #[test]
    fn issue_11_streamed_threads_equal_the_grouping_in_sql() {
        let own = ["x:acme".to_string(), "reddit:carol".to_string()];
        for seed in 1..=12u64 {
            let c = store(seed * 7919, 400);
            for (since, until) in [(0, 1000), (250, 700), (999, 1000), (500, 500)] {
                for (own, cap) in [(&own[..], 10_000), (&own[..], 7), (&[][..], 10_000)] {
                    let expected = reference(&c, since, until, own, cap);
                    // Hashed, and grouped by sorting (more threads than hashed at most).
                    for hashed in [HASHED_THREADS, 3] {
                        assert_eq!(
                            newest_threads(&c, since, until, own, cap, hashed).unwrap(),
                            expected,
                            "seed {seed}, window [{since}, {until}), {} own accounts, cap {cap}, hashed {hashed}",
                            own.len()
                        );
                    }
                }
            }
        }
    }
}
