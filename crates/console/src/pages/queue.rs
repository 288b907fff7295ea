//! `GET /queue`: routed, unanswered posts by priority then reach, filtered by
//! route, brand, intent and customer tier, each with the forms to answer,
//! assign, or mark a match wrong.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use earshot_sink::work::{QueueFilter, QueueItem};
use maud::{html, Markup};
use serde::Deserialize;

use crate::layout::{agent_from_cookie, error_page, sep, shell, store_error, window_picker, Nav};
use crate::window::{Window, WindowQuery};
use crate::ConsoleState;

/// Query string of the queue.
#[derive(Debug, Default, Deserialize)]
pub struct QueueQuery {
    #[serde(flatten)]
    pub window: WindowQuery,
    #[serde(default)]
    pub route: String,
    #[serde(default)]
    pub brand: String,
    #[serde(default)]
    pub intent: String,
    #[serde(default)]
    pub tier: String,
    /// What the last action did (shown once, after its redirect).
    #[serde(default)]
    pub done: String,
}

/// Longest filter value accepted.
const MAX_FILTER: usize = 200;

impl QueueQuery {
    /// The filter fields to carry along (links, forms, redirects).
    pub fn filters(&self) -> Vec<(&'static str, String)> {
        vec![
            ("route", self.route.trim().to_string()),
            ("brand", self.brand.trim().to_string()),
            ("intent", self.intent.trim().to_string()),
            ("tier", self.tier.trim().to_string()),
        ]
    }

    fn check(&self) -> Result<(), String> {
        for (k, v) in self.filters() {
            if v.len() > MAX_FILTER {
                return Err(format!("{k}: longer than {MAX_FILTER} bytes"));
            }
        }
        // Any well-formed name: a route or intent no longer configured may
        // still be in the stored posts.
        for (key, v) in [("route", self.route.trim()), ("intent", self.intent.trim())] {
            if !v.is_empty() && !earshot_model::valid_name(v) {
                return Err(format!(
                    "{key}: `{v}` is no {key} name (lowercase letters, digits and `_`)"
                ));
            }
        }
        Ok(())
    }
}

/// `GET /queue`.
pub async fn page(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    Query(q): Query<QueueQuery>,
) -> Response {
    // The queue's default window is a week: work waits longer than a day.
    let mut wq = q.window.clone();
    if wq.window.is_empty() && wq.since.is_empty() {
        wq.window = "7d".into();
    }
    let w = match wq.resolve(Utc::now()) {
        Ok(w) => w,
        Err(e) => return error_page(StatusCode::BAD_REQUEST, "Bad window", &e),
    };
    if let Err(e) = q.check() {
        return error_page(StatusCode::BAD_REQUEST, "Bad filter", &e);
    }
    let filter = QueueFilter {
        since: w.since,
        until: w.until,
        route: q.route.trim().into(),
        brand: q.brand.trim().into(),
        intent: q.intent.trim().into(),
        tier: q.tier.trim().to_ascii_lowercase(),
        limit: 100,
    };
    let items = match state.inner.work.queue(&filter).await {
        Ok(items) => items,
        Err(e) => return store_error(e),
    };
    let agent = agent_from_cookie(&headers);
    render(&state, &w, &q, &items, &agent).into_response()
}

fn render(
    state: &ConsoleState,
    w: &Window,
    q: &QueueQuery,
    items: &[QueueItem],
    agent: &str,
) -> Markup {
    let filters = q.filters();
    // Where an action returns to: this page with its window and filters.
    let mut back = w.query();
    back.extend(filters.iter().cloned());
    let back = crate::layout::query_string(&back);
    let (intents, routes) = state.labels();
    let body = html! {
        h1 { "Work queue" }
        @if !q.done.is_empty() {
            p.notice role="status" { (notice(&q.done)) }
        }
        (window_picker("/queue", w, &filters))
        section.filters aria-label="Filters" {
            form.filter-form method="get" action="/queue" {
                @for (k, v) in w.query() { input type="hidden" name=(k) value=(v); }
                label for="f-route" { "Route" }
                (choice("f-route", "route", q.route.trim(), &routes))
                label for="f-brand" { "Brand" }
                input #f-brand type="text" name="brand" value=(q.brand.trim()) size="12";
                label for="f-intent" { "Intent" }
                (choice("f-intent", "intent", q.intent.trim(), &intents))
                label for="f-tier" { "Customer tier" }
                input #f-tier type="text" name="tier" value=(q.tier.trim()) size="10";
                button type="submit" { "Filter" }
            }
        }
        h2 { (items.len()) " unanswered post(s)" }
        @if items.is_empty() { p.empty { "Nothing waiting in this window." } }
        @for (i, item) in items.iter().enumerate() {
            (post(state, i, item, agent, &back))
        }
    };
    shell("Work queue", Nav::Queue, body)
}

