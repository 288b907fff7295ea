//! Issue 16 item 4: `context` words given per language. "vol" confirms the
//! airline in French ("mon vol") but not in English ("vol. 3"); a term
//! under `any` counts in every language; a post whose language is unknown
//! is confirmed by any language's terms.

use earshot_match::{Matcher, MatcherConfig, MemorySource};
use earshot_model::{EntityKind, Post};

const BRANDS: &str = r#"
[[brand]]
id = "delta"
name = "Delta"
context = { en = ["flight"], fr = ["vol"], any = ["skymiles"] }
context_model = false
"#;

fn matcher(detect: bool) -> Matcher {
    let config: MatcherConfig = toml::from_str(&format!(
        "brands = [\"brands.toml\"]\ndetect_language = {detect}\n"
    ))
    .unwrap();
    config
        .compile(&MemorySource::default().with("brands.toml", BRANDS))
        .unwrap()
}

fn finds_delta(m: &Matcher, text: &str, lang: Option<&str>) -> bool {
    let mut p = Post::new("t:1", text);
    p.lang = lang.map(str::to_string);
    m.score(&p).entities(EntityKind::Brand).contains(&"delta")
}

#[test]
fn issue_16_context_words_count_in_their_language_only() {
    let m = matcher(false);
    assert!(finds_delta(
        &m,
        "Delta a annulé mon vol ce matin",
        Some("fr")
    ));
    assert!(!finds_delta(
        &m,
        "Delta blues anthology vol 3 is out",
        Some("en")
    ));
    assert!(finds_delta(&m, "my Delta flight was cancelled", Some("en")));
    assert!(!finds_delta(&m, "Delta flight de nuit", Some("fr")));
    // `any` terms count in every language.
    assert!(finds_delta(&m, "Delta skymiles encore perdus", Some("fr")));
    assert!(finds_delta(&m, "Delta skymiles gone again", Some("en")));
    // Language unknown (no detection here): every language's terms count.
    assert!(finds_delta(&m, "Delta vol", None));
    assert!(!finds_delta(&m, "Delta blues anthology", None));
}

#[test]
fn issue_16_context_by_language_uses_the_detected_language() {
    let m = matcher(true);
    assert!(finds_delta(
        &m,
        "Delta a encore annulé mon vol, deuxième fois cette semaine, je suis furieux",
        None
    ));
    assert!(!finds_delta(
        &m,
        "The Delta blues anthology vol 3 is out today and it is wonderful",
        None
    ));
}

#[test]
fn issue_16_context_language_that_is_not_a_code_is_refused() {
    let config: MatcherConfig = toml::from_str("brands = [\"brands.toml\"]\n").unwrap();
    let Err(err) = config.compile(&MemorySource::default().with(
        "brands.toml",
        "[[brand]]\nid = \"delta\"\nname = \"Delta\"\ncontext = { french = [\"vol\"] }\n",
    )) else {
        panic!("a language key that is no code must be refused");
    };
    let text = format!("{err:?}");
    assert!(text.contains("brands.toml"), "{text}");
    assert!(text.contains("`french` is not a language"), "{text}");
}
