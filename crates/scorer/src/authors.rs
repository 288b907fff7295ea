//! Bot-like authors (issue 16): per author (source and handle), the posts of
//! the window with whether each repeated a cluster. An author is bot-like
//! when they post more than `bot_posts_per_hour` within an hour, when at
//! least `bot_duplicate_ratio` of their `bot_min_posts` or more posts repeat
//! clusters, or when their account (where the source tells its age) is
//! younger than `bot_min_account_age_days` and has `bot_min_posts` posts.
//! Every post is one event in a global queue too, so the oldest leave
//! first in O(1) and memory stays within `max_entries`.

use std::collections::{HashMap, VecDeque};

use earshot_match::NoiseConfig;
use earshot_model::Interaction;

#[derive(Default)]
struct Author {
    /// Post time and whether the post repeated a cluster, oldest first.
    posts: VecDeque<(i64, bool)>,
    repeats: u32,
}

/// The window's authors.
#[derive(Default)]
pub(crate) struct Authors {
    by_key: HashMap<String, Author>,
    /// Every counted post's author key, oldest first.
    order: VecDeque<(i64, String)>,
}

impl Authors {
    /// Counts `i` for its author and flags it when the author is bot-like.
    pub(crate) fn observe(&mut self, i: &mut Interaction, at: i64, window: i64, c: &NoiseConfig) {
        let Some(handle) = i.post.author.handle.as_deref().filter(|h| !h.is_empty()) else {
            return;
        };
        let newest = self.order.back().map_or(at, |(t, _)| (*t).max(at));
        while let Some((t, _)) = self.order.front() {
            if *t >= newest - window && self.order.len() < c.max_entries {
                break;
            }
            let (_, key) = self.order.pop_front().expect("front exists");
            if let Some(a) = self.by_key.get_mut(&key) {
                if let Some((_, repeat)) = a.posts.pop_front() {
                    a.repeats -= u32::from(repeat);
                }
                if a.posts.is_empty() {
                    self.by_key.remove(&key);
                }
            }
        }
        let key = format!("{}:{}", i.post.source, handle.to_lowercase());
        let repeat = i.noise.cluster_id.is_some();
        let a = self.by_key.entry(key.clone()).or_default();
        a.posts.push_back((at, repeat));
        a.repeats += u32::from(repeat);
        self.order.push_back((at, key));

        let mut reasons = Vec::new();
        // Newest first, stopping past the limit: bounded by the threshold.
        let last_hour = a
            .posts
            .iter()
            .rev()
            .take_while(|(t, _)| *t >= at - 3600)
            .take(c.bot_posts_per_hour as usize + 1)
            .count();
        if last_hour > c.bot_posts_per_hour as usize {
            reasons.push(format!(
                "rate: more than {} posts in an hour",
                c.bot_posts_per_hour
            ));
        }
        let n = a.posts.len() as u32;
        if n >= c.bot_min_posts {
            let ratio = a.repeats as f32 / n as f32;
            if ratio >= c.bot_duplicate_ratio {
                reasons.push(format!(
                    "duplicates: {} of {n} posts repeat others",
                    a.repeats
                ));
            }
            if let Some(created) = i.post.author.created_at {
                let days = (at - created.timestamp()).div_euclid(86_400);
                if c.bot_min_account_age_days > 0 && days < i64::from(c.bot_min_account_age_days) {
                    reasons.push(format!("new_account: {days} days old, {n} posts"));
                }
            }
        }
        if reasons.is_empty() {
            return;
        }
        i.noise.bot_like = true;
        if i.priority > c.bot_priority_cap {
            i.priority_reasons.push(format!(
                "bot_like ({}): priority {} -> {}",
                reasons.join("; "),
                i.priority,
                c.bot_priority_cap
            ));
            i.priority = c.bot_priority_cap;
        }
        i.noise.bot_reasons = reasons;
    }
}
