//! Feeds made readable before feed-rs reads them.
//!
//! feed-rs is strict where lenient readers (feedparser, browsers' readers)
//! are forgiving: it panics on UTF-16, rejects `<rss>` without a `version`,
//! ignores Atom 0.3's namespace and element names, rejects a whole feed for
//! one `type="application/xhtml+xml"`, and gives up at the first unclosed
//! tag or undefined entity. Rather than fork it, every body goes through
//! [`normalize`] first: decoded to UTF-8 ([`crate::encoding`]), then
//! re-serialised by a one-pass, recovering tokenizer into well-formed XML
//! that says the same thing in the vocabulary feed-rs knows:
//!
//! - a UTF-8 declaration replaces the original one; doctypes, comments and
//!   processing instructions are dropped (no entity expansion, so no
//!   "billion laughs");
//! - unclosed elements are closed and stray end tags dropped (as libxml2's
//!   recover mode does); a lone `<` or `&` becomes text; HTML named entities
//!   become characters; numeric references to C1 controls are read as
//!   CP-1252 (`&#146;` is `’`); characters XML forbids are dropped;
//! - `<rss>` gets `version="2.0"` (the 2.0 reader is a superset of 0.9x);
//!   the Atom 0.3, RSS 0.90 and Userland RSS namespaces become Atom 1.0 and
//!   RSS 1.0; Atom 0.3 names (`issued`, `modified`, `created`, `tagline`,
//!   `copyright`, `url`) become their Atom 1.0 names; `dc:date`,
//!   `dcterms:issued/created/modified` become the date elements each format's
//!   reader knows; `<xhtml:body>` in an RSS item becomes `content:encoded`;
//! - Atom text constructs get a `type` feed-rs accepts (`text/plain` →
//!   `text`, `application/xhtml+xml` → `xhtml`, Atom 0.3 `mode="escaped"` →
//!   `html`), and markup written unescaped inside an HTML-typed element
//!   (RSS `description`, Atom `type="html"`) is wrapped as character data
//!   so that it is read as the element's HTML rather than lost.
//!
//! It also counts the entries the bytes hold, so the caller can tell a
//! feed that lost entries from one that has none. Work is linear in the
//! input: each byte is read a bounded number of times, nesting is capped at
//! [`MAX_DEPTH`] and the output at [`MAX_GROWTH`] times the input.

use std::collections::HashMap;

use crate::encoding::{decode, http_charset};

/// Deepest element nesting accepted (real feeds nest less than 20 deep).
pub(crate) const MAX_DEPTH: usize = 256;
/// Most attributes kept on one element.
const MAX_ATTRS: usize = 64;
/// Output at most this many times the input (plus a little): escaping and
/// namespace declarations add bytes, nothing else does.
pub(crate) const MAX_GROWTH: usize = 8;
/// Longest entity reference looked up (`&CounterClockwiseContourIntegral;`).
const MAX_ENTITY: usize = 40;

const ATOM10: &str = "http://www.w3.org/2005/Atom";
const ATOM03: &str = "http://purl.org/atom/ns#";
const RSS10: &str = "http://purl.org/rss/1.0/";
const RSS090: &str = "http://my.netscape.com/rdf/simple/0.9/";
const DC: &str = "http://purl.org/dc/elements/1.1/";
const DCTERMS: &str = "http://purl.org/dc/terms/";
const CONTENT: &str = "http://purl.org/rss/1.0/modules/content/";
const XHTML: &str = "http://www.w3.org/1999/xhtml";

/// HTML elements that never have content, closed at once inside captured markup.
const VOID: &[&str] = &[
    "br", "img", "hr", "meta", "input", "area", "base", "col", "embed", "param", "source", "track",
    "wbr",
];

/// RSS element names as the readers spell them, for feeds that write `<PubDate>` or `<ITEM>`.
const RSS_NAMES: &[&str] = &[
    "rss",
    "channel",
    "item",
    "title",
    "link",
    "description",
    "pubDate",
    "guid",
    "author",
    "category",
    "comments",
    "enclosure",
    "source",
    "language",
    "lastBuildDate",
    "image",
    "url",
    "copyright",
    "managingEditor",
    "webMaster",
    "ttl",
];

/// The family of a feed, from its root element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// `<feed>` (Atom 0.3 or 1.0) or a lone `<entry>`.
    Atom,
    /// `<rss>`, any version or none.
    Rss,
    /// `<rdf:RDF>`: RSS 0.90 and 1.0.
    Rdf,
    /// JSON Feed.
    Json,
    /// Some other root (an HTML page, say): feed-rs will reject it.
    Unknown,
}

/// A body ready for feed-rs.
#[derive(Debug)]
pub(crate) struct Normalized {
    /// UTF-8 XML (or JSON, untouched but decoded).
    pub body: String,
    /// The family found.
    pub format: Format,
    /// Entries the bytes hold: `<item>` / `<entry>` elements, or JSON `items`.
    pub items: usize,
    /// The encoding read, and what decided it.
    pub encoding: &'static str,
    /// What decided the encoding (`bom`, `declaration`, `http`, ...).
    pub decided_by: &'static str,
    /// Double-encoded UTF-8 was repaired.
    pub repaired_mojibake: bool,
}

