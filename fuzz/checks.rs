//! What each fuzz target checks, one function per target (issue 12).
//!
//! Shared by the cargo-fuzz targets (`fuzz_targets/*.rs`, each a one-line
//! `fuzz_target!` around its function here) and by the workspace test that
//! replays the committed seeds and crash inputs in a plain `cargo test`
//! (`crates/earshot/tests/fuzz_replay.rs`), so both run the same code.

use std::sync::OnceLock;

use earshot_match::query::Query;
use earshot_match::{Matcher, MatcherConfig, MemorySource};
use earshot_model::{Interaction, Post};
use earshot_transport::TransportConfig;

pub use earshot_connect::fuzzing::{
    bluesky, feed_parse, hn, html_to_text, mastodon, reddit, webhook_body, x, youtube,
};

/// A target: its name and what it checks.
pub type Target = (&'static str, fn(&[u8]));

/// Every target by name, as `fuzz/run.sh` and the replay test know them.
pub const TARGETS: &[Target] = &[
    ("query_parse", query_parse),
    ("config_load", config_load),
    ("post_decode", post_decode),
    ("interaction_decode", interaction_decode),
    ("matcher_score", matcher_score),
    ("html_to_text", html_to_text),
    ("feed_parse", feed_parse),
    ("hn", hn),
    ("reddit", reddit),
    ("mastodon", mastodon),
    ("bluesky", bluesky),
    ("x", x),
    ("youtube", youtube),
    ("webhook_body", webhook_body),
];

/// The boolean query parser: never panics or overflows the stack, and a
/// parsed query displays as text that parses back to the same query.
pub fn query_parse(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(q) = Query::parse(text) {
        let shown = q.to_string();
        let again = Query::parse(&shown)
            .unwrap_or_else(|e| panic!("`{text}` displays as `{shown}`, which fails: {e}"));
        assert_eq!(again, q, "`{text}` displays as `{shown}`");
    }
}

/// The config loaders: a watchlist file (TOML of brands with queries) and
/// the transport section, parsed and validated, never panic.
pub fn config_load(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let config: MatcherConfig =
        toml::from_str("brands = ['b.toml']\nintents = 'i.toml'").expect("static config");
    let files = MemorySource::default()
        .with("b.toml", text)
        .with("i.toml", text);
    let _ = config.compile(&files);
    if let Ok(t) = toml::from_str::<TransportConfig>(text) {
        let _ = t.validate();
    }
}

/// `Post` JSON decoding: never panics, and whatever decodes encodes to JSON
/// that decodes to the same value.
pub fn post_decode(data: &[u8]) {
    if let Ok(p) = Post::from_json(data) {
        let again = Post::from_json(&p.to_json()).expect("an encoded post decodes");
        assert_eq!(again.id, p.id);
        assert_eq!(again.text, p.text);
    }
    interaction_decode(data);
}

/// `Interaction` (scored record) JSON decoding: never panics, and whatever
/// decodes encodes to JSON that decodes to the same record.
pub fn interaction_decode(data: &[u8]) {
    if let Ok(i) = Interaction::from_json(data) {
        let again = Interaction::from_json(&i.to_json()).expect("an encoded interaction decodes");
        assert_eq!(again.post.id, i.post.id);
        assert_eq!(again.post.text, i.post.text);
        assert_eq!(again.matches.len(), i.matches.len());
        assert_eq!(again.route, i.route);
        assert_eq!(again.priority, i.priority);
    }
}

fn matcher() -> &'static Matcher {
    static M: OnceLock<Matcher> = OnceLock::new();
    M.get_or_init(|| {
        let config: MatcherConfig = toml::from_str(
            r#"
            brands = ["watchlists/brands.toml"]
            customers = ["watchlists/customers.csv"]
            lexicons = [
                { path = "lexicons/vader_lexicon.txt", format = "vader" },
                { path = "lexicons/social.tsv", format = "vader" },
                { path = "lexicons/vader_emoji_lexicon.txt", format = "vader_emoji" },
                { path = "lexicons/fr.tsv", format = "vader", lang = "fr" },
            ]
            rulesets = ["lexicons/rulesets.toml"]
            intents = "intents.toml"
            routes = "routes.toml"
            fold_accents = true
            detect_language = true
            "#,
        )
        .expect("static config");
        let files = MemorySource::default()
            .with(
                "watchlists/brands.toml",
                include_str!("../config/watchlists/brands.toml"),
            )
            .with(
                "watchlists/customers.csv",
                include_str!("../config/watchlists/customers.csv"),
            )
            .with(
                "lexicons/vader_lexicon.txt",
                include_str!("../config/lexicons/vader_lexicon.txt"),
            )
            .with(
                "lexicons/social.tsv",
                include_str!("../config/lexicons/social.tsv"),
            )
            .with(
                "lexicons/vader_emoji_lexicon.txt",
                include_str!("../config/lexicons/vader_emoji_lexicon.txt"),
            )
            .with("lexicons/fr.tsv", include_str!("../config/lexicons/fr.tsv"))
            .with(
                "lexicons/rulesets.toml",
                include_str!("../config/lexicons/rulesets.toml"),
            )
            .with("intents.toml", include_str!("../config/intents.toml"))
            .with("routes.toml", include_str!("../config/routes.toml"));
        config.compile(&files).expect("the bundled config compiles")
    })
}

/// `Matcher::score` on arbitrary text with the bundled watchlists, lexicons,
/// intents and routes: never panics; run.sh gives each input a time budget
/// (`-timeout`), so a pathological post shows up as a slow unit.
pub fn matcher_score(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let scored = matcher().score(&Post::new("fuzz:1", text.as_ref()));
    assert!(scored.sentiment.compound.is_finite());
}
