//! Earshot's case maker: the loop back to the CRM. Interactions that need a
//! person (a priority and route the `[cases]` section selects) are POSTed to
//! the CRM's endpoint as [`Case`] JSON, signed, with an `Idempotency-Key`,
//! retried with backoff honouring `Retry-After`, and recorded durably in the
//! store ([`earshot_sink::cases`]), so a post becomes a case once: again
//! only when it is re-scored above the priority it was sent with. A case the
//! CRM keeps refusing is recorded as failed with the reason (the dead
//! letter), and the stage goes on. An interaction is acknowledged only once
//! its case is recorded, so a crash resends at most the cases in flight,
//! under the same idempotency key.
//!
//! ```no_run
//! # async fn example(bus: std::sync::Arc<dyn earshot_transport::Bus>, sink: earshot_sink::SinkConfig) -> Result<(), earshot_cases::CasesError> {
//! let config = earshot_cases::CasesConfig { enabled: true, ..Default::default() };
//! let topics = earshot_transport::TopicsConfig::default();
//! let stats = earshot_cases::run(bus, &topics, &config, &sink, Default::default()).await?;
//! println!("{} cases sent", stats.sent);
//! # Ok(()) }
//! ```
//!
//! Metrics: `earshot_cases_total{outcome}` (`sent`, `failed`, `skipped`, `already_sent`).
#![deny(missing_docs)]

mod case;
mod config;
mod stage;

pub use case::{Case, CASE_VERSION};
pub use config::{CasesConfig, StandingsConfig};
pub use stage::{run, CaseMaker, CasesError, CasesStats, IDEMPOTENCY_HEADER};
