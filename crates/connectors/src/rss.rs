//! RSS, Atom and JSON Feed, many feeds per connector, each polled on its own
//! interval with conditional GET.
//!
//! Bodies are decoded and normalised first ([`crate::feed_normalize`]) so
//! that feed-rs reads what lenient readers read; entries then become posts
//! by their declared types. Nothing is lost silently: an entry that cannot
//! become a post is dead-lettered with the reason, a feed whose bytes hold
//! entries but yields none (or fewer) is an error and a dead letter, and a
//! panic while polling a feed is caught, dead-lettered with the feed's URL,
//! and the feed is polled again on its interval.

mod config;
pub use config::{FeedEntry, RssConfig};

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use earshot_model::{Author, Post};
use feed_rs::model::{Entry, Feed, Text};
use reqwest::header::{
    HeaderMap, HeaderValue, CONTENT_TYPE, ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED,
};
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::config::secs;
use crate::error::SourceResult;
use crate::feed_normalize::{normalize, Format, NormalizeError};
use crate::http::redact;
use crate::source::{panic_message, Ctx, Source};
use crate::text::{digest, html_to_text, lang};

pub(crate) struct Rss {
    cfg: RssConfig,
}

/// The validators of a feed's last fetched version.
#[derive(Debug, Default, Serialize, Deserialize, PartialEq)]
struct Validators {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    etag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_modified: Option<String>,
}

impl Rss {
    pub fn new(cfg: RssConfig) -> Rss {
        Rss { cfg }
    }
}

#[async_trait]
impl Source for Rss {
    async fn run(self: Box<Self>, ctx: Arc<Ctx>) -> SourceResult<()> {
        let once = self.cfg.one_shot || ctx.once;
        let mut tasks = tokio::task::JoinSet::new();
        for feed in &self.cfg.feeds {
            let interval = secs(match feed {
                FeedEntry::Url(_) => self.cfg.poll_interval_secs,
                FeedEntry::Table {
                    poll_interval_secs, ..
                } => *poll_interval_secs,
            });
            let url = match Url::parse(feed.url()) {
                Ok(u) => u,
                Err(e) => {
                    ctx.error(&format!("feed URL `{}` invalid", feed.url()), &e);
                    continue;
                }
            };
            let ctx = ctx.clone();
            tasks.spawn(async move {
                loop {
                    let (c, u) = (ctx.clone(), url.clone());
                    let outcome = ctx
                        .guarded(&redact(&url), async move { poll(&c, &u).await })
                        .await;
                    if let Some(Err(e)) = outcome {
                        ctx.error(&format!("feed {} failed", redact(&url)), &format!("{e:#}"));
                    }
                    if once || !ctx.sleep(interval).await {
                        break;
                    }
                }
            });
        }
        while tasks.join_next().await.is_some() {}
        Ok(())
    }
}

/// Why a fetched body gave no posts.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FeedError {
    #[error("invalid feed: {0}")]
    Normalize(#[from] NormalizeError),
    #[error("invalid feed: {0}")]
    Parse(String),
    #[error("feed holds {items} entries but none could be read")]
    Empty { items: usize },
}

/// What reading one body gave.
pub(crate) struct FeedRead {
    pub(crate) posts: Vec<Post>,
    /// Entries that could not become posts: (reason, the entry as JSON).
    rejected: Vec<(String, serde_json::Value)>,
    /// Entries the bytes hold, as counted by the normaliser.
    items: usize,
    /// Entries feed-rs returned.
    entries: usize,
    encoding: &'static str,
    /// What decided the encoding, and whether mojibake was repaired (for the log).
    decided_by: &'static str,
    repaired_mojibake: bool,
}

