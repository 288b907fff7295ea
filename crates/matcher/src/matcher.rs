//! The compiled, immutable matcher and its per-post scoring.

use std::borrow::Cow;
use std::cell::{OnceCell, RefCell};
use std::collections::{HashMap, HashSet};

use chrono::Utc;
use earshot_model::{
    EntityKind, EntitySentiment, Intent, Interaction, Match, Post, SCHEMA_VERSION,
};

use crate::automaton::{Automaton, Hit, Mode, TermTable};
use crate::context::{BrandModel, Decision, ModelFile};
use crate::customers::Customer;
use crate::error::ConfigError;
use crate::intent::{asks_question, IntentRule};
use crate::lang::LanguageDetector;
use crate::lexicon::Lexicon;
use crate::noise::NoiseConfig;
use crate::normalize::{is_word_char, NormText, Normalizer};
use crate::query::{eval, Field, Hits, Query};
use crate::route::{RouteInput, Routes};
use crate::sentiment::{compound_of, Analyzer, Scratch as SentScratch};
use crate::watchlist::ParsedBrand;

mod evidence;
pub use evidence::Evidence;

/// What a term hit means.
#[derive(Debug, Clone, Copy)]
enum Use {
    Alias {
        brand: u32,
        rule: u32,
    },
    Context {
        brand: u32,
        /// Counts only in posts in this language (or of unknown language).
        lang: Option<[u8; 2]>,
    },
    /// A word that marks a bare name as not about the brand.
    NegContext {
        brand: u32,
    },
    Exclude {
        brand: u32,
    },
    Query(u32),
    Mention {
        customer: u32,
        rule: u32,
    },
    /// A brand's domain named in the text: counts without context.
    Domain {
        brand: u32,
        rule: u32,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owner {
    Brand(u32),
    Intent(u32),
}

#[derive(Debug)]
struct CompiledQuery {
    query: Query,
    text: String,
    owner: Owner,
    positive: Vec<u32>,
}

#[derive(Debug)]
struct Brand {
    id: String,
    kind: EntityKind,
    has_context: bool,
    /// The learned model deciding bare names without a context word.
    model: Option<BrandModel>,
    /// Words of its names and context terms, left out of the model's features.
    own_words: HashSet<String>,
    /// `NETWORK:HANDLE`, lowercase, without `@`.
    own_accounts: Vec<String>,
}

/// Everything the config compiler hands over.
pub(crate) struct Build {
    pub fold_accents: bool,
    pub detect_language: Option<LanguageDetector>,
    pub max_text_bytes: usize,
    pub noise: NoiseConfig,
    pub brands: Vec<ParsedBrand>,
    pub customers: Vec<Customer>,
    pub analyzer: Analyzer,
    pub overrides: Vec<(Vec<String>, Lexicon)>,
    pub intents: Vec<IntentRule>,
    pub routes: Routes,
    pub version: String,
    pub notices: Vec<ConfigError>,
    /// The context model file, its name and the default threshold.
    pub context_model: Option<(String, ModelFile)>,
    pub context_threshold: f64,
}

/// A compiled watchlist: immutable, cheap to share behind an `Arc`, and
/// swapped whole on reload (see [`crate::SharedMatcher`]).
#[derive(Debug)]
pub struct Matcher {
    automaton: Automaton,
    use_index: Vec<Use>,
    use_ranges: Vec<(u32, u32)>,
    rules: Vec<String>,
    brands: Vec<Brand>,
    customers: Vec<Customer>,
    authors: HashMap<(String, String), Vec<u32>>,
    /// Brand domains: `(brand, rule)` by domain.
    domains: HashMap<String, (u32, u32)>,
    queries: Vec<CompiledQuery>,
    intents: Vec<IntentRule>,
    /// The configured intents, indexed by [`IntentRule::order`].
    intent_names: Vec<Intent>,
    intent_query: Vec<Option<u32>>,
    routes: Routes,
    analyzer: Analyzer,
    overrides: Vec<(Vec<u32>, Lexicon)>,
    detect_language: Option<LanguageDetector>,
    max_text_bytes: usize,
    noise: NoiseConfig,
    version: String,
    notices: Vec<ConfigError>,
    /// Queries evaluated for every post (see `Builder::always`).
    always: Vec<u32>,
}

/// Sizes of a compiled matcher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    /// Distinct terms (pattern and matching mode).
    pub terms: usize,
    /// Distinct patterns in the automaton.
    pub patterns: usize,
    /// Brands and competitors.
    pub brands: usize,
    /// Customer accounts.
    pub customers: usize,
    /// Boolean queries (brands' and intents').
    pub queries: usize,
    /// Heap bytes of the automaton.
    pub automaton_bytes: usize,
}

struct Builder {
    table: TermTable,
    uses: Vec<Vec<Use>>,
    rules: Vec<String>,
    /// Queries no term triggers (a field filter alone in a branch):
    /// evaluated for every post.
    always: Vec<u32>,
}

impl Builder {
    fn term(&mut self, text: &str, mode: Mode, u: Option<Use>) -> Option<u32> {
        let id = self.table.add(text, mode)?;
        if self.uses.len() < self.table.len() {
            self.uses.resize(self.table.len(), Vec::new());
        }
        if let Some(u) = u {
            self.uses[id as usize].push(u);
        }
        Some(id)
    }

