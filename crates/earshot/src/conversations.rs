//! `earshot thread`, and the report's response times and unanswered
//! negative threads, from `earshot_sink::conversations` (either store).

use std::io::Write;

use chrono::{DateTime, Utc};
use earshot_match::Matcher;
use earshot_sink::conversations::{human_duration, response_times, ConversationStore};
use earshot_sink::SinkConfig;

use crate::report::{section, table};

/// The watchlist's own accounts (`network:handle`, lowercase), every brand's.
pub fn own_accounts(matcher: &Matcher) -> Vec<String> {
    let mut own: Vec<String> = matcher
        .own_accounts()
        .into_iter()
        .map(|(_, a)| a.to_string())
        .collect();
    own.sort_unstable();
    own.dedup();
    own
}

/// `earshot thread ID`: its posts in order, the brand's own marked.
pub async fn thread(
    config: &SinkConfig,
    own: &[String],
    id: &str,
    mut out: impl Write,
) -> anyhow::Result<()> {
    let store = ConversationStore::open(config).await?;
    let posts = store.thread(id).await?;
    if posts.is_empty() {
        anyhow::bail!("no thread or post `{id}` in the store");
    }
    let is_own =
        |source: &str, author: &str| own.contains(&format!("{source}:{}", author.to_lowercase()));
    writeln!(out, "Thread {id}: {} posts", posts.len())?;
    let first_customer = posts.iter().find(|p| !is_own(&p.source, &p.author));
    let mut t = table(
        &["When (UTC)", "Author", "Sentiment", "Post", "Answered"],
        99,
    );
    for p in &posts {
        let own_mark = if is_own(&p.source, &p.author) {
            " (brand)"
        } else {
            ""
        };
        let text: String = p
            .text
            .chars()
            .take(120)
            .collect::<String>()
            .replace('\n', " ");
        t.add_row(vec![
            p.event_time.format("%Y-%m-%d %H:%M").to_string(),
            format!("{}{own_mark}", p.author),
            format!("{:+.2}", p.compound),
            format!("{}\n{}", p.post_id, text),
            p.responded_at
                .map(|r| r.format("%Y-%m-%d %H:%M").to_string())
                .unwrap_or_default(),
        ]);
    }
    writeln!(out, "{t}")?;
    if let Some(start) = first_customer {
        let reply = posts
            .iter()
            .filter(|p| is_own(&p.source, &p.author) && p.event_time >= start.event_time)
            .map(|p| p.event_time)
            .chain(posts.iter().filter_map(|p| p.responded_at))
            .filter(|t| *t >= start.event_time)
            .min();
        match reply {
            Some(r) => writeln!(
                out,
                "First response {} after the first customer post.",
                human_duration((r - start.event_time).num_seconds())
            )?,
            None => writeln!(out, "Not answered yet.")?,
        }
    }
    Ok(())
}

/// The report's response-time and unanswered-thread sections.
pub async fn response_sections(
    config: &SinkConfig,
    own: &[String],
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    brand: Option<&str>,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let store = ConversationStore::open(config).await?;
    let threads = store.threads(since, until, own).await?;
    let times: Vec<_> = response_times(&threads)
        .into_iter()
        .filter(|r| brand.is_none_or(|b| r.brand == b))
        .collect();
    let t = (!times.is_empty()).then(|| {
        let mut t = table(
            &[
                "Brand",
                "Threads",
                "Answered",
                "Median",
                "90th pct",
                "Negative unanswered",
            ],
            1,
        );
        for r in &times {
            t.add_row(vec![
                r.brand.clone(),
                r.threads.to_string(),
                r.answered.to_string(),
                r.p50_secs.map(human_duration).unwrap_or_default(),
                r.p90_secs.map(human_duration).unwrap_or_default(),
                r.unanswered_negative.to_string(),
            ]);
        }
        t
    });
    section(
        out,
        "Time to first response (own accounts' replies and recorded responses)",
        t,
    )?;
    let mut open: Vec<_> = threads
        .iter()
        .filter(|t| t.negative && t.first_response.is_none())
        .filter(|t| brand.is_none_or(|b| t.entities.iter().any(|e| e == b)))
        .collect();
    open.sort_by(|a, b| b.posts.cmp(&a.posts).then(a.started.cmp(&b.started)));
    let t = (!open.is_empty()).then(|| {
        let mut t = table(
            &["Thread", "Started (UTC)", "Waiting", "Posts", "Brands"],
            2,
        );
        for th in open.iter().take(20) {
            t.add_row(vec![
                th.thread.clone(),
                th.started.format("%Y-%m-%d %H:%M").to_string(),
                human_duration((until - th.started).num_seconds().max(0)),
                th.posts.to_string(),
                th.entities.join(", "),
            ]);
        }
        t
    });
    section(
        out,
        "Negative threads nobody answered (most posts first)",
        t,
    )?;
    Ok(())
}
