//! `Matcher::score` on arbitrary text, with a time budget per input (run.sh). See `fuzz/checks.rs` for what is checked.
#![no_main]

#[allow(dead_code)]
#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::matcher_score(data));
