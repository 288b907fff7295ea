//! A hot-swappable handle on the current [`Matcher`].

use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::Matcher;

/// The matcher in use, replaceable atomically while posts are being scored:
/// readers `load()` an `Arc` and keep scoring with it; a reload `store()`s
/// a newly compiled matcher and the old one is freed when its last reader
/// is done.
#[derive(Debug)]
pub struct SharedMatcher(ArcSwap<Matcher>);

impl SharedMatcher {
    /// Wraps a compiled matcher.
    pub fn new(matcher: Matcher) -> SharedMatcher {
        SharedMatcher(ArcSwap::from_pointee(matcher))
    }

    /// The current matcher.
    pub fn load(&self) -> Arc<Matcher> {
        self.0.load_full()
    }

    /// Replaces the matcher; returns the previous one.
    pub fn store(&self, matcher: impl Into<Arc<Matcher>>) -> Arc<Matcher> {
        self.0.swap(matcher.into())
    }
}

impl From<Matcher> for SharedMatcher {
    fn from(m: Matcher) -> Self {
        SharedMatcher::new(m)
    }
}
