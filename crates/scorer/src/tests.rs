//! The stage over the in-memory bus (the Kafka end-to-end tests drive the
//! real binary).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use earshot_match::SharedMatcher;
use earshot_model::{EntityKind, Post, ORIGIN_HEADER, SCHEMA_HEADER};
use earshot_transport::{Bus, ConsumerOptions, DeliveryFuture, Producer, Record, TopicsConfig};
use tokio_util::sync::CancellationToken;

use crate::score::{fit, BrandTally};
use crate::*;
use earshot_match::{MatcherConfig, MemorySource};
use earshot_model::Interaction;
use earshot_transport::MemoryBus;
use futures::FutureExt;

fn matcher() -> Arc<SharedMatcher> {
    let config: MatcherConfig = toml::from_str(r#"brands = ["brands.toml"]"#).unwrap();
    let files = MemorySource::default().with(
        "brands.toml",
        "[[brand]]\nid = \"acme\"\nname = \"Acme\"\nquery = 'acme'\n",
    );
    Arc::new(SharedMatcher::new(config.compile(&files).unwrap()))
}

async fn drain(bus: &MemoryBus, topic: &str, n: usize) -> Vec<earshot_transport::Message> {
    let mut c = bus
        .consumer(ConsumerOptions::new(
            earshot_tests::unique_name("check"),
            [topic],
        ))
        .await
        .unwrap();
    let mut out = Vec::new();
    while out.len() < n {
        // Generous: the oversize test scores a 70 KB post in a debug build.
        let d = tokio::time::timeout(Duration::from_secs(60), c.recv())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        out.push(d.message.clone());
        d.ack.ack();
    }
    c.close(Duration::from_secs(1)).await.unwrap();
    out
}

/// Good posts are scored, poison goes to the dead-letter topic, and the
/// stage commits everything on shutdown (over the in-memory bus; the
/// Kafka end-to-end tests drive the real binary).
#[tokio::test]
async fn scores_good_posts_and_dead_letters_poison() {
    let bus = MemoryBus::new();
    let topics = TopicsConfig::default();
    bus.ensure_topics(&topics.specs()).await.unwrap();
    let producer = bus.producer();
    for i in 0..50 {
        let post = Post::new(format!("test:{i}"), format!("acme post {i}"));
        producer
            .send(
                &topics.raw,
                Record::new(post.id.clone(), post.to_json()).header(SCHEMA_HEADER, "1"),
            )
            .await
            .unwrap();
    }
    producer
        .send(&topics.raw, Record::new("bad:1", b"{not json".to_vec()))
        .await
        .unwrap();
    let future = Post {
        schema_version: 99,
        ..Post::new("bad:2", "x")
    };
    producer
        .send(&topics.raw, Record::new("bad:2", future.to_json()))
        .await
        .unwrap();

    let shutdown = CancellationToken::new();
    let config = MatchStageConfig {
        batch_size: 8,
        ..MatchStageConfig::default()
    };
    let stage = tokio::spawn({
        let (bus, topics, shutdown) = (
            Arc::new(bus.clone()) as Arc<dyn Bus>,
            topics.clone(),
            shutdown.clone(),
        );
        async move { run(bus, &topics, matcher(), &config, shutdown).await }
    });

    let scored = drain(&bus, &topics.scored, 50).await;
    let mut ids: Vec<String> = scored.iter().map(|m| m.key.clone().unwrap()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 50);
    for m in &scored {
        assert_eq!(m.header(ORIGIN_HEADER), Some(STAGE));
        assert_eq!(m.header(SCHEMA_HEADER), Some("1"));
        let i = Interaction::from_json(&m.payload).unwrap();
        assert_eq!(Some(i.post.id.as_str()), m.key.as_deref());
        assert_eq!(i.entities(earshot_model::EntityKind::Brand), ["acme"]);
    }
    let dead = drain(&bus, &topics.dead_letter, 2).await;
    let reasons: Vec<&str> = dead
        .iter()
        .map(|m| m.header("earshot-error").unwrap())
        .collect();
    assert!(
        reasons.iter().any(|r| r.contains("invalid JSON")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("schema_version 99")),
        "{reasons:?}"
    );
    assert!(dead
        .iter()
        .all(|m| m.header("earshot-stage") == Some(STAGE)));

    shutdown.cancel();
    let stats = stage.await.unwrap().unwrap();
    assert_eq!(
        (
            stats.received,
            stats.scored,
            stats.dead_lettered,
            stats.abandoned
        ),
        (52, 50, 2, 0)
    );
    let committed: i64 = (0..topics.partitions)
        .map(|p| bus.committed("earshot-match", &topics.raw, p).unwrap_or(0))
        .sum();
    assert_eq!(
        committed, 52,
        "every raw post was acknowledged and committed"
    );
}

/// A bus whose producer fails the first `failures` sends to one topic.
struct FlakyBus {
    inner: MemoryBus,
    topic: String,
    failures: Arc<AtomicU64>,
    refuse: bool,
}

struct FlakyProducer {
    inner: Arc<dyn Producer>,
    topic: String,
    failures: Arc<AtomicU64>,
    refuse: bool,
}

impl Producer for FlakyProducer {
    fn send(&self, topic: &str, record: Record) -> DeliveryFuture {
        let fail = topic == self.topic
            && self
                .failures
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
        if fail {
            let topic = topic.to_string();
            let error = if self.refuse {
                earshot_transport::TransportError::Refused {
                    topic,
                    message: "Broker: Message size too large (test)".into(),
                }
            } else {
                earshot_transport::TransportError::Delivery {
                    topic,
                    message: "broker unavailable (test)".into(),
                }
            };
            return futures::future::ready(Err(error)).boxed();
        }
        self.inner.send(topic, record)
    }
    fn flush(
        &self,
        timeout: Duration,
    ) -> futures::future::BoxFuture<'_, Result<(), earshot_transport::TransportError>> {
        self.inner.flush(timeout)
    }
}

