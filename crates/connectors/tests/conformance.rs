//! Issue 19's conformance suite: every feed under `tests/fixtures/feeds/`
//! (well-formed and ill-formed RSS 0.9x/1.0/2.0, Atom 0.3/1.0, JSON Feed, in
//! many encodings) served on loopback and read by the real `rss` connector
//! in one-shot mode; each entry `manifest.json` expects is checked (title,
//! URL, date, text). Prints the share of feeds read completely.
//!
//! `cargo test -p earshot-connect --test conformance -- --nocapture`

mod common;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use common::*;
use earshot_model::Post;
use earshot_transport::MemoryBus;
use serde::Deserialize;

#[derive(Deserialize)]
struct Manifest {
    feeds: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    file: String,
    class: String,
    content_type: String,
    entries: Vec<Expected>,
}

#[derive(Deserialize, Debug)]
struct Expected {
    title: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    published: Option<String>,
    #[serde(default)]
    text: Option<String>,
    /// The entry has no URL (a `guid` with `isPermaLink="false"` is not one).
    #[serde(default)]
    no_url: bool,
}

/// What is wrong with the post read for `e`, if anything.
fn check(e: &Expected, posts: &[Post]) -> Option<String> {
    let found: Vec<&Post> = posts
        .iter()
        .filter(|p| match &e.url {
            Some(u) => p.url.as_deref() == Some(u.as_str()),
            None => p.title == e.title,
        })
        .collect();
    let p = match found.as_slice() {
        [p] => p,
        [] => return Some(format!("no post for {e:?}")),
        many => return Some(format!("{} posts for {e:?}", many.len())),
    };
    if e.no_url && p.url.is_some() {
        return Some(format!("url {:?}, expected none", p.url));
    }
    if p.title != e.title {
        return Some(format!("title {:?}, expected {:?}", p.title, e.title));
    }
    if let Some(d) = &e.published {
        let got = p.published_at.map(|t| t.to_rfc3339());
        if got.as_deref() != Some(d.as_str()) {
            return Some(format!("published {got:?}, expected {d}"));
        }
    }
    if let Some(t) = &e.text {
        if !p.text.contains(t.as_str()) {
            return Some(format!("text {:?} lacks {t:?}", p.text));
        }
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_19_conformance_suite_reads_every_entry() {
    init_tracing();
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/feeds");
    let manifest: Manifest =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    let files: Arc<HashMap<String, (Vec<u8>, String)>> = Arc::new(
        manifest
            .feeds
            .iter()
            .map(|c| {
                let body = std::fs::read(dir.join(&c.file)).unwrap();
                (c.file.clone(), (body, c.content_type.clone()))
            })
            .collect(),
    );
    let app = Router::new().route(
        "/feeds/{file}",
        get(move |Path(file): Path<String>| {
            let files = files.clone();
            async move {
                match files.get(&file) {
                    Some((body, ct)) => {
                        ([(header::CONTENT_TYPE, ct.clone())], body.clone()).into_response()
                    }
                    None => StatusCode::NOT_FOUND.into_response(),
                }
            }
        }),
    );
    let addr = serve(app).await;
    let feeds: Vec<String> = manifest
        .feeds
        .iter()
        .map(|c| format!("\"http://{addr}/feeds/{}\"", c.file))
        .collect();
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config(
        &tmp,
        &format!(
            r#"
            [cursors]
            path = "CURSORS"
            [connect]
            per_host_requests_per_second = 0
            [[connectors]]
            name = "corpus"
            kind = "rss"
            one_shot = true
            max_retries = 0
            feeds = [{}]
            "#,
            feeds.join(", ")
        ),
    );
    let bus = MemoryBus::new();
    let run = start(&bus, &cfg).await;
    let stats = tokio::time::timeout(std::time::Duration::from_secs(120), run.handle)
        .await
        .expect("a one-shot rss connector ends by itself")
        .unwrap()
        .unwrap();
    let posts = posts(&bus).await;
    let dls = dead_letters(&bus).await;
    unique_ids(&posts);

    let mut with_entries = 0;
    let mut complete = 0;
    let mut by_class: HashMap<&str, (usize, usize)> = HashMap::new();
    let mut failures = Vec::new();
    for case in &manifest.feeds {
        let problems: Vec<String> = case
            .entries
            .iter()
            .filter_map(|e| check(e, &posts))
            .collect();
        if case.entries.is_empty() {
            continue;
        }
        with_entries += 1;
        let c = by_class.entry(case.class.as_str()).or_default();
        c.1 += 1;
        if problems.is_empty() {
            complete += 1;
            c.0 += 1;
        } else {
            failures.push(format!("{}: {}", case.file, problems.join("; ")));
        }
    }
    let expected: usize = manifest.feeds.iter().map(|c| c.entries.len()).sum();
    let share = complete as f64 / with_entries as f64;
    let mut classes: Vec<_> = by_class.into_iter().collect();
    classes.sort();
    println!(
        "conformance: {complete}/{with_entries} feeds with entries read completely ({:.1} %); \
         {} posts for {expected} expected entries; {} dead letters",
        share * 100.0,
        posts.len(),
        dls.len()
    );
    for (class, (ok, n)) in &classes {
        println!("  {class:<12} {ok}/{n}");
    }
    for f in &failures {
        println!("  FAIL {f}");
    }
    for d in &dls {
        println!("  dead letter: {} ({})", d.reason, d.payload.len());
    }
    let s = &stats.connectors["corpus"];
    assert!(
        dls.iter().all(|d| !d.reason.contains("panicked")),
        "no panic: {dls:?}"
    );
    assert!(
        share >= 0.95,
        "only {complete}/{with_entries} feeds read completely:\n{}",
        failures.join("\n")
    );
    assert_eq!(
        posts.len(),
        expected,
        "no entry invented, none lost silently: {s:?}"
    );
    assert_eq!(
        s.polls as usize,
        manifest.feeds.len(),
        "each feed fetched once"
    );
}
