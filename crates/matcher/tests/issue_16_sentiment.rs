//! Issue 16, item 6: the hybrid sentiment model (lexicon + learned word
//! n-grams) through the library's public interface, with the bundled config.

use std::path::{Path, PathBuf};

use earshot_match::{FileSource, Matcher, MatcherConfig, SentimentModel};
use earshot_model::{Post, SentimentLabel};

struct Dir(PathBuf);

impl FileSource for Dir {
    fn read(&self, path: &Path) -> std::io::Result<String> {
        std::fs::read_to_string(self.0.join(path))
    }
}

fn config_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config")
}

/// The bundled config, its `model = "hybrid"` line replaced by `model`.
fn compile(model: &str) -> Result<Matcher, String> {
    #[derive(serde::Deserialize)]
    struct File {
        matcher: MatcherConfig,
    }
    let text = std::fs::read_to_string(config_dir().join("earshot.toml")).unwrap();
    assert!(text.contains("model = \"hybrid\""));
    let text = text.replace("model = \"hybrid\"", model);
    let file: File = toml::from_str(&text).map_err(|e| e.to_string())?;
    file.matcher
        .compile(&Dir(config_dir()))
        .map_err(|e| format!("{e:?}"))
}

fn hybrid() -> Matcher {
    compile("model = \"hybrid\"").unwrap()
}

fn lexicon() -> Matcher {
    compile("model = \"lexicon\"").unwrap()
}

fn post(text: &str, lang: &str) -> Post {
    let mut p = Post::new("x:1", text);
    p.lang = Some(lang.into());
    p
}

#[test]
fn issue_16_hybrid_model_loads_and_is_the_default() {
    assert_eq!(
        MatcherConfig::default().sentiment.model,
        SentimentModel::Hybrid
    );
    // A config without the key gets the hybrid.
    let m = compile("").unwrap();
    let e = m
        .analyzer()
        .explain("what a waste of money, the plot was boring");
    assert!(!e.grams.is_empty(), "{e:?}");
    assert_eq!(
        e.sentiment,
        hybrid()
            .analyzer()
            .score("what a waste of money, the plot was boring")
    );
    // The lexicon model has no n-grams to explain.
    let e = lexicon().analyzer().explain("what a waste of money");
    assert!(e.grams.is_empty());
    assert_eq!(e.sentiment, e.lexicon);
}

#[test]
fn issue_16_scores_are_deterministic() {
    let (a, b) = (hybrid(), hybrid());
    let texts = [
        "I love my new Acme Rocket skates :)",
        "@acme your app crashed AGAIN!!! #fail http://t.co/x",
        "The film's plot was predictable, but the acting saved it.",
        "Meeting moved to 3pm 😀👍🏽",
        "",
    ];
    for t in texts {
        let x = a.score(&post(t, "en")).sentiment;
        let y = b.score(&post(t, "en")).sentiment;
        let z = a.score(&post(t, "en")).sentiment;
        assert_eq!(x, y, "{t}");
        assert_eq!(x, z, "{t}");
        assert_eq!(a.analyzer().explain(t), b.analyzer().explain(t), "{t}");
    }
}

#[test]
fn issue_16_explanation_keeps_the_lexicon_words() {
    let m = hybrid();
    let e = m
        .analyzer()
        .explain("The plot was boring but the acting was great");
    let word = |w: &str| e.words.iter().find(|(x, _)| x == w).map(|(_, v)| *v);
    assert!(word("boring").is_some_and(|v| v < 0.0), "{e:?}");
    assert!(word("great").is_some_and(|v| v > 0.0), "{e:?}");
    // "but": the second clause weighs more (the lexicon's rule, kept).
    assert!(word("great").unwrap().abs() > word("boring").unwrap().abs());
    // The lexicon's shares stay on the score; only compound and label are
    // the model's.
    assert_eq!(
        (e.sentiment.pos, e.sentiment.neu, e.sentiment.neg),
        (e.lexicon.pos, e.lexicon.neu, e.lexicon.neg)
    );
    assert!(e.grams.len() <= 8);
    let pushes: Vec<f32> = e.grams.iter().map(|(_, v)| v.abs()).collect();
    assert!(pushes.windows(2).all(|w| w[0] >= w[1]), "{e:?}");
}

#[test]
fn issue_16_labelled_cases() {
    let m = hybrid();
    let label = |t: &str| m.score(&post(t, "en")).sentiment.label;
    use SentimentLabel::*;
    for (text, want) in [
        (
            "Absolutely love it, best purchase I have made all year!",
            Positive,
        ),
        ("Total waste of money. It broke after two days.", Negative),
        (
            "@acme my order arrived broken and support is useless #fail",
            Negative,
        ),
        (
            "Best customer service I have ever had, thank you @acme!",
            Positive,
        ),
        ("Our office moves to Berlin next month.", Neutral),
        ("Acme will announce quarterly results on Thursday.", Neutral),
        ("A thoughtful, beautifully acted film.", Positive),
        ("The plot is a mess and the jokes fall flat.", Negative),
    ] {
        assert_eq!(
            label(text),
            want,
            "{text}: {:?}",
            m.analyzer().explain(text)
        );
    }
    // Reviews' wording that no lexicon entry holds: the lexicon reads these
    // as neutral, people (and the hybrid) as negative.
    let l = lexicon();
    for text in [
        "The plot is predictable and the ending drags on forever.",
        "The film is a slow, tedious affair.",
    ] {
        assert_eq!(
            l.score(&post(text, "en")).sentiment.label,
            Neutral,
            "{text}"
        );
        assert_eq!(label(text), Negative, "{text}");
    }
}

#[test]
fn issue_16_other_languages_keep_the_lexicon_score() {
    let (h, l) = (hybrid(), lexicon());
    for (t, lang) in [("c'est nul, je déteste", "fr"), ("das ist super", "de")] {
        assert_eq!(
            h.score(&post(t, lang)).sentiment,
            l.score(&post(t, lang)).sentiment
        );
    }
    // English ones differ: the model has its say.
    let t = "the plot was predictable and the ending dragged";
    assert_ne!(
        h.score(&post(t, "en")).sentiment,
        l.score(&post(t, "en")).sentiment
    );
}

#[test]
fn issue_16_bad_sentiment_config_is_refused() {
    let e = compile("model = \"bert\"").unwrap_err();
    assert!(e.contains("bert") && e.contains("lexicon"), "{e}");
    let e = compile("model = \"hybrid\"\nhybrid_neutral_threshold = 1.5").unwrap_err();
    assert!(e.contains("hybrid_neutral_threshold"), "{e}");
    // A band of its own moves the labels.
    let wide = compile("model = \"hybrid\"\nhybrid_neutral_threshold = 0.99").unwrap();
    let t = "Absolutely love it, best purchase I have made all year!";
    assert_eq!(
        wide.score(&post(t, "en")).sentiment.label,
        SentimentLabel::Neutral
    );
}
