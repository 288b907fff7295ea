//! What `earshot score` runs: scores posts read line by line (standard
//! input, for the command), one JSON line out per line in, in input order.
//!
//! Input is JSON Lines of posts (at minimum `{"id": "...", "text": "..."}`)
//! or, in text mode, one raw text per line (ids `text:<line>`). A line that
//! cannot be read becomes `{"error": {"line": N, "reason": "..."}}` in its
//! place and scoring goes on; the summary says how many failed so the
//! caller can set the exit status. Blank lines are skipped in text mode
//! and reported as errors in JSON mode (a post is expected on every line).
//! A line longer than `max_line_bytes` is not buffered: it is skipped to its
//! end and reported as an error in its place, so one huge line costs
//! neither memory nor time.

use std::io::{BufRead, Write};

use earshot_match::Matcher;
use earshot_model::Post;

/// How a scoring run went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ScoreSummary {
    /// Input lines read (and output lines written).
    pub lines: u64,
    /// Lines that produced an error object.
    pub failed: u64,
}

/// Default for `--max-line-bytes`: far above any real post's JSON, far
/// below what would strain memory.
pub const DEFAULT_MAX_LINE_BYTES: usize = 1 << 20;

/// How `earshot score` reads and works.
#[derive(Debug, Clone, Copy)]
pub struct ScoreOptions {
    /// One raw text per line instead of JSON posts.
    pub text_mode: bool,
    /// Longest line kept; a longer one becomes an error line.
    pub max_line_bytes: usize,
    /// Threads scoring at once (1: all on the calling thread).
    pub threads: usize,
}

/// Lines handed to a scoring thread at once: enough to make the hand-over
/// cheap, few enough that the reorder buffer stays small.
const CHUNK_LINES: usize = 256;

/// Scores every line of `input` and writes one JSON object per line to
/// `output`, in input order. With several threads, the calling thread
/// reads and writes while the others score chunks of lines; at most two
/// chunks per thread are in flight, so memory stays bounded.
pub fn run(
    matcher: &Matcher,
    options: ScoreOptions,
    mut input: impl BufRead,
    mut output: impl Write + Send,
) -> std::io::Result<ScoreSummary> {
    if options.threads <= 1 {
        let mut summary = ScoreSummary::default();
        let mut line = Line::default();
        let mut out = Vec::with_capacity(1 << 16);
        while line.read(&mut input, options.max_line_bytes)? {
            score_line(matcher, options, &line, &mut out, &mut summary);
            if out.len() >= 1 << 16 {
                output.write_all(&out)?;
                out.clear();
            }
        }
        output.write_all(&out)?;
        output.flush()?;
        return Ok(summary);
    }
    type Chunk = (u64, Vec<Line>);
    type Done = (u64, Vec<u8>, ScoreSummary);
    let (work_tx, work_rx) = std::sync::mpsc::sync_channel::<Chunk>(options.threads * 2);
    // Owned by the workers alone: once they all stop (the writer failed,
    // e.g. on a closed pipe), the receiver is gone and the reader's blocked
    // send fails instead of waiting forever.
    let work_rx = std::sync::Arc::new(std::sync::Mutex::new(work_rx));
    let (done_tx, done_rx) = std::sync::mpsc::sync_channel::<Done>(options.threads * 2);
    std::thread::scope(|scope| {
        for _ in 0..options.threads {
            let done_tx = done_tx.clone();
            let work_rx = work_rx.clone();
            scope.spawn(move || loop {
                let next = work_rx.lock().map(|rx| rx.recv());
                let Ok(Ok((seq, lines))) = next else { return };
                let mut out = Vec::with_capacity(lines.len() * 512);
                let mut summary = ScoreSummary::default();
                for line in &lines {
                    score_line(matcher, options, line, &mut out, &mut summary);
                }
                if done_tx.send((seq, out, summary)).is_err() {
                    return;
                }
            });
        }
        drop(done_tx);
        drop(work_rx);
        // The writer runs beside the reader so that neither waits on the other.
        let writer = scope.spawn(move || -> std::io::Result<ScoreSummary> {
            let mut summary = ScoreSummary::default();
            let mut next = 0u64;
            let mut waiting = std::collections::BTreeMap::new();
            for (seq, out, part) in done_rx {
                waiting.insert(seq, (out, part));
                while let Some((out, part)) = waiting.remove(&next) {
                    output.write_all(&out)?;
                    summary.lines += part.lines;
                    summary.failed += part.failed;
                    next += 1;
                }
            }
            output.flush()?;
            Ok(summary)
        });
        let mut seq = 0u64;
        let mut line_no = 0u64;
        let mut chunk: Vec<Line> = Vec::with_capacity(CHUNK_LINES);
        let read = loop {
            let mut line = Line {
                no: line_no,
                ..Line::default()
            };
            match line.read(&mut input, options.max_line_bytes) {
                Ok(true) => {
                    line_no = line.no;
                    chunk.push(line);
                }
                Ok(false) => break Ok(()),
                Err(e) => break Err(e),
            }
            if chunk.len() == CHUNK_LINES {
                let full = std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK_LINES));
                if work_tx.send((seq, full)).is_err() {
                    break Ok(());
                }
                seq += 1;
            }
        };
        if !chunk.is_empty() {
            let _ = work_tx.send((seq, chunk));
        }
        drop(work_tx);
        let summary = writer
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p))?;
        read.map(|()| summary)
    })
}

