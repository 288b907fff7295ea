//! `earshot eval --labels FILE`: the watchlist against posts an analyst
//! labelled (`earshot_match::eval`), as terminal tables.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use earshot_match::eval::{check_intents, evaluate, parse_labelled, Counts};
use earshot_match::Matcher;

use crate::report::{section, table};

/// Reads the labels file, evaluates, writes the tables and at most `misses` misses.
pub fn run(
    matcher: &Matcher,
    labels: &Path,
    misses: usize,
    mut out: impl Write,
) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(labels)
        .with_context(|| format!("cannot read labels file {}", labels.display()))?;
    let in_file = |e| anyhow::anyhow!("{}: {e}", labels.display());
    let posts = parse_labelled(&text).map_err(in_file)?;
    check_intents(&posts, &matcher.labels()).map_err(in_file)?;
    let e = evaluate(matcher, &posts);
    writeln!(
        out,
        "Evaluation of watchlist {} on {} labelled post(s) from {}",
        matcher.version(),
        e.posts,
        labels.display()
    )?;
    let counts_table = |rows: &[(String, Counts)], key: &str| {
        (!rows.is_empty()).then(|| {
            let mut t = table(
                &[
                    key,
                    "Labelled",
                    "Found",
                    "Right",
                    "Precision",
                    "Recall",
                    "F1",
                ],
                1,
            );
            for (name, c) in rows {
                t.add_row(vec![
                    name.clone(),
                    (c.true_positives + c.false_negatives).to_string(),
                    (c.true_positives + c.false_positives).to_string(),
                    c.true_positives.to_string(),
                    format!("{:.2}", c.precision()),
                    format!("{:.2}", c.recall()),
                    format!("{:.2}", c.f1()),
                ]);
            }
            t
        })
    };
    let mut entities: Vec<(String, Counts)> = e.entities.clone().into_iter().collect();
    if !entities.is_empty() {
        entities.push(("(all)".into(), e.entities_total));
    }
    section(
        &mut out,
        "Brands, competitors and customers",
        counts_table(&entities, "Entity"),
    )?;
    let intents: Vec<(String, Counts)> = e.intents.clone().into_iter().collect();
    section(&mut out, "Intents", counts_table(&intents, "Intent"))?;
    let sentiment = (e.sentiment.0 > 0).then(|| {
        let mut t = table(&["Labelled", "Found", "Posts"], 2);
        for ((want, found), n) in &e.confusion {
            t.add_row(vec![want.clone(), found.clone(), n.to_string()]);
        }
        t
    });
    section(
        &mut out,
        &format!(
            "Sentiment: {} of {} right ({:.1} %)",
            e.sentiment.1,
            e.sentiment.0,
            e.sentiment_accuracy() * 100.0
        ),
        sentiment,
    )?;
    let shown = (!e.misses.is_empty()).then(|| {
        let mut t = table(&["Post", "What", "How", "Why"], 99);
        for m in e.misses.iter().take(misses) {
            t.add_row(vec![
                m.post_id.clone(),
                m.what.clone(),
                m.how.clone(),
                m.why.clone(),
            ]);
        }
        t
    });
    section(
        &mut out,
        &format!(
            "Misses ({} in all, {} shown)",
            e.misses.len(),
            e.misses.len().min(misses)
        ),
        shown,
    )?;
    Ok(())
}
