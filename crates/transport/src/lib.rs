//! Earshot transport.
#![deny(missing_docs)]