/// Decodes, normalises and parses `body`, then turns entries into posts.
/// Synchronous, so a panic inside is caught around it with the body at hand.
pub(crate) fn read_feed(
    body: &[u8],
    content_type: Option<&str>,
    base: &Url,
) -> Result<FeedRead, FeedError> {
    let normalized = normalize(body, content_type)?;
    let parser = feed_rs::parser::Builder::new()
        .base_uri(Some(base.as_str()))
        .timestamp_parser(parse_date)
        .build();
    let feed = match parser.parse(normalized.body.as_bytes()) {
        Ok(f) => f,
        Err(e) if normalized.items > 0 => {
            return Err(FeedError::Parse(format!(
                "{e} ({} entries in the body, read as {})",
                normalized.items, normalized.encoding
            )))
        }
        Err(e) => return Err(FeedError::Parse(e.to_string())),
    };
    if feed.entries.is_empty() && normalized.items > 0 {
        return Err(FeedError::Empty {
            items: normalized.items,
        });
    }
    // RSS titles are HTML in practice (feeds escape `&amp;` twice); Atom and
    // JSON Feed titles say their type, and plain text is kept as written.
    let rss = matches!(normalized.format, Format::Rss | Format::Rdf);
    let mut posts = Vec::with_capacity(feed.entries.len());
    let mut rejected = Vec::new();
    for entry in &feed.entries {
        match to_post(&feed, entry, base, rss) {
            Some(p) => posts.push(p),
            None => rejected.push((
                "feed entry has no title, text or link".to_string(),
                entry_json(entry),
            )),
        }
    }
    Ok(FeedRead {
        posts,
        rejected,
        items: normalized.items,
        entries: feed.entries.len(),
        encoding: normalized.encoding,
        decided_by: normalized.decided_by,
        repaired_mojibake: normalized.repaired_mojibake,
    })
}

/// One conditional GET of one feed, then produce and save the validators.
async fn poll(ctx: &Ctx, url: &Url) -> SourceResult<()> {
    let key = format!("feed:{url}");
    let old: Validators = ctx.cursor(&key).await?.unwrap_or_default();
    let mut headers = HeaderMap::new();
    if let Some(v) = old
        .etag
        .as_deref()
        .and_then(|v| HeaderValue::from_str(v).ok())
    {
        headers.insert(IF_NONE_MATCH, v);
    }
    if let Some(v) = old
        .last_modified
        .as_deref()
        .and_then(|v| HeaderValue::from_str(v).ok())
    {
        headers.insert(IF_MODIFIED_SINCE, v);
    }
    let Some(resp) = ctx.fetch(url, headers).await else {
        return Ok(());
    };
    if resp.status == StatusCode::NOT_MODIFIED {
        ctx.counters.add(&ctx.counters.not_modified, 1);
        return Ok(());
    }
    let get = |h| {
        resp.headers
            .get(h)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .map(str::to_string)
    };
    let validators = Validators {
        etag: get(ETAG),
        last_modified: get(LAST_MODIFIED),
    };
    let cursor = Ctx::cursor_value(&key, &validators);
    let content_type = get(CONTENT_TYPE);
    let locator = redact(url);
    let read = std::panic::catch_unwind(AssertUnwindSafe(|| {
        read_feed(&resp.body, content_type.as_deref(), &resp.url)
    }));
    let read = match read {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => {
            if matches!(e, FeedError::Empty { .. }) {
                ctx.error(&format!("feed {locator} yielded nothing"), &e);
            }
            ctx.emitter
                .dead_letter(&e.to_string(), &locator, &resp.body)
                .await;
            // The bad version is kept; remember its validators so it is not refetched and re-reported.
            ctx.emitter.emit(Vec::new(), Some(cursor)).await?;
            return Ok(());
        }
        Err(panic) => {
            let msg = panic_message(panic);
            ctx.error(&format!("reading feed {locator} panicked"), &msg);
            ctx.emitter
                .dead_letter(
                    &format!("feed reader panicked: {msg}"),
                    &locator,
                    &resp.body,
                )
                .await;
            ctx.emitter.emit(Vec::new(), Some(cursor)).await?;
            return Ok(());
        }
    };
    if read.entries < read.items {
        let e = format!(
            "feed holds {} entries but only {} could be read",
            read.items, read.entries
        );
        ctx.error(&format!("feed {locator} lost entries"), &e);
        ctx.emitter.dead_letter(&e, &locator, &resp.body).await;
    }
    for (reason, entry) in &read.rejected {
        let payload = serde_json::to_vec(entry).unwrap_or_default();
        ctx.emitter.dead_letter(reason, &locator, &payload).await;
    }
    tracing::debug!(connector = %ctx.name, feed = %locator, encoding = read.encoding,
        encoding_from = read.decided_by, mojibake_repaired = read.repaired_mojibake,
        items = read.items, entries = read.entries, posts = read.posts.len(),
        rejected = read.rejected.len(), "feed read");
    ctx.emitter.emit(read.posts, Some(cursor)).await?;
    Ok(())
}

