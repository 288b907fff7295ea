//! Language detection accuracy per language and per kind of text, and its
//! cost per text, for both detectors, on the labelled set in
//! `crates/matcher/tests/data/lang-cases.tsv`.
//!
//! `cargo run --release -p earshot-benches --bin lang-eval`

use std::collections::BTreeMap;
use std::time::Instant;

use earshot_match::lang::{detect_with, LanguageDetector};

const KINDS: [&str; 3] = ["sentence", "short", "pair"];

fn main() {
    let text = include_str!("../crates/matcher/tests/data/lang-cases.tsv");
    let cases: Vec<(&str, &str, &str)> = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let mut f = l.splitn(3, '\t');
            Some((f.next()?, f.next()?, f.next()?))
        })
        .collect();
    let detectors = [
        ("thorough", LanguageDetector::Thorough),
        ("fast", LanguageDetector::Fast),
    ];
    // (lang, kind) -> right answers per detector, cases.
    let mut table: BTreeMap<(&str, usize), ([usize; 2], usize)> = BTreeMap::new();
    for &(lang, kind, text) in &cases {
        let k = KINDS.iter().position(|x| *x == kind).expect("known kind");
        let e = table.entry((lang, k)).or_default();
        for (i, (_, d)) in detectors.iter().enumerate() {
            if detect_with(*d, text) == Some(lang) {
                e.0[i] += 1;
            }
        }
        e.1 += 1;
    }
    println!("lang\tkind\tthorough%\tfast%");
    let mut totals = [([0usize; 2], 0usize); 3];
    for (&(lang, k), &(right, n)) in &table {
        println!(
            "{lang}\t{}\t{:.1}\t{:.1}",
            KINDS[k],
            100.0 * right[0] as f64 / n as f64,
            100.0 * right[1] as f64 / n as f64
        );
        totals[k].0[0] += right[0];
        totals[k].0[1] += right[1];
        totals[k].1 += n;
    }
    for (k, (right, n)) in totals.iter().enumerate() {
        println!(
            "ALL\t{}\t{:.1}\t{:.1}",
            KINDS[k],
            100.0 * right[0] as f64 / *n as f64,
            100.0 * right[1] as f64 / *n as f64
        );
    }
    for (name, d) in detectors {
        let start = Instant::now();
        let mut found = 0usize;
        for _ in 0..3 {
            for &(_, _, text) in &cases {
                found += usize::from(detect_with(d, text).is_some());
            }
        }
        let per = start.elapsed().as_secs_f64() * 1e6 / (3 * cases.len()) as f64;
        println!("{name}: {per:.2} µs per text ({found} answers)");
    }
}
