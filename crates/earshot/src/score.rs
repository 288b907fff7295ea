//! `earshot score`: scores posts from standard input, one JSON line out per
//! line in, in input order.
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

/// Scores every line of `input` and writes one JSON object per line to `output`.
pub fn run(
    matcher: &Matcher,
    text_mode: bool,
    max_line_bytes: usize,
    mut input: impl BufRead,
    mut output: impl Write,
) -> std::io::Result<ScoreSummary> {
    let mut summary = ScoreSummary::default();
    let mut buf = Vec::new();
    let mut line_no = 0u64;
    loop {
        buf.clear();
        let read = read_line_bounded(&mut input, &mut buf, max_line_bytes)?;
        if read == 0 {
            break;
        }
        line_no += 1;
        let line = trim_newline(&buf);
        let post = match std::str::from_utf8(line) {
            _ if read > max_line_bytes => Err(format!(
                "line of {read} bytes is longer than the limit of {max_line_bytes} (--max-line-bytes)"
            )),
            Err(e) => Err(format!("not UTF-8: {e}")),
            Ok(text) if text_mode => {
                if text.trim().is_empty() {
                    continue;
                }
                Ok(Post::new(format!("text:{line_no}"), text))
            }
            Ok(text) if text.trim().is_empty() => {
                Err("empty line: expected a JSON post".to_string())
            }
            Ok(_) => Post::from_json(line).map_err(|e| e.to_string()),
        };
        summary.lines += 1;
        match post {
            Ok(post) => {
                let scored = matcher.score(&post);
                serde_json::to_writer(&mut output, &scored)?;
            }
            Err(reason) => {
                summary.failed += 1;
                let err = serde_json::json!({ "error": { "line": line_no, "reason": reason } });
                serde_json::to_writer(&mut output, &err)?;
            }
        }
        output.write_all(b"\n")?;
    }
    output.flush()?;
    Ok(summary)
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
        let (take, done) = match memchr_newline(chunk) {
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

fn memchr_newline(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&b| b == b'\n')
}

fn trim_newline(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use earshot_match::{MatcherConfig, MemorySource};

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
            false,
            DEFAULT_MAX_LINE_BYTES,
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
        let lines: Vec<serde_json::Value> = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
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
            true,
            DEFAULT_MAX_LINE_BYTES,
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
        let s = run(&matcher(), false, 1000, input.as_bytes(), &mut out).unwrap();
        assert_eq!(
            s,
            ScoreSummary {
                lines: 3,
                failed: 2
            }
        );
        let lines: Vec<serde_json::Value> = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
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
