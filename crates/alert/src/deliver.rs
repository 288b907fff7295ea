//! Delivery: one HTTP POST per alert and channel, retried with exponential
//! backoff on timeouts, connection errors, 429 and 5xx (honouring
//! `Retry-After`), at most `max_attempts` times; then the delivery is failed
//! (the dead letter, recorded by the caller). Other answers are not retried:
//! the same request would be refused again.

use std::time::Duration;

use hmac::{Hmac, Mac};
use reqwest::header::{HeaderMap, HeaderValue, CONTENT_TYPE, RETRY_AFTER};
use reqwest::StatusCode;
use sha2::Sha256;
use tokio_util::sync::CancellationToken;

use crate::config::{ChannelConfig, ChannelKind, DeliveryConfig};
use crate::message::Alert;

/// Header carrying the request's Unix time (signed with the body).
pub const TIMESTAMP_HEADER: &str = "X-Earshot-Timestamp";
/// Header carrying `sha256=<hex HMAC-SHA256(key, "<timestamp>.<body>")>`.
pub const SIGNATURE_HEADER: &str = "X-Earshot-Signature";
/// Header carrying the alert id, the same on every retry (for receivers that deduplicate).
pub const ALERT_ID_HEADER: &str = "X-Earshot-Alert-Id";

/// Characters of an error answer kept in the delivery state.
const ERROR_BODY_CHARS: usize = 300;
/// Bytes of an error answer read at most.
const ERROR_BODY_BYTES: usize = 4096;

/// Problems building channels from the environment.
#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    /// A variable the config names is unset or empty.
    #[error("alert.channels[{index}].{key}: set the environment variable {var} ({what})")]
    MissingEnv {
        /// Index in `[[alert.channels]]`.
        index: usize,
        /// `url_env` or `secret_env`.
        key: &'static str,
        /// The variable.
        var: String,
        /// What it should hold.
        what: &'static str,
    },
    /// The URL variable does not hold an http(s) URL.
    #[error("alert.channels[{index}].url_env: the environment variable {var} does not hold an http:// or https:// URL")]
    BadUrl {
        /// Index in `[[alert.channels]]`.
        index: usize,
        /// The variable.
        var: String,
    },
    /// The HTTP client could not be built.
    #[error("building the HTTP client: {0}")]
    Client(String),
}

/// A destination, with its secrets read from the environment.
#[derive(Clone)]
pub struct Channel {
    /// Its name.
    pub name: String,
    /// Its kind.
    pub kind: ChannelKind,
    url: reqwest::Url,
    secret: Option<Vec<u8>>,
}

impl std::fmt::Debug for Channel {
    // The URL and key are secrets: never in logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Channel")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl Channel {
    /// A channel to `url` (`secret`: the HMAC key, for `webhook` channels).
    pub fn new(
        name: &str,
        kind: ChannelKind,
        url: reqwest::Url,
        secret: Option<Vec<u8>>,
    ) -> Channel {
        Channel {
            name: name.to_string(),
            kind,
            url,
            secret,
        }
    }

    /// Reads every channel's URL (and key) from the environment variables the config names.
    pub fn from_env(configs: &[ChannelConfig]) -> Result<Vec<Channel>, ChannelError> {
        let read = |index: usize, key: &'static str, var: &str, what: &'static str| {
            std::env::var(var)
                .ok()
                .filter(|v| !v.trim().is_empty())
                .ok_or_else(|| ChannelError::MissingEnv {
                    index,
                    key,
                    var: var.to_string(),
                    what,
                })
        };
        configs
            .iter()
            .enumerate()
            .map(|(index, c)| {
                let raw = read(index, "url_env", &c.url_env, "the channel's URL")?;
                let url = reqwest::Url::parse(raw.trim())
                    .ok()
                    .filter(|u| matches!(u.scheme(), "http" | "https"))
                    .ok_or_else(|| ChannelError::BadUrl {
                        index,
                        var: c.url_env.clone(),
                    })?;
                let secret = match (&c.kind, &c.secret_env) {
                    (ChannelKind::Webhook, Some(var)) => {
                        Some(read(index, "secret_env", var, "the webhook's HMAC key")?.into_bytes())
                    }
                    _ => None,
                };
                Ok(Channel {
                    name: c.name().to_string(),
                    kind: c.kind,
                    url,
                    secret,
                })
            })
            .collect()
    }
}

/// `sha256=<hex HMAC-SHA256(key, "<timestamp>.<body>")>`, as Earshot's webhook connector verifies.
pub fn signature(key: &[u8], timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// How a delivery ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The channel accepted it (2xx).
    pub sent: bool,
    /// Requests made.
    pub attempts: u32,
    /// The last failure ('' when sent at once).
    pub last_error: String,
}

/// Where one JSON body goes: shared by alert channels and other senders
/// (the CRM case maker).
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// Name for logs (never the URL: it may carry a token).
    pub name: &'a str,
    /// The endpoint.
    pub url: &'a reqwest::Url,
    /// HMAC key: when set, each attempt is signed ([`signature`]).
    pub secret: Option<&'a [u8]>,
    /// A header naming the body, the same on every retry, for receivers that
    /// deduplicate (`X-Earshot-Alert-Id`, `Idempotency-Key`).
    pub id_header: &'static str,
    /// Its value.
    pub id: &'a str,
}