/// The entry's URL: its alternate link (RSS `<link>`, Atom `rel="alternate"`
/// or no `rel`), never `self`, `enclosure`, `via`, `replies` or `<comments>`.
/// (An RSS `guid` that is a permalink, and RSS 1.0's `rdf:about`, become the
/// `<link>` of items that have none, in the normaliser.) Resolved against
/// the feed URL.
fn link(entry: &Entry, base: &Url) -> Option<String> {
    let href = entry
        .links
        .iter()
        .find(|l| l.target.is_none() && l.rel.as_deref().is_none_or(|r| r == "alternate"))
        .map(|l| l.href.trim())?;
    Some(
        base.join(href)
            .map(String::from)
            .unwrap_or_else(|_| href.to_string()),
    )
}

/// A text construct as plain text, read by its declared type: `text/plain`
/// kept as written (whitespace collapsed), anything else read as HTML.
fn text_of(t: &Text, html: bool) -> String {
    let plain = t.content_type.essence().to_string() == "text/plain";
    if plain && !html {
        return t.content.split_whitespace().collect::<Vec<_>>().join(" ");
    }
    html_text(&t.content)
}

/// HTML to text; markup that was escaped once too often (`&lt;p&gt;` in an
/// HTML field) shows up as tags after the first pass and is read again.
fn html_text(html: &str) -> String {
    let text = html_to_text(html);
    if looks_like_markup(&text) {
        html_to_text(&text)
    } else {
        text
    }
}

/// Whether plain text still holds common HTML formatting tags.
fn looks_like_markup(text: &str) -> bool {
    const TAGS: &[&str] = &[
        "<p>",
        "</p>",
        "<br>",
        "<br/>",
        "<br />",
        "</a>",
        "<a href",
        "<div",
        "</div>",
        "<img ",
        "<b>",
        "</b>",
        "<i>",
        "</i>",
        "<em>",
        "</em>",
        "<strong>",
        "</strong>",
        "<span",
        "</span>",
        "<ul>",
        "<li>",
        "</li>",
    ];
    text.contains('<') && {
        let lower = text.to_ascii_lowercase();
        TAGS.iter().any(|t| lower.contains(t))
    }
}

fn to_post(feed: &Feed, entry: &Entry, base: &Url, rss: bool) -> Option<Post> {
    let title = entry
        .title
        .as_ref()
        .map(|t| text_of(t, rss))
        .filter(|t| !t.is_empty());
    let content = entry.content.as_ref().and_then(|c| {
        let body = c.body.as_deref()?;
        let text = if c.content_type.essence().to_string() == "text/plain" {
            body.split_whitespace().collect::<Vec<_>>().join(" ")
        } else {
            html_text(body)
        };
        Some(text).filter(|t| !t.is_empty())
    });
    let body = content
        .or_else(|| entry.summary.as_ref().map(|s| text_of(s, false)))
        .unwrap_or_default();
    let url = link(entry, base);
    if title.is_none() && body.is_empty() && url.is_none() {
        return None;
    }
    // feed-rs derives an id from the link and title when the entry has none, so this is stable.
    let mut post = Post::new(Post::make_id("rss", &digest(&entry.id)), body);
    post.url = url;
    post.title = title;
    let a = entry.authors.first().or(feed.authors.first());
    post.author = Author {
        handle: a.and_then(|a| a.name.clone()).filter(|n| !n.is_empty()),
        display_name: a.and_then(|a| a.name.clone()).filter(|n| !n.is_empty()),
        reach: None,
        url: a
            .and_then(|a| a.uri.as_deref())
            .and_then(|u| base.join(u).ok())
            .map(String::from),
        created_at: None,
    };
    post.lang = entry
        .language
        .as_deref()
        .or(feed.language.as_deref())
        .and_then(lang);
    post.published_at = entry.published.or(entry.updated);
    post.raw = Some(entry_json(entry));
    Some(post)
}

