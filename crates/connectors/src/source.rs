//! The `Source` trait every connector implements, and the context handed to it.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::header::HeaderMap;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::backend::CursorBackend;
use crate::config::ConnectorConfig;
use crate::emit::Emitter;
use crate::error::SourceResult;
use crate::http::{redact, FetchError, Response, SourceHttp};
use crate::stats::Counters;

/// A connector: runs until `ctx.shutdown` is cancelled (or, for one-shot
/// sources, until done), producing through `ctx.emitter`.
#[async_trait]
pub(crate) trait Source: Send + Sync {
    /// Runs the source. An error is fatal to this source only.
    async fn run(self: Box<Self>, ctx: Arc<Ctx>) -> SourceResult<()>;
}

/// Everything a source needs.
pub(crate) struct Ctx {
    pub name: String,
    pub config: ConnectorConfig,
    pub emitter: Emitter,
    pub http: SourceHttp,
    pub cursors: Arc<dyn CursorBackend>,
    pub counters: Arc<Counters>,
    pub shutdown: CancellationToken,
    /// One pass only (`[connect] once`): [`Ctx::sleep`] between polls ends the loop.
    pub once: bool,
}

impl Ctx {
    /// Sleeps `d`; returns false when shutdown was requested meanwhile, or
    /// at once in one-pass mode (every caller sleeps between polls).
    pub async fn sleep(&self, d: Duration) -> bool {
        if self.once {
            return false;
        }
        tokio::select! {
            _ = self.shutdown.cancelled() => false,
            _ = tokio::time::sleep(d) => true,
        }
    }

    /// Counts and logs an error that does not stop the source.
    pub fn error(&self, what: &str, error: &dyn std::fmt::Display) {
        self.counters.add(&self.counters.errors, 1);
        tracing::warn!(connector = %self.name, %error, "{what}");
    }

    /// Runs one poll as its own task, so that a panic anywhere in it (fetch,
    /// parse, produce) ends that poll only: the panic is counted as an error,
    /// logged and dead-lettered with `locator`, and the caller polls again on
    /// its interval. Returns the poll's outcome when it did not panic.
    pub async fn guarded<F>(&self, locator: &str, poll: F) -> Option<SourceResult<()>>
    where
        F: Future<Output = SourceResult<()>> + Send + 'static,
    {
        match spawn_caught(poll).await {
            Ok(r) => Some(r),
            Err(msg) => {
                self.error(&format!("polling {locator} panicked"), &msg);
                self.emitter
                    .dead_letter(
                        &format!("connector panicked while polling: {msg}"),
                        locator,
                        b"",
                    )
                    .await;
                None
            }
        }
    }

    /// The polling loop of a source (or of one of its feeds): runs
    /// `poll()` [`guarded`](Ctx::guarded) by `locator`, counts and logs an
    /// error as `failed`, and waits `interval`; returns on shutdown, or after
    /// one pass in one-pass mode.
    pub async fn poll_every<F>(
        &self,
        locator: &str,
        failed: &str,
        interval: Duration,
        mut poll: impl FnMut() -> F,
    ) where
        F: Future<Output = SourceResult<()>> + Send + 'static,
    {
        loop {
            if let Some(Err(e)) = self.guarded(locator, poll()).await {
                self.error(failed, &format!("{e:#}"));
            }
            if !self.sleep(interval).await {
                return;
            }
        }
    }

    /// A saved cursor decoded from JSON; an unreadable one is logged and ignored.
    pub async fn cursor<T: DeserializeOwned>(&self, key: &str) -> SourceResult<Option<T>> {
        let Some(raw) = self.cursors.get(&self.name, key).await? else {
            return Ok(None);
        };
        match serde_json::from_str(&raw) {
            Ok(v) => Ok(Some(v)),
            Err(e) => {
                self.error(
                    &format!("cursor `{key}` unreadable ({raw}); starting over"),
                    &e,
                );
                Ok(None)
            }
        }
    }

