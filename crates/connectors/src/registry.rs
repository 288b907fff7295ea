//! The one place that maps a connector `kind` to its code: how its keys are
//! decoded and checked (each kind's `config.rs`), and which source runs it.
//! Adding a kind means a variant of [`SourceConfig`] and an arm in each
//! function here; the compiler points at every arm that is missing.

use std::net::SocketAddr;

use serde_json::Value;

use crate::config::SourceConfig;
use crate::error::SourceResult;
use crate::source::Source;

/// Every kind, for error messages.
pub(crate) const KINDS: &str = "rss, hn, reddit, mastodon, bluesky, webhook, file, x, youtube";

impl SourceConfig {
    /// The `kind` string.
    pub fn kind(&self) -> &'static str {
        match self {
            SourceConfig::Rss(_) => "rss",
            SourceConfig::Hn(_) => "hn",
            SourceConfig::Reddit(_) => "reddit",
            SourceConfig::Mastodon(_) => "mastodon",
            SourceConfig::Bluesky(_) => "bluesky",
            SourceConfig::Webhook(_) => "webhook",
            SourceConfig::File(_) => "file",
            SourceConfig::X(_) => "x",
            SourceConfig::Youtube(_) => "youtube",
        }
    }

    /// Decodes the kind-specific keys of an entry (`rest`, the shared keys
    /// removed); `None` for an unknown kind.
    pub(crate) fn parse(
        kind: &str,
        rest: Value,
    ) -> Option<Result<SourceConfig, serde_json::Error>> {
        use serde_json::from_value as decode;
        Some(match kind {
            "rss" => decode(rest).map(SourceConfig::Rss),
            "hn" => decode(rest).map(SourceConfig::Hn),
            "reddit" => decode(rest).map(SourceConfig::Reddit),
            "mastodon" => decode(rest).map(SourceConfig::Mastodon),
            "bluesky" => decode(rest).map(SourceConfig::Bluesky),
            "webhook" => decode(rest).map(SourceConfig::Webhook),
            "file" => decode(rest).map(SourceConfig::File),
            "x" => decode(rest).map(SourceConfig::X),
            "youtube" => decode(rest).map(SourceConfig::Youtube),
            _ => return None,
        })
    }

    /// Reports each bad kind-specific key through `err`; `k` turns a key
    /// into its dotted path (`connectors[3].feeds`).
    pub(crate) fn validate(&self, k: &dyn Fn(&str) -> String, err: &mut dyn FnMut(String, String)) {
        match self {
            SourceConfig::Rss(c) => c.validate(k, err),
            SourceConfig::Hn(c) => c.validate(k, err),
            SourceConfig::Reddit(c) => c.validate(k, err),
            SourceConfig::Mastodon(c) => c.validate(k, err),
            SourceConfig::Bluesky(c) => c.validate(k, err),
            SourceConfig::Webhook(c) => c.validate(k, err),
            SourceConfig::File(c) => c.validate(k, err),
            SourceConfig::X(c) => c.validate(k, err),
            SourceConfig::Youtube(c) => c.validate(k, err),
        }
    }

    /// A stream has no end, so a one-pass run (`[connect] once`) skips it.
    pub(crate) fn is_stream(&self) -> bool {
        matches!(self, SourceConfig::Bluesky(_) | SourceConfig::Webhook(_))
    }

    /// Seconds produced ids are remembered when `dedup_retention_secs` is
    /// not set: Bluesky's firehose is too large for a week of ids.
    pub(crate) fn default_dedup_retention_secs(&self) -> u64 {
        match self {
            SourceConfig::Bluesky(_) => 3600,
            _ => 7 * 24 * 3600,
        }
    }

    /// The source of connector `name`; a webhook is bound here (its address
    /// is returned) so a taken port fails at once.
    pub(crate) async fn build(
        &self,
        name: &str,
    ) -> SourceResult<(Box<dyn Source>, Option<SocketAddr>)> {
        let source: Box<dyn Source> = match self {
            SourceConfig::Rss(c) => Box::new(crate::rss::Rss::new(c.clone())),
            SourceConfig::Hn(c) => Box::new(crate::hn::Hn::new(c.clone())),
            SourceConfig::Reddit(c) => Box::new(crate::reddit::Reddit::new(c.clone())),
            SourceConfig::Mastodon(c) => Box::new(crate::mastodon::Mastodon::new(c.clone())),
            SourceConfig::Bluesky(c) => Box::new(crate::bluesky::Bluesky::new(c.clone())),
            SourceConfig::Webhook(c) => {
                let hook = crate::webhook::Webhook::bind(c, name).await?;
                let addr = hook.local_addr();
                return Ok((Box::new(hook), Some(addr)));
            }
            SourceConfig::File(c) => Box::new(crate::file::File::new(c.clone())),
            SourceConfig::X(c) => Box::new(crate::x::X::new(c.clone())),
            SourceConfig::Youtube(c) => Box::new(crate::youtube::Youtube::new(c.clone())),
        };
        Ok((source, None))
    }
}