/// Dates as feeds write them: RFC 3339 / W3C-DTF (also partial: `2004`,
/// `2004-05`, `2004-05-06`, no seconds, no zone = UTC), RFC 822/2822 (with or
/// without weekday, full month and day names, `UTC`/`Z`, two-digit years).
pub(crate) fn parse_date(raw: &str) -> Option<DateTime<Utc>> {
    let s = raw.trim();
    if s.is_empty() || s.len() > 64 {
        return None;
    }
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Some(d.with_timezone(&Utc));
    }
    if let Ok(d) = DateTime::parse_from_rfc2822(s) {
        return Some(d.with_timezone(&Utc));
    }
    let iso = s.replacen(' ', "T", 1);
    for f in [
        "%Y-%m-%dT%H:%M%:z",
        "%Y-%m-%dT%H:%M:%S%.f%z",
        "%Y-%m-%dT%H:%M%z",
    ] {
        if let Ok(d) = DateTime::parse_from_str(&iso, f) {
            return Some(d.with_timezone(&Utc));
        }
    }
    let zulu = iso.trim_end_matches('Z');
    for f in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(d) = NaiveDateTime::parse_from_str(zulu, f) {
            return Some(d.and_utc());
        }
    }
    for (f, suffix) in [
        ("%Y-%m-%d", ""),
        ("%Y%m%d", ""),
        ("%Y-%m-%d", "-01"),
        ("%Y-%m-%d", "-01-01"),
    ] {
        if let Ok(d) = NaiveDate::parse_from_str(&format!("{s}{suffix}"), f) {
            return d.and_hms_opt(0, 0, 0).map(|d| d.and_utc());
        }
    }
    rfc822_lenient(s)
}

