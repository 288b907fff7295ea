//! Earshot's sinks: ClickHouse and the embedded SQLite store.
#![deny(missing_docs)]
