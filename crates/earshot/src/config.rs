//! Loading `earshot.toml` in two stages: the raw TOML (every section's own
//! serde struct, unknown keys refused), then validation of every section with
//! every problem reported at once, naming the file and the key.

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::Context;
use earshot_match::{FileSource, Matcher, MatcherConfig};
use earshot_sink::SinkConfig;
use earshot_transport::TransportConfig;
use serde::Deserialize;

use crate::bundled;
use crate::ops::OpsConfig;
use earshot_scorer::MatchStageConfig;

/// The whole configuration, parsed (not yet validated).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    /// `[matcher]`: watchlists, lexicons, intents, routes. Absent: the bundled example.
    #[serde(default)]
    matcher: Option<MatcherConfig>,
    /// `[transport]`: Kafka, or the in-memory bus when absent.
    #[serde(default)]
    transport: TransportConfig,
    /// `[match]`: the match daemon.
    #[serde(default, rename = "match")]
    match_stage: MatchStageConfig,
    /// `[sink]`: where interactions are stored.
    #[serde(default)]
    sink: SinkConfig,
    /// `[cursors]`: the connectors' durable cursor store.
    #[serde(default)]
    cursors: earshot_connect::CursorConfig,
    /// `[connect]`: limits shared by every connector.
    #[serde(default)]
    connect: earshot_connect::ConnectSettings,
    /// `[[connectors]]`: one entry per source instance.
    #[serde(default)]
    connectors: Vec<earshot_connect::ConnectorConfig>,
    /// `[alert]`: rules and channels of `earshot alert`.
    #[serde(default)]
    alert: earshot_alert::AlertConfig,
    /// `[cases]`: interactions sent to the CRM as cases.
    #[serde(default)]
    cases: earshot_cases::CasesConfig,
    /// `[ops]`: the metrics and health endpoints.
    #[serde(default)]
    ops: OpsConfig,
    /// `[console]`: the web console and its API.
    #[serde(default)]
    console: earshot_console::ConsoleConfig,
}

/// A loaded configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was loaded from; `None` for the bundled config.
    pub path: Option<PathBuf>,
    /// Name shown in messages: the file's path, or `<bundled>/earshot.toml`.
    pub name: String,
    /// Directory that relative paths in the file are resolved against; `None` for the bundled config.
    pub base: Option<PathBuf>,
    /// `[matcher]` (the bundled example when the file has none).
    pub matcher: MatcherConfig,
    matcher_bundled: bool,
    /// `[transport]`, with environment overrides applied.
    pub transport: TransportConfig,
    /// `[match]`.
    pub match_stage: MatchStageConfig,
    /// `[sink]`, with environment overrides applied.
    pub sink: SinkConfig,
    /// `[cursors]` and `[[connectors]]`.
    pub connect: earshot_connect::ConnectConfig,
    /// `[alert]`.
    pub alert: earshot_alert::AlertConfig,
    /// `[cases]`.
    pub cases: earshot_cases::CasesConfig,
    /// `[ops]`.
    pub ops: OpsConfig,
    /// `[console]`.
    pub console: earshot_console::ConsoleConfig,
}

/// Every problem found in a configuration.
#[derive(Debug)]
pub struct ConfigErrors(pub Vec<String>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} configuration problem(s):", self.0.len())?;
        for e in &self.0 {
            writeln!(f, "  {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// Reads config-relative files from disk, or from the bundled copies.
pub struct ConfigFiles {
    base: Option<PathBuf>,
}

/// A [`FileSource`] that remembers what was read.
struct RecordingFiles<'a> {
    inner: &'a dyn FileSource,
    read: std::cell::RefCell<Vec<PathBuf>>,
}

impl FileSource for RecordingFiles<'_> {
    fn read(&self, path: &Path) -> std::io::Result<String> {
        self.read.borrow_mut().push(path.to_path_buf());
        self.inner.read(path)
    }
}

impl FileSource for ConfigFiles {
    fn read(&self, path: &Path) -> std::io::Result<String> {
        match &self.base {
            Some(base) => std::fs::read_to_string(base.join(path)),
            None => bundled::read(path),
        }
    }
}

/// Parses the file at `path` (or the bundled default) and applies environment
/// overrides. Syntax errors and unknown keys fail here; [`Config::validate`]
/// finds the rest.
pub fn load(path: Option<&Path>) -> anyhow::Result<Config> {
    let (name, base, text) = match path {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read config file {}", p.display()))?;
            let base = p.parent().map(Path::to_path_buf).unwrap_or_default();
            (p.display().to_string(), Some(base), text)
        }
        None => (
            "<bundled>/earshot.toml".to_string(),
            None,
            bundled::EARSHOT_TOML.to_string(),
        ),
    };
    let raw: RawConfig = toml::from_str(&text)
        .map_err(|e| ConfigErrors(vec![format!("{name}: {}", e.to_string().trim_end())]))?;
    let mut transport = raw.transport;
    transport.apply_env();
    let mut sink = raw.sink;
    sink.apply_env();
    let (matcher, matcher_bundled) = match raw.matcher {
        Some(m) => (m, false),
        None => (bundled_matcher_config(), true),
    };
    Ok(Config {
        path: path.map(Path::to_path_buf),
        name,
        base,
        matcher,
        matcher_bundled,
        transport,
        match_stage: raw.match_stage,
        sink,
        connect: earshot_connect::ConnectConfig {
            cursors: raw.cursors,
            connect: raw.connect,
            connectors: raw.connectors,
        },
        alert: raw.alert,
        cases: raw.cases,
        ops: raw.ops,
        console: raw.console,
    })
}

