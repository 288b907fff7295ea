//! Polling API connectors (Hacker News, Reddit, Mastodon, X, YouTube) against
//! loopback servers that page and filter like the real APIs, with payloads
//! in their documented shapes.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::Query;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use common::*;
use earshot_transport::MemoryBus;
use serde_json::{json, Value};

type Q = Query<HashMap<String, String>>;

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

// ---------------------------------------------------------------- Hacker News

fn hn_hit(id: u64, at: i64) -> Value {
    if id.is_multiple_of(2) {
        json!({"objectID": id.to_string(), "created_at": "2025-06-10T00:00:00Z", "created_at_i": at, "author": "pg",
               "title": format!("Acme story {id}"), "url": format!("https://acme.test/{id}"), "points": 10, "num_comments": 2,
               "story_text": null, "comment_text": null, "_tags": ["story", format!("story_{id}")]})
    } else {
        json!({"objectID": id.to_string(), "created_at": "2025-06-10T00:00:00Z", "created_at_i": at, "author": "dang",
               "comment_text": "I <i>love</i> Acme &amp; its support", "story_id": 1, "parent_id": id - 1,
               "story_title": "Acme story", "points": null, "_tags": ["comment", format!("comment_{id}")]})
    }
}

/// Algolia's `search_by_date`: newest first, `numericFilters` on `created_at_i`, pages.
fn algolia(hits: &[Value], q: &HashMap<String, String>) -> Value {
    let mut lo = i64::MIN;
    let mut hi = i64::MAX;
    for f in q
        .get("numericFilters")
        .map(String::as_str)
        .unwrap_or("")
        .split(',')
        .filter(|f| !f.is_empty())
    {
        if let Some(v) = f.strip_prefix("created_at_i>=") {
            lo = v.parse().unwrap();
        } else if let Some(v) = f.strip_prefix("created_at_i<=") {
            hi = v.parse().unwrap();
        } else {
            panic!("unexpected filter {f}");
        }
    }
    let mut matching: Vec<&Value> = hits
        .iter()
        .filter(|h| {
            h["created_at_i"]
                .as_i64()
                .is_none_or(|t| t >= lo && t <= hi)
        })
        .collect();
    matching.sort_by_key(|h| -h["created_at_i"].as_i64().unwrap_or(0));
    let per: usize = q["hitsPerPage"].parse().unwrap();
    let page: usize = q.get("page").map_or(0, |p| p.parse().unwrap());
    let pages = matching.len().div_ceil(per);
    let slice: Vec<&Value> = matching
        .iter()
        .skip(page * per)
        .take(per)
        .copied()
        .collect();
    json!({"hits": slice, "nbHits": matching.len(), "page": page, "nbPages": pages, "hitsPerPage": per,
           "exhaustiveNbHits": true, "query": q["query"], "params": "", "processingTimeMS": 1})
}

