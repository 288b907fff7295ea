//! The webhook receiver: `POST <path>` with one post, an array of posts, or
//! `{"posts": [...]}` as JSON. Answers `202` only once every post is
//! acknowledged by the transport; `400` when nothing in the body is a post
//! (dead-lettered), `503` when the transport refused (the sender should
//! retry).
//!
//! Each request is signed: `<timestamp_header>: <unix seconds>` and
//! `<signature_header>: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`.
//! The receiver refuses, in this order and before reading more than it must:
//! a timestamp missing or further than `tolerance_secs` from its clock
//! (`401`), a declared body over `max_body_bytes` (`413`, nothing read), a
//! body growing over it while read (`413`, reading stops), a signature that
//! does not match (`401`; the MAC is computed over the chunks as they
//! arrive), and a signature already accepted within the window (`409`: a
//! replay; a retry must be signed again). Signing the timestamp is what makes
//! a captured request useless after the window, and remembering signatures
//! for the window is what makes it useless within it; the old body-only
//! signature allowed both and is no longer accepted.
//!
//! A request (body and transport acknowledgement included) must finish
//! within `timeout_secs` (`408` otherwise), and at most `max_connections`
//! connections are served at once (more wait in the listen backlog).

mod config;
pub use config::WebhookConfig;

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use async_trait::async_trait;
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use earshot_model::Post;
use futures::StreamExt;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::{SourceError, SourceResult};
use crate::source::{Ctx, Source};

/// Most signatures remembered to refuse replays. At the default window
/// (300 s) this allows 300 accepted requests a second; past it, requests get
/// `503` until old signatures leave the window, rather than the cache
/// growing without bound or forgetting a signature still inside the window.
const MAX_REMEMBERED_SIGNATURES: usize = 100_000;

pub(crate) struct Webhook {
    cfg: WebhookConfig,
    listener: TcpListener,
    secret: Vec<u8>,
}

struct HookState {
    ctx: Arc<Ctx>,
    secret: Vec<u8>,
    signature_header: String,
    timestamp_header: String,
    tolerance_secs: i64,
    max_body: usize,
    timeout: Duration,
    replays: Mutex<ReplayGuard>,
}

