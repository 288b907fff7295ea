//! X API v2 recent search (`GET /2/tweets/search/recent`), on only when the
//! bearer token is in the environment.
//!
//! Results come newest first; a poll asks for `since_id=<cursor>` and follows
//! `meta.next_token` down. The cursor becomes the newest id only once the
//! walk reached the bottom; when `max_pages` runs out first, the cursor keeps
//! `until_id` (the oldest id read) and the next poll continues below it.
//!
//! Recent search reaches back seven days and answers 400 to a `since_id` or
//! `start_time` older than that, and to `until_id` next to `start_time`. A
//! bound older than the window (after the daemon was down for a week) moves
//! up to the window's edge, and the gap is counted and logged as an error:
//! those posts are out of the API's reach. A lower bound next to `until_id`
//! is always sent as a `since_id` (ids are snowflakes: time in the high bits).

mod config;
pub use config::XConfig;

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Duration as ChronoDuration, SecondsFormat, Utc};
use earshot_model::{Author, Post};
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

use crate::config::secs;
use crate::error::SourceResult;
use crate::source::{Ctx, Source};
use crate::text::{id_cmp, lang, unescape_x};

pub(crate) struct X {
    cfg: XConfig,
}

impl X {
    pub fn new(cfg: XConfig) -> X {
        X { cfg }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Cursor {
    /// Everything newer than this was produced (once `until_id` is none).
    #[serde(default)]
    since_id: Option<String>,
    /// A walk down to `since_id` is in progress below this id.
    #[serde(default)]
    until_id: Option<String>,
    /// Newest id produced: the next `since_id`.
    #[serde(default)]
    newest_id: Option<String>,
    /// Without `since_id`: the first run's start (RFC 3339).
    #[serde(default)]
    start_time: Option<String>,
}

#[derive(Deserialize)]
struct Page {
    #[serde(default)]
    data: Vec<Value>,
    #[serde(default)]
    includes: Includes,
    #[serde(default)]
    meta: Meta,
}

#[derive(Deserialize, Default)]
struct Includes {
    #[serde(default)]
    users: Vec<User>,
}

#[derive(Deserialize, Default)]
struct Meta {
    #[serde(default)]
    next_token: Option<String>,
}

#[derive(Deserialize, Clone)]
struct User {
    id: String,
    username: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    public_metrics: Option<UserMetrics>,
    /// When the account was created (the match stage reads young accounts).
    #[serde(default)]
    created_at: Option<DateTime<Utc>>,
}

#[derive(Deserialize, Clone)]
struct UserMetrics {
    #[serde(default)]
    followers_count: Option<u64>,
}

#[derive(Deserialize)]
struct Tweet {
    id: String,
    text: String,
    #[serde(default)]
    author_id: Option<String>,
    #[serde(default)]
    created_at: Option<DateTime<Utc>>,
    #[serde(default)]
    lang: Option<String>,
    #[serde(default)]
    conversation_id: Option<String>,
    #[serde(default)]
    public_metrics: Option<TweetMetrics>,
    #[serde(default)]
    referenced_tweets: Vec<Referenced>,
    #[serde(default)]
    entities: Option<Entities>,
    /// The whole text of a long post (`text` then holds its first 280 characters).
    #[serde(default)]
    note_tweet: Option<NoteTweet>,
}

#[derive(Deserialize, Default)]
struct Entities {
    #[serde(default)]
    urls: Vec<UrlEntity>,
}

#[derive(Deserialize)]
struct UrlEntity {
    /// The `t.co` link as it appears in the text.
    url: String,
    #[serde(default)]
    expanded_url: Option<String>,
    #[serde(default)]
    unwound_url: Option<String>,
}

#[derive(Deserialize)]
struct NoteTweet {
    text: String,
    #[serde(default)]
    entities: Option<Entities>,
}

/// `text` with X's escaping undone and each `t.co` link replaced by the
/// URL it stands for (the unwound one when X resolved redirects).
fn full_text(text: &str, entities: Option<&Entities>) -> String {
    let mut text = unescape_x(text);
    for u in entities.map(|e| e.urls.as_slice()).unwrap_or_default() {
        if let Some(full) = u.unwound_url.as_deref().or(u.expanded_url.as_deref()) {
            if !u.url.is_empty() {
                text = text.replace(&u.url, full);
            }
        }
    }
    text
}

#[derive(Deserialize)]
struct TweetMetrics {
    #[serde(default)]
    like_count: Option<u64>,
    #[serde(default)]
    reply_count: Option<u64>,
    #[serde(default)]
    retweet_count: Option<u64>,
    #[serde(default)]
    quote_count: Option<u64>,
}

#[derive(Deserialize)]
struct Referenced {
    #[serde(rename = "type")]
    kind: String,
    id: String,
}

const KEY: &str = "search";

/// How far back recent search reaches, less a margin for the request's
/// travel and clock skew.
fn window() -> ChronoDuration {
    ChronoDuration::days(7) - ChronoDuration::minutes(5)
}

/// How long a tweet may take to become searchable: a quiet query's
/// `start_time` advances to this long before the poll began.
const INDEX_DELAY_SECS: i64 = 60;

/// X's id epoch in Unix milliseconds: an id's bits above the 22nd count
/// milliseconds since then.
const TWEPOCH_MS: i64 = 1_288_834_974_657;

/// When the tweet with this id was created.
fn id_time(id: &str) -> Option<DateTime<Utc>> {
    let id: u64 = id.parse().ok()?;
    DateTime::from_timestamp_millis(i64::try_from(id >> 22).ok()? + TWEPOCH_MS)
}

/// The largest id of the millisecond before `t`: `since_id` for "from `t` on".
fn id_before(t: DateTime<Utc>) -> String {
    let ms = (t.timestamp_millis() - TWEPOCH_MS).max(1) as u64;
    (((ms - 1) << 22) | ((1 << 22) - 1)).to_string()
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The cursor with every bound inside the search window; the gap, if any.
fn within_window(mut cur: Cursor, now: DateTime<Utc>) -> (Cursor, Option<String>) {
    let edge = now - window();
    let time = |t: &Option<String>| {
        t.as_deref()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc))
    };
    let lower = match &cur.since_id {
        Some(id) => id_time(id),
        None => time(&cur.start_time),
    };
    let Some(lower) = lower.filter(|&t| t < edge) else {
        return (cur, None);
    };
    let mut reached = edge;
    match cur.until_id.as_deref().and_then(id_time) {
        // A walk whose rest is all out of reach ends: it produced down to `until`.
        Some(until) if until <= edge => {
            cur.since_id = cur.newest_id.clone().or(cur.since_id);
            cur.until_id = None;
            reached = until;
        }
        // No walk, or one that goes on down to the edge.
        _ => {
            cur.since_id = None;
            cur.start_time = Some(rfc3339(edge));
        }
    }
    // The ended walk's top may be out of reach too.
    let since = cur.since_id.as_deref().and_then(id_time);
    if cur.until_id.is_none() && since.is_none_or(|t| t < edge) {
        cur.since_id = None;
        cur.start_time = Some(rfc3339(edge));
        reached = edge;
    }
    let gap = format!("{} to {}", rfc3339(lower), rfc3339(reached));
    (cur, Some(gap))
}

#[async_trait]
impl Source for X {
    async fn run(self: Box<Self>, ctx: Arc<Ctx>) -> SourceResult<()> {
        let Some(token) = std::env::var(&self.cfg.token_env)
            .ok()
            .filter(|t| !t.trim().is_empty())
        else {
            tracing::info!(connector = %ctx.name, env = %self.cfg.token_env, "X connector off: no bearer token in the environment");
            return Ok(());
        };
        let mut headers = HeaderMap::new();
        let mut v = HeaderValue::from_str(&format!("Bearer {token}"))?;
        v.set_sensitive(true);
        headers.insert(AUTHORIZATION, v);
        let this = Arc::new(*self);
        let interval = secs(this.cfg.poll_interval_secs);
        ctx.poll_every("search", "poll failed", interval, || {
            let (t, c, h) = (this.clone(), ctx.clone(), headers.clone());
            async move { t.poll(&c, &h).await }
        })
        .await;
        Ok(())
    }
}

impl X {
    async fn poll(&self, ctx: &Ctx, headers: &HeaderMap) -> SourceResult<()> {
        let began = Utc::now();
        let mut cur: Cursor = ctx.cursor(KEY).await?.unwrap_or_default();
        if cur.since_id.is_none() && cur.start_time.is_none() {
            let start = began - ChronoDuration::seconds(self.cfg.initial_lookback_secs as i64);
            cur.start_time = Some(rfc3339(start));
        }
        let (cur, gap) = within_window(cur, began);
        if let Some(gap) = gap {
            ctx.error(
                "cursor older than recent search's 7 days; resuming at the window's edge",
                &format!("posts from {gap} are out of the API's reach"),
            );
        }
        let mut posts = Vec::new();
        let mut next_token: Option<String> = None;
        let mut newest = cur.newest_id.clone();
        let mut oldest: Option<String> = None;
        let mut complete = false;
        for _ in 0..self.cfg.max_pages.max(1) {
            let mut url = Url::parse(&format!(
                "{}/tweets/search/recent",
                self.cfg.base_url.trim_end_matches('/')
            ))?;
            {
                let mut q = url.query_pairs_mut();
                q.append_pair("query", &self.cfg.query)
                    .append_pair("max_results", &self.cfg.max_results.to_string())
                    .append_pair(
                        "tweet.fields",
                        "created_at,author_id,lang,public_metrics,conversation_id,referenced_tweets,entities,note_tweet",
                    )
                    .append_pair("expansions", "author_id")
                    .append_pair("user.fields", "username,name,public_metrics,created_at");
                match (&cur.since_id, &cur.start_time) {
                    (Some(s), _) => q.append_pair("since_id", s),
                    // X rejects `start_time` next to `until_id`: the same bound as an id.
                    (None, Some(t)) if cur.until_id.is_some() => {
                        match DateTime::parse_from_rfc3339(t) {
                            Ok(t) => q.append_pair("since_id", &id_before(t.with_timezone(&Utc))),
                            Err(_) => &mut q,
                        }
                    }
                    (None, Some(t)) => q.append_pair("start_time", t),
                    (None, None) => &mut q,
                };
                if let Some(u) = &cur.until_id {
                    q.append_pair("until_id", u);
                }
                if let Some(t) = &next_token {
                    q.append_pair("next_token", t);
                }
            }
            let Some(page) = ctx.fetch_json::<Page>(&url, headers.clone()).await else {
                ctx.emitter.emit(posts, None).await?;
                return Ok(());
            };
            let users: HashMap<String, User> = page
                .includes
                .users
                .into_iter()
                .map(|u| (u.id.clone(), u))
                .collect();
            for (t, raw) in ctx.items::<Tweet>(&url, page.data).await {
                if newest.as_deref().is_none_or(|n| id_cmp(&t.id, n).is_gt()) {
                    newest = Some(t.id.clone());
                }
                if oldest.as_deref().is_none_or(|o| id_cmp(&t.id, o).is_lt()) {
                    oldest = Some(t.id.clone());
                }
                posts.push(to_post(t, raw, &users));
            }
            match page.meta.next_token {
                Some(t) => next_token = Some(t),
                None => {
                    complete = true;
                    break;
                }
            }
        }
        let next = if complete {
            let since_id = newest.clone().or(cur.since_id);
            // Nothing found since `start_time`: move it up, so that a quiet
            // query's bound does not age out of the window.
            let start_time = match since_id {
                Some(_) => cur.start_time,
                None => Some(rfc3339(began - ChronoDuration::seconds(INDEX_DELAY_SECS))),
            };
            Cursor {
                since_id,
                until_id: None,
                newest_id: newest,
                start_time,
            }
        } else {
            Cursor {
                until_id: oldest.or(cur.until_id),
                newest_id: newest,
                ..cur
            }
        };
        ctx.emitter
            .emit(posts, Some(Ctx::cursor_value(KEY, &next)))
            .await?;
        Ok(())
    }
}

fn to_post(t: Tweet, raw: Value, users: &HashMap<String, User>) -> Post {
    let user = t.author_id.as_ref().and_then(|a| users.get(a));
    // X API v2 escapes `&`, `<` and `>` in text (and only those).
    let text = match &t.note_tweet {
        Some(n) => full_text(&n.text, n.entities.as_ref().or(t.entities.as_ref())),
        None => full_text(&t.text, t.entities.as_ref()),
    };
    let mut p = Post::new(Post::make_id("x", &t.id), text);
    p.url = Some(match user {
        Some(u) => format!("https://x.com/{}/status/{}", u.username, t.id),
        None => format!("https://x.com/i/web/status/{}", t.id),
    });
    p.author = Author {
        handle: user.map(|u| u.username.clone()),
        display_name: user.and_then(|u| u.name.as_deref()).map(unescape_x),
        reach: user
            .and_then(|u| u.public_metrics.as_ref())
            .and_then(|m| m.followers_count),
        url: user.map(|u| format!("https://x.com/{}", u.username)),
        created_at: user.and_then(|u| u.created_at),
    };
    p.lang = t.lang.as_deref().and_then(lang);
    p.published_at = t.created_at;
    p.thread_id = t.conversation_id.map(|c| Post::make_id("x", &c));
    p.reply_to = t
        .referenced_tweets
        .iter()
        .find(|r| r.kind == "replied_to")
        .map(|r| Post::make_id("x", &r.id));
    if let Some(m) = t.public_metrics {
        p.engagement.likes = m.like_count;
        p.engagement.replies = m.reply_count;
        p.engagement.reposts = Some(m.retweet_count.unwrap_or(0) + m.quote_count.unwrap_or(0));
    }
    p.raw = Some(raw);
    p
}

/// One fetched page's bytes to posts, as `poll` reads them (decode the
/// page, then each item; items of the wrong shape are skipped here where
/// `poll` dead-letters them). The fuzz targets' entry (issue 12).
pub(crate) fn parse_page(body: &[u8]) -> Result<Vec<Post>, serde_json::Error> {
    let page: Page = serde_json::from_slice(body)?;
    let users: HashMap<String, User> = page
        .includes
        .users
        .into_iter()
        .map(|u| (u.id.clone(), u))
        .collect();
    Ok(page
        .data
        .into_iter()
        .filter_map(|raw| Some((Tweet::deserialize(&raw).ok()?, raw)))
        .map(|(t, raw)| to_post(t, raw, &users))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_19_text_entities_and_links() {
        let raw = serde_json::json!({"id": "1", "text": "A &amp; B &lt;3 https://t.co/abc",
            "entities": {"urls": [{"start": 16, "end": 39, "url": "https://t.co/abc",
                "expanded_url": "https://example.com/a?b=1&c=2", "display_url": "example.com/a?b=1…"}]}});
        let t: Tweet = serde_json::from_value(raw.clone()).unwrap();
        let p = to_post(t, raw, &HashMap::new());
        assert_eq!(p.text, "A & B <3 https://example.com/a?b=1&c=2");
        let raw = serde_json::json!({"id": "2", "text": "short…", "note_tweet": {"text": "the whole long text &gt; 280"}});
        let t: Tweet = serde_json::from_value(raw.clone()).unwrap();
        assert_eq!(
            to_post(t, raw, &HashMap::new()).text,
            "the whole long text > 280"
        );
    }

    fn at(days_ago: i64, now: DateTime<Utc>) -> DateTime<Utc> {
        now - ChronoDuration::days(days_ago)
    }

    #[test]
    fn ids_carry_their_time() {
        // The API reference's sample tweet, created 2019-12-31T19:26:16.000Z.
        let t = id_time("1212092628029698048").unwrap();
        assert_eq!(rfc3339(t), "2019-12-31T19:26:16Z");
        let now = Utc::now();
        let since = id_before(now);
        assert!(id_time(&since).unwrap() < now);
        assert!(now - id_time(&since).unwrap() < ChronoDuration::milliseconds(2));
        assert_eq!(id_time("not a number"), None);
    }

    #[test]
    fn bounds_inside_the_window_are_kept() {
        let now = Utc::now();
        let cur = Cursor {
            since_id: Some(id_before(at(6, now))),
            newest_id: Some(id_before(at(6, now))),
            ..Cursor::default()
        };
        assert_eq!(within_window(cur.clone(), now), (cur, None));
    }

    #[test]
    fn an_old_since_id_moves_to_the_window_edge() {
        let now = Utc::now();
        let cur = Cursor {
            since_id: Some(id_before(at(9, now))),
            newest_id: Some(id_before(at(9, now))),
            ..Cursor::default()
        };
        let (next, gap) = within_window(cur, now);
        assert_eq!(next.since_id, None);
        assert_eq!(next.start_time, Some(rfc3339(now - window())));
        assert!(gap.unwrap().ends_with(&rfc3339(now - window())));
    }

    #[test]
    fn a_walk_partly_in_the_window_goes_on_down_to_the_edge() {
        let now = Utc::now();
        let cur = Cursor {
            since_id: Some(id_before(at(9, now))),
            until_id: Some(id_before(at(2, now))),
            newest_id: Some(id_before(at(1, now))),
            start_time: None,
        };
        let (next, gap) = within_window(cur, now);
        assert_eq!(next.until_id, Some(id_before(at(2, now))));
        assert_eq!(next.since_id, None);
        assert_eq!(next.start_time, Some(rfc3339(now - window())));
        assert!(gap.is_some());
    }

    #[test]
    fn a_walk_out_of_the_window_ends_at_its_top() {
        let now = Utc::now();
        let top = id_before(at(3, now));
        let cur = Cursor {
            since_id: Some(id_before(at(10, now))),
            until_id: Some(id_before(at(8, now))),
            newest_id: Some(top.clone()),
            start_time: None,
        };
        let (next, gap) = within_window(cur, now);
        assert_eq!((next.since_id, next.until_id), (Some(top), None));
        assert!(gap
            .unwrap()
            .ends_with(&rfc3339(id_time(&id_before(at(8, now))).unwrap())));
        // Its top out of reach as well: from the edge.
        let cur = Cursor {
            since_id: Some(id_before(at(12, now))),
            until_id: Some(id_before(at(10, now))),
            newest_id: Some(id_before(at(9, now))),
            start_time: None,
        };
        let (next, _) = within_window(cur, now);
        assert_eq!(next.since_id, None);
        assert_eq!(next.start_time, Some(rfc3339(now - window())));
    }
}