#[tokio::test]
async fn hn_pages_through_a_backlog_and_resumes_after_restart_without_loss_or_duplicates() {
    init_tracing();
    let t0 = now() - 1000;
    let hits: Arc<Mutex<Vec<Value>>> = Arc::new(Mutex::new(
        (1..=5).map(|i| hn_hit(i, t0 + i as i64)).collect(),
    ));
    // A hit missing its objectID: dead-lettered alone.
    hits.lock()
        .unwrap()
        .push(json!({"created_at_i": t0 + 3, "title": "no id"}));
    let filters: Arc<Mutex<Vec<String>>> = Arc::default();
    let (h, f) = (hits.clone(), filters.clone());
    let app = Router::new().route(
        "/api/v1/search_by_date",
        get(move |Query(q): Q| {
            let (h, f) = (h.clone(), f.clone());
            async move {
                assert_eq!(q["query"], "acme");
                assert_eq!(q["tags"], "(story,comment)");
                f.lock().unwrap().push(q["numericFilters"].clone());
                Json(algolia(&h.lock().unwrap(), &q))
            }
        }),
    );
    let addr = serve(app).await;
    let dir = tempfile::tempdir().unwrap();
    let toml = format!(
        r#"
        [cursors]
        path = "CURSORS"
        [connect]
        per_host_requests_per_second = 0
        [[connectors]]
        name = "hn"
        kind = "hn"
        query = "acme"
        base_url = "http://{addr}/api/v1"
        hits_per_page = 2
        overlap_secs = 0
        initial_lookback_secs = 5000
        poll_interval_secs = 0.05
        "#
    );
    let cfg = config(&dir, &toml);
    let bus = MemoryBus::new();

    let run = start(&bus, &cfg).await;
    run.wait("hn", "the first five hits", |s| {
        s.produced == 5 && s.dead_letters >= 1 && s.polls >= 8
    })
    .await;
    let first = run.stop().await;
    assert_eq!(first.connectors["hn"].errors, 0);
    {
        let f = filters.lock().unwrap();
        assert!(
            f[0].starts_with("created_at_i>=") && !f[0].contains("<="),
            "{f:?}"
        );
        assert!(
            f.iter().any(|x| x.contains("created_at_i<=")),
            "full pages narrow the window: {f:?}"
        );
    }

    // New items arrive while the daemon is down.
    hits.lock()
        .unwrap()
        .extend((6..=8).map(|i| hn_hit(i, t0 + 100 + i as i64)));
    filters.lock().unwrap().clear();
    let run = start(&bus, &cfg).await;
    run.wait("hn", "only the three new hits", |s| {
        s.produced == 3 && s.polls >= 3
    })
    .await;
    let second = run.stop().await;
    assert_eq!(
        second.connectors["hn"].produced, 3,
        "nothing refetched: {second:?}"
    );
    let f = filters.lock().unwrap().clone();
    assert_eq!(
        f[0],
        format!("created_at_i>={}", t0 + 5),
        "resumed from the saved cursor"
    );

    let posts = posts(&bus).await;
    let ids = unique_ids(&posts);
    assert_eq!(
        ids,
        (1..=8)
            .map(|i| format!("hn:{i}"))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect::<Vec<_>>()
    );
    let comment = posts.iter().find(|p| p.id == "hn:3").unwrap();
    assert_eq!(comment.text, "I love Acme & its support");
    assert_eq!(comment.reply_to.as_deref(), Some("hn:2"));
    assert_eq!(comment.thread_id.as_deref(), Some("hn:1"));
    assert_eq!(
        comment.url.as_deref(),
        Some("https://news.ycombinator.com/item?id=3")
    );
    let story = posts.iter().find(|p| p.id == "hn:4").unwrap();
    assert_eq!(story.title.as_deref(), Some("Acme story 4"));
    assert_eq!(story.engagement.score, Some(10));
    assert_eq!(story.published_at.unwrap().timestamp(), t0 + 4);
    let dl = dead_letters(&bus).await;
    assert!(
        dl.iter()
            .any(|d| d.reason.contains("objectID") && d.payload_text().contains("no id")),
        "{dl:?}"
    );
}

// ---------------------------------------------------------------- Reddit

fn reddit_thing(i: usize) -> Value {
    json!({"kind": "t3", "data": {
        "id": format!("p{i}"), "name": format!("t3_p{i}"), "title": format!("Acme post {i}"), "selftext": "Acme & co",
        "author": "redditor", "subreddit": "rust", "subreddit_subscribers": 300000, "created_utc": 1_700_000_000.0 + i as f64,
        "permalink": format!("/r/rust/comments/p{i}/acme/"), "url": "https://acme.test", "score": 5, "ups": 5,
        "num_comments": 1, "over_18": false
    }})
}

/// A `/new` listing, newest first, with `before`/`after` fullnames.
fn reddit_listing(items: &[Value], q: &HashMap<String, String>) -> Value {
    let limit: usize = q.get("limit").map_or(25, |l| l.parse().unwrap());
    let pos = |name: &str| items.iter().position(|t| t["data"]["name"] == name);
    let slice: Vec<Value> = if let Some(b) = q.get("before") {
        match pos(b) {
            Some(i) => items[i.saturating_sub(limit)..i].to_vec(),
            None => vec![],
        }
    } else if let Some(a) = q.get("after") {
        match pos(a) {
            Some(i) => items.iter().skip(i + 1).take(limit).cloned().collect(),
            None => vec![],
        }
    } else {
        items.iter().take(limit).cloned().collect()
    };
    let first = slice
        .first()
        .map(|t| t["data"]["name"].clone())
        .unwrap_or(Value::Null);
    let last = slice
        .last()
        .map(|t| t["data"]["name"].clone())
        .unwrap_or(Value::Null);
    json!({"kind": "Listing", "data": {"after": last, "before": first, "dist": slice.len(), "modhash": "", "geo_filter": "", "children": slice}})
}