/// Why a body could not be normalised.
#[derive(Debug, thiserror::Error)]
pub(crate) enum NormalizeError {
    /// Elements nested deeper than [`MAX_DEPTH`].
    #[error("elements nested deeper than {MAX_DEPTH}")]
    TooDeep,
    /// The rewritten body outgrew [`MAX_GROWTH`] times the input.
    #[error("normalised feed larger than {0} bytes")]
    TooLarge(usize),
    /// JSON that is not a JSON Feed (no `items` array).
    #[error("JSON without an `items` array is not a JSON Feed")]
    NotJsonFeed,
}

/// Decodes and rewrites `body` (see the module doc). `content_type` is the
/// response's `Content-Type`, for its `charset`.
pub(crate) fn normalize(
    body: &[u8],
    content_type: Option<&str>,
) -> Result<Normalized, NormalizeError> {
    let charset = content_type.and_then(http_charset);
    let decoded = decode(body, charset.as_deref());
    let text = decoded
        .text
        .trim_start_matches(['\u{feff}', ' ', '\t', '\r', '\n']);
    if text.starts_with('{') {
        let mut body = text.to_string();
        let mut items = 0;
        if let Ok(mut v) = serde_json::from_str::<serde_json::Value>(text) {
            items = v
                .get("items")
                .and_then(|i| i.as_array())
                .ok_or(NormalizeError::NotJsonFeed)?
                .len();
            // feed-rs wants `https://jsonfeed.org/version/1...`; early feeds wrote `http://` or nothing.
            if let Some(obj) = v.as_object_mut() {
                let ok = obj
                    .get("version")
                    .and_then(|v| v.as_str())
                    .is_some_and(|v| v.starts_with("https://jsonfeed.org/version/1"));
                if !ok {
                    obj.insert("version".into(), "https://jsonfeed.org/version/1.1".into());
                    body = v.to_string();
                }
            }
        }
        return Ok(Normalized {
            body,
            format: Format::Json,
            items,
            encoding: decoded.encoding,
            decided_by: decoded.decided_by,
            repaired_mojibake: decoded.repaired_mojibake,
        });
    }
    let limit = text.len().saturating_mul(MAX_GROWTH) + 4096;
    let mut w = Writer {
        out: String::with_capacity(text.len() + text.len() / 8 + 64),
        stack: Vec::new(),
        hints: Hints::of(text),
        bindings: HashMap::new(),
        format: Format::Unknown,
        items: 0,
        capture: None,
        guid: None,
        root_done: false,
        limit,
    };
    w.out
        .push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    w.run(text)?;
    Ok(Normalized {
        body: w.out,
        format: w.format,
        items: w.items,
        encoding: decoded.encoding,
        decided_by: decoded.decided_by,
        repaired_mojibake: decoded.repaired_mojibake,
    })
}

struct Frame {
    /// The name as written in the source (end tags are matched against it).
    source_name: String,
    /// The name as written to the output.
    out_name: String,
    /// Prefixes this element declared (their bindings are popped with it).
    declared: Vec<String>,
    /// This holds entries: `rss`, `channel`, `RDF`, `feed`.
    container: bool,
    /// An item's permalink as XML text: RSS 1.0's `rdf:about` (feed-rs drops
    /// RSS 1.0 items without a link) or an RSS 2.0 `<guid>` that is a
    /// permalink; written as the item's `<link>` when it has none.
    about: Option<String>,
    /// A `<link>` child was seen.
    link_seen: bool,
}

/// Which feed elements the body mentions at all (found before rewriting).
#[derive(Default)]
struct Hints {
    channel: bool,
    item: bool,
    entry: bool,
}

impl Hints {
    /// One pass over the `<` of `text`, ignoring ASCII case (`<CHANNEL>`).
    fn of(text: &str) -> Hints {
        let b = text.as_bytes();
        let mut h = Hints::default();
        let starts = |at: usize, name: &[u8]| {
            b.len() - at >= name.len() && b[at..at + name.len()].eq_ignore_ascii_case(name)
        };
        for (i, _) in text.match_indices('<') {
            h.channel |= starts(i + 1, b"channel");
            h.item |= starts(i + 1, b"item");
            h.entry |= starts(i + 1, b"entry");
        }
        h
    }
}

struct Writer {
    out: String,
    hints: Hints,
    stack: Vec<Frame>,
    /// In-scope namespace bindings: prefix → URIs, innermost last (lookups in O(1), not O(depth)).
    bindings: HashMap<String, Vec<String>>,
    format: Format,
    items: usize,
    /// While inside a permalink `<guid>`: (its stack index, where its text starts in `out`).
    guid: Option<(usize, usize)>,
    /// While inside an element whose markup is kept as text: (its stack index, where its content starts in `out`).
    capture: Option<(usize, usize)>,
    root_done: bool,
    limit: usize,
}

