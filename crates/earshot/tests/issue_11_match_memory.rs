//! `earshot match` draining a backlog on the real broker must not hand its
//! memory back to the OS and fault it in again (issue 11). With mimalloc's
//! default purge delay (1 s) the daemon purged 385 MiB over a 100k-post drain
//! whose peak RSS was 145 MiB: 110k page faults, a quarter of its CPU spent
//! by the kernel zeroing pages. Counted, not timed: once the drain is under
//! way, the pages the process faults in beyond its growth (memory it had and
//! faulted in again) against its peak resident memory. Here (45k posts, debug
//! build): 61–75 MiB for a peak of 97–108 MiB with the 1 s delay, 31 MiB
//! with 10 s, 12–22 MiB with `earshot`'s 60 s (the rest is other memory,
//! librdkafka's among it), none when never purging. The bound, half the
//! peak, lies between the two with room either side on a busy machine.

mod kafka_common;

use std::time::Duration;

use kafka_common::Pipeline;

/// Posts drained: enough for several seconds of draining, so memory freed
/// early would be purged (after mimalloc's delay) while the drain goes on.
const POSTS: usize = 45_000;

/// Field 10 of `/proc/PID/stat` (minor faults of every thread so far).
fn minor_faults(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split(' ').nth(7)?.parse().ok()
}

/// A `kB` field of `/proc/PID/status` (`VmRSS`, `VmHWM`: the resident set
/// now, at its peak), in bytes.
fn status_bytes(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[test]
fn issue_11_match_drain_does_not_fault_its_memory_in_again() {
    let Some(p) = Pipeline::new("refault", 6) else {
        return;
    };
    p.produce_posts(0..POSTS);
    let mut daemon = p.start_match("match");
    let pid = daemon.pid();
    let scored = p.scored_reader();
    // From here on, the drain needs no more memory than it has: what it
    // faults in beyond its growth was handed back and is faulted in again.
    scored.wait_until(
        Duration::from_secs(600),
        "a third of the posts scored",
        |d, _| d >= POSTS / 3,
    );
    let (Some(faults_then), Some(rss_then)) = (minor_faults(pid), status_bytes(pid, "VmRSS:"))
    else {
        eprintln!("no /proc/{pid}: page faults not counted on this system");
        return;
    };
    scored.wait_until(Duration::from_secs(600), "every post scored", |d, _| {
        d == POSTS
    });
    let faults = minor_faults(pid).unwrap() - faults_then;
    let peak = status_bytes(pid, "VmHWM:").unwrap();
    let (status, _) = daemon.terminate(Duration::from_secs(30));
    assert!(status.success(), "{status}");
    // A fault maps at least a 4 KiB page (a 2 MiB one under transparent huge
    // pages), so this bounds the memory faulted in from below.
    let faulted = faults * 4096;
    let again = faulted.saturating_sub(peak.saturating_sub(rss_then));
    eprintln!(
        "the last {} of {POSTS} posts: {faults} minor faults (at least {} MiB), RSS {} MiB then, peak {} MiB: at least {} MiB faulted in again",
        POSTS - POSTS / 3,
        faulted >> 20,
        rss_then >> 20,
        peak >> 20,
        again >> 20
    );
    assert!(
        again <= peak / 2,
        "at least {} MiB faulted in again in the last {} posts, for a peak RSS of {} MiB: memory is returned to the OS and faulted in again",
        again >> 20,
        POSTS - POSTS / 3,
        peak >> 20
    );
}