#[tokio::test]
async fn reddit_walks_before_pages_honors_rate_limit_headers_and_sends_its_identity() {
    init_tracing();
    // Newest first: index 0 is the newest.
    let items: Arc<Mutex<Vec<Value>>> =
        Arc::new(Mutex::new((1..=10).rev().map(reddit_thing).collect()));
    type Requests = Vec<(Instant, HashMap<String, String>)>;
    let times: Arc<Mutex<Requests>> = Arc::default();
    let (it, tm) = (items.clone(), times.clone());
    let app = Router::new().route(
        "/r/rust/new.json",
        get(move |h: HeaderMap, Query(q): Q| {
            let (it, tm) = (it.clone(), tm.clone());
            async move {
                assert_eq!(h[header::USER_AGENT], "linux:earshot-test:0.1 (by /u/acme)");
                assert_eq!(h[header::AUTHORIZATION], "bearer reddit-secret");
                let n = {
                    let mut t = tm.lock().unwrap();
                    t.push((Instant::now(), q.clone()));
                    t.len()
                };
                let body = Json(reddit_listing(&it.lock().unwrap(), &q));
                // The first answer says the quota is used up for one second.
                let remaining = if n == 1 { "0.0" } else { "550.0" };
                (
                    [
                        ("x-ratelimit-used", "50"),
                        ("x-ratelimit-remaining", remaining),
                        ("x-ratelimit-reset", "1"),
                    ],
                    body,
                )
                    .into_response()
            }
        }),
    );
    let addr = serve(app).await;
    std::env::set_var("EARSHOT_TEST_REDDIT_TOKEN_1", "reddit-secret");
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        &dir,
        &format!(
            r#"
            [cursors]
            path = "CURSORS"
            [[connectors]]
            name = "reddit"
            kind = "reddit"
            subreddits = ["rust"]
            user_agent = "linux:earshot-test:0.1 (by /u/acme)"
            oauth_base_url = "http://{addr}"
            token_env = "EARSHOT_TEST_REDDIT_TOKEN_1"
            poll_interval_secs = 0.05
            "#
        ),
    );
    let bus = MemoryBus::new();
    let run = start(&bus, &cfg).await;
    run.wait("reddit", "the first page", |s| s.produced == 10)
        .await;
    // 230 new posts: three `before` pages of at most 100.
    {
        let mut it = items.lock().unwrap();
        let newer: Vec<Value> = (11..=240).rev().map(reddit_thing).collect();
        it.splice(0..0, newer);
    }
    run.wait("reddit", "all 240 posts", |s| s.produced == 240)
        .await;
    let stats = run.stop().await;
    assert_eq!(stats.connectors["reddit"].rate_limited, 1);
    let t = times.lock().unwrap().clone();
    assert!(
        t[1].0 - t[0].0 >= Duration::from_millis(950),
        "waited for the reset: {:?}",
        t[1].0 - t[0].0
    );
    let befores: Vec<&str> = t
        .iter()
        .filter_map(|(_, q)| q.get("before").map(String::as_str))
        .collect();
    assert!(
        befores.contains(&"t3_p10") && befores.contains(&"t3_p110") && befores.contains(&"t3_p210"),
        "{befores:?}"
    );
    let posts = posts(&bus).await;
    assert_eq!(unique_ids(&posts).len(), 240);
    let p = posts.iter().find(|p| p.id == "reddit:t3_p7").unwrap();
    assert_eq!(
        p.url.as_deref(),
        Some("https://www.reddit.com/r/rust/comments/p7/acme/")
    );
    assert_eq!(p.author.reach, Some(300000));
    assert_eq!(p.engagement.score, Some(5));
    assert_eq!(p.published_at.unwrap().timestamp(), 1_700_000_007);
}

// ---------------------------------------------------------------- Mastodon

fn status(id: u64) -> Value {
    json!({
        "id": id.to_string(), "created_at": "2025-06-10T12:00:00.000Z", "in_reply_to_id": null, "sensitive": false,
        "spoiler_text": "", "visibility": "public", "language": "en",
        "uri": format!("https://social.test/users/ann/statuses/{id}"), "url": format!("https://social.test/@ann/{id}"),
        "replies_count": 1, "reblogs_count": 2, "favourites_count": 3,
        "content": "<p>Loving <a href=\"https://social.test/tags/acme\" class=\"mention hashtag\">#<span>acme</span></a> &amp; co</p>",
        "reblog": null,
        "account": {"id": "1", "username": "ann", "acct": "ann", "display_name": "Ann", "url": "https://social.test/@ann", "followers_count": 42},
        "media_attachments": [], "mentions": [], "tags": [{"name": "acme", "url": "https://social.test/tags/acme"}], "emojis": []
    })
}

