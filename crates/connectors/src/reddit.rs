//! Reddit listings: `/r/{sub}/new.json` and `/search.json?sort=new`.
//!
//! With a cursor (the newest fullname produced), a poll walks upward with
//! `before=<fullname>`: each page holds the items immediately newer, and the
//! page's newest fullname is the next `before`. Reddit returns nothing for a
//! `before` item that was deleted; then the poll reads the top of the listing
//! and walks down with `after` until it reaches the cursor's time.

mod config;
pub use config::RedditConfig;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use earshot_model::{Author, Post};
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, USER_AGENT};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

use crate::config::secs;
use crate::error::SourceResult;
use crate::source::{Ctx, Source};

pub(crate) struct Reddit {
    cfg: RedditConfig,
}

impl Reddit {
    pub fn new(cfg: RedditConfig) -> Reddit {
        Reddit { cfg }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Cursor {
    fullname: String,
    created: f64,
}

#[derive(Deserialize)]
struct Listing {
    data: ListingData,
}

#[derive(Deserialize)]
struct ListingData {
    children: Vec<Value>,
    #[serde(default)]
    after: Option<String>,
}

#[derive(Deserialize)]
struct Thing {
    kind: String,
    data: ThingData,
}

#[derive(Deserialize)]
struct ThingData {
    name: String,
    created_utc: f64,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    selftext: Option<String>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    author: Option<String>,
    #[serde(default)]
    permalink: Option<String>,
    #[serde(default)]
    subreddit_subscribers: Option<u64>,
    #[serde(default)]
    score: Option<i64>,
    #[serde(default)]
    ups: Option<i64>,
    #[serde(default)]
    num_comments: Option<u64>,
    #[serde(default)]
    parent_id: Option<String>,
    #[serde(default)]
    link_id: Option<String>,
}

/// One listing to follow.
struct Stream {
    key: String,
    path: String,
    query: Vec<(String, String)>,
}

#[async_trait]
impl Source for Reddit {
    async fn run(self: Box<Self>, ctx: Arc<Ctx>) -> SourceResult<()> {
        let token = std::env::var(&self.cfg.token_env)
            .ok()
            .filter(|t| !t.trim().is_empty());
        let base = if token.is_some() {
            self.cfg.oauth_base_url.clone()
        } else {
            self.cfg.base_url.clone()
        };
        let mut headers = HeaderMap::new();
        headers.insert(USER_AGENT, HeaderValue::from_str(&self.cfg.user_agent)?);
        if let Some(t) = &token {
            let mut v = HeaderValue::from_str(&format!("bearer {t}"))?;
            v.set_sensitive(true);
            headers.insert(AUTHORIZATION, v);
        }
        let mut streams: Vec<Stream> = self
            .cfg
            .subreddits
            .iter()
            .map(|s| Stream {
                key: format!("r/{s}"),
                path: format!("/r/{s}/new.json"),
                query: vec![],
            })
            .collect();
        streams.extend(self.cfg.searches.iter().map(|q| Stream {
            key: format!("search:{q}"),
            path: "/search.json".into(),
            query: vec![("q".into(), q.clone()), ("sort".into(), "new".into())],
        }));
        let this = Arc::new(*self);
        let mut tasks = tokio::task::JoinSet::new();
        for stream in streams {
            let (ctx, this, headers, base) =
                (ctx.clone(), this.clone(), headers.clone(), base.clone());
            tasks.spawn(async move {
                let stream = Arc::new(stream);
                let failed = format!("listing {} failed", stream.key);
                let interval = secs(this.cfg.poll_interval_secs);
                ctx.poll_every(&stream.key, &failed, interval, || {
                    let (t, c, b, s, h) = (
                        this.clone(),
                        ctx.clone(),
                        base.clone(),
                        stream.clone(),
                        headers.clone(),
                    );
                    async move { t.poll(&c, &b, &s, &h).await }
                })
                .await;
            });
        }
        while tasks.join_next().await.is_some() {}
        Ok(())
    }
}

impl Reddit {
    fn url(&self, base: &str, s: &Stream, page: Option<(&str, &str)>) -> SourceResult<Url> {
        let mut url = Url::parse(&format!("{}{}", base.trim_end_matches('/'), s.path))?;
        {
            let mut q = url.query_pairs_mut();
            q.extend_pairs(&s.query)
                .append_pair("limit", "100")
                .append_pair("raw_json", "1");
            if let Some((k, v)) = page {
                q.append_pair(k, v);
            }
        }
        Ok(url)
    }

    /// One page: its things (bad ones dead-lettered) and its `after`; `None` when the fetch failed.
    async fn page(
        &self,
        ctx: &Ctx,
        url: &Url,
        headers: &HeaderMap,
    ) -> Option<(Vec<(Thing, Value)>, Option<String>)> {
        let listing: Listing = ctx.fetch_json(url, headers.clone()).await?;
        let things = ctx.items::<Thing>(url, listing.data.children).await;
        Some((things, listing.data.after))
    }

    async fn poll(
        &self,
        ctx: &Ctx,
        base: &str,
        s: &Stream,
        headers: &HeaderMap,
    ) -> SourceResult<()> {
        let key = format!("listing:{}", s.key);
        let cursor: Option<Cursor> = ctx.cursor(&key).await?;
        let mut things = Vec::new();
        let mut ok = true;
        match &cursor {
            None => match self.page(ctx, &self.url(base, s, None)?, headers).await {
                Some((t, _)) => things = t,
                None => ok = false,
            },
            Some(c) => {
                let mut before = c.fullname.clone();
                for _ in 0..self.cfg.max_pages.max(1) {
                    let Some((page, _)) = self
                        .page(ctx, &self.url(base, s, Some(("before", &before)))?, headers)
                        .await
                    else {
                        ok = false;
                        break;
                    };
                    let Some((newest, _)) = page.first() else {
                        break;
                    };
                    before = newest.data.name.clone();
                    let n = page.len();
                    things.extend(page);
                    if n < 100 {
                        break;
                    }
                }
                if ok && things.is_empty() {
                    ok = self
                        .walk_down(ctx, base, s, headers, c, &mut things)
                        .await?;
                }
            }
        }
        let newest = things
            .iter()
            .map(|(t, _)| Cursor {
                fullname: t.data.name.clone(),
                created: t.data.created_utc,
            })
            .chain(cursor.clone())
            .max_by(|a, b| a.created.total_cmp(&b.created));
        let posts: Vec<Post> = things.into_iter().map(|(t, raw)| to_post(t, raw)).collect();
        let next = if ok {
            newest.map(|c| Ctx::cursor_value(&key, &c))
        } else {
            None
        };
        ctx.emitter.emit(posts, next).await?;
        Ok(())
    }

    /// The `before` item is gone (deleted posts vanish from listings): read
    /// from the top with `after` down to the cursor's time. Returns whether it
    /// finished.
    async fn walk_down(
        &self,
        ctx: &Ctx,
        base: &str,
        s: &Stream,
        headers: &HeaderMap,
        c: &Cursor,
        things: &mut Vec<(Thing, Value)>,
    ) -> SourceResult<bool> {
        let mut after: Option<String> = None;
        for _ in 0..self.cfg.max_pages.max(1) {
            let page = after.as_deref().map(|a| ("after", a));
            let Some((page, next)) = self.page(ctx, &self.url(base, s, page)?, headers).await
            else {
                return Ok(false);
            };
            let reached = page.iter().any(|(t, _)| t.data.created_utc <= c.created);
            things.extend(
                page.into_iter()
                    .filter(|(t, _)| t.data.created_utc >= c.created),
            );
            match next {
                Some(n) if !reached => after = Some(n),
                _ => return Ok(true),
            }
        }
        Ok(true)
    }
}

/// A comment's URL from its post (`link_id`, `t3_...`) and its own id, for
/// listings that leave `permalink` out: `/comments/POST/_/COMMENT/` is
/// what Reddit redirects to the full permalink.
fn comment_url(kind: &str, name: &str, link_id: Option<&str>) -> Option<String> {
    if kind != "t1" {
        return None;
    }
    let post = link_id?.strip_prefix("t3_")?;
    let comment = name.strip_prefix("t1_").unwrap_or(name);
    Some(format!(
        "https://www.reddit.com/comments/{post}/_/{comment}/"
    ))
}

fn to_post(t: Thing, raw: Value) -> Post {
    let d = t.data;
    let text = if t.kind == "t1" {
        d.body.unwrap_or_default()
    } else {
        d.selftext.unwrap_or_default()
    };
    let mut p = Post::new(Post::make_id("reddit", &d.name), text);
    p.title = d.title.filter(|t| !t.is_empty());
    p.url = d
        .permalink
        .as_deref()
        .map(|l| format!("https://www.reddit.com{l}"))
        .or_else(|| comment_url(&t.kind, &d.name, d.link_id.as_deref()));
    let author = d.author.filter(|a| a != "[deleted]");
    p.author = Author {
        url: author
            .as_ref()
            .map(|a| format!("https://www.reddit.com/user/{a}")),
        handle: author,
        display_name: None,
        reach: d.subreddit_subscribers,
        created_at: None,
    };
    p.published_at = DateTime::<Utc>::from_timestamp_millis((d.created_utc * 1000.0) as i64);
    p.engagement.score = d.score;
    p.engagement.likes = d.ups.and_then(|u| u64::try_from(u).ok());
    p.engagement.replies = d.num_comments;
    if t.kind == "t1" {
        p.reply_to = d.parent_id.map(|i| format!("reddit:{i}"));
        p.thread_id = d.link_id.map(|i| format!("reddit:{i}"));
    }
    p.raw = Some(raw);
    p
}

/// One fetched page's bytes to posts, as `poll` reads them (decode the
/// page, then each item; items of the wrong shape are skipped here where
/// `poll` dead-letters them). The fuzz targets' entry (issue 12).
pub(crate) fn parse_page(body: &[u8]) -> Result<Vec<Post>, serde_json::Error> {
    let listing: Listing = serde_json::from_slice(body)?;
    Ok(listing
        .data
        .children
        .into_iter()
        .filter_map(|raw| Some((Thing::deserialize(&raw).ok()?, raw)))
        .map(|(t, raw)| to_post(t, raw))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_19_comment_url_without_permalink() {
        let raw = serde_json::json!({"kind": "t1", "data": {"name": "t1_abc", "created_utc": 1.7e9,
            "body": "nice", "link_id": "t3_xyz", "parent_id": "t3_xyz"}});
        let t: Thing = serde_json::from_value(raw.clone()).unwrap();
        let p = to_post(t, raw);
        assert_eq!(
            p.url.as_deref(),
            Some("https://www.reddit.com/comments/xyz/_/abc/")
        );
        assert_eq!(p.thread_id.as_deref(), Some("reddit:t3_xyz"));
        let raw = serde_json::json!({"kind": "t1", "data": {"name": "t1_abc", "created_utc": 1.7e9,
            "permalink": "/r/x/comments/xyz/t/abc/"}});
        let t: Thing = serde_json::from_value(raw.clone()).unwrap();
        assert_eq!(
            to_post(t, raw).url.as_deref(),
            Some("https://www.reddit.com/r/x/comments/xyz/t/abc/")
        );
    }
}
