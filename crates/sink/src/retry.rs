//! Retrying transient failures: exponential backoff with full jitter, visibly
//! (a warning per attempt, a counter), and cancellable by shutdown. Known
//! transient failures are retried until they pass; unclassified ones
//! ([`SinkError::Unknown`]) only `max_unknown_attempts` times.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use earshot_transport::stage::Backoff;
use tokio_util::sync::CancellationToken;

use crate::config::RetryConfig;
use crate::SinkError;

/// Backoff settings plus the shutdown signal that ends waiting.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    backoff: Backoff,
    max_unknown_attempts: u32,
    shutdown: CancellationToken,
}

impl RetryPolicy {
    /// A policy from `[sink.retry]`, interrupted by `shutdown`.
    pub fn new(config: &RetryConfig, shutdown: CancellationToken) -> RetryPolicy {
        RetryPolicy {
            backoff: Backoff::new(
                Duration::from_millis(config.initial_backoff_ms),
                Duration::from_millis(config.max_backoff_ms),
            ),
            max_unknown_attempts: config.max_unknown_attempts.max(1),
            shutdown,
        }
    }

    /// Attempts at an operation failing with [`SinkError::Unknown`] before
    /// [`run`](Self::run) returns that error.
    pub fn max_unknown_attempts(&self) -> u32 {
        self.max_unknown_attempts
    }

    /// Wait before attempt `attempt` (1-based): uniform in `[d/2, d]` where `d`
    /// doubles from the initial backoff up to the maximum. Half-jitter keeps a
    /// floor so a flapping server is not hammered, and spreads restarts apart.
    pub fn delay(&self, attempt: u32) -> Duration {
        self.backoff.delay(attempt)
    }

    /// Logs a transient failure and sleeps before retry number `attempt`;
    /// [`SinkError::Interrupted`] if shutdown is requested meanwhile.
    pub async fn wait(&self, attempt: u32, what: &str, reason: &str) -> Result<(), SinkError> {
        let wait = self.delay(attempt);
        tracing::warn!(what, attempt, wait_ms = wait.as_millis() as u64, %reason, "transient failure; retrying (records stay unacknowledged meanwhile)");
        tokio::select! {
            _ = self.shutdown.cancelled() => Err(SinkError::Interrupted),
            _ = tokio::time::sleep(wait) => Ok(()),
        }
    }

    /// Runs `op` until it succeeds or fails with a non-transient error.
    /// Transient failures are logged with `what`, counted in `retries`, and
    /// retried after [`delay`](Self::delay); unclassified ones the same way,
    /// but at most [`max_unknown_attempts`](Self::max_unknown_attempts)
    /// attempts in all, after which the [`SinkError::Unknown`] is returned.
    /// Returns [`SinkError::Interrupted`] if shutdown is requested while waiting.
    pub async fn run<T, F, Fut>(
        &self,
        what: &str,
        retries: &AtomicU64,
        op: F,
    ) -> Result<T, SinkError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, SinkError>>,
    {
        self.run_limited(what, retries, self.max_unknown_attempts, op)
            .await
    }

    /// [`run`](Self::run) with its own limit of attempts for unclassified errors.
    pub async fn run_limited<T, F, Fut>(
        &self,
        what: &str,
        retries: &AtomicU64,
        unknown_attempts: u32,
        mut op: F,
    ) -> Result<T, SinkError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, SinkError>>,
    {
        let mut attempt = 0u32;
        let mut unknown = 0u32;
        loop {
            match op().await {
                Err(SinkError::Transient(reason)) => {
                    attempt = attempt.saturating_add(1);
                    retries.fetch_add(1, Ordering::Relaxed);
                    self.wait(attempt, what, &reason).await?;
                }
                Err(SinkError::Unknown(reason)) => {
                    unknown += 1;
                    if unknown >= unknown_attempts.max(1) {
                        tracing::warn!(what, attempts = unknown, %reason, "unclassified error persists; giving up on this request");
                        return Err(SinkError::Unknown(format!(
                            "{reason} (unclassified error, still failing after {unknown} attempts)"
                        )));
                    }
                    attempt = attempt.saturating_add(1);
                    retries.fetch_add(1, Ordering::Relaxed);
                    self.wait(attempt, what, &reason).await?;
                }
                other => {
                    if attempt > 0 && other.is_ok() {
                        tracing::info!(what, attempts = attempt + 1, "succeeded after retrying");
                    }
                    return other;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy::new(
            &RetryConfig {
                initial_backoff_ms: 10,
                max_backoff_ms: 100,
                max_unknown_attempts: 3,
            },
            CancellationToken::new(),
        )
    }

    #[test]
    fn delay_grows_and_is_capped() {
        let p = policy();
        for _ in 0..50 {
            let d1 = p.delay(1);
            assert!(
                d1 >= Duration::from_millis(5) && d1 <= Duration::from_millis(10),
                "{d1:?}"
            );
            let d3 = p.delay(3);
            assert!(
                d3 >= Duration::from_millis(20) && d3 <= Duration::from_millis(40),
                "{d3:?}"
            );
            let d30 = p.delay(30);
            assert!(
                d30 >= Duration::from_millis(50) && d30 <= Duration::from_millis(100),
                "{d30:?}"
            );
        }
    }

    #[tokio::test]
    async fn retries_transient_until_success_but_not_data_errors() {
        let p = policy();
        let retries = AtomicU64::new(0);
        let mut calls = 0;
        let out = p
            .run("test", &retries, || {
                calls += 1;
                let n = calls;
                async move {
                    if n < 3 {
                        Err(SinkError::Transient("down".into()))
                    } else {
                        Ok(n)
                    }
                }
            })
            .await
            .unwrap();
        assert_eq!(out, 3);
        assert_eq!(retries.load(Ordering::Relaxed), 2);

        let mut calls = 0;
        let err = p
            .run("test", &retries, || {
                calls += 1;
                async { Err::<(), _>(SinkError::Data("bad".into())) }
            })
            .await
            .unwrap_err();
        assert!(matches!(err, SinkError::Data(_)));
        assert_eq!(calls, 1);
    }

    /// Finding 2 of issue 12: an unknown ClickHouse error code was retried
    /// forever. Now it is tried `max_unknown_attempts` times, then returned.
    #[tokio::test]
    async fn issue_12_unknown_errors_are_retried_a_bounded_number_of_times() {
        let p = policy();
        let retries = AtomicU64::new(0);
        let mut calls = 0;
        let err = p
            .run("test", &retries, || {
                calls += 1;
                async { Err::<(), _>(SinkError::Unknown("Code: 76. DB::Exception".into())) }
            })
            .await
            .unwrap_err();
        assert!(
            matches!(&err, SinkError::Unknown(m) if m.contains("after 3 attempts")),
            "{err}"
        );
        assert_eq!(calls, 3);
        assert_eq!(retries.load(Ordering::Relaxed), 2);
    }

    #[tokio::test]
    async fn shutdown_interrupts_waiting() {
        let shutdown = CancellationToken::new();
        let p = RetryPolicy::new(
            &RetryConfig {
                initial_backoff_ms: 60_000,
                max_backoff_ms: 60_000,
                max_unknown_attempts: 3,
            },
            shutdown.clone(),
        );
        shutdown.cancel();
        let err = p
            .run("test", &AtomicU64::new(0), || async {
                Err::<(), _>(SinkError::Transient("down".into()))
            })
            .await
            .unwrap_err();
        assert!(matches!(err, SinkError::Interrupted));
    }
}