    /// Makes each query a candidate when one of its trigger terms hits:
    /// the cheapest set of terms one of which must hit, where a term costs
    /// the number of queries it appears in (shared words are common words).
    fn triggers(&mut self, queries: &[CompiledQuery]) {
        let mut cost: HashMap<u32, u64> = HashMap::new();
        for q in queries {
            for &t in &q.positive {
                *cost.entry(t).or_default() += 1;
            }
        }
        for (qid, q) in queries.iter().enumerate() {
            match q.query.trigger(&|t| cost.get(&t).copied().unwrap_or(0)) {
                Some(set) => {
                    for t in set.into_iter().filter(|&t| t != u32::MAX) {
                        self.uses[t as usize].push(Use::Query(qid as u32));
                    }
                }
                None => self.always.push(qid as u32),
            }
        }
    }

    fn rule(&mut self, text: String) -> u32 {
        self.rules.push(text);
        (self.rules.len() - 1) as u32
    }

    fn query(&mut self, mut query: Query, text: String, owner: Owner, stem: bool) -> CompiledQuery {
        let mut positive = Vec::new();
        query.terms_mut(false, &mut |t, negated| {
            let mode = if t.wildcard {
                Mode::Prefix
            } else if t.stem || (stem && !t.phrase) {
                Mode::Stem
            } else {
                Mode::Exact
            };
            // A term that normalizes to nothing can never hit.
            t.id = self.term(&t.text, mode, None).unwrap_or(u32::MAX);
            if !negated {
                positive.push(t.id);
            }
        });
        positive.sort_unstable();
        positive.dedup();
        CompiledQuery {
            query,
            text,
            owner,
            positive,
        }
    }
}

impl Matcher {
    pub(crate) fn build(b: Build) -> Result<Matcher, String> {
        let norm = Normalizer {
            fold_accents: b.fold_accents,
        };
        let mut bl = Builder {
            table: TermTable::new(norm),
            uses: Vec::new(),
            rules: Vec::new(),
            always: Vec::new(),
        };
        let mut brands = Vec::new();
        let mut notices = b.notices;
        let model_file = b.context_model.as_ref();
        // Brand domains by host, for posts whose URL is on one.
        let mut domains: HashMap<String, (u32, u32)> = HashMap::new();
        let mut queries = Vec::new();
        for (i, pb) in b.brands.into_iter().enumerate() {
            let i = i as u32;
            let def = &pb.def;
            let mode = if def.stem { Mode::Stem } else { Mode::Exact };
            for alias in def.alias_terms(pb.query.is_some()) {
                let rule = bl.rule(alias.clone());
                bl.term(&alias, mode, Some(Use::Alias { brand: i, rule }));
            }
            for d in &def.domains {
                let d = d.trim().to_ascii_lowercase();
                let rule = bl.rule(format!("domain:{d}"));
                bl.term(&d, Mode::Exact, Some(Use::Domain { brand: i, rule }));
                domains.insert(d, (i, rule));
            }
            for (c, lang) in def.context.terms() {
                let lang = lang.map(|l| {
                    let b = l.as_bytes();
                    [b[0], b[1]]
                });
                bl.term(c, mode, Some(Use::Context { brand: i, lang }));
            }
            for c in &def.negative_context {
                bl.term(c, mode, Some(Use::NegContext { brand: i }));
            }
            for x in &def.exclude {
                bl.term(x, Mode::Exact, Some(Use::Exclude { brand: i }));
            }
            if let (Some(q), Some(text)) = (pb.query, &def.query) {
                queries.push(bl.query(q, text.clone(), Owner::Brand(i), def.stem));
            }
            brands.push(Brand {
                id: def.id.clone(),
                kind: if def.competitor {
                    EntityKind::Competitor
                } else {
                    EntityKind::Brand
                },
                has_context: !def.context.is_empty(),
                model: crate::context::brand_model(
                    def,
                    model_file,
                    b.context_threshold,
                    &mut notices,
                ),
                own_words: crate::context::brand_own_words(&norm, def),
                own_accounts: def
                    .own_accounts
                    .iter()
                    .filter_map(|a| a.split_once(':'))
                    .map(|(n, h)| {
                        format!(
                            "{}:{}",
                            n.trim().to_lowercase(),
                            h.trim().trim_start_matches('@').to_lowercase()
                        )
                    })
                    .collect(),
            });
        }
        let mut authors: HashMap<(String, String), Vec<u32>> = HashMap::new();
        for (i, c) in b.customers.iter().enumerate() {
            let i = i as u32;
            let mention = |bl: &mut Builder, text: &str| {
                let rule = bl.rule(text.to_string());
                bl.term(text, Mode::Exact, Some(Use::Mention { customer: i, rule }));
            };
            mention(&mut bl, &c.name);
            for a in &c.aliases {
                mention(&mut bl, a);
            }
            for d in &c.domains {
                mention(&mut bl, d);
            }
            for (network, handles) in &c.handles {
                for h in handles {
                    mention(&mut bl, &format!("@{h}"));
                    authors
                        .entry((network.to_ascii_lowercase(), h.to_lowercase()))
                        .or_default()
                        .push(i);
                }
            }
        }
        let mut intent_query = Vec::new();
        let mut intents = b.intents;
        let intent_names = crate::intent::intent_names(&intents);
        for (i, rule) in intents.iter_mut().enumerate() {
            intent_query.push(rule.query.take().map(|q| {
                let qid = queries.len() as u32;
                let text = q.to_string();
                queries.push(bl.query(q, text, Owner::Intent(i as u32), false));
                qid
            }));
        }
        bl.triggers(&queries);
        let brand_ids: HashMap<&str, u32> = brands
            .iter()
            .enumerate()
            .map(|(i, b)| (b.id.as_str(), i as u32))
            .collect();
        let overrides = b
            .overrides
            .into_iter()
            .map(|(ids, lex)| {
                (
                    ids.iter()
                        .filter_map(|id| brand_ids.get(id.as_str()).copied())
                        .collect(),
                    lex,
                )
            })
            .collect();
        let mut use_index = Vec::new();
        let mut use_ranges = Vec::with_capacity(bl.uses.len());
        for u in &bl.uses {
            let s = use_index.len() as u32;
            use_index.extend_from_slice(u);
            use_ranges.push((s, use_index.len() as u32));
        }
        let automaton = bl.table.build()?;
        Ok(Matcher {
            automaton,
            use_index,
            use_ranges,
            rules: bl.rules,
            always: bl.always,
            brands,
            customers: b.customers,
            authors,
            domains,
            queries,
            intent_names,
            intents,
            intent_query,
            routes: b.routes,
            analyzer: b.analyzer,
            overrides,
            detect_language: b.detect_language,
            max_text_bytes: b.max_text_bytes,
            noise: b.noise,
            version: b.version,
            notices,
        })
    }

