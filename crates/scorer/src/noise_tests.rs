//! The noise window's clustering, eviction and bot flags (issue 16).

use chrono::{DateTime, Duration, Utc};
use earshot_match::NoiseConfig;
use earshot_model::{Interaction, Post};

use crate::noise::NoiseTracker;

fn post(id: &str, author: &str, fp: Option<u64>, at: DateTime<Utc>) -> Interaction {
    let mut p = Post::new(id, "text");
    p.author.handle = Some(author.into());
    p.published_at = Some(at);
    let mut i = Interaction::neutral(p, "v");
    i.priority = 80;
    i.noise.fingerprint = fp;
    i
}

fn on() -> NoiseConfig {
    NoiseConfig {
        enabled: true,
        ..Default::default()
    }
}

fn t0() -> DateTime<Utc> {
    "2026-11-20T00:00:00Z".parse().unwrap()
}

#[test]
fn issue_16_copies_cluster_under_the_first_id_and_lose_priority_from_the_threshold() {
    let c = on();
    let mut w = NoiseTracker::default();
    let fp = 0xdead_beef_0bad_f00d;
    let mut seen = Vec::new();
    for n in 0..5 {
        // Each copy a few bits off the first: still within max_distance.
        let mut i = post(
            &format!("x:{n}"),
            &format!("a{n}"),
            Some(fp ^ (n as u64 & 3)),
            t0() + Duration::minutes(n),
        );
        w.observe(&mut i, &c);
        seen.push((
            i.noise.cluster_id.clone(),
            i.noise.cluster_size,
            i.noise.near_duplicate,
            i.priority,
        ));
    }
    assert_eq!(
        seen[0],
        (None, 0, false, 80),
        "the first member is a plain post"
    );
    assert_eq!(seen[1], (Some("x:0".into()), 2, false, 80));
    assert_eq!(
        seen[2],
        (Some("x:0".into()), 3, true, 0),
        "min_cluster_size 3 reached"
    );
    assert_eq!(seen[4], (Some("x:0".into()), 5, true, 0));
    // Unrelated text (half the bits differ) starts its own cluster.
    let mut other = post("x:9", "b", Some(!fp), t0() + Duration::minutes(6));
    w.observe(&mut other, &c);
    assert_eq!(other.noise.cluster_id, None);
    // A redelivered first post is not its own copy.
    let mut again = post("x:0", "a0", Some(fp), t0() + Duration::minutes(7));
    w.observe(&mut again, &c);
    assert_eq!(again.noise.cluster_id, None);
}

#[test]
fn issue_16_the_window_forgets_by_post_time_and_by_size() {
    let c = NoiseConfig {
        window_minutes: 60,
        max_entries: 100,
        ..on()
    };
    let mut w = NoiseTracker::default();
    let fp = 0x1234_5678_9abc_def0;
    w.observe(&mut post("x:1", "a", Some(fp), t0()), &c);
    // Two hours later the first post has left the window: a new cluster.
    let mut late = post("x:2", "b", Some(fp), t0() + Duration::hours(2));
    w.observe(&mut late, &c);
    assert_eq!(late.noise.cluster_id, None);
    assert_eq!(w.len().0, 1);
    // 10,000 distinct posts keep at most max_entries of them, and the
    // buckets and clusters of the evicted ones go too.
    for n in 0..10_000u64 {
        let fp = n.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        w.observe(
            &mut post(&format!("y:{n}"), "c", Some(fp), t0() + Duration::hours(2)),
            &c,
        );
    }
    let (entries, buckets, clusters) = w.len();
    assert!(entries <= 100 && clusters <= 100, "{entries} {clusters}");
    assert!(buckets <= 100 * (c.max_distance as usize + 1), "{buckets}");
}

#[test]
fn issue_16_bot_like_authors_by_rate_duplicates_and_account_age() {
    let c = on();
    let mut w = NoiseTracker::default();
    // 21 distinct posts in 21 minutes: over 20 an hour.
    let mut last = None;
    for n in 0..21u64 {
        let mut i = post(
            &format!("r:{n}"),
            "Spammer",
            Some(n.wrapping_mul(0x9e37_79b9_7f4a_7c15)),
            t0() + Duration::minutes(n as i64),
        );
        w.observe(&mut i, &c);
        last = Some(i);
    }
    let last = last.unwrap();
    assert!(last.noise.bot_like);
    assert_eq!(
        last.noise.bot_reasons,
        ["rate: more than 20 posts in an hour"]
    );
    assert_eq!(last.priority, c.bot_priority_cap);
    // An author posting copies of one text, one an hour.
    let fp = 0x0f0f_0f0f_f0f0_f0f0;
    w.observe(&mut post("s:0", "seed", Some(fp), t0()), &c);
    let mut copies = Vec::new();
    for n in 1..=5 {
        let mut i = post(
            &format!("s:{n}"),
            "copier",
            Some(fp),
            t0() + Duration::hours(n),
        );
        w.observe(&mut i, &c);
        copies.push(i.noise.bot_reasons.clone());
    }
    assert!(copies[3].is_empty(), "4 posts are fewer than bot_min_posts");
    assert_eq!(copies[4], ["duplicates: 5 of 5 posts repeat others"]);
    // A two-day-old account with five ordinary posts.
    let mut flagged = None;
    for n in 0..5u64 {
        let mut i = post(
            &format!("m:{n}"),
            "fresh",
            Some(!n.wrapping_mul(0x9e37_79b9_7f4a_7c15)),
            t0() + Duration::hours(n as i64 * 2),
        );
        i.post.author.created_at = Some(t0() - Duration::days(2));
        w.observe(&mut i, &c);
        flagged = Some(i);
    }
    let reasons = flagged.unwrap().noise.bot_reasons;
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    assert!(
        reasons[0].starts_with("new_account: 2 days old"),
        "{reasons:?}"
    );
    // Disabled: nothing is flagged or changed.
    let off = NoiseConfig {
        enabled: false,
        ..c
    };
    let mut i = post("s:9", "copier", Some(fp), t0() + Duration::hours(6));
    w.observe(&mut i, &off);
    assert_eq!(
        (i.noise.cluster_id, i.noise.bot_like, i.priority),
        (None, false, 80)
    );
}
