//! Shared fixtures for Earshot benchmarks: synthetic watchlists of a given
//! size and realistic social posts, generated deterministically.

use earshot_match::{Matcher, MatcherConfig, MemorySource};
use earshot_model::Post;

/// Deterministic pseudo-random numbers (xorshift), so every run sees the same data.
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    /// Next number.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A number below `n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

const SYLLABLES: &[&str] = &[
    "ac", "me", "glo", "bex", "ini", "tech", "vor", "tex", "zen", "ith", "qua", "dra", "nex",
    "ora", "lum", "ina", "sol", "ara", "pix", "el", "tri", "dent", "nova", "kor", "vex", "ly",
    "fin", "tor", "bri", "ox",
];

/// A made-up brand-like name, unique for each `i`.
pub fn name(i: usize, rng: &mut Rng) -> String {
    let mut s = String::new();
    for _ in 0..2 + rng.below(2) {
        s.push_str(SYLLABLES[rng.below(SYLLABLES.len())]);
    }
    format!("{s}{i}")
}

/// A brands file with about `terms` terms: each brand has a name, two
/// aliases and every fifth one a query, like a large agency watchlist.
pub fn brands_toml(terms: usize) -> String {
    let mut rng = Rng::new(42);
    let mut out = String::with_capacity(terms * 60);
    let brands = terms / 4;
    for i in 0..brands {
        let n = name(i, &mut rng);
        out.push_str(&format!(
            "[[brand]]\nid = \"b{i}\"\nname = \"{n}\"\naliases = [\"{n}\", \"{n} app\", \"{n} cloud\"]\n"
        ));
        if i % 5 == 0 {
            out.push_str(&format!(
                "query = '{n} AND (refund* OR \"not working\") NOT site:{n}.com'\n"
            ));
        } else {
            out.push_str(&format!("handles = [\"{n}hq\"]\n"));
        }
    }
    out
}

/// Compiles a synthetic watchlist of about `terms` terms plus the given
/// lexicon text (empty for matching only).
pub fn matcher(terms: usize, lexicon: &str) -> Matcher {
    let config: MatcherConfig = toml::from_str(
        "brands = ['brands.toml']\nlexicons = [{ path = 'lexicon.tsv' }]\ndetect_language = false",
    )
    .expect("static config");
    let files = MemorySource::default()
        .with("brands.toml", brands_toml(terms))
        .with("lexicon.tsv", lexicon);
    config
        .compile(&files)
        .expect("synthetic watchlist compiles")
}

const OPENERS: &[&str] = &[
    "Honestly",
    "ngl",
    "Day 3 of waiting and",
    "Update:",
    "PSA:",
    "lol",
    "So",
    "Just saw that",
    "Anyone else think",
    "Hot take:",
];
const MIDDLES: &[&str] = &[
    "the support team was super helpful when my order went missing",
    "their app keeps crashing every time I open the settings page",
    "I've been on hold for 45 minutes and still no answer",
    "the new update is actually pretty good, battery life is way better",
    "why is the checkout broken again?? tried three cards",
    "thinking of switching, the pricing is getting ridiculous",
    "shoutout to the person who fixed my account in 5 minutes 🙏",
    "delivery was late but the product itself is great",
    "not sure if I should upgrade or wait for the next version",
    "the refund still hasn't shown up on my statement",
];
const CLOSERS: &[&str] = &[
    "😡",
    "🙄",
    "!!",
    "...",
    "😂😂",
    "#fail",
    "#customerservice",
    "https://t.co/abc123",
    "",
    "smh",
];

/// Realistic short social posts; about one in three names a brand from the
/// synthetic watchlist of `terms` terms.
pub fn posts(n: usize, terms: usize) -> Vec<Post> {
    let mut rng = Rng::new(7);
    let brands = (terms / 4).max(1);
    let mut names_rng = Rng::new(42);
    let names: Vec<String> = (0..brands.min(2000))
        .map(|i| name(i, &mut names_rng))
        .collect();
    (0..n)
        .map(|i| {
            let mut text = format!("{} ", OPENERS[rng.below(OPENERS.len())]);
            if rng.below(3) == 0 {
                text.push_str(&format!("@{} ", names[rng.below(names.len())]));
            }
            text.push_str(MIDDLES[rng.below(MIDDLES.len())]);
            if rng.below(2) == 0 {
                text.push_str(". ");
                text.push_str(MIDDLES[rng.below(MIDDLES.len())]);
            }
            text.push(' ');
            text.push_str(CLOSERS[rng.below(CLOSERS.len())]);
            let mut p = Post::new(format!("bench:{i}"), text);
            p.lang = Some("en".into());
            p
        })
        .collect()
}

/// Resident set size of this process in bytes (Linux), for memory figures.
pub fn rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Brands the stored-interaction benches mention: two brands, then three competitors.
pub const STORED_BRANDS: &[&str] = &["acme", "initech", "globex", "umbrella", "hooli"];
const STORED_WORDS: &[&str] = &[
    "support", "refund", "love", "broken", "price", "upgrade", "slow", "great", "cancel",
    "shipping", "app", "login",
];

/// Scored Reddit post `n` of `words` words published at `at`, as the sink and
/// console benches store it: a brand and a competitor, sentiment and priority
/// spread by `n`, every fourth post a complaint routed to support. Benches
/// set the timings and reasons they need on the returned seed.
pub fn stored_seed(
    n: usize,
    words: usize,
    at: chrono::DateTime<chrono::Utc>,
) -> earshot_tests::seed::Seed<'static> {
    use earshot_model::{EntityKind, Intent, Route, SentimentLabel};
    let text: Vec<&str> = (0..words)
        .map(|k| STORED_WORDS[(n * 7 + k * 13) % STORED_WORDS.len()])
        .collect();
    let routed = n.is_multiple_of(4);
    let mut s = earshot_tests::seed::Seed::new(format!("t3_{n:08}"), at);
    s.source = "reddit";
    s.text = Some(text.join(" "));
    s.url = Some(format!("https://reddit.com/r/x/comments/{n}"));
    s.handle = Some(format!("user{}", n % 5000));
    s.reach = (n % 9973) as u64 * 17;
    s.mentions = vec![
        (EntityKind::Brand, STORED_BRANDS[n % 2]),
        (EntityKind::Competitor, STORED_BRANDS[2 + n % 3]),
    ];
    s.spans = vec![(0, 4), (10, 16)];
    s.label = [
        SentimentLabel::Negative,
        SentimentLabel::Neutral,
        SentimentLabel::Positive,
    ][n % 3];
    s.compound = Some((n % 200) as f32 / 100.0 - 1.0);
    s.shares = (0.2, 0.6, 0.2);
    s.intents = if routed {
        vec![Intent::COMPLAINT]
    } else {
        vec![]
    };
    s.route = if routed { Route::SUPPORT } else { Route::NONE };
    s.priority = (n % 100) as u8;
    s.watchlist_version = "bench";
    s
}
