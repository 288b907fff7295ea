//! RSS/Atom/RDF/JSON feeds through the feed connector's reader. See `fuzz/checks.rs` for what is checked.
#![no_main]

#[allow(dead_code)]
#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::feed_parse(data));