struct Tag<'a> {
    name: &'a str,
    attrs: Vec<(String, String)>,
    self_closing: bool,
}

impl Writer {
    fn run(&mut self, s: &str) -> Result<(), NormalizeError> {
        let b = s.as_bytes();
        let mut i = 0;
        while i < b.len() {
            let Some(off) = memchr_lt(&b[i..]) else {
                self.text(&s[i..]);
                break;
            };
            if off > 0 {
                self.text(&s[i..i + off]);
            }
            i += off;
            let rest = &s[i..];
            if let Some(comment) = rest.strip_prefix("<!--") {
                i = comment.find("-->").map_or(b.len(), |j| i + 4 + j + 3);
            } else if let Some(body) = rest.strip_prefix("<![CDATA[") {
                match body.find("]]>") {
                    Some(j) => {
                        self.cdata(&body[..j]);
                        i += 9 + j + 3;
                    }
                    None => {
                        self.text(body);
                        i = b.len();
                    }
                }
            } else if rest.starts_with("<!") {
                i = skip_declaration(b, i);
            } else if rest.starts_with("<?") {
                i = rest.find("?>").map_or(b.len(), |j| i + j + 2);
            } else if let Some(after) = rest.strip_prefix("</") {
                let name_len = after
                    .find(|c: char| c.is_whitespace() || c == '>' || c == '<')
                    .unwrap_or(after.len());
                let name = &after[..name_len];
                let close = after[name_len..].find(['>', '<']).map_or(b.len(), |j| {
                    let at = i + 2 + name_len + j;
                    if b[at] == b'>' {
                        at + 1
                    } else {
                        at
                    }
                });
                self.end(name);
                i = close;
            } else if rest[1..].starts_with(|c: char| c.is_alphabetic() || c == '_' || c == ':') {
                let (tag, next) = parse_tag(s, i);
                i = next;
                self.start(tag)?;
            } else {
                self.text("<");
                i += 1;
            }
            if self.out.len() > self.limit {
                return Err(NormalizeError::TooLarge(self.limit));
            }
        }
        while !self.stack.is_empty() {
            self.pop();
        }
        if self.out.len() > self.limit {
            return Err(NormalizeError::TooLarge(self.limit));
        }
        Ok(())
    }

    fn inside(&self) -> bool {
        !self.stack.is_empty()
    }

    fn text(&mut self, t: &str) {
        if self.inside() {
            escape_into(&mut self.out, t, false);
        }
    }

    fn cdata(&mut self, t: &str) {
        if !self.inside() {
            return;
        }
        if self.capture.is_some() {
            // Inside captured markup, character data is text of that markup.
            for c in t.chars().filter(|c| xml_char(*c)) {
                push_escaped(&mut self.out, c);
            }
        } else {
            self.out.push_str("<![CDATA[");
            self.out.extend(t.chars().filter(|c| xml_char(*c)));
            self.out.push_str("]]>");
        }
    }

    /// The namespace URI bound to `prefix` here (`""`: the default namespace).
    fn resolve(&self, prefix: &str, own: &[(String, String)]) -> String {
        if prefix == "xml" {
            return "http://www.w3.org/XML/1998/namespace".into();
        }
        own.iter()
            .rev()
            .find(|(p, _)| p == prefix)
            .map(|(_, u)| u.clone())
            .or_else(|| self.bindings.get(prefix).and_then(|v| v.last()).cloned())
            .unwrap_or_default()
    }

