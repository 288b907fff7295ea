//! A plain reference for the hybrid model (`hybrid.rs`): the weights file
//! read into string-keyed `HashMap`s, tokens as `String`s split char by
//! char, the inputs computed from the text directly; no hashing, no
//! open-addressing table, no byte buffers. Proptests hold the analyzer's
//! hybrid scores to it (bit for bit: the same float operations in the same
//! order), on top of the lexicon's score, which `reference.rs` holds to its
//! own reference.

use std::collections::HashMap;

use earshot_model::{Sentiment, SentimentLabel};

use super::hybrid::is_skipped;

/// The weights, as the file states them.
pub(super) struct PlainModel {
    threshold: f32,
    social_gate: f32,
    question_gate: f32,
    bias: [f32; 2],
    inputs: Vec<(String, [f32; 2])>,
    grams: HashMap<String, [f32; 2]>,
}

impl PlainModel {
    pub fn parse(text: &str) -> PlainModel {
        let mut m = PlainModel {
            threshold: 0.0,
            social_gate: 0.0,
            question_gate: 0.0,
            bias: [0.0; 2],
            inputs: Vec::new(),
            grams: HashMap::new(),
        };
        for line in text
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            let f: Vec<&str> = line.split('\t').collect();
            let n = |s: &str| s.parse::<f32>().unwrap();
            match f[0] {
                "threshold" => m.threshold = n(f[1]),
                "social_gate" => m.social_gate = n(f[1]),
                "question_gate" => m.question_gate = n(f[1]),
                "bias" => m.bias = [n(f[1]), n(f[2])],
                "input" => m.inputs.push((f[1].to_string(), [n(f[2]), n(f[3])])),
                "gram" => {
                    m.grams.insert(f[1].to_string(), [n(f[2]), n(f[3])]);
                }
                other => panic!("unknown line {other}"),
            }
        }
        m
    }

    /// The hybrid's score of `text`, given the lexicon's.
    pub fn score(&self, text: &str, lex: Sentiment) -> Sentiment {
        let toks = tokens(text);
        let c = lex.compound;
        let word_after = |mark: char| {
            let chars: Vec<char> = text.chars().collect();
            chars
                .windows(2)
                .any(|w| w[0] == mark && (w[1].is_alphanumeric() || w[1] == '_'))
        };
        let mention = word_after('@');
        let hashtag = word_after('#');
        let link = text.contains("http");
        let exclaims = text.chars().filter(|&ch| ch == '!').count();
        let emoji = text.chars().any(|ch| ch > '\u{2000}');
        let social = mention || link || hashtag || emoji;
        let question = text.contains('?');
        let b = |x: bool| if x { 1.0f32 } else { 0.0 };
        let positive = b(c >= 0.35);
        let negative = b(c <= -0.35);
        let values: HashMap<&str, f32> = HashMap::from([
            ("compound", c),
            ("pos", lex.pos),
            ("neg", lex.neg),
            ("lexicon_positive", positive),
            ("lexicon_negative", negative),
            ("abs_compound", c.abs()),
            ("log_tokens", (toks.len() as f32).ln_1p()),
            ("mention", b(mention)),
            ("link", b(link)),
            ("hashtag", b(hashtag)),
            ("exclaims", exclaims.min(4) as f32 / 4.0),
            ("emoji", b(emoji)),
            ("social", b(social)),
            ("social_compound", b(social) * c),
            ("social_abs_compound", b(social) * c.abs()),
            ("social_lexicon_positive", b(social) * positive),
            ("social_lexicon_negative", b(social) * negative),
            ("question", b(question)),
        ]);
        let mut z = self.bias;
        for (name, w) in &self.inputs {
            let x = values[name.as_str()];
            z[0] += x * w[0];
            z[1] += x * w[1];
        }
        let mut gate = (1.0 - c.abs()) * (1.0 - c.abs());
        if social {
            gate *= self.social_gate;
        }
        if question {
            gate *= self.question_gate;
        }
        for (i, t) in toks.iter().enumerate() {
            let mut grams = vec![t.clone()];
            if i > 0 {
                grams.push(format!("{} {}", toks[i - 1], t));
            }
            for g in grams {
                if let Some(w) = self.grams.get(&g) {
                    z[0] += w[0] * gate;
                    z[1] += w[1] * gate;
                }
            }
        }
        let top = z[0].max(z[1]).max(0.0);
        let (p, n, u) = ((z[0] - top).exp(), (z[1] - top).exp(), (-top).exp());
        let compound = ((p - n) / (p + n + u) * 10000.0).round() / 10000.0;
        let label = if compound >= self.threshold {
            SentimentLabel::Positive
        } else if compound <= -self.threshold {
            SentimentLabel::Negative
        } else {
            SentimentLabel::Neutral
        };
        Sentiment {
            compound,
            label,
            ..lex
        }
    }
}

