//! Entry points for the fuzz targets (`fuzz/`) and for the test that replays
//! their committed seeds and crash inputs (issue 12): each runs the parser a
//! connector applies to fetched bytes, from bytes to posts, and checks what
//! must hold whatever the input. Not part of the stable API.

use earshot_model::Post;
use url::Url;

/// Every post a parser returns: its id names its source, and it encodes to
/// JSON that decodes back to the same id and text.
fn check(posts: &[Post], source: &str) {
    for p in posts {
        assert!(
            p.id.starts_with(&format!("{source}:")),
            "a {source} post id without its prefix: {}",
            p.id
        );
        let again = Post::from_json(&p.to_json()).expect("a parsed post encodes and decodes");
        assert_eq!(again.id, p.id);
        assert_eq!(again.text, p.text);
    }
}

/// HTML to text: never panics; the text has no markup left from tags.
pub fn html_to_text(data: &[u8]) {
    let html = String::from_utf8_lossy(data);
    let text = crate::text::html_to_text(&html);
    assert!(
        text.len() <= html.len() * 4 + 16,
        "text grew out of proportion"
    );
}

/// An RSS, Atom, RDF or JSON feed body (any encoding) to posts.
pub fn feed_parse(data: &[u8]) {
    let base = Url::parse("https://feeds.example/feed").expect("static URL");
    // The first byte picks the Content-Type the server is said to send.
    let (content_type, body) = match data.split_first() {
        Some((b, rest)) => (
            match b % 4 {
                0 => None,
                1 => Some("application/rss+xml"),
                2 => Some("application/atom+xml; charset=iso-8859-1"),
                _ => Some("application/feed+json"),
            },
            rest,
        ),
        None => (None, data),
    };
    if let Ok(read) = crate::rss::read_feed(body, content_type, &base) {
        check(&read.posts, "rss");
    }
}

/// A Hacker News (Algolia) search page.
pub fn hn(data: &[u8]) {
    if let Ok(posts) = crate::hn::parse_page(data) {
        check(&posts, "hn");
    }
}

/// A Reddit listing.
pub fn reddit(data: &[u8]) {
    if let Ok(posts) = crate::reddit::parse_page(data) {
        check(&posts, "reddit");
    }
}

/// A Mastodon timeline page.
pub fn mastodon(data: &[u8]) {
    if let Ok(posts) = crate::mastodon::parse_page(data) {
        check(&posts, "mastodon");
    }
}

/// One Bluesky Jetstream event (with and without a keyword filter).
pub fn bluesky(data: &[u8]) {
    for keywords in [&[][..], &["acme".to_string()][..]] {
        if let Ok((_, Ok(Some(p)))) = crate::bluesky::parse_event(data, keywords) {
            check(std::slice::from_ref(&p), "bluesky");
        }
    }
}

/// An X API v2 search page.
pub fn x(data: &[u8]) {
    if let Ok(posts) = crate::x::parse_page(data) {
        check(&posts, "x");
    }
}

/// A YouTube comment-threads page.
pub fn youtube(data: &[u8]) {
    if let Ok(posts) = crate::youtube::parse_page(data) {
        check(&posts, "youtube");
    }
}

/// A webhook body (after its signature was checked).
pub fn webhook_body(data: &[u8]) {
    if let Ok((posts, rejected)) = crate::webhook::parse_body(data) {
        for (reason, _) in &rejected {
            assert!(reason.starts_with("not a post"), "{reason}");
        }
        for p in &posts {
            assert!(
                p.id.contains(':'),
                "a webhook post id without a source: {}",
                p.id
            );
            let again = Post::from_json(&p.to_json()).expect("a parsed post encodes and decodes");
            assert_eq!(again.id, p.id);
        }
    }
}