    /// What compiling found worth telling but not wrong (a CRM export's
    /// columns kept as attributes, say): `earshot check` prints them.
    pub fn notices(&self) -> &[ConfigError] {
        &self.notices
    }

    /// The handles the CRM export links to customer `id`, as
    /// `network:handle` (lowercase; `any` handles are left out).
    pub fn customer_handles(&self, id: &str) -> Vec<String> {
        self.customers
            .iter()
            .filter(|c| c.id == id)
            .flat_map(|c| {
                c.handles
                    .iter()
                    .filter(|(n, _)| n.as_str() != "any")
                    .flat_map(|(n, hs)| hs.iter().map(move |h| format!("{n}:{}", h.to_lowercase())))
            })
            .collect()
    }

    /// The accounts the CRM export links to the author `handle` on
    /// `network` (by that network's handles or `any`; compared without case
    /// or a leading `@`), in export order.
    pub fn customers_of_author(&self, network: &str, handle: &str) -> Vec<&Customer> {
        let handle = handle.trim_start_matches('@');
        self.customers
            .iter()
            .filter(|c| {
                c.handles.iter().any(|(n, hs)| {
                    (n == "any" || n.eq_ignore_ascii_case(network))
                        && hs.iter().any(|h| h.eq_ignore_ascii_case(handle))
                })
            })
            .collect()
    }

    /// Whether the export has customer `id`.
    pub fn has_customer(&self, id: &str) -> bool {
        self.customers.iter().any(|c| c.id == id)
    }

    /// Every brand's own accounts as `(brand id, "network:handle")`, handles
    /// lowercase without `@` (`[[brand]] own_accounts`).
    pub fn own_accounts(&self) -> Vec<(&str, &str)> {
        self.brands
            .iter()
            .flat_map(|b| b.own_accounts.iter().map(|a| (b.id.as_str(), a.as_str())))
            .collect()
    }

    /// The ids of the watchlist's brands and competitors, in watchlist order
    /// (what `earshot report --brand` accepts).
    pub fn brand_ids(&self) -> impl Iterator<Item = &str> {
        self.brands.iter().map(|b| b.id.as_str())
    }

