//! Helpers for Earshot end-to-end tests.
