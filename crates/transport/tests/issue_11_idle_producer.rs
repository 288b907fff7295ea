//! Issue 11: an idle producer must not spin. rdkafka's producer polling
//! thread waits for delivery reports in 100 ms polls; before the patch in
//! `vendor/rdkafka` (timeouts rounded up to whole milliseconds) each poll
//! spun on 0 ms waits for its last fraction of a millisecond, about 1 % of a
//! core per producer whether or not anything was produced.
//!
//! The figure is the polling thread's own CPU time (`schedstat`, in
//! nanoseconds) over two idle seconds, so the machine's load cannot make it
//! pass: a spinning thread accumulates CPU time whenever it runs.

#![cfg(feature = "kafka")]

use std::time::Duration;

use rdkafka::producer::FutureProducer;
use rdkafka::ClientConfig;

#[test]
fn issue_11_an_idle_producer_polling_thread_does_not_spin() {
    // No broker is needed: the polling thread runs from creation on. The
    // port is closed, so the client only retries its connection now and then.
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", "127.0.0.1:9")
        .set("log_level", "0")
        .create()
        .expect("producer");
    // The thread is named by rdkafka ("producer polling thread"; Linux
    // keeps 15 bytes of it).
    std::thread::sleep(Duration::from_millis(300));
    let Some(before) = earshot_tests::thread_cpu_ns("producer pollin") else {
        // schedstat needs a kernel with CONFIG_SCHEDSTATS; say so rather
        // than pass silently.
        panic!(
            "cannot read the producer polling thread's CPU time from /proc/self/task/*/schedstat"
        );
    };
    std::thread::sleep(Duration::from_secs(2));
    let spent =
        earshot_tests::thread_cpu_ns("producer pollin").expect("thread still there") - before;
    drop(producer);
    // Unpatched: about 20 ms (1 ms of spinning every 100 ms). Patched: 20
    // wake-ups that each find nothing, tens of microseconds in all.
    assert!(
        spent < 5_000_000,
        "the idle producer's polling thread used {:.1} ms of CPU in 2 s",
        spent as f64 / 1e6
    );
}
