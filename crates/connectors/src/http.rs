//! The shared HTTP client: timeouts on every request, a body-size cap,
//! per-source and per-host `governor` quotas, bounded concurrency, retries
//! with exponential backoff and jitter, and rate-limit handling (`Retry-After`
//! and `X-RateLimit-*` block the whole host until the reset).

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};
use rand::Rng;
use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER, USER_AGENT};
use reqwest::StatusCode;
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::config::{secs, ConnectSettings, ConnectorConfig};
use crate::stats::Counters;

/// Longest pause a rate-limit header can impose; a larger value is treated as
/// this, so a bogus header cannot park a connector for days.
const MAX_RATE_LIMIT_PAUSE: Duration = Duration::from_secs(3600);

/// State shared by every connector of a daemon.
pub(crate) struct Http {
    client: reqwest::Client,
    host_quota: Option<DefaultKeyedRateLimiter<String>>,
    /// Hosts that told us to stop, and until when.
    blocked: Mutex<HashMap<String, Instant>>,
    slots: Arc<Semaphore>,
    user_agent: String,
}

impl Http {
    pub fn new(settings: &ConnectSettings) -> Result<Http, reqwest::Error> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::limited(5))
            .connect_timeout(Duration::from_secs(10))
            .pool_idle_timeout(Duration::from_secs(60))
            .build()?;
        let host_quota = (settings.per_host_requests_per_second > 0.0).then(|| {
            let period = Duration::from_secs_f64(1.0 / settings.per_host_requests_per_second)
                .max(Duration::from_nanos(1));
            let burst = NonZeroU32::new(settings.per_host_burst.max(1)).expect("max(1)");
            RateLimiter::keyed(
                Quota::with_period(period)
                    .expect("positive period")
                    .allow_burst(burst),
            )
        });
        Ok(Http {
            client,
            host_quota,
            blocked: Mutex::new(HashMap::new()),
            slots: Arc::new(Semaphore::new(settings.max_concurrent_requests.max(1))),
            user_agent: settings.user_agent.clone(),
        })
    }

    fn block(&self, host: &str, until: Instant) {
        let mut b = self.blocked.lock().expect("blocked lock");
        let e = b.entry(host.to_string()).or_insert(until);
        *e = (*e).max(until);
    }

    fn blocked_until(&self, host: &str) -> Option<Instant> {
        let b = self.blocked.lock().expect("blocked lock");
        b.get(host).copied().filter(|t| *t > Instant::now())
    }
}

/// A successful (2xx or 304) response with its body read in full.
#[derive(Debug)]
pub(crate) struct Response {
    pub status: StatusCode,
    pub headers: HeaderMap,
    /// The URL after redirects (the base for relative links).
    pub url: Url,
    pub body: Bytes,
}

/// Why a fetch gave up.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FetchError {
    #[error("HTTP {status}")]
    Status { status: StatusCode, body: Bytes },
    #[error("body larger than {limit} bytes")]
    TooLarge { limit: usize, prefix: Bytes },
    #[error("body truncated after {} bytes: {error}", received.len())]
    Truncated { received: Bytes, error: String },
    #[error("{0}")]
    Network(String),
    #[error("shutting down")]
    Shutdown,
}

/// One connector's view of the client: its own quota and retry policy.
#[derive(Clone)]
pub(crate) struct SourceHttp {
    shared: Arc<Http>,
    quota: Option<Arc<DefaultDirectRateLimiter>>,
    timeout: Duration,
    max_retries: u32,
    backoff_initial: Duration,
    backoff_max: Duration,
    pub max_body: usize,
    counters: Arc<Counters>,
    shutdown: CancellationToken,
    name: String,
}

enum Once {
    Done(Response),
    Failed(FetchError),
}

impl SourceHttp {
    pub fn new(
        shared: Arc<Http>,
        c: &ConnectorConfig,
        counters: Arc<Counters>,
        shutdown: CancellationToken,
    ) -> Self {
        let quota = c
            .requests_per_minute
            .and_then(NonZeroU32::new)
            .map(|n| Arc::new(RateLimiter::direct(Quota::per_minute(n))));
        SourceHttp {
            shared,
            quota,
            timeout: c.timeout(),
            max_retries: c.max_retries,
            backoff_initial: secs(c.backoff_initial_secs),
            backoff_max: secs(c.backoff_max_secs),
            max_body: c.max_body_bytes,
            counters,
            shutdown: shutdown.clone(),
            name: c.name.clone(),
        }
    }

