//! Timestamps written to JSON exactly as chrono writes them (RFC 3339 in
//! UTC with `Z`, and 0, 3, 6 or 9 fraction digits by precision), without
//! going through `Display` and serde_json's escaping writer, which cost
//! about 7k instructions per timestamp: 5 % of the embedded pipeline's
//! instructions for three timestamps a post (issue 11). Years outside
//! 0..=9999 and leap seconds, which chrono writes differently, take
//! chrono's own path.

use chrono::{DateTime, Datelike, Timelike, Utc};
use serde::{Serialize, Serializer};

/// Longest text written here: `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`.
const MAX: usize = 30;

/// Writes `t` into `buf` as chrono's serializer would, or `None` when
/// chrono's own path must write it.
fn format(t: &DateTime<Utc>, buf: &mut [u8; MAX]) -> Option<usize> {
    // One conversion to the naive date and time: `DateTime`'s own getters
    // redo it (offset arithmetic included) for every field.
    let naive = t.naive_utc();
    let (date, time) = (naive.date(), naive.time());
    let year = date.year();
    let nano = time.nanosecond();
    if !(0..=9999).contains(&year) || nano >= 1_000_000_000 {
        return None;
    }
    let mut out = Out { buf, n: 0 };
    out.two(year as u32 / 100);
    out.two(year as u32 % 100);
    out.byte(b'-');
    out.two(date.month());
    out.byte(b'-');
    out.two(date.day());
    out.byte(b'T');
    out.two(time.hour());
    out.byte(b':');
    out.two(time.minute());
    out.byte(b':');
    out.two(time.second());
    // chrono's `SecondsFormat::AutoSi`: as many digits as the precision needs.
    if nano != 0 {
        out.byte(b'.');
        if nano.is_multiple_of(1_000_000) {
            out.digits(nano / 1_000_000, 3);
        } else if nano.is_multiple_of(1_000) {
            out.digits(nano / 1_000, 6);
        } else {
            out.digits(nano, 9);
        }
    }
    out.byte(b'Z');
    Some(out.n)
}

struct Out<'a> {
    buf: &'a mut [u8; MAX],
    n: usize,
}

impl Out<'_> {
    fn byte(&mut self, b: u8) {
        self.buf[self.n] = b;
        self.n += 1;
    }

    /// `v` (below 100) as two digits.
    fn two(&mut self, v: u32) {
        self.byte(b'0' + (v / 10) as u8);
        self.byte(b'0' + (v % 10) as u8);
    }

    /// `v` zero-padded to `count` digits (`v` has no more).
    fn digits(&mut self, v: u32, count: u32) {
        for i in (0..count).rev() {
            self.byte(b'0' + (v / 10u32.pow(i) % 10) as u8);
        }
    }
}

/// `serialize_with` for a `DateTime<Utc>`.
pub(crate) fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    let mut buf = [0u8; MAX];
    match format(t, &mut buf) {
        Some(n) => s.serialize_str(std::str::from_utf8(&buf[..n]).expect("ASCII digits")),
        None => t.serialize(s),
    }
}

/// `serialize_with` for an `Option<DateTime<Utc>>`.
pub(crate) fn serialize_option<S: Serializer>(
    t: &Option<DateTime<Utc>>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => {
            let mut buf = [0u8; MAX];
            match format(t, &mut buf) {
                Some(n) => s.serialize_some(std::str::from_utf8(&buf[..n]).expect("ASCII digits")),
                None => s.serialize_some(t),
            }
        }
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn ours(t: &DateTime<Utc>) -> String {
        let mut out = Vec::new();
        serialize(t, &mut serde_json::Serializer::new(&mut out)).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn chronos(t: &DateTime<Utc>) -> String {
        serde_json::to_string(t).unwrap()
    }

    #[test]
    fn issue_11_timestamps_are_written_as_chrono_writes_them() {
        let base = Utc.with_ymd_and_hms(2026, 12, 7, 5, 47, 51).unwrap();
        for nanos in [
            0,
            1,
            999,
            1_000,
            120_000,
            1_000_000,
            137_000_000,
            137_146_705,
            999_999_999,
        ] {
            let t = base + chrono::Duration::nanoseconds(nanos);
            assert_eq!(ours(&t), chronos(&t), "{nanos}");
        }
        // chrono's own path: years beyond four digits, before year 0, leap seconds.
        for t in [
            Utc.with_ymd_and_hms(12_345, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(-3, 1, 1, 0, 0, 0).unwrap(),
            chrono::NaiveDate::from_ymd_opt(2016, 12, 31)
                .unwrap()
                .and_hms_nano_opt(23, 59, 59, 1_500_000_000)
                .unwrap()
                .and_utc(),
        ] {
            assert_eq!(ours(&t), chronos(&t));
        }
        let mut out = Vec::new();
        serialize_option(&Some(base), &mut serde_json::Serializer::new(&mut out)).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), chronos(&base));
    }

    proptest! {
        #[test]
        fn issue_11_any_timestamp_is_written_as_chrono_writes_it(
            secs in -70_000_000_000i64..300_000_000_000i64,
            nanos in prop_oneof![Just(0u32), 0u32..1000, (0u32..1000).prop_map(|m| m * 1_000_000), (0u32..1_000_000).prop_map(|u| u * 1000), 0u32..1_000_000_000],
        ) {
            let t = Utc.timestamp_opt(secs, nanos).unwrap();
            prop_assert_eq!(ours(&t), chronos(&t));
        }
    }
}
