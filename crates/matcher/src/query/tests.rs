use proptest::prelude::*;

use super::eval::{eval, near, near_spans, Hits, MAX_SPANS};
use super::*;

fn p(s: &str) -> Query {
    Query::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn t(s: &str) -> Query {
    Query::Term(Term::new(s.into(), false, false, false))
}

fn err(s: &str) -> QueryError {
    Query::parse(s).expect_err(s)
}

#[test]
fn precedence_not_and_or() {
    // NOT > AND > OR
    assert_eq!(
        p("a OR b AND NOT c"),
        Query::Or(vec![
            t("a"),
            Query::And(vec![t("b"), Query::Not(Box::new(t("c")))])
        ])
    );
    assert_eq!(
        p("(a OR b) AND c"),
        Query::And(vec![Query::Or(vec![t("a"), t("b")]), t("c")])
    );
    // Binary NOT is AND NOT.
    assert_eq!(
        p("a NOT b"),
        Query::And(vec![t("a"), Query::Not(Box::new(t("b")))])
    );
}

#[test]
fn near_binds_tightest() {
    let q = p("a NEAR/3 b OR c");
    assert_eq!(
        q,
        Query::Or(vec![
            Query::Near {
                left: Box::new(t("a")),
                right: Box::new(t("b")),
                distance: 3,
                ordered: false
            },
            t("c")
        ])
    );
    assert!(matches!(
        p("a NEAR/2f b"),
        Query::Near {
            ordered: true,
            distance: 2,
            ..
        }
    ));
}

#[test]
fn terms_phrases_wildcards_fields() {
    let q = p(
        r#""acme cloud" AND refund* AND fix~ AND author:"Acme Help" AND site:acme.com AND lang:en AND source:reddit"#,
    );
    let Query::And(items) = q else { panic!() };
    assert_eq!(
        items[0],
        Query::Term(Term::new("acme cloud".into(), true, false, false))
    );
    assert_eq!(
        items[1],
        Query::Term(Term::new("refund".into(), false, true, false))
    );
    assert_eq!(
        items[2],
        Query::Term(Term::new("fix".into(), false, false, true))
    );
    assert_eq!(items[3], Query::Field(Field::Author, "Acme Help".into()));
    assert_eq!(items[4], Query::Field(Field::Site, "acme.com".into()));
    assert_eq!(items[5], Query::Field(Field::Lang, "en".into()));
    assert_eq!(items[6], Query::Field(Field::Source, "reddit".into()));
}

#[test]
fn errors_have_positions_and_expectations() {
    let e = err("acme AND (refund OR credit");
    assert_eq!((e.offset, e.column), (9, 10));
    assert!(e.message.contains("unclosed `(`"), "{e}");

    let e = err("acme cloud");
    assert_eq!(e.column, 6);
    assert!(
        e.message.contains("expected AND, OR") && e.message.contains("quote them"),
        "{e}"
    );

    let e = err("acme AND");
    assert_eq!(e.column, 9);
    assert!(e.message.contains("unexpected end"), "{e}");

    let e = err("ré*");
    assert!(e.message.contains("at least 3 letters"), "{e}");

    let e = err("acme NEAR refund");
    assert!(e.message.contains("NEAR/3"), "{e}");

    let e = err("acme AND \"refund");
    assert_eq!(e.column, 10);
    assert!(e.message.contains("unterminated"), "{e}");

    let e = err("colour:red AND acme");
    assert!(e.message.contains("unknown field"), "{e}");

    let e = err("acme NEAR/3 (a AND b)");
    assert_eq!(e.column, 13);
    assert!(e.message.contains("NEAR/n operands"), "{e}");

    let e = err("a) OR b");
    assert_eq!(e.column, 2);
    assert!(e.message.contains("unbalanced"), "{e}");

    let e = err("ref*und");
    assert_eq!(e.column, 4);

    let e = err("(é x");
    assert_eq!(e.column, 4, "columns count characters, not bytes");
}

#[test]
fn negation_only_queries_are_rejected() {
    for q in [
        "NOT acme",
        "NOT a AND NOT b",
        "acme OR NOT b",
        "NOT (a OR b)",
    ] {
        let e = err(q);
        assert!(e.message.contains("by what they lack alone"), "{q}: {e}");
    }
    // Issue 16: field filters may stand anywhere, alone in a branch too.
    for q in [
        "acme NOT b",
        "lang:en AND acme",
        "(a OR b) AND NOT c",
        "lang:en",
        "site:acme.com OR acme",
        "author:acme OR (acme AND support)",
    ] {
        p(q);
    }
}

#[test]
fn lowercase_operators_are_words() {
    assert_eq!(
        p("\"rock and roll\""),
        Query::Term(Term::new("rock and roll".into(), true, false, false))
    );
    assert!(Query::parse("rock and roll").is_err());
}

#[test]
fn near_distances() {
    // Spans are word index ranges [first, last + 1).
    assert!(near((0, 1), (1, 2), 0, true)); // adjacent
    assert!(near((0, 1), (3, 4), 2, true)); // two words between
    assert!(!near((0, 1), (4, 5), 2, true));
    assert!(near((5, 6), (0, 2), 3, false)); // unordered: either side
    assert!(!near((5, 6), (0, 2), 3, true)); // ordered: left first
    assert!(!near((0, 2), (1, 3), 5, false)); // overlapping spans are not "near"
}

#[test]
fn trigger_prefers_rare_terms() {
    let mut q = p(r#"acme AND (refund* OR "money back") NOT site:acme.com"#);
    let mut next = 0;
    q.terms_mut(false, &mut |t, _| {
        t.id = next;
        next += 1;
    });
    // acme = 0, refund* = 1, "money back" = 2: `acme` alone is the cheapest set...
    assert_eq!(q.trigger(&|_| 1), Some(vec![0]));
    // ...unless it is the common one.
    assert_eq!(
        q.trigger(&|t| if t == 0 { 10 } else { 1 }),
        Some(vec![1, 2])
    );
    assert_eq!(
        p("acme NEAR/2 cloud").trigger(&|_| 1).map(|s| s.len()),
        Some(1)
    );
    assert_eq!(Query::Not(Box::new(t("acme"))).trigger(&|_| 1), None);
}

/// Hits for the trigger property: term `t` hits when bit `t` is set, at word `t`.
struct Bits(u64, bool);

impl Hits for Bits {
    fn word_spans(&self, term: u32, out: &mut Vec<(u32, u32)>) {
        if self.hit(term) {
            out.push((term, term + 1));
        }
    }
    fn hit(&self, term: u32) -> bool {
        term < 64 && self.0 >> term & 1 == 1
    }
    fn field(&self, _: Field, _: &str) -> bool {
        self.1
    }
}

fn word() -> impl Strategy<Value = String> {
    "[a-z]{3,8}".prop_filter("not an operator", |w| {
        !["and", "or", "not"].contains(&w.as_str())
    })
}

fn leaf() -> impl Strategy<Value = Query> {
    prop_oneof![
        word().prop_map(|w| Query::Term(Term::new(w, false, false, false))),
        word().prop_map(|w| Query::Term(Term::new(w, false, true, false))),
        word().prop_map(|w| Query::Term(Term::new(w, false, false, true))),
        (word(), word()).prop_map(|(a, b)| Query::Term(Term::new(
            format!("{a} {b}"),
            true,
            false,
            false
        ))),
    ]
}

fn positional() -> impl Strategy<Value = Query> {
    leaf().prop_recursive(2, 6, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 2..4).prop_map(Query::Or),
            (inner.clone(), inner, 0u32..5, any::<bool>()).prop_map(|(l, r, distance, ordered)| {
                Query::Near {
                    left: Box::new(l),
                    right: Box::new(r),
                    distance,
                    ordered,
                }
            }),
        ]
    })
}

