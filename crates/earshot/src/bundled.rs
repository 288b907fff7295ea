//! The default configuration compiled into the binary (every file under the
//! repository's `config/`), used when no `--config` is given.

use std::io;
use std::path::{Component, Path};

include!(concat!(env!("OUT_DIR"), "/bundled_files.rs"));

/// The bundled `config/earshot.toml`.
pub const EARSHOT_TOML: &str = include_str!("../../../config/earshot.toml");

/// Directory the bundled sample posts are written to, so the bundled
/// file-replay connector can read them (relative to the working directory).
pub const SAMPLES_DIR: &str = ".earshot/samples";

/// A bundled file by its path relative to `config/`.
pub fn read(path: &Path) -> io::Result<String> {
    let key: Vec<String> = path
        .components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect();
    let key = key.join("/");
    FILES
        .iter()
        .find(|(name, _)| *name == key)
        .map(|(_, text)| text.to_string())
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("no bundled file `{key}`")))
}

/// Writes the bundled `samples/*` files under [`SAMPLES_DIR`].
pub fn write_samples() -> io::Result<()> {
    for (name, text) in FILES.iter().filter(|(n, _)| n.starts_with("samples/")) {
        let dest = Path::new(SAMPLES_DIR).join(name.trim_start_matches("samples/"));
        if let Some(dir) = dest.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(dest, text)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_files_resolve_by_relative_path() {
        assert_eq!(read(Path::new("earshot.toml")).unwrap(), EARSHOT_TOML);
        assert_eq!(read(Path::new("./earshot.toml")).unwrap(), EARSHOT_TOML);
        assert!(read(Path::new("missing.toml")).is_err());
    }
}
