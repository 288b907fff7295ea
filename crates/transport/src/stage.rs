//! What every consuming stage (match, sink, cases) shares besides the bus:
//! retry backoff and periodic progress lines.

use std::fmt::Display;
use std::time::{Duration, Instant};

use rand::Rng;

/// Exponential backoff with half jitter: the wait before attempt `n`
/// (1-based) is uniform in `[d/2, d]`, where `d` doubles from `initial` up to
/// `max`. The floor keeps a flapping server from being hammered; the jitter
/// spreads restarted daemons apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The first wait's upper bound.
    pub initial: Duration,
    /// The largest wait.
    pub max: Duration,
}

impl Backoff {
    /// Backoff from `initial` doubling up to `max`.
    pub fn new(initial: Duration, max: Duration) -> Backoff {
        Backoff { initial, max }
    }

    /// The wait before attempt `attempt` (1-based).
    pub fn delay(&self, attempt: u32) -> Duration {
        let exp = self
            .initial
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
        let d = exp.min(self.max);
        let half = d / 2;
        half + rand::rng().random_range(Duration::ZERO..=d - half)
    }
}

/// A stage's periodic progress line: every `interval` (none when 0), the
/// stage's counters and how many records per second it finished since the
/// last line.
pub struct Progress {
    what: &'static str,
    interval: Option<Duration>,
    next: tokio::time::Instant,
    last: (Instant, u64),
}

impl Progress {
    /// Progress lines `"<what> progress"` every `interval` (never when zero).
    pub fn new(what: &'static str, interval: Duration) -> Progress {
        let interval = (!interval.is_zero()).then_some(interval);
        Progress {
            what,
            interval,
            next: tokio::time::Instant::now() + interval.unwrap_or(Duration::from_secs(3600)),
            last: (Instant::now(), 0),
        }
    }

    /// Resolves when the next line is due (never, when disabled); cancel-safe.
    pub async fn tick(&mut self) {
        match self.interval {
            Some(i) => {
                tokio::time::sleep_until(self.next).await;
                self.next += i;
            }
            None => std::future::pending().await,
        }
    }

    /// Logs `stats` with the rate of `done` (records finished so far).
    pub fn log(&mut self, done: u64, stats: &dyn Display) {
        let secs = self.last.0.elapsed().as_secs_f64().max(1e-3);
        let rate = done.saturating_sub(self.last.1) as f64 / secs;
        self.last = (Instant::now(), done);
        tracing::info!(stage = self.what, %stats, per_second = rate.round(), "{} progress", self.what);
    }

    /// Logs every interval until `stop`, reading `(done, stats)` from `read`.
    pub async fn run<S: Display>(
        mut self,
        stop: tokio_util::sync::CancellationToken,
        read: impl Fn() -> (u64, S),
    ) {
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = self.tick() => {}
            }
            let (done, stats) = read();
            self.log(done, &stats);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_within_half_jitter_up_to_the_maximum() {
        let b = Backoff::new(Duration::from_millis(100), Duration::from_millis(1000));
        for _ in 0..50 {
            let d1 = b.delay(1);
            assert!(d1 >= Duration::from_millis(50) && d1 <= Duration::from_millis(100));
            let d3 = b.delay(3);
            assert!(d3 >= Duration::from_millis(200) && d3 <= Duration::from_millis(400));
            let d30 = b.delay(30);
            assert!(d30 >= Duration::from_millis(500) && d30 <= Duration::from_millis(1000));
        }
    }
}
