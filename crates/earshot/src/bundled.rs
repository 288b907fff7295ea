//! The default configuration compiled into the binary (every file under the
//! repository's `config/`), used when no `--config` is given.

use std::io;
use std::path::{Component, Path};

use chrono::{DateTime, SecondsFormat, Utc};

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

/// The timestamp fields of a sample post that move with the run's clock.
const SAMPLE_TIME_FIELDS: [&str; 2] = ["published_at", "fetched_at"];

/// Whether a `file` connector's `path` is (or lies under) [`SAMPLES_DIR`]:
/// such a file is not expected to exist beforehand, `earshot run` writes it.
pub fn is_sample_path(path: &Path) -> bool {
    let normal = |p: &Path| -> Vec<std::ffi::OsString> {
        p.components()
            .filter(|c| !matches!(c, Component::CurDir))
            .map(|c| c.as_os_str().to_os_string())
            .collect()
    };
    normal(path).starts_with(&normal(Path::new(SAMPLES_DIR)))
}

/// How [`write_samples`] moved the bundled samples' dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SampleShift {
    /// Added to every `published_at` and `fetched_at` (a whole number of minutes).
    pub by: chrono::Duration,
    /// Where the latest timestamp of the samples landed.
    pub newest: DateTime<Utc>,
}

impl std::fmt::Display for SampleShift {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let minutes = self.by.num_minutes();
        let (sign, m) = if minutes < 0 {
            ('-', -minutes)
        } else {
            ('+', minutes)
        };
        write!(
            f,
            "bundled samples shifted to the run's clock ({sign}{}d {:02}h{:02}m; newest at {} UTC)",
            m / 1440,
            m / 60 % 24,
            m % 60,
            self.newest.format("%Y-%m-%d %H:%M:%S")
        )
    }
}

/// Writes the bundled `samples/*` files under `dir` ([`SAMPLES_DIR`]) with their
/// dates shifted so that the latest one lands in the minute before `now`'s
/// minute, each keeping its second and its spacing to the others. A report
/// window ending at `now` (rounded down to the minute) then holds every
/// sample, its last hour holds the latest ones, and the same clock always
/// gives the same file. The text is rewritten in place, timestamp by
/// timestamp, so every line keeps its length: the file connector's byte
/// cursor from an earlier run still points at the end, and a rerun replays
/// nothing (the stored posts keep the dates of the run that stored them).
pub fn write_samples(dir: &Path, now: DateTime<Utc>) -> io::Result<SampleShift> {
    let samples: Vec<(&str, &str)> = FILES
        .iter()
        .filter(|(n, _)| n.starts_with("samples/"))
        .copied()
        .collect();
    let mut latest: Option<DateTime<Utc>> = None;
    for (name, text) in &samples {
        for (n, line) in text.lines().enumerate() {
            for field in SAMPLE_TIME_FIELDS {
                if let Some((_, t)) = find_time(line, field).map_err(|e| bad_sample(name, n, e))? {
                    latest = latest.max(Some(t));
                }
            }
        }
    }
    let latest = latest.ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            "the bundled samples carry no dates",
        )
    })?;
    let by = floor_minute(now) - chrono::Duration::minutes(1) - floor_minute(latest);
    for (name, text) in &samples {
        let mut shifted = String::with_capacity(text.len());
        for (n, line) in text.split_inclusive('\n').enumerate() {
            shifted.push_str(&shift_line(line, by).map_err(|e| bad_sample(name, n, e))?);
        }
        let dest = dir.join(name.trim_start_matches("samples/"));
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(dest, shifted)?;
    }
    Ok(SampleShift {
        by,
        newest: latest + by,
    })
}

fn floor_minute(t: DateTime<Utc>) -> DateTime<Utc> {
    t - chrono::Duration::seconds(t.timestamp().rem_euclid(60))
        - chrono::Duration::nanoseconds(i64::from(t.timestamp_subsec_nanos()))
}

fn bad_sample(name: &str, line: usize, e: String) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("bundled {name}:{}: {e}", line + 1),
    )
}

/// Where a timestamp's text is in a line, and its value.
type FoundTime = (std::ops::Range<usize>, DateTime<Utc>);

/// The byte range of `field`'s timestamp value in `line` and its value.
fn find_time(line: &str, field: &str) -> Result<Option<FoundTime>, String> {
    let key = format!("\"{field}\"");
    let Some(at) = line.find(&key) else {
        return Ok(None);
    };
    let rest = &line[at + key.len()..];
    let open = rest
        .find('"')
        .ok_or_else(|| format!("`{field}` has no string value"))?;
    let start = at + key.len() + open + 1;
    let len = line[start..]
        .find('"')
        .ok_or_else(|| format!("`{field}` is not closed"))?;
    let value = &line[start..start + len];
    let t = DateTime::parse_from_rfc3339(value)
        .map_err(|e| format!("`{field}`: `{value}`: {e}"))?
        .with_timezone(&Utc);
    Ok(Some((start..start + len, t)))
}

/// `line` with each timestamp field moved by `by`, written in the samples'
/// own format (`2026-11-20T00:00:02Z`), so the line keeps its length.
fn shift_line(line: &str, by: chrono::Duration) -> Result<String, String> {
    let mut out = line.to_string();
    for field in SAMPLE_TIME_FIELDS {
        if let Some((range, t)) = find_time(&out, field)? {
            let moved = (t + by).to_rfc3339_opts(SecondsFormat::AutoSi, true);
            out.replace_range(range, &moved);
        }
    }
    Ok(out)
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

    #[test]
    fn sample_paths_are_those_under_the_samples_dir() {
        assert!(is_sample_path(Path::new(".earshot/samples/posts.jsonl")));
        assert!(is_sample_path(Path::new("./.earshot/samples")));
        assert!(!is_sample_path(Path::new(".earshot/other.jsonl")));
        assert!(!is_sample_path(Path::new("data/samples/posts.jsonl")));
    }

    /// Lines keep their length (the replay cursor is in bytes), the latest
    /// timestamp lands in the minute before the clock's, spacing is kept.
    #[test]
    fn samples_shift_to_the_clock_keeping_lengths_and_spacing() {
        let original = read(Path::new("samples/posts.jsonl")).unwrap();
        let line = original.lines().next().unwrap();
        let now = DateTime::parse_from_rfc3339("2030-01-02T03:04:05.6Z")
            .unwrap()
            .with_timezone(&Utc);
        let by = chrono::Duration::minutes(12_345);
        let shifted = shift_line(line, by).unwrap();
        assert_eq!(shifted.len(), line.len());
        for field in SAMPLE_TIME_FIELDS {
            let (_, before) = find_time(line, field).unwrap().unwrap();
            let (_, after) = find_time(&shifted, field).unwrap().unwrap();
            assert_eq!(after - before, by, "{field}");
        }

        let dir = tempfile::tempdir().unwrap();
        let shift = write_samples(dir.path(), now).unwrap();
        let written = std::fs::read_to_string(dir.path().join("posts.jsonl")).unwrap();
        assert_eq!(
            shift.newest.to_rfc3339_opts(SecondsFormat::AutoSi, true)[..17],
            *"2030-01-02T03:03:"
        );
        assert_eq!(written.len(), original.len());
        for (a, b) in original.lines().zip(written.lines()) {
            assert_eq!(a.len(), b.len());
            let (_, ta) = find_time(a, "published_at").unwrap().unwrap();
            let (_, tb) = find_time(b, "published_at").unwrap().unwrap();
            assert_eq!(tb - ta, shift.by);
        }
    }
}
