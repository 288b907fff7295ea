//! A daemon told to stop (SIGTERM) while it still waits for its broker exits
//! 0 at once: the signal handlers exist from the daemon's first step, and
//! the wait gives way to shutdown. Before, the handlers came after the bus,
//! so such a SIGTERM killed the process outright (`kafka_crash` saw it when
//! its restarted daemon was stopped a moment after starting).

use std::path::Path;
use std::time::Duration;

use earshot_tests::process::Daemon;

/// A loopback port with nothing listening: the broker that never answers.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[test]
fn sigterm_while_the_broker_is_down_exits_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("earshot.toml");
    std::fs::write(
        &config,
        format!(
            "[transport.kafka]\nbrokers = \"127.0.0.1:{}\"\n\n[sink.sqlite]\npath = \"{}\"\n",
            closed_port(),
            dir.path().join("store.db").display()
        ),
    )
    .unwrap();
    let bin = Path::new(env!("CARGO_BIN_EXE_earshot"));
    for daemon in ["match", "sink", "connect"] {
        let mut d = Daemon::spawn(bin, &config, &[daemon], dir.path(), daemon);
        d.wait_for_log("ops server listening", 1, Duration::from_secs(60));
        // Still connecting: librdkafka retries the closed port meanwhile.
        std::thread::sleep(Duration::from_millis(500));
        assert!(d.running(), "{daemon} ended on its own:\n{}", d.log());
        let (status, took) = d.terminate(Duration::from_secs(20));
        assert!(status.success(), "{daemon}: {status}\n{}", d.log());
        assert!(took < Duration::from_secs(10), "{daemon}: {took:?}");
        assert!(
            d.log().contains("stopped before the broker answered"),
            "{daemon}:\n{}",
            d.log()
        );
    }
}
