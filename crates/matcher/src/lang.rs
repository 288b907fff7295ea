//! Language detection (when the source does not say) and the stemmer for
//! each language.
//!
//! Most posts reach the matcher without a language (Hacker News, Reddit,
//! most feeds and webhooks), so detection runs on nearly every post and
//! must cost what the rest of scoring costs: about a microsecond, not the
//! 80–120 µs of trying every trigram model. The `fast` detector therefore
//! asks whichlang (a linear model over hashed n-grams, 16 languages) first
//! and reserves whatlang's slower models for the texts whichlang cannot
//! tell apart: scripts it does not know (Greek, Hebrew, Thai, Tamil),
//! Cyrillic (Russian or Ukrainian), and Latin texts holding letters of a
//! language outside its set (Polish `ł`, Czech `ř`, Danish `ø`…). The
//! figures behind this choice, per language and for short posts, are in
//! `benches/RESULTS.md` (`benches/lang-eval`).

use std::cell::RefCell;

use rust_stemmers::Algorithm;
use serde::Deserialize;
use whatlang::{Detector, Lang};

/// How the language of a post that does not state one is detected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LanguageDetector {
    /// whichlang, with whatlang for the scripts and letters whichlang does
    /// not cover: about 1–2 µs for most posts, and far better than
    /// `thorough` on short posts in the major languages. Weaker on
    /// Hungarian, Romanian, Finnish and Indonesian written without their
    /// distinctive letters.
    #[default]
    Fast,
    /// whatlang's full detector on every post, answering only when it is
    /// confident (80–120 µs per post).
    Thorough,
}

/// Only this much of a post is read to detect its language: the opening
/// of a long post says as much as the rest, and the cost stays bounded.
pub const DETECT_PREFIX_BYTES: usize = 2048;

/// ISO 639-1 code of the language `text` is most likely in, by the `fast`
/// detector; `None` when no language Earshot knows is likely.
pub fn detect(text: &str) -> Option<&'static str> {
    detect_with(LanguageDetector::Fast, text)
}

/// ISO 639-1 code of the language `text` is most likely in, by `detector`.
pub fn detect_with(detector: LanguageDetector, text: &str) -> Option<&'static str> {
    let text = prefix(text, DETECT_PREFIX_BYTES);
    match detector {
        LanguageDetector::Fast => fast(text),
        LanguageDetector::Thorough => thorough(text),
    }
}

/// The longest prefix of `text` of at most `max` bytes that ends on a
/// character boundary.
fn prefix(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

fn thorough(text: &str) -> Option<&'static str> {
    let info = whatlang::detect(text)?;
    if !info.is_reliable() && info.confidence() < 0.5 {
        return None;
    }
    iso639_1(info.lang())
}

/// Letters of Latin-script languages outside whichlang's set: a text that
/// holds one is not English, French, German, Spanish, Portuguese, Italian,
/// Dutch, Swedish, Turkish or Vietnamese.
const FOREIGN_LATIN: &str = "ąćęłńśźżčďěňřšťůőűæøșțţđ";
/// Letters shared by a whichlang language and one outside its set
/// (Swedish or German `ä`/`ö` and Finnish, `å` and Danish/Norwegian,
/// Turkish `ş` and Romanian, …): whatlang decides among the Latin ones.
const SHARED_LATIN: &str = "äöåşăîâ";

thread_local! {
    static LATIN: RefCell<Option<Detector>> = const { RefCell::new(None) };
    static CYRILLIC: RefCell<Option<Detector>> = const { RefCell::new(None) };
}

fn with_detector<R>(
    cell: &'static std::thread::LocalKey<RefCell<Option<Detector>>>,
    langs: fn() -> Vec<Lang>,
    f: impl FnOnce(&Detector) -> R,
) -> R {
    cell.with(|c| {
        let mut c = c.borrow_mut();
        f(c.get_or_insert_with(|| Detector::with_allowlist(langs())))
    })
}

fn latin_langs() -> Vec<Lang> {
    use Lang::*;
    vec![
        Eng, Fra, Deu, Spa, Por, Ita, Nld, Swe, Dan, Nob, Fin, Hun, Ron, Tur, Pol, Ces, Ind, Vie,
    ]
}

fn cyrillic_langs() -> Vec<Lang> {
    vec![Lang::Rus, Lang::Ukr]
}

