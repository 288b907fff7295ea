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
mod config;
mod layout;
mod pages;
mod state;
pub mod svg;
mod window;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

pub use config::ConsoleConfig;
pub use state::{ConsoleError, ConsoleState};

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
        .route("/api/responses", post(api::responses))
        .route("/style.css", get(layout::stylesheet))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}
