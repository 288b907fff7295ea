//! Hacker News through Algolia's `search_by_date` (newest first), with a
//! `created_at_i` cursor.
//!
//! A poll reads the window `created_at_i >= since - overlap`, newest first; when
//! a page is full it narrows the window's top to the oldest time seen
//! (`created_at_i <= upper`) and reads again, so a backlog of any size is read
//! without Algolia's page-depth limit. When `max_pages` runs out before the
//! window is exhausted, the cursor keeps `upper` and the next poll continues
//! downward, so nothing between polls is skipped.

mod config;
pub use config::HnConfig;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use earshot_model::{Author, Post};
use reqwest::header::HeaderMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

use crate::config::secs;
use crate::error::SourceResult;
use crate::source::{Ctx, Source};
use crate::text::html_to_text;

pub(crate) struct Hn {
    cfg: HnConfig,
}

impl Hn {
    pub fn new(cfg: HnConfig) -> Hn {
        Hn { cfg }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Cursor {
    /// Everything created at or after this was produced (once `upper` is none).
    since: i64,
    /// When set, a walk down from here to `since` is still in progress.
    #[serde(default)]
    upper: Option<i64>,
    /// The newest `created_at_i` produced so far: the next `since`.
    newest: i64,
}

/// An Algolia search response.
#[derive(Deserialize)]
struct Page {
    hits: Vec<Value>,
    #[serde(rename = "nbPages", default)]
    nb_pages: u32,
}

/// One hit (a story or a comment).
#[derive(Deserialize)]
struct Hit {
    #[serde(rename = "objectID")]
    object_id: String,
    created_at_i: i64,
    #[serde(default)]
    author: Option<String>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    story_text: Option<String>,
    #[serde(default)]
    comment_text: Option<String>,
    #[serde(default)]
    points: Option<i64>,
    #[serde(default)]
    num_comments: Option<u64>,
    #[serde(default)]
    story_id: Option<i64>,
    #[serde(default)]
    parent_id: Option<i64>,
}

const KEY: &str = "search";

#[async_trait]
impl Source for Hn {
    async fn run(self: Box<Self>, ctx: Arc<Ctx>) -> SourceResult<()> {
        let this = Arc::new(*self);
        let interval = secs(this.cfg.poll_interval_secs);
        ctx.poll_every("search", "poll failed", interval, || {
            let (t, c) = (this.clone(), ctx.clone());
            async move { t.poll(&c).await }
        })
        .await;
        Ok(())
    }
}

impl Hn {
    async fn poll(&self, ctx: &Ctx) -> SourceResult<()> {
        let start = Utc::now().timestamp() - self.cfg.initial_lookback_secs as i64;
        let cur: Cursor = ctx.cursor(KEY).await?.unwrap_or(Cursor {
            since: start,
            upper: None,
            newest: start,
        });
        let from = cur.since - self.cfg.overlap_secs as i64;
        let tags = if self.cfg.tags.len() == 1 {
            self.cfg.tags[0].clone()
        } else {
            format!("({})", self.cfg.tags.join(","))
        };
        let mut upper = cur.upper;
        let mut newest = cur.newest;
        let mut posts = Vec::new();
        let mut complete = false;
        // Algolia's `page` within the window; only advanced when a whole page shares one second.
        let mut page_no = 0u32;
        for _ in 0..self.cfg.max_pages.max(1) {
            let mut url = Url::parse(&format!(
                "{}/search_by_date",
                self.cfg.base_url.trim_end_matches('/')
            ))?;
            let mut filters = format!("created_at_i>={from}");
            if let Some(u) = upper {
                filters.push_str(&format!(",created_at_i<={u}"));
            }
            url.query_pairs_mut()
                .append_pair("query", &self.cfg.query)
                .append_pair("tags", &tags)
                .append_pair("numericFilters", &filters)
                .append_pair("hitsPerPage", &self.cfg.hits_per_page.to_string())
                .append_pair("page", &page_no.to_string());
            let Some(page) = ctx.fetch_json::<Page>(&url, HeaderMap::new()).await else {
                // Keep what was read (remembered by id); the cursor stays for a retry.
                ctx.emitter.emit(posts, None).await?;
                return Ok(());
            };
            let full =
                page.hits.len() >= self.cfg.hits_per_page as usize && page_no + 1 < page.nb_pages;
            // From the raw hits, so a malformed hit still bounds the window.
            let oldest = page
                .hits
                .iter()
                .filter_map(|h| h.get("created_at_i").and_then(Value::as_i64))
                .min();
            for (hit, raw) in ctx.items::<Hit>(&url, page.hits).await {
                newest = newest.max(hit.created_at_i);
                posts.push(to_post(hit, raw));
            }
            match oldest {
                Some(o) if full && upper != Some(o) => {
                    upper = Some(o);
                    page_no = 0;
                }
                Some(_) if full => page_no += 1,
                _ => {
                    complete = true;
                    break;
                }
            }
        }
        let next = if complete {
            Cursor {
                since: newest,
                upper: None,
                newest,
            }
        } else {
            Cursor {
                since: cur.since,
                upper,
                newest,
            }
        };
        ctx.emitter
            .emit(posts, Some(Ctx::cursor_value(KEY, &next)))
            .await?;
        Ok(())
    }
}

fn to_post(h: Hit, raw: Value) -> Post {
    let text = h
        .comment_text
        .as_deref()
        .or(h.story_text.as_deref())
        .map(html_to_text)
        .filter(|t| !t.is_empty())
        .or_else(|| h.url.clone())
        .unwrap_or_default();
    let mut p = Post::new(Post::make_id("hn", &h.object_id), text);
    p.url = Some(format!(
        "https://news.ycombinator.com/item?id={}",
        h.object_id
    ));
    p.title = h.title.filter(|t| !t.is_empty());
    p.author = Author {
        handle: h.author.clone(),
        display_name: None,
        reach: None,
        url: h
            .author
            .map(|a| format!("https://news.ycombinator.com/user?id={a}")),
        created_at: None,
    };
    p.published_at = DateTime::<Utc>::from_timestamp(h.created_at_i, 0);
    if h.comment_text.is_some() {
        p.reply_to = h.parent_id.map(|i| format!("hn:{i}"));
        p.thread_id = h.story_id.map(|i| format!("hn:{i}"));
    }
    p.engagement.score = h.points;
    p.engagement.replies = h.num_comments;
    p.raw = Some(raw);
    p
}
/// One fetched page's bytes to posts, as `poll` reads them (decode the
/// page, then each item; items of the wrong shape are skipped here where
/// `poll` dead-letters them). The fuzz targets' entry (issue 12).
pub(crate) fn parse_page(body: &[u8]) -> Result<Vec<Post>, serde_json::Error> {
    let page: Page = serde_json::from_slice(body)?;
    Ok(page
        .hits
        .into_iter()
        .filter_map(|raw| Some((Hit::deserialize(&raw).ok()?, raw)))
        .map(|(h, raw)| to_post(h, raw))
        .collect())
}