    fn start(&mut self, mut tag: Tag<'_>) -> Result<(), NormalizeError> {
        if self.root_done {
            return Ok(());
        }
        if self.stack.len() >= MAX_DEPTH {
            return Err(NormalizeError::TooDeep);
        }
        let mut name = sanitize_name(tag.name);
        let mut synth_channel = false;
        if self.stack.is_empty() {
            // A root no reader knows (`<rdf>` typo, a fragment) over feed
            // elements: read it as what it holds, as lenient readers do.
            let local = name.rsplit(':').next().unwrap_or("");
            let known =
                matches!(local, "feed" | "entry" | "RDF") || local.eq_ignore_ascii_case("rss");
            if !known && (self.hints.channel || self.hints.item) {
                name = "rss".into();
            } else if !known && self.hints.entry {
                name = "feed".into();
            }
            let rss = name.eq_ignore_ascii_case("rss");
            synth_channel = rss && !self.hints.channel;
        }
        // Declaring `xml`/`xmlns` is an error to the XML reader.
        tag.attrs
            .retain(|(k, _)| k != "xmlns:xmlns" && k != "xmlns:xml");
        let (prefix, local) = match name.split_once(':') {
            Some((p, l)) => (p.to_string(), l.to_string()),
            None => (String::new(), name.clone()),
        };
        let mut decls = Vec::new();
        for (k, v) in tag.attrs.iter_mut() {
            let prefix = if k == "xmlns" {
                Some("")
            } else {
                k.strip_prefix("xmlns:")
            };
            if let Some(p) = prefix {
                *v = rewrite_namespace(v).to_string();
                decls.push((p.to_string(), v.clone()));
            }
        }
        if self.capture.is_some() {
            // Markup kept as text: no renaming; HTML void elements closed at once.
            let void = VOID.contains(&local.to_ascii_lowercase().as_str());
            self.write_start(&name, &tag.attrs, tag.self_closing || void);
            if !(tag.self_closing || void) {
                self.push(tag.name, name, decls);
            }
            return Ok(());
        }
        // Undeclared prefixes (`dc:creator` with no `xmlns:dc`) are errors to
        // the XML reader; each gets a placeholder namespace.
        let mut undeclared: Vec<String> = Vec::new();
        for p in std::iter::once(prefix.as_str()).chain(
            tag.attrs
                .iter()
                .filter_map(|(k, _)| k.split_once(':').map(|(p, _)| p))
                .filter(|p| *p != "xmlns"),
        ) {
            if !p.is_empty()
                && self.resolve(p, &decls).is_empty()
                && !undeclared.iter().any(|u| u == p)
            {
                undeclared.push(p.to_string());
            }
        }
        for p in undeclared {
            let uri = format!("urn:earshot:undeclared:{p}");
            tag.attrs.push((format!("xmlns:{p}"), uri.clone()));
            decls.push((p, uri));
        }
        let mut ns = self.resolve(&prefix, &decls);
        if self.stack.is_empty() {
            self.format = match local.as_str() {
                "feed" | "entry" => Format::Atom,
                "rss" => Format::Rss,
                "RDF" => Format::Rdf,
                _ if local.eq_ignore_ascii_case("rss") => Format::Rss,
                _ => Format::Unknown,
            };
            // A root in a namespace no reader knows (a typo, a private URI):
            // its elements are still Atom's or RSS's.
            let wanted = match self.format {
                Format::Atom if ns != ATOM10 => Some(ATOM10),
                Format::Rss if !ns.is_empty() && ns != RSS10 => Some(RSS10),
                _ => None,
            };
            if let Some(uri) = wanted {
                let key = if prefix.is_empty() {
                    "xmlns".to_string()
                } else {
                    format!("xmlns:{prefix}")
                };
                tag.attrs.retain(|(k, _)| *k != key);
                tag.attrs.push((key, uri.to_string()));
                decls.retain(|(p, _)| *p != prefix);
                decls.push((prefix.clone(), uri.to_string()));
                ns = uri.to_string();
            }
        }
        let rss_family = matches!(self.format, Format::Rss | Format::Rdf);
        let plain_rss = rss_family && (ns.is_empty() || ns == RSS10);
        let mut local = local;
        if plain_rss && !RSS_NAMES.contains(&local.as_str()) {
            if let Some(known) = RSS_NAMES.iter().find(|n| n.eq_ignore_ascii_case(&local)) {
                local = known.to_string();
            }
        }
        if self.stack.is_empty()
            && self.format == Format::Rdf
            && self.resolve("", &decls).is_empty()
        {
            // RSS 1.0 without its default namespace: its elements are RSS 1.0's.
            tag.attrs.push(("xmlns".into(), RSS10.into()));
            decls.push((String::new(), RSS10.into()));
        }
        if self.stack.is_empty() && self.format == Format::Rss {
            tag.attrs.retain(|(k, _)| k != "version");
            tag.attrs.push(("version".into(), "2.0".into()));
        }
        let counted = match self.format {
            Format::Atom => local == "entry" && (ns == ATOM10 || ns.is_empty()),
            Format::Rss | Format::Rdf => local == "item" && plain_rss,
            _ => false,
        };
        if counted {
            self.items += 1;
            // An entry belongs in the feed (or channel): one opened inside an
            // unclosed entry or field closes them first, as tag-driven
            // lenient readers read it.
            if let Some(home) = self.stack.iter().rposition(|f| f.container) {
                while self.stack.len() > home + 1 {
                    self.pop();
                }
            }
        }
        if plain_rss && local == "link" {
            if let Some(parent) = self.stack.last_mut() {
                parent.link_seen = true;
            }
        }
        let about = (counted && self.format == Format::Rdf)
            .then(|| {
                tag.attrs
                    .iter()
                    .find(|(k, _)| k == "about" || k.ends_with(":about"))
                    .map(|(_, v)| {
                        let mut escaped = String::new();
                        escape_into(&mut escaped, v.trim(), false);
                        escaped
                    })
            })
            .flatten()
            .filter(|v| !v.is_empty());
        // An Atom alternate link in an RSS item (the RSS reader ignores it
        // there) is the item's link when it has no `<link>`.
        if rss_family && ns == ATOM10 && local == "link" {
            let attr = |name: &str| {
                tag.attrs
                    .iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.trim().to_string())
            };
            let alternate = attr("rel").is_none_or(|r| r == "alternate");
            if let (true, Some(href), Some(item)) = (alternate, attr("href"), self.stack.last_mut())
            {
                if item.out_name == "item" && item.about.is_none() && !href.is_empty() {
                    let mut escaped = String::new();
                    escape_into(&mut escaped, &href, false);
                    item.about = Some(escaped);
                }
            }
        }
        // `isPermaLink` is true unless it says "false".
        let permalink_guid = plain_rss
            && local == "guid"
            && !tag.self_closing
            && self.stack.last().is_some_and(|f| f.out_name == "item")
            && !tag
                .attrs
                .iter()
                .any(|(k, v)| k == "isPermaLink" && v.trim().eq_ignore_ascii_case("false"));
        let atom = self.format == Format::Atom && (ns == ATOM10 || ns.is_empty());
        let renamed: Option<(&str, &str)> = match (self.format, ns.as_str(), local.as_str()) {
            (Format::Atom, ATOM10 | "", "issued" | "created") => Some((ATOM10, "published")),
            (Format::Atom, ATOM10 | "", "modified") => Some((ATOM10, "updated")),
            (Format::Atom, ATOM10 | "", "tagline") => Some((ATOM10, "subtitle")),
            (Format::Atom, ATOM10 | "", "copyright") => Some((ATOM10, "rights")),
            (Format::Atom, ATOM10 | "", "url") => Some((ATOM10, "uri")),
            (Format::Atom, DC, "date") | (Format::Atom, DCTERMS, "issued" | "created" | "date") => {
                Some((ATOM10, "published"))
            }
            (Format::Atom, DCTERMS, "modified") => Some((ATOM10, "updated")),
            (Format::Rss, DCTERMS, "issued" | "created" | "date")
            | (Format::Rss, ATOM10, "published") => Some((DC, "date")),
            (Format::Rss, DCTERMS, "modified") => Some((ATOM10, "updated")),
            (Format::Rdf, DCTERMS, "issued" | "created" | "date" | "modified")
            | (Format::Rdf, ATOM10, "published" | "updated") => Some((DC, "date")),
            (Format::Rss | Format::Rdf, XHTML, "body") => Some((CONTENT, "encoded")),
            _ => None,
        };
        let (out_name, target_ns, target_local) = match renamed {
            Some((uri, new_local)) => {
                if self.resolve("", &decls) == uri {
                    (new_local.to_string(), uri.to_string(), new_local)
                } else {
                    let p = match uri {
                        ATOM10 => "esatom",
                        DC => "esdc",
                        _ => "escontent",
                    };
                    tag.attrs.push((format!("xmlns:{p}"), uri.to_string()));
                    decls.push((p.to_string(), uri.to_string()));
                    (format!("{p}:{new_local}"), uri.to_string(), new_local)
                }
            }
            None => {
                let out = if prefix.is_empty() {
                    local.clone()
                } else {
                    format!("{prefix}:{local}")
                };
                (out, ns.clone(), local.as_str())
            }
        };
        let mut capture = false;
        let atom_text =
            atom && matches!(
                target_local,
                "title" | "subtitle" | "summary" | "content" | "rights"
            ) && !self.stack.is_empty();
        if atom_text {
            let ty = tag
                .attrs
                .iter()
                .find(|(k, _)| k == "type")
                .map(|(_, v)| v.clone());
            let mode = tag
                .attrs
                .iter()
                .find(|(k, _)| k == "mode")
                .map(|(_, v)| v.clone());
            let is_content = target_local == "content";
            let new_type = atom_type(ty.as_deref(), mode.as_deref());
            // `src` with inline content is an error to feed-rs; the inline content is what we read.
            let drop_src = is_content && !tag.self_closing;
            let has_src = !drop_src && tag.attrs.iter().any(|(k, _)| k == "src");
            tag.attrs
                .retain(|(k, _)| k != "type" && k != "mode" && !(drop_src && k == "src"));
            if let Some(t) = &new_type {
                // Out-of-line content (`src`) takes a MIME type, not a short name.
                let t = match (has_src, t.as_str()) {
                    (true, "html") => "text/html",
                    (true, "xhtml") => "application/xhtml+xml",
                    (true, "text") => "text/plain",
                    (_, t) => t,
                };
                tag.attrs.push(("type".into(), t.to_string()));
            }
            capture = new_type.as_deref() != Some("xhtml");
        } else if rss_family && self.stack.len() >= 2 {
            capture = matches!(
                (target_ns.as_str(), target_local),
                ("" | RSS10, "title" | "description") | (CONTENT, "encoded") | (DC, "description")
            );
        }
        self.write_start(&out_name, &tag.attrs, tag.self_closing);
        if !tag.self_closing {
            let container = self.stack.is_empty()
                || (matches!(self.format, Format::Rss | Format::Rdf)
                    && plain_rss
                    && target_local == "channel");
            self.push(tag.name, out_name, decls);
            if let Some(frame) = self.stack.last_mut() {
                frame.about = about;
                frame.container = container;
            }
            if permalink_guid {
                self.guid = Some((self.stack.len() - 1, self.out.len()));
            }
            if synth_channel {
                // RSS without a <channel>: its items go in one (the reader needs it).
                self.out.push_str("<channel>");
                self.push("#channel", "channel".into(), Vec::new());
                if let Some(frame) = self.stack.last_mut() {
                    frame.container = true;
                }
            }
            if capture {
                self.capture = Some((self.stack.len() - 1, self.out.len()));
            }
        }
        Ok(())
    }

    fn push(&mut self, source_name: &str, out_name: String, decls: Vec<(String, String)>) {
        let mut declared = Vec::with_capacity(decls.len());
        for (p, uri) in decls {
            self.bindings.entry(p.clone()).or_default().push(uri);
            declared.push(p);
        }
        self.stack.push(Frame {
            source_name: source_name.to_string(),
            out_name,
            declared,
            container: false,
            about: None,
            link_seen: false,
        });
    }

    fn write_start(&mut self, name: &str, attrs: &[(String, String)], self_closing: bool) {
        self.out.push('<');
        self.out.push_str(name);
        for (k, v) in attrs {
            self.out.push(' ');
            self.out.push_str(k);
            self.out.push_str("=\"");
            escape_into(&mut self.out, v, true);
            self.out.push('"');
        }
        self.out.push_str(if self_closing { "/>" } else { ">" });
    }

    fn end(&mut self, name: &str) {
        if self.format == Format::Rss
            && self.stack.len() == 2
            && self.capture.is_none()
            && name.eq_ignore_ascii_case("channel")
        {
            // RSS 0.9x feeds put items after `</channel>`; keep the channel
            // open so they stay in it (it closes with `</rss>`).
            return;
        }
        let found = self
            .stack
            .iter()
            .rposition(|f| f.source_name == name)
            .or_else(|| {
                self.stack
                    .iter()
                    .rposition(|f| f.source_name.eq_ignore_ascii_case(name))
            });
        // An end tag closes every element left open inside it; a stray one is dropped.
        if let Some(at) = found {
            while self.stack.len() > at {
                self.pop();
            }
        }
    }

    fn pop(&mut self) {
        let Some(frame) = self.stack.pop() else {
            return;
        };
        for p in &frame.declared {
            if let Some(v) = self.bindings.get_mut(p) {
                v.pop();
            }
        }
        if let Some((index, start)) = self.capture {
            if index == self.stack.len() {
                self.capture = None;
                let inner = self.out.split_off(start);
                if inner.contains('<') {
                    self.out.push_str("<![CDATA[");
                    self.out.push_str(&inner.replace("]]>", "]]]]><![CDATA[>"));
                    self.out.push_str("]]>");
                } else {
                    self.out.push_str(&inner);
                }
            }
        }
        if let Some((index, start)) = self.guid {
            if index == self.stack.len() {
                self.guid = None;
                let text = self.out[start..].trim();
                let plain = !text.contains('<') || text.starts_with("<![CDATA[");
                if let (true, Some(item)) = (plain && !text.is_empty(), self.stack.last_mut()) {
                    item.about.get_or_insert_with(|| text.to_string());
                }
            }
        }
        if let (Some(about), false) = (&frame.about, frame.link_seen) {
            self.out.push_str("<link>");
            self.out.push_str(about);
            self.out.push_str("</link>");
        }
        self.out.push_str("</");
        self.out.push_str(&frame.out_name);
        self.out.push('>');
        if self.stack.is_empty() {
            self.root_done = true;
        }
    }
}