fn query() -> impl Strategy<Value = Query> {
    let base = prop_oneof![
        4 => positional(),
        1 => Just(Query::Field(Field::Lang, "en".into())),
        1 => Just(Query::Field(Field::Author, "Acme Help".into())),
    ];
    base.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 2..4).prop_map(Query::And),
            prop::collection::vec(inner.clone(), 2..4).prop_map(Query::Or),
            inner.prop_map(|q| Query::Not(Box::new(q))),
        ]
    })
}

proptest! {
    #[test]
    fn display_round_trips(q in query()) {
        let text = q.to_string();
        // Displayed queries parse back to the same tree (before the
        // "needs a term" check, which some generated trees fail).
        prop_assert_eq!(parser::parse(&text).map_err(|e| e.to_string()), Ok(q));
    }

    #[test]
    fn a_query_holds_only_when_a_trigger_term_hits(
        mut q in query(),
        bits in any::<u64>(),
        field in any::<bool>(),
        costs in prop::collection::vec(0u64..4, 64),
    ) {
        let mut next = 0;
        q.terms_mut(false, &mut |t, _| {
            t.id = next % 64;
            next += 1;
        });
        let trigger = q.trigger(&|t| costs[t as usize]);
        prop_assert_eq!(trigger.is_some(), q.requires_term());
        let h = Bits(bits, field);
        if let Some(set) = trigger {
            if eval(&q, &h) {
                prop_assert!(set.iter().any(|&t| h.hit(t)));
            }
        }
    }

    #[test]
    fn parser_never_panics(s in "[a-z()\" *~:/A-Z0-9]{0,30}") {
        let _ = Query::parse(&s);
    }

    #[test]
    fn error_positions_are_in_bounds(s in "[a-z()\" *~:/A-Z0-9]{0,30}") {
        if let Err(e) = Query::parse(&s) {
            prop_assert!(e.offset <= s.len());
            prop_assert!(e.column >= 1 && e.column <= s.chars().count() + 1);
        }
    }
}

