//! Compiles synthetic watchlists and prints compile time, automaton size and
//! process RSS: the memory figures of `benches/RESULTS.md`.
//!
//! `cargo run --release -p earshot-benches --bin compile-rss -- 100000`

use std::time::Instant;

fn main() {
    let terms: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let before = earshot_benches::rss_bytes().unwrap_or(0);
    let text = earshot_benches::brands_toml(terms);
    let start = Instant::now();
    let m = earshot_benches::matcher(terms, "");
    let took = start.elapsed();
    let after = earshot_benches::rss_bytes().unwrap_or(0);
    let s = m.stats();
    println!(
        "terms_requested={terms} terms={} patterns={} brands={} queries={} watchlist_bytes={} compile_ms={} automaton_bytes={} rss_before_mb={:.1} rss_after_mb={:.1}",
        s.terms,
        s.patterns,
        s.brands,
        s.queries,
        text.len(),
        took.as_millis(),
        s.automaton_bytes,
        before as f64 / 1e6,
        after as f64 / 1e6,
    );
}