#[tokio::test]
async fn mastodon_pages_up_with_min_id() {
    init_tracing();
    let statuses: Arc<Mutex<Vec<u64>>> = Arc::new(Mutex::new((100..105).collect()));
    let seen: Arc<Mutex<Vec<HashMap<String, String>>>> = Arc::default();
    let (st, sn) = (statuses.clone(), seen.clone());
    let app = Router::new().route(
        "/api/v1/timelines/tag/acme",
        get(move |Query(q): Q| {
            let (st, sn) = (st.clone(), sn.clone());
            async move {
                sn.lock().unwrap().push(q.clone());
                let limit: usize = q["limit"].parse().unwrap();
                let mut ids = st.lock().unwrap().clone();
                ids.sort();
                let page: Vec<u64> = match q.get("min_id") {
                    // Immediately newer than min_id: the lowest ids above it.
                    Some(m) => ids
                        .into_iter()
                        .filter(|i| *i > m.parse::<u64>().unwrap())
                        .take(limit)
                        .collect(),
                    None => ids.into_iter().rev().take(limit).collect(),
                };
                let mut page: Vec<Value> = page.into_iter().map(status).collect();
                page.sort_by_key(|s| {
                    std::cmp::Reverse(s["id"].as_str().unwrap().parse::<u64>().unwrap())
                });
                let reset = (chrono::Utc::now() + chrono::Duration::minutes(5)).to_rfc3339();
                (
                    [
                        ("x-ratelimit-limit", "300".to_string()),
                        ("x-ratelimit-remaining", "299".to_string()),
                        ("x-ratelimit-reset", reset),
                    ],
                    Json(page),
                )
            }
        }),
    );
    let addr = serve(app).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        &dir,
        &format!(
            r#"
            [cursors]
            path = "CURSORS"
            [[connectors]]
            name = "masto"
            kind = "mastodon"
            instance = "http://{addr}"
            hashtags = ["acme"]
            limit = 20
            poll_interval_secs = 0.05
            "#
        ),
    );
    let bus = MemoryBus::new();
    let run = start(&bus, &cfg).await;
    run.wait("masto", "the latest page", |s| s.produced == 5)
        .await;
    statuses.lock().unwrap().extend(105..150);
    run.wait("masto", "45 more across three pages", |s| s.produced == 50)
        .await;
    let stats = run.stop().await;
    assert_eq!(stats.connectors["masto"].rate_limited, 0);
    let mins: Vec<String> = seen
        .lock()
        .unwrap()
        .iter()
        .filter_map(|q| q.get("min_id").cloned())
        .collect();
    assert!(
        mins.contains(&"104".to_string())
            && mins.contains(&"124".to_string())
            && mins.contains(&"144".to_string()),
        "{mins:?}"
    );
    let posts = posts(&bus).await;
    assert_eq!(unique_ids(&posts).len(), 50);
    let p = &posts[0];
    assert!(p
        .id
        .starts_with("mastodon:https://social.test/users/ann/statuses/"));
    assert_eq!(p.text, "Loving #acme & co");
    assert_eq!(
        p.author.handle.as_deref(),
        Some(format!("ann@{}", addr.ip()).as_str())
    );
    assert_eq!(p.author.reach, Some(42));
    assert_eq!(p.lang.as_deref(), Some("en"));
    assert_eq!(
        (
            p.engagement.likes,
            p.engagement.replies,
            p.engagement.reposts
        ),
        (Some(3), Some(1), Some(2))
    );
}

// ---------------------------------------------------------------- X

/// X's id epoch (Unix ms): ids are snowflakes, time in the bits above the 22nd.
const TWEPOCH_MS: i64 = 1_288_834_974_657;

/// An id of a tweet created `secs_ago` seconds ago (`n` tells apart ids of
/// one millisecond).
fn snowflake(secs_ago: i64, n: u64) -> u64 {
    let ms = chrono::Utc::now().timestamp_millis() - secs_ago * 1000 - TWEPOCH_MS;
    ((ms as u64) << 22) | n
}

fn id_ms(id: u64) -> i64 {
    (id >> 22) as i64 + TWEPOCH_MS
}

fn tweet(id: u64) -> Value {
    let created = chrono::DateTime::from_timestamp_millis(id_ms(id)).unwrap();
    json!({"id": id.to_string(), "text": format!("Acme rocks #{id}"), "author_id": "7", "created_at": created.to_rfc3339(),
           "lang": "en", "conversation_id": "1000", "edit_history_tweet_ids": [id.to_string()],
           "public_metrics": {"retweet_count": 1, "reply_count": 2, "like_count": 3, "quote_count": 4, "impression_count": 100},
           "referenced_tweets": [{"type": "replied_to", "id": "1000"}]})
}

