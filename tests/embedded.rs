//! Config files for `earshot run` (the embedded mode) in tests: the SQLite
//! store and cursor database in the test's directory, and a file connector,
//! so each test writes only the sections it is about.

use std::path::{Path, PathBuf};

/// `[sink]` (SQLite at `dir/store.db`) and `[cursors]` (`dir/cursors.db`).
pub fn store_toml(dir: &Path) -> String {
    format!(
        "[sink]\nkind = \"sqlite\"\n[sink.sqlite]\npath = \"{}\"\n[cursors]\npath = \"{}\"\n",
        dir.join("store.db").display(),
        dir.join("cursors.db").display(),
    )
}

/// A `[[connectors]]` block: file connector `name` replaying `posts`, then
/// the connector's `extra` lines (`one_shot = true`, say).
pub fn file_connector_toml(name: &str, posts: &Path, extra: &str) -> String {
    format!(
        "[[connectors]]\nname = \"{name}\"\nkind = \"file\"\npaths = [\"{}\"]\n{extra}",
        posts.display()
    )
}

/// Writes `path`: `before` (top-level sections such as `[matcher]`), the
/// store of `dir` ([`store_toml`]), then `after` (connectors and the rest).
pub fn write_config(path: &Path, dir: &Path, before: &str, after: &str) -> PathBuf {
    let text = format!("{before}\n{}{after}", store_toml(dir));
    std::fs::write(path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    path.to_path_buf()
}
