//! One post: decode, score, encode within the record size limit.

use std::panic::AssertUnwindSafe;
use std::sync::Mutex;

use earshot_match::Matcher;
use earshot_model::{
    EntityKind, Interaction, Post, ORIGIN_HEADER, SCHEMA_HEADER, SCHEMA_VERSION,
    SCHEMA_VERSION_TEXT,
};
use earshot_transport::{Delivery, Record};

use crate::config::STAGE;
use crate::noise::NoiseTracker;

/// Header naming what was cut from a scored record to fit `max_record_bytes`
/// (e.g. `raw,matches:5400->1,text:70000->61234`).
pub const TRIMMED_HEADER: &str = earshot_model::headers::TRIMMED;

/// Serializes `interaction` within `max` bytes, cutting deterministically (the
/// same post always gives the same record, so a redelivery replaces it):
/// first the source's raw JSON, then repeated matches (one per entity is
/// kept, so mentions and entity lists do not change), then the end of the
/// text, which then ends with a visible marker. Returns the JSON and what was
/// cut; `Err` when even that does not fit.
pub(crate) fn fit(
    mut interaction: Interaction,
    max: usize,
) -> Result<(Vec<u8>, Vec<String>, Interaction), String> {
    let mut json = interaction.to_json();
    let mut cut = Vec::new();
    let original = json.len();
    if json.len() <= max {
        return Ok((json, cut, interaction));
    }
    if interaction.post.raw.take().is_some() {
        cut.push("raw".to_string());
        json = interaction.to_json();
        if json.len() <= max {
            return Ok((json, cut, interaction));
        }
    }
    let before = interaction.matches.len();
    let mut seen = std::collections::HashSet::new();
    interaction
        .matches
        .retain(|m| seen.insert((m.kind, m.entity_id.clone())));
    if interaction.matches.len() < before {
        cut.push(format!("matches:{before}->{}", interaction.matches.len()));
        json = interaction.to_json();
        if json.len() <= max {
            return Ok((json, cut, interaction));
        }
    }
    let text = std::mem::take(&mut interaction.post.text);
    let marker = format!(" [earshot: text truncated from {} bytes]", text.len());
    // JSON escaping can make the text longer than its bytes: shrink until it
    // fits, by the measured excess each time (a few rounds at most).
    let mut keep = text.len();
    for _ in 0..8 {
        let over = json.len().saturating_sub(max) + marker.len();
        keep = keep.saturating_sub(over);
        while !text.is_char_boundary(keep) {
            keep -= 1;
        }
        interaction.post.text = format!("{}{marker}", &text[..keep]);
        json = interaction.to_json();
        if json.len() <= max {
            cut.push(format!("text:{}->{keep}", text.len()));
            return Ok((json, cut, interaction));
        }
        if keep == 0 {
            break;
        }
    }
    Err(format!(
        "scored record of {original} bytes does not fit max_record_bytes = {max} even without raw JSON, repeated matches and text ({} bytes)",
        json.len()
    ))
}

/// Watchlist matches of one batch by brand (or competitor) id, so that
/// `earshot_matches_total{brand}` is updated once per batch, not per post.
/// Each entry keeps the number of the last post counted, so a post naming a
/// brand many times counts once, in time linear in its matches.
#[derive(Default)]
pub(crate) struct BrandTally {
    pub(crate) by_brand: std::collections::HashMap<String, (u64, usize)>,
    posts: usize,
}

impl BrandTally {
    /// Counts each brand or competitor `interaction` matched, once per post.
    pub fn count(&mut self, interaction: &Interaction) {
        self.posts += 1;
        for m in &interaction.matches {
            if m.kind == EntityKind::Customer {
                continue;
            }
            let post = self.posts;
            match self.by_brand.get_mut(m.entity_id.as_str()) {
                Some((_, last)) if *last == post => {}
                Some((n, last)) => {
                    *n += 1;
                    *last = post;
                }
                None => {
                    self.by_brand.insert(m.entity_id.clone(), (1, post));
                }
            }
        }
    }

    pub fn publish(self) {
        for (brand, (n, _)) in self.by_brand {
            metrics::counter!("earshot_matches_total", "brand" => brand).increment(n);
        }
    }
}

/// Decodes and scores one raw post into the scored record (with the
/// interaction it encodes, for a consumer in this process), or names why it
/// is poison. `attached`: the post as its producer in this process had it,
/// checked like a decoded one instead of decoding the payload.
pub(crate) fn score(
    matcher: &Matcher,
    d: &Delivery,
    attached: Option<Post>,
    max_record_bytes: usize,
    brands: &mut BrandTally,
    noise: &Mutex<NoiseTracker>,
) -> Result<(Record, Interaction), String> {
    if let Some(v) = d.message.header(SCHEMA_HEADER) {
        if v != SCHEMA_VERSION_TEXT {
            return Err(format!(
                "unsupported {SCHEMA_HEADER} header {v:?} (this build reads {SCHEMA_VERSION})"
            ));
        }
    }
    let post = match attached {
        Some(post) => Post::checked(post),
        None => Post::from_json(&d.message.payload),
    }
    .map_err(|e| e.to_string())?;
    // A matcher bug on one odd post must not stop the stage: quarantine it.
    let mut interaction = std::panic::catch_unwind(AssertUnwindSafe(|| matcher.score(&post)))
        .map_err(|_| "the matcher panicked on this post".to_string())?;
    // A panic elsewhere while the lock was held leaves a window that is
    // still consistent entry by entry: keep using it.
    noise
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .observe(&mut interaction, matcher.noise());
    brands.count(&interaction);
    tracing::debug!(post_id = %post.id, matches = interaction.matches.len(), route = %interaction.route, "matcher scored");
    let (payload, cut, interaction) = fit(interaction, max_record_bytes)?;
    let mut record = Record::new(post.id, payload)
        .header(SCHEMA_HEADER, SCHEMA_VERSION_TEXT)
        .header(ORIGIN_HEADER, STAGE);
    if !cut.is_empty() {
        let m = &d.message;
        tracing::warn!(topic = %m.topic, partition = m.partition, offset = m.offset, key = ?m.key, cut = %cut.join(","), "scored record over max_record_bytes: trimmed to fit");
        record = record.header(TRIMMED_HEADER, cut.join(","));
    }
    Ok((record, interaction))
}
