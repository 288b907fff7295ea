//! `GET /thread/{id}`: a thread in order, the brand's own replies marked, and
//! its time to first response. `GET /author/{source}/{handle}`: an author's
//! profile over a window, the CRM accounts linked, the sentiment mix by
//! week, and their recent posts' threads.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{Duration, Utc};
use maud::{html, Markup};

use earshot_sink::conversations::human_duration;

use crate::layout::{error_page, sep, shell, store_error, window_picker, Nav};
use crate::window::WindowQuery;
use crate::ConsoleState;

/// One path segment, percent-encoded (ids hold `:` and `/`).
fn segment(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// The page of an author, for links from other pages.
pub fn author_href(source: &str, handle: &str) -> String {
    format!("/author/{}/{}", segment(source), segment(handle))
}

/// The page of a thread (or of the thread a post is in).
pub fn thread_href(id: &str) -> String {
    format!("/thread/{}", segment(id))
}

fn sentiment_class(compound: f32) -> &'static str {
    if compound <= -0.05 {
        "neg"
    } else if compound >= 0.05 {
        "pos"
    } else {
        "neu"
    }
}

/// `GET /thread/{id}`.
pub async fn thread(State(state): State<ConsoleState>, Path(id): Path<String>) -> Response {
    let posts = match state.inner.conversations.thread(&id).await {
        Ok(p) => p,
        Err(e) => return store_error(e),
    };
    if posts.is_empty() {
        return error_page(
            StatusCode::NOT_FOUND,
            "No such thread",
            &format!("No thread or post `{id}` is in the store."),
        );
    }
    let own = &state.inner.own;
    let is_own =
        |source: &str, author: &str| own.contains(&format!("{source}:{}", author.to_lowercase()));
    let start = posts
        .iter()
        .find(|p| !is_own(&p.source, &p.author))
        .map(|p| p.event_time);
    let first = start.and_then(|s| {
        posts
            .iter()
            .filter(|p| is_own(&p.source, &p.author))
            .map(|p| p.event_time)
            .chain(posts.iter().filter_map(|p| p.responded_at))
            .filter(|t| *t >= s)
            .min()
    });
    let body = html! {
        h1 { "Thread " (id) }
        p.meta {
            (posts.len()) " post(s)" (sep())
            @match (start, first) {
                (Some(s), Some(f)) => { "first response " (human_duration((f - s).num_seconds())) " after the first customer post" },
                (Some(_), None) => { strong { "not answered yet" } },
                (None, _) => { "only the brand's own posts" },
            }
        }
        @if own.is_empty() {
            p.muted { "No own accounts are configured (`own_accounts` in the watchlists): only responses recorded in the store count as answers." }
        }
        ol.thread {
            @for p in &posts {
                @let mine = is_own(&p.source, &p.author);
                li.post.brand[mine] {
                    p.meta {
                        time datetime=(p.event_time.to_rfc3339()) { (p.event_time.format("%Y-%m-%d %H:%M UTC")) } (sep())
                        @if p.author.is_empty() { "unknown author" }
                        @else { a href=(author_href(&p.source, &p.author)) { "@" (p.author) } }
                        @if mine { " " strong { "(brand)" } }
                        (sep())
                        span class=(sentiment_class(p.compound)) { (format!("{:+.2}", p.compound)) }
                        @if let Some(r) = p.responded_at { (sep()) "answered " (r.format("%Y-%m-%d %H:%M")) }
                    }
                    p { (p.text) }
                    p.meta {
                        code { (p.post_id) }
                        @if !p.reply_to.is_empty() { (sep()) "in reply to " code { (p.reply_to) } }
                        @if p.url.starts_with("http") { (sep()) a href=(p.url) rel="noopener noreferrer" { "original" } }
                    }
                }
            }
        }
    };
    shell(&format!("Thread {id}"), Nav::Queue, body).into_response()
}

