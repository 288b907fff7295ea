//! Language detection on a labelled multilingual set (`tests/data`): the
//! fast detector must be at least as accurate as the thorough one (whatlang,
//! what Earshot used before issue 11) on whole sentences and short posts.

use earshot_match::lang::{detect_with, LanguageDetector};

struct Case {
    lang: String,
    kind: String,
    text: String,
}

fn cases() -> Vec<Case> {
    let text = include_str!("data/lang-cases.tsv");
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| {
            let mut f = l.splitn(3, '\t');
            Case {
                lang: f.next().unwrap().to_string(),
                kind: f.next().unwrap().to_string(),
                text: f.next().unwrap().to_string(),
            }
        })
        .collect()
}

fn accuracy(detector: LanguageDetector, kind: &str, langs: &[&str]) -> f64 {
    let cases: Vec<Case> = cases()
        .into_iter()
        .filter(|c| c.kind == kind && (langs.is_empty() || langs.contains(&c.lang.as_str())))
        .collect();
    let right = cases
        .iter()
        .filter(|c| detect_with(detector, &c.text) == Some(c.lang.as_str()))
        .count();
    right as f64 / cases.len() as f64
}

#[test]
fn issue_11_fast_detection_is_at_least_as_accurate() {
    for kind in ["sentence", "short", "pair"] {
        let fast = accuracy(LanguageDetector::Fast, kind, &[]);
        let thorough = accuracy(LanguageDetector::Thorough, kind, &[]);
        assert!(
            fast >= thorough,
            "{kind}: fast {fast:.3} < thorough {thorough:.3}"
        );
    }
}

#[test]
fn issue_11_short_posts_in_the_lexicon_languages() {
    // The languages with a bundled lexicon decide a post's sentiment: a
    // five-word French complaint must not be read as English.
    for lang in ["en", "fr"] {
        let fast = accuracy(LanguageDetector::Fast, "short", &[lang]);
        assert!(fast >= 0.9, "{lang}: {fast:.3}");
    }
}
