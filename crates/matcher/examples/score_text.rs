//! Scores raw texts (one per line on stdin) with the bundled config and
//! prints `compound<TAB>label<TAB>text`: the Rust side of the evaluation
//! scripts in `benches/sentiment-eval/`, which need no binary wiring.
//!
//! `cargo run --release -p earshot-match --example score_text -- [config/earshot.toml] [lexicon|hybrid]`
//! (the model named replaces the config's `[matcher.sentiment] model`)

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use earshot_match::{FileSource, MatcherConfig, SentimentModel};
use earshot_model::Post;

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
    let mut args = std::env::args().skip(1);
    let path = args.next().unwrap_or_else(|| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../config/earshot.toml").into()
    });
    let model = args.next().map(|m| model_named(&m));
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
    let stdin = std::io::stdin().lock();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for (n, line) in stdin.lines().enumerate() {
        let Ok(line) = line else { break };
        // Evaluation texts are English; pinning the language keeps results
        // independent of detection on very short texts.
        let mut post = Post::new(format!("text:{}", n + 1), line.clone());
        post.lang = Some("en".into());
        let s = matcher.score(&post);
        let _ = writeln!(
            out,
            "{}\t{}\t{}",
            s.sentiment.compound, s.sentiment.label, line
        );
    }
}

fn model_named(name: &str) -> SentimentModel {
    match name {
        "lexicon" => SentimentModel::Lexicon,
        "hybrid" => SentimentModel::Hybrid,
        _ => {
            eprintln!("model `{name}`: expected lexicon or hybrid");
            std::process::exit(2);
        }
    }
}