    /// Exponential backoff with jitter: `initial * 2^attempt`, capped, times a
    /// random factor in `[0.5, 1]` so that many connectors do not retry in step.
    fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .backoff_initial
            .saturating_mul(1u32 << attempt.min(20))
            .min(self.backoff_max);
        exp.mul_f64(rand::rng().random_range(0.5..=1.0))
    }

    async fn sleep(&self, d: Duration) -> Result<(), FetchError> {
        tokio::select! {
            _ = self.shutdown.cancelled() => Err(FetchError::Shutdown),
            _ = tokio::time::sleep(d) => Ok(()),
        }
    }

    /// [`sleep`](Self::sleep) counted in `earshot_connector_backoff_seconds_total`.
    async fn backoff_sleep(&self, d: Duration) -> Result<(), FetchError> {
        self.counters
            .metrics
            .backoff_seconds
            .increment(d.as_secs_f64());
        self.sleep(d).await
    }

    /// GETs `url` with `headers`, retrying 429, 5xx, timeouts and network
    /// errors up to `max_retries` times. Returns 2xx and 304 responses; any
    /// other status is an error (not retried: a 404 will not heal).
    pub async fn get(&self, url: &Url, headers: HeaderMap) -> Result<Response, FetchError> {
        let host = format!(
            "{}:{}",
            url.host_str().unwrap_or(""),
            url.port_or_known_default().unwrap_or(0)
        );
        let mut attempt = 0;
        loop {
            // Every attempt first respects a block set by any connector on this host.
            while let Some(until) = self.shared.blocked_until(&host) {
                tracing::debug!(connector = %self.name, %host, wait_ms = (until - Instant::now()).as_millis() as u64, "host rate-limited; waiting");
                self.backoff_sleep(until - Instant::now()).await?;
            }
            if let Some(q) = &self.quota {
                tokio::select! { _ = self.shutdown.cancelled() => return Err(FetchError::Shutdown), _ = q.until_ready() => {} }
            }
            if let Some(q) = &self.shared.host_quota {
                tokio::select! { _ = self.shutdown.cancelled() => return Err(FetchError::Shutdown), _ = q.until_key_ready(&host) => {} }
            }
            let outcome = {
                let _slot = tokio::select! {
                    _ = self.shutdown.cancelled() => return Err(FetchError::Shutdown),
                    s = self.shared.slots.acquire() => s.expect("semaphore never closed"),
                };
                tokio::select! {
                    _ = self.shutdown.cancelled() => return Err(FetchError::Shutdown),
                    o = self.once(url, &headers) => o,
                }
            };
            self.counters.metrics.request(match &outcome {
                Once::Done(resp) => Some(resp.status.as_u16()),
                Once::Failed(_) => None,
            });
            let (error, wait) = match outcome {
                Once::Done(resp) => {
                    self.note_rate_limit(&host, &resp.headers);
                    let s = resp.status;
                    if s.is_success() || s == StatusCode::NOT_MODIFIED {
                        return Ok(resp);
                    }
                    let err = FetchError::Status {
                        status: s,
                        body: resp.body.clone(),
                    };
                    if s == StatusCode::TOO_MANY_REQUESTS
                        || (s == StatusCode::SERVICE_UNAVAILABLE
                            && resp.headers.contains_key(RETRY_AFTER))
                    {
                        self.counters.add(&self.counters.rate_limited, 1);
                        self.counters.metrics.rate_limited.increment(1);
                        let pause = retry_after(&resp.headers)
                            .or_else(|| rate_limit_reset(&resp.headers))
                            .unwrap_or_else(|| self.backoff(attempt))
                            .min(MAX_RATE_LIMIT_PAUSE);
                        tracing::warn!(connector = %self.name, %host, status = s.as_u16(), pause_ms = pause.as_millis() as u64, "told to slow down; pausing the host");
                        self.shared.block(&host, Instant::now() + pause);
                        (err, Duration::ZERO)
                    } else if s.is_server_error() {
                        (err, self.backoff(attempt))
                    } else {
                        return Err(err);
                    }
                }
                Once::Failed(e @ FetchError::TooLarge { .. }) => return Err(e),
                Once::Failed(e) => {
                    let wait = self.backoff(attempt);
                    (e, wait)
                }
            };
            if attempt >= self.max_retries {
                return Err(error);
            }
            attempt += 1;
            self.counters.add(&self.counters.retries, 1);
            tracing::debug!(connector = %self.name, url = %redact(url), %error, attempt, "retrying");
            self.backoff_sleep(wait).await?;
        }
    }

    async fn once(&self, url: &Url, headers: &HeaderMap) -> Once {
        let req = self
            .shared
            .client
            .get(url.clone())
            .timeout(self.timeout)
            .header(
                USER_AGENT,
                HeaderValue::from_str(&self.shared.user_agent)
                    .unwrap_or(HeaderValue::from_static("earshot")),
            )
            .headers(headers.clone());
        let mut resp = match req.send().await {
            Ok(r) => r,
            Err(e) => return Once::Failed(FetchError::Network(describe(&e))),
        };
        let (status, headers, final_url) =
            (resp.status(), resp.headers().clone(), resp.url().clone());
        let mut body = BytesMut::new();
        loop {
            match resp.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > self.max_body {
                        let room = self.max_body - body.len();
                        body.extend_from_slice(&chunk[..room]);
                        return Once::Failed(FetchError::TooLarge {
                            limit: self.max_body,
                            prefix: body.freeze(),
                        });
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) if body.is_empty() || e.is_timeout() => {
                    return Once::Failed(FetchError::Network(describe(&e)))
                }
                Err(e) => {
                    return Once::Failed(FetchError::Truncated {
                        received: body.freeze(),
                        error: describe(&e),
                    })
                }
            }
        }
        Once::Done(Response {
            status,
            headers,
            url: final_url,
            body: body.freeze(),
        })
    }

    /// A rate limit at zero blocks the host until its reset, before we get a 429.
    fn note_rate_limit(&self, host: &str, headers: &HeaderMap) {
        let remaining = [
            "x-ratelimit-remaining",
            "x-rate-limit-remaining",
            "ratelimit-remaining",
        ]
        .iter()
        .find_map(|h| header_str(headers, h))
        .and_then(|v| v.trim().parse::<f64>().ok());
        if remaining.is_some_and(|r| r < 1.0) {
            if let Some(reset) = rate_limit_reset(headers) {
                let pause = reset.min(MAX_RATE_LIMIT_PAUSE);
                self.counters.add(&self.counters.rate_limited, 1);
                self.counters.metrics.rate_limited.increment(1);
                tracing::info!(connector = %self.name, %host, pause_ms = pause.as_millis() as u64, "rate limit used up; pausing the host until reset");
                self.shared.block(host, Instant::now() + pause);
            }
        }
    }
}