fn memchr_lt(b: &[u8]) -> Option<usize> {
    b.iter().position(|&c| c == b'<')
}

/// Past a `<!DOCTYPE ...>` (with its internal subset) or other `<!...>` declaration.
fn skip_declaration(b: &[u8], start: usize) -> usize {
    let mut depth = 0usize;
    for (k, &c) in b[start..].iter().enumerate() {
        match c {
            b'[' => depth += 1,
            b']' => depth = depth.saturating_sub(1),
            b'>' if depth == 0 => return start + k + 1,
            _ => {}
        }
    }
    b.len()
}

/// Reads the start tag at `s[i]` (`<` then a name) leniently: unquoted or
/// missing attribute values, a `<` that ends the tag early, a missing `>`.
fn parse_tag(s: &str, i: usize) -> (Tag<'_>, usize) {
    let b = s.as_bytes();
    let mut j = i + 1;
    while j < b.len() && !b[j].is_ascii_whitespace() && !matches!(b[j], b'>' | b'/' | b'<') {
        j += 1;
    }
    let name = &s[i + 1..j];
    let mut attrs: Vec<(String, String)> = Vec::new();
    let mut self_closing = false;
    loop {
        while j < b.len() && b[j].is_ascii_whitespace() {
            j += 1;
        }
        if j >= b.len() {
            break;
        }
        match b[j] {
            b'>' => {
                j += 1;
                break;
            }
            b'<' => break,
            b'/' => {
                j += 1;
                if b.get(j) == Some(&b'>') {
                    self_closing = true;
                    j += 1;
                    break;
                }
                continue;
            }
            _ => {}
        }
        let k0 = j;
        while j < b.len() && !b[j].is_ascii_whitespace() && !matches!(b[j], b'=' | b'>' | b'<') {
            if b[j] == b'/' && b.get(j + 1) == Some(&b'>') {
                break;
            }
            j += 1;
        }
        let key = &s[k0..j];
        let mut p = j;
        while p < b.len() && b[p].is_ascii_whitespace() {
            p += 1;
        }
        let value = if b.get(p) == Some(&b'=') {
            p += 1;
            while p < b.len() && b[p].is_ascii_whitespace() {
                p += 1;
            }
            match b.get(p) {
                Some(&q) if q == b'"' || q == b'\'' => {
                    let body = &s[p + 1..];
                    match body.find(q as char) {
                        Some(e) => {
                            j = p + 1 + e + 1;
                            body[..e].to_string()
                        }
                        None => {
                            // An unclosed quote: the value runs to the end of the tag.
                            let e = body.find('>').unwrap_or(body.len());
                            j = p + 1 + e;
                            body[..e].to_string()
                        }
                    }
                }
                _ => {
                    let v0 = p;
                    while p < b.len() && !b[p].is_ascii_whitespace() && !matches!(b[p], b'>' | b'<')
                    {
                        p += 1;
                    }
                    j = p;
                    s[v0..p].to_string()
                }
            }
        } else {
            key.to_string()
        };
        let key = sanitize_name(key);
        if !key.is_empty()
            && attrs.len() < MAX_ATTRS
            && !attrs.iter().any(|(k, _)| *k == key)
            && key.starts_with(|c: char| c.is_alphabetic() || c == '_' || c == ':')
        {
            attrs.push((key, value));
        }
    }
    (
        Tag {
            name,
            attrs,
            self_closing,
        },
        j,
    )
}

