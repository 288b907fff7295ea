//! SIGHUP of a running `earshot match` with a watchlist that nests past the
//! query parser's limits (issue 12): the reload is refused and logged, the
//! daemon keeps scoring with the old watchlists. Needs the real broker
//! (`EARSHOT_TEST_KAFKA`); skips without it.

mod kafka_common;

use std::process::Command;
use std::time::{Duration, Instant};

use kafka_common::Pipeline;

fn brand(query: &str) -> String {
    format!("[[brand]]\nid = \"acme\"\nname = \"Acme\"\nquery = '{query}'\n")
}

fn hup(pid: u32) {
    let sent = Command::new("kill")
        .args(["-HUP", &pid.to_string()])
        .status()
        .expect("running kill");
    assert!(sent.success());
}

#[test]
fn issue_12_sighup_with_a_too_deep_watchlist_keeps_match_running() {
    let Some(p) = Pipeline::new("reload", 1) else {
        return;
    };
    let mut config = std::fs::read_to_string(&p.config).unwrap();
    config.push_str("\n[matcher]\nbrands = [\"brands.toml\"]\n");
    std::fs::write(&p.config, config).unwrap();
    let brands = p.dir.path().join("brands.toml");
    std::fs::write(&brands, brand("acme AND NOT globex")).unwrap();

    p.produce_posts(0..100);
    let mut daemon = p.start_match("match");
    let scored = p.scored_reader();
    scored.wait_until(
        Duration::from_secs(120),
        "the first posts scored",
        |d, _| d >= 100,
    );

    for (n, deep) in [
        format!("{}acme{}", "(".repeat(2_000), ")".repeat(2_000)),
        format!("acme AND {}refund", "NOT ".repeat(100_000)),
    ]
    .iter()
    .enumerate()
    {
        std::fs::write(&brands, brand(deep)).unwrap();
        hup(daemon.pid());
        let deadline = Instant::now() + Duration::from_secs(30);
        while daemon.log().matches("reload refused").count() <= n {
            assert!(daemon.running(), "match died on reload:\n{}", daemon.log());
            assert!(
                Instant::now() < deadline,
                "no refusal logged:\n{}",
                daemon.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    let log = daemon.log();
    assert!(log.contains("nesting deeper than 100"), "{log}");
    assert!(log.contains("bytes long"), "{log}");

    // Still scoring, with the watchlists it started with.
    p.produce_posts(100..200);
    scored.wait_until(
        Duration::from_secs(120),
        "posts after the refused reloads scored",
        |d, _| d >= 200,
    );
    assert!(daemon.running());
    let (status, _) = daemon.terminate(Duration::from_secs(30));
    assert!(status.success(), "{status}\n{}", daemon.log());
}
