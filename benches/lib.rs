//! Shared fixtures for Earshot benchmarks.
