use proptest::prelude::*;

use super::eval::{eval, near, Hits};
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
        "lang:en",
        "NOT a AND NOT b",
        "acme OR NOT b",
        "lang:en OR acme",
    ] {
        let e = err(q);
        assert!(e.message.contains("without any of its terms"), "{q}: {e}");
    }
    for q in ["acme NOT b", "lang:en AND acme", "(a OR b) AND NOT c"] {
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
