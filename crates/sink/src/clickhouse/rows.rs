//! RowBinary rows for each table, borrowed from the batch (no string copies).

use chrono::{DateTime, Utc};
use clickhouse::Row;
use earshot_model::{EntityKind, Interaction, SentimentLabel};
use serde::Serialize;

use crate::BatchItem;

/// A row of `interactions`. Field order is the insert's column list.
#[derive(Debug, Row, Serialize)]
pub(crate) struct InteractionRow<'a> {
    pub post_id: &'a str,
    pub source: &'a str,
    pub event_time: u32,
    pub published_at: Option<u32>,
    pub fetched_at: Option<u32>,
    pub scored_at: u32,
    pub url: &'a str,
    pub author_handle: &'a str,
    pub author_name: &'a str,
    pub author_reach: u64,
    pub title: &'a str,
    pub text: &'a str,
    pub lang: &'a str,
    pub brands: Vec<&'a str>,
    pub competitors: Vec<&'a str>,
    pub customers: Vec<&'a str>,
    pub intents: Vec<&'a str>,
    pub route: &'a str,
    pub priority: u8,
    pub priority_reasons: &'a [String],
    pub sentiment_label: i8,
    pub sentiment_compound: f32,
    pub likes: u64,
    pub replies: u64,
    pub reposts: u64,
    pub reply_to: &'a str,
    pub thread_id: &'a str,
    pub watchlist_version: &'a str,
    pub version: u64,
    pub cluster_id: &'a str,
    pub cluster_size: u32,
    pub near_duplicate: u8,
    pub bot_like: u8,
    pub bot_reasons: &'a [String],
}

/// A row of `mentions`: one per (post, matched entity).
#[derive(Debug, Row, Serialize)]
pub(crate) struct MentionRow<'a> {
    pub entity_id: &'a str,
    pub entity_kind: i8,
    pub event_time: u32,
    pub post_id: &'a str,
    pub source: &'a str,
    pub sentiment_label: i8,
    pub sentiment_compound: f32,
    pub author_reach: u64,
    pub priority: u8,
    pub route: &'a str,
    pub version: u64,
}

/// A row of `sink_dead_letters`.
#[derive(Debug, Row, Serialize)]
pub(crate) struct DeadLetterRow<'a> {
    pub at: u32,
    pub target_table: &'a str,
    pub error_code: i32,
    pub error: &'a str,
    pub src_topic: &'a str,
    pub src_partition: i32,
    pub src_offset: i64,
    pub post_id: &'a str,
    pub payload: &'a str,
}

/// Enum8 value of a sentiment label (matches the DDL).
pub(crate) fn label_code(label: SentimentLabel) -> i8 {
    match label {
        SentimentLabel::Negative => -1,
        SentimentLabel::Neutral => 0,
        SentimentLabel::Positive => 1,
    }
}

/// Enum8 value of an entity kind (matches the DDL).
pub(crate) fn kind_code(kind: EntityKind) -> i8 {
    match kind {
        EntityKind::Customer => 1,
        EntityKind::Brand => 2,
        EntityKind::Competitor => 3,
    }
}

fn secs(t: DateTime<Utc>) -> u32 {
    t.timestamp().clamp(0, u32::MAX as i64) as u32
}

/// The time a post is filed under: when it was published, unless that is
/// missing or implausible (more than ten years before or a day after scoring,
/// which would scatter rows over stray monthly partitions); then when it was
/// fetched; then when it was scored. Deterministic for a given record, so a
/// redelivered row lands on the same sorting key and deduplicates.
pub(crate) fn event_time(i: &Interaction) -> u32 {
    let plausible = |t: &DateTime<Utc>| {
        let d = i.scored_at.signed_duration_since(*t);
        d <= chrono::Duration::days(3653) && d >= -chrono::Duration::days(1)
    };
    let t = i
        .post
        .published_at
        .filter(plausible)
        .or(i.post.fetched_at.filter(plausible))
        .unwrap_or(i.scored_at);
    secs(t)
}