/// X's answer to a parameter it refuses.
fn invalid_request(param: &str, value: &str, message: String) -> axum::response::Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"errors": [{"parameters": {param: [value]}, "message": message}],
                    "title": "Invalid Request", "detail": "One or more parameters to your request was invalid.",
                    "type": "https://api.twitter.com/2/problems/invalid-request"})),
    )
        .into_response()
}

/// Recent search: newest first, `since_id`/`until_id`/`start_time` bounds,
/// `next_token` pages, and the API's refusals: bounds older than seven days,
/// and ids next to times.
fn recent_search(ids: &[u64], q: &HashMap<String, String>) -> axum::response::Response {
    let week_ago = chrono::Utc::now().timestamp_millis() - 7 * 86_400_000;
    if let Some(s) = q.get("since_id") {
        if id_ms(s.parse().unwrap()) < week_ago {
            return invalid_request("since_id", s, format!("Invalid 'since_id':'{s}'. 'since_id' must be a tweet id created after the last 7 days."));
        }
    }
    let start_ms = q.get("start_time").map(|t| {
        chrono::DateTime::parse_from_rfc3339(t)
            .unwrap()
            .timestamp_millis()
    });
    if let (Some(t), Some(ms)) = (q.get("start_time"), start_ms) {
        if ms < week_ago {
            return invalid_request(
                "start_time",
                t,
                format!(
                    "Invalid 'start_time':'{t}'. 'start_time' must be on or after the last 7 days."
                ),
            );
        }
        if q.contains_key("since_id") || q.contains_key("until_id") {
            return invalid_request("start_time", t, "Invalid use of 'since_id' or 'until_id' in conjunction with 'start_time' or 'end_time'.".into());
        }
    }
    let since: u64 = q.get("since_id").map_or(0, |s| s.parse().unwrap());
    let until: u64 = q.get("until_id").map_or(u64::MAX, |s| s.parse().unwrap());
    let mut m: Vec<u64> = ids
        .iter()
        .copied()
        .filter(|i| *i > since && *i < until)
        .filter(|i| id_ms(*i) >= start_ms.unwrap_or(week_ago))
        .collect();
    m.sort_by(|a, b| b.cmp(a));
    let per: usize = q["max_results"].parse().unwrap();
    let start: usize = q
        .get("next_token")
        .map_or(0, |t| t.trim_start_matches("tok").parse().unwrap());
    let page: Vec<u64> = m.iter().skip(start).take(per).copied().collect();
    if page.is_empty() {
        return Json(json!({"meta": {"result_count": 0}})).into_response();
    }
    let mut meta = json!({"newest_id": page[0].to_string(), "oldest_id": page.last().unwrap().to_string(), "result_count": page.len()});
    if start + per < m.len() {
        meta["next_token"] = json!(format!("tok{}", start + per));
    }
    let now = chrono::Utc::now().timestamp() + 900;
    (
        [
            ("x-rate-limit-limit", "450".to_string()),
            ("x-rate-limit-remaining", "449".to_string()),
            ("x-rate-limit-reset", now.to_string()),
        ],
        Json(json!({"data": page.into_iter().map(tweet).collect::<Vec<_>>(),
           "includes": {"users": [{"id": "7", "name": "Acme Fan", "username": "acmefan", "public_metrics": {"followers_count": 1234, "following_count": 1, "tweet_count": 5, "listed_count": 0}}]},
           "meta": meta})),
    )
        .into_response()
}

type Queries = Arc<Mutex<Vec<HashMap<String, String>>>>;

/// A recent-search server over `ids` that records every query and checks
/// the bearer token.
async fn x_server(ids: Arc<Mutex<Vec<u64>>>, queries: Queries) -> std::net::SocketAddr {
    let app = Router::new().route(
        "/2/tweets/search/recent",
        get(move |h: HeaderMap, Query(q): Q| {
            let (i, qs) = (ids.clone(), queries.clone());
            async move {
                if h.get(header::AUTHORIZATION).map(|v| v.as_bytes()) != Some(b"Bearer x-secret") {
                    return (
                        StatusCode::UNAUTHORIZED,
                        Json(json!({"title": "Unauthorized"})),
                    )
                        .into_response();
                }
                qs.lock().unwrap().push(q.clone());
                recent_search(&i.lock().unwrap(), &q)
            }
        }),
    );
    serve(app).await
}

