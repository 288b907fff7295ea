//! `earshot authors`, and the report's advocates and detractors: the
//! people behind the posts, from `earshot_sink::authors` (either store).

use std::io::Write;

use chrono::{DateTime, Utc};
use comfy_table::Table;
use earshot_sink::authors::{AuthorProfile, AuthorStore, Side, Standing, StandingQuery};
use earshot_sink::SinkConfig;

use crate::report::{section, table};

/// Posts about a brand that make an author an advocate or a detractor.
pub const MIN_POSTS: u64 = 2;

/// Writes the authors of `[since, until)` (or one `source:handle`) to `out`.
pub async fn run(
    config: &SinkConfig,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    author: Option<&str>,
    brand: Option<&str>,
    limit: u32,
    mut out: impl Write,
) -> anyhow::Result<()> {
    let author = match author {
        Some(a) => Some(a.split_once(':').filter(|(s, h)| !s.is_empty() && !h.is_empty()).ok_or_else(
            || anyhow::anyhow!("--author `{a}`: expected NETWORK:HANDLE, e.g. x:acme_fan or reddit:throwaway42"),
        )?),
        None => None,
    };
    let store = AuthorStore::open(config).await?;
    let profiles = store
        .profiles(since, until, author, brand.unwrap_or(""), limit)
        .await?;
    writeln!(
        out,
        "Authors {} to {} UTC{}",
        since.format("%Y-%m-%d %H:%M"),
        until.format("%Y-%m-%d %H:%M"),
        brand
            .map(|b| format!(", posting about {b}"))
            .unwrap_or_default()
    )?;
    section(&mut out, "By posts", profiles_table(&profiles))?;
    Ok(())
}

fn profiles_table(list: &[AuthorProfile]) -> Option<Table> {
    if list.is_empty() {
        return None;
    }
    let mut t = table(
        &[
            "Author",
            "Posts",
            "First seen",
            "Last seen",
            "Reach",
            "+ / = / -",
            "Brands",
            "Intents",
            "Customers",
        ],
        99,
    );
    let join = |v: &[(String, u64)]| {
        v.iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    for p in list {
        t.add_row(vec![
            format!("{}:{}", p.source, p.handle),
            p.posts.to_string(),
            p.first_seen.format("%Y-%m-%d %H:%M").to_string(),
            p.last_seen.format("%Y-%m-%d %H:%M").to_string(),
            if p.reach_latest == p.reach_max {
                p.reach_max.to_string()
            } else {
                format!("{} (max {})", p.reach_latest, p.reach_max)
            },
            format!("{} / {} / {}", p.positive, p.neutral, p.negative),
            join(&p.brands),
            join(&p.intents),
            p.customers.join(", "),
        ]);
    }
    Some(t)
}

fn standings_table(list: &[Standing]) -> Option<Table> {
    if list.is_empty() {
        return None;
    }
    let mut t = table(&["Brand", "Author", "Posts", "Reach", "Latest post"], 2);
    for s in list {
        t.add_row(vec![
            s.brand.clone(),
            format!("{}:{}", s.source, s.handle),
            s.posts.to_string(),
            s.reach.to_string(),
            s.latest_post.clone(),
        ]);
    }
    Some(t)
}

/// The report's author sections: the most active authors, then the
/// advocates and detractors.
pub async fn standings_sections(
    config: &SinkConfig,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    brand: Option<&str>,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let store = AuthorStore::open(config).await?;
    let top = store
        .profiles(since, until, None, brand.unwrap_or(""), 10)
        .await?;
    section(out, "Authors with the most posts", profiles_table(&top))?;
    for (side, title) in [
        (
            Side::Advocates,
            "Advocates: authors with 2+ positive posts about a brand",
        ),
        (
            Side::Detractors,
            "Detractors: authors with 2+ negative posts about a brand",
        ),
    ] {
        let list = store
            .standings(&StandingQuery {
                side,
                since,
                until,
                brand: brand.unwrap_or("").to_string(),
                min_posts: MIN_POSTS,
                min_reach: 0,
                limit: 10,
            })
            .await?;
        section(out, title, standings_table(&list))?;
    }
    Ok(())
}
