//! One test per rule, on a small lexicon so each effect is visible.

use super::*;

fn analyzer() -> Analyzer {
    let mut lex = Lexicon::default();
    let bad = lex.load(
        "good\t1.9\nbad\t-2.5\ngreat\t3.1\nhate\t-2.7\nlol\t1.8\n:)\t2.0\n:d\t2.3\nsux\t-1.5\n\
         yeah right\t-2\nunder the weather\t-2\nwar\t-2.9\ngrinning\t1.5\nanger\t-2.7\n",
        crate::LexiconFormat::Vader,
    );
    assert!(bad.is_empty());
    lex.load(
        "😀\tgrinning face\n😠\tangry face with anger\n",
        crate::LexiconFormat::VaderEmoji,
    );
    lex.resolve_emoji();
    Analyzer::new(lex)
}

fn c(text: &str) -> f32 {
    analyzer().score(text).compound
}

#[test]
fn lexicon_words_score() {
    assert!(c("The book was good") > 0.3);
    assert!(c("The book was bad") < -0.3);
    assert_eq!(c("The book was blue"), 0.0);
    assert_eq!(analyzer().score("").label, SentimentLabel::Neutral);
}

#[test]
fn negation_window_of_three() {
    assert!(c("not good") < 0.0);
    assert!(
        c("don't think it is good") > 0.0,
        "four tokens back is outside the window"
    );
    assert!(c("don't think it good") < 0.0);
    assert!(c("it isn’t good") < 0.0, "curly apostrophes negate too");
    assert!(c("not bad") > 0.0);
}

#[test]
fn boosters_and_dampeners() {
    let base = c("the food was good");
    assert!(c("the food was very good") > base);
    assert!(c("the food was slightly good") < base);
    assert!(c("the food was kind of good") < base);
    assert!(c("the food was extremely bad") < c("the food was bad"));
}

#[test]
fn contrast_but_favours_the_second_clause() {
    assert!(c("the food was good but the service was bad") < 0.0);
    assert!(c("the food was bad but the service was good") > 0.0);
    // A sentence starting with "But" contrasts with the one before.
    assert!(
        c("The food was great. But the service was bad.")
            < c("The food was great. The service was bad.")
    );
}

#[test]
fn all_caps_emphasis() {
    assert!(c("the food was GOOD") > c("the food was good"));
    // Caps everywhere is shouting, not emphasis of one word.
    assert_eq!(c("THE FOOD WAS GOOD"), c("the food was good"));
}

#[test]
fn exclamation_and_question_amplification() {
    assert!(c("good!!!") > c("good"));
    assert!(c("bad!!") < c("bad"));
    assert!(c("good!!!!!!!!") == c("good!!!!"), "capped at four");
    assert_eq!(c("!!!"), 0.0, "punctuation alone carries no sentiment");
}

#[test]
fn questions_are_damped() {
    assert!(c("is it good?") < c("it is good."));
    assert!(c("is it good?") > 0.0);
}

#[test]
fn emoticons_and_emoji() {
    assert!(c("see you tomorrow :)") > 0.3);
    assert!(
        c("see you tomorrow :D") > 0.3,
        "emoticons are looked up case-insensitively"
    );
    assert!(c("see you tomorrow 😀") > 0.2);
    assert!(
        c("see you tomorrow😠") < -0.2,
        "emoji glued to a word are split off"
    );
}

#[test]
fn slang_and_initialisms() {
    assert!(c("today sux") < 0.0);
    assert!(c("lol") > 0.0);
}

#[test]
fn idioms_replace_their_words() {
    assert!(c("yeah right") < 0.0);
    assert!(c("I'm under the weather today") < 0.0);
}

#[test]
fn per_brand_overrides() {
    let a = analyzer();
    let mut s = Scratch::default();
    assert!(a.analyze("war zone is out", None, &[], &mut s).compound < 0.0);
    let mut o = Lexicon::default();
    o.insert("war zone", 0.0);
    assert_eq!(
        a.analyze("war zone is out", None, &[&o], &mut s).compound,
        0.0
    );
    assert!(a.analyze("war zone is great", None, &[&o], &mut s).compound > 0.0);
}

