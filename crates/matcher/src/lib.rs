//! Earshot's matcher: tags posts against customers, brands, sentiment and intent lexicons.
//!
//! A [`MatcherConfig`] (the `[matcher]` section of `earshot.toml`) names
//! watchlist, customer, lexicon, intent and routing files; [`MatcherConfig::compile`]
//! reads them through a [`FileSource`] (this crate does no I/O of its own)
//! and returns an immutable [`Matcher`], or every problem found. The
//! matcher turns each [`earshot_model::Post`] into an
//! [`earshot_model::Interaction`]: which brands, competitors and customers
//! it mentions, its sentiment, the author's intents, and the team it is
//! routed to with a priority and the reasons.
//!
//! Every term of every watchlist goes into one Aho-Corasick automaton run
//! over the normalized text (NFKC, case folded, accents optionally folded);
//! boolean queries are evaluated only when one of their terms hit.
//!
//! ```
//! use earshot_match::{MatcherConfig, MemorySource};
//! use earshot_model::{EntityKind, Post, SentimentLabel};
//!
//! let config: MatcherConfig = toml::from_str(r#"
//!     brands = ["brands.toml"]
//!     lexicons = [{ path = "lexicon.tsv" }]
//! "#).unwrap();
//! let files = MemorySource::default()
//!     .with("brands.toml", r#"
//!         [[brand]]
//!         id = "acme"
//!         name = "Acme"
//!         query = 'acme AND (refund* OR "money back") NOT site:acme.com'
//!     "#)
//!     .with("lexicon.tsv", "terrible\t-2.5\n");
//! let matcher = config.compile(&files).unwrap();
//!
//! let post = Post::new("x:1", "Acme refunds are terrible");
//! let scored = matcher.score(&post);
//! assert_eq!(scored.entities(EntityKind::Brand), ["acme"]);
//! assert_eq!(scored.sentiment.label, SentimentLabel::Negative);
//! ```
#![deny(missing_docs)]

mod automaton;
mod config;
pub mod context;
mod context_terms;
mod customers;
mod error;
pub mod eval;
pub mod fingerprint;
mod intent;
pub mod lang;
mod lexicon;
mod links;
mod matcher;
mod noise;
mod normalize;
pub mod query;
mod route;
mod sentiment;
mod shared;
mod watchlist;

pub use config::{FileSource, Labels, LexiconRef, MatcherConfig, MemorySource};
pub use context_terms::ContextTerms;
pub use customers::Customer;
pub use error::ConfigError;
pub use intent::IntentDef;
pub use lexicon::{Lexicon, LexiconFormat};
pub use matcher::{Evidence, Matcher, Stats};
pub use noise::NoiseConfig;
pub use normalize::Normalizer;
pub use sentiment::{Analyzer, Explanation, Features, SentimentConfig, SentimentModel};
pub use shared::SharedMatcher;
pub use watchlist::BrandDef;
