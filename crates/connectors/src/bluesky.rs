//! Bluesky through Jetstream: a websocket of JSON events
//! (`wantedCollections=app.bsky.feed.post`). The cursor is the `time_us` of
//! the last event whose posts were acknowledged; a reconnect asks for
//! `cursor - rewind_secs` so the gap is covered, and the replayed posts are
//! dropped as duplicates by id.

mod config;
pub use config::BlueskyConfig;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use earshot_model::{Author, Post};
use futures::StreamExt;
use serde::Deserialize;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;
use url::Url;

use crate::config::secs;
use crate::error::{SourceError, SourceResult};
use crate::source::{Ctx, Source};
use crate::text::lang;

pub(crate) struct Bluesky {
    cfg: BlueskyConfig,
    keywords: Vec<String>,
}

impl Bluesky {
    pub fn new(cfg: BlueskyConfig) -> Bluesky {
        let keywords = cfg.keywords.iter().map(|k| k.to_lowercase()).collect();
        Bluesky { cfg, keywords }
    }
}

const KEY: &str = "time_us";
const COLLECTION: &str = "app.bsky.feed.post";

#[derive(Deserialize)]
struct Event {
    did: String,
    time_us: i64,
    kind: String,
    #[serde(default)]
    commit: Option<Commit>,
}

#[derive(Deserialize)]
struct Commit {
    operation: String,
    collection: String,
    rkey: String,
    #[serde(default)]
    record: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PostRecord {
    text: String,
    created_at: DateTime<Utc>,
    #[serde(default)]
    langs: Vec<String>,
    #[serde(default)]
    reply: Option<Reply>,
    #[serde(default)]
    facets: Vec<Facet>,
}

/// A rich-text annotation: a byte range of `text` and what it means.
#[derive(Deserialize)]
struct Facet {
    index: ByteSlice,
    #[serde(default)]
    features: Vec<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ByteSlice {
    byte_start: usize,
    byte_end: usize,
}

/// The text with each link facet's shortened label (`example.com/a-long...`)
/// replaced by the full URL it stands for. Facets out of range, overlapping
/// or not on character boundaries are ignored (the label stays).
fn expand_links(text: &str, facets: &[Facet]) -> String {
    let mut links: Vec<(usize, usize, &str)> = facets
        .iter()
        .filter_map(|f| {
            let uri = f.features.iter().find_map(|x| {
                (x.get("$type")?.as_str()? == "app.bsky.richtext.facet#link")
                    .then(|| x.get("uri")?.as_str())
                    .flatten()
            })?;
            Some((f.index.byte_start, f.index.byte_end, uri))
        })
        .collect();
    links.sort_by_key(|l| l.0);
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (start, end, uri) in links {
        if start < at
            || start > end
            || end > text.len()
            || !text.is_char_boundary(start)
            || !text.is_char_boundary(end)
        {
            continue;
        }
        out.push_str(&text[at..start]);
        out.push_str(uri);
        at = end;
    }
    out.push_str(&text[at..]);
    out
}

#[derive(Deserialize)]
struct Reply {
    parent: Ref,
    root: Ref,
}

#[derive(Deserialize)]
struct Ref {
    uri: String,
}

/// Posts read but not yet produced, and the newest event time seen.
#[derive(Default)]
struct Batch {
    posts: Vec<Post>,
    time_us: Option<i64>,
}

#[async_trait]
impl Source for Bluesky {
    async fn run(self: Box<Self>, ctx: Arc<Ctx>) -> SourceResult<()> {
        let mut failures = 0u32;
        while !ctx.shutdown.is_cancelled() {
            match self.session(&ctx).await {
                Ok(true) => failures = 0,
                Ok(false) => failures += 1,
                Err(e) => {
                    failures += 1;
                    ctx.error("jetstream session failed", &format!("{e:#}"));
                }
            }
            let wait = secs(self.cfg.reconnect_secs)
                .saturating_mul(1 << failures.min(10))
                .min(secs(ctx.config.backoff_max_secs).max(secs(self.cfg.reconnect_secs)));
            if !ctx.sleep(wait).await {
                break;
            }
        }
        Ok(())
    }
}

impl Bluesky {
    /// One connection, until it drops or shutdown. Returns whether data flowed.
    async fn session(&self, ctx: &Ctx) -> SourceResult<bool> {
        let cursor: Option<i64> = ctx.cursor(KEY).await?;
        let mut url = Url::parse(&self.cfg.url)?;
        url.query_pairs_mut()
            .append_pair("wantedCollections", COLLECTION);
        if let Some(c) = cursor {
            let rewind = (self.cfg.rewind_secs * 1e6) as i64;
            url.query_pairs_mut()
                .append_pair("cursor", &(c - rewind).to_string());
        }
        let connect = tokio_tungstenite::connect_async(url.as_str());
        let (mut ws, _) = tokio::select! {
            _ = ctx.shutdown.cancelled() => return Ok(true),
            r = tokio::time::timeout(ctx.config.timeout(), connect) => r
                .map_err(|_| SourceError::Other("connect timed out".into()))??,
        };
        ctx.counters.add(&ctx.counters.polls, 1);
        tracing::info!(connector = %ctx.name, cursor = ?cursor, "jetstream connected");
        let mut batch = Batch::default();
        let mut got_any = false;
        let interval = secs(self.cfg.batch_interval_secs);
        let mut deadline = tokio::time::Instant::now() + interval;
        let mut last_message = tokio::time::Instant::now();
        loop {
            let msg = tokio::select! {
                _ = ctx.shutdown.cancelled() => {
                    self.flush(ctx, &mut batch).await?;
                    let _ = ws.close(None).await;
                    return Ok(true);
                }
                _ = tokio::time::sleep_until(deadline) => {
                    self.flush(ctx, &mut batch).await?;
                    deadline = tokio::time::Instant::now() + interval;
                    // An idle stream past the timeout counts as dead: Jetstream is never quiet for long.
                    if last_message.elapsed() > ctx.config.timeout().max(Duration::from_secs(1)) {
                        ctx.error("jetstream idle", &"no message within timeout_secs; reconnecting");
                        break;
                    }
                    continue;
                }
                m = ws.next() => m,
            };
            last_message = tokio::time::Instant::now();
            match msg {
                Some(Ok(Message::Text(t))) => {
                    got_any = true;
                    self.event(ctx, t.as_bytes(), &mut batch).await;
                }
                Some(Ok(Message::Binary(b))) => {
                    ctx.emitter
                        .dead_letter("unexpected binary frame", &self.cfg.url, &b)
                        .await;
                }
                Some(Ok(Message::Close(_))) | None => break,
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    ctx.error("jetstream read failed", &e);
                    break;
                }
            }
            if batch.posts.len() >= self.cfg.batch_size {
                self.flush(ctx, &mut batch).await?;
                deadline = tokio::time::Instant::now() + interval;
            }
        }
        // What arrived before the drop is real: produce it, then reconnect from it.
        self.flush(ctx, &mut batch).await?;
        Ok(got_any)
    }

