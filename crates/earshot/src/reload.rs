//! Live configuration: the matcher's files (the config file, watchlists,
//! lexicons, intents, routes, customers) are recompiled on SIGHUP and when
//! any of them changes on disk, and swapped in atomically. Posts in flight
//! finish with the matcher they started with. A change with problems is
//! refused, each problem logged, and the running matcher stays.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use earshot_match::SharedMatcher;
use notify::RecursiveMode;
use tokio_util::sync::CancellationToken;

use crate::config::Config;

/// How long the files must stay quiet before a reload: editors write a file
/// in several steps (truncate, write, rename), and a reload between two of
/// them would compile half a file.
pub const DEBOUNCE: Duration = Duration::from_millis(400);

/// What one reload did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A new matcher is in use; these are the files it was read from.
    Applied(Vec<PathBuf>),
    /// The files compile to the matcher already running.
    Unchanged(Vec<PathBuf>),
    /// The change had problems (logged); the running matcher stays.
    Refused,
}

/// What a reload rebuilds from the freshly loaded, validated config.
pub trait Target: Send + Sync + 'static {
    /// Builds from `config` and swaps in when it differs from what runs.
    /// `Err` lists every problem; nothing is swapped then.
    fn apply(&self, config: Config, cause: &str) -> Result<Outcome, Vec<String>>;
}

/// The matcher: watchlists, customers, lexicons, intents and routes.
impl Target for Arc<SharedMatcher> {
    fn apply(&self, config: Config, cause: &str) -> Result<Outcome, Vec<String>> {
        let (m, files) = config.matcher_and_files().map_err(|e| e.0)?;
        if m.version() == self.load().version() {
            tracing::debug!(cause, version = m.version(), "config unchanged");
            return Ok(Outcome::Unchanged(files));
        }
        let version = m.version().to_string();
        let old = self.store(m);
        crate::ops::watchlist_loaded(Some(old.version()), &version);
        tracing::info!(
            cause,
            from = old.version(),
            to = version,
            "watchlists reloaded"
        );
        Ok(Outcome::Applied(files))
    }
}

/// Reloads `target` from the config at `path` on SIGHUP and whenever one of
/// `watched` changes, until `shutdown`. `watched` comes from
/// [`crate::config::Config::matcher_and_files`] and is refreshed after each
/// reload, so a watchlist added to the config is watched from then on.
pub async fn run(
    path: Option<PathBuf>,
    target: impl Target,
    watched: Vec<PathBuf>,
    shutdown: CancellationToken,
) {
    let target = Arc::new(target);
    let (tx, mut changes) = tokio::sync::mpsc::unbounded_channel();
    let mut watcher = match notify_debouncer_mini::new_debouncer(
        DEBOUNCE,
        move |events: notify_debouncer_mini::DebounceEventResult| {
            let _ = tx.send(events);
        },
    ) {
        Ok(w) => Some(w),
        Err(e) => {
            tracing::warn!(error = %e, "cannot watch config files; only SIGHUP reloads");
            None
        }
    };
    let mut files = Watched::default();
    if let Some(w) = watcher.as_mut() {
        files.update(w.watcher(), &watched);
    }
    let mut hup = sighup();
    loop {
        let cause = tokio::select! {
            _ = shutdown.cancelled() => return,
            Some(()) = recv(&mut hup) => "SIGHUP",
            Some(events) = changes.recv() => match events {
                Ok(events) if events.iter().any(|e| files.contains(&e.path)) => "file changed",
                Ok(_) => continue,
                Err(e) => {
                    tracing::warn!(error = %e, "config file watch error");
                    continue;
                }
            },
        };
        let (t, p) = (target.clone(), path.clone());
        // Compiling a large watchlist is CPU work: keep it off the workers
        // that move posts.
        let outcome = tokio::task::spawn_blocking(move || reload(p.as_deref(), &*t, cause))
            .await
            .unwrap_or(Outcome::Refused);
        if let (Outcome::Applied(now) | Outcome::Unchanged(now), Some(w)) =
            (&outcome, watcher.as_mut())
        {
            files.update(w.watcher(), now);
        }
    }
}

/// In daemons with nothing to reload, SIGHUP is logged rather than left to
/// its default action, which would end the process.
pub async fn ignore_sighup(daemon: &'static str, shutdown: CancellationToken) {
    let mut hup = sighup();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            Some(()) = recv(&mut hup) => tracing::info!(
                daemon,
                "SIGHUP: `earshot {daemon}` has nothing to reload; restart it to apply config changes"
            ),
        }
    }
}

