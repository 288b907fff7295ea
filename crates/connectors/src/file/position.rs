//! Where the replay of one file stands, and its saved form.
//!
//! The cursor of a file is exact: a line is produced once the chunk holding
//! it is acknowledged, and each acknowledged chunk is recorded at once, in
//! whatever order chunks finish. So the saved cursor is the position before
//! which everything is acknowledged, plus the chunks acknowledged beyond it
//! (at most the chunks in flight): a restart reads from the position and
//! skips those chunks, and needs no record per post.
//!
//! A chunk whose delivery failed half-way is the exception: the ids it did
//! deliver are recorded by id with the cursor, which then says up to which
//! line a re-read must check ids before producing.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A point in a file: lines and bytes (of the uncompressed stream) before it.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Pos {
    /// Lines consumed.
    pub line: u64,
    /// Bytes consumed.
    pub offset: u64,
}

/// Lines `from` (exclusive: the position before the span) to `to`.
pub(super) type Span = (Pos, Pos);

/// The saved cursor of one file, as JSON. A cursor written before spans
/// existed (`{"line", "offset"}`, no `v`) reads as one without spans.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Cursor {
    /// 2 since the cursor is exact; absent (0) before, when the chunks
    /// acknowledged past the position were recorded by id instead.
    #[serde(default)]
    v: u8,
    /// Lines before this point are all acknowledged.
    line: u64,
    /// Bytes before this point.
    offset: u64,
    /// Chunks acknowledged past the point, as `[from line, from offset, to
    /// line, to offset]`, in file order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    done: Vec<[u64; 4]>,
    /// Lines up to this number may have been delivered by a chunk that
    /// failed half-way, with their ids recorded: a re-read checks them.
    #[serde(default, skip_serializing_if = "is_zero")]
    recheck: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The replay's progress in memory: what [`Cursor`] saves.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(super) struct Progress {
    base: Pos,
    /// Acknowledged spans past `base`, by their first line.
    done: BTreeMap<u64, Span>,
    recheck: u64,
}

impl Progress {
    /// The progress `c` saved; `in_flight_lines` is how far past its
    /// position an earlier version may have produced and recorded ids.
    pub fn from_cursor(c: &Cursor, in_flight_lines: u64) -> Progress {
        let mut p = Progress {
            base: Pos {
                line: c.line,
                offset: c.offset,
            },
            done: BTreeMap::new(),
            recheck: c.recheck,
        };
        if c.v < 2 && c.line > 0 {
            // Written by an earlier version, which recorded by id the chunks
            // acknowledged past the position (at most `in_flight_lines`):
            // check them, once, rather than produce them again.
            p.recheck = p.recheck.max(c.line + in_flight_lines);
        }
        for &[fl, fo, tl, to] in &c.done {
            // A span that does not move forward is not Earshot's: ignored.
            if tl > fl && to > fo && fl >= c.line {
                let span = (
                    Pos {
                        line: fl,
                        offset: fo,
                    },
                    Pos {
                        line: tl,
                        offset: to,
                    },
                );
                p.done.insert(fl, span);
            }
        }
        p.fold();
        p
    }

    pub fn cursor(&self) -> Cursor {
        Cursor {
            v: 2,
            line: self.base.line,
            offset: self.base.offset,
            done: self
                .done
                .values()
                .map(|(f, t)| [f.line, f.offset, t.line, t.offset])
                .collect(),
            recheck: self.recheck,
        }
    }

    /// Where reading resumes.
    pub fn base(&self) -> Pos {
        self.base
    }

    /// The spans to skip when reading on from [`Progress::base`], in order.
    pub fn skip(&self) -> Vec<Span> {
        self.done.values().copied().collect()
    }

    /// The furthest byte known to be read: a file shorter than this was
    /// truncated or replaced.
    pub fn furthest(&self) -> u64 {
        self.done
            .values()
            .map(|(_, t)| t.offset)
            .fold(self.base.offset, u64::max)
    }

