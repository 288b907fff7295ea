//! The `[matcher]` config section and its compilation into a [`Matcher`].

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use earshot_model::{Intent, Route};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::customers::{parse_customers, Customer};
use crate::error::{from_toml, locate_quoted, ConfigError};
use crate::intent::{intent_names, parse_intents, IntentRule};
use crate::lexicon::{Lexicon, LexiconFormat};
use crate::matcher::{Build, Matcher};
use crate::noise::NoiseConfig;
use crate::route::{parse_routes, Routes};
use crate::sentiment::{Analyzer, SentimentConfig};
use crate::watchlist::{parse_brands, ParsedBrand};

/// `[matcher]` section of earshot.toml; paths are relative to the config file's directory.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatcherConfig {
    /// Brand watchlists (TOML files of `[[brand]]`).
    #[serde(default)]
    pub brands: Vec<PathBuf>,
    /// CRM exports (`.csv` or `.jsonl`).
    #[serde(default)]
    pub customers: Vec<PathBuf>,
    /// CSV header names of the CRM export mapped onto Earshot's column roles
    /// (`id`, `name`, `tier`, `domains`, `owner`, `aliases`, `handle_<network>`),
    /// for exports whose names are not recognised: `{ "Acct Mgr" = "owner" }`.
    #[serde(default)]
    pub customer_columns: BTreeMap<String, String>,
    /// Manual links of handles to accounts of the export (CSV files with
    /// `customer`, `network` and `handle` columns), for handles it lacks.
    #[serde(default)]
    pub customer_links: Vec<PathBuf>,
    /// Sentiment lexicons, in order (later entries override earlier ones).
    #[serde(default)]
    pub lexicons: Vec<LexiconRef>,
    /// Per-brand sentiment overrides (TOML files of `[[ruleset]]`).
    #[serde(default)]
    pub rulesets: Vec<PathBuf>,
    /// Intent rules (TOML file of `[[intent]]`).
    #[serde(default)]
    pub intents: Option<PathBuf>,
    /// Routing rules (TOML file of `[[rule]]` and `[[boost]]`).
    #[serde(default)]
    pub routes: Option<PathBuf>,
    /// Match `café` as `cafe` (accents removed on both sides).
    #[serde(default = "yes")]
    pub fold_accents: bool,
    /// Detect the language of posts that do not state one.
    #[serde(default = "yes")]
    pub detect_language: bool,
    /// Which detector (`fast` or `thorough`); see [`crate::lang::LanguageDetector`].
    #[serde(default)]
    pub language_detector: crate::lang::LanguageDetector,
    /// Only this many bytes of a post's text (title and body) are matched
    /// and scored; a longer post is scored by its opening and flagged
    /// `truncated` on its interaction.
    #[serde(default = "default_max_text_bytes")]
    pub max_text_bytes: usize,
    /// Tunable sentiment rules.
    #[serde(default)]
    pub sentiment: SentimentConfig,
    /// Near-duplicate clustering and bot-like author flags.
    #[serde(default)]
    pub noise: NoiseConfig,
    /// The learned context model (`earshot train-context` writes it): it
    /// decides bare names of brands with `context` when the post holds no
    /// context word.
    #[serde(default)]
    pub context_model: Option<PathBuf>,
    /// The context model's probability from which a bare name counts
    /// (brands may set their own `context_threshold`).
    #[serde(default = "default_context_threshold")]
    pub context_threshold: f64,
}

fn default_context_threshold() -> f64 {
    0.5
}

fn yes() -> bool {
    true
}

fn default_max_text_bytes() -> usize {
    64 * 1024
}

impl Default for MatcherConfig {
    fn default() -> Self {
        MatcherConfig {
            brands: Vec::new(),
            customers: Vec::new(),
            customer_columns: BTreeMap::new(),
            customer_links: Vec::new(),
            lexicons: Vec::new(),
            rulesets: Vec::new(),
            intents: None,
            routes: None,
            fold_accents: true,
            detect_language: true,
            language_detector: Default::default(),
            max_text_bytes: default_max_text_bytes(),
            sentiment: SentimentConfig::default(),
            noise: NoiseConfig::default(),
            context_model: None,
            context_threshold: default_context_threshold(),
        }
    }
}