    /// Content hash of the config and every file it read.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The intents and routes this matcher can produce.
    pub fn labels(&self) -> crate::Labels {
        crate::Labels {
            intents: self.intent_names.clone(),
            routes: self.routes.names(),
        }
    }

    /// Sizes, for logs and benchmarks.
    pub fn stats(&self) -> Stats {
        Stats {
            terms: self.use_ranges.len(),
            patterns: self.automaton.patterns(),
            brands: self.brands.len(),
            customers: self.customers.len(),
            queries: self.queries.len(),
            automaton_bytes: self.automaton.memory_usage(),
        }
    }

    /// The `[matcher.noise]` settings the match stage applies.
    pub fn noise(&self) -> &NoiseConfig {
        &self.noise
    }

    /// The sentiment analyzer (lexicons and rules) this matcher uses.
    pub fn analyzer(&self) -> &Analyzer {
        &self.analyzer
    }

    /// Scores one post: matches, sentiment, intents, route. Deterministic
    /// except for `scored_at`.
    pub fn score(&self, post: &Post) -> Interaction {
        SCRATCH.with(|cell| match cell.try_borrow_mut() {
            Ok(mut s) => self.score_with(post, &mut s),
            Err(_) => self.score_with(post, &mut Scratch::default()),
        })
    }

    /// Entity matches only (no sentiment, intents or routing): the part
    /// the throughput benchmark compares with a bare Aho-Corasick pass.
    pub fn find_matches(&self, post: &Post) -> Vec<Match> {
        let text = full_text(post);
        SCRATCH.with(|cell| {
            let mut fresh = Scratch::default();
            let mut guard = cell.try_borrow_mut();
            let s = match guard.as_deref_mut() {
                Ok(s) => s,
                Err(_) => &mut fresh,
            };
            self.match_entities(post, &text, post.lang.as_deref(), s);
            std::mem::take(&mut s.matches)
        })
    }