/// Characters a name may hold; others (from broken markup) become `_`.
fn sanitize_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | ':') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Namespaces read as the ones feed-rs knows.
fn rewrite_namespace(uri: &str) -> &str {
    match uri.trim() {
        ATOM03 | "http://www.w3.org/2005/Atom/" => ATOM10,
        RSS090
        | "http://backend.userland.com/rss2"
        | "http://backend.userland.com/rss"
        | "http://blogs.law.harvard.edu/tech/rss"
        | "http://purl.org/rss/1.0" => RSS10,
        "http://purl.org/dc/elements/1.1" => DC,
        "http://purl.org/dc/terms" => DCTERMS,
        "http://www.w3.org/1999/xhtml/" => XHTML,
        other => other,
    }
}

/// The Atom 1.0 `type` for an Atom 0.3 or 1.0 text construct's `type` and
/// `mode`; `None` leaves it out (plain text).
fn atom_type(ty: Option<&str>, mode: Option<&str>) -> Option<String> {
    let t = ty.unwrap_or("").trim().to_ascii_lowercase();
    let m = mode.unwrap_or("").trim().to_ascii_lowercase();
    let html = t == "html" || t == "text/html";
    let xhtml = t == "xhtml" || t == "application/xhtml+xml";
    Some(
        match () {
            _ if m == "escaped" && (html || xhtml) => "html",
            _ if t.is_empty() || t == "text" || t == "text/plain" || m == "base64" => {
                return None;
            }
            // Markup, XML or alternatives inline: feed-rs serialises the children.
            _ if xhtml
                || (html && m == "xml")
                || t.ends_with("xml")
                || t.starts_with("multipart/") =>
            {
                "xhtml"
            }
            _ if html => "html",
            // Other MIME types are read as text: feed-rs rejects the whole feed for
            // an empty or unparsable one, and none of them is markup we could read.
            _ if t.contains("html") => "html",
            _ => return None,
        }
        .to_string(),
    )
}

