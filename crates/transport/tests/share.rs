//! Issue 18: sharing work through the broker. A compacted log keeps the
//! latest value per key (tombstones delete), read back per partition to the
//! high watermark; group members on a control topic split its partitions,
//! and a revoke waits for the member to release its work. Needs
//! `EARSHOT_TEST_KAFKA` (required under `CI=true`, skipped otherwise).

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use earshot_transport::{
    AssignmentChange, Bus, KafkaBus, KafkaConfig, Membership, MembershipOptions, MemoryBus,
    TopicSpec, TransportError,
};

fn bus(brokers: &str) -> KafkaBus {
    KafkaBus::new(&KafkaConfig {
        brokers: brokers.to_string(),
        compression: "lz4".into(),
        session_timeout_ms: 6000,
        linger_ms: 5,
        idempotent: true,
        properties: BTreeMap::new(),
        unassigned_rejoin_ms: None,
    })
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_18_compacted_log_reads_back_the_latest_value_of_each_key() {
    let Some(brokers) = earshot_tests::kafka() else {
        return;
    };
    let bus = bus(&brokers);
    let spec = TopicSpec::new(earshot_tests::unique_name("compacted"), 2);
    let log = bus.compacted_log(&spec).await.unwrap();
    assert_eq!(log.topic(), spec.name);
    assert!(log.read(0).await.unwrap().is_empty(), "empty partition");

    let writes = [
        ("cursor/a/k", Some("1")),
        ("seen/a/x", Some("100")),
        ("seen/a/y", Some("100")),
        ("cursor/a/k", Some("2")),
        ("seen/a/x", None),
    ];
    let pending: Vec<_> = writes
        .iter()
        .map(|(k, v)| log.put(0, k, v.map(str::as_bytes)))
        .collect();
    for r in futures::future::join_all(pending).await {
        r.unwrap();
    }
    log.put(1, "cursor/b/k", Some(b"other")).await.unwrap();

    let got = log.read(0).await.unwrap();
    let expected: HashMap<String, Vec<u8>> = [
        ("cursor/a/k".to_string(), b"2".to_vec()),
        ("seen/a/y".to_string(), b"100".to_vec()),
    ]
    .into();
    assert_eq!(got, expected, "latest values, tombstoned key gone");
    let other = log.read(1).await.unwrap();
    assert_eq!(other.len(), 1, "one partition read alone: {other:?}");

    // The in-memory bus has no durable log to share.
    let err = MemoryBus::new().compacted_log(&spec).await.err().unwrap();
    assert!(matches!(err, TransportError::Unsupported(_)), "{err}");
}

/// The next change of `m`, within `timeout`.
async fn next(m: &mut Box<dyn Membership>, timeout: Duration) -> AssignmentChange {
    tokio::time::timeout(timeout, m.next())
        .await
        .expect("an assignment change in time")
        .expect("membership alive")
}

/// Waits for `m`'s next assignment, releasing revokes on the way.
async fn assigned(m: &mut Box<dyn Membership>, timeout: Duration) -> Vec<i32> {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match next(m, left).await {
            AssignmentChange::Assigned(p) => return p,
            AssignmentChange::Revoked { release, .. } => release.release(),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_18_members_split_the_control_topic_and_revokes_wait_for_release() {
    let Some(brokers) = earshot_tests::kafka() else {
        return;
    };
    let bus = bus(&brokers);
    let options = MembershipOptions {
        group: earshot_tests::unique_name("members"),
        topic: TopicSpec::new(earshot_tests::unique_name("control"), 4),
        revoke_timeout: Duration::from_secs(10),
    };
    let mut first = bus.membership(options.clone()).await.unwrap();
    assert_eq!(
        assigned(&mut first, Duration::from_secs(60)).await,
        [0, 1, 2, 3]
    );

    // A second member joins: the first is asked to give its partitions up,
    // and the group waits while it holds the release.
    let mut second = bus.membership(options.clone()).await.unwrap();
    let AssignmentChange::Revoked {
        partitions,
        release,
    } = next(&mut first, Duration::from_secs(60)).await
    else {
        panic!("expected a revoke");
    };
    assert_eq!(partitions, [0, 1, 2, 3]);
    let held = Duration::from_secs(2);
    let revoked_at = Instant::now();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let waiter = tokio::spawn(async move {
        let got = assigned(&mut second, Duration::from_secs(60)).await;
        let _ = tx.send(Instant::now());
        (second, got)
    });
    tokio::time::sleep(held).await;
    release.release();
    let mine = assigned(&mut first, Duration::from_secs(60)).await;
    let (second, theirs) = waiter.await.unwrap();
    let second_at = rx.await.unwrap();
    assert!(
        second_at.duration_since(revoked_at) >= held,
        "the new member got partitions before the old one released them"
    );
    let mut all: Vec<i32> = mine.iter().chain(&theirs).copied().collect();
    all.sort_unstable();
    assert_eq!(all, [0, 1, 2, 3], "{mine:?} + {theirs:?}");
    assert_eq!(mine.len(), 2, "round robin: {mine:?}");

    // Leaving hands everything to the one left.
    second.leave().await;
    assert_eq!(
        assigned(&mut first, Duration::from_secs(60)).await,
        [0, 1, 2, 3]
    );
    first.leave().await;
}
