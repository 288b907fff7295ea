//! Golden tests of `earshot score` with the bundled config on the corpus in
//! `tests/golden/`: every `NAME.jsonl` (JSON posts) and `NAME.txt` (raw texts,
//! `--text`) is scored and compared, line by line and ignoring `scored_at`
//! and `watchlist_version` (a hash of the config files, comments included, so
//! it changes with every edit), with `NAME.expected.jsonl`.
//!
//! To regenerate the expectations after an intended change, run
//! `UPDATE_GOLDEN=1 cargo test -p earshot --test score_golden` and review the
//! diff of `tests/golden/*.expected.jsonl` by eye before committing.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn strip_time(mut v: serde_json::Value) -> serde_json::Value {
    if let Some(o) = v.as_object_mut() {
        o.remove("scored_at");
        o.remove("watchlist_version");
    }
    v
}

fn score(input: &Path, text_mode: bool) -> (Vec<serde_json::Value>, bool) {
    let config = repo().join("config/earshot.toml");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_earshot"));
    cmd.arg("score").arg("--config").arg(&config);
    if text_mode {
        cmd.arg("--text");
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run earshot");
    let data = std::fs::read(input).expect("read input");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(&data)
        .expect("write stdin");
    let out = child.wait_with_output().expect("earshot finished");
    let stdout = String::from_utf8(out.stdout).expect("UTF-8 output");
    assert!(
        !stdout.is_empty() || data.is_empty(),
        "no output; stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = stdout
        .lines()
        .map(|l| {
            strip_time(
                serde_json::from_str(l).unwrap_or_else(|e| panic!("bad output line {l}: {e}")),
            )
        })
        .collect();
    (lines, out.status.success())
}

#[test]
fn golden_corpus() {
    let dir = repo().join("tests/golden");
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/golden exists")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            !name.ends_with(".expected.jsonl")
                && (name.ends_with(".jsonl") || name.ends_with(".txt"))
        })
        .collect();
    inputs.sort();
    assert!(!inputs.is_empty(), "no golden inputs in {}", dir.display());
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    for input in inputs {
        let text_mode = input.extension().is_some_and(|e| e == "txt");
        let (lines, ok) = score(&input, text_mode);
        let stem = input
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("file name");
        let expected_path = dir.join(format!("{stem}.expected.jsonl"));
        let has_errors = lines.iter().any(|l| l.get("error").is_some());
        assert_eq!(
            ok,
            !has_errors,
            "{}: exit status must say whether a line failed",
            input.display()
        );
        if update {
            let mut out = String::new();
            for l in &lines {
                out.push_str(&serde_json::to_string(l).expect("serialize"));
                out.push('\n');
            }
            std::fs::write(&expected_path, out).expect("write expectations");
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (run with UPDATE_GOLDEN=1 to create it)",
                expected_path.display()
            )
        });
        let expected: Vec<serde_json::Value> = expected
            .lines()
            .map(|l| serde_json::from_str(l).expect("expected line is JSON"))
            .collect();
        assert_eq!(
            lines.len(),
            expected.len(),
            "{}: one output line per input line",
            input.display()
        );
        for (n, (got, want)) in lines.iter().zip(&expected).enumerate() {
            assert_eq!(
                got,
                want,
                "{} line {}: output differs (UPDATE_GOLDEN=1 regenerates; review the diff)",
                input.display(),
                n + 1
            );
        }
    }
}
