//! Earshot's connectors: pull public posts from sources into the transport.
#![deny(missing_docs)]
