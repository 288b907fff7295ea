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
    // "Still waiting for my Acme refund, this is terrible. Anyone from the
    // refund desk?" three times. Batches are scored in parallel, so which
    // copy is scored first (and names the cluster) may vary.
    let mut copies = [by_id("e2e:1"), by_id("e2e:9"), by_id("e2e:17")];
    assert!(copies.iter().all(|c| c.noise.fingerprint.is_some()));
    copies.sort_by_key(|c| c.noise.cluster_size);
    let first = copies[0].post.id.clone();
    assert_eq!(copies[0].noise.cluster_id, None);
    for (c, size) in copies[1..].iter().zip([2, 3]) {
        assert_eq!(c.noise.cluster_id.as_deref(), Some(first.as_str()));
        assert_eq!(
            (c.noise.cluster_size, c.noise.near_duplicate),
            (size, size == 3)
        );
    }
    let third = &copies[2];
    assert_eq!(third.priority, 0, "{:?}", third.priority_reasons);
    let reason = format!("near_duplicate: repeats {first}");
    assert!(third
        .priority_reasons
        .iter()
        .any(|r| r.starts_with(&reason)));
    // "acme cloud is down again, dashboards not loading" (8 words), three
    // times too: one cluster, named by whichever was scored first.
    let acme = [by_id("e2e:2"), by_id("e2e:10"), by_id("e2e:18")];
    let firsts: Vec<&str> = acme
        .iter()
        .filter(|c| c.noise.cluster_id.is_none())
        .map(|c| c.post.id.as_str())
        .collect();
    assert_eq!(firsts.len(), 1, "{acme:?}");
    assert!(acme
        .iter()
        .all(|c| c.noise.cluster_id.is_none() || c.noise.cluster_id.as_deref() == Some(firsts[0])));
}