/// RFC 822 as written in the wild: `Tuesday, 10 June 2025 04:00 UTC`, `10 Jun 25 04:00:00 EST`.
fn rfc822_lenient(s: &str) -> Option<DateTime<Utc>> {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let mut words: Vec<String> = s
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect();
    // A leading weekday name says nothing the date does not.
    if words
        .first()
        .is_some_and(|w| w.chars().all(char::is_alphabetic))
    {
        words.remove(0);
    }
    if words.len() < 3 {
        return None;
    }
    // `June 10 2025` → `10 June 2025`.
    if words[0].chars().all(char::is_alphabetic) {
        words.swap(0, 1);
    }
    let month = words[1].to_ascii_lowercase();
    let m = MONTHS.iter().position(|p| month.starts_with(p))?;
    words[1] = MONTHS[m].to_string();
    let mut year: i32 = words[2].parse().ok()?;
    if words[2].len() == 2 {
        year += if year < 50 { 2000 } else { 1900 };
    }
    words[2] = year.to_string();
    let zone = match words.get(4).map(|z| z.to_ascii_uppercase()) {
        None => "+0000".to_string(),
        Some(z) if matches!(z.as_str(), "UTC" | "Z" | "GMT" | "UT") => "+0000".to_string(),
        Some(z) => z,
    };
    let time = words.get(3).cloned().unwrap_or_else(|| "00:00:00".into());
    let time = if time.matches(':').count() == 1 {
        format!("{time}:00")
    } else {
        time
    };
    let text = format!("{} {} {} {time} {zone}", words[0], words[1], words[2]);
    DateTime::parse_from_rfc2822(&text)
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

/// What we keep of an entry as its "raw payload" (feed-rs has no JSON form).
fn entry_json(entry: &Entry) -> serde_json::Value {
    serde_json::json!({
        "id": entry.id,
        "title": entry.title.as_ref().map(|t| &t.content),
        "links": entry.links.iter().map(|l| &l.href).collect::<Vec<_>>(),
        "summary": entry.summary.as_ref().map(|s| &s.content),
        "content": entry.content.as_ref().and_then(|c| c.body.as_ref()),
        "published": entry.published,
        "updated": entry.updated,
        "authors": entry.authors.iter().map(|a| &a.name).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Url {
        Url::parse("http://feeds.test/feed").unwrap()
    }

    fn utf16be_feed() -> Vec<u8> {
        let xml = "<?xml version=\"1.0\" encoding=\"UTF-16\"?><rss version=\"2.0\"><channel>\
                   <item><title>Wide</title><link>http://feeds.test/w</link></item></channel></rss>";
        let mut out = vec![0xFE, 0xFF];
        out.extend(xml.encode_utf16().flat_map(u16::to_be_bytes));
        out
    }

    #[test]
    fn issue_19_utf16_no_longer_panics_the_reader() {
        let body = utf16be_feed();
        // feed-rs 3.0 alone panics on these bytes ("set_encoding() called
        // after prefix buffer was drained"); when it stops, this says so.
        let raw =
            std::panic::catch_unwind(|| feed_rs::parser::parse(&body[..]).map(|f| f.entries.len()));
        assert!(raw.is_err(), "feed-rs reads UTF-16BE now: {raw:?}");
        let read = read_feed(&body, Some("application/rss+xml"), &base()).unwrap();
        assert_eq!(read.posts.len(), 1);
        assert_eq!(read.posts[0].title.as_deref(), Some("Wide"));
        assert_eq!(read.encoding, "UTF-16BE");
    }

    #[test]
    fn issue_19_items_that_vanish_are_an_error() {
        // RSS 1.0 with its prefix undeclared and no <link> is read (URL from rdf:about).
        let rdf = read_feed(
            b"<rdf:RDF><item rdf:about='http://x.test/1'><title>x</title></item></rdf:RDF>",
            None,
            &base(),
        )
        .unwrap();
        assert_eq!((rdf.items, rdf.posts.len()), (1, 1));
        assert_eq!(rdf.posts[0].url.as_deref(), Some("http://x.test/1"));
        // ...but with neither, feed-rs drops the item: an error, not an empty success.
        let lost = read_feed(
            b"<rdf:RDF><item><title>x</title></item></rdf:RDF>",
            None,
            &base(),
        )
        .err()
        .unwrap();
        assert!(matches!(lost, FeedError::Empty { items: 1 }), "{lost}");
        // RSS with no <channel>, or a root no reader knows: read as what it holds.
        for body in [
            &b"<rss><item><title>x</title></item></rss>"[..],
            b"<rdss version='2.0'><channel><item><title>x</title></item></channel></rdss>",
        ] {
            let r = read_feed(body, None, &base()).unwrap();
            assert_eq!((r.items, r.posts.len()), (1, 1));
        }
        let empty = read_feed(
            b"<rss><channel><title>t</title></channel></rss>",
            None,
            &base(),
        )
        .unwrap();
        assert_eq!((empty.items, empty.posts.len()), (0, 0));
    }

    #[test]
    fn issue_19_links_titles_and_dates() {
        let atom = r#"<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>
            <entry><id>e1</id><title type="text">The &lt;title&gt; tag</title>
              <link rel="self" href="http://self.test/1"/><link rel="enclosure" href="http://m.test/1.mp3"/>
              <link rel="via" href="http://via.test/"/><link href="/posts/1"/>
              <dc:date xmlns:dc="http://purl.org/dc/elements/1.1/">2025-06-10T04:00:00+02:00</dc:date>
              <summary type="html">&lt;p&gt;hi&lt;/p&gt;</summary></entry></feed>"#;
        let r = read_feed(atom.as_bytes(), None, &base()).unwrap();
        let p = &r.posts[0];
        assert_eq!(p.title.as_deref(), Some("The <title> tag"));
        assert_eq!(p.url.as_deref(), Some("http://feeds.test/posts/1"));
        assert_eq!(
            p.published_at.unwrap().to_rfc3339(),
            "2025-06-10T02:00:00+00:00"
        );
        assert_eq!(p.text, "hi");
        let rss = "<rss version='2.0'><channel><item><title>c</title><comments>http://c.test/1</comments>\
                   <guid>http://feeds.test/p/1</guid></item></channel></rss>";
        let r = read_feed(rss.as_bytes(), None, &base()).unwrap();
        assert_eq!(
            r.posts[0].url.as_deref(),
            Some("http://feeds.test/p/1"),
            "guid, not comments"
        );
    }

    #[test]
    fn issue_19_dates_as_feeds_write_them() {
        let utc = |s: &str| parse_date(s).map(|d| d.to_rfc3339());
        let want = Some("2025-06-03T10:00:00+00:00".to_string());
        for s in [
            "Tue, 03 Jun 2025 10:00:00 GMT",
            "Tuesday, 03 June 2025 10:00:00 GMT",
            "03 Jun 2025 10:00 UTC",
            "Tue, 3 Jun 25 06:00:00 EDT",
            "2025-06-03T10:00:00Z",
            "2025-06-03T12:00:00+02:00",
            "2025-06-03 10:00:00",
            "2025-06-03T10:00Z",
        ] {
            assert_eq!(utc(s), want, "{s}");
        }
        assert_eq!(utc("2025-06-03"), Some("2025-06-03T00:00:00+00:00".into()));
        assert_eq!(utc("2025-06"), Some("2025-06-01T00:00:00+00:00".into()));
        assert_eq!(utc("2025"), Some("2025-01-01T00:00:00+00:00".into()));
        assert_eq!(utc("yesterday"), None);
        assert_eq!(utc(""), None);
    }
}

#[cfg(test)]
mod robustness {
    use super::*;

    /// xorshift: a reproducible stream of numbers without a dependency.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }
    }

    /// Every conformance fixture, cut, spliced and sprinkled with bytes that
    /// matter to the reader, goes through the whole reading path: no panic.
    #[test]
    fn issue_19_mangled_feeds_never_panic() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/feeds");
        let mut bodies: Vec<Vec<u8>> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "xml" || x == "json"))
            .map(|p| std::fs::read(p).unwrap())
            .collect();
        bodies.sort();
        assert!(bodies.len() > 50);
        let specials: &[&[u8]] = &[
            b"<",
            b">",
            b"&",
            b"&#",
            b"&#x",
            b";",
            b"\"",
            b"'",
            b"]]>",
            b"<![CDATA[",
            b"<!--",
            b"</item>",
            b"<item>",
            b"</",
            b"/>",
            b"\xC3",
            b"\xFF\xFE",
            b"\x00",
            b"\xE2\x80",
            b"<entry>",
            b"<content type='xhtml'>",
            b"xmlns:a='x'",
            b"<a:b>",
            b"=",
        ];
        let mut rng = Rng(0x5EED_F00D);
        let base = Url::parse("http://feeds.test/").unwrap();
        let mut read = 0;
        for round in 0..1500 {
            let mut b = bodies[round % bodies.len()].clone();
            for _ in 0..1 + rng.below(6) {
                let at = rng.below(b.len() + 1);
                match rng.below(4) {
                    0 => b.truncate(at),
                    1 => {
                        let s = specials[rng.below(specials.len())];
                        b.splice(at..at, s.iter().copied());
                    }
                    2 => {
                        let end = (at + rng.below(40)).min(b.len());
                        b.drain(at..end);
                    }
                    _ => {
                        if at < b.len() {
                            b[at] = rng.next() as u8;
                        }
                    }
                }
            }
            let outcome = std::panic::catch_unwind(|| read_feed(&b, None, &base));
            match outcome {
                Ok(Ok(_)) => read += 1,
                Ok(Err(_)) => {}
                Err(p) => panic!(
                    "round {round} panicked: {}\n{}",
                    panic_message(p),
                    String::from_utf8_lossy(&b)
                ),
            }
        }
        // Most damage is recovered from, not merely survived.
        assert!(read > 1000, "only {read} of 1500 mangled feeds read");
    }

    #[test]
    fn issue_19_normalising_is_linear() {
        // Entities, unclosed tags, stray end tags, captured markup, deep
        // nesting: 4x the input must cost about 4x, not 16x (see text.rs).
        let unit = "<item><title>A &amp; B &eacute; &bogus; 1 < 2</title><description>x <b>y<i>z</description>\
                    </nothing><link>http://x.test/?a=1&b=2</link><dc:date>2025-01-01</dc:date>";
        let make = |n: usize| {
            format!(
                "<rss><channel>{}{}</channel></rss>",
                "<div>".repeat(200),
                unit.repeat(n / unit.len())
            )
        };
        let (small, large) = (make(256 << 10), make(1 << 20));
        let time = |s: &str| {
            (0..3)
                .map(|_| {
                    let t = std::time::Instant::now();
                    std::hint::black_box(
                        crate::feed_normalize::normalize(s.as_bytes(), None).unwrap(),
                    );
                    t.elapsed()
                })
                .min()
                .unwrap()
        };
        let (a, b) = (time(&small), time(&large));
        let ratio = b.as_secs_f64() / a.as_secs_f64().max(1e-9);
        assert!(ratio < 8.0, "4x input took {ratio:.1}x ({a:?} vs {b:?})");
    }
}