fn fast(text: &str) -> Option<&'static str> {
    if text.is_ascii() {
        return whichlang_code(whichlang::detect_language(text));
    }
    let (mut foreign, mut shared, mut cyrillic, mut other) = (false, false, false, false);
    for c in text.chars() {
        match c as u32 {
            0..=0x7F => {}
            0x400..=0x52F => cyrillic = true,
            // Greek, Hebrew, Thai, Tamil: one whatlang model each.
            0x370..=0x3FF | 0x590..=0x5FF | 0xE00..=0xE7F | 0xB80..=0xBFF => other = true,
            0xC0..=0x24F => {
                let l = c.to_lowercase().next().unwrap_or(c);
                if FOREIGN_LATIN.contains(l) {
                    foreign = true;
                } else if SHARED_LATIN.contains(l) {
                    shared = true;
                }
            }
            _ => {}
        }
    }
    if other {
        return whatlang::detect_lang(text).and_then(iso639_1);
    }
    if cyrillic {
        return with_detector(&CYRILLIC, cyrillic_langs, |d| d.detect_lang(text))
            .and_then(iso639_1);
    }
    let latin = || with_detector(&LATIN, latin_langs, |d| d.detect_lang(text)).and_then(iso639_1);
    if foreign {
        return latin();
    }
    let guess = whichlang_code(whichlang::detect_language(text));
    // French, Portuguese and Vietnamese use `â`/`î`/`ă` themselves and have
    // no near neighbour outside whichlang's set.
    if shared && !matches!(guess, Some("fr" | "pt" | "vi")) {
        return latin();
    }
    guess
}

fn whichlang_code(lang: whichlang::Lang) -> Option<&'static str> {
    use whichlang::Lang::*;
    Some(match lang {
        Ara => "ar",
        Cmn => "zh",
        Deu => "de",
        Eng => "en",
        Fra => "fr",
        Hin => "hi",
        Ita => "it",
        Jpn => "ja",
        Kor => "ko",
        Nld => "nl",
        Por => "pt",
        Rus => "ru",
        Spa => "es",
        Swe => "sv",
        Tur => "tr",
        Vie => "vi",
    })
}

fn iso639_1(lang: Lang) -> Option<&'static str> {
    Some(match lang {
        Lang::Eng => "en",
        Lang::Fra => "fr",
        Lang::Deu => "de",
        Lang::Spa => "es",
        Lang::Por => "pt",
        Lang::Ita => "it",
        Lang::Nld => "nl",
        Lang::Swe => "sv",
        Lang::Dan => "da",
        Lang::Nob => "no",
        Lang::Fin => "fi",
        Lang::Hun => "hu",
        Lang::Ron => "ro",
        Lang::Rus => "ru",
        Lang::Tur => "tr",
        Lang::Ell => "el",
        Lang::Ara => "ar",
        Lang::Tam => "ta",
        Lang::Pol => "pl",
        Lang::Ces => "cs",
        Lang::Ukr => "uk",
        Lang::Jpn => "ja",
        Lang::Cmn => "zh",
        Lang::Kor => "ko",
        Lang::Hin => "hi",
        Lang::Heb => "he",
        Lang::Ind => "id",
        Lang::Vie => "vi",
        Lang::Tha => "th",
        _ => return None,
    })
}

/// The Snowball stemmer for an ISO 639-1 code, if there is one.
pub fn stemmer_for(code: &str) -> Option<Algorithm> {
    Some(match code {
        "en" => Algorithm::English,
        "fr" => Algorithm::French,
        "de" => Algorithm::German,
        "es" => Algorithm::Spanish,
        "pt" => Algorithm::Portuguese,
        "it" => Algorithm::Italian,
        "nl" => Algorithm::Dutch,
        "sv" => Algorithm::Swedish,
        "da" => Algorithm::Danish,
        "no" | "nb" => Algorithm::Norwegian,
        "fi" => Algorithm::Finnish,
        "hu" => Algorithm::Hungarian,
        "ro" => Algorithm::Romanian,
        "ru" => Algorithm::Russian,
        "tr" => Algorithm::Turkish,
        "el" => Algorithm::Greek,
        "ar" => Algorithm::Arabic,
        "ta" => Algorithm::Tamil,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_clear_languages() {
        assert_eq!(
            detect("Le service client d'Acme est vraiment nul, je veux être remboursé"),
            Some("fr")
        );
        assert_eq!(
            detect("The customer service at Acme is really terrible and slow today"),
            Some("en")
        );
        assert_eq!(
            detect("Der Kundendienst von Acme ist wirklich schrecklich und langsam"),
            Some("de")
        );
    }

    #[test]
    fn short_posts_in_either_detector() {
        // A five-word French complaint must not be read as English.
        assert_eq!(detect("service client nul, remboursez-moi"), Some("fr"));
        assert_eq!(detect("Obsługa klienta jest fatalna, złość"), Some("pl"));
        assert_eq!(detect("Служба підтримки жахлива, їх не чути"), Some("uk"));
        assert_eq!(detect("Η εξυπηρέτηση είναι απαίσια"), Some("el"));
        assert_eq!(
            detect_with(
                LanguageDetector::Thorough,
                "Der Kundendienst von Acme ist wirklich schrecklich und langsam"
            ),
            Some("de")
        );
    }

    #[test]
    fn long_posts_are_read_by_their_opening() {
        let mut text = "Le service client est vraiment nul et je suis très déçu. ".repeat(50);
        text.push_str(&"the quick brown fox jumps over the lazy dog ".repeat(5000));
        assert_eq!(detect(&text), Some("fr"));
        let cut = prefix("ééé", 3);
        assert_eq!(cut, "é");
    }

    #[test]
    fn stemmer_follows_language() {
        assert_eq!(stemmer_for("fr"), Some(Algorithm::French));
        assert_eq!(stemmer_for("ja"), None);
    }
}
