//! `earshot match` draining a backlog must fetch each record about once
//! (issue 11). A fetch returns whole record batches, thousands of records,
//! and when the in-flight budget ran out the consumer paused its
//! assignment, which drops what librdkafka had prefetched: after each resume
//! the same batches were fetched, decompressed and parsed again (841k
//! records parsed to deliver a 100k backlog, 8.4×; 12 % of the daemon's
//! CPU). Counted, not timed: librdkafka's own count of records received,
//! which `/metrics` shows, against the posts in the backlog.

mod kafka_common;

use std::time::Duration;

use earshot_tests::ops::{sample, wait_for_metrics};
use kafka_common::Pipeline;

/// Posts in the backlog: with the small budget below, many pauses.
const POSTS: usize = 12_000;

#[test]
fn issue_11_match_fetches_a_backlog_about_once() {
    let Some(p) = Pipeline::new("refetch", 1) else {
        return;
    };
    // A budget far smaller than a fetch (one partition's batches), and
    // statistics often enough to read the final count soon.
    let toml = std::fs::read_to_string(&p.config)
        .unwrap()
        .replace(
            "[transport.kafka]\n",
            "[transport.kafka]\nproperties = { \"statistics.interval.ms\" = \"300\" }\n",
        )
        .replace("[match]\n", "[match]\nmax_in_flight = 300\n");
    std::fs::write(&p.config, toml).unwrap();
    p.produce_posts(0..POSTS);
    let mut daemon = p.start_match("match");
    let addr = daemon.ops_addr(Duration::from_secs(30));
    let group = p.group.clone();
    // Every post scored, then a statistics report later than that.
    let scored_at = std::cell::Cell::new(None);
    let metrics = wait_for_metrics(
        &mut daemon,
        addr,
        Duration::from_secs(300),
        "every post scored and a statistics report after it",
        |m| {
            let scored = sample(
                m,
                "earshot_posts_total",
                &[("stage", "match"), ("outcome", "out")],
            ) == Some(POSTS as f64);
            if scored && scored_at.get().is_none() {
                scored_at.set(Some(std::time::Instant::now()));
            }
            scored_at
                .get()
                .is_some_and(|t| t.elapsed() > Duration::from_secs(1))
                && sample(
                    m,
                    "earshot_consumer_fetched_records_total",
                    &[("group", &group)],
                )
                .is_some()
        },
    );
    let fetched = sample(
        &metrics,
        "earshot_consumer_fetched_records_total",
        &[("group", &group)],
    )
    .unwrap();
    let (status, _) = daemon.terminate(Duration::from_secs(30));
    assert!(status.success(), "{}", daemon.log());
    eprintln!("{fetched} records fetched for a backlog of {POSTS}");
    assert!(
        fetched >= POSTS as f64,
        "{fetched} fetched: the count is not librdkafka's"
    );
    assert!(
        fetched <= 2.0 * POSTS as f64,
        "{fetched} records fetched for a backlog of {POSTS}: prefetched records were dropped and fetched again"
    );
}
