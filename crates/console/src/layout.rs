//! The page shell (head, navigation, window selector) and the shared bits of
//! request handling: error pages, query strings, the agent cookie.

use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::{html, Markup, PreEscaped, DOCTYPE};

use crate::window::Window;

const CSS: &str = include_str!("../assets/style.css");

/// `GET /style.css`.
pub async fn stylesheet() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        CSS,
    )
}

tokio::task_local! {
    /// The signed-in user's name and the form token, while a request of a
    /// signed-in user (`auth = "users"`) is handled: the shell shows who is
    /// signed in and a sign-out button.
    pub static SIGNED_IN: Option<(String, String)>;
}

/// Which page is current, for the navigation.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Overview,
    Queue,
    Alerts,
}

/// A whole page: `h1` is its only top heading.
pub fn shell(title: &str, nav: Nav, body: Markup) -> Markup {
    let link = |href: &str, name: &str, this: Nav| {
        html! {
            @if nav == this { a href=(href) aria-current="page" { (name) } }
            @else { a href=(href) { (name) } }
        }
    };
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Earshot" }
                link rel="stylesheet" href="/style.css";
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header {
                    nav aria-label="Console" {
                        span.brand { "Earshot" }
                        (link("/", "Overview", Nav::Overview))
                        (link("/queue", "Work queue", Nav::Queue))
                        (link("/alerts", "Alerts", Nav::Alerts))
                        @if let Some((name, csrf)) = SIGNED_IN.try_with(Clone::clone).ok().flatten() {
                            form.signout method="post" action="/logout" {
                                input type="hidden" name="csrf" value=(csrf);
                                span.user { "Signed in as " (name) }
                                " "
                                button type="submit" { "Sign out" }
                            }
                        }
                    }
                }
                main #main { (body) }
            }
        }
    }
}

/// `?a=b&c=d` from pairs (empty values left out).
pub fn query_string(pairs: &[(&str, String)]) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs.iter().filter(|(_, v)| !v.is_empty()) {
        s.append_pair(k, v);
    }
    let s = s.finish();
    if s.is_empty() {
        s
    } else {
        format!("?{s}")
    }
}

/// The 24 h / 7 d / 30 d links and the custom window form; `keep` are the
/// page's other query fields, carried along.
pub fn window_picker(path: &str, w: &Window, keep: &[(&str, String)]) -> Markup {
    let preset = |label: &str| {
        let mut q = vec![("window", label.to_string())];
        q.extend(keep.iter().cloned());
        let href = format!("{path}{}", query_string(&q));
        html! {
            @if w.label == label { a href=(href) aria-current="true" { (label) } }
            @else { a href=(href) { (label) } }
        }
    };
    html! {
        section.window aria-label="Time window" {
            p.presets { "Window: " (preset("24h")) " " (preset("7d")) " " (preset("30d")) }
            form.custom method="get" action=(path) {
                @for (k, v) in keep.iter().filter(|(_, v)| !v.is_empty()) {
                    input type="hidden" name=(k) value=(v);
                }
                label for="since" { "Since (UTC)" }
                input #since type="datetime-local" name="since"
                    value=(w.since.format("%Y-%m-%dT%H:%M").to_string());
                label for="until" { "Until (UTC)" }
                input #until type="datetime-local" name="until"
                    value=(w.until.format("%Y-%m-%dT%H:%M").to_string());
                button type="submit" { "Show" }
            }
            p.range { (w.since.format("%Y-%m-%d %H:%M")) " – " (w.until.format("%Y-%m-%d %H:%M")) " UTC" }
        }
    }
}

/// An error page with `status`, naming what was wrong.
pub fn error_page(status: StatusCode, title: &str, message: &str) -> Response {
    let body = shell(
        title,
        Nav::Overview,
        html! {
            h1 { (title) }
            p.error role="alert" { (message) }
            p { a href="/" { "Back to the overview" } }
        },
    );
    (status, body).into_response()
}

/// A store failure as a 502 page (the message names the store's complaint).
pub fn store_error(e: impl std::fmt::Display) -> Response {
    tracing::warn!("console: store query failed: {e}");
    error_page(
        StatusCode::BAD_GATEWAY,
        "The store did not answer",
        &e.to_string(),
    )
}

/// Name of the cookie remembering the agent's name.
pub const AGENT_COOKIE: &str = "earshot_agent";

/// The value of cookie `name`, if the request has it.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// The agent remembered in the cookie, if any.
pub fn agent_from_cookie(headers: &HeaderMap) -> String {
    cookie(headers, AGENT_COOKIE)
        .map(|v| {
            url::form_urlencoded::parse(format!("a={v}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        })
        .unwrap_or_default()
        .chars()
        .take(100)
        .collect()
}

/// The `Set-Cookie` value remembering `agent` for a year.
pub fn agent_cookie(agent: &str) -> String {
    let v: String = url::form_urlencoded::byte_serialize(agent.as_bytes()).collect();
    format!("{AGENT_COOKIE}={v}; Path=/; Max-Age=31536000; SameSite=Strict; HttpOnly")
}

/// Raw HTML for a non-breaking separator.
pub fn sep() -> PreEscaped<&'static str> {
    PreEscaped(" &middot; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_cookie_round_trips() {
        let set = agent_cookie("Ann O'Neil; ü");
        let value = set.split(';').next().unwrap();
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, format!("x=1; {value}").parse().unwrap());
        assert_eq!(agent_from_cookie(&h), "Ann O'Neil; ü");
        assert_eq!(agent_from_cookie(&HeaderMap::new()), "");
    }

    #[test]
    fn query_strings_leave_out_empty_values() {
        assert_eq!(
            query_string(&[("a", "x y".into()), ("b", String::new())]),
            "?a=x+y"
        );
        assert_eq!(query_string(&[("b", String::new())]), "");
    }
}
