//! The hybrid sentiment model's inputs for texts (one per line on stdin),
//! by the bundled config's lexicon: a header line `#<TAB>NAME...` naming
//! the inputs, then per text the inputs' values and the n-gram tokens
//! (space-separated), tab-separated. Read by
//! `benches/sentiment-eval/train.py`, so that training sees exactly the
//! tokens and lexicon scores that inference computes.
//!
//! `cargo run --release -p earshot-match --example sentiment_features -- [config/earshot.toml]`

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use earshot_match::{FileSource, MatcherConfig};

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

fn main() {
    let path = std::env::args().nth(1).unwrap_or_else(|| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../config/earshot.toml").into()
    });
    let path = PathBuf::from(path);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let file: File = toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
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
    let analyzer = matcher.analyzer();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut header = false;
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let f = analyzer.features(&line);
        if !header {
            let names: Vec<&str> = f.inputs.iter().map(|(n, _)| *n).collect();
            let _ = writeln!(out, "#\t{}", names.join("\t"));
            header = true;
        }
        for (_, v) in &f.inputs {
            let _ = write!(out, "{v}\t");
        }
        let _ = writeln!(out, "{}", f.tokens.join(" "));
    }
}
