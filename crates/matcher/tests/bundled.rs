//! The bundled example config (`config/earshot.toml`) end to end through the library.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use earshot_match::{FileSource, Matcher, MatcherConfig, MemorySource, SharedMatcher};
use earshot_model::{EntityKind, Intent, Post, Route, SentimentLabel};

struct Dir(PathBuf);

impl FileSource for Dir {
    fn read(&self, path: &Path) -> std::io::Result<String> {
        std::fs::read_to_string(self.0.join(path))
    }
}

fn config_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config")
}

fn bundled() -> Matcher {
    #[derive(serde::Deserialize)]
    struct File {
        matcher: MatcherConfig,
    }
    let text = std::fs::read_to_string(config_dir().join("earshot.toml")).unwrap();
    let file: File = toml::from_str(&text).unwrap();
    file.matcher
        .compile(&Dir(config_dir()))
        .unwrap_or_else(|e| panic!("{e:#?}"))
}

fn post(text: &str) -> Post {
    let mut p = Post::new("x:1", text);
    p.lang = Some("en".into());
    p
}

fn ids(m: &Matcher, p: &Post, kind: EntityKind) -> Vec<String> {
    m.score(p)
        .entities(kind)
        .into_iter()
        .map(String::from)
        .collect()
}

#[test]
fn bundled_config_compiles_with_a_stable_version() {
    let a = bundled();
    let b = bundled();
    assert_eq!(a.version(), b.version());
    assert_eq!(a.version().len(), 16);
    let stats = a.stats();
    assert!(stats.brands >= 7 && stats.customers == 12, "{stats:?}");
}

#[test]
fn brands_aliases_hashtags_and_mentions() {
    let m = bundled();
    assert_eq!(
        ids(
            &m,
            &post("Loving my new ACME corp gadget"),
            EntityKind::Brand
        ),
        ["acme"]
    );
    assert_eq!(
        ids(
            &m,
            &post("thanks @acmesupport! #AcmeCares"),
            EntityKind::Brand
        ),
        ["acme"]
    );
    assert_eq!(
        ids(&m, &post("#RocketSkates are fast"), EntityKind::Brand),
        ["acme-rocket"]
    );
    assert!(ids(&m, &post("acmeology is a word"), EntityKind::Brand).is_empty());
    let s = m.score(&post("My Acme Rocket arrived"));
    let spans: Vec<_> = s
        .matches
        .iter()
        .map(|x| (x.entity_id.as_str(), x.span))
        .collect();
    assert_eq!(
        spans,
        [("acme", Some((3, 7))), ("acme-rocket", Some((3, 14)))]
    );
}

#[test]
fn ambiguous_brand_needs_context() {
    let m = bundled();
    assert!(ids(
        &m,
        &post("Grandma's apple pie is the best"),
        EntityKind::Competitor
    )
    .is_empty());
    assert!(ids(&m, &post("An apple a day"), EntityKind::Competitor).is_empty());
    assert_eq!(
        ids(
            &m,
            &post("Apple just raised iPhone prices again"),
            EntityKind::Competitor
        ),
        ["apple"]
    );
    // The excluded phrase cancels only the hit inside it.
    let s = m.score(&post("apple pie while my Apple iPhone charges"));
    assert_eq!(
        s.matches.iter().filter(|x| x.entity_id == "apple").count(),
        1
    );
}

#[test]
fn queries_near_and_stemming() {
    let m = bundled();
    let s = m.score(&post("Acme Cloud has been having an outage all morning"));
    assert!(
        s.matches
            .iter()
            .any(|x| x.entity_id == "acme-cloud" && x.rule.contains("NEAR/4")),
        "{:?}",
        s.matches
    );
    let s = m.score(&post(
        "Acme Cloud is fine, but there was an outage at the gym earlier",
    ));
    assert!(
        !s.matches.iter().any(|x| x.rule.contains("NEAR/4")),
        "too far apart: {:?}",
        s.matches
    );
    // `refund~` matches "refunded" by stem, within 3 words of "acme".
    let s = m.score(&post("acme finally refunded me"));
    assert!(
        s.matches
            .iter()
            .any(|x| x.entity_id == "acme" && x.rule.contains("refund~")),
        "{:?}",
        s.matches
    );
}

