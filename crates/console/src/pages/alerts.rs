//! `GET /alerts`: the alerts `earshot alert` sent in the window, each
//! channel's delivery state, and the top posts from the alert's payload.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use maud::html;

use crate::layout::{error_page, sep, shell, store_error, window_picker, Nav};
use crate::window::WindowQuery;
use crate::ConsoleState;

/// Top posts shown per alert.
const TOP_POSTS: usize = 5;

/// `GET /alerts`.
pub async fn page(State(state): State<ConsoleState>, Query(q): Query<WindowQuery>) -> Response {
    let mut q = q;
    if q.window.is_empty() && q.since.is_empty() {
        q.window = "7d".into();
    }
    let w = match q.resolve(Utc::now()) {
        Ok(w) => w,
        Err(e) => return error_page(StatusCode::BAD_REQUEST, "Bad window", &e),
    };
    let alerts = match state.inner.alerts.alerts(w.since).await {
        Ok(a) => a,
        Err(e) => return store_error(e),
    };
    // Newest first; the store lists them from `since` on, oldest first.
    let alerts: Vec<_> = alerts
        .into_iter()
        .rev()
        .filter(|(a, _)| a.fired_at < w.until)
        .collect();
    let body = html! {
        h1 { "Alerts" }
        (window_picker("/alerts", &w, &[]))
        h2 { (alerts.len()) " alert(s) sent" }
        @if alerts.is_empty() { p.empty { "No alert fired in this window." } }
        @for (a, deliveries) in &alerts {
            @let payload: serde_json::Value = serde_json::from_str(&a.payload).unwrap_or_default();
            article.post {
                h3 { (a.key.brand) (sep()) (a.key.rule) }
                p.meta {
                    "Fired " (a.fired_at.format("%Y-%m-%d %H:%M UTC")) (sep())
                    "window " (a.key.window_start.format("%m-%d %H:%M")) "–" (a.window_end.format("%m-%d %H:%M")) (sep())
                    "observed " (format!("{:.2}", a.observed)) " against threshold " (format!("{:.2}", a.threshold))
                }
                @if let Some(s) = payload.get("summary").and_then(|s| s.as_str()) { p { (s) } }
                div.scroll { table {
                    caption.muted { "Deliveries" }
                    thead { tr { th scope="col" { "Channel" } th scope="col" { "State" } th.num scope="col" { "Attempts" } th scope="col" { "Last error" } } }
                    tbody {
                        @for d in deliveries {
                            tr {
                                td { (d.channel) }
                                td { (d.status.as_str()) }
                                td.num { (d.attempts) }
                                td { (d.last_error) }
                            }
                        }
                    }
                } }
                @if let Some(posts) = payload.get("top_posts").and_then(|p| p.as_array()).filter(|p| !p.is_empty()) {
                    p.meta { "Top posts:" }
                    ul {
                        @for p in posts.iter().take(TOP_POSTS) {
                            @let text = |k: &str| p.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
                            li {
                                @if text("author").is_empty() { "unknown author" } @else { "@" (text("author")) }
                                " (" (p.get("reach").and_then(|v| v.as_u64()).unwrap_or(0)) " reach): "
                                (text("excerpt"))
                                @if text("url").starts_with("http") { " " a href=(text("url")) rel="noopener noreferrer" { "original" } }
                            }
                        }
                    }
                }
            }
        }
    };
    shell("Alerts", Nav::Alerts, body).into_response()
}
