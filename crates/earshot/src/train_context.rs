//! `earshot train-context`: trains the context model (see
//! `earshot_match::context`) from labels files, the console's "wrong match"
//! feedback and stored posts (`--store`), and posts files, and writes it
//! where the config's `[matcher] context_model` points (or `--out`), by
//! rename, so a running `earshot match` or `run --follow` reloads it whole.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::{DateTime, Utc};
use earshot_match::context::train::Trainer;
use earshot_match::context::{usable, ModelFile};
use earshot_match::eval::parse_labelled;
use earshot_model::Post;
use earshot_sink::training::{StoredPost, TrainingStore};

use crate::config::Config;
use crate::report::{section, table};

/// Where posts come from, and where the model goes.
#[derive(Debug, clap::Args)]
pub struct TrainArgs {
    /// JSON Lines of posts (the input shape of `earshot score`); the
    /// watchlist's rules say which are about an ambiguous brand.
    #[arg(long)]
    pub posts: Vec<PathBuf>,
    /// Labelled posts (the `earshot eval` format); labels win over rules.
    #[arg(long)]
    pub labels: Vec<PathBuf>,
    /// Also read the store (`[sink]`): the posts stored in the window and
    /// every match marked wrong in the console.
    #[arg(long)]
    pub store: bool,
    /// With `--store`: the window of stored posts, ending now.
    #[arg(long, default_value = "30d", value_parser = crate::parse_duration)]
    pub since: std::time::Duration,
    /// Where to write the model (default: `[matcher] context_model`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Keep a word only when it appears in at least this many training posts.
    #[arg(long, default_value_t = 2)]
    pub min_posts: u64,
}

/// Posts read from the store per query.
const PAGE: u32 = 5_000;

/// Trains and writes the model, then prints what each brand learned from.
pub async fn run(config: &Config, args: &TrainArgs, mut out: impl Write) -> anyhow::Result<()> {
    let target = match (&args.out, &config.matcher.context_model) {
        (Some(p), _) => p.clone(),
        (None, Some(p)) => config.base.clone().unwrap_or_default().join(p),
        (None, None) => anyhow::bail!(
            "nowhere to write the model: give --out, or set `[matcher] context_model` in {}",
            config.name
        ),
    };
    if args.posts.is_empty() && args.labels.is_empty() && !args.store {
        anyhow::bail!("nothing to train from: give --posts, --labels or --store");
    }
    // The model must not label its own training posts: compile the rules alone.
    let mut rules = config.clone();
    rules.matcher.context_model = None;
    let matcher = rules.matcher()?;
    let mut trainer = Trainer::new(&matcher);

    for path in &args.labels {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read labels file {}", path.display()))?;
        let posts =
            parse_labelled(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        for l in &posts {
            trainer.add_labelled(l);
        }
    }
    if args.store {
        let store = TrainingStore::open(&config.sink).await?;
        for (post, brand) in store.wrong_matches().await? {
            trainer.add_wrong(&to_post(post), &brand);
        }
        let until = Utc::now();
        let since = chrono::Duration::from_std(args.since)
            .ok()
            .and_then(|l| until.checked_sub_signed(l))
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        let mut after = String::new();
        loop {
            let page = store.posts(since, until, &after, PAGE).await?;
            let Some(last) = page.last() else { break };
            after = last.post_id.clone();
            let full = page.len() == PAGE as usize;
            for p in page {
                trainer.add_post(&to_post(p));
            }
            if !full {
                break;
            }
        }
    }
    for path in &args.posts {
        read_posts(path, |p| trainer.add_post(&p))?;
    }

    let tally = trainer.tally.clone();
    let model = trainer.finish(args.min_posts);
    write_atomically(&target, model.to_json().as_bytes())?;
    writeln!(out, "Context model written to {}", target.display())?;
    report(&model, &tally, &mut out)
}

fn report(
    model: &ModelFile,
    tally: &std::collections::BTreeMap<String, earshot_match::context::train::Tally>,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let rows = (!model.brands.is_empty()).then(|| {
        let mut t = table(
            &[
                "Brand",
                "About",
                "Not about",
                "From labels",
                "From feedback",
                "From rules",
                "Words",
                "Used",
            ],
            1,
        );
        for (id, c) in &model.brands {
            let n = tally.get(id).cloned().unwrap_or_default();
            let pair = |x: [u64; 2]| format!("{} / {}", x[0], x[1]);
            t.add_row(vec![
                id.clone(),
                c.about.to_string(),
                c.not_about.to_string(),
                pair(n.labels),
                pair(n.feedback),
                pair(n.rules),
                c.words.len().to_string(),
                match usable(c) {
                    Ok(()) => "yes".to_string(),
                    Err(e) => format!("no: {e}"),
                },
            ]);
        }
        t
    });
    section(
        out,
        "Brands with context (posts about / not about each)",
        rows,
    )?;
    Ok(())
}

/// Reads a JSON Lines posts file, line by line; a bad line is an error
/// naming the file and line.
fn read_posts(path: &Path, mut each: impl FnMut(Post)) -> anyhow::Result<()> {
    let file = std::fs::File::open(path)
        .with_context(|| format!("cannot read posts file {}", path.display()))?;
    for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.with_context(|| format!("{}:{}", path.display(), n + 1))?;
        if line.trim().is_empty() {
            continue;
        }
        let post = Post::from_json(line.as_bytes())
            .map_err(|e| anyhow::anyhow!("{}:{}: not a post: {e}", path.display(), n + 1))?;
        each(post);
    }
    Ok(())
}

fn to_post(p: StoredPost) -> Post {
    let mut post = Post::new(p.post_id, p.text);
    let some = |s: String| (!s.is_empty()).then_some(s);
    if !p.source.is_empty() {
        post.source = p.source;
    }
    post.url = some(p.url);
    post.title = some(p.title);
    post.lang = some(p.lang);
    post.author.handle = some(p.author_handle);
    post
}

/// Writes beside the target, then renames over it: a reader (the config
/// reload) sees the old file or the new one, never half of one.
fn write_atomically(target: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = target
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = target
        .file_name()
        .with_context(|| format!("{}: not a file name", target.display()))?;
    let tmp = dir.join(format!(".{}.tmp", name.to_string_lossy()));
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, target)
        .with_context(|| format!("cannot rename {} to {}", tmp.display(), target.display()))?;
    Ok(())
}
