//! A post the transport refuses permanently (over the broker's message size
//! limit): issue 12, finding 2 for connectors.

mod common;

use std::sync::Arc;

use common::*;
use earshot_transport::{Producer, TopicsConfig, TransportError};
use futures::FutureExt;
use tokio_util::sync::CancellationToken;

/// Before, the refusal failed the whole emit: the connector stopped with an
/// error and its cursor never moved past the post, so every restart refetched
/// and refused it again. Now the post is dead-lettered with the reason, the
/// others are produced, and the cursor moves on.
#[tokio::test]
async fn issue_12_connector_dead_letters_a_post_the_transport_refuses() {
    init_tracing();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("posts.jsonl");
    let line = |id: &str, text: &str| format!("{{\"id\": \"{id}\", \"text\": \"{text}\"}}\n");
    let big = "acme ".repeat(2_000);
    std::fs::write(
        &data,
        [
            line("1", "one"),
            line("2", "two"),
            line("3", &big),
            line("4", "four"),
        ]
        .concat(),
    )
    .unwrap();
    let cfg = config(
        &dir,
        &format!(
            r#"
            [cursors]
            path = "CURSORS"
            [[connectors]]
            name = "replay"
            kind = "file"
            paths = ["{}"]
            one_shot = true
            "#,
            data.display()
        ),
    );
    // The broker refuses raw posts over 5,000 bytes, as over `message.max.bytes`.
    let bus = FaultyBus::new(|inner, topic, record| {
        if record.payload.len() > 5_000 && topic == TopicsConfig::default().raw {
            let topic = topic.to_string();
            return futures::future::ready(Err(TransportError::Refused {
                topic,
                message: "Broker: Message size too large".into(),
            }))
            .boxed();
        }
        inner.send(topic, record)
    });
    let topics = TopicsConfig::default();
    let run = || {
        earshot_connect::run(
            Arc::new(bus.clone()),
            &topics,
            &cfg,
            CancellationToken::new(),
        )
    };
    let stats = run().await.expect("the connector keeps going");
    let s = &stats.connectors["replay"];
    assert_eq!((s.produced, s.dead_letters), (3, 1), "{s:?}");
    assert_eq!(
        unique_ids(&posts(&bus.inner).await),
        ["file:1", "file:2", "file:4"]
    );
    let dls = dead_letters(&bus.inner).await;
    assert_eq!(dls.len(), 1);
    assert!(
        dls[0].reason.contains("Message size too large"),
        "{:?}",
        dls[0].reason
    );
    // The cursor moved past it: a second run has nothing left to do.
    let stats = run().await.unwrap();
    let s = &stats.connectors["replay"];
    assert_eq!((s.produced, s.dead_letters), (0, 0), "{s:?}");
}

/// Found by the fault campaign (tests/faults/run.sh): a post refused for its
/// size was dead-lettered with its whole payload, so the dead-letter topic
/// refused the dead letter too (same broker limit), and it ended in the
/// cursor store's quarantine table, out of the dead-letter topic operators
/// read. Now a refused dead letter is sent again with its payload halved
/// (as the sink does), and reaches the topic.
#[tokio::test]
async fn issue_12_the_dead_letter_of_an_oversize_post_is_cut_to_fit_the_topic() {
    init_tracing();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("posts.jsonl");
    let big = "acme ".repeat(4_000);
    std::fs::write(
        &data,
        format!("{{\"id\": \"1\", \"text\": \"one\"}}\n{{\"id\": \"2\", \"text\": \"{big}\"}}\n"),
    )
    .unwrap();
    let cfg = config(
        &dir,
        &format!(
            r#"
            [cursors]
            path = "CURSORS"
            [[connectors]]
            name = "replay"
            kind = "file"
            paths = ["{}"]
            one_shot = true
            "#,
            data.display()
        ),
    );
    // One limit for every topic, as a broker's `message.max.bytes`.
    let bus = FaultyBus::new(|inner, topic, record| {
        if record.payload.len() > 5_000 {
            let topic = topic.to_string();
            return futures::future::ready(Err(TransportError::Refused {
                topic,
                message: "Broker: Message size too large".into(),
            }))
            .boxed();
        }
        inner.send(topic, record)
    });
    let stats = earshot_connect::run(
        Arc::new(bus.clone()),
        &TopicsConfig::default(),
        &cfg,
        CancellationToken::new(),
    )
    .await
    .expect("the connector keeps going");
    let s = &stats.connectors["replay"];
    assert_eq!((s.produced, s.dead_letters), (1, 1), "{s:?}");
    let dls = dead_letters(&bus.inner).await;
    assert_eq!(dls.len(), 1, "the dead letter reached the topic");
    assert!(
        dls[0].reason.contains("Message size too large") && dls[0].payload_cut_from.is_some(),
        "{:?}",
        dls[0]
    );
    assert!(dls[0].payload.len() < 5_000 && dls[0].payload_text().contains("acme acme"));
}