#[tokio::test]
async fn x_follows_next_token_then_since_id_and_stays_off_without_a_token() {
    init_tracing();
    // 25 tweets of the last half hour, a minute apart, then 5 more.
    let ids: Arc<Mutex<Vec<u64>>> = Arc::new(Mutex::new(
        (0..25).map(|k| snowflake(1800 - k * 60, 0)).collect(),
    ));
    let queries: Queries = Arc::default();
    let addr = x_server(ids.clone(), queries.clone()).await;
    std::env::set_var("EARSHOT_TEST_X_TOKEN_1", "x-secret");
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        &dir,
        &format!(
            r#"
            [cursors]
            path = "CURSORS"
            [[connectors]]
            name = "x"
            kind = "x"
            query = "acme -is:retweet"
            base_url = "http://{addr}/2"
            token_env = "EARSHOT_TEST_X_TOKEN_1"
            max_results = 10
            poll_interval_secs = 0.05
            [[connectors]]
            name = "x-off"
            kind = "x"
            query = "acme"
            base_url = "http://{addr}/2"
            token_env = "EARSHOT_TEST_X_TOKEN_UNSET"
            "#
        ),
    );
    let newest = *ids.lock().unwrap().iter().max().unwrap();
    let bus = MemoryBus::new();
    let run = start(&bus, &cfg).await;
    run.wait("x", "three pages", |s| s.produced == 25).await;
    ids.lock()
        .unwrap()
        .extend((0..5).map(|k| snowflake(10 - k, 1)));
    run.wait("x", "five new", |s| s.produced == 30).await;
    let stats = run.stop().await;
    assert_eq!(
        stats.connectors["x-off"],
        Default::default(),
        "no token: no request"
    );
    assert_eq!(stats.connectors["x"].errors, 0, "no request refused");
    let q = queries.lock().unwrap().clone();
    assert!(q[0].contains_key("start_time") && !q[0].contains_key("since_id"));
    assert_eq!(q[1].get("next_token").map(String::as_str), Some("tok10"));
    assert!(
        q.iter()
            .any(|q| q.get("since_id") == Some(&newest.to_string())),
        "then since_id = newest"
    );
    let posts = posts(&bus).await;
    assert_eq!(unique_ids(&posts).len(), 30);
    let first = ids.lock().unwrap()[4];
    let p = posts.iter().find(|p| p.id == format!("x:{first}")).unwrap();
    assert_eq!(
        p.url.as_deref(),
        Some(format!("https://x.com/acmefan/status/{first}").as_str())
    );
    assert_eq!(p.author.reach, Some(1234));
    assert_eq!(p.reply_to.as_deref(), Some("x:1000"));
    assert_eq!(
        (
            p.engagement.likes,
            p.engagement.replies,
            p.engagement.reposts
        ),
        (Some(3), Some(2), Some(5))
    );
}

/// Saves the X connector's cursor in the store `config` points at, as a
/// previous run would have; returns the store.
async fn save_x_cursor(dir: &tempfile::TempDir, cursor: Value) -> earshot_connect::CursorStore {
    let store = earshot_connect::CursorStore::open(&dir.path().join("cursors.db")).unwrap();
    store
        .commit("x", Some(("search".into(), cursor.to_string())), vec![])
        .await
        .unwrap();
    store
}

