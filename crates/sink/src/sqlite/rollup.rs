//! The hourly rollups `mention_hours` and `post_hours` (migration 19, read
//! by the console's overview), kept by the sink: each batch sums its
//! changes in memory (a replaced post subtracts its stored version, the new
//! one adds itself) and applies them in a few upserts in the batch's own
//! transaction. Per-row triggers did the same at about 40 µs a post; this
//! costs two primary-key lookups a post. A post repeating a near-duplicate
//! cluster (issue 16) adds nothing: its cluster is counted once, by its
//! first post. Keys borrow the batch's strings (issue 11: building owned
//! keys was a third of the write cost of a matched post); only a replaced
//! post's stored contribution owns its strings.

use std::borrow::Cow;
use std::collections::HashMap;

use earshot_model::{EntityKind, Interaction};
use rusqlite::{params, Connection, OptionalExtension};

/// A rollup row's key: an hour and three names.
type Key<'a> = (i64, Cow<'a, str>, Cow<'a, str>, Cow<'a, str>);

/// A post's stored contribution to the rollups.
pub(super) struct Stored {
    posts: Vec<(Key<'static>, i64)>,
    mentions: Vec<(Key<'static>, i64)>,
}

/// The changes of one batch.
#[derive(Default)]
pub(super) struct Rollup<'a> {
    /// (hour, entity id or '' for all, source, intent or '' for the post) → posts.
    posts: HashMap<Key<'a>, i64>,
    /// (hour, entity id, entity kind, sentiment label) → mentions.
    mentions: HashMap<Key<'a>, i64>,
}

fn hour(t: i64) -> i64 {
    t.div_euclid(3600) * 3600
}

fn distinct<'a>(v: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    let mut out: Vec<&str> = Vec::new();
    for s in v {
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

/// `('' ∪ brands ∪ competitors) × ('' ∪ intents)`, each list without repeats;
/// nothing for a post about no brand, competitor or customer (`matched`
/// false): it stays stored but out of every figure, as in the reports.
fn post_keys<'a>(
    t: i64,
    source: &'a str,
    matched: bool,
    brands: &[&'a str],
    competitors: &[&'a str],
    intents: &[&'a str],
) -> Vec<Key<'a>> {
    if !matched {
        return Vec::new();
    }
    let entities = std::iter::once("")
        .chain(distinct(brands.iter().copied()))
        .chain(distinct(competitors.iter().copied()));
    let intents: Vec<&str> = std::iter::once("")
        .chain(distinct(intents.iter().copied()))
        .collect();
    entities
        .flat_map(|e| {
            intents
                .iter()
                .map(move |i| (hour(t), Cow::from(e), Cow::from(source), Cow::from(*i)))
        })
        .collect()
}

impl Stored {
    /// What `post_id` as stored now adds to the rollups (nothing when new,
    /// or a near-duplicate copy).
    pub(super) fn read(conn: &Connection, post_id: &str) -> rusqlite::Result<Stored> {
        let list = |s: String| -> Vec<String> { serde_json::from_str(&s).unwrap_or_default() };
        let row: Option<(i64, String, String, String, String, String)> = conn
            .prepare_cached(
                "SELECT event_time, source, brands, competitors, intents, customers FROM interactions
                 WHERE post_id = ?1 AND cluster_id = ''",
            )?
            .query_row([post_id], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?))
            })
            .optional()?;
        let Some((t, source, b, c, i, customers)) = row else {
            return Ok(Stored {
                posts: Vec::new(),
                mentions: Vec::new(),
            });
        };
        let (b, c, i) = (list(b), list(c), list(i));
        let matched = !(b.is_empty() && c.is_empty() && list(customers).is_empty());
        fn as_str(v: &[String]) -> Vec<&str> {
            v.iter().map(String::as_str).collect()
        }
        let owned = |(h, e, s, i): Key<'_>| -> Key<'static> {
            (
                h,
                e.into_owned().into(),
                s.into_owned().into(),
                i.into_owned().into(),
            )
        };
        let posts = post_keys(t, &source, matched, &as_str(&b), &as_str(&c), &as_str(&i))
            .into_iter()
            .map(|k| (owned(k), -1))
            .collect();
        let mut stmt = conn.prepare_cached(
            "SELECT event_time, entity_id, entity_kind, sentiment_label FROM mentions WHERE post_id = ?1",
        )?;
        let mentions = stmt
            .query_map([post_id], |r| {
                let name = |n| r.get::<_, String>(n).map(Cow::Owned);
                Ok(((hour(r.get(0)?), name(1)?, name(2)?, name(3)?), -1))
            })?
            .collect::<Result<_, _>>()?;
        Ok(Stored { posts, mentions })
    }
}

impl<'a> Rollup<'a> {
    /// Takes away a replaced post's stored contribution.
    pub(super) fn remove(&mut self, stored: Stored) {
        for (k, d) in stored.posts {
            *self.posts.entry(k).or_default() += d;
        }
        for (k, d) in stored.mentions {
            *self.mentions.entry(k).or_default() += d;
        }
    }

    /// Adds a stored post: `t` its event time, `mentions` as written to
    /// `mentions` (entity, kind, label).
    pub(super) fn add(
        &mut self,
        i: &'a Interaction,
        t: i64,
        mentions: &[(&'a str, EntityKind, &'static str)],
    ) {
        if i.noise.is_repeat() {
            return;
        }
        let intents: Vec<&str> = i.intents.iter().map(|x| x.as_str()).collect();
        for k in post_keys(
            t,
            &i.post.source,
            !i.matches.is_empty(),
            &i.entities(EntityKind::Brand),
            &i.entities(EntityKind::Competitor),
            &intents,
        ) {
            *self.posts.entry(k).or_default() += 1;
        }
        for (entity, kind, label) in mentions {
            let k = (
                hour(t),
                Cow::from(*entity),
                Cow::from(kind.as_str()),
                Cow::from(*label),
            );
            *self.mentions.entry(k).or_default() += 1;
        }
    }

    /// Applies the batch's changes.
    pub(super) fn apply(self, conn: &Connection) -> rusqlite::Result<()> {
        let mut stmt = conn.prepare_cached(
            "INSERT INTO post_hours (hour, entity_id, source, intent, posts) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (hour, entity_id, source, intent) DO UPDATE SET posts = posts + excluded.posts",
        )?;
        for ((h, e, s, i), d) in self.posts.into_iter().filter(|(_, d)| *d != 0) {
            stmt.execute(params![h, e, s, i, d])?;
        }
        let mut stmt = conn.prepare_cached(
            "INSERT INTO mention_hours (hour, entity_id, entity_kind, sentiment_label, posts) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (hour, entity_id, entity_kind, sentiment_label) DO UPDATE SET posts = posts + excluded.posts",
        )?;
        for ((h, e, k, l), d) in self.mentions.into_iter().filter(|(_, d)| *d != 0) {
            stmt.execute(params![h, e, k, l, d])?;
        }
        Ok(())
    }
}