/// The model's tokens: letters, digits and apostrophes run together
/// (lowercased, `’` read as `'`, apostrophes trimmed at both ends); any
/// other non-ASCII character that is not a space or a modifier stands alone.
pub(super) fn tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let flush = |cur: &mut String, out: &mut Vec<String>| {
        let t = cur.trim_matches('\'');
        if !t.is_empty() {
            out.push(t.to_string());
        }
        cur.clear();
    };
    for ch in text.chars() {
        let ch = if ch == '’' { '\'' } else { ch };
        if ch.is_alphanumeric() || ch == '\'' {
            cur.extend(ch.to_lowercase());
        } else if !ch.is_ascii() && is_skipped(ch) {
            // A modifier of the character before: not a token.
        } else {
            flush(&mut cur, &mut out);
            if !ch.is_ascii() && !ch.is_whitespace() {
                out.push(ch.to_string());
            }
        }
    }
    flush(&mut cur, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::super::hybrid::WEIGHTS;
    use super::super::{Analyzer, Scratch, SentimentConfig, SentimentModel};
    use super::*;
    use crate::lexicon::Lexicon;
    use crate::LexiconFormat;
    use proptest::prelude::*;

    fn analyzers() -> (Analyzer, Analyzer) {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../config/lexicons/");
        let read = |f: &str| std::fs::read_to_string(format!("{dir}{f}")).unwrap();
        let mut main = Lexicon::default();
        for (f, format) in [
            ("vader_lexicon.txt", LexiconFormat::Vader),
            ("social.tsv", LexiconFormat::Vader),
            ("vader_emoji_lexicon.txt", LexiconFormat::VaderEmoji),
        ] {
            assert!(main.load(&read(f), format).is_empty(), "{f}");
        }
        main.resolve_emoji();
        let lexicon = Analyzer::new(main);
        let mut hybrid = lexicon.clone();
        hybrid.configure(SentimentConfig {
            model: SentimentModel::Hybrid,
            ..SentimentConfig::default()
        });
        (lexicon, hybrid)
    }

    thread_local! {
        static SETUP: (Analyzer, Analyzer, PlainModel) = {
            let (l, h) = analyzers();
            (l, h, PlainModel::parse(WEIGHTS))
        };
    }

    fn check(text: &str) -> Result<(), String> {
        SETUP.with(|(lexicon, hybrid, plain)| {
            let mut s = Scratch::default();
            let lex = lexicon.analyze(text, None, &[], &mut s);
            let want = plain.score(text, lex);
            let got = hybrid.analyze(text, None, &[], &mut s);
            // An empty text (no lexicon token) keeps the lexicon's score.
            let want = if s.tokens.is_empty() { lex } else { want };
            if got == want {
                Ok(())
            } else {
                Err(format!("{text:?}: fast {got:?}, reference {want:?}"))
            }
        })
    }

    /// Words the model has weights for, alone and in pairs, and the
    /// traits it reads.
    const VOCABULARY: &[&str] = &[
        "not",
        "worth",
        "waste",
        "of",
        "the",
        "film",
        "plot",
        "love",
        "great",
        "bad",
        "boring",
        "@acme",
        "#fail",
        "http://t.co/x",
        "!!",
        "!",
        "😀",
        "👍🏽",
        "❤️",
        "’",
        "don’t",
        "'quoted'",
        "'",
        "ÉNORME",
        "İstanbul",
        "ß",
        "a\u{200d}b",
        "lol",
        ":)",
        "but",
        "never",
        "really",
        "isn't",
        "Movie",
        "FUNNY",
        "#",
        "@",
        "_",
        "x@y",
        "price",
        "5",
        "stars",
    ];

    fn text() -> impl Strategy<Value = String> {
        let word = prop_oneof![
            8 => proptest::sample::select(VOCABULARY).prop_map(str::to_string),
            1 => "[a-zA-Z'!?.,:@#()-]{1,12}",
            1 => "\\PC{1,6}",
        ];
        let sep = prop_oneof![
            8 => Just(" ".to_string()),
            1 => Just(String::new()),
            1 => "[ \t\n\u{a0}.,]{1,3}",
        ];
        proptest::collection::vec((word, sep), 0..20).prop_map(|parts| {
            parts.into_iter().fold(String::new(), |mut t, (w, s)| {
                t.push_str(&w);
                t.push_str(&s);
                t
            })
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        /// The hybrid scores random text as the reference does.
        #[test]
        fn issue_16_hybrid_matches_the_reference(text in text()) {
            let result = check(&text);
            prop_assert!(result.is_ok(), "{}", result.unwrap_err());
        }
    }

    /// The repository's texts: the sentiment corpus and the golden texts.
    #[test]
    fn issue_16_hybrid_matches_the_reference_on_the_repository_texts() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../");
        for f in [
            "benches/sentiment-eval/corpus.txt",
            "tests/golden/texts.txt",
        ] {
            let text = std::fs::read_to_string(format!("{root}{f}")).unwrap();
            for line in text.lines() {
                check(line).unwrap();
            }
        }
    }

    /// Tokens by both splitters.
    #[test]
    fn issue_16_tokens_agree() {
        let mut g = super::super::hybrid::Grams::default();
        for text in [
            "Don’t  'quote' me!! @acme #win http://x.co 😀👍🏽 ÉNORME a\u{200d}b",
            "''' '' x'",
            "",
        ] {
            g.split(text);
            let fast: Vec<String> = (0..g.ends.len())
                .map(|i| String::from_utf8(g.token(i).to_vec()).unwrap())
                .collect();
            assert_eq!(fast, tokens(text), "{text:?}");
            // The keys hashed while splitting are the tokens' keys.
            let keys: Vec<u64> = (0..g.ends.len())
                .map(|i| super::super::hybrid::key(g.token(i)))
                .collect();
            assert_eq!(g.keys, keys, "{text:?}");
        }
        assert_eq!(
            tokens("Don’t  'quote' me!! 😀👍🏽"),
            ["don't", "quote", "me", "😀", "👍"]
        );
    }
}
