//! `earshot report`: the PR dashboards as terminal tables. The figures come
//! from `earshot_sink::report` (same struct for ClickHouse and SQLite); this
//! module only renders them.

use std::io::Write;

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{CellAlignment, ContentArrangement, Table};
use earshot_match::Matcher;
use earshot_sink::{PostSummary, Report, ReportParams, SinkConfig};

/// Queries the configured store for `params` and writes the tables to `out`,
/// with `note` (where the figures' dates come from) under the header.
/// `own` lists the brands' own accounts (`network:handle`) that answer in threads.
pub async fn run(
    config: &SinkConfig,
    own: &[String],
    params: &ReportParams,
    note: Option<&str>,
    mut out: impl Write,
) -> anyhow::Result<()> {
    let report = earshot_sink::report(config, params).await?;
    render(&report, note, &mut out)?;
    crate::conversations::response_sections(
        config,
        own,
        params.since,
        params.until,
        params.brand.as_deref(),
        &mut out,
    )
    .await?;
    crate::authors::standings_sections(
        config,
        params.since,
        params.until,
        params.brand.as_deref(),
        &mut out,
    )
    .await?;
    Ok(())
}

/// Refuses a `--brand` the watchlist does not name: the store would only
/// answer with empty tables, which reads as "no mentions" rather than "typo".
pub fn check_brand(matcher: &Matcher, brand: &str) -> anyhow::Result<()> {
    let known: Vec<&str> = matcher.brand_ids().collect();
    if known.contains(&brand) {
        return Ok(());
    }
    anyhow::bail!(
        "unknown brand `{brand}`; the watchlist's brands and competitors are: {}",
        if known.is_empty() {
            "(none)".to_string()
        } else {
            known.join(", ")
        }
    )
}

pub(crate) fn table(header: &[&str], right_aligned_from: usize) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(120);
    t.set_header(header.iter().copied());
    for i in right_aligned_from..header.len() {
        if let Some(c) = t.column_mut(i) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
    t
}

pub(crate) fn section(out: &mut impl Write, title: &str, t: Option<Table>) -> std::io::Result<()> {
    writeln!(out, "\n{title}")?;
    match t {
        Some(t) => writeln!(out, "{t}"),
        None => writeln!(out, "  (no data in this window)"),
    }
}

fn posts(list: &[PostSummary]) -> Option<Table> {
    if list.is_empty() {
        return None;
    }
    let mut t = table(
        &[
            "Priority",
            "Route",
            "Reach",
            "Sentiment",
            "Author",
            "Entities",
            "Intents",
            "Post",
        ],
        99,
    );
    for p in list {
        let text: String = p
            .text
            .chars()
            .take(80)
            .collect::<String>()
            .replace('\n', " ");
        let locator = if p.url.is_empty() {
            p.post_id.clone()
        } else {
            p.url.clone()
        };
        t.add_row(vec![
            p.priority.to_string(),
            p.route.clone(),
            p.reach.to_string(),
            format!("{:+.2}", p.compound),
            p.author.clone(),
            p.entities.join(", "),
            p.intents.join(", "),
            format!("{text}\n{locator}"),
        ]);
    }
    Some(t)
}

/// Writes every dashboard of `report` as a table, with `note` under the header.
pub fn render(report: &Report, note: Option<&str>, mut out: impl Write) -> std::io::Result<()> {
    let p = &report.params;
    write!(
        out,
        "Earshot report: {} to {} UTC",
        p.since.format("%Y-%m-%d %H:%M"),
        p.until.format("%Y-%m-%d %H:%M")
    )?;
    if let Some(b) = &p.brand {
        write!(out, ", brand {b}")?;
    }
    writeln!(out)?;
    if let Some(note) = note {
        writeln!(out, "Dates: {note}")?;
    }

    for (label, rows) in &report.share_of_voice {
        let title = if label == "window" {
            "Share of voice (report window)".to_string()
        } else {
            format!("Share of voice (last {label})")
        };
        let t = (!rows.is_empty()).then(|| {
            let mut t = table(&["Brand", "Kind", "Mentions", "Share"], 2);
            for r in rows {
                let mark = if p.brand.as_deref() == Some(r.entity_id.as_str()) {
                    " ◀"
                } else {
                    ""
                };
                t.add_row(vec![
                    format!("{}{mark}", r.entity_id),
                    r.kind.to_string(),
                    r.mentions.to_string(),
                    format!("{:.1}%", r.share * 100.0),
                ]);
            }
            t
        });
        section(&mut out, &title, t)?;
    }

    let t = (!report.net_sentiment.is_empty()).then(|| {
        let mut t = table(
            &[
                "Brand",
                "Hour (UTC)",
                "Positive",
                "Neutral",
                "Negative",
                "Net",
            ],
            2,
        );
        for r in &report.net_sentiment {
            t.add_row(vec![
                r.entity_id.clone(),
                r.hour.format("%m-%d %H:00").to_string(),
                r.positive.to_string(),
                r.neutral.to_string(),
                r.negative.to_string(),
                r.net.map_or("–".to_string(), |n| format!("{n:+.2}")),
            ]);
        }
        t
    });
    section(
        &mut out,
        "Net sentiment per hour: (pos − neg) / (pos + neg)",
        t,
    )?;

    let t = (!report.spikes.is_empty()).then(|| {
        let mut t = table(
            &[
                "Brand",
                "Last hour",
                "Mean (12 h)",
                "σ",
                "Threshold",
                "Spike",
            ],
            1,
        );
        for s in &report.spikes {
            t.add_row(vec![
                s.entity_id.clone(),
                s.last_hour.to_string(),
                format!("{:.2}", s.mean),
                format!("{:.2}", s.stddev),
                format!("{:.2}", s.threshold),
                if s.spike {
                    "SPIKE".into()
                } else {
                    String::new()
                },
            ]);
        }
        t
    });
    section(
        &mut out,
        &format!(
            "Spikes: last hour vs mean + {}·σ of the 12 hours before",
            p.spike_k
        ),
        t,
    )?;

    section(
        &mut out,
        "Top negative posts awaiting a response (by author reach)",
        posts(&report.top_negative),
    )?;
    section(
        &mut out,
        "Work queue (by priority)",
        posts(&report.work_queue),
    )?;

    for (title, counts, key) in [
        ("Intents", &report.intents, "Intent"),
        ("Sources", &report.sources, "Source"),
    ] {
        let t = (!counts.is_empty()).then(|| {
            let total: u64 = counts.iter().map(|c| c.posts).sum();
            let mut t = table(&[key, "Posts", "Share"], 1);
            for c in counts.iter() {
                t.add_row(vec![
                    c.key.clone(),
                    c.posts.to_string(),
                    format!("{:.1}%", c.posts as f64 * 100.0 / total.max(1) as f64),
                ]);
            }
            t
        });
        section(&mut out, title, t)?;
    }
    Ok(())
}