/// `n` nested parentheses around one word.
fn nested_parens(n: usize) -> String {
    format!("{}acme{}", "(".repeat(n), ")".repeat(n))
}

#[test]
fn issue_12_query_depth_limit_parentheses() {
    let e = err(&nested_parens(2_000));
    assert!(
        e.message
            .contains(&format!("nesting deeper than {MAX_QUERY_DEPTH}")),
        "{e}"
    );
    // Placed at the first `(` over the limit.
    assert_eq!(e.column, MAX_QUERY_DEPTH + 1, "{e}");
    // At the limit itself the query parses, to the word alone.
    assert_eq!(p(&nested_parens(MAX_QUERY_DEPTH)), t("acme"));
    let e = err(&nested_parens(MAX_QUERY_DEPTH + 1));
    assert!(e.message.contains("nesting deeper than"), "{e}");
}

#[test]
fn issue_12_query_depth_limit_not_chain() {
    // Prefix NOTs are read in a loop but each nests the tree one level.
    let q = format!("acme AND {}refund", "NOT ".repeat(10_000));
    let e = err(&q);
    assert!(e.message.contains("nesting deeper than"), "{e}");
    assert_eq!(e.offset, "acme AND ".len() + 4 * MAX_QUERY_DEPTH, "{e}");
    // 100k chained NOTs are over the size limit before any parsing.
    let q = format!("acme AND {}refund", "NOT ".repeat(100_000));
    let e = err(&q);
    assert!(
        e.message.contains(&format!("at most {MAX_QUERY_BYTES}")),
        "{e}"
    );
    // Exactly at the limit: parses, and the negations cancel pairwise.
    let q = p(&format!(
        "acme AND {}refund",
        "NOT ".repeat(MAX_QUERY_DEPTH)
    ));
    let Query::And(items) = &q else {
        panic!("{q:?}")
    };
    let mut depth = 0;
    let mut inner = &items[1];
    while let Query::Not(q) = inner {
        depth += 1;
        inner = q;
    }
    assert_eq!((depth, inner), (MAX_QUERY_DEPTH, &t("refund")));
}

