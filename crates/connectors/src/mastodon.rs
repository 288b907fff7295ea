//! Mastodon public and hashtag timelines of one instance, paged upward with
//! `min_id` (each page holds the statuses immediately newer than it).

mod config;
pub use config::MastodonConfig;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use earshot_model::{Author, Post};
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION};
use serde::Deserialize;
use serde_json::Value;
use url::Url;

use crate::config::secs;
use crate::error::SourceResult;
use crate::source::{Ctx, Source};
use crate::text::{html_to_text, id_cmp, lang};

pub(crate) struct Mastodon {
    cfg: MastodonConfig,
}

impl Mastodon {
    pub fn new(cfg: MastodonConfig) -> Mastodon {
        Mastodon { cfg }
    }
}

#[derive(Deserialize)]
struct Status {
    id: String,
    uri: String,
    created_at: DateTime<Utc>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    content: String,
    #[serde(default)]
    spoiler_text: String,
    #[serde(default)]
    language: Option<String>,
    account: Account,
    #[serde(default)]
    replies_count: Option<u64>,
    #[serde(default)]
    reblogs_count: Option<u64>,
    #[serde(default)]
    favourites_count: Option<u64>,
    #[serde(default)]
    reblog: Option<Box<Value>>,
    #[serde(default)]
    in_reply_to_id: Option<String>,
    #[serde(default)]
    in_reply_to_account_id: Option<String>,
    #[serde(default)]
    mentions: Vec<Mention>,
}

#[derive(Deserialize)]
struct Mention {
    id: String,
    username: String,
    acct: String,
}

#[derive(Deserialize)]
struct Account {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    username: Option<String>,
    acct: String,
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    followers_count: Option<u64>,
    /// When the account was created (the match stage reads young accounts).
    #[serde(default)]
    created_at: Option<DateTime<Utc>>,
}

#[async_trait]
impl Source for Mastodon {
    async fn run(self: Box<Self>, ctx: Arc<Ctx>) -> SourceResult<()> {
        let base = Url::parse(&self.cfg.instance)?;
        let host = base.host_str().unwrap_or("").to_string();
        let mut headers = HeaderMap::new();
        if let Some(t) = std::env::var(&self.cfg.token_env)
            .ok()
            .filter(|t| !t.trim().is_empty())
        {
            let mut v = HeaderValue::from_str(&format!("Bearer {t}"))?;
            v.set_sensitive(true);
            headers.insert(AUTHORIZATION, v);
        }
        let mut timelines: Vec<(String, String, Vec<(String, String)>)> = Vec::new();
        if self.cfg.public {
            let key = if self.cfg.local_only {
                "local"
            } else {
                "public"
            };
            timelines.push((
                key.into(),
                "api/v1/timelines/public".into(),
                vec![("local".into(), self.cfg.local_only.to_string())],
            ));
        }
        for tag in &self.cfg.hashtags {
            timelines.push((
                format!("tag:{tag}"),
                format!("api/v1/timelines/tag/{tag}"),
                vec![],
            ));
        }
        let this = Arc::new(*self);
        let mut tasks = tokio::task::JoinSet::new();
        for (key, path, query) in timelines {
            let (ctx, this, headers, host) =
                (ctx.clone(), this.clone(), headers.clone(), host.clone());
            let mut url = base.join(&path)?;
            url.query_pairs_mut()
                .extend_pairs(&query)
                .append_pair("limit", &this.cfg.limit.to_string());
            tasks.spawn(async move {
                let failed = format!("timeline {key} failed");
                let interval = secs(this.cfg.poll_interval_secs);
                ctx.poll_every(url.as_str(), &failed, interval, || {
                    let (t, c, k, u, h, hs) = (
                        this.clone(),
                        ctx.clone(),
                        key.clone(),
                        url.clone(),
                        headers.clone(),
                        host.clone(),
                    );
                    async move { t.poll(&c, &k, &u, &h, &hs).await }
                })
                .await;
            });
        }
        while tasks.join_next().await.is_some() {}
        Ok(())
    }
}

impl Mastodon {
    async fn poll(
        &self,
        ctx: &Ctx,
        key: &str,
        base: &Url,
        headers: &HeaderMap,
        host: &str,
    ) -> SourceResult<()> {
        let ckey = format!("timeline:{key}");
        let cursor: Option<String> = ctx.cursor(&ckey).await?;
        let mut newest = cursor.clone();
        let mut statuses = Vec::new();
        let mut ok = true;
        for _ in 0..self.cfg.max_pages.max(1) {
            let mut url = base.clone();
            if let Some(min) = &newest {
                url.query_pairs_mut().append_pair("min_id", min);
            }
            let Some(page) = ctx.fetch_json::<Vec<Value>>(&url, headers.clone()).await else {
                ok = false;
                break;
            };
            let n = page.len();
            let items = ctx.items::<Status>(&url, page).await;
            for (s, _) in &items {
                if newest.as_deref().is_none_or(|m| id_cmp(&s.id, m).is_gt()) {
                    newest = Some(s.id.clone());
                }
            }
            statuses.extend(items);
            // Without a cursor only the latest page is read: the start is "now".
            if n < self.cfg.limit as usize || cursor.is_none() {
                break;
            }
        }
        let mut posts = Vec::with_capacity(statuses.len());
        for (s, raw) in statuses {
            match to_post(s, raw, host) {
                Ok(p) => posts.push(p),
                Err((reason, raw)) => {
                    ctx.emitter
                        .dead_letter(
                            &reason,
                            base.as_str(),
                            &serde_json::to_vec(&raw).unwrap_or_default(),
                        )
                        .await
                }
            }
        }
        let next = if ok {
            newest.map(|n| Ctx::cursor_value(&ckey, &n))
        } else {
            None
        };
        ctx.emitter.emit(posts, next).await?;
        Ok(())
    }
}

