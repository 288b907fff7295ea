//! `POST /api/responses`: the CRM marks a post answered.
//!
//! `Authorization: Bearer <token>` (the token from the variable
//! `[console] api_token_env` names), JSON `{"post_id", "by", "channel",
//! "note"}`. 201 for a post's first response, 200 when it was already
//! answered (the action is logged; calling twice is harmless), 404 for an
//! unknown post, 400 for bad input, 401 for a wrong or missing token, 503
//! when no token is configured. Every answer is a JSON object.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::Utc;
use earshot_sink::responses::{Recorded, Response as Answer, ResponseError, MAX_FIELD_BYTES};
use serde::Deserialize;
use serde_json::json;

use crate::state::same_secret;
use crate::ConsoleState;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    post_id: String,
    by: String,
    #[serde(default = "default_channel")]
    channel: String,
    #[serde(default)]
    note: String,
}

fn default_channel() -> String {
    "crm".into()
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

/// The handler.
pub async fn responses(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(expected) = &state.inner.token_hash else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "the API is off: set the environment variable {} to a token and restart the console",
                state.inner.token_env
            ),
        );
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    match given {
        Some(t) if same_secret(t, expected) => {}
        _ => {
            let mut r = error(
                StatusCode::UNAUTHORIZED,
                "missing or wrong token: send `Authorization: Bearer <token>`",
            );
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                "Bearer".parse().expect("static header"),
            );
            return r;
        }
    }
    let b: Body = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("body: {e}; expected JSON {{\"post_id\": \"…\", \"by\": \"…\", \"channel\": \"crm\", \"note\": \"…\"}}"),
            )
        }
    };
    for (k, v) in [
        ("post_id", &b.post_id),
        ("by", &b.by),
        ("channel", &b.channel),
    ] {
        if v.trim().is_empty() {
            return error(StatusCode::BAD_REQUEST, format!("{k}: must not be empty"));
        }
    }
    if b.note.len() > MAX_FIELD_BYTES {
        return error(
            StatusCode::BAD_REQUEST,
            format!("note: at most {MAX_FIELD_BYTES} bytes"),
        );
    }
    let answer = Answer {
        post_id: b.post_id.trim().to_string(),
        responded_at: Utc::now(),
        responder: b.by.trim().to_string(),
        channel: b.channel.trim().to_string(),
        note: b.note,
    };
    let first = |a: &Answer| {
        json!({
            "post_id": a.post_id,
            "answered_by": a.responder,
            "channel": a.channel,
            "answered_at": a.responded_at.to_rfc3339(),
        })
    };
    match state.inner.responses.record(&answer).await {
        Ok(Recorded::First) => {
            let mut v = first(&answer);
            v["status"] = "answered".into();
            (StatusCode::CREATED, Json(v)).into_response()
        }
        Ok(Recorded::AlreadyAnswered(existing)) => {
            let mut v = first(&existing);
            v["status"] = "already_answered".into();
            (StatusCode::OK, Json(v)).into_response()
        }
        Err(e @ ResponseError::UnknownPost(_)) => error(StatusCode::NOT_FOUND, e.to_string()),
        Err(e @ ResponseError::Invalid(_)) => error(StatusCode::BAD_REQUEST, e.to_string()),
        Err(e) => {
            tracing::warn!("api: recording a response failed: {e}");
            error(StatusCode::BAD_GATEWAY, format!("store: {e}"))
        }
    }
}