/// `GET /author/{source}/{handle}`.
pub async fn author(
    State(state): State<ConsoleState>,
    Path((source, handle)): Path<(String, String)>,
    Query(q): Query<WindowQuery>,
) -> Response {
    let mut q = q;
    if q.window.is_empty() && q.since.is_empty() {
        q.window = "30d".into();
    }
    let w = match q.resolve(Utc::now()) {
        Ok(w) => w,
        Err(e) => return error_page(StatusCode::BAD_REQUEST, "Bad window", &e),
    };
    let authors = &state.inner.authors;
    let profile = match authors
        .profiles(w.since, w.until, Some((&source, &handle)), "", 1)
        .await
    {
        Ok(mut p) => p.pop(),
        Err(e) => return store_error(e),
    };
    // The sentiment mix week by week: one profile query per week (a handful).
    let mut weeks = Vec::new();
    let mut end = w.until;
    while end > w.since && weeks.len() < 13 {
        let start = (end - Duration::days(7)).max(w.since);
        match authors
            .profiles(start, end, Some((&source, &handle)), "", 1)
            .await
        {
            Ok(mut p) => weeks.push((start, p.pop())),
            Err(e) => return store_error(e),
        }
        end = start;
    }
    weeks.reverse();
    let path = author_href(&source, &handle);
    let body = html! {
        h1 { "@" (handle) " on " (source) }
        (window_picker(&path, &w, &[]))
        @match &profile {
            None => { p.empty { "No post by this author in this window." } },
            Some(p) => {
                dl.profile {
                    dt { "Posts" } dd { (p.posts) }
                    dt { "First and last seen" } dd { (p.first_seen.format("%Y-%m-%d %H:%M")) " – " (p.last_seen.format("%Y-%m-%d %H:%M")) " UTC" }
                    dt { "Reach" } dd { (p.reach_latest) @if p.reach_max != p.reach_latest { " (highest " (p.reach_max) ")" } }
                    dt { "Sentiment" } dd { (p.positive) " positive, " (p.neutral) " neutral, " (p.negative) " negative" }
                    dt { "Brands" } dd { (join(&p.brands)) }
                    dt { "Intents" } dd { (join(&p.intents)) }
                    dt { "CRM accounts" } dd { @if p.customers.is_empty() { "none linked" } @else { (p.customers.join(", ")) } }
                }
                (weekly(&weeks))
            },
        }
        h2 { "Open a thread" }
        form method="get" action="/thread" {
            label for="thread-id" { "Thread or post id" }
            " " input id="thread-id" name="id" type="text" required;
            " " button type="submit" { "Open" }
        }
    };
    shell(&format!("@{handle} on {source}"), Nav::Queue, body).into_response()
}

/// `GET /thread?id=…` (the author page's form): to `/thread/{id}`.
pub async fn thread_form(Query(q): Query<std::collections::HashMap<String, String>>) -> Response {
    match q.get("id").map(|s| s.trim()).filter(|s| !s.is_empty()) {
        Some(id) => axum::response::Redirect::to(&thread_href(id)).into_response(),
        None => error_page(
            StatusCode::BAD_REQUEST,
            "No id",
            "Give a thread or post id.",
        ),
    }
}

fn join(v: &[(String, u64)]) -> String {
    if v.is_empty() {
        return "none".into();
    }
    v.iter()
        .map(|(k, n)| format!("{k} ({n})"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The sentiment mix per week as a table (readable without the chart).
fn weekly(
    weeks: &[(
        chrono::DateTime<Utc>,
        Option<earshot_sink::authors::AuthorProfile>,
    )],
) -> Markup {
    html! {
        div.scroll { table {
            caption { "Sentiment by week" }
            thead { tr {
                th scope="col" { "Week from" }
                th.num scope="col" { "Posts" }
                th.num scope="col" { "Positive" }
                th.num scope="col" { "Neutral" }
                th.num scope="col" { "Negative" }
            } }
            tbody {
                @for (start, p) in weeks {
                    tr {
                        td { (start.format("%Y-%m-%d")) }
                        @match p {
                            Some(p) => { td.num { (p.posts) } td.num { (p.positive) } td.num { (p.neutral) } td.num { (p.negative) } },
                            None => { td.num { "0" } td.num { "0" } td.num { "0" } td.num { "0" } },
                        }
                    }
                }
            }
        } }
    }
}
