//! chdb for the ClickHouse 26.x tests: installing it, running SQL in it
//! through `driver.py`, and comparing its TabSeparated results with 18.16's.

#![allow(dead_code)]
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use earshot_sink::clickhouse::{Param, PreparedSql};
use serde_json::{json, Value};

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The venv python that imports chdb, installing it on first use; `None`
/// (test skipped) when it cannot be installed outside CI.
pub fn chdb_python() -> Option<PathBuf> {
    let script = workspace_root().join("tests/harness/chdb-env.sh");
    let out = Command::new(&script)
        .stderr(Stdio::inherit())
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", script.display()));
    if out.status.success() {
        let path = String::from_utf8(out.stdout).expect("chdb-env.sh prints a path");
        return Some(PathBuf::from(path.trim()));
    }
    if earshot_tests::under_ci() {
        panic!("CI=true but chdb could not be installed (see the [chdb] lines above)");
    }
    eprintln!("SKIPPED: chdb could not be installed (no network?); see the [chdb] lines above");
    None
}

/// One SQL statement for the chdb driver.
pub struct Step {
    /// The SQL text.
    pub sql: String,
    /// Server-side parameters (`{name:Type}`).
    pub params: Vec<(String, Param)>,
}

impl Step {
    pub fn sql(sql: impl Into<String>) -> Step {
        Step {
            sql: sql.into(),
            params: Vec::new(),
        }
    }
}

impl From<PreparedSql> for Step {
    fn from(p: PreparedSql) -> Step {
        Step {
            sql: p.sql,
            params: p.params,
        }
    }
}

/// A chdb session whose tables live in a private directory.
pub struct Chdb {
    python: PathBuf,
    /// The session's directory; files for `file()` may go here too.
    pub dir: tempfile::TempDir,
}

impl Chdb {
    pub fn new(python: PathBuf) -> Chdb {
        Chdb {
            python,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// Runs every step in one process; each step's TabSeparated output or error.
    pub fn run(&self, steps: &[Step]) -> Vec<Result<String, String>> {
        let job = json!({
            "path": self.dir.path().join("session"),
            "steps": steps.iter().map(|s| json!({
                "sql": s.sql,
                "format": "TabSeparated",
                "params": s.params.iter().map(|(n, v)| (n.clone(), serde_json::to_value(v).unwrap())).collect::<serde_json::Map<_, _>>(),
            })).collect::<Vec<_>>(),
        });
        let driver = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/chdb/driver.py");
        let mut child = Command::new(&self.python)
            .arg(&driver)
            .env("TZ", "UTC")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", self.python.display()));
        serde_json::to_writer(child.stdin.take().unwrap(), &job).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "the chdb driver failed");
        let results: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(results.len(), steps.len());
        results
            .into_iter()
            .map(|r| match r["ok"].as_bool() {
                Some(true) => Ok(r["output"].as_str().unwrap_or_default().to_string()),
                _ => Err(r["error"].as_str().unwrap_or_default().to_string()),
            })
            .collect()
    }

    /// Runs `steps`, panicking with the statement on the first failure.
    pub fn run_ok(&self, steps: &[Step]) -> Vec<String> {
        self.run(steps)
            .into_iter()
            .zip(steps)
            .map(|(r, s)| r.unwrap_or_else(|e| panic!("chdb refused:\n{}\n{e}", s.sql)))
            .collect()
    }
}

/// Whether two TabSeparated fields show the same value: equal text, or equal
/// numbers (the two engines may print the last digits of a float differently).
pub fn same_field(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(x), Ok(y)) if x.is_nan() && y.is_nan() => true,
        (Ok(x), Ok(y)) => (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0),
        _ => false,
    }
}

/// Differences between two TabSeparated results, as readable lines.
pub fn differences(old: &str, new: &str) -> Vec<String> {
    let old: Vec<&str> = old.lines().collect();
    let new: Vec<&str> = new.lines().collect();
    let mut out = Vec::new();
    if old.len() != new.len() {
        out.push(format!(
            "{} rows on 18.16, {} on 26.x",
            old.len(),
            new.len()
        ));
    }
    for (n, (a, b)) in old.iter().zip(&new).enumerate() {
        let (fa, fb): (Vec<&str>, Vec<&str>) = (a.split('\t').collect(), b.split('\t').collect());
        if fa.len() != fb.len() || fa.iter().zip(&fb).any(|(x, y)| !same_field(x, y)) {
            out.push(format!("row {n}:\n  18.16: {a}\n  26.x:  {b}"));
        }
    }
    out
}