#[test]
fn language_lexicons_apply_to_their_language() {
    let mut a = analyzer();
    let mut fr = Lexicon::default();
    fr.insert("nul", -2.0);
    a.by_lang.push(("fr".into(), fr));
    let mut s = Scratch::default();
    assert!(a.analyze("c'est nul", Some("fr"), &[], &mut s).compound < 0.0);
    assert_eq!(
        a.analyze("c'est nul", Some("en"), &[], &mut s).compound,
        0.0
    );
}

#[test]
fn neutral_band_is_configurable() {
    let mut a = analyzer();
    a.config.neutral_threshold = 0.05;
    let s = a.score("the food was good");
    assert_eq!(s.label, SentimentLabel::Positive);
    a.config.neutral_threshold = 0.99;
    assert_eq!(a.score("the food was good").label, SentimentLabel::Neutral);
}

#[test]
fn proportions_sum_to_one() {
    let s = analyzer().score("good food, bad service, blue walls");
    assert!((s.pos + s.neu + s.neg - 1.0).abs() < 0.01, "{s:?}");
    assert!(s.pos > 0.0 && s.neg > 0.0 && s.neu > 0.0);
}

#[test]
fn sentences_are_tracked_for_entity_sentiment() {
    let a = analyzer();
    let mut s = Scratch::default();
    a.analyze(
        "The food was good. The service was bad!\nWalls are blue",
        None,
        &[],
        &mut s,
    );
    let sums: Vec<f32> = s.sentences.iter().map(|x| x.sum).collect();
    assert_eq!(sums.len(), 3);
    assert!(sums[0] > 0.0 && sums[1] < 0.0 && sums[2] == 0.0, "{sums:?}");
}

#[test]
fn sarcasm_markers_turn_praise_negative() {
    assert!(c("great service") > 0.0);
    assert!(c("great service yeah right") < 0.0);
    assert!(c("great service 🙄") < 0.0);
    assert!(c("great service /s") < 0.0);
}

/// Idioms found by word ids (main lexicon alone) and by joined strings (the
/// path taken when other lexicons apply) must agree token for token.
#[test]
fn idioms_by_id_match_idioms_by_string() {
    let a = analyzer();
    let no_other_words = Lexicon::default();
    for text in [
        "yeah right, great support",
        "Yeah RIGHT!! under the weather. under the",
        "feeling under the weather but good",
        "under. the weather",
        "the weather under the weather under",
        "yeah",
        "",
    ] {
        let mut by_id = Scratch::default();
        let mut by_string = Scratch::default();
        a.analyze(text, None, &[], &mut by_id);
        a.analyze(text, None, &[&no_other_words], &mut by_string);
        assert_eq!(by_id.tokens, by_string.tokens, "{text}");
        assert_eq!(by_id.sarcastic, by_string.sarcastic, "{text}");
        assert_eq!(by_id.valenced, by_string.valenced, "{text}");
        assert_eq!(by_id.scores, by_string.scores, "{text}");
    }
}

/// The rounding used for scores agrees with `f32::round` on halves, on the
/// floats next to them and on random values of scores' range.
#[test]
fn rounding_is_f32_round() {
    let mut values = vec![
        0.0f32, -0.0, 0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 9999.5, -9999.5,
    ];
    for k in -20_000..=20_000 {
        let half = k as f32 + 0.5;
        values.extend([half, half.next_up(), half.next_down(), k as f32]);
    }
    let mut x: u32 = 12345;
    for _ in 0..200_000 {
        // xorshift: reproducible values in about -10,000..10,000.
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        values.push((x as f32 / u32::MAX as f32 - 0.5) * 20_000.0);
    }
    values.extend([f32::NAN, f32::INFINITY, 1e9, -1e9]);
    for v in values {
        let (got, want) = (super::round(v), v.round());
        assert!(
            got == want || got.is_nan() && want.is_nan(),
            "{v}: {got} != {want}"
        );
        assert_eq!(
            got.is_sign_negative(),
            want.is_sign_negative(),
            "sign of {v}"
        );
    }
}

