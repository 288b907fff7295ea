//! `Matcher::score` on arbitrary text with the bundled watchlists, lexicons,
//! intents and routes: never panics; run.sh gives each input a time budget
//! (`-timeout`), so a pathological post shows up as a slow unit.
#![no_main]

use std::sync::OnceLock;

use earshot_match::{Matcher, MatcherConfig, MemorySource};
use earshot_model::Post;
use libfuzzer_sys::fuzz_target;

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
                include_str!("../../config/watchlists/brands.toml"),
            )
            .with(
                "watchlists/customers.csv",
                include_str!("../../config/watchlists/customers.csv"),
            )
            .with(
                "lexicons/vader_lexicon.txt",
                include_str!("../../config/lexicons/vader_lexicon.txt"),
            )
            .with(
                "lexicons/social.tsv",
                include_str!("../../config/lexicons/social.tsv"),
            )
            .with(
                "lexicons/vader_emoji_lexicon.txt",
                include_str!("../../config/lexicons/vader_emoji_lexicon.txt"),
            )
            .with(
                "lexicons/fr.tsv",
                include_str!("../../config/lexicons/fr.tsv"),
            )
            .with(
                "lexicons/rulesets.toml",
                include_str!("../../config/lexicons/rulesets.toml"),
            )
            .with("intents.toml", include_str!("../../config/intents.toml"))
            .with("routes.toml", include_str!("../../config/routes.toml"));
        config.compile(&files).expect("the bundled config compiles")
    })
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let scored = matcher().score(&Post::new("fuzz:1", text.as_ref()));
    assert!(scored.sentiment.compound.is_finite());
});