/// One input line: its number, its whole length, and its bytes (at most
/// the limit plus one, without the line end).
#[derive(Debug, Default)]
struct Line {
    no: u64,
    len: usize,
    bytes: Vec<u8>,
}

impl Line {
    /// Reads the next line; false at the end of input.
    fn read(&mut self, input: &mut impl BufRead, max: usize) -> std::io::Result<bool> {
        self.bytes.clear();
        self.len = read_line_bounded(input, &mut self.bytes, max)?;
        if self.len == 0 {
            return Ok(false);
        }
        self.no += 1;
        let kept = trim_newline(&self.bytes).len();
        self.bytes.truncate(kept);
        Ok(true)
    }
}

/// Scores one line into `out` (one JSON line, or nothing for a blank line
/// in text mode) and counts it.
fn score_line(
    matcher: &Matcher,
    options: ScoreOptions,
    line: &Line,
    out: &mut Vec<u8>,
    summary: &mut ScoreSummary,
) {
    let max = options.max_line_bytes;
    let post = match std::str::from_utf8(&line.bytes) {
        _ if line.len > max => Err(format!(
            "line of {} bytes is longer than the limit of {max} (--max-line-bytes)",
            line.len
        )),
        Err(e) => Err(format!("not UTF-8: {e}")),
        Ok(text) if options.text_mode => {
            if text.trim().is_empty() {
                return;
            }
            Ok(Post::new(format!("text:{}", line.no), text))
        }
        Ok(text) if text.trim().is_empty() => Err("empty line: expected a JSON post".to_string()),
        Ok(_) => Post::from_json(&line.bytes).map_err(|e| e.to_string()),
    };
    summary.lines += 1;
    // Writing JSON into a Vec cannot fail.
    let written = match post {
        Ok(post) => {
            matcher.score(&post).write_json(out);
            Ok(())
        }
        Err(reason) => {
            summary.failed += 1;
            let err = serde_json::json!({ "error": { "line": line.no, "reason": reason } });
            serde_json::to_writer(&mut *out, &err)
        }
    };
    debug_assert!(written.is_ok());
    out.push(b'\n');
}

