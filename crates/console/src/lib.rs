//! Earshot's web console: server-rendered pages over either store (the
//! dashboards, the work queue with its actions, the alerts sent) and the
//! authenticated respond API for the CRM. Every asset is built in: pages are
//! HTML from `maud`, charts inline SVG ([`svg`]), one embedded CSS file, no
//! JavaScript.
//!
//! ```no_run
//! # async fn serve(sink: earshot_sink::SinkConfig) -> Result<(), Box<dyn std::error::Error>> {
//! let config = earshot_console::ConsoleConfig::default();
//! let state = earshot_console::ConsoleState::open(&sink, &config).await?;
//! let listener = tokio::net::TcpListener::bind(&config.addr).await?;
//! axum::serve(listener, earshot_console::router(state)).await?;
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod api;
mod auth;
mod config;
mod layout;
mod pages;
mod state;
pub mod svg;
mod window;

use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderValue};
use axum::response::Response;
use axum::routing::{get, post};

pub use auth::hash_password;
pub use config::{AuthMode, ConsoleConfig, Role, UserConfig};
pub use state::{ConsoleError, ConsoleState, LabelSource};

/// Largest request body accepted (forms and API calls are a few fields).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Every page, action and API route of the console.
pub fn router(state: ConsoleState) -> axum::Router {
    axum::Router::new()
        .route("/", get(pages::overview::page))
        .route("/queue", get(pages::queue::page))
        .route("/queue/answer", post(pages::actions::answer))
        .route("/queue/assign", post(pages::actions::assign))
        .route("/queue/wrong-match", post(pages::actions::wrong_match))
        .route("/alerts", get(pages::alerts::page))
        .route("/thread", get(pages::people::thread_form))
        .route("/thread/{id}", get(pages::people::thread))
        .route("/author/{source}/{handle}", get(pages::people::author))
        .route("/api/responses", post(api::responses))
        .route("/login", get(auth::login_page).post(auth::login))
        .route("/logout", post(auth::logout))
        .route("/style.css", get(layout::stylesheet))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::gate,
        ))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::map_response(security_headers))
        .with_state(state)
}

/// No scripts, no framing by other sites, nothing loaded from elsewhere.
async fn security_headers(mut r: Response) -> Response {
    let h = r.headers_mut();
    for (name, value) in [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
    ] {
        h.insert(name, HeaderValue::from_static(value));
    }
    r
}
