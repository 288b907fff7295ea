//! Issue 16 item 1: the learned context model. A bare name of a brand with
//! `context` (no context word in the post) is decided by a per-brand model
//! trained from the watchlist's own evidence and the analyst's labels, with
//! its words on the match; bounded by a threshold and `off` per brand.

use earshot_match::context::train::Trainer;
use earshot_match::context::ModelFile;
use earshot_match::eval::{evaluate, parse_labelled};
use earshot_match::{Matcher, MatcherConfig, MemorySource};
use earshot_model::Post;

const BRANDS: &str = r#"
[[brand]]
id = "delta"
name = "Delta"
handles = ["delta"]
context = ["flight", "@delta"]
exclude = ["delta river"]
negative_context = ["fishing"]
"#;

/// Posts the rules decide: about the airline (a context word or the handle
/// next to travel words), about the river (inside the exclude phrase, or
/// next to the negative context word next to river words).
fn training_posts() -> Vec<Post> {
    let travel = [
        "lost my suitcase",
        "the crew were lovely",
        "boarding took ages",
        "my suitcase never arrived",
        "crew upgraded me",
        "boarding at gate 12",
        "suitcase damaged again",
    ];
    let river = [
        "sediment everywhere",
        "the water rose overnight",
        "sediment and mangroves",
        "water birds at dawn",
        "mangroves are protected",
        "the water is brown",
    ];
    let mut posts = Vec::new();
    for (i, t) in travel.iter().enumerate() {
        let text = if i % 2 == 0 {
            format!("Delta flight: {t}")
        } else {
            format!("@delta {t}")
        };
        posts.push(Post::new(format!("x:p{i}"), text));
    }
    for (i, t) in river.iter().enumerate() {
        let text = if i % 2 == 0 {
            format!("the Delta river: {t}")
        } else {
            format!("fishing on the Delta, {t}")
        };
        posts.push(Post::new(format!("x:n{i}"), text));
    }
    // Bare names teach nothing: the rules cannot say.
    posts.push(Post::new("x:u1", "Delta again, sediment and suitcase"));
    posts
}

fn config(brands: &str, model: Option<&str>) -> (MatcherConfig, MemorySource) {
    let config = MatcherConfig {
        brands: vec!["b.toml".into()],
        detect_language: false,
        context_model: model.map(|_| "model.json".into()),
        ..Default::default()
    };
    let mut files = MemorySource::default().with("b.toml", brands);
    if let Some(m) = model {
        files = files.with("model.json", m);
    }
    (config, files)
}

fn compile(brands: &str, model: Option<&str>) -> Matcher {
    let (c, f) = config(brands, model);
    c.compile(&f).unwrap()
}

fn train(posts: &[Post]) -> ModelFile {
    let rules = compile(BRANDS, None);
    let mut t = Trainer::new(&rules);
    for p in posts {
        t.add_post(p);
    }
    t.finish(1)
}

fn rules_of(m: &Matcher, text: &str) -> Vec<String> {
    m.score(&Post::new("x:t", text))
        .matches
        .into_iter()
        .map(|m| m.rule)
        .collect()
}

#[test]
fn issue_16_context_model_training_is_deterministic() {
    let posts = training_posts();
    let a = train(&posts).to_json();
    let mut reversed = posts.clone();
    reversed.reverse();
    assert_eq!(a, train(&reversed).to_json(), "order changed the model");
    // A post read twice counts once.
    let mut twice = posts.clone();
    twice.extend(posts.iter().cloned());
    assert_eq!(a, train(&twice).to_json());
    let m = ModelFile::parse(&a).unwrap();
    let d = &m.brands["delta"];
    assert_eq!((d.about, d.not_about), (7, 6), "{a}");
    // The name, the context words and function words are not features.
    for w in ["delta", "flight", "fishing", "the", "at"] {
        assert!(!d.words.contains_key(w), "{w} in {a}");
    }
    assert_eq!(d.words["suitcas"], [3, 0]);
}