impl Webhook {
    /// Reads the secret from the environment and binds the listener.
    pub async fn bind(cfg: &WebhookConfig, name: &str) -> SourceResult<Webhook> {
        let secret = std::env::var(&cfg.secret_env).ok().filter(|s| !s.is_empty()).ok_or_else(|| {
            SourceError::Other(format!("connector `{name}`: set the environment variable {} to the webhook's HMAC secret", cfg.secret_env))
        })?;
        let listener = TcpListener::bind(&cfg.listen)
            .await
            .map_err(SourceError::io(format!(
                "connector `{name}`: cannot listen on {}",
                cfg.listen
            )))?;
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
    async fn run(self: Box<Self>, ctx: Arc<Ctx>) -> SourceResult<()> {
        let tolerance_secs = i64::try_from(self.cfg.tolerance_secs).unwrap_or(i64::MAX);
        let state = Arc::new(HookState {
            ctx: ctx.clone(),
            secret: self.secret,
            signature_header: self.cfg.signature_header.clone(),
            timestamp_header: self.cfg.timestamp_header.clone(),
            tolerance_secs,
            max_body: ctx.config.max_body_bytes,
            timeout: Duration::from_secs_f64(ctx.config.timeout_secs.max(0.001)),
            replays: Mutex::new(ReplayGuard::new(MAX_REMEMBERED_SIGNATURES)),
        });
        let app = Router::new()
            .route(&self.cfg.path, post(ingest))
            .with_state(state);
        tracing::info!(connector = %ctx.name, addr = %self.listener.local_addr()?, path = %self.cfg.path, "webhook listening");
        let listener = LimitedListener {
            inner: self.listener,
            permits: Arc::new(Semaphore::new(self.cfg.max_connections.max(1))),
        };
        axum::serve(listener, app)
            .with_graceful_shutdown(ctx.shutdown.clone().cancelled_owned())
            .await?;
        Ok(())
    }
}

/// A TCP listener that serves at most as many connections at once as it has
/// permits: `accept` waits for a permit before taking the next connection
/// from the backlog, and each connection gives its permit back when closed.
struct LimitedListener {
    inner: TcpListener,
    permits: Arc<Semaphore>,
}

/// A connection holding its permit.
struct LimitedIo {
    stream: TcpStream,
    _permit: OwnedSemaphorePermit,
}

impl axum::serve::Listener for LimitedListener {
    type Io = LimitedIo;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (LimitedIo, SocketAddr) {
        let permit = loop {
            match self.permits.clone().acquire_owned().await {
                Ok(p) => break p,
                // Never closed; if it were, serving without a limit would be wrong.
                Err(_) => tokio::time::sleep(Duration::from_secs(1)).await,
            }
        };
        loop {
            match self.inner.accept().await {
                Ok((stream, addr)) => {
                    return (
                        LimitedIo {
                            stream,
                            _permit: permit,
                        },
                        addr,
                    )
                }
                // Out of file descriptors and the like: wait rather than spin,
                // as axum's own TcpListener does.
                Err(e) => {
                    tracing::warn!(error = %e, "webhook: accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

impl AsyncRead for LimitedIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for LimitedIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

/// Signatures accepted within the tolerance window, to refuse replays.
/// Bounded: entries leave once their timestamp is out of the window (a
/// replay of them is then refused by the timestamp check instead).
struct ReplayGuard {
    seen: HashMap<[u8; 32], i64>,
    by_time: BTreeSet<(i64, [u8; 32])>,
    max: usize,
}

/// Why a signature cannot be accepted now.
#[derive(Debug, PartialEq, Eq)]
enum ReplayRefusal {
    /// Already accepted within the window.
    Replayed,
    /// The cache is full of signatures still inside the window.
    Full,
}

impl ReplayGuard {
    fn new(max: usize) -> ReplayGuard {
        ReplayGuard {
            seen: HashMap::new(),
            by_time: BTreeSet::new(),
            max,
        }
    }

    /// Records `mac` (signed at `ts`), or refuses it; first forgets every
    /// signature whose timestamp is before `oldest`.
    fn reserve(&mut self, mac: [u8; 32], ts: i64, oldest: i64) -> Result<(), ReplayRefusal> {
        while let Some(&(t, old)) = self.by_time.first() {
            if t >= oldest {
                break;
            }
            self.by_time.pop_first();
            self.seen.remove(&old);
        }
        if self.seen.contains_key(&mac) {
            return Err(ReplayRefusal::Replayed);
        }
        if self.seen.len() >= self.max {
            return Err(ReplayRefusal::Full);
        }
        self.seen.insert(mac, ts);
        self.by_time.insert((ts, mac));
        Ok(())
    }

    /// Forgets `mac`, so that the same request may be sent again (used when
    /// it was not processed: the transport was down or it timed out).
    fn release(&mut self, mac: &[u8; 32]) {
        if let Some(ts) = self.seen.remove(mac) {
            self.by_time.remove(&(ts, *mac));
        }
    }
}

type Answer = (StatusCode, Json<Value>);

fn refuse(status: StatusCode, message: impl Into<String>) -> Answer {
    (status, Json(json!({"error": message.into()})))
}

/// The signature header's MAC: `sha256=<64 hex digits>` (or the bare hex).
fn parse_signature(header: Option<&str>) -> Option<[u8; 32]> {
    let h = header?.trim();
    let hex_part = h.strip_prefix("sha256=").unwrap_or(h);
    let mut mac = [0u8; 32];
    hex::decode_to_slice(hex_part, &mut mac).ok()?;
    Some(mac)
}

/// The MAC of a request: HMAC-SHA256 over `"<timestamp>."` then the body.
fn request_mac(secret: &[u8], timestamp: &str) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac
}

async fn ingest(State(st): State<Arc<HookState>>, headers: HeaderMap, body: Body) -> Answer {
    let ctx = &st.ctx;
    let refused = |status: StatusCode, why: &str| {
        ctx.counters.add(&ctx.counters.errors, 1);
        tracing::warn!(connector = %ctx.name, status = status.as_u16(), "webhook request refused: {why}");
        refuse(status, why)
    };
    // Everything that can be checked from the headers is, before any of the body is read.
    let now = chrono::Utc::now().timestamp();
    let Some(ts_text) = headers
        .get(st.timestamp_header.as_str())
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
    else {
        return refused(
            StatusCode::UNAUTHORIZED,
            &format!(
                "missing {}: sign \"<unix seconds>.<body>\"",
                st.timestamp_header
            ),
        );
    };
    let Ok(ts) = ts_text.parse::<i64>() else {
        return refused(
            StatusCode::UNAUTHORIZED,
            "bad timestamp: expected unix seconds",
        );
    };
    if ts.abs_diff(now) > st.tolerance_secs.unsigned_abs() {
        return refused(
            StatusCode::UNAUTHORIZED,
            "timestamp outside the tolerance window (check the sender's clock; sign each attempt afresh)",
        );
    }
    let Some(claimed) = parse_signature(
        headers
            .get(st.signature_header.as_str())
            .and_then(|v| v.to_str().ok()),
    ) else {
        return refused(StatusCode::UNAUTHORIZED, "bad signature");
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > st.max_body as u64) {
        return refused(StatusCode::PAYLOAD_TOO_LARGE, "body too large");
    }
    // Set once this request holds the signature's reservation: a timeout
    // releases only its own, never that of an earlier request it replays.
    let reserved = AtomicBool::new(false);
    let received = receive(&st, ts_text, ts, now, claimed, body, &reserved);
    match tokio::time::timeout(st.timeout, received).await {
        Ok(answer) => answer,
        Err(_) => {
            // Whatever was enqueued is deduplicated when the sender retries.
            if reserved.load(Ordering::SeqCst) {
                lock(&st.replays).release(&claimed);
            }
            refused(StatusCode::REQUEST_TIMEOUT, "request not completed in time")
        }
    }
}

fn lock(m: &Mutex<ReplayGuard>) -> std::sync::MutexGuard<'_, ReplayGuard> {
    // The guard's maps stay consistent under a panic elsewhere: keep using them.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Reads the body (limit first, MAC over each chunk), checks the signature
/// and replays, then hands the posts over.
async fn receive(
    st: &HookState,
    ts_text: &str,
    ts: i64,
    now: i64,
    claimed: [u8; 32],
    body: Body,
    reserved: &AtomicBool,
) -> Answer {
    let ctx = &st.ctx;
    let refused = |status: StatusCode, why: &str| {
        ctx.counters.add(&ctx.counters.errors, 1);
        tracing::warn!(connector = %ctx.name, status = status.as_u16(), "webhook request refused: {why}");
        refuse(status, why)
    };
    let mut mac = request_mac(&st.secret, ts_text);
    let mut buf = Vec::new();
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => return refused(StatusCode::BAD_REQUEST, &format!("body not read: {e}")),
        };
        if buf.len() + chunk.len() > st.max_body {
            return refused(StatusCode::PAYLOAD_TOO_LARGE, "body too large");
        }
        mac.update(&chunk);
        buf.extend_from_slice(&chunk);
    }
    if mac.verify_slice(&claimed).is_err() {
        return refused(StatusCode::UNAUTHORIZED, "bad signature");
    }
    let reservation = lock(&st.replays).reserve(claimed, ts, now - st.tolerance_secs);
    match reservation {
        Ok(()) => reserved.store(true, Ordering::SeqCst),
        Err(ReplayRefusal::Replayed) => {
            return refused(
                StatusCode::CONFLICT,
                "replayed request: this signature was already accepted (sign each attempt with a fresh timestamp)",
            )
        }
        Err(ReplayRefusal::Full) => {
            return refused(
                StatusCode::SERVICE_UNAVAILABLE,
                "too many requests within the tolerance window; retry",
            )
        }
    }
    let answer = process(ctx, &buf).await;
    if answer.0 == StatusCode::SERVICE_UNAVAILABLE {
        // Not processed: the same signed request may be sent again.
        lock(&st.replays).release(&claimed);
    }
    answer
}

/// A body's posts, and the items that are not posts (reason, item bytes).
type Parsed = (Vec<Post>, Vec<(String, Vec<u8>)>);

/// A verified body's bytes to posts: a post, an array of posts, or
/// `{"posts": [...]}`; `Err` when the body is not JSON at all. Pure, so the
/// fuzz target runs it (issue 12).
pub(crate) fn parse_body(body: &[u8]) -> Result<Parsed, serde_json::Error> {
    let value: Value = serde_json::from_slice(body)?;
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
    let mut rejected = Vec::new();
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
            Err(e) => rejected.push((format!("not a post: {e}"), bytes)),
        }
    }
    Ok((posts, rejected))
}

/// Turns a verified body into posts and produces them.
async fn process(ctx: &Ctx, body: &[u8]) -> Answer {
    ctx.counters.add(&ctx.counters.polls, 1);
    let (posts, not_posts) = match parse_body(body) {
        Ok(parsed) => parsed,
        Err(e) => {
            ctx.emitter
                .dead_letter(&format!("invalid JSON: {e}"), "webhook", body)
                .await;
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({"error": format!("invalid JSON: {e}")})),
            );
        }
    };
    let rejected = not_posts.len();
    for (reason, bytes) in not_posts {
        ctx.emitter.dead_letter(&reason, "webhook", &bytes).await;
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

    fn sign(secret: &[u8], ts: &str, body: &[u8]) -> [u8; 32] {
        let mut mac = request_mac(secret, ts);
        mac.update(body);
        mac.finalize().into_bytes().into()
    }

    #[test]
    fn signatures_cover_the_timestamp_and_the_body() {
        let good = sign(b"k", "1700000000", b"body");
        let hex_sig = hex::encode(good);
        assert_eq!(
            parse_signature(Some(&format!("sha256={hex_sig}"))),
            Some(good)
        );
        assert_eq!(parse_signature(Some(&hex_sig)), Some(good));
        assert_eq!(parse_signature(Some("sha256=zz")), None);
        assert_eq!(parse_signature(Some("sha256=abcd")), None);
        assert_eq!(parse_signature(None), None);
        // The MAC computed over chunks equals the one over the whole.
        let mut chunked = request_mac(b"k", "1700000000");
        chunked.update(b"bo");
        chunked.update(b"dy");
        assert!(chunked.verify_slice(&good).is_ok());
        assert_ne!(sign(b"k", "1700000001", b"body"), good);
        assert_ne!(sign(b"k", "1700000000", b"body!"), good);
        assert_ne!(sign(b"other", "1700000000", b"body"), good);
        // The old body-only signature does not verify.
        let mut old = Hmac::<Sha256>::new_from_slice(b"k").unwrap();
        old.update(b"body");
        assert_ne!(<[u8; 32]>::from(old.finalize().into_bytes()), good);
    }

    #[test]
    fn issue_12_replay_guard_refuses_replays_and_stays_bounded() {
        let mut g = ReplayGuard::new(2);
        let (a, b, c) = ([1u8; 32], [2u8; 32], [3u8; 32]);
        assert_eq!(g.reserve(a, 100, 0), Ok(()));
        assert_eq!(g.reserve(a, 100, 0), Err(ReplayRefusal::Replayed));
        assert_eq!(g.reserve(b, 150, 0), Ok(()));
        // Full of signatures still in the window: refused, not forgotten.
        assert_eq!(g.reserve(c, 160, 0), Err(ReplayRefusal::Full));
        assert_eq!(g.reserve(a, 100, 0), Err(ReplayRefusal::Replayed));
        // Once `a` is out of the window it is forgotten, making room.
        assert_eq!(g.reserve(c, 160, 101), Ok(()));
        assert_eq!(g.seen.len(), 2);
        assert_eq!(g.by_time.len(), 2);
        // A released signature may be sent again.
        g.release(&b);
        assert_eq!(g.reserve(b, 150, 101), Ok(()));
    }
}
