//! Issue 11: the file connector's cursor is exact (the position plus the
//! chunks acknowledged beyond it), so it keeps no record per post. These
//! replay real files through the connector and count what reached the raw
//! topic: every line once, after a half-failed delivery, after out-of-order
//! acknowledgements, and when a file is replaced by a shorter one.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use earshot_connect::CursorStore;
use earshot_transport::{DeliveryFuture, Producer, TopicsConfig, TransportError};
use futures::FutureExt;
use serde_json::json;
use tokio_util::sync::CancellationToken;

fn lines(range: std::ops::Range<u32>) -> String {
    range
        .map(|i| {
            format!(
                "{}\n",
                json!({"id": i.to_string(), "text": format!("post {i}")})
            )
        })
        .collect()
}

fn file_config(
    dir: &tempfile::TempDir,
    path: &std::path::Path,
    batch: usize,
) -> earshot_connect::ConnectConfig {
    config(
        dir,
        &format!(
            "[cursors]\npath = \"CURSORS\"\n[[connectors]]\nname = \"replay\"\nkind = \"file\"\npaths = [\"{}\"]\none_shot = true\nbatch_size = {batch}\nprogress = false\n",
            path.display()
        ),
    )
}

/// One run of the connectors of `cfg` on `bus`, to its end (they are one-shot).
async fn replay(
    bus: Arc<dyn earshot_transport::Bus>,
    cfg: &earshot_connect::ConnectConfig,
) -> Result<earshot_connect::ConnectStats, earshot_connect::ConnectError> {
    let topics = TopicsConfig::default();
    earshot_connect::run(bus, &topics, cfg, CancellationToken::new()).await
}

fn number(key: &str) -> u32 {
    key.strip_prefix("file:").unwrap().parse().unwrap()
}

/// A bus on which the deliveries of the posts numbered `which` go through
/// `fault` (given the topic) while `on` is set; the rest are delivered.
fn faulty(
    on: Arc<AtomicBool>,
    which: impl Fn(u32) -> bool + Send + Sync + 'static,
    fault: impl Fn(String) -> DeliveryFuture + Send + Sync + 'static,
) -> FaultyBus {
    FaultyBus::new(move |inner, topic, record| {
        let n = record
            .key
            .strip_prefix("file:")
            .and_then(|n| n.parse().ok());
        if n.is_some_and(&which) && on.load(Ordering::SeqCst) {
            return fault(topic.to_string());
        }
        inner.send(topic, record)
    })
}

fn delivery_error(topic: String) -> Result<(), TransportError> {
    Err(TransportError::Delivery {
        topic,
        message: "partition leader gone".into(),
    })
}

/// How many records of each post id reached the raw topic.
async fn counts(bus: &earshot_transport::MemoryBus) -> std::collections::BTreeMap<u32, usize> {
    let mut out = std::collections::BTreeMap::new();
    for p in posts(bus).await {
        *out.entry(number(&p.id)).or_default() += 1;
    }
    out
}

/// A chunk whose delivery fails half-way (some posts delivered, some not):
/// the run fails, and the next one produces exactly the posts that were not
/// delivered, none twice, with the cursor store holding ids only for that chunk.
#[tokio::test]
async fn issue_11_file_half_failed_chunk_is_completed_without_duplicates() {
    init_tracing();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("posts.jsonl");
    std::fs::write(&data, lines(0..50)).unwrap();
    let cfg = file_config(&dir, &data, 10);
    // Posts 23 and 27 (in the third chunk, 20..30) fail while `down`.
    let down = Arc::new(AtomicBool::new(true));
    let bus = faulty(
        down.clone(),
        |n| n == 23 || n == 27,
        |topic| async move { delivery_error(topic) }.boxed(),
    );
    let first = replay(Arc::new(bus.clone()), &cfg).await;
    assert!(
        first.is_err() || first.unwrap().connectors["replay"].errors > 0,
        "the failed delivery is reported"
    );
    let after_first = counts(&bus.inner).await;
    assert!(after_first.contains_key(&22) && !after_first.contains_key(&23));
    assert!(after_first.values().all(|&n| n == 1), "{after_first:?}");

    // Only the half-failed chunk's delivered ids are kept, not one per post.
    let store = CursorStore::open(&dir.path().join("cursors.db")).unwrap();
    let seen = store.export("replay").await.unwrap().seen;
    let mut recorded: Vec<u32> = seen.iter().map(|(id, _)| number(id)).collect();
    recorded.sort();
    assert_eq!(recorded, [20, 21, 22, 24, 25, 26, 28, 29]);
    drop(store);

    down.store(false, Ordering::SeqCst);
    let stats = replay(Arc::new(bus.clone()), &cfg).await.unwrap();
    let all = counts(&bus.inner).await;
    assert_eq!(all.len(), 50, "every post: {all:?}");
    assert!(all.values().all(|&n| n == 1), "none twice: {all:?}");
    let s = &stats.connectors["replay"];
    assert_eq!(s.produced, 50 - after_first.len() as u64, "{s:?}");
    assert_eq!(s.duplicates, 8, "the recorded ids were checked: {s:?}");

    // Done: a third run reads nothing.
    let stats = replay(Arc::new(bus.clone()), &cfg).await.unwrap();
    assert_eq!(stats.connectors["replay"].produced, 0);
    assert_eq!(posts(&bus.inner).await.len(), 50);
}

