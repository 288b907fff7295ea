//! What `earshot train-context` reads from the store: the stored posts of a
//! window, page by page in post id order (so memory stays one page however
//! large the store), and the matches analysts marked wrong in the console
//! with the posts they are on. Every value reaches SQL as a bound parameter.

use chrono::{DateTime, Utc};

use crate::queryable::{Queryable, StoreError};
use crate::SinkConfig;

/// A stored post, as much of it as the matcher reads.
#[derive(Debug, Clone, PartialEq, clickhouse::Row, serde::Deserialize)]
pub struct StoredPost {
    /// `source:native id`.
    pub post_id: String,
    /// Its source.
    pub source: String,
    /// Its URL (empty when none).
    pub url: String,
    /// The author's handle (empty when none).
    pub author_handle: String,
    /// Its title (empty when none).
    pub title: String,
    /// Its text.
    pub text: String,
    /// Its language, given or detected (empty when unknown).
    pub lang: String,
}

#[derive(clickhouse::Row, serde::Deserialize)]
struct WrongRow {
    entity_id: String,
    post_id: String,
    source: String,
    url: String,
    author_handle: String,
    title: String,
    text: String,
    lang: String,
}

/// Reads training posts from the configured store.
#[derive(Clone)]
pub struct TrainingStore {
    inner: Queryable,
}

const SQLITE_POSTS: &str = "
SELECT post_id, source, url, author_handle, title, text, lang FROM interactions
WHERE event_time >= ?1 AND event_time < ?2 AND post_id > ?3
ORDER BY post_id LIMIT ?4";

const SQLITE_WRONG: &str = "
SELECT DISTINCT f.entity_id, i.post_id, i.source, i.url, i.author_handle, i.title, i.text, i.lang
FROM match_feedback f JOIN interactions i ON i.post_id = f.post_id
WHERE f.verdict = 'wrong'
ORDER BY i.post_id, f.entity_id";

// Row values are read by position; the aliases differ from the column
// names because ClickHouse would read `any(url) AS url` as a cycle.
const CLICKHOUSE_POSTS: &str = "
SELECT post_id, any(toString(source)) AS p_source, any(url) AS p_url,
       any(author_handle) AS p_author, any(title) AS p_title, any(text) AS p_text,
       any(toString(lang)) AS p_lang
FROM interactions
WHERE event_time >= toDateTime(?) AND event_time < toDateTime(?) AND post_id > ?
GROUP BY post_id ORDER BY post_id LIMIT ?";

const CLICKHOUSE_WRONG: &str = "
SELECT entity_id, post_id, p_source, p_url, p_author, p_title, p_text, p_lang
FROM (SELECT DISTINCT post_id, entity_id FROM match_feedback WHERE verdict = 'wrong')
ANY INNER JOIN (
    SELECT post_id, any(toString(source)) AS p_source, any(url) AS p_url,
           any(author_handle) AS p_author, any(title) AS p_title, any(text) AS p_text,
           any(toString(lang)) AS p_lang
    FROM interactions
    WHERE post_id IN (SELECT post_id FROM match_feedback WHERE verdict = 'wrong')
    GROUP BY post_id
) USING post_id
ORDER BY post_id, entity_id";

fn clamp(t: DateTime<Utc>) -> u32 {
    t.timestamp().clamp(0, u32::MAX as i64) as u32
}

impl TrainingStore {
    /// Opens the configured store (ClickHouse needs `earshot migrate` first).
    pub async fn open(config: &SinkConfig) -> Result<TrainingStore, StoreError> {
        Ok(TrainingStore {
            inner: Queryable::open(config, &["interactions", "match_feedback"]).await?,
        })
    }

    /// At most `limit` posts stored with an event time in `[since, until)`
    /// whose id sorts after `after`, in id order: the next page starts after
    /// the last id of this one.
    pub async fn posts(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        after: &str,
        limit: u32,
    ) -> Result<Vec<StoredPost>, StoreError> {
        match &self.inner {
            Queryable::Sqlite(store) => {
                let (store, after) = (store.clone(), after.to_string());
                let (since, until) = (since.timestamp(), until.timestamp());
                Ok(tokio::task::spawn_blocking(move || {
                    store.with_connection(|c| {
                        let mut stmt = c.prepare_cached(SQLITE_POSTS)?;
                        let rows = stmt.query_map(
                            rusqlite::params![since, until, after, limit],
                            sqlite_post(0),
                        )?;
                        rows.collect::<rusqlite::Result<Vec<_>>>()
                    })
                })
                .await??)
            }
            Queryable::ClickHouse(ch) => Ok(ch
                .0
                .query(CLICKHOUSE_POSTS)
                .bind(clamp(since))
                .bind(clamp(until))
                .bind(after)
                .bind(limit)
                .fetch_all()
                .await?),
        }
    }

    /// Every match marked wrong (`(post, entity id)`, once per pair
    /// whatever the number of analysts), for posts still in the store.
    pub async fn wrong_matches(&self) -> Result<Vec<(StoredPost, String)>, StoreError> {
        match &self.inner {
            Queryable::Sqlite(store) => {
                let store = store.clone();
                Ok(tokio::task::spawn_blocking(move || {
                    store.with_connection(|c| {
                        let mut stmt = c.prepare_cached(SQLITE_WRONG)?;
                        let rows = stmt
                            .query_map([], |r| Ok((sqlite_post(1)(r)?, r.get::<_, String>(0)?)))?;
                        rows.collect::<rusqlite::Result<Vec<_>>>()
                    })
                })
                .await??)
            }
            Queryable::ClickHouse(ch) => {
                let rows: Vec<WrongRow> = ch.0.query(CLICKHOUSE_WRONG).fetch_all().await?;
                Ok(rows
                    .into_iter()
                    .map(|r| {
                        let post = StoredPost {
                            post_id: r.post_id,
                            source: r.source,
                            url: r.url,
                            author_handle: r.author_handle,
                            title: r.title,
                            text: r.text,
                            lang: r.lang,
                        };
                        (post, r.entity_id)
                    })
                    .collect())
            }
        }
    }
}

/// Reads a [`StoredPost`] from the columns starting at `first`.
fn sqlite_post(first: usize) -> impl Fn(&rusqlite::Row<'_>) -> rusqlite::Result<StoredPost> {
    move |r| {
        Ok(StoredPost {
            post_id: r.get(first)?,
            source: r.get(first + 1)?,
            url: r.get(first + 2)?,
            author_handle: r.get(first + 3)?,
            title: r.get(first + 4)?,
            text: r.get(first + 5)?,
            lang: r.get(first + 6)?,
        })
    }
}
