//! The webhook receiver: `POST <path>` with one post, an array of posts, or
//! `{"posts": [...]}` as JSON, signed with HMAC-SHA256 of the body in
//! `<signature_header>: sha256=<hex>`. Answers `202` only once every post is
//! acknowledged by the transport; `401` for a bad signature, `413` for an
//! oversize body, `400` when nothing in the body is a post (dead-lettered),
//! `503` when the transport refused (the sender should retry).

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use async_trait::async_trait;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use earshot_model::Post;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use tokio::net::TcpListener;

use crate::config::WebhookConfig;
use crate::source::{Ctx, Source};

pub(crate) struct Webhook {
    cfg: WebhookConfig,
    listener: TcpListener,
    secret: Vec<u8>,
}

struct HookState {
    ctx: Arc<Ctx>,
    secret: Vec<u8>,
    header: String,
}

impl Webhook {
    /// Reads the secret from the environment and binds the listener.
    pub async fn bind(cfg: &WebhookConfig, name: &str) -> anyhow::Result<Webhook> {
        let secret = std::env::var(&cfg.secret_env).ok().filter(|s| !s.is_empty()).with_context(|| {
            format!("connector `{name}`: set the environment variable {} to the webhook's HMAC secret", cfg.secret_env)
        })?;
        let listener = TcpListener::bind(&cfg.listen)
            .await
            .with_context(|| format!("connector `{name}`: cannot listen on {}", cfg.listen))?;
        Ok(Webhook {
            cfg: cfg.clone(),
            listener,
            secret: secret.into_bytes(),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }
}

#[async_trait]
impl Source for Webhook {
    async fn run(self: Box<Self>, ctx: Arc<Ctx>) -> anyhow::Result<()> {
        let state = Arc::new(HookState {
            ctx: ctx.clone(),
            secret: self.secret,
            header: self.cfg.signature_header.clone(),
        });
        let app = Router::new()
            .route(&self.cfg.path, post(ingest))
            .layer(DefaultBodyLimit::max(ctx.config.max_body_bytes))
            .with_state(state);
        tracing::info!(connector = %ctx.name, addr = %self.listener.local_addr()?, path = %self.cfg.path, "webhook listening");
        axum::serve(self.listener, app)
            .with_graceful_shutdown(ctx.shutdown.clone().cancelled_owned())
            .await?;
        Ok(())
    }
}

/// Constant-time check of `sha256=<hex>` (or bare hex) against the body.
fn signature_ok(secret: &[u8], header: Option<&str>, body: &[u8]) -> bool {
    let Some(h) = header else { return false };
    let Ok(sig) = hex::decode(h.trim().strip_prefix("sha256=").unwrap_or(h.trim())) else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(body);
    mac.verify_slice(&sig).is_ok()
}

async fn ingest(
    State(st): State<Arc<HookState>>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, Json<Value>) {
    let ctx = &st.ctx;
    let sig = headers
        .get(st.header.as_str())
        .and_then(|v| v.to_str().ok());
    if !signature_ok(&st.secret, sig, &body) {
        ctx.counters.add(&ctx.counters.errors, 1);
        tracing::warn!(connector = %ctx.name, "webhook request with a missing or bad signature refused");
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "bad signature"})),
        );
    }
    ctx.counters.add(&ctx.counters.polls, 1);
    let value: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            ctx.emitter
                .dead_letter(&format!("invalid JSON: {e}"), "webhook", &body)
                .await;
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({"error": format!("invalid JSON: {e}")})),
            );
        }
    };
    let items = match value {
        Value::Array(a) => a,
        Value::Object(mut o) if matches!(o.get("posts"), Some(Value::Array(_))) => {
            match o.remove("posts") {
                Some(Value::Array(a)) => a,
                _ => unreachable!("checked above"),
            }
        }
        other => vec![other],
    };
    let mut posts = Vec::with_capacity(items.len());
    let mut rejected = 0;
    for item in items {
        let bytes = serde_json::to_vec(&item).unwrap_or_default();
        match Post::from_json(&bytes) {
            Ok(mut p) => {
                if !p.id.contains(':') {
                    p.id = Post::make_id("webhook", &p.id);
                    p.source = "webhook".into();
                }
                p.raw.get_or_insert(item);
                posts.push(p);
            }
            Err(e) => {
                rejected += 1;
                ctx.emitter
                    .dead_letter(&format!("not a post: {e}"), "webhook", &bytes)
                    .await;
            }
        }
    }
    if posts.is_empty() && rejected > 0 {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "no valid post in the body", "dead_lettered": rejected})),
        );
    }
    match ctx.emitter.emit(posts, None).await {
        Ok(e) => (
            StatusCode::ACCEPTED,
            Json(
                json!({"accepted": e.produced, "duplicates": e.duplicates, "dead_lettered": rejected}),
            ),
        ),
        Err(e) => {
            ctx.error("webhook posts not enqueued", &format!("{e:#}"));
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"error": "transport unavailable; retry"})),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures() {
        let mut mac = Hmac::<Sha256>::new_from_slice(b"k").unwrap();
        mac.update(b"body");
        let good = hex::encode(mac.finalize().into_bytes());
        assert!(signature_ok(b"k", Some(&format!("sha256={good}")), b"body"));
        assert!(signature_ok(b"k", Some(&good), b"body"));
        assert!(!signature_ok(b"k", Some(&good), b"body!"));
        assert!(!signature_ok(b"other", Some(&good), b"body"));
        assert!(!signature_ok(b"k", Some("sha256=zz"), b"body"));
        assert!(!signature_ok(b"k", None, b"body"));
    }
}