    fn match_entities(&self, post: &Post, text: &str, lang: Option<&str>, s: &mut Scratch) {
        self.automaton.norm.normalize_into(text, &mut s.norm);
        let stemmer = evidence::stemmer(lang);
        s.hits.clear();
        self.automaton
            .scan(&s.norm.text, stemmer.as_ref(), &mut s.hits);
        s.hits.sort_unstable();
        s.hits.dedup();

        s.matches.clear();
        s.aliases.clear();
        s.excludes.clear();
        s.context.clear();
        s.neg_context.clear();
        s.bare.clear();
        s.decisions.clear();
        s.cand.clear();
        s.intent_hits.clear();
        s.customer_hits.clear();
        for h in &s.hits {
            let (a, b) = self.use_ranges[h.term as usize];
            for u in &self.use_index[a as usize..b as usize] {
                match *u {
                    Use::Alias { brand, rule } => s.aliases.push((brand, rule, h.start, h.end)),
                    Use::Context { brand, lang: None } => s.context.push(brand),
                    Use::Context {
                        brand,
                        lang: Some(only),
                    } => {
                        if lang.is_none_or(|l| l.as_bytes() == only) {
                            s.context.push(brand)
                        }
                    }
                    Use::NegContext { brand } => s.neg_context.push(brand),
                    Use::Exclude { brand } => s.excludes.push((brand, h.start, h.end)),
                    Use::Query(q) => s.cand.push(q),
                    Use::Domain { brand, rule } => {
                        let b = &self.brands[brand as usize];
                        s.matches.push(Match {
                            kind: b.kind,
                            entity_id: b.id.clone(),
                            rule: self.rules[rule as usize].clone(),
                            span: Some(s.norm.span(h.start as usize, h.end as usize)),
                        });
                    }
                    Use::Mention { customer, rule } => {
                        s.customer_hits.push(customer);
                        s.matches.push(Match {
                            kind: EntityKind::Customer,
                            entity_id: self.customers[customer as usize].id.clone(),
                            rule: self.rules[rule as usize].clone(),
                            span: Some(s.norm.span(h.start as usize, h.end as usize)),
                        });
                    }
                }
            }
        }
        if !self.domains.is_empty() {
            // The URL's host, then each parent domain: `a.b.acme.com` finds `acme.com`.
            if let Some(h) = post.url.as_deref().and_then(host) {
                let mut rest = h.as_str();
                loop {
                    if let Some(&(brand, rule)) = self.domains.get(rest) {
                        let b = &self.brands[brand as usize];
                        s.matches.push(Match {
                            kind: b.kind,
                            entity_id: b.id.clone(),
                            rule: format!(
                                "site:{}",
                                self.rules[rule as usize].trim_start_matches("domain:")
                            ),
                            span: None,
                        });
                        break;
                    }
                    match rest.split_once('.') {
                        Some((_, parent)) if parent.contains('.') => rest = parent,
                        _ => break,
                    }
                }
            }
        }
        if let Some(handle) = post.author.handle.as_deref() {
            let handle = handle.trim_start_matches('@').to_lowercase();
            for network in [post.source.as_str(), "any"] {
                if let Some(ids) = self.authors.get(&(network.to_string(), handle.clone())) {
                    for &c in ids {
                        s.customer_hits.push(c);
                        s.matches.push(Match {
                            kind: EntityKind::Customer,
                            entity_id: self.customers[c as usize].id.clone(),
                            rule: format!("author:@{handle}"),
                            span: None,
                        });
                    }
                }
            }
        }
        s.context.sort_unstable();
        s.context.dedup();
        s.neg_context.sort_unstable();
        s.neg_context.dedup();
        // Excludes sorted by (brand, start), each carrying the furthest end
        // of its brand's excludes so far: "is this alias inside an exclude"
        // is one binary search, not a scan of every exclude per alias.
        s.excludes.sort_unstable();
        let mut reach = (u32::MAX, 0);
        for x in s.excludes.iter_mut() {
            if reach.0 != x.0 {
                reach = (x.0, 0);
            }
            reach.1 = reach.1.max(x.2);
            x.2 = reach.1;
        }
        for i in 0..s.aliases.len() {
            let (brand, rule, start, end) = s.aliases[i];
            let b = &self.brands[brand as usize];
            let upto = s
                .excludes
                .partition_point(|&(x, xs, _)| (x, xs) <= (brand, start));
            if upto > 0 && s.excludes[upto - 1].0 == brand && s.excludes[upto - 1].2 >= end {
                if b.has_context {
                    s.bare.push((brand, Bare::Excluded));
                }
                continue;
            }
            let mut why = Cow::Borrowed(self.rules[rule as usize].as_str());
            if b.has_context && s.context.binary_search(&brand).is_err() {
                // A bare name: the post holds none of the brand's context words.
                if s.neg_context.binary_search(&brand).is_ok() {
                    s.bare.push((brand, Bare::NegContext));
                    continue;
                }
                s.bare.push((brand, Bare::Undecided));
                let Some(model) = b.model.as_ref().filter(|_| !s.without_model) else {
                    continue;
                };
                let at = match s.decisions.iter().position(|(x, _)| *x == brand) {
                    Some(at) => at,
                    None => {
                        let f =
                            crate::context::features(&s.norm.text, stemmer.as_ref(), &b.own_words);
                        s.decisions.push((brand, model.decide(&f)));
                        s.decisions.len() - 1
                    }
                };
                let d = &s.decisions[at].1;
                if !d.accept {
                    continue;
                }
                why = Cow::Owned(format!("{why} ({})", d.explain(model.threshold)));
            }
            s.matches.push(Match {
                kind: b.kind,
                entity_id: b.id.clone(),
                rule: why.into_owned(),
                span: Some(s.norm.span(start as usize, end as usize)),
            });
        }
        s.cand.extend_from_slice(&self.always);
        s.cand.sort_unstable();
        s.cand.dedup();
        if !s.cand.is_empty() {
            let view = View {
                hits: &s.hits,
                text: &s.norm.text,
                words: OnceCell::new(),
                post,
                lang,
            };
            for &q in &s.cand {
                let cq = &self.queries[q as usize];
                if !eval(&cq.query, &view) {
                    continue;
                }
                match cq.owner {
                    Owner::Brand(b) => {
                        let first = s
                            .hits
                            .iter()
                            .filter(|h| cq.positive.binary_search(&h.term).is_ok())
                            .min_by_key(|h| h.start);
                        let b = &self.brands[b as usize];
                        s.matches.push(Match {
                            kind: b.kind,
                            entity_id: b.id.clone(),
                            rule: cq.text.clone(),
                            span: first.map(|h| s.norm.span(h.start as usize, h.end as usize)),
                        });
                    }
                    Owner::Intent(i) => {
                        let distinct = cq.positive.iter().filter(|&&t| view.hit(t)).count();
                        s.intent_hits.push((i, distinct));
                    }
                }
            }
        }
        s.matches.sort_by_key(|m| m.span);
        s.matches.dedup();
        drop_contained(&mut s.matches, &mut s.order, &mut s.drop);
    }

    /// The post's language: given, or detected when the config asks.
    fn lang_of<'a>(&self, post: &'a Post, text: &'a str) -> Option<Cow<'a, str>> {
        match &post.lang {
            Some(l) => Some(Cow::Borrowed(l.as_str())),
            None => self
                .detect_language
                .and_then(|d| crate::lang::detect_with(d, text))
                .map(Cow::Borrowed),
        }
    }