    /// GETs `url`. Failures are counted and logged; bodies that were too large
    /// or cut off are dead-lettered. `None` means "try again next poll".
    pub async fn fetch(&self, url: &Url, headers: HeaderMap) -> Option<Response> {
        match self.http.get(url, headers).await {
            Ok(r) => {
                self.counters.add(&self.counters.polls, 1);
                Some(r)
            }
            Err(FetchError::Shutdown) => None,
            Err(FetchError::TooLarge { limit, prefix }) => {
                self.emitter
                    .dead_letter(
                        &format!("response body larger than max_body_bytes = {limit}"),
                        &redact(url),
                        &prefix,
                    )
                    .await;
                None
            }
            Err(FetchError::Truncated { received, error }) => {
                self.emitter
                    .dead_letter(
                        &format!("response body truncated: {error}"),
                        &redact(url),
                        &received,
                    )
                    .await;
                None
            }
            Err(e) => {
                self.error(&format!("fetching {} failed", redact(url)), &e);
                None
            }
        }
    }

    /// GETs `url` and decodes its JSON body: [`Ctx::fetch`] then
    /// [`Ctx::json`]. `None` when either failed (already counted, logged or
    /// dead-lettered): try again next poll.
    pub async fn fetch_json<T: DeserializeOwned>(
        &self,
        url: &Url,
        headers: HeaderMap,
    ) -> Option<T> {
        let resp = self.fetch(url, headers).await?;
        self.json(url, &resp.body).await
    }

    /// Decodes a JSON body into `T`; a body that is not (invalid JSON, wrong
    /// encoding, truncated, wrong shape) is dead-lettered and `None` returned.
    pub async fn json<T: DeserializeOwned>(&self, url: &Url, body: &[u8]) -> Option<T> {
        match serde_json::from_slice(body) {
            Ok(v) => Some(v),
            Err(e) => {
                self.emitter
                    .dead_letter(&format!("invalid JSON response: {e}"), &redact(url), body)
                    .await;
                None
            }
        }
    }

    /// Decodes each item of a page; an item of the wrong shape (missing
    /// fields) is dead-lettered alone and the rest are kept, each with its raw JSON.
    pub async fn items<T: DeserializeOwned>(
        &self,
        url: &Url,
        items: Vec<Value>,
    ) -> Vec<(T, Value)> {
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            match T::deserialize(&item) {
                Ok(v) => out.push((v, item)),
                Err(e) => {
                    let payload = serde_json::to_vec(&item).unwrap_or_default();
                    self.emitter
                        .dead_letter(&format!("malformed item: {e}"), &redact(url), &payload)
                        .await;
                }
            }
        }
        out
    }

    /// Saves a cursor value (JSON) along with nothing else; used when a poll
    /// produced nothing but still moved the cursor.
    pub fn cursor_value<T: serde::Serialize>(key: &str, value: &T) -> (String, String) {
        (
            key.to_string(),
            serde_json::to_string(value).expect("cursor serializes"),
        )
    }
}

/// Runs `fut` as its own task; a panic in it becomes `Err(message)`.
pub(crate) async fn spawn_caught<T, F>(fut: F) -> Result<T, String>
where
    T: Send + 'static,
    F: Future<Output = T> + Send + 'static,
{
    match tokio::spawn(fut).await {
        Ok(v) => Ok(v),
        Err(e) if e.is_panic() => Err(panic_message(e.into_panic())),
        Err(e) => Err(format!("poll task cancelled: {e}")),
    }
}

/// The text of a caught panic's payload.
pub(crate) fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-text panic payload".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn issue_19_a_panicking_poll_is_caught() {
        let r = spawn_caught(async {
            let v: Vec<u8> = Vec::new();
            // An out-of-bounds index in a poll, as a reader bug would do.
            std::hint::black_box(&v)[3]
        })
        .await;
        let msg = r.unwrap_err();
        assert!(msg.contains("index out of bounds"), "{msg}");
        assert_eq!(spawn_caught(async { 7 }).await, Ok(7));
        let p = std::panic::catch_unwind(|| panic!("boom {}", 1)).unwrap_err();
        assert_eq!(panic_message(p), "boom 1");
    }
}
