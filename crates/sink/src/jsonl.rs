//! JSON lines: one scored interaction per line, to a file (fsynced before the
//! batch is acknowledged) or to standard output (flushed).

use std::io::Write;
use std::path::PathBuf;

use async_trait::async_trait;

use crate::{Batch, Sink, SinkError, WriteReport};

/// Appends interactions as JSON lines.
pub struct JsonlSink {
    target: Target,
}

enum Target {
    Stdout,
    File(PathBuf),
}

impl JsonlSink {
    /// `path` is a file to append to, or `-` for standard output.
    pub fn new(path: &str) -> JsonlSink {
        let target = if path == "-" {
            Target::Stdout
        } else {
            Target::File(PathBuf::from(path))
        };
        JsonlSink { target }
    }

    fn write_blocking(target: &Target, bytes: &[u8]) -> std::io::Result<()> {
        match target {
            Target::Stdout => {
                let mut out = std::io::stdout().lock();
                out.write_all(bytes)?;
                out.flush()
            }
            Target::File(path) => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir)?;
                }
                // Reopened per batch so log rotation (move + recreate) just works.
                let mut file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)?;
                file.write_all(bytes)?;
                file.sync_data()
            }
        }
    }
}

#[async_trait]
impl Sink for JsonlSink {
    async fn write(&mut self, batch: &Batch) -> Result<WriteReport, SinkError> {
        let mut bytes = Vec::with_capacity(batch.bytes + batch.len());
        for item in &batch.items {
            // Re-serialized rather than copied so every line has this build's canonical shape.
            serde_json::to_writer(&mut bytes, &item.interaction)
                .map_err(|e| SinkError::Fatal(e.to_string()))?;
            bytes.push(b'\n');
        }
        let target = match &self.target {
            Target::Stdout => Target::Stdout,
            Target::File(p) => Target::File(p.clone()),
        };
        tokio::task::spawn_blocking(move || JsonlSink::write_blocking(&target, &bytes))
            .await
            .map_err(|e| SinkError::Fatal(format!("jsonl writer panicked: {e}")))?
            // A full disk or a vanished mount may come back: retried by the caller's policy.
            .map_err(|e| SinkError::Transient(e.to_string()))?;
        Ok(WriteReport {
            stored: batch.len(),
            ..WriteReport::default()
        })
    }

    fn name(&self) -> &'static str {
        "jsonl"
    }
}