/// One reload: loads and validates the config at `path` and hands it to
/// `target`, which swaps in what it builds when everything is valid and it
/// differs from what runs; otherwise each problem is logged and what runs
/// stays.
///
/// Whatever a watchlist contains must give an error here, not exhaust the
/// stack: the query parser's depth and size limits guarantee that.
pub fn reload(path: Option<&Path>, target: &dyn Target, cause: &str) -> Outcome {
    let outcome = crate::config::load(path)
        .map_err(|e| vec![format!("{e:#}")])
        .and_then(|c| c.validated().map_err(|e| e.0))
        .and_then(|c| target.apply(c, cause))
        .unwrap_or_else(|problems| {
            for p in &problems {
                tracing::error!(
                    cause,
                    problem = p.as_str(),
                    "reload refused; keeping the running configuration"
                );
            }
            Outcome::Refused
        });
    let label = match outcome {
        Outcome::Applied(_) => "applied",
        Outcome::Unchanged(_) => "unchanged",
        Outcome::Refused => "refused",
    };
    metrics::counter!("earshot_config_reloads_total", "outcome" => label).increment(1);
    metrics::gauge!("earshot_config_last_reload_successful").set(if label == "refused" {
        0.0
    } else {
        1.0
    });
    outcome
}

/// The files a reload depends on, watched through their directories: editors
/// and `mv` replace a file by renaming over it, which a watch on the old
/// file itself would miss.
#[derive(Default)]
struct Watched {
    files: HashSet<PathBuf>,
    dirs: HashSet<PathBuf>,
}

impl Watched {
    fn contains(&self, path: &Path) -> bool {
        self.files.contains(&absolute(path))
    }

    fn update(&mut self, watcher: &mut dyn notify::Watcher, files: &[PathBuf]) {
        self.files = files.iter().map(|f| absolute(f)).collect();
        let dirs: HashSet<PathBuf> = self
            .files
            .iter()
            .filter_map(|f| f.parent().map(Path::to_path_buf))
            .collect();
        for gone in self.dirs.difference(&dirs) {
            let _ = watcher.unwatch(gone);
        }
        for dir in dirs.difference(&self.dirs) {
            if let Err(e) = watcher.watch(dir, RecursiveMode::NonRecursive) {
                tracing::warn!(dir = %dir.display(), error = %e, "cannot watch config directory");
            }
        }
        self.dirs = dirs;
    }
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

#[cfg(unix)]
type Hangup = Option<tokio::signal::unix::Signal>;
#[cfg(not(unix))]
type Hangup = Option<()>;

fn sighup() -> Hangup {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        signal(SignalKind::hangup()).ok()
    }
    #[cfg(not(unix))]
    None
}

/// The next SIGHUP; pending forever where there are none.
async fn recv(hup: &mut Hangup) -> Option<()> {
    #[cfg(unix)]
    if let Some(h) = hup {
        return h.recv().await;
    }
    let _ = hup;
    std::future::pending().await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brand(query: &str) -> String {
        format!("[[brand]]\nid = \"acme\"\nname = \"Acme\"\nquery = '{query}'\n")
    }

    /// A reload of a watchlist nesting 2,000 parentheses or 100k chained
    /// NOTs is refused on a runtime worker thread (2 MiB stack) and the
    /// running watchlists stay.
    #[test]
    fn issue_12_reload_refuses_a_too_deep_watchlist_and_keeps_the_old_one() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("earshot.toml");
        let brands = dir.path().join("brands.toml");
        std::fs::write(&config, "[matcher]\nbrands = [\"brands.toml\"]\n").unwrap();
        std::fs::write(&brands, brand("acme AND refund")).unwrap();
        let first = crate::config::load(Some(&config))
            .unwrap()
            .matcher()
            .unwrap();
        let version = first.version().to_string();
        let shared = Arc::new(SharedMatcher::new(first));

        let deep = [
            format!("{}acme{}", "(".repeat(2_000), ")".repeat(2_000)),
            format!("acme AND {}refund", "NOT ".repeat(100_000)),
            format!("acme AND {}refund", "NOT ".repeat(10_000)),
        ];
        let rt = crate::daemon::runtime().unwrap();
        for query in deep {
            std::fs::write(&brands, brand(&query)).unwrap();
            let (path, m) = (config.clone(), shared.clone());
            let outcome = rt
                .block_on(rt.spawn(async move { reload(Some(&path), &m, "test") }))
                .unwrap();
            assert_eq!(outcome, Outcome::Refused);
            assert_eq!(shared.load().version(), version);
        }
        // A valid change is still taken, and names the files it read.
        std::fs::write(&brands, brand("acme AND (refund OR return)")).unwrap();
        let (path, m) = (config.clone(), shared.clone());
        let outcome = rt
            .block_on(rt.spawn(async move { reload(Some(&path), &m, "test") }))
            .unwrap();
        assert_eq!(
            outcome,
            Outcome::Applied(vec![config.clone(), brands.clone()])
        );
        assert_ne!(shared.load().version(), version);
        // The same files again: nothing to swap.
        assert_eq!(
            reload(Some(&config), &shared, "test"),
            Outcome::Unchanged(vec![config, brands])
        );
    }
}