#[async_trait::async_trait]
impl Bus for FlakyBus {
    async fn ensure_topics(
        &self,
        topics: &[earshot_transport::TopicSpec],
    ) -> Result<(), earshot_transport::TransportError> {
        self.inner.ensure_topics(topics).await
    }
    fn producer(&self) -> Arc<dyn Producer> {
        Arc::new(FlakyProducer {
            inner: self.inner.producer(),
            topic: self.topic.clone(),
            failures: self.failures.clone(),
            refuse: self.refuse,
        })
    }
    async fn consumer(
        &self,
        options: ConsumerOptions,
    ) -> Result<Box<dyn earshot_transport::Consumer>, earshot_transport::TransportError> {
        self.inner.consumer(options).await
    }
}

async fn run_flaky(
    failures: u64,
    posts: usize,
) -> (
    MatchStats,
    MemoryBus,
    TopicsConfig,
    Vec<earshot_transport::Message>,
) {
    let bus = MemoryBus::new();
    let topics = TopicsConfig {
        partitions: 1,
        ..TopicsConfig::default()
    };
    bus.ensure_topics(&topics.specs()).await.unwrap();
    for i in 0..posts {
        let post = Post::new(format!("test:{i}"), "acme");
        bus.producer()
            .send(&topics.raw, Record::new(post.id.clone(), post.to_json()))
            .await
            .unwrap();
    }
    let flaky = FlakyBus {
        inner: bus.clone(),
        topic: topics.scored.clone(),
        failures: Arc::new(AtomicU64::new(failures)),
        refuse: false,
    };
    let config = MatchStageConfig {
        retry_backoff_ms: 5,
        retry_backoff_max_ms: 20,
        drain_timeout_ms: 300,
        ..MatchStageConfig::default()
    };
    let shutdown = CancellationToken::new();
    let stage = tokio::spawn({
        let (topics, shutdown) = (topics.clone(), shutdown.clone());
        async move { run(Arc::new(flaky), &topics, matcher(), &config, shutdown).await }
    });
    let scored = if failures < u64::MAX {
        drain(&bus, &topics.scored, posts).await
    } else {
        tokio::time::sleep(Duration::from_millis(500)).await;
        Vec::new()
    };
    shutdown.cancel();
    let stats = stage.await.unwrap().unwrap();
    (stats, bus, topics, scored)
}

