//! Earshot's alerts: rules evaluated per brand over the store's figures
//! ([`rules`], pure functions), an alert message with its figures, top posts
//! and terms ([`message`]), delivered to Slack-compatible and signed generic
//! webhooks with bounded retries ([`deliver`]). [`Engine::run_once`] is one
//! evaluation: figures → rules → suppression (dedup and cooldown, durable in
//! the store) → record → deliver → record each channel's outcome.
//!
//! Metrics (through the `metrics` facade; the binary installs the recorder):
//! `earshot_alert_evaluations_total{rule}`, `earshot_alerts_fired_total{brand,rule}`,
//! `earshot_alert_deliveries_total{channel,outcome}` (`outcome` = `sent` or `failed`).
#![deny(missing_docs)]

pub mod config;
pub mod deliver;
pub mod message;
pub mod rules;

use chrono::{DateTime, Utc};
use earshot_sink::alerts::{
    floor_minute, AlertKey, AlertRecord, AlertStore, AlertStoreError, Delivery, DeliveryStatus,
    EntityFigures,
};
use tokio_util::sync::CancellationToken;

pub use config::{AlertConfig, ChannelConfig, ChannelKind, DeliveryConfig, Thresholds};
pub use deliver::{signature, Channel, ChannelError, Deliverer, Outcome, Target};
pub use message::Alert;
pub use rules::{evaluate, Finding, Rule};

/// Posts read per alert: the top posts come first, the terms are counted over all.
const POSTS_READ: u32 = 200;

/// Failures of an evaluation.
#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] AlertStoreError),
}

/// What one evaluation did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunSummary {
    /// Brands evaluated.
    pub brands: usize,
    /// Rules that fired (before dedup and cooldown).
    pub fired: usize,
    /// Of those, not sent: already alerted, or within the cooldown.
    pub suppressed: usize,
    /// Alerts recorded and delivered.
    pub alerts: Vec<String>,
    /// Deliveries a channel accepted.
    pub delivered: usize,
    /// Deliveries that failed every attempt (dead letters).
    pub failed: usize,
}

impl std::fmt::Display for RunSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} brands evaluated, {} rules fired, {} suppressed (already alerted or cooling down), {} alerts sent: {} deliveries accepted, {} failed",
            self.brands,
            self.fired,
            self.suppressed,
            self.alerts.len(),
            self.delivered,
            self.failed
        )?;
        for a in &self.alerts {
            write!(f, "\n  {a}")?;
        }
        Ok(())
    }
}

/// Evaluates the rules for a set of brands and delivers what fires.
pub struct Engine {
    store: AlertStore,
    config: AlertConfig,
    brands: Vec<String>,
    channels: Vec<Channel>,
    deliverer: Deliverer,
}

impl Engine {
    /// An engine over `store` for `brands` (already checked against the watchlist).
    pub fn new(
        store: AlertStore,
        config: AlertConfig,
        brands: Vec<String>,
        channels: Vec<Channel>,
    ) -> Result<Engine, ChannelError> {
        let deliverer = Deliverer::new(&config.delivery)?;
        Ok(Engine {
            store,
            config,
            brands,
            channels,
            deliverer,
        })
    }

    /// One evaluation at `now`: windows end at `now` rounded down to the minute.
    pub async fn run_once(
        &self,
        now: DateTime<Utc>,
        shutdown: &CancellationToken,
    ) -> Result<RunSummary, AlertError> {
        let until = floor_minute(now);
        let figures = self
            .store
            .figures(until, &self.config.pr_risk_intents)
            .await?;
        let mut summary = RunSummary {
            brands: self.brands.len(),
            ..RunSummary::default()
        };
        for brand in &self.brands {
            let empty = EntityFigures::empty(brand);
            let f = figures
                .iter()
                .find(|f| &f.entity_id == brand)
                .unwrap_or(&empty);
            for finding in evaluate(f, &self.config.thresholds(brand)) {
                metrics::counter!("earshot_alert_evaluations_total", "rule" => finding.rule.as_str())
                    .increment(1);
                if !finding.fired {
                    continue;
                }
                summary.fired += 1;
                self.fire(brand, &finding, until, now, shutdown, &mut summary)
                    .await?;
            }
        }
        Ok(summary)
    }

    async fn fire(
        &self,
        brand: &str,
        finding: &Finding,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
        shutdown: &CancellationToken,
        summary: &mut RunSummary,
    ) -> Result<(), AlertError> {
        let rule = finding.rule;
        let start = until - chrono::Duration::seconds(rule.window_secs());
        let key = AlertKey {
            brand: brand.to_string(),
            rule: rule.as_str().to_string(),
            window_start: start,
        };
        let cooldown =
            chrono::Duration::from_std(self.config.cooldown).unwrap_or(chrono::Duration::zero());
        if let Some(why) = self.store.suppression(&key, now - cooldown).await? {
            tracing::debug!(brand, rule = rule.as_str(), ?why, "alert suppressed");
            summary.suppressed += 1;
            return Ok(());
        }
        let posts = self
            .store
            .posts(
                brand,
                start,
                until,
                &rule.posts(&self.config.pr_risk_intents),
                POSTS_READ,
            )
            .await?;
        let alert = Alert::new(
            brand,
            finding,
            start,
            until,
            &posts,
            self.config.top_posts,
            self.config.top_terms,
            self.config.link.as_deref(),
            now,
        );
        let record = AlertRecord {
            key: key.clone(),
            window_end: until,
            fired_at: now,
            observed: finding.observed,
            threshold: finding.threshold,
            payload: serde_json::to_string(&alert).expect("alerts serialize"),
        };
        // Recorded before sending: a restart never sends it again (at most once).
        if !self.store.record_alert(&record).await? {
            summary.suppressed += 1;
            return Ok(());
        }
        metrics::counter!("earshot_alerts_fired_total", "brand" => brand.to_string(), "rule" => rule.as_str())
            .increment(1);
        tracing::info!(
            brand,
            rule = rule.as_str(),
            observed = finding.observed,
            threshold = finding.threshold,
            "alert fired"
        );
        summary.alerts.push(alert.summary.clone());
        for channel in &self.channels {
            let pending = Delivery {
                channel: channel.name.clone(),
                status: DeliveryStatus::Pending,
                attempts: 0,
                last_error: String::new(),
            };
            self.store.record_delivery(&key, &pending).await?;
            let outcome = self.deliverer.deliver(channel, &alert, shutdown).await;
            let status = if outcome.sent {
                summary.delivered += 1;
                DeliveryStatus::Sent
            } else {
                summary.failed += 1;
                tracing::error!(channel = %channel.name, alert = %alert.id, attempts = outcome.attempts, error = %outcome.last_error, "alert delivery failed; dead letter in alert_deliveries");
                DeliveryStatus::Failed
            };
            metrics::counter!("earshot_alert_deliveries_total", "channel" => channel.name.clone(), "outcome" => status.as_str())
                .increment(1);
            self.store
                .record_delivery(
                    &key,
                    &Delivery {
                        status,
                        attempts: outcome.attempts,
                        last_error: outcome.last_error,
                        ..pending
                    },
                )
                .await?;
        }
        Ok(())
    }
}
