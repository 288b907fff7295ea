//! Posts and interactions are encoded with sonic-rs for speed (issue 11);
//! consumers, golden files and the dead-letter table expect serde_json's
//! bytes, so any value must encode to exactly those bytes.

use chrono::{TimeZone, Utc};
use earshot_model::{
    Author, EntityKind, EntitySentiment, Intent, Interaction, Match, Noise, Post, Route, Sentiment,
    SentimentLabel,
};
use proptest::prelude::*;

/// Any text, with a bias towards what JSON must escape.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[a-z \"\\\\/\u{0}-\u{1f}\u{7f}é€😀\u{2028}\u{2029}]{0,80}",
    ]
}

/// Any f32, NaN and infinities included (both write `null`).
fn float() -> impl Strategy<Value = f32> {
    prop_oneof![
        any::<f32>(),
        -1.0f32..1.0,
        Just(f32::NAN),
        Just(f32::INFINITY),
        Just(1e-7),
        Just(-0.0)
    ]
}

/// Any JSON number or string a connector may keep in `raw`.
fn raw() -> impl Strategy<Value = serde_json::Value> {
    prop_oneof![
        prop_oneof![any::<f64>(), Just(-0.0), Just(1e21), Just(5e-324)]
            .prop_map(|f| serde_json::json!({ "f": f, "list": [f, -f] })),
        (any::<i64>(), any::<u64>()).prop_map(|(i, u)| serde_json::json!({ "i": i, "u": u })),
        text().prop_map(
            |s| serde_json::json!({ s.clone(): s, "nested": { "null": null, "t": true } })
        ),
    ]
}

prop_compose! {
    fn post()(
        id in text(), body in text(), title in proptest::option::of(text()),
        handle in proptest::option::of(text()), reach in proptest::option::of(any::<u64>()),
        likes in proptest::option::of(any::<u64>()), score in proptest::option::of(any::<i64>()),
        secs in proptest::option::of(-10_000_000_000i64..10_000_000_000), nanos in 0u32..1_000_000_000,
        raw in proptest::option::of(raw()),
    ) -> Post {
        let mut p = Post::new(id, body);
        p.title = title;
        p.author = Author { handle, reach, ..Author::default() };
        p.engagement.likes = likes;
        p.engagement.score = score;
        p.published_at = secs.map(|s| Utc.timestamp_opt(s, nanos).unwrap());
        p.raw = raw;
        p
    }
}

prop_compose! {
    fn interaction()(
        post in post(), rule in text(), entity in text(), span in proptest::option::of((any::<usize>(), any::<usize>())),
        f in proptest::array::uniform5(float()), reasons in proptest::collection::vec(text(), 0..3),
        priority in any::<u8>(), truncated in any::<bool>(), fingerprint in proptest::option::of(any::<u64>()),
        cluster in proptest::option::of(text()),
    ) -> Interaction {
        let mut i = Interaction::neutral(post, "v1");
        i.matches = vec![Match { kind: EntityKind::Brand, entity_id: entity.clone(), rule, span }];
        i.sentiment = Sentiment { compound: f[0], pos: f[1], neu: f[2], neg: f[3], label: SentimentLabel::Negative };
        i.entity_sentiment = vec![EntitySentiment { entity_id: entity, compound: f[4], label: SentimentLabel::Neutral }];
        i.intents = vec![Intent::COMPLAINT];
        i.route = Route::SUPPORT;
        i.priority = priority;
        i.priority_reasons = reasons;
        i.truncated = truncated;
        i.noise = Noise { fingerprint, cluster_id: cluster, ..Noise::default() };
        i
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn issue_11_an_interaction_encodes_to_serde_json_bytes(i in interaction()) {
        let ours = i.to_json();
        prop_assert_eq!(String::from_utf8(ours).unwrap(), serde_json::to_string(&i).unwrap());
        let mut appended = b"x".to_vec();
        i.write_json(&mut appended);
        let expected = serde_json::to_vec(&i).unwrap();
        prop_assert_eq!(&appended[1..], expected.as_slice());
    }

    #[test]
    fn issue_11_a_post_encodes_to_serde_json_bytes(p in post()) {
        prop_assert_eq!(String::from_utf8(p.to_json()).unwrap(), serde_json::to_string(&p).unwrap());
    }
}
