//! The posts a run produces: JSON lines from `benches/fixtures/gen_posts.py`,
//! produced with Earshot's producer settings, keyed by post id.

use std::time::Instant;

/// One post: its id (the record key) and its JSON.
pub struct RawPost {
    pub id: String,
    pub json: Vec<u8>,
}

/// Reads the JSON lines of `path`. Posts from `first_tagged` on get their id
/// prefixed with `tag` so their visibility can be polled cheaply.
pub fn load(path: &str, first_tagged: usize, tag: &str) -> Vec<RawPost> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, line)| {
            let mut v: serde_json::Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("{path}:{}: {e}", i + 1));
            let mut id = v["id"].as_str().expect("post id").to_string();
            if i >= first_tagged {
                id = format!("{tag}{id}");
                v["id"] = serde_json::Value::String(id.clone());
            }
            RawPost {
                id,
                json: serde_json::to_vec(&v).unwrap(),
            }
        })
        .collect()
}

/// Earshot's producer settings (see crates/transport/src/kafka/producer.rs).
/// Produces `posts` to `topic`, paced at `rate` posts/s when given. Returns
/// each post's send time and the time the broker had acknowledged them all.
pub fn produce(
    brokers: &str,
    topic: &str,
    posts: &[RawPost],
    rate: Option<f64>,
) -> (Vec<Instant>, Instant) {
    earshot_tests::kafka::produce_paced(brokers, topic, posts.len(), rate, |i| {
        (posts[i].id.clone(), posts[i].json.clone())
    })
}