/// Reads one line (with its `\n`) into `buf`, keeping at most `max + 1`
/// bytes of it; returns the line's whole length (0 at the end of input), so
/// a length over `max` means the line was skipped, not kept.
fn read_line_bounded(
    input: &mut impl BufRead,
    buf: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<usize> {
    let mut total = 0usize;
    loop {
        let chunk = match input.fill_buf() {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if chunk.is_empty() {
            return Ok(total);
        }
        let (take, done) = match memchr::memchr(b'\n', chunk) {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        let room = (max + 1).saturating_sub(buf.len());
        buf.extend_from_slice(&chunk[..take.min(room)]);
        total += take;
        input.consume(take);
        if done {
            return Ok(total);
        }
    }
}

fn trim_newline(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use earshot_match::{MatcherConfig, MemorySource};

    /// The output, one JSON value a line.
    fn json_lines(out: Vec<u8>) -> Vec<serde_json::Value> {
        String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    fn opts(text_mode: bool, max_line_bytes: usize, threads: usize) -> ScoreOptions {
        ScoreOptions {
            text_mode,
            max_line_bytes,
            threads,
        }
    }

    #[test]
    fn threads_keep_input_order_and_counts() {
        let mut input = String::new();
        for i in 0..2000 {
            if i % 7 == 3 {
                input.push_str("not json\n");
            } else {
                input.push_str(&format!("{{\"id\":\"x:{i}\",\"text\":\"Acme {i}\"}}\n"));
            }
        }
        let m = matcher();
        let mut one = Vec::new();
        let a = run(&m, opts(false, 1000, 1), input.as_bytes(), &mut one).unwrap();
        let mut three = Vec::new();
        let b = run(&m, opts(false, 1000, 3), input.as_bytes(), &mut three).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.lines, 2000);
        let strip = |out: Vec<u8>| -> Vec<serde_json::Value> {
            String::from_utf8(out)
                .unwrap()
                .lines()
                .map(|l| {
                    let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
                    if let Some(o) = v.as_object_mut() {
                        o.remove("scored_at");
                    }
                    v
                })
                .collect()
        };
        assert_eq!(strip(one), strip(three));
    }

    fn matcher() -> Matcher {
        let config: MatcherConfig = toml::from_str("brands = ['b.toml']").unwrap();
        let files =
            MemorySource::default().with("b.toml", "[[brand]]\nid = 'acme'\nname = 'Acme'\n");
        config.compile(&files).unwrap()
    }

    #[test]
    fn bad_lines_become_errors_in_place() {
        let input =
            b"{\"id\":\"x:1\",\"text\":\"Acme!\"}\nnot json\n\n{\"id\":\"x:2\",\"text\":\"hi\"}\n";
        let mut out = Vec::new();
        let s = run(
            &matcher(),
            opts(false, DEFAULT_MAX_LINE_BYTES, 1),
            &input[..],
            &mut out,
        )
        .unwrap();
        assert_eq!(
            s,
            ScoreSummary {
                lines: 4,
                failed: 2
            }
        );
        let lines = json_lines(out);
        assert_eq!(lines[0]["matches"][0]["entity_id"], "acme");
        assert_eq!(lines[1]["error"]["line"], 2);
        assert!(lines[1]["error"]["reason"]
            .as_str()
            .unwrap()
            .contains("invalid JSON"));
        assert_eq!(lines[2]["error"]["line"], 3);
        assert_eq!(lines[3]["post"]["id"], "x:2");
    }

    #[test]
    fn text_mode_numbers_lines() {
        let mut out = Vec::new();
        let s = run(
            &matcher(),
            opts(true, DEFAULT_MAX_LINE_BYTES, 2),
            &b"I love Acme\r\n\nmeh\n"[..],
            &mut out,
        )
        .unwrap();
        assert_eq!(
            s,
            ScoreSummary {
                lines: 2,
                failed: 0
            }
        );
        let text = String::from_utf8(out).unwrap();
        let ids: Vec<String> = text
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["post"]["id"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert_eq!(ids, ["text:1", "text:3"]);
    }

    #[test]
    fn issue_11_overlong_line_is_an_error_in_place() {
        let long = format!("{{\"id\":\"x:1\",\"text\":\"{}\"}}", "acme ".repeat(1000));
        let input = format!("{long}\n{{\"id\":\"x:2\",\"text\":\"Acme\"}}\n{long}");
        let mut out = Vec::new();
        let s = run(&matcher(), opts(false, 1000, 1), input.as_bytes(), &mut out).unwrap();
        assert_eq!(
            s,
            ScoreSummary {
                lines: 3,
                failed: 2
            }
        );
        let lines = json_lines(out);
        assert_eq!(lines[0]["error"]["line"], 1);
        let reason = lines[0]["error"]["reason"].as_str().unwrap();
        assert!(reason.contains("longer than the limit of 1000"), "{reason}");
        assert_eq!(lines[1]["post"]["id"], "x:2");
        assert_eq!(lines[2]["error"]["line"], 3);
    }

    #[test]
    fn issue_11_overlong_line_is_not_buffered() {
        // A reader that hands out 64 KiB chunks of one 64 MiB line: the
        // buffer must stay at the limit, whatever the line's length.
        struct Endless(usize);
        impl std::io::Read for Endless {
            fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
                let n = out.len().min(self.0);
                out[..n].fill(b'a');
                self.0 -= n;
                Ok(n)
            }
        }
        let mut input = std::io::BufReader::with_capacity(1 << 16, Endless(64 << 20));
        let mut buf = Vec::new();
        let n = read_line_bounded(&mut input, &mut buf, 4096).unwrap();
        assert_eq!(n, 64 << 20);
        assert_eq!(buf.len(), 4097);
    }
}