#[test]
fn customers_by_author_handle_and_mentions() {
    let m = bundled();
    let mut p = post("anyone else seeing errors today?");
    p.author.handle = Some("@StarkOps".into());
    let s = m.score(&p);
    assert_eq!(s.entities(EntityKind::Customer), ["crm-002"]);
    assert_eq!(s.matches[0].span, None);
    // Handles are per network: the same handle on another source is someone else.
    p.source = "reddit".into();
    assert!(m.score(&p).entities(EntityKind::Customer).is_empty());
    let s = m.score(&post("Email from waynefoods.com about Umbrella Health"));
    assert_eq!(s.entities(EntityKind::Customer), ["crm-003", "crm-001"]);
}

#[test]
fn accents_and_width_fold() {
    let m = bundled();
    assert_eq!(
        ids(&m, &post("ＡＣＭＥ rocks"), EntityKind::Brand),
        ["acme"]
    );
    let mut p = Post::new(
        "x:2",
        "Acme Cloud est en panne depuis ce matin, c'est caído",
    );
    p.lang = Some("fr".into());
    assert!(m
        .score(&p)
        .matches
        .iter()
        .any(|x| x.entity_id == "acme-cloud"));
}

#[test]
fn brand_rulesets_override_sentiment() {
    let m = bundled();
    let s = m.score(&post("War Zone season 3 is out today"));
    assert_eq!(
        s.sentiment.label,
        SentimentLabel::Neutral,
        "{:?}",
        s.sentiment
    );
    let s = m.score(&post("the war in the news is out today"));
    assert_eq!(s.sentiment.label, SentimentLabel::Negative);
}

#[test]
fn intents_and_routes() {
    let m = bundled();
    let s = m.score(&post(
        "Acme charged me twice and support is useless. I want a refund!",
    ));
    assert_eq!(
        s.intents.first(),
        Some(&Intent::COMPLAINT),
        "{:?}",
        s.intents
    );
    assert_eq!(s.route, Route::SUPPORT);
    assert!(
        s.priority_reasons[0].starts_with("rule complaint"),
        "{:?}",
        s.priority_reasons
    );

    let s = m.score(&post(
        "My lawyer will hear about this, Acme. See you in court.",
    ));
    assert!(s.intents.contains(&Intent::PR_RISK));
    assert_eq!((s.route, s.priority), (Route::PR, 80));

    let mut p = post("Thinking of buying an Acme Rocket, is it worth it?");
    p.author.reach = Some(25_000);
    let s = m.score(&p);
    assert!(
        s.intents.contains(&Intent::PURCHASE_INTENT),
        "{:?}",
        s.intents
    );
    assert_eq!(s.route, Route::SALES);
    assert_eq!(s.priority, 55);
    assert_eq!(
        s.priority_reasons[1],
        "boost high-reach: reach=25000>=10000 (+15)"
    );

    let mut p = post("Cancelling our Acme contract, moving to Globex. Done with the outages.");
    p.author.handle = Some("waynefoods".into());
    let s = m.score(&p);
    assert!(s.intents.contains(&Intent::CHURN_RISK), "{:?}", s.intents);
    assert_eq!(s.route, Route::SUPPORT);
    assert!(
        s.priority_reasons[0].contains("tier=enterprise"),
        "{:?}",
        s.priority_reasons
    );

    let s = m.score(&post("the weather is nice"));
    assert_eq!((s.route, s.priority), (Route::NONE, 0));
}

#[test]
fn entity_sentiment_differs_per_entity() {
    let m = bundled();
    let s = m.score(&post(
        "Acme support was amazing today. Globex was a total disaster, awful.",
    ));
    let globex = s.entity_sentiment.iter().find(|e| e.entity_id == "globex");
    let acme = s.entity_sentiment.iter().find(|e| e.entity_id == "acme");
    assert!(
        globex.is_some_and(|g| g.label == SentimentLabel::Negative)
            || acme.is_some_and(|a| a.label == SentimentLabel::Positive),
        "{:?} {:?}",
        s.sentiment,
        s.entity_sentiment
    );
}

#[test]
fn language_is_detected_when_missing() {
    let m = bundled();
    let p = Post::new(
        "x:3",
        "Le service client d'Acme est vraiment nul, je veux être remboursé",
    );
    assert_eq!(m.score(&p).post.lang.as_deref(), Some("fr"));
    let mut p = Post::new("x:4", "short");
    p.lang = Some("de".into());
    assert_eq!(
        m.score(&p).post.lang.as_deref(),
        Some("de"),
        "a given language is kept"
    );
}