/// Whether XML 1.0 allows `c` in a document.
fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '&' => out.push_str("&amp;"),
        '<' => out.push_str("&lt;"),
        '>' => out.push_str("&gt;"),
        '"' => out.push_str("&quot;"),
        c => out.push(c),
    }
}

/// Writes `t` as XML character data (or an attribute value): references kept
/// when valid, HTML named entities turned into characters, a bare `&` escaped.
fn escape_into(out: &mut String, t: &str, attr: bool) {
    let mut rest = t;
    while let Some(i) = rest.find(|c: char| matches!(c, '&' | '<' | '>' | '"') || !xml_char(c)) {
        out.push_str(&rest[..i]);
        let c = rest[i..].chars().next().expect("found a char");
        rest = &rest[i + c.len_utf8()..];
        match c {
            '&' => {
                let used = reference(out, rest);
                rest = &rest[used..];
            }
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if attr => out.push_str("&quot;"),
            '"' => out.push('"'),
            // Characters XML forbids (form feeds, NULs, stray controls) are dropped.
            _ => {}
        }
    }
    out.push_str(rest);
}

/// Handles the text after a `&`; returns how many bytes of `rest` it used.
fn reference(out: &mut String, rest: &str) -> usize {
    let window = &rest[..floor_char_boundary(rest, MAX_ENTITY)];
    let Some(semi) = window.find(';') else {
        out.push_str("&amp;");
        return 0;
    };
    let name = &window[..semi];
    if let Some(num) = name.strip_prefix('#') {
        let n = match num.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok(),
            None => num.parse::<u32>().ok(),
        };
        let c = n.and_then(|n| {
            if (0x80..=0x9F).contains(&n) {
                // A C1 control written as a reference is CP-1252 in practice.
                let byte = [n as u8];
                let (s, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(&byte);
                s.chars().next()
            } else {
                char::from_u32(n)
            }
        });
        match c {
            Some(c) if xml_char(c) => push_escaped(out, c),
            Some(_) => {}
            None => {
                out.push_str("&amp;");
                return 0;
            }
        }
        return semi + 1;
    }
    if matches!(name, "amp" | "lt" | "gt" | "quot" | "apos") {
        out.push('&');
        out.push_str(name);
        out.push(';');
        return semi + 1;
    }
    if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric()) {
        let entity = &rest[..semi + 1];
        let mut probe = String::with_capacity(entity.len() + 1);
        probe.push('&');
        probe.push_str(entity);
        let decoded = html_escape::decode_html_entities(&probe);
        if decoded != probe {
            for c in decoded.chars().filter(|c| xml_char(*c)) {
                push_escaped(out, c);
            }
            return semi + 1;
        }
    }
    out.push_str("&amp;");
    0
}