    /// Whether a chunk starting after `from` may hold ids a failed chunk
    /// delivered (so its ids must be checked before producing).
    pub fn must_check(&self, from: Pos) -> bool {
        from.line < self.recheck
    }

    /// Records the chunk `(from, to)` as acknowledged.
    pub fn ack(&mut self, from: Pos, to: Pos) {
        self.done.insert(from.line, (from, to));
        self.fold();
    }

    /// Records that a chunk ending at `to` failed after delivering some
    /// posts, whose ids are recorded alongside.
    pub fn failed(&mut self, to: Pos) {
        self.recheck = self.recheck.max(to.line);
    }

    /// Moves the base over the spans that now follow it without a gap.
    fn fold(&mut self) {
        while let Some((&first, &(from, to))) = self.done.first_key_value() {
            if from.line > self.base.line {
                break;
            }
            self.done.remove(&first);
            if to.line > self.base.line {
                self.base = to;
            }
        }
        if self.base.line >= self.recheck {
            self.recheck = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pos(line: u64) -> Pos {
        Pos {
            line,
            offset: line * 10,
        }
    }

    #[test]
    fn out_of_order_acks_fold_into_the_base_and_survive_a_save() {
        let mut p = Progress::default();
        p.ack(pos(20), pos(30));
        p.ack(pos(10), pos(20));
        assert_eq!(p.base(), Pos::default());
        assert_eq!(p.skip(), [(pos(10), pos(20)), (pos(20), pos(30))]);
        assert_eq!(p.furthest(), 300);
        let json = serde_json::to_string(&p.cursor()).unwrap();
        assert_eq!(
            json,
            r#"{"v":2,"line":0,"offset":0,"done":[[10,100,20,200],[20,200,30,300]]}"#
        );
        let back: Cursor = serde_json::from_str(&json).unwrap();
        assert_eq!(Progress::from_cursor(&back, 40), p);
        p.ack(pos(0), pos(10));
        assert_eq!((p.base(), p.skip()), (pos(30), vec![]));
        assert_eq!(
            serde_json::to_string(&p.cursor()).unwrap(),
            r#"{"v":2,"line":30,"offset":300}"#
        );
    }

    #[test]
    fn a_failed_chunk_is_checked_until_the_base_passes_it() {
        let mut p = Progress::default();
        p.ack(pos(10), pos(20));
        p.failed(pos(10));
        assert!(p.must_check(pos(0)));
        assert!(!p.must_check(pos(20)));
        let saved: Cursor =
            serde_json::from_str(&serde_json::to_string(&p.cursor()).unwrap()).unwrap();
        let mut p = Progress::from_cursor(&saved, 40);
        assert!(p.must_check(pos(0)));
        p.ack(pos(0), pos(10));
        assert_eq!(p.base(), pos(20));
        assert!(!p.must_check(pos(0)), "no check once past it");
    }

    #[test]
    fn a_cursor_from_before_spans_still_reads_and_checks_what_followed_it() {
        let c: Cursor = serde_json::from_str(r#"{"line":3,"offset":42}"#).unwrap();
        let p = Progress::from_cursor(&c, 40);
        assert_eq!(
            p.base(),
            Pos {
                line: 3,
                offset: 42
            }
        );
        assert!(p.skip().is_empty());
        assert!(p.must_check(Pos {
            line: 42,
            offset: 400
        }));
        assert!(!p.must_check(Pos {
            line: 43,
            offset: 410
        }));
        // A fresh file, or a cursor of this version, has nothing to check.
        assert!(!Progress::from_cursor(&Cursor::default(), 40).must_check(Pos::default()));
        let c: Cursor = serde_json::from_str(r#"{"v":2,"line":3,"offset":42}"#).unwrap();
        assert!(!Progress::from_cursor(&c, 40).must_check(Pos {
            line: 3,
            offset: 42
        }));
    }
}