/// Failed deliveries to the scored topic are retried (the same record)
/// until they succeed; only then is the raw post acknowledged.
#[tokio::test]
async fn failed_deliveries_are_retried_then_acknowledged() {
    let (stats, bus, topics, scored) = run_flaky(7, 10).await;
    assert_eq!(stats.retries, 7);
    assert_eq!((stats.scored, stats.abandoned), (10, 0));
    let mut keys: Vec<_> = scored.iter().map(|m| m.key.clone().unwrap()).collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 10);
    assert_eq!(bus.committed("earshot-match", &topics.raw, 0), Some(10));
}

/// A delivery that never succeeds is never acknowledged: at shutdown the
/// raw offsets stay uncommitted, so the posts are redelivered after restart.
#[tokio::test]
async fn a_delivery_that_keeps_failing_is_never_acknowledged() {
    let (stats, bus, topics, _) = run_flaky(u64::MAX, 10).await;
    assert_eq!((stats.received, stats.scored, stats.abandoned), (10, 0, 10));
    assert!(stats.retries > 10, "{stats}");
    assert_eq!(bus.committed("earshot-match", &topics.raw, 0), None);
    assert_eq!(bus.len(&topics.scored), 0);
}

/// A matcher whose brand is an alias (the bundled example's shape): one
/// match per occurrence, as the bundled config gives.
fn alias_matcher() -> Arc<SharedMatcher> {
    let config: MatcherConfig = toml::from_str(r#"brands = ["brands.toml"]"#).unwrap();
    let files =
        MemorySource::default().with("brands.toml", "[[brand]]\nid = \"acme\"\nname = \"Acme\"\n");
    Arc::new(SharedMatcher::new(config.compile(&files).unwrap()))
}

/// Finding 2 of issue 12: a 70 KB post of repeated brand names scored
/// into a 1.06 MB record, over Kafka's 1 MB limit, and was retried
/// forever. Now it is made to fit (raw JSON dropped, one match per
/// entity), says so in a header, and its raw offset is committed.
#[tokio::test]
async fn issue_12_oversize_scored_record_is_made_to_fit() {
    let bus = MemoryBus::new();
    let topics = TopicsConfig {
        partitions: 1,
        ..TopicsConfig::default()
    };
    bus.ensure_topics(&topics.specs()).await.unwrap();
    let mut post = Post::new("test:big", "acme ".repeat(14_000));
    post.raw = Some(serde_json::json!({"body": "acme ".repeat(14_000)}));
    bus.producer()
        .send(&topics.raw, Record::new(post.id.clone(), post.to_json()))
        .await
        .unwrap();
    let shutdown = CancellationToken::new();
    let stage = tokio::spawn({
        let (bus, topics, shutdown) = (
            Arc::new(bus.clone()) as Arc<dyn Bus>,
            topics.clone(),
            shutdown.clone(),
        );
        let config = MatchStageConfig::default();
        async move { run(bus, &topics, alias_matcher(), &config, shutdown).await }
    });
    let scored = drain(&bus, &topics.scored, 1).await;
    shutdown.cancel();
    let stats = stage.await.unwrap().unwrap();
    assert_eq!((stats.scored, stats.dead_lettered), (1, 0), "{stats}");
    let m = &scored[0];
    assert!(
        m.payload.len() <= MatchStageConfig::default().max_record_bytes,
        "{} bytes",
        m.payload.len()
    );
    let cut = m.header(TRIMMED_HEADER).expect("trimmed header");
    // The matcher reads the first 64 KiB (max_text_bytes): 13,107 "acme ".
    assert_eq!(cut, "raw,matches:13107->1");
    let i = Interaction::from_json(&m.payload).unwrap();
    assert!(i.truncated);
    assert_eq!(i.entities(earshot_model::EntityKind::Brand), ["acme"]);
    assert_eq!(i.post.text.len(), 70_000, "the text itself fitted");
    assert_eq!(bus.committed("earshot-match", &topics.raw, 0), Some(1));
}

/// Trimming is deterministic and, past raw and matches, cuts the text at
/// a character boundary with a visible marker; what cannot fit is refused.
#[test]
fn issue_12_fit_cuts_text_last_and_deterministically() {
    let matcher = matcher().load();
    let post = Post::new("t:1", "acmé ".repeat(3_000));
    let a = fit(matcher.score(&post), 8_000).unwrap();
    let b = fit(matcher.score(&post), 8_000).unwrap();
    assert_eq!(a.1, b.1);
    assert!(a.0.len() <= 8_000);
    assert!(
        a.1.iter().any(|c| c.starts_with("text:18000->")),
        "{:?}",
        a.1
    );
    let i = Interaction::from_json(&a.0).unwrap();
    assert!(i
        .post
        .text
        .ends_with("[earshot: text truncated from 18000 bytes]"));
    assert!(fit(matcher.score(&post), 200).is_err());
    assert_eq!(i, a.2, "the interaction handed on is the one encoded");
}

/// Issue 11: over the in-memory bus the match stage takes the connector's
/// post as it is and hands the sink its interaction, skipping a decode on
/// each hop. Both must be exactly what decoding the payloads gives, and a
/// second consumer of the same records (no value attached) decodes them.
#[tokio::test]
async fn issue_11_attached_values_equal_their_payloads() {
    let bus = MemoryBus::new();
    let topics = TopicsConfig::default();
    bus.ensure_topics(&topics.specs()).await.unwrap();
    let mut post = Post::new("t:1", "Acme support, my Acme order is late again :(");
    post.lang = None;
    post.source = String::new();
    let payload = post.to_json();
    let record = Record::new(post.id.clone(), payload.clone()).header(SCHEMA_HEADER, "1");
    bus.producer()
        .send_attached(
            &topics.raw,
            record,
            earshot_transport::Attached::new(post.clone()),
        )
        .await
        .unwrap();
    let mut first = bus
        .consumer(ConsumerOptions::new("a", [&topics.raw]))
        .await
        .unwrap();
    let mut d = first.recv().await.unwrap().unwrap();
    let attached = d.attached.take::<Post>();
    assert!(attached.is_some(), "the first delivery carries the post");
    let matcher = matcher().load();
    let mut brands = BrandTally::default();
    let noise = Default::default();
    let typed = crate::score::score(&matcher, &d, attached, 1 << 20, &mut brands, &noise).unwrap();
    let mut decoded =
        crate::score::score(&matcher, &d, None, 1 << 20, &mut brands, &noise).unwrap();
    assert_eq!(typed.1, Interaction::from_json(&typed.0.payload).unwrap());
    // Scored a moment apart: the same but for the time of scoring.
    decoded.1.scored_at = typed.1.scored_at;
    assert_eq!(typed.1, decoded.1, "same interaction either way");
    assert_eq!(typed.1.to_json(), decoded.1.to_json());
    assert_eq!(typed.1.post.source, "t", "checked like a decoded post");
    // Another group reads the same record: nothing attached, it decodes.
    let mut second = bus
        .consumer(ConsumerOptions::new("b", [&topics.raw]))
        .await
        .unwrap();
    let d2 = second.recv().await.unwrap().unwrap();
    assert!(!d2.attached.is_some());
    assert_eq!(d2.message.payload, payload);
}

/// Finding 2 of issue 12: a permanent produce error (the broker refuses
/// the record itself) was retried forever, freezing the partition. Now
/// the raw post goes to the dead-letter topic with the reason and the
/// partition's offsets are committed past it.
#[tokio::test]
async fn issue_12_permanent_produce_error_dead_letters_and_moves_on() {
    let bus = MemoryBus::new();
    let topics = TopicsConfig {
        partitions: 1,
        ..TopicsConfig::default()
    };
    bus.ensure_topics(&topics.specs()).await.unwrap();
    for i in 0..5 {
        let post = Post::new(format!("test:{i}"), "acme");
        bus.producer()
            .send(&topics.raw, Record::new(post.id.clone(), post.to_json()))
            .await
            .unwrap();
    }
    let flaky = FlakyBus {
        inner: bus.clone(),
        topic: topics.scored.clone(),
        failures: Arc::new(AtomicU64::new(u64::MAX)),
        refuse: true,
    };
    let shutdown = CancellationToken::new();
    let stage = tokio::spawn({
        let (topics, shutdown) = (topics.clone(), shutdown.clone());
        let config = MatchStageConfig::default();
        async move { run(Arc::new(flaky), &topics, matcher(), &config, shutdown).await }
    });
    let dead = drain(&bus, &topics.dead_letter, 5).await;
    shutdown.cancel();
    let stats = stage.await.unwrap().unwrap();
    assert_eq!(
        (stats.dead_lettered, stats.retries, stats.abandoned),
        (5, 0, 0),
        "{stats}"
    );
    for m in &dead {
        let reason = m.header("earshot-error").unwrap();
        assert!(reason.contains("Message size too large"), "{reason}");
    }
    assert_eq!(bus.committed("earshot-match", &topics.raw, 0), Some(5));
    assert_eq!(bus.len(&topics.scored), 0);
}

/// Issue 13: `earshot_matches_total{brand}` counts posts, not matches:
/// a post naming a brand 10,000 times counts once (and quickly), and
/// customers are not labelled.
#[test]
fn issue_13_brand_tally_counts_each_post_once_per_brand() {
    use earshot_model::Match;
    let with = |ids: &[(EntityKind, &str)], repeat: usize| {
        let mut i = Interaction::neutral(Post::new("hn:1", "x"), "v");
        for _ in 0..repeat {
            for (kind, id) in ids {
                i.matches.push(Match {
                    kind: *kind,
                    entity_id: id.to_string(),
                    rule: "r".into(),
                    span: None,
                });
            }
        }
        i
    };
    let mut tally = BrandTally::default();
    tally.count(&with(
        &[
            (EntityKind::Brand, "acme"),
            (EntityKind::Competitor, "globex"),
        ],
        10_000,
    ));
    tally.count(&with(
        &[(EntityKind::Brand, "acme"), (EntityKind::Customer, "c-42")],
        3,
    ));
    let counts: std::collections::BTreeMap<&str, u64> = tally
        .by_brand
        .iter()
        .map(|(b, (n, _))| (b.as_str(), *n))
        .collect();
    assert_eq!(counts, [("acme", 2), ("globex", 1)].into_iter().collect());
}

#[test]
fn validation_names_each_bad_key() {
    let config: MatchStageConfig =
        toml::from_str("group = ''\nmax_in_flight = 0\nbatch_size = 0\nretry_backoff_ms = 20000")
            .unwrap();
    let keys: Vec<String> = config.validate().into_iter().map(|(k, _)| k).collect();
    assert_eq!(
        keys,
        [
            "match.group",
            "match.max_in_flight",
            "match.batch_size",
            "match.retry_backoff_ms"
        ]
    );
    assert!(MatchStageConfig::default().validate().is_empty());
}