fn bundled_matcher_config() -> MatcherConfig {
    #[derive(Deserialize)]
    struct OnlyMatcher {
        matcher: MatcherConfig,
    }
    let only: OnlyMatcher = toml::from_str(bundled::EARSHOT_TOML)
        .expect("the bundled config has a valid [matcher] section");
    only.matcher
}

impl Config {
    /// Where the matcher's files are read from.
    pub fn files(&self) -> ConfigFiles {
        ConfigFiles {
            base: if self.matcher_bundled {
                None
            } else {
                self.base.clone()
            },
        }
    }

    /// Compiles the watchlists, naming every problem.
    pub fn matcher(&self) -> Result<Matcher, ConfigErrors> {
        self.compile_from(&self.files())
    }

    /// Compiles the watchlists and lists the files on disk they came from
    /// (the config file first), which a live reload watches. Empty for the
    /// bundled config.
    pub fn matcher_and_files(&self) -> Result<(Matcher, Vec<PathBuf>), ConfigErrors> {
        let files = self.files();
        let recording = RecordingFiles {
            inner: &files,
            read: Default::default(),
        };
        let matcher = self.compile_from(&recording)?;
        let mut paths: Vec<PathBuf> = self.path.iter().cloned().collect();
        if let Some(base) = &files.base {
            paths.extend(recording.read.into_inner().iter().map(|p| base.join(p)));
        }
        paths.dedup();
        Ok((matcher, paths))
    }

    fn compile_from(&self, files: &dyn FileSource) -> Result<Matcher, ConfigErrors> {
        let base = self.files().base;
        self.matcher.compile(files).map_err(|errors| {
            let shown = errors.into_iter().map(|mut e| {
                // Show where the file was looked for, and which config named it.
                if let Some(base) = base.as_ref().filter(|b| !b.as_os_str().is_empty()) {
                    e.file = base.join(&e.file).display().to_string();
                }
                format!("{}: [matcher]: {e}", self.name)
            });
            ConfigErrors(shown.collect())
        })
    }

    /// Checks every section except the matcher (see [`Config::matcher`]),
    /// returning each problem as `file: key: message`.
    pub fn validate(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let sections = [
            self.transport.validate(),
            self.match_stage.validate(),
            self.sink.validate(),
            self.connect.validate(),
            self.alert.validate(),
            self.cases.validate(),
            self.ops.validate(),
            self.console.validate(),
        ];
        for (key, message) in sections.into_iter().flatten() {
            problems.push(format!("{}: {key}: {message}", self.name));
        }
        problems.extend(self.label_problems());
        if self.connect.connect.cursors == earshot_connect::share::CursorsKind::Kafka
            && self.transport.kafka.is_none()
        {
            problems.push(format!(
                "{}: connect.cursors: \"kafka\" needs [transport.kafka] (or EARSHOT_KAFKA_BROKERS); \
                 the embedded mode keeps its cursors in SQLite",
                self.name
            ));
        }
        problems
    }

    /// Intents and routes other sections name that the matcher's intents
    /// and routes files do not produce: a filter on a name no rule
    /// produces would silently match nothing. (Problems in those files
    /// themselves are the matcher's to report.) The default
    /// `[alert] pr_risk_intents` is not checked: with other intents it
    /// just counts nothing.
    fn label_problems(&self) -> Vec<String> {
        let Ok(labels) = self.matcher.labels(&self.files()) else {
            return Vec::new();
        };
        let mut problems = Vec::new();
        let mut check = |key: &str, names: &[String], intents: bool| {
            for (i, n) in names.iter().enumerate() {
                let problem = if intents {
                    labels.check_intent(n)
                } else {
                    labels.check_route(n)
                };
                if let Some(p) = problem {
                    problems.push(format!("{}: {key}[{i}]: {p}", self.name));
                }
            }
        };
        if self.alert.pr_risk_intents != earshot_alert::AlertConfig::default().pr_risk_intents {
            check("alert.pr_risk_intents", &self.alert.pr_risk_intents, true);
        }
        check("cases.routes", &self.cases.routes, false);
        check("cases.intents", &self.cases.intents, true);
        problems
    }

    /// Validates, returning an error listing every problem.
    pub fn validated(self) -> Result<Config, ConfigErrors> {
        let problems = self.validate();
        if problems.is_empty() {
            Ok(self)
        } else {
            Err(ConfigErrors(problems))
        }
    }
}
