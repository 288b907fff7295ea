//! Live configuration (issue 13, item 3): files changed under a running
//! `earshot run --follow` (the embedded mode, webhook in, SQLite out) are
//! picked up without a restart, on file change and on SIGHUP; a broken change
//! is refused with each problem logged and the running watchlists stay.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use earshot_tests::process::Daemon;
use earshot_tests::webhook::{self, free_port, wait_listening};

const SECRET_ENV: &str = "EARSHOT_TEST_RELOAD_HOOK_SECRET";
const SECRET: &[u8] = b"reload-secret";
const WAIT: Duration = Duration::from_secs(60);

fn brands(ids: &[&str]) -> String {
    ids.iter()
        .map(|id| format!("[[brand]]\nid = \"{id}\"\nname = \"{id}\"\naliases = [\"{id}\"]\n"))
        .collect()
}

/// The brands the store recorded for `post_id`.
fn brands_of(db: &Path, post_id: &str) -> Vec<String> {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    let mut stmt = conn
        .prepare("SELECT entity_id FROM mentions WHERE post_id = ?1 ORDER BY entity_id")
        .unwrap();
    stmt.query_map([post_id], |r| r.get::<_, String>(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

struct Embedded {
    run: Daemon,
    addr: SocketAddr,
    db: std::path::PathBuf,
    brands: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Embedded {
    fn start() -> Embedded {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("store.db"); // embedded_webhook_config's store
        let port = free_port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let brands_file = dir.path().join("brands.toml");
        std::fs::write(&brands_file, brands(&["acme"])).unwrap();
        let config = webhook::embedded_webhook_config(
            dir.path(),
            port,
            SECRET_ENV,
            "[matcher]\nbrands = [\"brands.toml\"]",
        );
        std::env::set_var(SECRET_ENV, std::str::from_utf8(SECRET).unwrap());
        let bin = Path::new(env!("CARGO_BIN_EXE_earshot"));
        let mut run = Daemon::spawn(bin, &config, &["run", "--follow"], dir.path(), "run");
        wait_listening(addr, &mut run);
        Embedded {
            run,
            addr,
            db,
            brands: brands_file,
            _dir: dir,
        }
    }

    /// Sends one post; the 202 means it is in the store (issue 12).
    fn send(&self, id: &str, text: &str) {
        let body = serde_json::json!({ "id": id, "text": text }).to_string();
        let status = webhook::post(self.addr, "/ingest", SECRET, body.as_bytes());
        assert_eq!(status, Some(202), "{}", self.run.log());
    }
}

#[test]
fn issue_13_watchlist_change_reloads_a_running_run_follow() {
    let mut e = Embedded::start();
    e.send("a1", "acme and globex both posted today");
    assert_eq!(brands_of(&e.db, "webhook:a1"), ["acme"]);

    // An editor's save: write a new file beside it and rename it over.
    let tmp = e.brands.with_extension("toml.swp");
    std::fs::write(&tmp, brands(&["acme", "globex"])).unwrap();
    std::fs::rename(&tmp, &e.brands).unwrap();
    e.run.wait_for_log("watchlists reloaded", 1, WAIT);
    assert!(
        e.run.log().contains("cause=\"file changed\""),
        "{}",
        e.run.log()
    );
    e.send("a2", "acme and globex both posted today");
    assert_eq!(brands_of(&e.db, "webhook:a2"), ["acme", "globex"]);

    // A broken change is refused, naming the file; the running watchlists stay.
    std::fs::write(
        &e.brands,
        "[[brand]]\nid = \"initech\"\nquery = 'initech AND ('\n",
    )
    .unwrap();
    e.run.wait_for_log("reload refused", 1, WAIT);
    assert!(e.run.log().contains("brands.toml"), "{}", e.run.log());
    e.send("a3", "acme and globex both posted today");
    assert_eq!(brands_of(&e.db, "webhook:a3"), ["acme", "globex"]);

    // SIGHUP reloads too (here: the fixed file, written in place).
    std::fs::write(&e.brands, brands(&["globex"])).unwrap();
    let hup = Command::new("kill")
        .args(["-HUP", &e.run.pid().to_string()])
        .status()
        .unwrap();
    assert!(hup.success());
    e.run.wait_for_log("watchlists reloaded", 2, WAIT);
    assert!(e.run.log().contains("cause=\"SIGHUP\""), "{}", e.run.log());
    e.send("a4", "acme and globex both posted today");
    assert_eq!(brands_of(&e.db, "webhook:a4"), ["globex"]);

    let (status, _) = e.run.terminate(Duration::from_secs(30));
    assert!(status.success(), "{status}\n{}", e.run.log());
}
