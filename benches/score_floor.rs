//! The least work `earshot score` must do per post, as a floor to measure
//! the real command against: read a JSON line, take its `id` and `text`,
//! lowercase, one Aho-Corasick pass over 1,000 brand-like patterns, keep
//! whole-word hits, write one JSON line.
//!
//! `earshot-score-floor < posts.jsonl > /dev/null` (see `benches/score/run.sh`).

use std::borrow::Cow;
use std::io::{BufRead, BufWriter, Write};

use aho_corasick::{AhoCorasick, MatchKind};

#[derive(serde::Deserialize)]
struct Line<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
    #[serde(borrow)]
    text: Cow<'a, str>,
}

#[derive(serde::Serialize)]
struct Out<'a> {
    id: &'a str,
    matches: Vec<(usize, usize)>,
}

fn main() -> std::io::Result<()> {
    let mut rng = earshot_benches::Rng::new(42);
    let mut patterns: Vec<String> = (0..1000)
        .map(|i| earshot_benches::name(i, &mut rng))
        .collect();
    // The names the bundled samples and real posts carry, so hits happen.
    patterns.extend(["acme", "globex", "apple", "initech", "umbrella"].map(String::from));
    let ac = AhoCorasick::builder()
        .match_kind(MatchKind::LeftmostLongest)
        .build(&patterns)
        .expect("patterns compile");
    let stdin = std::io::stdin().lock();
    let mut out = BufWriter::new(std::io::stdout().lock());
    let mut lower = String::new();
    for line in stdin.split(b'\n') {
        let line = line?;
        let Ok(post) = serde_json::from_slice::<Line>(&line) else {
            writeln!(out, "{{\"error\":\"bad line\"}}")?;
            continue;
        };
        lower.clear();
        lower.extend(post.text.chars().flat_map(char::to_lowercase));
        let bytes = lower.as_bytes();
        let word = |i: usize| bytes.get(i).is_some_and(|b| b.is_ascii_alphanumeric());
        let matches = ac
            .find_iter(&lower)
            .filter(|m| (m.start() == 0 || !word(m.start() - 1)) && !word(m.end()))
            .map(|m| (m.start(), m.end()))
            .collect();
        serde_json::to_writer(
            &mut out,
            &Out {
                id: &post.id,
                matches,
            },
        )?;
        out.write_all(b"\n")?;
    }
    out.flush()
}