    async fn flush(&self, ctx: &Ctx, batch: &mut Batch) -> SourceResult<()> {
        let b = std::mem::take(batch);
        if let Some(t) = b.time_us {
            ctx.emitter
                .emit(b.posts, Some(Ctx::cursor_value(KEY, &t)))
                .await?;
        }
        Ok(())
    }

    async fn event(&self, ctx: &Ctx, bytes: &[u8], batch: &mut Batch) {
        let (time_us, outcome) = match parse_event(bytes, &self.keywords) {
            Ok(parsed) => parsed,
            Err(reason) => return ctx.emitter.dead_letter(&reason, &self.cfg.url, bytes).await,
        };
        batch.time_us = Some(batch.time_us.map_or(time_us, |t| t.max(time_us)));
        match outcome {
            Ok(Some(p)) => batch.posts.push(p),
            Ok(None) => {}
            Err(reason) => ctx.emitter.dead_letter(&reason, &self.cfg.url, bytes).await,
        }
    }
}

/// One Jetstream event's bytes: `Err(reason)` when it is not an event at
/// all; else its time and what it gives: a post, nothing (another kind of
/// event, or no keyword in it), or `Err(reason)` for a post commit that
/// cannot become a post. Pure, so the fuzz target runs it (issue 12).
pub(crate) fn parse_event(
    bytes: &[u8],
    keywords: &[String],
) -> Result<(i64, Result<Option<Post>, String>), String> {
    let ev: Event =
        serde_json::from_slice(bytes).map_err(|e| format!("invalid Jetstream event: {e}"))?;
    Ok((ev.time_us, event_post(&ev, bytes, keywords)))
}

fn event_post(ev: &Event, bytes: &[u8], keywords: &[String]) -> Result<Option<Post>, String> {
    let Some(commit) = ev
        .commit
        .as_ref()
        .filter(|c| ev.kind == "commit" && c.operation == "create" && c.collection == COLLECTION)
    else {
        return Ok(None);
    };
    let Some(record) = &commit.record else {
        return Err("post commit without a record".into());
    };
    let rec = PostRecord::deserialize(record).map_err(|e| format!("malformed post record: {e}"))?;
    if !keywords.is_empty() {
        let text = rec.text.to_lowercase();
        if !keywords.iter().any(|k| text.contains(k)) {
            return Ok(None);
        }
    }
    let at_uri = format!("at://{}/{COLLECTION}/{}", ev.did, commit.rkey);
    let text = expand_links(&rec.text, &rec.facets);
    let mut p = Post::new(Post::make_id("bluesky", &at_uri), text);
    p.url = Some(format!(
        "https://bsky.app/profile/{}/post/{}",
        ev.did, commit.rkey
    ));
    p.author = Author {
        handle: Some(ev.did.clone()),
        display_name: None,
        reach: None,
        url: Some(format!("https://bsky.app/profile/{}", ev.did)),
        created_at: None,
    };
    p.lang = rec.langs.first().and_then(|l| lang(l));
    p.published_at = Some(rec.created_at);
    if let Some(r) = rec.reply {
        p.reply_to = Some(Post::make_id("bluesky", &r.parent.uri));
        p.thread_id = Some(Post::make_id("bluesky", &r.root.uri));
    }
    p.raw = serde_json::from_slice(bytes).ok();
    Ok(Some(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_19_link_facets_keep_the_full_url() {
        let rec: PostRecord = serde_json::from_value(serde_json::json!({
            "text": "café: see example.com/a-very-lo... and x.test",
            "createdAt": "2025-06-10T00:00:00Z",
            "facets": [
                {"index": {"byteStart": 11, "byteEnd": 35},
                 "features": [{"$type": "app.bsky.richtext.facet#link", "uri": "https://example.com/a-very-long-path?q=1"}]},
                {"index": {"byteStart": 40, "byteEnd": 46},
                 "features": [{"$type": "app.bsky.richtext.facet#mention", "did": "did:plc:x"}]},
                {"index": {"byteStart": 1, "byteEnd": 4},
                 "features": [{"$type": "app.bsky.richtext.facet#link", "uri": "https://bad.test"}]}
            ]
        }))
        .unwrap();
        assert_eq!(
            expand_links(&rec.text, &rec.facets),
            "café: see https://example.com/a-very-long-path?q=1 and x.test",
            "link expanded; mention kept; a range inside `é` ignored"
        );
    }
}