#[test]
fn field_filters() {
    let config: MatcherConfig = toml::from_str("brands = ['b.toml']").unwrap();
    let files = MemorySource::default().with(
        "b.toml",
        "[[brand]]\nid = 'a'\nname = 'A'\nquery = 'acme AND NOT (site:acme.com OR author:acme) AND (lang:en OR source:hn)'\n",
    );
    let m = config.compile(&files).unwrap();
    let mut p = post("acme is ok");
    assert_eq!(m.score(&p).matches.len(), 1);
    p.url = Some("https://blog.acme.com/post".into());
    assert!(m.score(&p).matches.is_empty(), "site: matches subdomains");
    p.url = None;
    p.author.handle = Some("ACME".into());
    assert!(m.score(&p).matches.is_empty());
    p.author.handle = None;
    p.lang = Some("fr".into());
    assert!(m.score(&p).matches.is_empty());
    p.source = "hn".into();
    assert_eq!(m.score(&p).matches.len(), 1);
}

#[test]
fn compile_reports_every_problem() {
    let config: MatcherConfig = toml::from_str(
        "brands = ['b.toml', 'missing.toml']\ncustomers = ['c.csv']\nintents = 'i.toml'\nroutes = 'r.toml'\nlexicons = [{ path = 'l.tsv' }]",
    )
    .unwrap();
    let files = MemorySource::default()
        .with("b.toml", "[[brand]]\nid = 'a'\nname = 'A'\nquery = 'a NEAR b'\n[[brand]]\nid = 'a'\nname = 'B'\n")
        .with("c.csv", "id,name\n1,\n")
        .with("i.toml", "[[intent]]\nintent = 'No-pe'\nquery = 'x'\n")
        .with("r.toml", "[[rule]]\nname = 'x'\nroute = 'pr'\n")
        .with("l.tsv", "good\tvery\n");
    let errors = config.compile(&files).unwrap_err();
    let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(text.len(), 6, "{text:#?}");
    assert!(
        text[0].starts_with("b.toml:4:12: brand a: query: expected a distance after NEAR"),
        "{text:#?}"
    );
    assert!(
        text[1].starts_with("missing.toml: cannot read"),
        "{text:#?}"
    );
    assert!(
        text[2].starts_with("c.csv:2: customer 1: expected a `name`"),
        "{text:#?}"
    );
    assert!(
        text[3].starts_with("l.tsv:1: lexicon: expected a number"),
        "{text:#?}"
    );
    assert!(
        text[4]
            .starts_with("i.toml:2:10: intent #1 (No-pe): intent: `No-pe` is no valid intent name"),
        "{text:#?}"
    );
    assert!(
        text[5].starts_with("r.toml:2:8: rule x: expected `priority`"),
        "{text:#?}"
    );
}

#[test]
fn shared_matcher_swaps_atomically() {
    let config: MatcherConfig = toml::from_str("brands = ['b.toml']").unwrap();
    let one = MemorySource::default().with("b.toml", "[[brand]]\nid = 'a'\nname = 'Acme'\n");
    let two = MemorySource::default().with("b.toml", "[[brand]]\nid = 'g'\nname = 'Globex'\n");
    let shared = SharedMatcher::new(config.compile(&one).unwrap());
    let before: Arc<Matcher> = shared.load();
    let old = shared.store(config.compile(&two).unwrap());
    assert_eq!(old.version(), before.version());
    assert_ne!(shared.load().version(), before.version());
    let p = post("Acme vs Globex");
    // A reader holding the old matcher keeps using it consistently.
    assert_eq!(before.score(&p).entities(EntityKind::Brand), ["a"]);
    assert_eq!(shared.load().score(&p).entities(EntityKind::Brand), ["g"]);
}

#[test]
fn scoring_is_deterministic_and_thread_safe() {
    let m = Arc::new(bundled());
    let texts = [
        "Acme is great!",
        "apple pie",
        "Acme Cloud outage again",
        "thanks @acme 😀",
    ];
    let expected: Vec<_> = texts.iter().map(|t| m.score(&post(t))).collect();
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let m = Arc::clone(&m);
            std::thread::spawn(move || texts.iter().map(|t| m.score(&post(t))).collect::<Vec<_>>())
        })
        .collect();
    for h in handles {
        for (a, b) in h.join().unwrap().iter().zip(&expected) {
            assert_eq!(
                (&a.matches, a.sentiment, &a.intents, &a.route, a.priority),
                (&b.matches, b.sentiment, &b.intents, &b.route, b.priority)
            );
        }
    }
}
