//! A partition held by an unacknowledged offset says so, periodically
//! (issue 12, finding 3): before, a failed dead-letter send or a lost scoring
//! task held the watermark with one log line at most, then silence.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use earshot_transport::{Bus, ConsumerOptions, MemoryBus, Record, TopicSpec};

/// Collects what the test's subscriber writes.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn issue_12_a_held_partition_is_logged_every_interval_even_when_the_stage_is_stuck() {
    let logs = Logs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let bus = MemoryBus::new();
    bus.ensure_topics(&[TopicSpec::new("raw", 1)])
        .await
        .unwrap();
    for i in 0..4 {
        bus.producer()
            .send("raw", Record::new(format!("k{i}"), b"{}".to_vec()))
            .await
            .unwrap();
    }
    let mut options = ConsumerOptions::new("held", ["raw"]);
    options.max_in_flight = 2;
    options.commit_interval = Duration::from_millis(20);
    options.held_report_interval = Duration::from_millis(100);
    let mut consumer = bus.consumer(options).await.unwrap();
    let first = consumer.recv().await.unwrap().unwrap();
    first.ack.ack();
    let second = consumer.recv().await.unwrap().unwrap();
    second.ack.nack("dead-letter send failed");
    let third = consumer.recv().await.unwrap().unwrap();
    let fourth = consumer.recv().await.unwrap().unwrap();
    // The budget (2) is now used up by the failed offset's successors in
    // flight: `recv` waits, as a stuck stage's would, and still reports.
    let _ = tokio::time::timeout(Duration::from_millis(450), consumer.recv()).await;
    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    let held: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("partition watermark held"))
        .collect();
    assert!(held.len() >= 2, "expected periodic reports, got:\n{text}");
    for line in &held {
        for part in [
            "group=held",
            "topic=\"raw\"",
            "partition=0",
            "held_offset=1",
            "dead-letter send failed",
        ] {
            assert!(line.contains(part), "{part} missing in {line}");
        }
    }
    assert_eq!(
        bus.committed("held", "raw", 0),
        Some(1),
        "held below offset 1"
    );
    third.ack.ack();
    fourth.ack.ack();
    consumer.close(Duration::from_millis(100)).await.unwrap();
}