/// The post id of the status `parent` (an id local to `host`) that `s` replies to.
///
/// Post ids are made from statuses' ActivityPub URIs. When the parent's
/// author is local to the instance (the replied-to account is the author
/// or a local mention), its URI is Mastodon's `https://host/users/NAME/statuses/ID`
/// and the id is the one that status gets when read. Otherwise the id is
/// made from the instance's API URL of the status, which still names it
/// uniquely and can be fetched.
fn parent_id(
    author: &Account,
    account: Option<&str>,
    mentions: &[Mention],
    parent: &str,
    host: &str,
) -> String {
    let local_author =
        if account.is_some() && account == author.id.as_deref() && !author.acct.contains('@') {
            author.username.clone()
        } else {
            mentions
                .iter()
                .find(|m| Some(m.id.as_str()) == account && !m.acct.contains('@'))
                .map(|m| m.username.clone())
        };
    match local_author {
        Some(name) => Post::make_id(
            "mastodon",
            &format!("https://{host}/users/{name}/statuses/{parent}"),
        ),
        None => Post::make_id(
            "mastodon",
            &format!("https://{host}/api/v1/statuses/{parent}"),
        ),
    }
}

/// A boost is produced as the boosted status (its own id dedups repeats).
fn to_post(s: Status, raw: Value, host: &str) -> Result<Post, (String, Value)> {
    if let Some(inner) = s.reblog {
        let inner = *inner;
        return match Status::deserialize(&inner) {
            Ok(st) => to_post(st, inner, host),
            Err(e) => Err((format!("malformed boosted status: {e}"), raw)),
        };
    }
    let mut p = Post::new(Post::make_id("mastodon", &s.uri), html_to_text(&s.content));
    p.reply_to = s.in_reply_to_id.as_deref().map(|parent| {
        parent_id(
            &s.account,
            s.in_reply_to_account_id.as_deref(),
            &s.mentions,
            parent,
            host,
        )
    });
    p.url = s.url.or(Some(s.uri));
    p.title = (!s.spoiler_text.is_empty()).then_some(s.spoiler_text);
    let handle = if s.account.acct.contains('@') {
        s.account.acct
    } else {
        format!("{}@{host}", s.account.acct)
    };
    p.author = Author {
        handle: Some(handle),
        display_name: s.account.display_name.filter(|d| !d.is_empty()),
        reach: s.account.followers_count,
        url: s.account.url,
        created_at: s.account.created_at,
    };
    p.lang = s.language.as_deref().and_then(lang);
    p.published_at = Some(s.created_at);
    p.engagement.likes = s.favourites_count;
    p.engagement.replies = s.replies_count;
    p.engagement.reposts = s.reblogs_count;
    p.raw = Some(raw);
    Ok(p)
}

/// One fetched page's bytes to posts, as `poll` reads them (decode the
/// page, then each item; items of the wrong shape are skipped here where
/// `poll` dead-letters them). The fuzz targets' entry (issue 12).
pub(crate) fn parse_page(body: &[u8]) -> Result<Vec<Post>, serde_json::Error> {
    let page: Vec<Value> = serde_json::from_slice(body)?;
    Ok(page
        .into_iter()
        .filter_map(|raw| Some((Status::deserialize(&raw).ok()?, raw)))
        .filter_map(|(s, raw)| to_post(s, raw, "mastodon.example").ok())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(reply_account: &str) -> Value {
        serde_json::json!({
            "id": "200", "uri": "https://m.test/users/bob/statuses/200", "created_at": "2025-06-10T00:00:00Z",
            "content": "<p>@ann yes</p>", "account": {"id": "2", "username": "bob", "acct": "bob"},
            "in_reply_to_id": "100", "in_reply_to_account_id": reply_account,
            "mentions": [{"id": "1", "username": "ann", "acct": "ann"}, {"id": "9", "username": "eve", "acct": "eve@far.test"}]
        })
    }

    #[test]
    fn issue_19_replies_point_at_their_parent() {
        let raw = status("1");
        let p = to_post(Status::deserialize(&raw).unwrap(), raw, "m.test").unwrap();
        // The id the parent gets when it is read: made from its URI.
        assert_eq!(
            p.reply_to,
            Some(Post::make_id(
                "mastodon",
                "https://m.test/users/ann/statuses/100"
            ))
        );
        let raw = status("2");
        let p = to_post(Status::deserialize(&raw).unwrap(), raw, "m.test").unwrap();
        assert_eq!(
            p.reply_to,
            Some(Post::make_id(
                "mastodon",
                "https://m.test/users/bob/statuses/100"
            ))
        );
        let raw = status("9");
        let p = to_post(Status::deserialize(&raw).unwrap(), raw, "m.test").unwrap();
        assert_eq!(
            p.reply_to,
            Some(Post::make_id(
                "mastodon",
                "https://m.test/api/v1/statuses/100"
            ))
        );
    }
}
