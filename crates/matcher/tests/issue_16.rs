//! Issue 16: brands with `domains` (the URL's host or a domain named in the
//! text count without context), and the documented way keys combine.

use earshot_match::{Matcher, MatcherConfig, MemorySource};
use earshot_model::Post;

fn matcher(brands: &str) -> Result<Matcher, Vec<earshot_match::ConfigError>> {
    let config = MatcherConfig {
        brands: vec!["b.toml".into()],
        detect_language: false,
        ..Default::default()
    };
    config.compile(&MemorySource::default().with("b.toml", brands))
}

fn entities(m: &Matcher, text: &str, url: Option<&str>) -> Vec<(String, String)> {
    let mut p = Post::new("x:1", text);
    p.url = url.map(str::to_string);
    m.score(&p)
        .matches
        .into_iter()
        .map(|m| (m.entity_id, m.rule))
        .collect()
}

const JAGUAR: &str = "[[brand]]\nid = \"jaguar\"\nname = \"Jaguar\"\ncontext = [\"car\", \"drive\"]\nexclude = [\"jaguar shark\"]\nhandles = [\"jaguaruk\"]\ndomains = [\"jaguar.com\"]\n";

#[test]
fn issue_16_domains_count_without_context() {
    let m = matcher(JAGUAR).unwrap();
    // A bare name needs a context word anywhere in the post.
    assert!(entities(&m, "a jaguar at the zoo", None).is_empty());
    assert_eq!(
        entities(&m, "the jaguar is a car I want to drive", None)[0].0,
        "jaguar"
    );
    // Excluded inside a longer phrase, whatever the context.
    assert!(entities(&m, "the jaguar shark is no car", None).is_empty());
    // Handles are aliases: they need context as well.
    assert!(entities(&m, "thanks @jaguaruk", None).is_empty());
    // A domain named in the text, or the URL's host (or a subdomain), counts alone.
    assert_eq!(
        entities(&m, "see jaguar.com for details", None),
        [("jaguar".to_string(), "domain:jaguar.com".to_string())]
    );
    assert_eq!(
        entities(
            &m,
            "nice pictures",
            Some("https://media.jaguar.com/gallery")
        ),
        [("jaguar".to_string(), "site:jaguar.com".to_string())]
    );
    assert!(entities(&m, "nice pictures", Some("https://notjaguar.com/x")).is_empty());
}

#[test]
fn issue_16_bad_domains_are_named() {
    let errors = matcher("[[brand]]\nid = \"a\"\nname = \"A\"\ndomains = [\"https://a.com/x\"]\n")
        .unwrap_err();
    assert!(
        errors
            .iter()
            .any(|e| e.key == "brand a: domains" && e.message.contains("no scheme or path")),
        "{errors:?}"
    );
    // A brand with only domains can match.
    assert!(
        matcher("[[brand]]\nid = \"a\"\nname = \"A\"\naliases = []\ndomains = [\"a.com\"]\n")
            .is_ok()
    );
}

/// `site:` and `author:` may stand alone in an `OR` branch: such a query is
/// evaluated for every post, not only when one of its words occurs.
#[test]
fn issue_16_field_filters_stand_alone_in_a_branch() {
    let m = matcher(
        "[[brand]]\nid = \"acme\"\nname = \"Acme\"\naliases = []\nquery = 'site:acme.com OR author:acmesupport OR (acme AND support)'\n",
    )
    .unwrap();
    let on = |text: &str, url: Option<&str>, author: Option<&str>| {
        let mut p = Post::new("x:1", text);
        p.url = url.map(str::to_string);
        p.author.handle = author.map(str::to_string);
        !m.score(&p).matches.is_empty()
    };
    assert!(on(
        "hello there",
        Some("https://blog.acme.com/post/1"),
        None
    ));
    assert!(on("we fixed it", None, Some("AcmeSupport")));
    assert!(on("acme support rocks", None, None));
    assert!(!on("acme rocks", None, None));
    assert!(!on(
        "hello there",
        Some("https://example.com"),
        Some("someone")
    ));
    // A branch of only NOT is still refused: it would match almost anything.
    let errors =
        matcher("[[brand]]\nid = \"b\"\nname = \"B\"\nquery = 'acme OR NOT apple'\n").unwrap_err();
    assert!(
        errors[0].message.contains("by what they lack alone"),
        "{errors:?}"
    );
}
