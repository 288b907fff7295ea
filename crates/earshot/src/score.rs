//! `earshot score`: scores posts from standard input, one JSON line out per
//! line in, in input order.
//!
//! Input is JSON Lines of posts (at minimum `{"id": "...", "text": "..."}`)
//! or, in text mode, one raw text per line (ids `text:<line>`). A line that
//! cannot be read becomes `{"error": {"line": N, "reason": "..."}}` in its
//! place and scoring goes on; the summary says how many failed so the
//! caller can set the exit status. Blank lines are skipped in text mode
//! and reported as errors in JSON mode (a post is expected on every line).

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

/// Scores every line of `input` and writes one JSON object per line to `output`.
pub fn run(
    matcher: &Matcher,
    text_mode: bool,
    mut input: impl BufRead,
    mut output: impl Write,
) -> std::io::Result<ScoreSummary> {
    let mut summary = ScoreSummary::default();
    let mut buf = Vec::new();
    let mut line_no = 0u64;
    loop {
        buf.clear();
        if input.read_until(b'\n', &mut buf)? == 0 {
            break;
        }
        line_no += 1;
        let line = trim_newline(&buf);
        let post = match std::str::from_utf8(line) {
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
        let s = run(&matcher(), false, &input[..], &mut out).unwrap();
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
        let s = run(&matcher(), true, &b"I love Acme\r\n\nmeh\n"[..], &mut out).unwrap();
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
}
