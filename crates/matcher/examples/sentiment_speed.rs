//! Sentiment throughput per core: scores texts (one per line on stdin)
//! with the bundled config's analyzer, over and over for a few seconds,
//! and prints texts per second of CPU time. CPU time rather than wall time
//! because the development machine is shared: a busy neighbour slows the
//! wall clock, not the work done per CPU second. Run by
//! `benches/sentiment-eval/speed.sh`, next to vaderSentiment on the same texts.
//!
//! `cargo run --release -p earshot-match --example sentiment_speed -- [config/earshot.toml] [seconds] [lexicon|hybrid]`

use std::hint::black_box;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::time::Instant;

use earshot_match::{FileSource, MatcherConfig, SentimentModel};

struct Dir(PathBuf);

impl FileSource for Dir {
    fn read(&self, path: &Path) -> std::io::Result<String> {
        std::fs::read_to_string(self.0.join(path))
    }
}

#[derive(serde::Deserialize)]
struct File {
    matcher: MatcherConfig,
}

/// CPU seconds (user + system) used by this process so far (Linux).
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesized command name; utime and stime are 14 and 15.
    let rest = stat.rsplit_once(") ")?.1;
    let mut fields = rest.split_whitespace().skip(11);
    let utime: f64 = fields.next()?.parse().ok()?;
    let stime: f64 = fields.next()?.parse().ok()?;
    // USER_HZ is 100 on every Linux architecture we run on.
    Some((utime + stime) / 100.0)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().unwrap_or_else(|| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../config/earshot.toml").into()
    });
    let seconds: f64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(5.0);
    let model = args.next().map(|m| match m.as_str() {
        "lexicon" => SentimentModel::Lexicon,
        "hybrid" => SentimentModel::Hybrid,
        _ => {
            eprintln!("model `{m}`: expected lexicon or hybrid");
            std::process::exit(2);
        }
    });
    let path = PathBuf::from(path);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut file: File =
        toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    if let Some(m) = model {
        file.matcher.sentiment.model = m;
    }
    let dir = Dir(path.parent().unwrap_or(Path::new(".")).to_path_buf());
    let matcher = match file.matcher.compile(&dir) {
        Ok(m) => m,
        Err(errors) => {
            for e in errors {
                eprintln!("{e}");
            }
            std::process::exit(2);
        }
    };
    let texts: Vec<String> = std::io::stdin()
        .lock()
        .lines()
        .map_while(Result::ok)
        .collect();
    if texts.is_empty() {
        eprintln!("no texts on stdin");
        std::process::exit(2);
    }
    let analyzer = matcher.analyzer();
    let (cpu0, wall0) = (cpu_seconds(), Instant::now());
    let mut scored = 0usize;
    while wall0.elapsed().as_secs_f64() < seconds {
        for t in &texts {
            black_box(analyzer.score(black_box(t)));
        }
        scored += texts.len();
    }
    let wall = wall0.elapsed().as_secs_f64();
    let cpu = match (cpu0, cpu_seconds()) {
        (Some(a), Some(b)) if b > a => b - a,
        _ => wall,
    };
    println!(
        "earshot\ttexts={}\tscored={scored}\tcpu_s={cpu:.2}\twall_s={wall:.2}\ttexts_per_cpu_s={:.0}",
        texts.len(),
        scored as f64 / cpu
    );
}