fn floor_char_boundary(s: &str, max: usize) -> usize {
    if s.len() <= max {
        return s.len();
    }
    let mut i = max;
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(s: &str) -> Normalized {
        normalize(s.as_bytes(), None).unwrap()
    }

    #[test]
    fn issue_19_recovers_ill_formed_xml() {
        let n = norm("<rss><channel><item><title>A &nbsp;&amp; B & C &#146;s &bogus;</title><link>x</link></channel>");
        assert_eq!(n.format, Format::Rss);
        assert_eq!(n.items, 1);
        assert!(
            n.body.ends_with("<rss version=\"2.0\"><channel><item><title>A \u{a0}&amp; B &amp; C ’s &amp;bogus;</title><link>x</link></item></channel></rss>"),
            "{}",
            n.body
        );
        let n = norm("<?xml version='1.0' encoding='iso-8859-1'?><!DOCTYPE rss [<!ENTITY x 'y'>]><rss version=\"0.91\"><channel><ITEM><Title>t</Title></ITEM></channel></rss>trailing");
        assert!(
            n.body.ends_with(
                "<rss version=\"2.0\"><channel><item><title>t</title></item></channel></rss>"
            ),
            "{}",
            n.body
        );
        assert!(n
            .body
            .starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"));
    }

    #[test]
    fn issue_19_atom_03_becomes_atom_10() {
        let n = norm(
            r#"<feed version="0.3" xmlns="http://purl.org/atom/ns#" xmlns:dc="http://purl.org/dc/elements/1.1/"><entry><title type="text/plain" mode="escaped">a &lt;b&gt;</title><issued>2004-01-01T00:00:00Z</issued><content type="application/xhtml+xml" mode="xml"><div xmlns="http://www.w3.org/1999/xhtml">x</div></content><summary type="text/html" mode="escaped">&lt;p&gt;s&lt;/p&gt;</summary><dc:date>2004-01-02</dc:date></entry></feed>"#,
        );
        assert_eq!(n.format, Format::Atom);
        assert_eq!(n.items, 1);
        let b = &n.body;
        assert!(b.contains(r#"xmlns="http://www.w3.org/2005/Atom""#), "{b}");
        assert!(b.contains("<title>a &lt;b&gt;</title>"), "{b}");
        assert!(
            b.contains("<published>2004-01-01T00:00:00Z</published>"),
            "{b}"
        );
        assert!(b.contains(r#"<content type="xhtml">"#), "{b}");
        assert!(
            b.contains(r#"<summary type="html">&lt;p&gt;s&lt;/p&gt;</summary>"#),
            "{b}"
        );
        assert!(b.contains("<published>2004-01-02</published>"), "{b}");
    }

    #[test]
    fn issue_19_unescaped_markup_is_kept_as_the_elements_html() {
        let n = norm("<rss version='2.0' xmlns:xhtml='http://www.w3.org/1999/xhtml'><channel><item><description>Hi <b>there</b><br> you</description><xhtml:body><p>Body</p></xhtml:body></item></channel></rss>");
        let b = &n.body;
        assert!(
            b.contains("<description><![CDATA[Hi <b>there</b><br/> you]]></description>"),
            "{b}"
        );
        assert!(b.contains("<escontent:encoded xmlns:escontent=\"http://purl.org/rss/1.0/modules/content/\"><![CDATA[<p>Body</p>]]></escontent:encoded>"), "{b}");
    }

    #[test]
    fn issue_19_limits() {
        let deep = "<a>".repeat(MAX_DEPTH + 1);
        assert!(matches!(
            normalize(deep.as_bytes(), None),
            Err(NormalizeError::TooDeep)
        ));
        let n = norm("<rss><channel>");
        assert_eq!(n.items, 0);
        assert!(
            n.body
                .ends_with("<rss version=\"2.0\"><channel></channel></rss>"),
            "{}",
            n.body
        );
    }
}