#[test]
fn issue_12_query_depth_limit_near_chain() {
    // A NEAR chain builds a left-deep tree without recursing in the parser;
    // evaluation recurses through it, so it counts against the limit too.
    let chain = |links: usize| format!("acme{}", " NEAR/2 acme".repeat(links));
    let e = err(&chain(1_500));
    assert!(e.message.contains("nesting deeper than"), "{e}");
    let q = p(&chain(MAX_QUERY_DEPTH));
    assert_eq!(q.to_string(), chain(MAX_QUERY_DEPTH));
}

#[test]
fn issue_12_query_term_limit() {
    let words = |n: usize| {
        (0..n)
            .map(|i| format!("w{i}"))
            .collect::<Vec<_>>()
            .join(" OR ")
    };
    assert!(Query::parse(&words(MAX_QUERY_TERMS)).is_ok());
    let e = err(&words(MAX_QUERY_TERMS + 1));
    assert!(
        e.message
            .contains(&format!("more than {MAX_QUERY_TERMS} terms")),
        "{e}"
    );
}

/// Every recursive walk of a tree at the depth limit (evaluation, triggers,
/// display, clone, comparison, drop) runs on a test thread's 2 MiB stack.
#[test]
fn issue_12_query_at_the_depth_limit_evaluates() {
    let half = MAX_QUERY_DEPTH / 2;
    let text = format!(
        "{}acme{} AND {}refund",
        "(".repeat(half),
        " NEAR/3 acme".repeat(half - 1) + &")".repeat(half),
        "NOT ".repeat(MAX_QUERY_DEPTH),
    );
    let mut q = p(&text);
    // Term `t` sits at word `t`: the chain's 50 `acme`s are words 0-49,
    // `refund` is term 50.
    let mut next = 0;
    q.terms_mut(false, &mut |t, _| {
        t.id = next;
        next += 1;
    });
    assert_eq!(next, half as u32 + 1);
    assert_eq!(q.trigger(&|_| 1).map(|s| s.len()), Some(1));
    // An even number of NOTs over `refund` is `refund`.
    assert!(eval(&q, &Bits(u64::MAX, false)));
    assert!(!eval(&q, &Bits(!(1 << half), false)));
    // The chain needs its first word.
    assert!(!eval(&q, &Bits(!1, false)));
    let copy = q.clone();
    assert_eq!(copy, q);
    assert!(!copy.to_string().is_empty());
}

/// Wrappers that each nest a query by a known number of parser levels.
#[derive(Debug, Clone, Copy)]
enum Wrap {
    Paren,
    NotParen,
    AndParen,
    OrParen,
}

impl Wrap {
    fn levels(self) -> usize {
        match self {
            Wrap::NotParen => 2,
            _ => 1,
        }
    }

    fn apply(self, inner: &str) -> String {
        match self {
            Wrap::Paren => format!("({inner})"),
            Wrap::NotParen => format!("NOT ({inner})"),
            Wrap::AndParen => format!("acme AND ({inner})"),
            Wrap::OrParen => format!("({inner}) OR refund"),
        }
    }
}

fn wrap() -> impl Strategy<Value = Wrap> {
    prop_oneof![
        Just(Wrap::Paren),
        Just(Wrap::NotParen),
        Just(Wrap::AndParen),
        Just(Wrap::OrParen),
    ]
}

