//! Language detection (when the source does not say) and the stemmer for
//! each language.

use rust_stemmers::Algorithm;
use whatlang::Lang;

/// ISO 639-1 code of the language `text` is most likely in, when whatlang
/// is confident enough; short posts often are not, and a wrong language
/// would pick a wrong stemmer and lexicon.
pub fn detect(text: &str) -> Option<&'static str> {
    let info = whatlang::detect(text)?;
    if !info.is_reliable() && info.confidence() < 0.5 {
        return None;
    }
    iso639_1(info.lang())
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
    fn stemmer_follows_language() {
        assert_eq!(stemmer_for("fr"), Some(Algorithm::French));
        assert_eq!(stemmer_for("ja"), None);
    }
}