fn describe(e: &reqwest::Error) -> String {
    use std::error::Error;
    let mut s = if e.is_timeout() {
        format!("timeout: {e}")
    } else {
        e.to_string()
    };
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

fn header_str<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// `Retry-After` as seconds or an HTTP date.
pub(crate) fn retry_after(h: &HeaderMap) -> Option<Duration> {
    let v = header_str(h, "retry-after")?.trim();
    if let Ok(s) = v.parse::<f64>() {
        return Some(secs(s));
    }
    let at = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    Some(
        (at.with_timezone(&chrono::Utc) - chrono::Utc::now())
            .to_std()
            .unwrap_or(Duration::ZERO),
    )
}

/// The rate-limit reset from any of the conventions in use: seconds from now
/// (Reddit), a Unix time (X), or an ISO 8601 time (Mastodon).
pub(crate) fn rate_limit_reset(h: &HeaderMap) -> Option<Duration> {
    let v = ["x-ratelimit-reset", "x-rate-limit-reset", "ratelimit-reset"]
        .iter()
        .find_map(|n| header_str(h, n))?
        .trim();
    let now = chrono::Utc::now();
    if let Ok(n) = v.parse::<f64>() {
        // Values this large can only be Unix times; smaller ones are delays.
        return Some(if n > 1e9 {
            secs(n - now.timestamp() as f64)
        } else {
            secs(n)
        });
    }
    let at = chrono::DateTime::parse_from_rfc3339(v).ok()?;
    Some(
        (at.with_timezone(&chrono::Utc) - now)
            .to_std()
            .unwrap_or(Duration::ZERO),
    )
}

/// The URL with secrets in its query (`key=`, `token=`) hidden, for logs and dead letters.
pub(crate) fn redact(url: &Url) -> String {
    let mut u = url.clone();
    if u.query().is_some() {
        let pairs: Vec<(String, String)> = u
            .query_pairs()
            .map(|(k, v)| {
                let secret = ["key", "token", "access_token", "api_key"].contains(&k.as_ref());
                (
                    k.into_owned(),
                    if secret {
                        "REDACTED".into()
                    } else {
                        v.into_owned()
                    },
                )
            })
            .collect();
        u.query_pairs_mut().clear().extend_pairs(pairs);
    }
    u.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reset_headers_in_every_convention() {
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-reset", HeaderValue::from_static("42"));
        assert_eq!(rate_limit_reset(&h), Some(Duration::from_secs(42)));
        let later = chrono::Utc::now().timestamp() + 100;
        h.insert(
            "x-ratelimit-reset",
            HeaderValue::from_str(&later.to_string()).unwrap(),
        );
        let d = rate_limit_reset(&h).unwrap();
        assert!(
            d > Duration::from_secs(95) && d <= Duration::from_secs(100),
            "{d:?}"
        );
        let iso = (chrono::Utc::now() + chrono::Duration::seconds(60)).to_rfc3339();
        h.insert("x-ratelimit-reset", HeaderValue::from_str(&iso).unwrap());
        let d = rate_limit_reset(&h).unwrap();
        assert!(
            d > Duration::from_secs(55) && d <= Duration::from_secs(60),
            "{d:?}"
        );
        h.insert(
            "retry-after",
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&h), Some(Duration::ZERO));
    }

    #[test]
    fn secrets_are_redacted() {
        let u = Url::parse("https://x.test/v3/commentThreads?videoId=a&key=SECRET").unwrap();
        let r = redact(&u);
        assert!(!r.contains("SECRET") && r.contains("videoId=a"), "{r}");
    }
}