/// Row version: later scoring wins in `ReplacingMergeTree`.
pub(crate) fn version(i: &Interaction) -> u64 {
    i.scored_at.timestamp_millis().max(0) as u64
}

pub(crate) fn interaction_row(item: &BatchItem) -> InteractionRow<'_> {
    let i = &item.interaction;
    let p = &i.post;
    InteractionRow {
        post_id: &p.id,
        source: &p.source,
        event_time: event_time(i),
        published_at: p.published_at.map(secs),
        fetched_at: p.fetched_at.map(secs),
        scored_at: secs(i.scored_at),
        url: p.url.as_deref().unwrap_or(""),
        author_handle: p.author.handle.as_deref().unwrap_or(""),
        author_name: p.author.display_name.as_deref().unwrap_or(""),
        author_reach: p.author.reach.unwrap_or(0),
        title: p.title.as_deref().unwrap_or(""),
        text: &p.text,
        lang: p.lang.as_deref().unwrap_or(""),
        brands: i.entities(EntityKind::Brand),
        competitors: i.entities(EntityKind::Competitor),
        customers: i.entities(EntityKind::Customer),
        intents: i.intents.iter().map(|x| x.as_str()).collect(),
        route: i.route.as_str(),
        priority: i.priority,
        priority_reasons: &i.priority_reasons,
        sentiment_label: label_code(i.sentiment.label),
        sentiment_compound: i.sentiment.compound,
        likes: p.engagement.likes.unwrap_or(0),
        replies: p.engagement.replies.unwrap_or(0),
        reposts: p.engagement.reposts.unwrap_or(0),
        reply_to: p.reply_to.as_deref().unwrap_or(""),
        thread_id: p.thread_id.as_deref().unwrap_or(""),
        watchlist_version: &i.watchlist_version,
        version: version(i),
        cluster_id: i.noise.cluster_id.as_deref().unwrap_or(""),
        cluster_size: i.noise.cluster_size,
        near_duplicate: u8::from(i.noise.near_duplicate),
        bot_like: u8::from(i.noise.bot_like),
        bot_reasons: &i.noise.bot_reasons,
    }
}

/// One mention row per distinct matched entity, with the entity's own
/// sentiment where the matcher found it differs from the post's; none for
/// a post repeating a near-duplicate cluster.
pub(crate) fn mention_rows(item: &BatchItem) -> impl Iterator<Item = MentionRow<'_>> {
    let i = &item.interaction;
    let event_time = event_time(i);
    let version = version(i);
    let mut seen: Vec<(&str, EntityKind)> = Vec::new();
    // A post repeating a near-duplicate cluster (issue 16) gets no mention
    // rows: the per-minute aggregates fed by `mentions` then count its
    // cluster once, and its `interactions` row keeps its entities.
    let matches = if i.noise.is_repeat() {
        &[][..]
    } else {
        &i.matches[..]
    };
    matches.iter().filter_map(move |m| {
        if seen.contains(&(m.entity_id.as_str(), m.kind)) {
            return None;
        }
        seen.push((m.entity_id.as_str(), m.kind));
        let (label, compound) = i.sentiment_toward(&m.entity_id);
        Some(MentionRow {
            entity_id: &m.entity_id,
            entity_kind: kind_code(m.kind),
            event_time,
            post_id: &i.post.id,
            source: &i.post.source,
            sentiment_label: label_code(label),
            sentiment_compound: compound,
            author_reach: i.post.author.reach.unwrap_or(0),
            priority: i.priority,
            route: i.route.as_str(),
            version,
        })
    })
}

/// Content key of an `interactions` row (see [`super::insert::dedup_token`]):
/// the post and its scoring version.
pub(crate) fn interaction_key(item: &BatchItem) -> String {
    format!(
        "{}\0{}",
        item.interaction.post.id,
        version(&item.interaction)
    )
}

/// Content key of a `mentions` row: the post, its version and the entity.
pub(crate) fn mention_key(m: &MentionRow<'_>) -> String {
    format!(
        "{}\0{}\0{}\0{}",
        m.post_id, m.version, m.entity_kind, m.entity_id
    )
}