/// A filter's field: a choice among the configured names (and the current
/// value, should it no longer be configured), or a text field when the
/// console was given none.
fn choice(id: &str, name: &str, current: &str, names: &[String]) -> Markup {
    if names.is_empty() {
        return html! { input id=(id) type="text" name=(name) value=(current) size="12"; };
    }
    let stale = !current.is_empty() && !names.iter().any(|n| n == current);
    html! {
        select id=(id) name=(name) {
            option value="" selected[current.is_empty()] { "any" }
            @for n in names { option value=(n) selected[current == n] { (n) } }
            @if stale { option value=(current) selected { (current) } }
        }
    }
}

fn notice(done: &str) -> &'static str {
    match done {
        "answered" => "Marked answered: the post left the queue.",
        "already" => "That post was already answered; your response is logged.",
        "assigned" => "Assigned.",
        "wrong" => "Recorded: the match is marked wrong.",
        _ => "Done.",
    }
}

fn post(state: &ConsoleState, i: usize, item: &QueueItem, agent: &str, back: &str) -> Markup {
    let p = &item.post;
    let csrf = &state.inner.csrf;
    let id = |name: &str| format!("{name}-{i}");
    html! {
        article.post aria-labelledby=(id("h")) {
            h3 #(id("h")) {
                "Priority " (p.priority) (sep()) (p.route) (sep())
                @if p.author.is_empty() { "unknown author" }
                @else { a href=(crate::pages::people::author_href(&p.source, &p.author)) { "@" (p.author) } }
            }
            p.meta {
                (p.source) (sep()) (p.reach) " reach" (sep())
                (p.event_time.format("%Y-%m-%d %H:%M UTC")) (sep())
                "sentiment " (format!("{:+.2}", p.compound))
                @if !p.url.is_empty() { (sep()) a href=(p.url) rel="noopener noreferrer" { "Open the original" } }
            }
            blockquote { (p.text) }
            p.meta {
                "Matches: " (p.entities.join(", "))
                @if !p.intents.is_empty() { (sep()) "Intents: " (p.intents.join(", ")) }
                @if item.copies > 0 { (sep()) strong.copies { (item.copies) " near-duplicate copies" } }
                @if let Some(a) = &item.assignee { (sep()) "Assigned to " strong { (a) } }
                (sep()) a href=(crate::pages::people::thread_href(&p.post_id)) { "Thread" }
                (sep()) code { (p.post_id) }
            }
            @if !item.reasons.is_empty() {
                p.meta { "Why this priority:" }
                ul { @for r in &item.reasons { li { (r) } } }
            }
            @if !item.wrong_matches.is_empty() {
                p.meta { "Marked wrong: "
                    @for (n, (e, by)) in item.wrong_matches.iter().enumerate() {
                        @if n > 0 { ", " } (e) " (by " (by) ")"
                    }
                }
            }
            div.actions {
                form method="post" action=(format!("/queue/answer{back}")) {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="post_id" value=(p.post_id);
                    label for=(id("agent")) { "Agent" }
                    input #(id("agent")) type="text" name="agent" value=(agent) required size="10" maxlength="200";
                    label for=(id("note")) { "Note" }
                    input #(id("note")) type="text" name="note" size="14" maxlength="2000";
                    button type="submit" { "Mark answered" }
                }
                form method="post" action=(format!("/queue/assign{back}")) {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="post_id" value=(p.post_id);
                    input type="hidden" name="agent" value=(agent);
                    label for=(id("assignee")) { "Assign to" }
                    input #(id("assignee")) type="text" name="assignee" required size="10" maxlength="200"
                        value=(item.assignee.as_deref().unwrap_or(""));
                    button type="submit" { "Assign" }
                }
                @if !p.entities.is_empty() {
                    form method="post" action=(format!("/queue/wrong-match{back}")) {
                        input type="hidden" name="csrf" value=(csrf);
                        input type="hidden" name="post_id" value=(p.post_id);
                        input type="hidden" name="agent" value=(agent);
                        label for=(id("entity")) { "Wrong match" }
                        select #(id("entity")) name="entity" {
                            @for e in &p.entities { option value=(e) { (e) } }
                        }
                        button type="submit" { "Mark wrong" }
                    }
                }
            }
        }
    }
}