    fn score_with(&self, post: &Post, s: &mut Scratch) -> Interaction {
        let mut text = full_text(post);
        // Every step below is linear or n log n in the text, but a post of
        // megabytes would still hold up its partition: its opening is
        // scored and the interaction says so.
        let truncated = text.len() > self.max_text_bytes;
        if truncated {
            let mut end = self.max_text_bytes;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text = match text {
                Cow::Borrowed(t) => Cow::Borrowed(&t[..end]),
                Cow::Owned(mut t) => {
                    t.truncate(end);
                    Cow::Owned(t)
                }
            };
        }
        let lang = self.lang_of(post, &text);
        self.match_entities(post, &text, lang.as_deref(), s);

        // Sentiment, with the overrides of every matched brand.
        let mut overrides: Vec<&Lexicon> = Vec::new();
        for (brands, lex) in &self.overrides {
            let hit = s.matches.iter().any(|m| {
                m.kind != EntityKind::Customer
                    && brands
                        .iter()
                        .any(|&b| self.brands[b as usize].id == m.entity_id)
            });
            if hit {
                overrides.push(lex);
            }
        }
        let sentiment = self
            .analyzer
            .analyze(&text, lang.as_deref(), &overrides, &mut s.sent);

        // Entity sentiment: the sentences that mention the entity.
        // Each (entity, sentence) pair once, found by binary search over
        // the sentences, so a post naming a brand thousands of times costs
        // n log n rather than entities × sentences × matches.
        let mut entity_sentiment = Vec::new();
        let mut entities: HashMap<&str, usize> = HashMap::new();
        let mut pairs: Vec<(usize, usize)> = Vec::new();
        let sentences = &s.sent.sentences;
        for m in &s.matches {
            let Some((a, _)) = m.span else { continue };
            let next = entities.len();
            let e = *entities.entry(m.entity_id.as_str()).or_insert(next);
            let a = a as u32;
            let i = sentences.partition_point(|sent| sent.end <= a);
            if sentences.get(i).is_some_and(|sent| sent.start <= a) {
                pairs.push((e, i));
            }
        }
        pairs.sort_unstable();
        pairs.dedup();
        let mut by_entity: Vec<(&str, usize)> = entities.into_iter().collect();
        by_entity.sort_unstable_by_key(|&(_, e)| e);
        for (id, e) in by_entity {
            let from = pairs.partition_point(|&(x, _)| x < e);
            let to = pairs.partition_point(|&(x, _)| x <= e);
            let mut sum = 0.0;
            for &(_, i) in &pairs[from..to] {
                sum += sentences[i].sum;
            }
            let compound = compound_of(sum);
            let label = self.analyzer.label(compound);
            if label != sentiment.label {
                entity_sentiment.push(EntitySentiment {
                    entity_id: id.to_string(),
                    compound,
                    label,
                });
            }
        }

        // Intents.
        // Read only when a rule asks: most posts meet no rule that does.
        let question = OnceCell::new();
        // By the intent's index among the configured ones: comparing and
        // sorting numbers, one clone per intent found.
        let mut found: Vec<(u32, f32)> = Vec::new();
        for (i, rule) in self.intents.iter().enumerate() {
            let strength = match self.intent_query[i] {
                Some(_) => match s.intent_hits.iter().find(|(x, _)| *x as usize == i) {
                    Some(&(_, n)) => 1.0 + 0.25 * (n.saturating_sub(1)) as f32,
                    None => continue,
                },
                None => 0.5,
            };
            if rule
                .sentiment_below
                .is_some_and(|b| sentiment.compound >= b)
                || rule
                    .sentiment_above
                    .is_some_and(|a| sentiment.compound <= a)
                || rule
                    .question
                    .is_some_and(|q| q != *question.get_or_init(|| asks_question(&s.norm.text)))
            {
                continue;
            }
            let strength = rule.weight * (strength + sentiment.compound.abs() * 0.5);
            match found.iter_mut().find(|(x, _)| *x == rule.order) {
                Some(f) => f.1 = f.1.max(strength),
                None => found.push((rule.order, strength)),
            }
        }
        found.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let intents: Vec<Intent> = found
            .iter()
            .map(|&(i, _)| self.intent_names[i as usize].clone())
            .collect();
        s.intent_ids.clear();
        s.intent_ids.extend(found.iter().map(|&(i, _)| i));

        // Routing.
        let mut tiers: Vec<&str> = s
            .customer_hits
            .iter()
            .map(|&c| self.customers[c as usize].tier.as_str())
            .filter(|t| !t.is_empty())
            .collect();
        tiers.sort_unstable();
        tiers.dedup();
        let mut kinds: Vec<EntityKind> = s.matches.iter().map(|m| m.kind).collect();
        kinds.sort_unstable();
        kinds.dedup();
        // A post about no brand, competitor or customer is nobody's work
        // (it stays stored and queryable, scored as usual).
        let (route, priority, priority_reasons) = if s.matches.is_empty() {
            (
                earshot_model::Route::NONE,
                0,
                vec!["no brand, competitor or customer matched".to_string()],
            )
        } else {
            self.routes.decide(&RouteInput {
                intents: &s.intent_ids,
                intent_names: &self.intent_names,
                compound: sentiment.compound,
                label: sentiment.label,
                tiers: &tiers,
                reach: post.author.reach,
                kinds: &kinds,
                source: &post.source,
                matches: &s.matches,
                customers: &self.customers,
                customer_hits: &s.customer_hits,
            })
        };

        // Computed here, pure; the match stage clusters by it.
        // The body alone when it is long enough: feeds repeat the body's
        // opening as the title, and on a short post those few extra
        // shingles move a SimHash by several bits.
        let fingerprint = if !self.noise.enabled {
            None
        } else if post.title.as_deref().is_some_and(|t| !t.is_empty()) && !truncated {
            let mut body = std::mem::take(&mut s.body);
            self.automaton.norm.normalize_into(&post.text, &mut body);
            let min = self.noise.min_words;
            let fp = crate::fingerprint::simhash(&body.text, min, &mut s.fingerprint)
                .or_else(|| crate::fingerprint::simhash(&s.norm.text, min, &mut s.fingerprint));
            s.body = body;
            fp
        } else {
            crate::fingerprint::simhash(&s.norm.text, self.noise.min_words, &mut s.fingerprint)
        };

        let mut out_post = post.clone();
        if out_post.lang.is_none() {
            out_post.lang = lang.map(Cow::into_owned);
        }
        Interaction {
            schema_version: SCHEMA_VERSION,
            post: out_post,
            matches: std::mem::take(&mut s.matches),
            sentiment,
            entity_sentiment,
            intents,
            route,
            priority,
            priority_reasons,
            watchlist_version: self.version.clone(),
            scored_at: Utc::now(),
            truncated,
            noise: earshot_model::Noise {
                fingerprint,
                ..Default::default()
            },
        }
    }
}

fn full_text(post: &Post) -> Cow<'_, str> {
    match &post.title {
        Some(t) if !t.is_empty() => Cow::Owned(post.full_text()),
        _ => Cow::Borrowed(post.text.as_str()),
    }
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// What became of a bare-name hit of a brand with context (the training
/// evidence of the context model).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bare {
    /// Inside an `exclude` phrase.
    Excluded,
    /// Next to a `negative_context` term.
    NegContext,
    /// Left to the context model (or dropped without one).
    Undecided,
}

