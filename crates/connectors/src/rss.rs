//! RSS, Atom and JSON Feed (parsed by `feed-rs`), many feeds per connector,
//! each polled on its own interval with conditional GET.

use std::sync::Arc;

use async_trait::async_trait;
use earshot_model::{Author, Post};
use feed_rs::model::{Entry, Feed};
use reqwest::header::{
    HeaderMap, HeaderValue, ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED,
};
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::config::{secs, FeedEntry, RssConfig};
use crate::http::redact;
use crate::source::{Ctx, Source};
use crate::text::{digest, html_to_text, lang};

pub(crate) struct Rss {
    cfg: RssConfig,
}

/// The validators of a feed's last fetched version.
#[derive(Debug, Default, Serialize, Deserialize, PartialEq)]
struct Validators {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    etag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_modified: Option<String>,
}

impl Rss {
    pub fn new(cfg: RssConfig) -> Rss {
        Rss { cfg }
    }
}

#[async_trait]
impl Source for Rss {
    async fn run(self: Box<Self>, ctx: Arc<Ctx>) -> anyhow::Result<()> {
        let mut tasks = tokio::task::JoinSet::new();
        for feed in &self.cfg.feeds {
            let interval = secs(match feed {
                FeedEntry::Url(_) => self.cfg.poll_interval_secs,
                FeedEntry::Table {
                    poll_interval_secs, ..
                } => *poll_interval_secs,
            });
            let url = match Url::parse(feed.url()) {
                Ok(u) => u,
                Err(e) => {
                    ctx.error(&format!("feed URL `{}` invalid", feed.url()), &e);
                    continue;
                }
            };
            let ctx = ctx.clone();
            tasks.spawn(async move {
                loop {
                    if let Err(e) = poll(&ctx, &url).await {
                        ctx.error(&format!("feed {} failed", redact(&url)), &format!("{e:#}"));
                    }
                    if !ctx.sleep(interval).await {
                        break;
                    }
                }
            });
        }
        while tasks.join_next().await.is_some() {}
        Ok(())
    }
}

/// One conditional GET of one feed, then produce and save the validators.
async fn poll(ctx: &Ctx, url: &Url) -> anyhow::Result<()> {
    let key = format!("feed:{url}");
    let old: Validators = ctx.cursor(&key).await?.unwrap_or_default();
    let mut headers = HeaderMap::new();
    if let Some(v) = old
        .etag
        .as_deref()
        .and_then(|v| HeaderValue::from_str(v).ok())
    {
        headers.insert(IF_NONE_MATCH, v);
    }
    if let Some(v) = old
        .last_modified
        .as_deref()
        .and_then(|v| HeaderValue::from_str(v).ok())
    {
        headers.insert(IF_MODIFIED_SINCE, v);
    }
    let Some(resp) = ctx.fetch(url, headers).await else {
        return Ok(());
    };
    if resp.status == StatusCode::NOT_MODIFIED {
        ctx.counters.add(&ctx.counters.not_modified, 1);
        return Ok(());
    }
    let get = |h| {
        resp.headers
            .get(h)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .map(str::to_string)
    };
    let validators = Validators {
        etag: get(ETAG),
        last_modified: get(LAST_MODIFIED),
    };
    let cursor = Ctx::cursor_value(&key, &validators);
    let parser = feed_rs::parser::Builder::new()
        .base_uri(Some(resp.url.as_str()))
        .build();
    let feed = match parser.parse(&resp.body[..]) {
        Ok(f) => f,
        Err(e) => {
            ctx.emitter
                .dead_letter(&format!("invalid feed: {e}"), &redact(url), &resp.body)
                .await;
            // The bad version is kept; remember its validators so it is not refetched and re-reported.
            ctx.emitter.emit(Vec::new(), Some(cursor)).await?;
            return Ok(());
        }
    };
    let mut posts = Vec::with_capacity(feed.entries.len());
    for entry in &feed.entries {
        match to_post(&feed, entry, &resp.url) {
            Some(p) => posts.push(p),
            None => {
                let payload = serde_json::to_vec(&entry_json(entry)).unwrap_or_default();
                ctx.emitter
                    .dead_letter(
                        "feed entry has no title, text or link",
                        &redact(url),
                        &payload,
                    )
                    .await;
            }
        }
    }
    ctx.emitter.emit(posts, Some(cursor)).await?;
    Ok(())
}

/// The entry's link: the `alternate` one when marked, resolved against the feed URL.
fn link(entry: &Entry, base: &Url) -> Option<String> {
    let l = entry
        .links
        .iter()
        .find(|l| l.rel.as_deref().is_none_or(|r| r == "alternate"))
        .or(entry.links.first())?;
    Some(
        base.join(l.href.trim())
            .map(String::from)
            .unwrap_or_else(|_| l.href.clone()),
    )
}

fn to_post(feed: &Feed, entry: &Entry, base: &Url) -> Option<Post> {
    let title = entry
        .title
        .as_ref()
        .map(|t| html_to_text(&t.content))
        .filter(|t| !t.is_empty());
    let body = entry
        .content
        .as_ref()
        .and_then(|c| c.body.as_deref())
        .or(entry.summary.as_ref().map(|s| s.content.as_str()))
        .map(html_to_text)
        .unwrap_or_default();
    let url = link(entry, base);
    if title.is_none() && body.is_empty() && url.is_none() {
        return None;
    }
    // feed-rs derives an id from the link and title when the entry has none, so this is stable.
    let mut post = Post::new(Post::make_id("rss", &digest(&entry.id)), body);
    post.url = url;
    post.title = title;
    let a = entry.authors.first().or(feed.authors.first());
    post.author = Author {
        handle: a.and_then(|a| a.name.clone()).filter(|n| !n.is_empty()),
        display_name: a.and_then(|a| a.name.clone()).filter(|n| !n.is_empty()),
        reach: None,
        url: a
            .and_then(|a| a.uri.as_deref())
            .and_then(|u| base.join(u).ok())
            .map(String::from),
    };
    post.lang = feed.language.as_deref().and_then(lang);
    post.published_at = entry.published.or(entry.updated);
    post.raw = Some(entry_json(entry));
    Some(post)
}

/// What we keep of an entry as its "raw payload" (feed-rs has no JSON form).
fn entry_json(entry: &Entry) -> serde_json::Value {
    serde_json::json!({
        "id": entry.id,
        "title": entry.title.as_ref().map(|t| &t.content),
        "links": entry.links.iter().map(|l| &l.href).collect::<Vec<_>>(),
        "summary": entry.summary.as_ref().map(|s| &s.content),
        "content": entry.content.as_ref().and_then(|c| c.body.as_ref()),
        "published": entry.published,
        "updated": entry.updated,
        "authors": entry.authors.iter().map(|a| &a.name).collect::<Vec<_>>(),
    })
}