proptest! {
    /// Deep queries on both sides of the limit: they parse exactly when
    /// their nesting is within it, fail with the depth message otherwise,
    /// and never crash; those that parse display and evaluate.
    #[test]
    fn issue_12_deep_nesting_parses_or_fails_cleanly(
        links in 0usize..60,
        wraps in prop::collection::vec(wrap(), 0..130),
        bits in any::<u64>(),
    ) {
        let mut text = format!("acme{}", " NEAR/1 refund".repeat(links));
        let mut depth = links;
        for w in &wraps {
            text = w.apply(&text);
            depth += w.levels();
        }
        match parser::parse(&text) {
            Ok(mut q) => {
                prop_assert!(depth <= MAX_QUERY_DEPTH, "depth {depth} parsed");
                prop_assert_eq!(parser::parse(&q.to_string()).map_err(|e| e.to_string()), Ok(q.clone()));
                let mut next = 0;
                q.terms_mut(false, &mut |t, _| {
                    t.id = next % 64;
                    next += 1;
                });
                let _ = eval(&q, &Bits(bits, false));
            }
            Err(e) => {
                prop_assert!(depth > MAX_QUERY_DEPTH, "depth {depth}: {e}");
                prop_assert!(e.message.contains("nesting deeper than"), "{e}");
            }
        }
    }
}

fn span() -> impl Strategy<Value = (u32, u32)> {
    (0u32..40, 1u32..4).prop_map(|(s, w)| (s, s + w))
}

proptest! {
    /// The windowed NEAR finds exactly the pairs the definition allows.
    #[test]
    fn near_spans_equal_every_near_pair(
        l in prop::collection::vec(span(), 0..20),
        r in prop::collection::vec(span(), 0..20),
        distance in 0u32..6,
        ordered in any::<bool>(),
    ) {
        let mut expected: Vec<(u32, u32)> = l
            .iter()
            .flat_map(|&a| r.iter().map(move |&b| (a, b)))
            .filter(|&(a, b)| near(a, b, distance, ordered))
            .map(|(a, b)| (a.0.min(b.0), a.1.max(b.1)))
            .collect();
        expected.sort_unstable();
        expected.dedup();
        let mut out = Vec::new();
        near_spans(&l, &mut r.clone(), distance, ordered, &mut out);
        prop_assert_eq!(out, expected);
    }
}

/// Every word of a long post hitting both sides of a NEAR chain: the spans
/// stay bounded instead of multiplying at each link.
#[test]
fn issue_12_near_chain_on_a_repetitive_post_stays_bounded() {
    struct Everywhere(u32);
    impl Hits for Everywhere {
        fn word_spans(&self, _: u32, out: &mut Vec<(u32, u32)>) {
            out.extend((0..self.0).map(|w| (w, w + 1)));
        }
        fn hit(&self, _: u32) -> bool {
            true
        }
        fn field(&self, _: Field, _: &str) -> bool {
            false
        }
    }
    let q = p(&format!("acme{}", " NEAR/5 acme".repeat(MAX_QUERY_DEPTH)));
    let started = std::time::Instant::now();
    assert!(eval(&q, &Everywhere(20_000)));
    let l: Vec<_> = (0..100_000).map(|w| (w, w + 1)).collect();
    let mut out = Vec::new();
    near_spans(&l, &mut l.clone(), 1_000_000, false, &mut out);
    assert_eq!(out.len(), MAX_SPANS);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
}

/// Found by `fuzz/run.sh` (query_parse): `site:""` parsed to an empty filter
/// whose display, `site:`, does not parse back.
#[test]
fn issue_12_fuzz_empty_quoted_field_value_is_refused() {
    for q in [
        "acme NOT site:\"\"",
        "acme AND author:\"  \"",
        "\u{1}\u{2}\u{19}\nNOT\nsite:\"\"\nNOT\nR",
    ] {
        let e = err(q);
        assert!(e.message.contains("expected a value after"), "{q:?}: {e}");
    }
    // A control-character word (the rest of the fuzzer's input) round-trips.
    let q = p("\u{1}\u{2}\u{19} NOT site:acme.com");
    assert_eq!(p(&q.to_string()), q);
}
