//! The time window every page shows: `?window=24h|7d|30d`, or a custom
//! `since`/`until` (UTC, as a `datetime-local` field or a date sends it).

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use serde::Deserialize;

/// Query-string fields shared by the pages (others are ignored by serde here
/// and read by each page).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct WindowQuery {
    /// `24h`, `7d` or `30d`.
    #[serde(default)]
    pub window: String,
    /// Custom start (UTC).
    #[serde(default)]
    pub since: String,
    /// Custom end (UTC, exclusive); default now.
    #[serde(default)]
    pub until: String,
}

/// A resolved window.
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    /// Start (inclusive).
    pub since: DateTime<Utc>,
    /// End (exclusive).
    pub until: DateTime<Utc>,
    /// `24h`, `7d`, `30d` or `custom`.
    pub label: String,
}

/// Longest custom window (the charts' buckets and the queries stay bounded).
const MAX_DAYS: i64 = 400;
/// Longest value accepted for a time field.
const MAX_FIELD: usize = 40;

fn parse_time(field: &str, s: &str) -> Result<DateTime<Utc>, String> {
    let s = s.trim();
    if s.len() > MAX_FIELD {
        return Err(format!("{field}: longer than {MAX_FIELD} characters"));
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, format) {
            return Ok(t.and_utc());
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d.and_time(NaiveTime::MIN).and_utc());
    }
    Err(format!(
        "{field}: `{s}` is not a time; expected UTC like 2026-11-22T21:10 or 2026-11-22"
    ))
}

impl WindowQuery {
    /// The window asked for, ending at `now` unless `until` is given.
    pub fn resolve(&self, now: DateTime<Utc>) -> Result<Window, String> {
        let until = if self.until.trim().is_empty() {
            now
        } else {
            parse_time("until", &self.until)?
        };
        if !self.since.trim().is_empty() {
            let since = parse_time("since", &self.since)?;
            if since >= until {
                return Err("since: must be before until".into());
            }
            if until - since > Duration::days(MAX_DAYS) {
                return Err(format!("since: the window is longer than {MAX_DAYS} days"));
            }
            return Ok(Window {
                since,
                until,
                label: "custom".into(),
            });
        }
        let (label, length) = match self.window.trim() {
            "" | "24h" => ("24h", Duration::hours(24)),
            "7d" => ("7d", Duration::days(7)),
            "30d" => ("30d", Duration::days(30)),
            other => {
                return Err(format!(
                    "window: `{}` is not one of 24h, 7d, 30d",
                    other.chars().take(MAX_FIELD).collect::<String>()
                ))
            }
        };
        Ok(Window {
            since: until - length,
            until,
            label: label.into(),
        })
    }
}

impl Window {
    /// The query string that selects this window again.
    pub fn query(&self) -> Vec<(&'static str, String)> {
        if self.label == "custom" {
            vec![
                ("since", self.since.format("%Y-%m-%dT%H:%M").to_string()),
                ("until", self.until.format("%Y-%m-%dT%H:%M").to_string()),
            ]
        } else {
            vec![("window", self.label.clone())]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(window: &str, since: &str, until: &str) -> WindowQuery {
        WindowQuery {
            window: window.into(),
            since: since.into(),
            until: until.into(),
        }
    }

    #[test]
    fn presets_and_custom_windows_resolve() {
        let now = parse_time("t", "2026-12-01T12:00").unwrap();
        let w = q("", "", "").resolve(now).unwrap();
        assert_eq!(
            (w.until - w.since, w.label.as_str()),
            (Duration::hours(24), "24h")
        );
        assert_eq!(
            q("30d", "", "").resolve(now).unwrap().since,
            now - Duration::days(30)
        );
        let c = q("", "2026-11-01", "2026-11-02T06:30")
            .resolve(now)
            .unwrap();
        assert_eq!(c.label, "custom");
        assert_eq!(c.until - c.since, Duration::minutes(30 * 60 + 30));
        assert_eq!(
            c.query(),
            [
                ("since", "2026-11-01T00:00".to_string()),
                ("until", "2026-11-02T06:30".to_string())
            ]
        );
    }

    #[test]
    fn bad_windows_name_the_field() {
        let now = Utc::now();
        assert!(q("1y", "", "")
            .resolve(now)
            .unwrap_err()
            .starts_with("window:"));
        assert!(q("", "yesterday", "")
            .resolve(now)
            .unwrap_err()
            .starts_with("since:"));
        assert!(q("", "2026-11-02", "2026-11-01")
            .resolve(now)
            .unwrap_err()
            .contains("before"));
        assert!(q("", "2000-01-01", "2026-01-01")
            .resolve(now)
            .unwrap_err()
            .contains("400 days"));
        assert!(q("", "", &"9".repeat(100))
            .resolve(now)
            .unwrap_err()
            .starts_with("until:"));
    }
}
