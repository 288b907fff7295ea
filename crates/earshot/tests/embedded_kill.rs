//! `earshot run --follow` (the embedded mode: in-memory bus, SQLite store)
//! killed with SIGKILL while a webhook sender posts to it: every post the
//! receiver answered 202 for must already be in the store, and after a
//! restart and the sender's retries of the rest, every post is stored once.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use earshot_tests::process::Daemon;
use earshot_tests::webhook::{self, free_port, wait_listening};

const SECRET_ENV: &str = "EARSHOT_TEST_KILL9_HOOK_SECRET";
const SECRET: &[u8] = b"kill9-secret";
const SENDERS: usize = 4;
const PER_SENDER: usize = 400;

fn post(addr: SocketAddr, body: &[u8]) -> Option<u16> {
    webhook::post(addr, "/ingest", SECRET, body)
}

fn body(id: &str) -> Vec<u8> {
    format!(r#"{{"id": "{id}", "text": "Acme support answered me, thanks ({id})"}}"#).into_bytes()
}

/// Post ids in the store, with how many rows each has.
fn stored(db: &Path) -> Vec<(String, u64)> {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    let mut stmt = conn
        .prepare("SELECT post_id, COUNT(*) FROM interactions GROUP BY post_id")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, u64>(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// Finding 1 of issue 12: the in-memory bus acknowledged a record once it was
/// in RAM, so a webhook answered 202 (and remembered the id as produced) for
/// posts a `kill -9` then lost. Now the 202 means "committed in the store".
#[test]
fn issue_12_embedded_kill9_loses_no_acknowledged_post() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store.db");
    let port = free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let config = webhook::embedded_webhook_config(dir.path(), port, SECRET_ENV, "");
    std::env::set_var(SECRET_ENV, std::str::from_utf8(SECRET).unwrap());
    let bin = Path::new(env!("CARGO_BIN_EXE_earshot"));
    let mut run = Daemon::spawn(bin, &config, &["run", "--follow"], dir.path(), "run-1");
    wait_listening(addr, &mut run);

    // Senders post one post per request until the receiver dies.
    let acked = Arc::new(Mutex::new(BTreeSet::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let senders: Vec<_> = (0..SENDERS)
        .map(|s| {
            let (acked, stop) = (acked.clone(), stop.clone());
            std::thread::spawn(move || {
                for n in 0..PER_SENDER {
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                    let id = format!("kill:{s}-{n}");
                    match post(addr, &body(&id)) {
                        Some(202) => {
                            acked.lock().unwrap().insert(id);
                        }
                        Some(other) => panic!("unexpected answer {other} for {id}"),
                        // Down: the rest is retried after the restart.
                        None => return,
                    }
                }
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(120);
    while acked.lock().unwrap().len() < 300 {
        assert!(Instant::now() < deadline, "too slow: {}", run.log());
        assert!(run.running(), "earshot run exited: {}", run.log());
        std::thread::sleep(Duration::from_millis(5));
    }
    run.kill9();
    stop.store(true, Ordering::SeqCst);
    for s in senders {
        s.join().unwrap();
    }
    let acked_before_kill = acked.lock().unwrap().clone();
    assert!(acked_before_kill.len() >= 300);

    // The guarantee itself: a 202 means durable, before any restart.
    let in_store: BTreeSet<String> = stored(&db).into_iter().map(|(id, _)| id).collect();
    let lost: Vec<&String> = acked_before_kill.difference(&in_store).collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged posts are not in the store after kill -9, e.g. {:?}",
        lost.len(),
        acked_before_kill.len(),
        &lost[..lost.len().min(5)]
    );

    // Restart; the sender retries everything it got no 202 for.
    let mut run = Daemon::spawn(bin, &config, &["run", "--follow"], dir.path(), "run-2");
    wait_listening(addr, &mut run);
    let all: Vec<String> = (0..SENDERS)
        .flat_map(|s| (0..PER_SENDER).map(move |n| format!("kill:{s}-{n}")))
        .collect();
    for id in all.iter().filter(|id| !acked_before_kill.contains(*id)) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match post(addr, &body(id)) {
                Some(202) => break,
                answer => {
                    assert!(
                        Instant::now() < deadline,
                        "{id} not accepted ({answer:?}): {}",
                        run.log()
                    );
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        }
    }
    // Every post was answered 202 by now, so every one is in the store, once.
    let rows = stored(&db);
    let ids: BTreeSet<String> = rows.iter().map(|(id, _)| id.clone()).collect();
    let missing: Vec<&String> = all.iter().filter(|id| !ids.contains(*id)).collect();
    assert!(missing.is_empty(), "missing after retries: {missing:?}");
    assert!(rows.iter().all(|(_, n)| *n == 1), "a post stored twice");
    assert_eq!(rows.len(), all.len(), "nothing else was stored");
    let (status, _) = run.terminate(Duration::from_secs(30));
    assert!(status.success(), "{}", run.log());
}
