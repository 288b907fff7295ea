//! Issue 16, noise out, on the Kafka path: `earshot match` as a real process
//! against the real broker (`EARSHOT_TEST_KAFKA`) with `[matcher.noise]` on
//! writes the cluster and flags into the scored records.

mod kafka_common;

use std::io::Write;
use std::time::Duration;

use earshot_model::Interaction;
use earshot_tests::kafka::TopicReader;
use kafka_common::Pipeline;

#[test]
fn issue_16_match_daemon_writes_clusters_and_flags_to_the_scored_topic() {
    let Some(p) = Pipeline::new("noise", 1) else {
        return;
    };
    let brands = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../config/watchlists/brands.toml"
    );
    let mut config = std::fs::OpenOptions::new()
        .append(true)
        .open(&p.config)
        .unwrap();
    write!(
        config,
        "\n[matcher]\nbrands = [\"{brands}\"]\n[matcher.noise]\nenabled = true\n"
    )
    .unwrap();
    drop(config);
    // The eight texts rotate: post i repeats post i - 8. One partition, so
    // the first of each text is scored first.
    p.produce_posts(0..24);
    let mut m = p.start_match("match");
    let scored = TopicReader::start(&p.brokers, &p.scored, 1, true);
    scored.wait_until(Duration::from_secs(60), "24 scored posts", |d, _| d == 24);
    let (status, _) = m.terminate(Duration::from_secs(10));
    assert!(status.success(), "{}", m.log());

    let by_id = |id: &str| -> Interaction {
        let msg = scored.messages().into_iter().find(|x| x.key == id).unwrap();
        Interaction::from_json(&msg.payload).unwrap()
    };
    // "Still waiting for my Acme refund, this is terrible. Anyone from the refund desk?"
    let (first, second, third) = (by_id("e2e:1"), by_id("e2e:9"), by_id("e2e:17"));
    assert!(first.noise.fingerprint.is_some());
    assert_eq!(first.noise.cluster_id, None);
    assert_eq!(second.noise.cluster_id.as_deref(), Some("e2e:1"));
    assert_eq!(
        (second.noise.cluster_size, second.noise.near_duplicate),
        (2, false)
    );
    assert_eq!(
        (third.noise.cluster_size, third.noise.near_duplicate),
        (3, true)
    );
    assert_eq!(third.priority, 0, "{:?}", third.priority_reasons);
    assert!(third
        .priority_reasons
        .iter()
        .any(|r| r.starts_with("near_duplicate: repeats e2e:1")));
    // "Nice weather today, going for a walk": six words, fingerprinted;
    // "acme cloud is down again, dashboards not loading" too.
    assert_eq!(by_id("e2e:20").noise.cluster_id.as_deref(), Some("e2e:4"));
}
