use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{default_schema_version, SCHEMA_VERSION};

/// A public post or mention as a connector saw it.
///
/// Only `id` and `text` are required on input; everything else is optional
/// because sources differ in what they tell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Post {
    /// Version of this JSON shape; see [`SCHEMA_VERSION`].
    #[serde(default = "default_schema_version")]
    pub schema_version: u16,
    /// Stable id, `source:native_id` (for example `reddit:t3_abc`).
    pub id: String,
    /// Source kind (`rss`, `hn`, `reddit`, `mastodon`, `bluesky`, `webhook`, `file`, `x`, `youtube`).
    /// Derived from the id's prefix when absent.
    #[serde(default)]
    pub source: String,
    /// Canonical URL of the post, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Who wrote it.
    #[serde(default)]
    pub author: Author,
    /// Title (feeds, stories), separate from the body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Body as plain text (HTML already stripped by the connector).
    pub text: String,
    /// ISO 639-1 language code, given by the source or detected by the matcher.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
    /// When the author published it (UTC).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::time::serialize_option"
    )]
    pub published_at: Option<DateTime<Utc>>,
    /// When the connector fetched it (UTC).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::time::serialize_option"
    )]
    pub fetched_at: Option<DateTime<Utc>>,
    /// Id of the post this one replies to, in the same `source:native_id` form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    /// Id of the thread's root post.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread_id: Option<String>,
    /// Engagement counts at fetch time.
    #[serde(default)]
    pub engagement: Engagement,
    /// The source's own payload, kept when the connector is configured to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw: Option<serde_json::Value>,
}

/// The author of a post.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Author {
    /// Handle on the source, without a leading `@` (for example `acme` or `acme@mastodon.social`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handle: Option<String>,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Reach figure: followers, karma or subscribers, whichever the source has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reach: Option<u64>,
    /// Profile URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// When the account was created, where the source tells (Mastodon, X):
    /// the match stage reads a young account as one sign of a bot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<DateTime<Utc>>,
}

/// Engagement counts; `None` where the source does not report one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Engagement {
    /// Likes, favourites, upvotes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub likes: Option<u64>,
    /// Replies or comments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replies: Option<u64>,
    /// Reposts, boosts, retweets, shares.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reposts: Option<u64>,
    /// A source's own score (Hacker News points, Reddit score).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<i64>,
}

/// Why a record could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// Not valid JSON, or not the expected shape.
    #[error("invalid JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// A schema version this build does not understand.
    #[error("unsupported schema_version {found} (this build reads {expected})")]
    SchemaVersion {
        /// The version found in the record.
        found: u16,
        /// The version this build reads.
        expected: u16,
    },
    /// A required field is present but empty.
    #[error("field `{0}` must not be empty")]
    Empty(&'static str),
}

impl Post {
    /// A post with the given id and text and nothing else; the source is taken from the id.
    pub fn new(id: impl Into<String>, text: impl Into<String>) -> Post {
        let id = id.into();
        Post {
            schema_version: SCHEMA_VERSION,
            source: source_of(&id).to_string(),
            id,
            url: None,
            author: Author::default(),
            title: None,
            text: text.into(),
            lang: None,
            published_at: None,
            fetched_at: None,
            reply_to: None,
            thread_id: None,
            engagement: Engagement::default(),
            raw: None,
        }
    }

    /// Builds the stable id `source:native_id`.
    pub fn make_id(source: &str, native_id: &str) -> String {
        format!("{source}:{native_id}")
    }

    /// Decodes and validates a post from JSON: checks the schema version,
    /// requires a non-empty id, and fills `source` from the id when absent.
    pub fn from_json(bytes: &[u8]) -> Result<Post, DecodeError> {
        Post::checked(serde_json::from_slice(bytes)?)
    }

    /// The checks and defaults [`Post::from_json`] applies after decoding,
    /// for a post handed over already decoded (the in-memory bus).
    pub fn checked(mut post: Post) -> Result<Post, DecodeError> {
        if post.schema_version != SCHEMA_VERSION {
            return Err(DecodeError::SchemaVersion {
                found: post.schema_version,
                expected: SCHEMA_VERSION,
            });
        }
        if post.id.trim().is_empty() {
            return Err(DecodeError::Empty("id"));
        }
        if post.source.is_empty() {
            post.source = source_of(&post.id).to_string();
        }
        Ok(post)
    }

    /// Serializes to compact JSON.
    pub fn to_json(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.json_size_hint());
        // The same bytes as serde_json, encoded faster (see
        // `Interaction::write_json`).
        sonic_rs::to_writer(&mut out, self).expect("a Post always serializes");
        out
    }

    /// About how many bytes the post's JSON takes (a little more for most
    /// posts), so encoders allocate once.
    pub fn json_size_hint(&self) -> usize {
        let texts = self.text.len() + self.title.as_ref().map_or(0, String::len);
        // Escapes and non-ASCII add a little; the fixed fields about 400 bytes.
        texts + texts / 16 + self.url.as_ref().map_or(0, String::len) + 448
    }

    /// The id without its `source:` prefix.
    pub fn native_id(&self) -> &str {
        self.id.split_once(':').map_or(self.id.as_str(), |(_, n)| n)
    }

    /// Title and body joined, as the matcher reads them.
    pub fn full_text(&self) -> String {
        match &self.title {
            Some(t) if !t.is_empty() => format!("{t}\n{}", self.text),
            _ => self.text.clone(),
        }
    }
}

fn source_of(id: &str) -> &str {
    match id.split_once(':') {
        Some((s, _)) if !s.is_empty() => s,
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal_post_decodes_with_defaults() {
        let p = Post::from_json(br#"{"id":"x:1","text":"hi"}"#).unwrap();
        assert_eq!(p.source, "x");
        assert_eq!(p.schema_version, SCHEMA_VERSION);
        assert_eq!(p.author, Author::default());
        let back = Post::from_json(&p.to_json()).unwrap();
        assert_eq!(back, p);
    }

    #[test]
    fn id_without_prefix_has_unknown_source() {
        let p = Post::from_json(br#"{"id":"42","text":"hi"}"#).unwrap();
        assert_eq!(p.source, "unknown");
        assert_eq!(p.native_id(), "42");
    }

    #[test]
    fn rejects_future_schema_and_empty_id() {
        let e = Post::from_json(br#"{"schema_version":99,"id":"a:1","text":""}"#).unwrap_err();
        assert!(
            matches!(e, DecodeError::SchemaVersion { found: 99, .. }),
            "{e}"
        );
        let e = Post::from_json(br#"{"id":" ","text":"x"}"#).unwrap_err();
        assert!(matches!(e, DecodeError::Empty("id")), "{e}");
        assert!(Post::from_json(b"{not json").is_err());
        assert!(
            Post::from_json(br#"{"id":"a:1"}"#).is_err(),
            "text is required"
        );
    }
}