/// Sends alerts over HTTP with bounded retries.
#[derive(Clone)]
pub struct Deliverer {
    client: reqwest::Client,
    config: DeliveryConfig,
}

enum Attempt {
    Sent,
    Retry(String, Option<Duration>),
    Fatal(String),
}

impl Deliverer {
    /// A client with `config`'s timeout.
    pub fn new(config: &DeliveryConfig) -> Result<Deliverer, ChannelError> {
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .user_agent(concat!("earshot-alert/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ChannelError::Client(e.to_string()))?;
        Ok(Deliverer {
            client,
            config: config.clone(),
        })
    }

    /// Delivers `alert` to `channel`. Backoff waits end early when `shutdown`
    /// is cancelled: the delivery then fails with what it had.
    pub async fn deliver(
        &self,
        channel: &Channel,
        alert: &Alert,
        shutdown: &CancellationToken,
    ) -> Outcome {
        let body = match channel.kind {
            ChannelKind::Slack => serde_json::to_vec(&alert.slack()),
            ChannelKind::Webhook => serde_json::to_vec(alert),
        }
        .expect("alerts serialize");
        let target = Target {
            name: &channel.name,
            url: &channel.url,
            secret: channel.secret.as_deref(),
            id_header: ALERT_ID_HEADER,
            id: &alert.id,
        };
        self.post(&target, &body, shutdown).await
    }

    /// POSTs the JSON `body` to `target`, retried as [`Deliverer::deliver`]
    /// describes. Backoff waits end early when `shutdown` is cancelled.
    pub async fn post(
        &self,
        target: &Target<'_>,
        body: &[u8],
        shutdown: &CancellationToken,
    ) -> Outcome {
        let mut backoff = self.config.initial_backoff;
        let mut last_error = String::new();
        for attempt in 1..=self.config.max_attempts {
            match self.attempt(target, body).await {
                Attempt::Sent => {
                    return Outcome {
                        sent: true,
                        attempts: attempt,
                        last_error,
                    }
                }
                Attempt::Fatal(e) => {
                    return Outcome {
                        sent: false,
                        attempts: attempt,
                        last_error: e,
                    }
                }
                Attempt::Retry(e, retry_after) => {
                    tracing::warn!(target = target.name, id = target.id, attempt, error = %e, "delivery failed; retrying");
                    last_error = e;
                    if attempt == self.config.max_attempts {
                        break;
                    }
                    let wait = retry_after
                        .map_or(backoff, |r| r.max(backoff))
                        .min(self.config.max_backoff);
                    tokio::select! {
                        _ = shutdown.cancelled() => {
                            return Outcome {
                                sent: false,
                                attempts: attempt,
                                last_error: format!("{last_error} (shutdown before the next attempt)"),
                            };
                        }
                        _ = tokio::time::sleep(wait) => {}
                    }
                    backoff = (backoff * 2).min(self.config.max_backoff);
                }
            }
        }
        Outcome {
            sent: false,
            attempts: self.config.max_attempts,
            last_error: format!(
                "{last_error} (gave up after {} attempts)",
                self.config.max_attempts
            ),
        }
    }

    async fn attempt(&self, target: &Target<'_>, body: &[u8]) -> Attempt {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if let Ok(id) = HeaderValue::from_str(target.id) {
            headers.insert(target.id_header, id);
        }
        if let Some(key) = target.secret {
            // Signed per attempt: the receiver refuses a stale timestamp or a replayed signature.
            let ts = chrono::Utc::now().timestamp();
            headers.insert(TIMESTAMP_HEADER, HeaderValue::from(ts));
            let sig = signature(key, ts, body);
            headers.insert(
                SIGNATURE_HEADER,
                HeaderValue::from_str(&sig).expect("hex is a valid header value"),
            );
        }
        let response = self
            .client
            .post(target.url.clone())
            .headers(headers)
            .body(body.to_vec())
            .send()
            .await;
        let response = match response {
            Ok(r) => r,
            // Without the URL: it is a secret (Slack's carries the token).
            Err(e) => return Attempt::Retry(describe(&e), None),
        };
        let status = response.status();
        if status.is_success() {
            return Attempt::Sent;
        }
        let retry_after = retry_after(response.headers());
        let text = error_body(response).await;
        let error = format!(
            "HTTP {status}: {}",
            crate::message::excerpt(&text, ERROR_BODY_CHARS)
        );
        if status == StatusCode::TOO_MANY_REQUESTS
            || status.is_server_error()
            || status == StatusCode::REQUEST_TIMEOUT
        {
            Attempt::Retry(error, retry_after)
        } else {
            Attempt::Fatal(error)
        }
    }
}

/// The start of an error answer: at most [`ERROR_BODY_BYTES`] are read, however large it is.
async fn error_body(mut response: reqwest::Response) -> String {
    let mut bytes: Vec<u8> = Vec::new();
    while bytes.len() < ERROR_BODY_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
            _ => break,
        }
    }
    bytes.truncate(ERROR_BODY_BYTES);
    String::from_utf8_lossy(&bytes).into_owned()
}

fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    let mut msg = kind.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        msg.push_str(&format!(": {s}"));
        source = s.source();
    }
    msg
}

/// `Retry-After` as seconds or an HTTP date.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    (at.with_timezone(&chrono::Utc) - chrono::Utc::now())
        .to_std()
        .ok()
}
