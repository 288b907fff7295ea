//! A loopback HTTP receiver for delivery tests: records every request and
//! answers from a script (then 200), like a Slack or webhook endpoint would.
//! Shared with `crates/earshot/tests/alert.rs` through `#[path]`.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// One recorded request.
#[derive(Debug, Clone)]
pub struct Request {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    pub at: Instant,
}

impl Request {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("the body is JSON")
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// How to answer one request.
#[derive(Debug, Clone)]
pub enum Answer {
    Status(u16),
    /// This status with a body of this many bytes.
    StatusBody(u16, usize),
    /// 429 with `Retry-After: <secs>`.
    RetryAfter(u64),
    /// Wait this long, then 200 (a timeout for a shorter client timeout).
    Slow(Duration),
}

#[derive(Default)]
struct Inner {
    requests: Vec<Request>,
    script: VecDeque<Answer>,
    /// Answer used once the script is exhausted (default 200).
    otherwise: Option<Answer>,
}

#[derive(Clone, Default)]
pub struct Receiver {
    inner: Arc<Mutex<Inner>>,
    pub addr: Option<SocketAddr>,
}

impl Receiver {
    /// Starts a receiver on 127.0.0.1 (a free port).
    pub async fn start() -> Receiver {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = Router::new().fallback(handle).with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver {
            inner,
            addr: Some(addr),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr.unwrap())
    }

    /// Answers the next requests in this order, then `otherwise` (200 unless set).
    pub fn script(&self, answers: impl IntoIterator<Item = Answer>) {
        self.inner.lock().unwrap().script.extend(answers);
    }

    pub fn otherwise(&self, answer: Answer) {
        self.inner.lock().unwrap().otherwise = Some(answer);
    }

    pub fn requests(&self) -> Vec<Request> {
        self.inner.lock().unwrap().requests.clone()
    }

    pub fn requests_to(&self, path: &str) -> Vec<Request> {
        self.requests()
            .into_iter()
            .filter(|r| r.path == path)
            .collect()
    }

    pub fn clear(&self) {
        self.inner.lock().unwrap().requests.clear();
    }
}

async fn handle(
    State(inner): State<Arc<Mutex<Inner>>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let answer = {
        let mut inner = inner.lock().unwrap();
        inner.requests.push(Request {
            path: uri.path().to_string(),
            headers,
            body: body.to_vec(),
            at: Instant::now(),
        });
        let otherwise = inner.otherwise.clone();
        inner
            .script
            .pop_front()
            .or(otherwise)
            .unwrap_or(Answer::Status(200))
    };
    match answer {
        Answer::Status(code) => {
            let status = StatusCode::from_u16(code).unwrap();
            (status, format!("answered {code}")).into_response()
        }
        Answer::StatusBody(code, len) => {
            (StatusCode::from_u16(code).unwrap(), "x".repeat(len)).into_response()
        }
        Answer::RetryAfter(secs) => (
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", secs.to_string())],
            "slow down",
        )
            .into_response(),
        Answer::Slow(wait) => {
            tokio::time::sleep(wait).await;
            (StatusCode::OK, "late").into_response()
        }
    }
}

/// Checks a request's signature as Earshot's webhook connector does:
/// `sha256=<hex HMAC-SHA256(key, "<timestamp>.<body>")>`, with a timestamp
/// within 300 s of now. Computed here independently of the sender's code.
pub fn verify(request: &Request, key: &[u8]) -> Result<(), String> {
    let ts = request
        .header("x-earshot-timestamp")
        .ok_or("no X-Earshot-Timestamp")?;
    let ts_n: i64 = ts.parse().map_err(|_| format!("bad timestamp {ts}"))?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    if (now - ts_n).abs() > 300 {
        return Err(format!("timestamp {ts} is {}s from now", now - ts_n));
    }
    let sig = request
        .header("x-earshot-signature")
        .ok_or("no X-Earshot-Signature")?;
    let hex_sig = sig.strip_prefix("sha256=").ok_or("no sha256= prefix")?;
    let given = hex::decode(hex_sig).map_err(|e| e.to_string())?;
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    mac.update(format!("{ts}.").as_bytes());
    mac.update(&request.body);
    mac.verify_slice(&given)
        .map_err(|_| "signature does not match".to_string())
}