proptest::proptest! {
    // Rule words must fall in the right places; many cases find them.
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4000))]

    /// The shortcut for scored words no rule concerns gives exactly what
    /// the rules give, on random runs of rule words, scored words and
    /// sentence breaks.
    #[test]
    fn unruled_words_score_as_the_rules_score(
        tokens in proptest::collection::vec(
            (
                proptest::sample::select(vec![
                    0, flag::NEGATION, flag::NEGATION | flag::NEVER, flag::NEGATION | flag::WITHOUT,
                    flag::BOOSTER, flag::BOOSTER | flag::SO_THIS, flag::BOOSTER | flag::VERY,
                    flag::DAMPENER, flag::NO, flag::OR_NOR, flag::KIND, flag::SORT, flag::OF,
                    flag::A, flag::BIT, flag::JUST, flag::ENOUGH, flag::LEAST, flag::AT,
                    flag::SO_THIS, flag::DOUBT, flag::BUT,
                ]),
                proptest::option::of(-3.0f32..3.0),
                proptest::bool::ANY,
                proptest::bool::weighted(0.15),
            ),
            1..12,
        ),
        cap_diff in proptest::bool::ANY,
    ) {
        let a = analyzer();
        let mut s = Scratch::default();
        let mut sentence = 0;
        for (flags, valence, caps, breaks) in tokens {
            sentence += u32::from(breaks);
            s.tokens.push(Token { flags, valence, caps, sentence, ..Default::default() });
        }
        for i in 0..s.tokens.len() {
            if let Some(v) = unruled(i, cap_diff, &s) {
                proptest::prop_assert_eq!(v.to_bits(), a.ruled(i, cap_diff, &s).to_bits(), "token {}", i);
            }
        }
    }
}

/// Issue 17 (found by the reference analyzer's proptest): a word whose
/// valence is 0 (inside an idiom, or made neutral by a lexicon or a
/// brand's override) has nothing for emphasis or modifiers to amplify. It
/// used to take the capitals bonus and boosters' and dampeners' increments
/// (signed by +0, so always upward): "waiting at the BUS STOP" was praise.
#[test]
fn zero_valence_words_stay_neutral_under_capitals_and_modifiers() {
    let a = analyzer();
    let mut o = Lexicon::default();
    o.insert("war zone", 0.0);
    o.insert("meh", 0.0);
    let mut s = Scratch::default();
    for text in [
        "I played WAR ZONE all day",
        "I played war zone all day",
        "I played very war zone all day",
        "I played EXTREMELY war zone all day",
        "I played kind of war zone all day",
        "I played a bit war zone all day",
        "it was MEH today",
        "it was really meh today",
        "it was sort of meh today",
    ] {
        let got = a.analyze(text, None, &[&o], &mut s);
        assert_eq!(got.compound, 0.0, "{text}: {got:?}");
        assert_eq!(got.label, SentimentLabel::Neutral, "{text}");
    }
    // Words with a valence still take them.
    assert!(c("the food was GOOD") > c("the food was good"));
}

/// Issue 17 (found by the reference analyzer): "no" before a sentiment
/// word negates it and does not count itself, so its capitals add nothing
/// either. They used to add +0.733 (the sign of its +0 score), making
/// "NO good" less negative than "no good".
#[test]
fn no_in_capitals_before_a_sentiment_word_does_not_count() {
    let mut lex = Lexicon::default();
    lex.insert("no", -1.2);
    lex.insert("good", 1.9);
    let a = Analyzer::new(lex);
    let mut s = Scratch::default();
    let shouted = a.analyze("it was NO good", None, &[], &mut s);
    assert_eq!(s.scores[0], 0.0, "{:?}", s.scores);
    assert_eq!(shouted.pos, 0.0, "{shouted:?}");
    let plain = a.analyze("it was no good", None, &[], &mut s);
    assert_eq!(shouted.compound, plain.compound);
}