/// Chunks acknowledged out of order are skipped on the re-read; a file
/// replaced by a shorter one (rotated) is read from its start; an id that
/// appears twice in a file is produced twice (a replay produces every line;
/// the stores keep one row per id).
#[tokio::test]
async fn issue_11_file_rotation_and_repeated_ids() {
    init_tracing();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("posts.jsonl");
    // 0..40, then 5 and 6 again.
    std::fs::write(&data, lines(0..40) + &lines(5..7)).unwrap();
    let cfg = file_config(&dir, &data, 8);
    let bus = earshot_transport::MemoryBus::new();
    let stats = replay(Arc::new(bus.clone()), &cfg).await.unwrap();
    let s = &stats.connectors["replay"];
    assert_eq!((s.produced, s.duplicates), (42, 0), "{s:?}");
    let all = counts(&bus).await;
    assert_eq!((all[&5], all[&6], all[&7]), (2, 2, 1));

    // Rotated: a new, shorter file under the same name.
    std::fs::write(&data, lines(100..110)).unwrap();
    let stats = replay(Arc::new(bus.clone()), &cfg).await.unwrap();
    assert_eq!(stats.connectors["replay"].produced, 10);
    let all = counts(&bus).await;
    assert!((100..110).all(|i| all[&i] == 1), "{all:?}");
    assert_eq!(all.len(), 50);
    // No id was recorded for all this.
    let store = CursorStore::open(&dir.path().join("cursors.db")).unwrap();
    assert!(store.export("replay").await.unwrap().seen.is_empty());
}

