//! X API v2 recent search (`GET /2/tweets/search/recent`), on only when the
//! bearer token is in the environment.
//!
//! Results come newest first; a poll asks for `since_id=<cursor>` and follows
//! `meta.next_token` down. The cursor becomes the newest id only once the
//! walk reached the bottom; when `max_pages` runs out first, the cursor keeps
//! `until_id` (the oldest id read) and the next poll continues below it.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Duration as ChronoDuration, SecondsFormat, Utc};
use earshot_model::{Author, Post};
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

use crate::config::{secs, XConfig};
use crate::source::{Ctx, Source};
use crate::text::{id_cmp, lang};

pub(crate) struct X {
    cfg: XConfig,
}

impl X {
    pub fn new(cfg: XConfig) -> X {
        X { cfg }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
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

#[async_trait]
impl Source for X {
    async fn run(self: Box<Self>, ctx: Arc<Ctx>) -> anyhow::Result<()> {
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
        loop {
            if let Err(e) = self.poll(&ctx, &headers).await {
                ctx.error("poll failed", &format!("{e:#}"));
            }
            if !ctx.sleep(secs(self.cfg.poll_interval_secs)).await {
                return Ok(());
            }
        }
    }
}

impl X {
    async fn poll(&self, ctx: &Ctx, headers: &HeaderMap) -> anyhow::Result<()> {
        let mut cur: Cursor = ctx.cursor(KEY).await?.unwrap_or_default();
        if cur.since_id.is_none() && cur.start_time.is_none() {
            let start = Utc::now() - ChronoDuration::seconds(self.cfg.initial_lookback_secs as i64);
            cur.start_time = Some(start.to_rfc3339_opts(SecondsFormat::Secs, true));
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
                        "created_at,author_id,lang,public_metrics,conversation_id,referenced_tweets",
                    )
                    .append_pair("expansions", "author_id")
                    .append_pair("user.fields", "username,name,public_metrics");
                match (&cur.since_id, &cur.start_time) {
                    (Some(s), _) => q.append_pair("since_id", s),
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
            let page = match ctx.fetch(&url, headers.clone()).await {
                Some(resp) => ctx.json::<Page>(&url, &resp.body).await,
                None => None,
            };
            let Some(page) = page else {
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
            Cursor {
                since_id: newest.clone().or(cur.since_id),
                until_id: None,
                newest_id: newest,
                start_time: cur.start_time,
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
    let mut p = Post::new(Post::make_id("x", &t.id), t.text);
    p.url = Some(match user {
        Some(u) => format!("https://x.com/{}/status/{}", u.username, t.id),
        None => format!("https://x.com/i/web/status/{}", t.id),
    });
    p.author = Author {
        handle: user.map(|u| u.username.clone()),
        display_name: user.and_then(|u| u.name.clone()),
        reach: user
            .and_then(|u| u.public_metrics.as_ref())
            .and_then(|m| m.followers_count),
        url: user.map(|u| format!("https://x.com/{}", u.username)),
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