/// After a week down, the saved `since_id` is older than recent search
/// reaches: X refuses it, so the connector resumes at the window's edge,
/// counts the gap, and reads what the API still has. A first run that runs
/// out of pages walks on with `until_id` and an id lower bound, never
/// `start_time` next to `until_id`.
#[tokio::test]
async fn issue_5_x_cursor_older_than_seven_days_resumes_at_the_window_edge() {
    init_tracing();
    let day = 86_400;
    let ids: Arc<Mutex<Vec<u64>>> = Arc::new(Mutex::new(vec![
        snowflake(9 * day, 0),
        snowflake(3 * day, 0),
        snowflake(2 * day, 0),
        snowflake(3600, 0),
    ]));
    let queries: Queries = Arc::default();
    let addr = x_server(ids.clone(), queries.clone()).await;
    std::env::set_var("EARSHOT_TEST_X_TOKEN_2", "x-secret");
    let dir = tempfile::tempdir().unwrap();
    let toml_text = |addr: std::net::SocketAddr| {
        format!(
            r#"
            [cursors]
            path = "CURSORS"
            [[connectors]]
            name = "x"
            kind = "x"
            query = "acme"
            base_url = "http://{addr}/2"
            token_env = "EARSHOT_TEST_X_TOKEN_2"
            max_results = 10
            max_pages = 1
            poll_interval_secs = 0.05
            "#
        )
    };
    let cfg = config(&dir, &toml_text(addr));
    // Where the daemon stopped eight days ago.
    let old = snowflake(8 * day, 0).to_string();
    drop(save_x_cursor(&dir, json!({"since_id": old, "newest_id": old})).await);

    let bus = MemoryBus::new();
    let run = start(&bus, &cfg).await;
    run.wait("x", "the three tweets within reach", |s| s.produced == 3)
        .await;
    // Later tweets come on the next polls, from the new cursor.
    ids.lock().unwrap().push(snowflake(1, 0));
    run.wait("x", "the new one", |s| s.produced == 4).await;
    let stats = run.stop().await;
    assert_eq!(stats.connectors["x"].errors, 1, "the gap, once: {stats:?}");
    let q = queries.lock().unwrap().clone();
    assert!(
        !q[0].contains_key("since_id") && q[0].contains_key("start_time"),
        "{:?}",
        q[0]
    );
    let posts = posts(&bus).await;
    assert!(!posts
        .iter()
        .any(|p| p.id == format!("x:{}", ids.lock().unwrap()[0])));

    // A first run with more than a page: `until_id` with an id, not a time.
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        &dir,
        &toml_text(addr).replace(
            "max_results = 10",
            "max_results = 10\ninitial_lookback_secs = 7200",
        ),
    );
    ids.lock()
        .unwrap()
        .extend((0..25).map(|k| snowflake(1800 - k * 60, 2)));
    queries.lock().unwrap().clear();
    let bus = MemoryBus::new();
    let run = start(&bus, &cfg).await;
    run.wait("x", "the last two hours", |s| s.produced == 27)
        .await;
    let stats = run.stop().await;
    assert_eq!(stats.connectors["x"].errors, 0, "{stats:?}");
    let q = queries.lock().unwrap().clone();
    let walk = q
        .iter()
        .find(|q| q.contains_key("until_id"))
        .expect("a walk");
    assert!(walk.contains_key("since_id") && !walk.contains_key("start_time"));

    // A quiet query's `start_time` moves up with each empty poll, so it
    // never ages out of the window.
    let addr = x_server(Arc::default(), Arc::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(&dir, &toml_text(addr));
    let six_days_ago = chrono::Utc::now() - chrono::Duration::days(6);
    let store = save_x_cursor(&dir, json!({"start_time": six_days_ago.to_rfc3339()})).await;
    let bus = MemoryBus::new();
    let run = start(&bus, &cfg).await;
    run.wait("x", "two empty polls", |s| s.polls >= 2).await;
    let stats = run.stop().await;
    assert_eq!(stats.connectors["x"].errors, 0, "{stats:?}");
    let saved: Value =
        serde_json::from_str(&store.get("x", "search").await.unwrap().unwrap()).unwrap();
    let start_time =
        chrono::DateTime::parse_from_rfc3339(saved["start_time"].as_str().unwrap()).unwrap();
    assert!(
        chrono::Utc::now() - start_time.with_timezone(&chrono::Utc) < chrono::Duration::minutes(5),
        "{saved}"
    );
}

// ---------------------------------------------------------------- YouTube

fn comment_thread(n: i64) -> Value {
    let at = (chrono::DateTime::from_timestamp(1_750_000_000 + n * 60, 0).unwrap()).to_rfc3339();
    json!({"kind": "youtube#commentThread", "etag": "e", "id": format!("Ug{n}"),
           "snippet": {"channelId": "UCx", "videoId": "vid1", "canReply": true, "totalReplyCount": 2, "isPublic": true,
             "topLevelComment": {"kind": "youtube#comment", "etag": "e", "id": format!("Ug{n}"),
               "snippet": {"channelId": "UCx", "videoId": "vid1", "textDisplay": format!("Acme &amp; me {n}"), "textOriginal": format!("Acme & me {n}"),
                 "authorDisplayName": "@viewer", "authorProfileImageUrl": "https://yt.test/i.png", "authorChannelUrl": "http://www.youtube.com/@viewer",
                 "authorChannelId": {"value": "UCv"}, "canRate": true, "viewerRating": "none", "likeCount": 9,
                 "publishedAt": at, "updatedAt": at}}}})
}

