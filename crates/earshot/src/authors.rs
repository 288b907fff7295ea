//! `earshot authors`, and the report's advocates and detractors: the
//! people behind the posts, from `earshot_sink::authors` (either store).

use std::io::Write;

use anyhow::Context;
use chrono::{DateTime, Utc};
use comfy_table::Table;
use earshot_cases::StandingsConfig;
use earshot_match::Matcher;
use earshot_sink::authors::{AuthorProfile, AuthorStore, Side, Standing, StandingQuery};
use earshot_sink::crm_standings::CrmStanding;
use earshot_sink::SinkConfig;
use tokio_util::sync::CancellationToken;

use crate::config::Config;

use crate::report::{section, table};

/// Posts about a brand that make an author an advocate or a detractor.
pub const MIN_POSTS: u64 = 2;

/// Writes the authors of the window `[since, until)` (or one `source:handle`)
/// to `out`, with the accounts (and their owners) `matcher`'s export ties
/// each handle to.
pub async fn run(
    config: &SinkConfig,
    matcher: &Matcher,
    (since, until): (DateTime<Utc>, DateTime<Utc>),
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
    let accounts = |p: &AuthorProfile| {
        matcher
            .customers_of_author(&p.source, &p.handle)
            .iter()
            .map(|c| match c.owner.as_str() {
                "" => c.id.clone(),
                owner => format!("{} (owner {owner})", c.id),
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    section(
        &mut out,
        "By posts",
        profiles_table(&profiles, Some(&accounts)),
    )?;
    Ok(())
}

/// `accounts`: the accounts the export ties the author's handle to, a
/// column of its own ("Customers" are those their posts were linked to).
fn profiles_table(
    list: &[AuthorProfile],
    accounts: Option<&dyn Fn(&AuthorProfile) -> String>,
) -> Option<Table> {
    if list.is_empty() {
        return None;
    }
    let mut headers = vec![
        "Author",
        "Posts",
        "First seen",
        "Last seen",
        "Reach",
        "+ / = / -",
        "Brands",
        "Intents",
        "Customers",
    ];
    if accounts.is_some() {
        headers.push("Handle's accounts");
    }
    let mut t = table(&headers, 99);
    let join = |v: &[(String, u64)]| {
        v.iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    for p in list {
        let mut row = vec![
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
        ];
        if let Some(accounts) = accounts {
            row.push(accounts(p));
        }
        t.add_row(row);
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
    section(
        out,
        "Authors with the most posts",
        profiles_table(&top, None),
    )?;
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

/// The CRM-facing rows of one window: every brand's advocates and
/// detractors, each with the CRM accounts the export ties the handle to.
async fn crm_rows(
    store: &AuthorStore,
    matcher: &Matcher,
    window: (DateTime<Utc>, DateTime<Utc>),
    standings: &StandingsConfig,
) -> anyhow::Result<Vec<CrmStanding>> {
    let mut rows = Vec::new();
    for side in [Side::Advocates, Side::Detractors] {
        let list = store
            .standings(&StandingQuery {
                side,
                since: window.0,
                until: window.1,
                brand: String::new(),
                min_posts: standings.min_posts,
                min_reach: standings.min_reach,
                limit: standings.limit,
            })
            .await?;
        for author in list {
            let accounts = matcher.customers_of_author(&author.source, &author.handle);
            let mut owners: Vec<String> = Vec::new();
            for a in &accounts {
                if !a.owner.is_empty() && !owners.contains(&a.owner) {
                    owners.push(a.owner.clone());
                }
            }
            rows.push(CrmStanding {
                period: String::new(),
                window_start: window.0,
                window_end: window.1,
                side,
                customer_ids: accounts.iter().map(|a| a.id.clone()).collect(),
                account_owners: owners,
                author,
            });
        }
    }
    Ok(rows)
}

/// Refreshes the CRM-facing table for each `(period, length)` ending at
/// `now`; returns the rows written per period.
pub async fn write_standings(
    config: &Config,
    periods: &[(String, std::time::Duration)],
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<(String, usize)>> {
    let matcher = config.matcher()?;
    let store = AuthorStore::open(&config.sink).await?;
    let mut written = Vec::new();
    for (period, length) in periods {
        let since = chrono::Duration::from_std(*length)
            .ok()
            .and_then(|l| now.checked_sub_signed(l))
            .ok_or_else(|| anyhow::anyhow!("standings period `{period}`: window too long"))?;
        let mut rows = crm_rows(&store, &matcher, (since, now), &config.cases.standings).await?;
        for r in &mut rows {
            r.period = period.clone();
        }
        store
            .write_crm_standings(period, (since, now), &rows, now)
            .await
            .with_context(|| format!("writing crm_standings for {period}"))?;
        written.push((period.clone(), rows.len()));
    }
    Ok(written)
}

/// `earshot authors --standings`: the advocates and detractors of the
/// window with their CRM accounts; with `write`, stored as the table's
/// period named `period`.
pub async fn standings(
    config: &Config,
    window: (DateTime<Utc>, DateTime<Utc>),
    period: &str,
    write: bool,
    mut out: impl Write,
) -> anyhow::Result<()> {
    let matcher = config.matcher()?;
    let store = AuthorStore::open(&config.sink).await?;
    let mut rows = crm_rows(&store, &matcher, window, &config.cases.standings).await?;
    writeln!(
        out,
        "Advocates and detractors {} to {} UTC (at least {} posts, reach {})",
        window.0.format("%Y-%m-%d %H:%M"),
        window.1.format("%Y-%m-%d %H:%M"),
        config.cases.standings.min_posts,
        config.cases.standings.min_reach
    )?;
    let mut t = table(
        &[
            "Standing",
            "Brand",
            "Author",
            "Posts",
            "Reach",
            "Posts (latest first)",
            "Customers",
            "Owners",
        ],
        5,
    );
    for r in &rows {
        t.add_row(vec![
            r.side.standing().to_string(),
            r.author.brand.clone(),
            format!("{}:{}", r.author.source, r.author.handle),
            r.author.posts.to_string(),
            r.author.reach.to_string(),
            r.author.post_ids.join(", "),
            r.customer_ids.join(", "),
            r.account_owners.join(", "),
        ]);
    }
    section(&mut out, "Standings", (!rows.is_empty()).then_some(t))?;
    if write {
        for r in &mut rows {
            r.period = period.to_string();
        }
        store
            .write_crm_standings(period, window, &rows, window.1)
            .await?;
        writeln!(
            out,
            "wrote {} row(s) to crm_standings as period {period} (read crm_standings_current)",
            rows.len()
        )?;
    }
    Ok(())
}

/// Refreshes the CRM-facing table every `[cases.standings] every` until
/// `stop`; a failed refresh is logged and the next one tried.
pub async fn refresh_standings_until(config: Config, stop: CancellationToken) {
    let every = config.cases.standings.every;
    let periods = match config.cases.standings.windows() {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(error = e, "cases.standings.periods: no standings refresh");
            return;
        }
    };
    if every.is_zero() || periods.is_empty() {
        return;
    }
    loop {
        match write_standings(&config, &periods, Utc::now()).await {
            Ok(written) => tracing::info!(?written, "crm_standings refreshed"),
            Err(e) => tracing::warn!(error = format!("{e:#}"), "crm_standings refresh failed"),
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}