#[test]
fn issue_16_bare_name_decided_by_words_no_context_list_foresaw() {
    let model = train(&training_posts()).to_json();
    let without = compile(BRANDS, None);
    let with = compile(BRANDS, Some(&model));
    let airline = "Delta lost my suitcase, the crew shrugged";
    assert!(rules_of(&without, airline).is_empty());
    let rules = rules_of(&with, airline);
    assert_eq!(rules.len(), 1, "{rules:?}");
    // The explanation: probability, threshold and the words that tipped it.
    assert!(
        rules[0].starts_with("Delta (context model ") && rules[0].contains("≥ 0.50: "),
        "{}",
        rules[0]
    );
    assert!(
        rules[0].contains("suitcase") && rules[0].contains("crew"),
        "{}",
        rules[0]
    );
    // River words: still not about the airline.
    assert!(rules_of(&with, "Delta sediment, the water is rising").is_empty());
    // Words the model never saw: not decided, as without a model.
    assert!(rules_of(&with, "Delta zebra quantum").is_empty());
    // A context word still decides alone; the negative context vetoes a bare name.
    assert_eq!(rules_of(&with, "Delta flight to Rome"), ["Delta"]);
    assert!(rules_of(&with, "Delta suitcase crew fishing").is_empty());
    // The model is part of the watchlist's version.
    assert_ne!(without.version(), with.version());
}

#[test]
fn issue_16_context_threshold_and_off_per_brand() {
    let model = train(&training_posts()).to_json();
    let airline = "Delta lost my suitcase, the crew shrugged";
    let strict = format!("{BRANDS}context_threshold = 0.999999\n");
    assert!(rules_of(&compile(&strict, Some(&model)), airline).is_empty());
    let off = format!("{BRANDS}context_model = false\n");
    assert!(rules_of(&compile(&off, Some(&model)), airline).is_empty());
    // The [matcher] default, and bad thresholds refused with the key.
    let (mut c, f) = config(BRANDS, Some(&model));
    c.context_threshold = 0.999999;
    assert!(rules_of(&c.compile(&f).unwrap(), airline).is_empty());
    c.context_threshold = 1.5;
    let e = c.compile(&f).unwrap_err();
    assert!(e.iter().any(|e| e.key == "context_threshold"), "{e:?}");
    let bad = format!("{BRANDS}context_threshold = 0\n");
    let (c, f) = config(&bad, Some(&model));
    let e = c.compile(&f).unwrap_err();
    assert!(e[0].key.contains("context_threshold"), "{e:?}");
    // A broken model file is an error naming it; a brand the model lacks,
    // or trained on too few posts, is a notice.
    let (c, f) = config(BRANDS, Some("{\"format\": \"x\"}"));
    let e = c.compile(&f).unwrap_err();
    assert!(
        e[0].file == "model.json" && e[0].message.contains("not a context model"),
        "{e:?}"
    );
    let mut thin = ModelFile::new();
    thin.brands.insert("ghost".into(), Default::default());
    let m = compile(BRANDS, Some(&thin.to_json()));
    let notices: Vec<String> = m.notices().iter().map(|n| n.to_string()).collect();
    assert!(
        notices.iter().any(|n| n.contains("brand ghost")),
        "{notices:?}"
    );
    assert!(
        notices
            .iter()
            .any(|n| n.contains("brand delta") && n.contains("not in the context model")),
        "{notices:?}"
    );
}

#[test]
fn issue_16_labels_win_over_rules_and_misses_name_the_model() {
    let posts = training_posts();
    let rules = compile(BRANDS, None);
    // The analyst says the handle post with "crew upgraded me" was not about
    // the airline after all.
    let labels = parse_labelled(
        "{\"id\": \"x:p1\", \"text\": \"@delta crew upgraded me\", \"labels\": {\"entities\": []}}\n",
    )
    .unwrap();
    let mut t = Trainer::new(&rules);
    t.add_labelled(&labels[0]);
    for p in &posts {
        t.add_post(p);
    }
    let tally = t.tally["delta"].clone();
    assert_eq!((tally.labels, tally.rules), ([0, 1], [6, 6]));
    let model = t.finish(1);
    assert_eq!(
        (model.brands["delta"].about, model.brands["delta"].not_about),
        (6, 7)
    );

    // `eval` shows the model's words on a wrong find and its reason on a miss.
    let with = compile(BRANDS, Some(&train(&posts).to_json()));
    let e = evaluate(
        &with,
        &parse_labelled(concat!(
            "{\"id\": \"x:1\", \"text\": \"Delta suitcase lost\", \"labels\": {\"entities\": []}}\n",
            "{\"id\": \"x:2\", \"text\": \"Delta water sediment\", \"labels\": {\"entities\": [\"delta\"]}}\n",
        ))
        .unwrap(),
    );
    let why: Vec<&str> = e.misses.iter().map(|m| m.why.as_str()).collect();
    assert!(
        why[0].contains("context model") && why[0].contains("suitcase"),
        "{why:?}"
    );
    assert!(
        why[1].starts_with("bare name, context model 0.") && why[1].contains("< 0.50: "),
        "{why:?}"
    );
}