#[tokio::test]
async fn youtube_follows_page_tokens_down_to_the_cursor() {
    init_tracing();
    let comments: Arc<Mutex<Vec<i64>>> = Arc::new(Mutex::new((1..=150).collect()));
    let tokens: Arc<Mutex<Vec<Option<String>>>> = Arc::default();
    let (c, tk) = (comments.clone(), tokens.clone());
    let app = Router::new().route(
        "/youtube/v3/commentThreads",
        get(move |Query(q): Q| {
            let (c, tk) = (c.clone(), tk.clone());
            async move {
                assert_eq!((q["part"].as_str(), q["videoId"].as_str(), q["order"].as_str()), ("snippet", "vid1", "time"));
                assert_eq!(q["key"], "yt-key");
                tk.lock().unwrap().push(q.get("pageToken").cloned());
                let mut all = c.lock().unwrap().clone();
                all.sort_by(|a, b| b.cmp(a));
                // Pages of 50 whatever maxResults says: clients must follow the token.
                let start: usize = q.get("pageToken").map_or(0, |t| t.trim_start_matches('P').parse().unwrap());
                let items: Vec<Value> = all.iter().skip(start).take(50).map(|n| comment_thread(*n)).collect();
                let mut body = json!({"kind": "youtube#commentThreadListResponse", "etag": "e",
                                      "pageInfo": {"totalResults": items.len(), "resultsPerPage": 50}, "items": items});
                if start + 50 < all.len() {
                    body["nextPageToken"] = json!(format!("P{}", start + 50));
                }
                Json(body)
            }
        }),
    );
    let addr = serve(app).await;
    std::env::set_var("EARSHOT_TEST_YT_KEY_1", "yt-key");
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        &dir,
        &format!(
            r#"
            [cursors]
            path = "CURSORS"
            [[connectors]]
            name = "yt"
            kind = "youtube"
            video_ids = ["vid1"]
            base_url = "http://{addr}/youtube/v3"
            key_env = "EARSHOT_TEST_YT_KEY_1"
            poll_interval_secs = 0.05
            "#
        ),
    );
    let bus = MemoryBus::new();
    let run = start(&bus, &cfg).await;
    run.wait("yt", "the newest page", |s| s.produced == 50)
        .await;
    comments.lock().unwrap().extend(151..=220);
    run.wait("yt", "the 70 new comments", |s| s.produced == 120)
        .await;
    let stats = run.stop().await;
    assert_eq!(stats.connectors["yt"].errors, 0);
    assert!(
        tokens.lock().unwrap().contains(&Some("P50".into())),
        "followed nextPageToken"
    );
    let posts = posts(&bus).await;
    assert_eq!(unique_ids(&posts).len(), 120);
    let p = posts.iter().find(|p| p.id == "youtube:Ug200").unwrap();
    assert_eq!(p.text, "Acme & me 200");
    assert_eq!(
        p.url.as_deref(),
        Some("https://www.youtube.com/watch?v=vid1&lc=Ug200")
    );
    assert_eq!(p.author.handle.as_deref(), Some("viewer"));
    assert_eq!(
        (p.engagement.likes, p.engagement.replies),
        (Some(9), Some(2))
    );
    assert!(
        !posts.iter().any(|p| p.id == "youtube:Ug100"),
        "older than the first page: before the start"
    );
}

/// Issue 19: one Mastodon connector watching the public timeline and three
/// hashtags that all show the same statuses, each timeline its own task,
/// polled at once: every status is produced once, whatever the interleaving.
/// Also the one-pass mode: `[connect] once` ends the daemon by itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_19_overlapping_timelines_produce_each_status_once() {
    init_tracing();
    let page = || async {
        // A little jitter so that the timelines' emits interleave differently each run.
        tokio::time::sleep(Duration::from_millis(rand_ms())).await;
        let statuses: Vec<Value> = (1..=40u64).rev().map(status).collect();
        Json(statuses)
    };
    let app = Router::new()
        .route("/api/v1/timelines/public", get(page))
        .route("/api/v1/timelines/tag/{tag}", get(page));
    let addr = serve(app).await;
    for run_no in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        let cfg = config(
            &dir,
            &format!(
                r#"
                [cursors]
                path = "CURSORS"
                [connect]
                once = true
                per_host_requests_per_second = 0
                [[connectors]]
                name = "masto"
                kind = "mastodon"
                instance = "http://{addr}"
                public = true
                hashtags = ["acme", "acmephone", "acmecorp"]
                limit = 40
                "#
            ),
        );
        let bus = MemoryBus::new();
        let run = start(&bus, &cfg).await;
        let stats = tokio::time::timeout(WAIT, run.handle)
            .await
            .expect("one pass ends by itself")
            .unwrap()
            .unwrap();
        let s = &stats.connectors["masto"];
        assert_eq!(s.polls, 4, "run {run_no}: each timeline once: {s:?}");
        assert_eq!((s.produced, s.duplicates), (40, 120), "run {run_no}: {s:?}");
        assert_eq!(unique_ids(&posts(&bus).await).len(), 40);
    }
}

fn rand_ms() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(7);
    N.fetch_add(13, Ordering::Relaxed) % 7
}
