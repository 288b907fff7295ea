//! JSON lines: one scored interaction per line, to a file (fsynced before the
//! batch is acknowledged) or to standard output (flushed).
//!
//! A batch lands in a file whole or not at all: a failed write or fsync
//! truncates the file back to where the batch started, so the caller's
//! retry appends the batch once, after complete lines only. A torn last line
//! left by a crash mid-write (its batch was never acknowledged, so it will
//! be written again) is cut before the next append.

use std::io::{Read, Seek, SeekFrom, Write};
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
                    .read(true)
                    .append(true)
                    .open(path)?;
                let end = file.seek(SeekFrom::End(0))?;
                let good = complete_lines_end(&mut file, end)?;
                if good < end {
                    tracing::warn!(
                        path = %path.display(),
                        cut = end - good,
                        "jsonl: cutting a torn last line (a write interrupted before its batch was acknowledged)"
                    );
                    file.set_len(good)?;
                }
                append_whole(&mut file, good, bytes)
            }
        }
    }
}

/// What [`append_whole`] needs from a file (a trait so tests can make
/// writes fail halfway).
trait Appendable: Write {
    fn truncate_to(&mut self, len: u64) -> std::io::Result<()>;
    fn sync(&mut self) -> std::io::Result<()>;
}

impl Appendable for std::fs::File {
    fn truncate_to(&mut self, len: u64) -> std::io::Result<()> {
        self.set_len(len)
    }
    fn sync(&mut self) -> std::io::Result<()> {
        self.sync_data()
    }
}

/// Appends `bytes` to a file of length `start` and syncs; on any failure the
/// file is truncated back to `start` so that a retry does not leave the
/// part already written as a torn line before the full batch.
fn append_whole(file: &mut impl Appendable, start: u64, bytes: &[u8]) -> std::io::Result<()> {
    let written = file.write_all(bytes).and_then(|()| file.sync());
    if let Err(e) = written {
        // If even the truncation fails, the next write cuts the torn line.
        if let Err(t) = file.truncate_to(start).and_then(|()| file.sync()) {
            tracing::warn!(error = %t, "jsonl: cannot truncate a failed batch; the next write will cut it");
        }
        return Err(e);
    }
    Ok(())
}

/// The length of the file's content up to and including its last newline
/// (`end` when it is empty or ends with one), read backwards in blocks.
fn complete_lines_end(file: &mut (impl Read + Seek), end: u64) -> std::io::Result<u64> {
    let mut block = [0u8; 4096];
    let mut pos = end;
    while pos > 0 {
        let n = (pos as usize).min(block.len());
        pos -= n as u64;
        file.seek(SeekFrom::Start(pos))?;
        file.read_exact(&mut block[..n])?;
        if pos + n as u64 == end && block[n - 1] == b'\n' {
            return Ok(end);
        }
        if let Some(i) = block[..n].iter().rposition(|&b| b == b'\n') {
            return Ok(pos + i as u64 + 1);
        }
    }
    Ok(0)
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    /// A file whose writes fail after `budget` bytes, as a full disk does.
    struct Flaky {
        data: Vec<u8>,
        budget: usize,
    }

    impl Write for Flaky {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if self.budget == 0 {
                return Err(std::io::Error::other("no space left on device"));
            }
            let n = buf.len().min(self.budget).min(7);
            self.budget -= n;
            self.data.extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Appendable for Flaky {
        fn truncate_to(&mut self, len: u64) -> std::io::Result<()> {
            self.data.truncate(len as usize);
            Ok(())
        }
        fn sync(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn issue_12_jsonl_partial_write_is_retried_without_a_torn_line() {
        let mut file = Flaky {
            data: b"{\"old\":1}\n".to_vec(),
            budget: 10,
        };
        let batch = b"{\"a\":1}\n{\"b\":2}\n";
        let start = file.data.len() as u64;
        assert!(append_whole(&mut file, start, batch).is_err());
        assert_eq!(file.data, b"{\"old\":1}\n");
        // The retry, once there is room again, appends the batch once.
        file.budget = usize::MAX;
        append_whole(&mut file, start, batch).unwrap();
        assert_eq!(file.data, b"{\"old\":1}\n{\"a\":1}\n{\"b\":2}\n");
    }

    #[test]
    fn complete_lines_end_finds_the_last_newline() {
        let end = |text: &[u8]| {
            complete_lines_end(&mut Cursor::new(text.to_vec()), text.len() as u64).unwrap()
        };
        assert_eq!(end(b""), 0);
        assert_eq!(end(b"torn"), 0);
        assert_eq!(end(b"a\n"), 2);
        assert_eq!(end(b"a\nb\ntorn"), 4);
        // Across read blocks.
        let mut long = vec![b'x'; 10_000];
        long.push(b'\n');
        long.extend(vec![b'y'; 9_000]);
        assert_eq!(end(&long), 10_001);
        long.push(b'\n');
        assert_eq!(end(&long), long.len() as u64);
    }

    #[tokio::test]
    async fn issue_12_jsonl_torn_tail_is_cut_before_appending() {
        use crate::{BatchItem, Position};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.jsonl");
        std::fs::write(&path, "{\"kept\":1}\n{\"torn\":").unwrap();
        let mut sink = JsonlSink::new(path.to_str().unwrap());
        let mut batch = Batch::default();
        let post = earshot_model::Post::new("t:1", "hello");
        let scored = earshot_model::Interaction::neutral(post, "v");
        batch.push(BatchItem {
            raw: scored.to_json(),
            interaction: scored,
            position: Position {
                topic: "scored".into(),
                partition: 0,
                offset: 0,
            },
        });
        sink.write(&batch).await.unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert_eq!(lines[0], "{\"kept\":1}");
        assert!(lines[1].contains("\"t:1\""), "{text}");
        assert!(text.ends_with('\n'));
    }
}