/// Later chunks acknowledged while an earlier one is slow, then the run is
/// stopped before the slow one finished writing its cursor: the next run
/// reads only the unrecorded lines (the cursor's spans are skipped).
#[tokio::test]
async fn issue_11_file_restart_skips_chunks_acknowledged_out_of_order() {
    init_tracing();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("posts.jsonl");
    std::fs::write(&data, lines(0..40)).unwrap();
    let cfg = file_config(&dir, &data, 10);
    // The first chunk (0..10) never completes while `stuck`.
    let stuck = Arc::new(AtomicBool::new(true));
    let bus = faulty(
        stuck.clone(),
        |n| n < 10,
        |_| futures::future::pending().boxed(),
    );
    let topics = TopicsConfig::default();
    let shutdown = CancellationToken::new();
    let run = tokio::spawn({
        let (bus, cfg, shutdown, topics) =
            (bus.clone(), cfg.clone(), shutdown.clone(), topics.clone());
        async move { earshot_connect::run(Arc::new(bus), &topics, &cfg, shutdown).await }
    });
    // Wait for the three later chunks to be recorded, then end the process's
    // work abruptly (the stuck chunk never completes: as a crash would leave it).
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let store = CursorStore::open(&dir.path().join("cursors.db")).unwrap();
        let cursors = store.export("replay").await.unwrap().cursors;
        if cursors.iter().any(|(_, v)| v.contains("[30,"))
            && cursors.iter().any(|(_, v)| v.contains("[20,"))
            && cursors.iter().any(|(_, v)| v.contains("[10,"))
        {
            assert!(
                cursors[0]
                    .1
                    .starts_with(r#"{"v":2,"line":0,"offset":0,"done":"#),
                "{cursors:?}"
            );
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "chunks never recorded: {cursors:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    run.abort();
    let _ = run.await;
    assert_eq!(posts(&bus.inner).await.len(), 30);

    stuck.store(false, Ordering::SeqCst);
    let stats = replay(Arc::new(bus.clone()), &cfg).await.unwrap();
    let s = &stats.connectors["replay"];
    assert_eq!(
        (s.produced, s.duplicates),
        (10, 0),
        "only the unrecorded chunk: {s:?}"
    );
    let all = counts(&bus.inner).await;
    assert_eq!(all.len(), 40);
    assert!(all.values().all(|&n| n == 1), "{all:?}");
}

/// Several chunks are in flight at once; the cursor must still cover only
/// chunks that are wholly acknowledged. Here the first chunk fails after the
/// three behind it succeeded: the next run must re-read it (a cursor saved
/// past it would lose its posts) and produce only it, each post once.
#[tokio::test]
async fn issue_11_file_cursor_moves_in_order_with_chunks_in_flight() {
    init_tracing();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("posts.jsonl");
    std::fs::write(&data, lines(0..40)).unwrap();
    let cfg = file_config(&dir, &data, 10);
    // The first chunk's posts (`file:0`..`file:9`) fail after a delay while
    // `down`, so later chunks are acknowledged before it.
    let down = Arc::new(AtomicBool::new(true));
    let bus = faulty(
        down.clone(),
        |n| n < 10,
        |topic| {
            async move {
                tokio::time::sleep(Duration::from_millis(300)).await;
                delivery_error(topic)
            }
            .boxed()
        },
    );
    let failed = replay(Arc::new(bus.clone()), &cfg).await;
    let first_run = unique_ids(&posts(&bus.inner).await);
    assert!(first_run.iter().all(|id| number(id) >= 10), "{first_run:?}");
    assert!(failed.is_err() || failed.unwrap().connectors["replay"].errors > 0);

    down.store(false, Ordering::SeqCst);
    let stats = replay(Arc::new(bus.clone()), &cfg).await.unwrap();
    let all = counts(&bus.inner).await;
    assert_eq!(all.len(), 40, "every post once the bus is back: {all:?}");
    assert!(all.values().all(|&n| n == 1), "none twice: {all:?}");
    let s = &stats.connectors["replay"];
    assert_eq!(s.produced, 40 - first_run.len() as u64, "{s:?}");
}

/// A cursor saved by the version before exact cursors (the position alone,
/// with the chunks acknowledged past it recorded by id): the first run after
/// the upgrade checks those ids, so nothing is produced twice.
#[tokio::test]
async fn issue_11_file_cursor_of_the_previous_version_is_honoured() {
    init_tracing();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("posts.jsonl");
    let text = lines(0..40);
    std::fs::write(&data, &text).unwrap();
    let cfg = file_config(&dir, &data, 10);
    // Lines 1..=10 acknowledged in order, 21..=30 out of order, by id.
    let offset: usize = text.lines().take(10).map(|l| l.len() + 1).sum();
    let store = CursorStore::open(&dir.path().join("cursors.db")).unwrap();
    let old = format!(r#"{{"line":10,"offset":{offset}}}"#);
    let ids = (20..30).map(|i| format!("file:{i}")).collect();
    store
        .commit(
            "replay",
            Some((format!("file:{}", data.display()), old)),
            ids,
        )
        .await
        .unwrap();
    drop(store);
    let bus = earshot_transport::MemoryBus::new();
    let stats = replay(Arc::new(bus.clone()), &cfg).await.unwrap();
    let s = &stats.connectors["replay"];
    assert_eq!((s.produced, s.duplicates), (20, 10), "{s:?}");
    let all = counts(&bus).await;
    let expected: Vec<u32> = (10..20).chain(30..40).collect();
    assert_eq!(all.keys().copied().collect::<Vec<_>>(), expected);
    assert!(all.values().all(|&n| n == 1), "{all:?}");
}
