//! The work queue's forms: mark answered, assign, mark a match wrong. Each
//! POST carries the page's CSRF token, then redirects (303) back to the queue
//! with its filters, so reloading the page does not repeat the action.

use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Form};
use chrono::Utc;
use earshot_sink::responses::{Recorded, Response as Answer, ResponseError};
use earshot_sink::work::WorkError;
use serde::Deserialize;
use std::future::Future;
use subtle::ConstantTimeEq;

use super::queue::QueueQuery;
use crate::auth::Who;
use crate::layout::{agent_cookie, error_page, query_string, store_error};
use crate::ConsoleState;

/// Fields of the action forms (each form sends the ones it has).
#[derive(Debug, Deserialize)]
pub struct ActionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    post_id: String,
    #[serde(default)]
    agent: String,
    #[serde(default)]
    note: String,
    #[serde(default)]
    assignee: String,
    #[serde(default)]
    entity: String,
}

/// Who acts when a form has no agent name yet.
const UNNAMED_AGENT: &str = "console";

/// Who acts: the signed-in user, else the form's agent, else [`UNNAMED_AGENT`].
fn actor(who: Option<Extension<Who>>, f: &ActionForm) -> String {
    who.and_then(|Extension(w)| w.name)
        .or_else(|| Some(f.agent.trim().to_string()).filter(|a| !a.is_empty()))
        .unwrap_or_else(|| UNNAMED_AGENT.to_string())
}

/// A refusal page when the form is forged or lacks its post.
fn checked(state: &ConsoleState, f: &ActionForm) -> Option<Response> {
    let ok: bool = f.csrf.as_bytes().ct_eq(state.inner.csrf.as_bytes()).into();
    if !ok {
        return Some(error_page(
            StatusCode::FORBIDDEN,
            "Form expired",
            "The form's token does not match this console (it was restarted, or the form came from elsewhere): reload the work queue and try again.",
        ));
    }
    if f.post_id.trim().is_empty() {
        return Some(error_page(
            StatusCode::BAD_REQUEST,
            "Bad form",
            "post_id: missing",
        ));
    }
    None
}

fn back(q: &QueueQuery, done: &str) -> String {
    let mut pairs = q.window.clone();
    let mut all = Vec::new();
    if !pairs.window.is_empty() {
        all.push(("window", std::mem::take(&mut pairs.window)));
    }
    all.push(("since", pairs.since));
    all.push(("until", pairs.until));
    all.extend(q.filters());
    all.push(("done", done.to_string()));
    format!("/queue{}", query_string(&all))
}

fn redirect(to: String, agent: Option<&str>) -> Response {
    let mut r = (StatusCode::SEE_OTHER, [(header::LOCATION, to)]).into_response();
    if let Some(a) = agent.filter(|a| !a.is_empty()) {
        if let Ok(v) = agent_cookie(a).parse() {
            r.headers_mut().insert(header::SET_COOKIE, v);
        }
    }
    r
}

fn work_error(e: WorkError) -> Response {
    match e {
        WorkError::UnknownPost(_) => {
            error_page(StatusCode::NOT_FOUND, "Unknown post", &e.to_string())
        }
        WorkError::NotMatched(..) | WorkError::Invalid(_) => {
            error_page(StatusCode::BAD_REQUEST, "Bad form", &e.to_string())
        }
        other => store_error(other),
    }
}

/// The steps every action shares: refuse a forged form or one without its
/// post, then run `record` (which names the queue's `done` notice, or answers
/// an error page), then redirect back to the queue with its filters,
/// remembering `agent` in a cookie when given.
async fn act(
    state: &ConsoleState,
    q: &QueueQuery,
    f: &ActionForm,
    agent: Option<&str>,
    record: impl Future<Output = Result<&'static str, Response>>,
) -> Response {
    if let Some(r) = checked(state, f) {
        return r;
    }
    match record.await {
        Ok(done) => redirect(back(q, done), agent),
        Err(r) => r,
    }
}

/// `POST /queue/answer`: records the response (channel `console`) and
/// remembers the agent in a cookie.
pub async fn answer(
    State(state): State<ConsoleState>,
    who: Option<Extension<Who>>,
    Query(q): Query<QueueQuery>,
    Form(f): Form<ActionForm>,
) -> Response {
    // A signed-in user acts under their own name.
    let signed_in = who.and_then(|Extension(w)| w.name);
    let agent = signed_in.as_deref().unwrap_or(f.agent.trim());
    let record = async {
        if agent.is_empty() {
            return Err(error_page(
                StatusCode::BAD_REQUEST,
                "Bad form",
                "agent: enter your name to mark a post answered",
            ));
        }
        let response = Answer {
            post_id: f.post_id.trim().to_string(),
            responded_at: Utc::now(),
            responder: agent.to_string(),
            channel: "console".into(),
            note: f.note.trim().to_string(),
        };
        match state.inner.responses.record(&response).await {
            Ok(Recorded::First) => Ok("answered"),
            Ok(Recorded::AlreadyAnswered(_)) => Ok("already"),
            Err(e @ ResponseError::UnknownPost(_)) => Err(error_page(
                StatusCode::NOT_FOUND,
                "Unknown post",
                &e.to_string(),
            )),
            Err(e @ ResponseError::Invalid(_)) => Err(error_page(
                StatusCode::BAD_REQUEST,
                "Bad form",
                &e.to_string(),
            )),
            Err(e) => Err(store_error(e)),
        }
    };
    act(&state, &q, &f, Some(agent), record).await
}

/// `POST /queue/assign`: assigns the post to a team or agent.
pub async fn assign(
    State(state): State<ConsoleState>,
    who: Option<Extension<Who>>,
    Query(q): Query<QueueQuery>,
    Form(f): Form<ActionForm>,
) -> Response {
    let by = actor(who, &f);
    let record = async {
        let work = &state.inner.work;
        let assigned = work.assign(f.post_id.trim(), f.assignee.trim(), &by, Utc::now());
        assigned.await.map(|()| "assigned").map_err(work_error)
    };
    act(&state, &q, &f, None, record).await
}

/// `POST /queue/wrong-match`: records that a brand (or competitor, or
/// customer) should not have matched the post.
pub async fn wrong_match(
    State(state): State<ConsoleState>,
    who: Option<Extension<Who>>,
    Query(q): Query<QueueQuery>,
    Form(f): Form<ActionForm>,
) -> Response {
    let by = actor(who, &f);
    let record = async {
        let work = &state.inner.work;
        let (post, entity, note) = (f.post_id.trim(), f.entity.trim(), f.note.trim());
        let marked = work.mark_wrong(post, entity, &by, note, Utc::now());
        marked.await.map(|()| "wrong").map_err(work_error)
    };
    act(&state, &q, &f, None, record).await
}
