//! YouTube Data API v3 `commentThreads` (`order=time`, newest first) per
//! video, on only when the API key is in the environment.
//!
//! A poll follows `nextPageToken` down until it reaches comments published
//! before the cursor time. When `max_pages` runs out first, the page token is
//! kept in the cursor and the next poll continues from it before moving the
//! time forward, so nothing is skipped.

mod config;
pub use config::YoutubeConfig;

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

pub(crate) struct Youtube {
    cfg: YoutubeConfig,
}

impl Youtube {
    pub fn new(cfg: YoutubeConfig) -> Youtube {
        Youtube { cfg }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Cursor {
    /// Comments published at or after this were produced (once `page_token` is none).
    #[serde(default)]
    since: Option<DateTime<Utc>>,
    /// A walk down to `since` is in progress from this page.
    #[serde(default)]
    page_token: Option<String>,
    /// Newest time produced: the next `since`.
    #[serde(default)]
    newest: Option<DateTime<Utc>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Page {
    #[serde(default)]
    items: Vec<Value>,
    #[serde(default)]
    next_page_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Thread {
    snippet: ThreadSnippet,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ThreadSnippet {
    video_id: String,
    top_level_comment: Comment,
    #[serde(default)]
    total_reply_count: Option<u64>,
}

#[derive(Deserialize)]
struct Comment {
    id: String,
    snippet: CommentSnippet,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CommentSnippet {
    #[serde(default)]
    text_original: Option<String>,
    #[serde(default)]
    text_display: Option<String>,
    #[serde(default)]
    author_display_name: Option<String>,
    #[serde(default)]
    author_channel_url: Option<String>,
    #[serde(default)]
    like_count: Option<u64>,
    published_at: DateTime<Utc>,
}

#[async_trait]
impl Source for Youtube {
    async fn run(self: Box<Self>, ctx: Arc<Ctx>) -> SourceResult<()> {
        let Some(key) = std::env::var(&self.cfg.key_env)
            .ok()
            .filter(|t| !t.trim().is_empty())
        else {
            tracing::info!(connector = %ctx.name, env = %self.cfg.key_env, "YouTube connector off: no API key in the environment");
            return Ok(());
        };
        let this = Arc::new(*self);
        let mut tasks = tokio::task::JoinSet::new();
        for video in this.cfg.video_ids.clone() {
            let (ctx, this, key) = (ctx.clone(), this.clone(), key.clone());
            tasks.spawn(async move {
                let (locator, failed) = (format!("video {video}"), format!("video {video} failed"));
                let interval = secs(this.cfg.poll_interval_secs);
                ctx.poll_every(&locator, &failed, interval, || {
                    let (t, c, v, k) = (this.clone(), ctx.clone(), video.clone(), key.clone());
                    async move { t.poll(&c, &v, &k).await }
                })
                .await;
            });
        }
        while tasks.join_next().await.is_some() {}
        Ok(())
    }
}

impl Youtube {
    async fn poll(&self, ctx: &Ctx, video: &str, key: &str) -> SourceResult<()> {
        let ckey = format!("video:{video}");
        let cur: Cursor = ctx.cursor(&ckey).await?.unwrap_or_default();
        let mut token = cur.page_token.clone();
        let mut newest = cur.newest;
        let mut posts = Vec::new();
        let mut complete = false;
        for _ in 0..self.cfg.max_pages.max(1) {
            let mut url = Url::parse(&format!(
                "{}/commentThreads",
                self.cfg.base_url.trim_end_matches('/')
            ))?;
            url.query_pairs_mut()
                .append_pair("part", "snippet")
                .append_pair("videoId", video)
                .append_pair("order", "time")
                .append_pair("maxResults", "100")
                .append_pair("textFormat", "plainText")
                .append_pair("key", key);
            if let Some(t) = &token {
                url.query_pairs_mut().append_pair("pageToken", t);
            }
            let Some(page) = ctx.fetch_json::<Page>(&url, HeaderMap::new()).await else {
                ctx.emitter.emit(posts, None).await?;
                return Ok(());
            };
            let mut reached = false;
            for (t, raw) in ctx.items::<Thread>(&url, page.items).await {
                let at = t.snippet.top_level_comment.snippet.published_at;
                if cur.since.is_some_and(|s| at < s) {
                    reached = true;
                    continue;
                }
                newest = Some(newest.map_or(at, |n| n.max(at)));
                posts.push(to_post(t, raw));
            }
            // Without a cursor only the newest page is read: the start is "now".
            match page.next_page_token {
                Some(t) if !reached && cur.since.is_some() => token = Some(t),
                _ => {
                    complete = true;
                    break;
                }
            }
        }
        let next = if complete {
            Cursor {
                since: newest.or(cur.since),
                page_token: None,
                newest,
            }
        } else {
            Cursor {
                since: cur.since,
                page_token: token,
                newest,
            }
        };
        ctx.emitter
            .emit(posts, Some(Ctx::cursor_value(&ckey, &next)))
            .await?;
        Ok(())
    }
}

fn to_post(t: Thread, raw: Value) -> Post {
    let c = t.snippet.top_level_comment;
    let s = c.snippet;
    // `textDisplay` is HTML (entities, `<br>`, links); `textOriginal` is what was typed.
    let text = s
        .text_original
        .or_else(|| s.text_display.as_deref().map(html_to_text))
        .unwrap_or_default();
    let mut p = Post::new(Post::make_id("youtube", &c.id), text);
    p.url = Some(format!(
        "https://www.youtube.com/watch?v={}&lc={}",
        t.snippet.video_id, c.id
    ));
    p.author = Author {
        handle: s
            .author_display_name
            .as_ref()
            .map(|h| h.trim_start_matches('@').to_string()),
        display_name: s.author_display_name,
        reach: None,
        url: s.author_channel_url,
        created_at: None,
    };
    p.published_at = Some(s.published_at);
    p.thread_id = Some(Post::make_id(
        "youtube",
        &format!("video:{}", t.snippet.video_id),
    ));
    p.engagement.likes = s.like_count;
    p.engagement.replies = t.snippet.total_reply_count;
    p.raw = Some(raw);
    p
}

/// One fetched page's bytes to posts, as `poll` reads them (decode the
/// page, then each item; items of the wrong shape are skipped here where
/// `poll` dead-letters them). The fuzz targets' entry (issue 12).
pub(crate) fn parse_page(body: &[u8]) -> Result<Vec<Post>, serde_json::Error> {
    let page: Page = serde_json::from_slice(body)?;
    Ok(page
        .items
        .into_iter()
        .filter_map(|raw| Some((Thread::deserialize(&raw).ok()?, raw)))
        .map(|(t, raw)| to_post(t, raw))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_19_display_text_is_read_as_html() {
        let raw = serde_json::json!({"snippet": {"videoId": "v1", "topLevelComment": {"id": "c1", "snippet": {
            "textDisplay": "Tom &amp; Jerry &lt;3<br>2nd line", "publishedAt": "2025-06-10T00:00:00Z"}}}});
        let t: Thread = serde_json::from_value(raw.clone()).unwrap();
        assert_eq!(to_post(t, raw).text, "Tom & Jerry <3\n2nd line");
    }
}