/// A lexicon file and how to read it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LexiconRef {
    /// The file.
    pub path: PathBuf,
    /// Its format (`vader`, `afinn`, `vader_emoji`).
    #[serde(default)]
    pub format: LexiconFormat,
    /// Only for posts in this language (ISO 639-1); all posts when absent.
    pub lang: Option<String>,
}

/// Where config files come from (the binary passes a filesystem reader; tests pass a map).
pub trait FileSource {
    /// Reads a whole file as text.
    fn read(&self, path: &Path) -> std::io::Result<String>;
}

/// Files held in memory, for tests, benchmarks and embedded configs.
#[derive(Debug, Clone, Default)]
pub struct MemorySource(pub HashMap<PathBuf, String>);

impl MemorySource {
    /// Adds a file.
    pub fn with(mut self, path: impl Into<PathBuf>, text: impl Into<String>) -> Self {
        self.0.insert(path.into(), text.into());
        self
    }
}

impl FileSource for MemorySource {
    fn read(&self, path: &Path) -> std::io::Result<String> {
        self.0
            .get(path)
            .cloned()
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"))
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesetsFile {
    #[serde(default)]
    ruleset: Vec<RulesetDef>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesetDef {
    name: String,
    brands: Vec<String>,
    terms: BTreeMap<String, f32>,
}

/// Most bad lines reported per lexicon file, so a wrong format does not
/// bury the other errors.
const MAX_LEXICON_ERRORS: usize = 5;

/// The intents and routes a configuration produces: the names of its
/// `intents.toml` rules, and of its `routes.toml` rules plus `none`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Labels {
    /// Intents, in the order of their first rule.
    pub intents: Vec<Intent>,
    /// Routes, in the order of their first rule, `none` last.
    pub routes: Vec<Route>,
}

impl Labels {
    /// The problem with `name` as one of the configured intents, if any.
    pub fn check_intent(&self, name: &str) -> Option<String> {
        check_name::<Intent>(name, &self.intents, "intent", "intents.toml")
    }

    /// The problem with `name` as one of the configured routes, if any.
    pub fn check_route(&self, name: &str) -> Option<String> {
        check_name::<Route>(name, &self.routes, "route", "routes.toml")
    }
}

/// A file's text, or `None` with the problem added to `errors`.
fn read_file(files: &dyn FileSource, path: &Path, errors: &mut Vec<ConfigError>) -> Option<String> {
    match files.read(path) {
        Ok(t) => Some(t),
        Err(e) => {
            errors.push(ConfigError::new(
                path.display().to_string(),
                "",
                format!("cannot read: {e}"),
            ));
            None
        }
    }
}

fn check_name<T>(name: &str, known: &[T], what: &str, file: &str) -> Option<String>
where
    T: std::str::FromStr<Err = earshot_model::NameError> + PartialEq + std::fmt::Display,
{
    match name.parse::<T>() {
        Err(e) => Some(e.to_string()),
        Ok(n) if known.contains(&n) => None,
        Ok(_) => Some(format!(
            "`{name}`: no rule of {file} produces this {what}; expected one of: {}",
            crate::route::join(known)
        )),
    }
}

impl MatcherConfig {
    /// The intents and routes the intents and routes files define (reading
    /// only those two files), or their problems.
    pub fn labels(&self, files: &dyn FileSource) -> Result<Labels, Vec<ConfigError>> {
        let mut errors = Vec::new();
        let mut read = |path: &Path, errors: &mut Vec<ConfigError>| read_file(files, path, errors);
        let (intents, routes) = self.parse_labels(&mut read, &mut errors);
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Labels {
            intents: intent_names(&intents),
            routes: routes.names(),
        })
    }

    /// Parses the intents and routes files, and checks that every intent a
    /// route condition names is one an intent rule produces.
    fn parse_labels(
        &self,
        read: &mut dyn FnMut(&Path, &mut Vec<ConfigError>) -> Option<String>,
        errors: &mut Vec<ConfigError>,
    ) -> (Vec<IntentRule>, Routes) {
        let mut intents: Vec<IntentRule> = Vec::new();
        let mut intents_ok = true;
        if let Some(path) = &self.intents {
            match read(path, errors) {
                Some(text) => {
                    let (parsed, errs) = parse_intents(&path.display().to_string(), &text);
                    intents_ok = errs.is_empty();
                    intents = parsed;
                    errors.extend(errs);
                }
                None => intents_ok = false,
            }
        }
        let mut routes = Routes::default();
        if let Some(path) = &self.routes {
            if let Some(text) = read(path, errors) {
                let file = path.display().to_string();
                let (mut parsed, errs) = parse_routes(&file, &text);
                errors.extend(errs);
                // Only against a whole intents file: a broken one is
                // reported already, and its rules are not all known.
                if intents_ok {
                    errors.extend(parsed.resolve_intents(&file, &intent_names(&intents)));
                }
                routes = parsed;
            }
        }
        (intents, routes)
    }

    /// Reads and compiles every file; returns every problem found, not only the first.
    pub fn compile(&self, files: &dyn FileSource) -> Result<Matcher, Vec<ConfigError>> {
        let mut errors = Vec::new();
        let mut hash = Sha256::new();
        hash.update(format!("{self:?}").as_bytes());
        let mut read = |path: &Path, errors: &mut Vec<ConfigError>| -> Option<String> {
            let t = read_file(files, path, errors)?;
            hash.update(path.to_string_lossy().as_bytes());
            hash.update([0]);
            hash.update(t.as_bytes());
            hash.update([0]);
            Some(t)
        };

        let mut brands: Vec<ParsedBrand> = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        for path in &self.brands {
            let Some(text) = read(path, &mut errors) else {
                continue;
            };
            let file = path.display().to_string();
            let (parsed, errs) = parse_brands(&file, &text);
            errors.extend(errs);
            for b in parsed {
                if !seen.insert(b.def.id.clone()) {
                    let at = locate_quoted(&text, &b.def.id, 0).unwrap_or(0);
                    errors.push(
                        ConfigError::new(
                            &file,
                            format!("brand {}", b.def.id),
                            "duplicate brand id: expected each id once across all brand files",
                        )
                        .at_offset(&text, at),
                    );
                    continue;
                }
                brands.push(b);
            }
        }

        let mut customers: Vec<Customer> = Vec::new();
        let mut notices: Vec<ConfigError> = Vec::new();
        let mut seen_customers: HashSet<String> = HashSet::new();
        for path in &self.customers {
            let Some(text) = read(path, &mut errors) else {
                continue;
            };
            let file = path.display().to_string();
            let parsed = parse_customers(&file, &text, &self.customer_columns);
            errors.extend(parsed.errors);
            notices.extend(parsed.notices);
            for c in parsed.customers {
                if seen_customers.insert(c.id.clone()) {
                    customers.push(c);
                } else {
                    errors.push(ConfigError::new(
                        &file,
                        format!("customer {}", c.id),
                        "duplicate customer id",
                    ));
                }
            }
        }

        for path in &self.customer_links {
            if let Some(text) = read(path, &mut errors) {
                crate::links::apply_links(
                    &path.display().to_string(),
                    &text,
                    &mut customers,
                    &mut errors,
                );
            }
        }

        let mut main_lexicon = Lexicon::default();
        let mut by_lang: Vec<(String, Lexicon)> = Vec::new();
        for lex in &self.lexicons {
            let Some(text) = read(&lex.path, &mut errors) else {
                continue;
            };
            let file = lex.path.display().to_string();
            let target = match &lex.lang {
                None => &mut main_lexicon,
                Some(l) => {
                    if let Some(i) = by_lang.iter().position(|(x, _)| x == l) {
                        &mut by_lang[i].1
                    } else {
                        by_lang.push((l.clone(), Lexicon::default()));
                        &mut by_lang.last_mut().expect("just pushed").1
                    }
                }
            };
            let bad = target.load(&text, lex.format);
            let total = bad.len();
            for (line, msg) in bad.into_iter().take(MAX_LEXICON_ERRORS) {
                let mut e = ConfigError::new(&file, "lexicon", msg);
                e.line = Some(line);
                errors.push(e);
            }
            if total > MAX_LEXICON_ERRORS {
                errors.push(ConfigError::new(
                    &file,
                    "lexicon",
                    format!(
                        "{} more bad lines: is `format` right?",
                        total - MAX_LEXICON_ERRORS
                    ),
                ));
            }
        }
        main_lexicon.resolve_emoji();
        for (_, l) in &mut by_lang {
            l.resolve_emoji();
        }
        let mut analyzer = Analyzer::new(main_lexicon);
        analyzer.by_lang = by_lang;
        analyzer.configure(self.sentiment);
        if let Some(t) = self.sentiment.hybrid_neutral_threshold {
            if !(0.0..1.0).contains(&t) {
                errors.push(ConfigError::new(
                    "[matcher.sentiment]",
                    "hybrid_neutral_threshold",
                    "expected a number from 0 to below 1",
                ));
            }
        }
        if !(0.0..1.0).contains(&self.sentiment.neutral_threshold) {
            errors.push(ConfigError::new(
                "[matcher.sentiment]",
                "neutral_threshold",
                "expected a number from 0 to below 1",
            ));
        }

        let mut overrides: Vec<(Vec<String>, Lexicon)> = Vec::new();
        for path in &self.rulesets {
            let Some(text) = read(path, &mut errors) else {
                continue;
            };
            let file = path.display().to_string();
            match toml::from_str::<RulesetsFile>(&text) {
                Err(e) => errors.push(from_toml(&file, &text, &e)),
                Ok(rs) => {
                    for r in rs.ruleset {
                        for b in &r.brands {
                            if !seen.contains(b) {
                                let at = locate_quoted(&text, b, 0).unwrap_or(0);
                                errors.push(
                                    ConfigError::new(&file, format!("ruleset {}", r.name), format!("unknown brand `{b}`: expected a brand id from the watchlists"))
                                        .at_offset(&text, at),
                                );
                            }
                        }
                        let mut lex = Lexicon::default();
                        for (term, v) in &r.terms {
                            lex.insert(term, *v);
                        }
                        overrides.push((r.brands, lex));
                    }
                }
            }
        }

        let (intents, routes) = self.parse_labels(&mut read, &mut errors);
        if let Some(path) = &self.routes {
            let file = path.display().to_string();
            let brand_ids: HashSet<&str> = brands.iter().map(|b| b.def.id.as_str()).collect();
            let customer_ids: HashSet<&str> = customers.iter().map(|c| c.id.as_str()).collect();
            errors.extend(routes.check_ids(&file, &brand_ids, &customer_ids));
        }
        errors.extend(self.noise.validate());
        if !(self.context_threshold > 0.0 && self.context_threshold < 1.0) {
            errors.push(ConfigError::new(
                "[matcher]",
                "context_threshold",
                format!(
                    "{}: expected a probability above 0 and below 1",
                    self.context_threshold
                ),
            ));
        }
        let mut context_model = None;
        if let Some(path) = &self.context_model {
            if let Some(text) = read(path, &mut errors) {
                let file = path.display().to_string();
                match crate::context::ModelFile::parse(&text) {
                    Ok(m) => {
                        for id in m.brands.keys().filter(|id| !seen.contains(*id)) {
                            notices.push(ConfigError::new(
                                &file,
                                format!("brand {id}"),
                                "in the context model but in no watchlist: ignored",
                            ));
                        }
                        context_model = Some((file, m));
                    }
                    Err(e) => errors.push(ConfigError::new(&file, "context model", e)),
                }
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let version = hash
            .finalize()
            .iter()
            .take(8)
            .map(|b| format!("{b:02x}"))
            .collect::<String>();
        Matcher::build(Build {
            fold_accents: self.fold_accents,
            detect_language: self.detect_language.then_some(self.language_detector),
            max_text_bytes: self.max_text_bytes,
            noise: self.noise,
            brands,
            customers,
            analyzer,
            overrides,
            intents,
            routes,
            version,
            notices,
            context_model,
            context_threshold: self.context_threshold,
        })
        .map_err(|e| vec![ConfigError::new("", "", e)])
    }
}