/// Buffers reused from post to post on one thread.
#[derive(Debug, Default)]
struct Scratch {
    norm: NormText,
    hits: Vec<Hit>,
    aliases: Vec<(u32, u32, u32, u32)>,
    excludes: Vec<(u32, u32, u32)>,
    context: Vec<u32>,
    neg_context: Vec<u32>,
    /// Bare-name hits of brands with context, and what became of them.
    bare: Vec<(u32, Bare)>,
    /// The context model's decision per brand, for this post.
    decisions: Vec<(u32, Decision)>,
    /// Set while reading training evidence: the model must not label its
    /// own training data.
    without_model: bool,
    cand: Vec<u32>,
    intent_hits: Vec<(u32, usize)>,
    /// The post's intents (indices into `Matcher::intent_names`), for routing.
    intent_ids: Vec<u32>,
    customer_hits: Vec<u32>,
    matches: Vec<Match>,
    order: Vec<u32>,
    drop: Vec<bool>,
    sent: SentScratch,
    fingerprint: crate::fingerprint::Scratch,
    body: NormText,
}

/// Drops every match whose span lies strictly inside another span of the
/// same entity ("Acme" inside "ACME Corporation" or "@acme" says nothing
/// more), keeping the order of the rest. Sorted by entity, then start
/// ascending and end descending, a span is contained exactly when an
/// earlier, different span of its entity reaches as far: one sweep.
fn drop_contained(matches: &mut Vec<Match>, order: &mut Vec<u32>, drop: &mut Vec<bool>) {
    order.clear();
    order.extend((0..matches.len() as u32).filter(|&i| matches[i as usize].span.is_some()));
    order.sort_unstable_by(|&x, &y| {
        let (m, n) = (&matches[x as usize], &matches[y as usize]);
        let ((a, b), (c, d)) = (m.span.unwrap_or_default(), n.span.unwrap_or_default());
        (&m.entity_id, m.kind, a)
            .cmp(&(&n.entity_id, n.kind, c))
            .then(d.cmp(&b))
    });
    drop.clear();
    drop.resize(matches.len(), false);
    // (entity, kind, span) of the run being read, and the furthest end of
    // the entity's spans before that run.
    let mut run: Option<(&str, EntityKind, (usize, usize))> = None;
    let mut furthest_before: Option<usize> = None;
    let mut furthest: Option<usize> = None;
    for &i in order.iter() {
        let m = &matches[i as usize];
        let span = m.span.unwrap_or_default();
        match run {
            Some((e, k, sp)) if e == m.entity_id && k == m.kind => {
                if sp != span {
                    furthest_before = furthest;
                }
            }
            _ => {
                furthest_before = None;
                furthest = None;
            }
        }
        run = Some((&m.entity_id, m.kind, span));
        if furthest_before.is_some_and(|f| f >= span.1) {
            drop[i as usize] = true;
        }
        furthest = Some(furthest.map_or(span.1, |f| f.max(span.1)));
    }
    let mut d = drop.iter();
    matches.retain(|_| !*d.next().unwrap_or(&false));
}

