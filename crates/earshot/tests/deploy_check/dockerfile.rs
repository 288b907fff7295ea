//! The `Dockerfile`: its instructions, what they put in the image, and checks.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{accepted, config_passes_check, copy_dir};

/// The parts of the Dockerfile the checks need (the last stage's, for `ENV`,
/// `ENTRYPOINT` and `CMD`).
#[derive(Debug, Default)]
pub struct Dockerfile {
    /// `(instruction, arguments)`, continuation lines joined.
    pub instructions: Vec<(String, String)>,
    /// Build-context sources copied into the final image: `(source, destination)`.
    pub copies: Vec<(String, String)>,
    /// `ENV` of the final stage.
    pub env: BTreeMap<String, String>,
    /// `ENTRYPOINT` (exec form).
    pub entrypoint: Vec<String>,
    /// `CMD` (exec form).
    pub cmd: Vec<String>,
    /// `USER` of the final stage.
    pub user: Option<String>,
}

impl Dockerfile {
    /// Reads and parses `path`.
    pub fn read(path: &Path) -> Result<Dockerfile, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("Dockerfile: {e}"))?;
        let mut d = Dockerfile::default();
        let mut joined = String::new();
        for line in text.lines() {
            let t = line.trim();
            if joined.is_empty() && (t.is_empty() || t.starts_with('#')) {
                continue;
            }
            if let Some(body) = t.strip_suffix('\\') {
                joined.push_str(body);
                joined.push(' ');
                continue;
            }
            joined.push_str(t);
            let full = std::mem::take(&mut joined);
            let (word, rest) = full.split_once(char::is_whitespace).unwrap_or((&full, ""));
            d.instructions
                .push((word.to_ascii_uppercase(), rest.trim().to_string()));
        }
        for (word, rest) in &d.instructions {
            match word.as_str() {
                // A new stage: only the final one's settings count.
                "FROM" => {
                    d.copies.clear();
                    d.env.clear();
                    d.entrypoint.clear();
                    d.cmd.clear();
                    d.user = None;
                }
                "COPY" if !rest.starts_with("--from") => {
                    let parts: Vec<&str> = rest
                        .split_whitespace()
                        .filter(|p| !p.starts_with("--"))
                        .collect();
                    if let [sources @ .., dest] = parts.as_slice() {
                        for s in sources {
                            d.copies.push((s.to_string(), dest.to_string()));
                        }
                    }
                }
                "ENV" => {
                    for pair in rest.split_whitespace() {
                        if let Some((k, v)) = pair.split_once('=') {
                            d.env.insert(k.to_string(), v.trim_matches('"').to_string());
                        }
                    }
                }
                "ENTRYPOINT" => d.entrypoint = exec_form(rest)?,
                "CMD" => d.cmd = exec_form(rest)?,
                "USER" => d.user = Some(rest.clone()),
                _ => {}
            }
        }
        Ok(d)
    }

    /// Builds, under `into`, the files the final image holds from the build
    /// context (`COPY config/ /etc/earshot/` puts `config/*` in `into/etc/earshot/`).
    pub fn layout(&self, root: &Path, into: &Path) -> Result<(), String> {
        for (src, dest) in &self.copies {
            let from = root.join(src.trim_end_matches('/'));
            let to = into.join(dest.trim_start_matches('/'));
            let result = if from.is_dir() {
                copy_dir(&from, &to)
            } else {
                let to = if dest.ends_with('/') {
                    to.join(from.file_name().unwrap_or_default())
                } else {
                    to
                };
                std::fs::create_dir_all(to.parent().unwrap())
                    .and_then(|_| std::fs::copy(&from, &to).map(|_| ()))
            };
            result.map_err(|e| format!("Dockerfile: COPY {src} {dest}: {e}"))?;
        }
        Ok(())
    }

    /// The config file the image uses without `--config`.
    pub fn config_path(&self) -> Option<&str> {
        self.env.get("EARSHOT_CONFIG").map(String::as_str)
    }

    /// The Dockerfile's own checks.
    pub fn check(&self, root: &Path, bin: &Path, out: &mut Vec<String>) {
        if self.entrypoint != ["earshot"] {
            out.push(format!(
                "Dockerfile: ENTRYPOINT is {:?}, expected [\"earshot\"]",
                self.entrypoint
            ));
        }
        let builds = self
            .instructions
            .iter()
            .any(|(w, r)| w == "RUN" && r.contains("cargo build") && r.contains("-p earshot"));
        if !builds {
            out.push("Dockerfile: no `cargo build ... -p earshot` step".into());
        }
        let installs = self.instructions.iter().any(|(w, r)| {
            w == "COPY" && r.starts_with("--from") && r.ends_with("/usr/local/bin/earshot")
        });
        if !installs {
            out.push("Dockerfile: the final stage does not copy the binary to /usr/local/bin/earshot (on PATH)".into());
        }
        match self.user.as_deref() {
            None | Some("root") | Some("0") => {
                out.push("Dockerfile: the final stage runs as root".into())
            }
            _ if self
                .user
                .as_deref()
                .is_some_and(|u| u.starts_with("root:") || u.starts_with("0:")) =>
            {
                out.push("Dockerfile: the final stage runs as root".into())
            }
            _ => {}
        }
        for (src, dest) in &self.copies {
            if !root.join(src).exists() {
                out.push(format!(
                    "Dockerfile: COPY {src} {dest}: {src} does not exist"
                ));
            }
        }
        if let Err(e) = accepted(bin, &self.cmd) {
            out.push(format!(
                "Dockerfile: CMD `earshot {}` is refused by the binary: {e}",
                self.cmd.join(" ")
            ));
        }
        let Some(config) = self.config_path() else {
            out.push("Dockerfile: no ENV EARSHOT_CONFIG".into());
            return;
        };
        let image = tempfile::tempdir().unwrap();
        if let Err(e) = self.layout(root, image.path()) {
            out.push(e);
            return;
        }
        let file: PathBuf = image.path().join(config.trim_start_matches('/'));
        if !file.is_file() {
            out.push(format!(
                "Dockerfile: EARSHOT_CONFIG={config} is not a file the image holds"
            ));
        } else if let Err(e) = config_passes_check(bin, &file, &BTreeMap::new()) {
            out.push(format!(
                "Dockerfile: the image's {config} fails `earshot check`: {e}"
            ));
        }
    }
}

/// A JSON exec-form argument list (`["earshot", "check"]`).
fn exec_form(text: &str) -> Result<Vec<String>, String> {
    serde_json::from_str(text)
        .map_err(|e| format!("Dockerfile: {text}: expected the exec form [\"...\"]: {e}"))
}
