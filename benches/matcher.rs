//! Matcher benchmarks: watchlist compile time, matching throughput against
//! a bare Aho-Corasick pass over the same bytes and patterns, and full
//! scoring (matching, sentiment, intents, routing) throughput.
//!
//! `cargo bench -p earshot-benches --bench matcher -- --measurement-time 3 --warm-up-time 1`

use aho_corasick::{AhoCorasick, MatchKind};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use earshot_benches::{brands_toml, matcher, posts};

fn compile(c: &mut Criterion) {
    let mut g = c.benchmark_group("compile");
    g.sample_size(10);
    for terms in [1_000, 10_000, 100_000] {
        g.bench_function(format!("{terms}_terms"), |b| {
            b.iter_batched(|| (), |_| matcher(terms, ""), BatchSize::PerIteration)
        });
    }
    g.finish();
}

/// The patterns the matcher compiles for a watchlist of `terms` terms,
/// lowercased as the matcher's normalization would.
fn bare_patterns(terms: usize) -> Vec<String> {
    let text = brands_toml(terms);
    let mut out = Vec::new();
    for line in text.lines() {
        if let Some(list) = line.strip_prefix("aliases = [") {
            for a in list.trim_end_matches(']').split(", ") {
                out.push(a.trim_matches('"').to_lowercase());
            }
        }
        if let Some(list) = line.strip_prefix("handles = [") {
            out.push(format!(
                "@{}",
                list.trim_end_matches(']').trim_matches('"').to_lowercase()
            ));
        }
    }
    out.extend(["refund".into(), "not working".into()]);
    out
}

fn throughput(c: &mut Criterion) {
    let terms = 10_000;
    let posts = posts(2_000, terms);
    let bytes: usize = posts.iter().map(|p| p.text.len()).sum();
    let lower: Vec<String> = posts.iter().map(|p| p.text.to_lowercase()).collect();
    let ac = AhoCorasick::builder()
        .match_kind(MatchKind::LeftmostLongest)
        .build(bare_patterns(terms))
        .expect("patterns build");
    let m = matcher(terms, "");
    let lexicon = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../config/lexicons/vader_lexicon.txt"
    ))
    .expect("bundled VADER lexicon");
    let full = matcher(terms, &lexicon);

    let mut g = c.benchmark_group("match_10k_terms");
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("bare_aho_corasick_find_iter", |b| {
        b.iter(|| {
            lower
                .iter()
                .map(|t| ac.find_iter(t.as_str()).count())
                .sum::<usize>()
        })
    });
    g.bench_function("matcher_find_matches", |b| {
        b.iter(|| posts.iter().map(|p| m.find_matches(p).len()).sum::<usize>())
    });
    g.finish();

    let mut g = c.benchmark_group("score_10k_terms");
    g.throughput(Throughput::Elements(posts.len() as u64));
    g.bench_function("full_score", |b| {
        b.iter(|| {
            posts
                .iter()
                .map(|p| full.score(p).priority as usize)
                .sum::<usize>()
        })
    });
    g.bench_function("sentiment_only", |b| {
        b.iter(|| {
            posts
                .iter()
                .map(|p| full.analyzer().score(&p.text).compound)
                .sum::<f32>()
        })
    });
    g.finish();
}

criterion_group!(benches, compile, throughput);
criterion_main!(benches);
