//! `earshot match` as a real process against the real broker: two instances
//! sharing the raw topic, poison input, graceful shutdown.

mod kafka_common;

use std::collections::HashMap;
use std::time::Duration;

use earshot_model::Interaction;
use earshot_tests::kafka::TopicReader;
use kafka_common::{final_scored, Pipeline};

const EXIT_WITHIN: Duration = Duration::from_secs(10);

/// Two `match` instances in one group split the raw partitions (a rebalance
/// while posts flow), and every post reaches the scored topic.
#[test]
fn two_match_instances_rebalance_without_loss() {
    let Some(p) = Pipeline::new("pair", 4) else {
        return;
    };
    p.produce_posts(0..10_000);
    let mut a = p.start_match("match-a");
    let scored = p.scored_reader();
    scored.wait_until(Duration::from_secs(60), "first scored posts", |d, _| {
        d >= 500
    });

    let mut b = p.start_match("match-b");
    b.wait_for_assignment(Duration::from_secs(60));
    // Posts produced after the rebalance land on both members' partitions.
    p.produce_posts(10_000..20_000);
    scored.wait_until(
        Duration::from_secs(120),
        "all 20000 posts scored",
        |d, _| d == 20_000,
    );

    p.wait_committed_to_end(Duration::from_secs(15));
    let (status_a, took_a) = a.terminate(EXIT_WITHIN);
    let (status_b, took_b) = b.terminate(EXIT_WITHIN);
    assert!(
        status_a.success() && status_b.success(),
        "exit: {status_a} / {status_b}"
    );
    let (by_a, by_b) = (final_scored(&a.log()), final_scored(&b.log()));
    assert!(by_b > 0, "b scored nothing: it never got partitions");
    assert!(by_a + by_b >= 20_000);
    let dups = scored.total() - 20_000;
    println!("two instances: a scored {by_a}, b scored {by_b}, {dups} duplicates; exits in {took_a:?} / {took_b:?}");
    assert!(scored.counts().keys().all(|k| k.starts_with("e2e:")));
}

/// Undecodable JSON and unknown schema versions go to the dead-letter topic
/// with the reason and their origin in headers; the posts after them are scored.
#[test]
fn poison_messages_are_dead_lettered_and_processing_continues() {
    let Some(p) = Pipeline::new("poison", 1) else {
        return;
    };
    p.produce_posts(0..100);
    let (id, json, mut headers) = Pipeline::post(100);
    let future_version = String::from_utf8(json.clone())
        .unwrap()
        .replace("\"schema_version\":1", "\"schema_version\":99");
    assert!(future_version.contains("\"schema_version\":99"));
    let poison = vec![
        (
            "bad:json".to_string(),
            b"{\"id\": \"bad:json\", \"text\": ".to_vec(),
            headers.clone(),
        ),
        (
            "bad:version".to_string(),
            future_version.into_bytes(),
            headers.clone(),
        ),
        {
            headers[0].1 = "7".into();
            (id.replace("e2e", "bad"), json, headers)
        },
    ];
    earshot_tests::kafka::produce(&p.brokers, &p.raw, poison.clone());
    p.produce_posts(101..201);

    let mut daemon = p.start_match("match");
    let scored = p.scored_reader();
    let dlq = TopicReader::start(&p.brokers, &p.dead_letter, p.partitions, true);
    scored.wait_until(Duration::from_secs(60), "200 good posts scored", |d, _| {
        d == 200
    });
    dlq.wait_until(Duration::from_secs(30), "3 dead letters", |_, t| t == 3);
    p.wait_committed_to_end(Duration::from_secs(15));
    let (status, _) = daemon.terminate(EXIT_WITHIN);
    assert!(status.success(), "{status}");

    let by_key: HashMap<String, _> = dlq
        .messages()
        .into_iter()
        .map(|m| (m.key.clone(), m))
        .collect();
    for (offset, (key, payload, _)) in poison.iter().enumerate() {
        let m = by_key
            .get(key)
            .unwrap_or_else(|| panic!("{key} not dead-lettered"));
        assert_eq!(&m.payload, payload, "the original payload is kept");
        assert_eq!(m.header("earshot-stage"), Some("match"));
        assert_eq!(m.header("earshot-source-topic"), Some(p.raw.as_str()));
        assert_eq!(m.header("earshot-source-partition"), Some("0"));
        assert_eq!(
            m.header("earshot-source-offset"),
            Some((100 + offset).to_string().as_str())
        );
        assert_eq!(
            m.header("earshot-origin"),
            Some("test"),
            "original headers are kept"
        );
        let reason = m.header("earshot-error").unwrap();
        let expect = [
            "invalid JSON",
            "schema_version 99",
            "earshot-schema header \"7\"",
        ][offset];
        assert!(reason.contains(expect), "{key}: {reason}");
    }
    let log = daemon.log();
    assert_eq!(
        log.matches("poison message").count(),
        3,
        "each poison message is logged"
    );
    assert!(log.contains("3 dead-lettered"), "{log}");
}

/// SIGTERM in the middle of a backlog: the daemon stops fetching, drains,
/// commits and exits 0 within seconds; everything below the committed offsets
/// is on the scored topic; a restart finishes the rest.
#[test]
fn sigterm_drains_commits_and_exits_zero() {
    let Some(p) = Pipeline::new("sigterm", 2) else {
        return;
    };
    let n = 30_000;
    p.produce_posts(0..n);
    let mut daemon = p.start_match("match-1");
    let scored = p.scored_reader();
    scored.wait_until(Duration::from_secs(60), "a first part scored", |d, _| {
        d >= 3_000
    });
    let (status, took) = daemon.terminate(EXIT_WITHIN);
    assert!(
        status.success(),
        "exit status {status}; log:\n{}",
        daemon.log()
    );
    println!("SIGTERM to exit: {took:?}");
    assert!(daemon.log().contains("match stage stopped"));

    let committed = p.committed();
    let raw = TopicReader::start(&p.brokers, &p.raw, p.partitions, true);
    raw.wait_until(
        Duration::from_secs(30),
        "the raw topic read back",
        |_, t| t == n,
    );
    // Give the reader a moment to catch up with what the daemon delivered.
    std::thread::sleep(Duration::from_secs(1));
    let seen = scored.counts();
    let mut covered = 0;
    for m in raw.messages() {
        let c = committed[m.partition as usize].unwrap_or(0);
        if m.offset < c {
            covered += 1;
            assert!(
                seen.contains_key(&m.key),
                "{} committed (offset {} < {c}) but not scored",
                m.key,
                m.offset
            );
        }
    }
    assert!(covered > 0, "shutdown committed nothing: {committed:?}");
    println!(
        "at SIGTERM: {covered} raw posts committed, {} scored",
        seen.len()
    );

    let mut again = p.start_match("match-2");
    scored.wait_until(
        Duration::from_secs(120),
        "all posts after restart",
        |d, _| d == n,
    );
    p.wait_committed_to_end(Duration::from_secs(15));
    let (status, _) = again.terminate(EXIT_WITHIN);
    assert!(status.success());

    // Every scored record is a well-formed interaction of the post it is keyed by.
    let sample = TopicReader::start(&p.brokers, &p.scored, p.partitions, true);
    sample.wait_until(Duration::from_secs(30), "scored read back", |_, t| {
        t >= scored.total()
    });
    for m in sample.messages().iter().take(500) {
        let i = Interaction::from_json(&m.payload).unwrap();
        assert_eq!(i.post.id, m.key);
        assert_eq!(m.header("earshot-origin"), Some("match"));
        assert_eq!(m.header("earshot-schema"), Some("1"));
    }
}
