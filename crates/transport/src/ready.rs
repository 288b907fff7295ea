//! The process's readiness: named checks that the stages set (config loaded,
//! broker reachable, store reachable, partitions assigned), read by the
//! binary's `/ready` endpoint.
//!
//! It is one registry per process, like the `metrics` facade's recorder:
//! readiness belongs to the process, and a stage deep in a library (the
//! Kafka consumer's rebalance callback, the sink's retry loop) can then say
//! what it knows without every call path carrying a handle.

use std::collections::BTreeMap;
use std::sync::{Mutex, OnceLock};

/// Named checks, each passing or failing with a short reason.
#[derive(Debug, Default)]
pub struct Readiness {
    checks: Mutex<BTreeMap<String, Result<(), String>>>,
}

impl Readiness {
    /// An empty registry (ready: no check fails).
    pub fn new() -> Readiness {
        Readiness::default()
    }

    /// Declares a check that has not passed yet, so that the process is not
    /// ready before whatever sets it has run. Leaves a check already set alone.
    pub fn require(&self, name: &str, pending: &str) {
        self.lock()
            .entry(name.to_string())
            .or_insert_with(|| Err(pending.to_string()));
    }

    /// Sets a check's outcome.
    pub fn set(&self, name: &str, outcome: Result<(), String>) {
        let mut checks = self.lock();
        match checks.get_mut(name) {
            // Stages set their checks on every state change; most are no-ops.
            Some(current) if *current == outcome => {}
            Some(current) => *current = outcome,
            None => {
                checks.insert(name.to_string(), outcome);
            }
        }
    }

    /// Marks a check passed.
    pub fn pass(&self, name: &str) {
        self.set(name, Ok(()));
    }

    /// Marks a check failed, saying why.
    pub fn fail(&self, name: &str, reason: impl Into<String>) {
        self.set(name, Err(reason.into()));
    }

    /// Every check and its outcome, by name.
    pub fn checks(&self) -> Vec<(String, Result<(), String>)> {
        self.lock()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// Whether every check passes.
    pub fn is_ready(&self) -> bool {
        self.lock().values().all(Result::is_ok)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Result<(), String>>> {
        // A panic while holding this lock cannot leave the map inconsistent.
        self.checks.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Check: the configuration was loaded and validated.
pub const CONFIG: &str = "config";
/// Check: the message broker answers (Kafka; the in-memory bus always does).
pub const BROKER: &str = "broker";
/// Check: the store (ClickHouse, SQLite, JSONL file) takes writes.
pub const STORE: &str = "store";

/// The process's registry.
pub fn readiness() -> &'static Readiness {
    static READINESS: OnceLock<Readiness> = OnceLock::new();
    READINESS.get_or_init(Readiness::new)
}

/// Name of the check "`group` has its partition assignment".
pub fn partitions_check(group: &str) -> String {
    format!("partitions assigned ({group})")
}

/// Name of the check "`group`'s member is not left without partitions while
/// its topics have lag and the group makes no progress" (Kafka only).
pub fn lag_check(group: &str) -> String {
    format!("partitions for the lag ({group})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_required_check_holds_readiness_until_it_passes() {
        let r = Readiness::new();
        assert!(r.is_ready(), "no check: ready");
        r.require("broker", "not connected yet");
        r.pass("config");
        assert!(!r.is_ready());
        r.require("broker", "ignored: already declared");
        assert_eq!(
            r.checks()[0],
            ("broker".to_string(), Err("not connected yet".to_string()))
        );
        r.pass("broker");
        assert!(r.is_ready());
        r.fail("broker", "all brokers down");
        assert!(!r.is_ready());
    }
}