/// A post's hits as queries see them.
struct View<'a> {
    hits: &'a [Hit],
    text: &'a str,
    words: OnceCell<Vec<u32>>,
    post: &'a Post,
    lang: Option<&'a str>,
}

impl View<'_> {
    fn term_hits(&self, term: u32) -> &[Hit] {
        let start = self.hits.partition_point(|h| h.term < term);
        let end = start + self.hits[start..].partition_point(|h| h.term == term);
        &self.hits[start..end]
    }

    /// Byte offsets where words start, for NEAR distances.
    fn words(&self) -> &[u32] {
        self.words.get_or_init(|| {
            let mut out = Vec::new();
            let mut prev_word = false;
            for (i, c) in self.text.char_indices() {
                let w = is_word_char(c);
                if w && !prev_word {
                    out.push(i as u32);
                }
                prev_word = w;
            }
            out
        })
    }
}

impl Hits for View<'_> {
    fn word_spans(&self, term: u32, out: &mut Vec<(u32, u32)>) {
        let words = self.words();
        for h in self.term_hits(term) {
            let first = words.partition_point(|&w| w < h.start) as u32;
            let last = words.partition_point(|&w| w < h.end) as u32;
            out.push((first, last.max(first + 1)));
        }
    }

    fn hit(&self, term: u32) -> bool {
        !self.term_hits(term).is_empty()
    }

    fn field(&self, field: Field, value: &str) -> bool {
        let value = value.trim();
        match field {
            Field::Author => self.post.author.handle.as_deref().is_some_and(|h| {
                h.trim_start_matches('@')
                    .eq_ignore_ascii_case(value.trim_start_matches('@'))
            }),
            Field::Site => self.post.url.as_deref().and_then(host).is_some_and(|h| {
                let v = value.to_ascii_lowercase();
                h == v || h.ends_with(&format!(".{v}"))
            }),
            Field::Lang => self.lang.is_some_and(|l| l.eq_ignore_ascii_case(value)),
            Field::Source => self.post.source.eq_ignore_ascii_case(value),
        }
    }
}

fn host(url: &str) -> Option<String> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let host = rest.split(['/', '?', '#']).next()?;
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    let host = host.split(':').next()?;
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;
    use earshot_model::SentimentLabel;

    #[test]
    fn hosts() {
        assert_eq!(
            host("https://www.Acme.com:443/x?y").as_deref(),
            Some("www.acme.com")
        );
        assert_eq!(host("acme.com").as_deref(), Some("acme.com"));
    }

    #[test]
    fn labels_match_threshold() {
        let a = Analyzer::default();
        assert_eq!(a.label(0.34), SentimentLabel::Neutral);
    }

    /// The quadratic definition `drop_contained` replaced.
    fn naive_drop_contained(matches: &mut Vec<Match>) {
        let contained = |m: &Match, all: &[Match]| {
            m.span.is_some_and(|(a, b)| {
                all.iter().any(|n| {
                    n.entity_id == m.entity_id
                        && n.kind == m.kind
                        && n.span
                            .is_some_and(|(c, d)| c <= a && b <= d && (c, d) != (a, b))
                })
            })
        };
        let keep: Vec<bool> = matches.iter().map(|m| !contained(m, matches)).collect();
        let mut k = keep.iter();
        matches.retain(|_| *k.next().unwrap_or(&true));
    }

    proptest::proptest! {
        #[test]
        fn drop_contained_agrees_with_its_definition(
            raw in proptest::collection::vec((0u8..3, 0u8..2, 0u8..3, proptest::option::of((0usize..12, 0usize..6))), 0..40)
        ) {
            let mut matches: Vec<Match> = raw
                .iter()
                .map(|&(e, k, r, span)| Match {
                    kind: if k == 0 { EntityKind::Brand } else { EntityKind::Competitor },
                    entity_id: format!("e{e}"),
                    rule: format!("r{r}"),
                    span: span.map(|(a, l)| (a, a + l)),
                })
                .collect();
            matches.sort_by_key(|m| m.span);
            matches.dedup();
            let mut expected = matches.clone();
            naive_drop_contained(&mut expected);
            drop_contained(&mut matches, &mut Vec::new(), &mut Vec::new());
            proptest::prop_assert_eq!(matches, expected);
        }
    }
}
