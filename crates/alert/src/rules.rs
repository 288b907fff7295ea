//! The rules, as pure functions of a brand's figures and thresholds.

use earshot_sink::alerts::{EntityFigures, PostFilter};
use serde::Serialize;

use crate::config::Thresholds;

/// One rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// Posts in the last hour above `mean + k·σ` of the 12 hours before.
    VolumeSpike1h,
    /// Posts in the last 24 hours above `mean + daily_k·σ` of the 7 days before.
    VolumeSpike24h,
    /// The last hour's share of negative posts reaches `negative_share` and
    /// exceeds the previous 12 hours' share by `negative_rise`.
    NegativeShare,
    /// Posts with a PR-risk intent in the last hour reach `pr_risk_posts`.
    PrRiskBurst,
}

impl Rule {
    /// Every rule, in evaluation order.
    pub const ALL: &'static [Rule] = &[
        Rule::VolumeSpike1h,
        Rule::VolumeSpike24h,
        Rule::NegativeShare,
        Rule::PrRiskBurst,
    ];

    /// The name in alerts, metrics and the store.
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::VolumeSpike1h => "volume_spike_1h",
            Rule::VolumeSpike24h => "volume_spike_24h",
            Rule::NegativeShare => "negative_share",
            Rule::PrRiskBurst => "pr_risk_burst",
        }
    }

    /// Length of the window it looks at, in seconds (its baseline is before it).
    pub fn window_secs(self) -> i64 {
        match self {
            Rule::VolumeSpike24h => 86_400,
            _ => 3600,
        }
    }

    /// Length of its baseline, in seconds.
    pub fn baseline_secs(self) -> i64 {
        match self {
            Rule::VolumeSpike24h => 7 * 86_400,
            _ => 12 * 3600,
        }
    }

    /// Which posts an alert of this rule shows.
    pub fn posts(self, pr_risk_intents: &[String]) -> PostFilter {
        match self {
            Rule::NegativeShare => PostFilter::Negative,
            Rule::PrRiskBurst => PostFilter::Intents(pr_risk_intents.to_vec()),
            _ => PostFilter::Any,
        }
    }
}

/// A rule's verdict on one brand, with the figures behind it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// The rule.
    pub rule: Rule,
    /// The figure compared: posts, or a share (0-1) for `negative_share`.
    pub observed: f64,
    /// Mean of the baseline (hourly or daily posts; the baseline share for `negative_share`).
    pub mean: f64,
    /// Population standard deviation of the baseline (absent for `negative_share`).
    pub stddev: Option<f64>,
    /// The threshold `observed` was compared with.
    pub threshold: f64,
    /// Posts in the window (all posts; negative posts for `negative_share`;
    /// PR-risk posts for `pr_risk_burst`).
    pub count: u64,
    /// The minimum count the rule needs.
    pub min_count: u64,
    /// Whether the rule fires.
    pub fired: bool,
}

/// Mean and population standard deviation of `xs` (0 and 0 when empty).
pub fn mean_stddev(xs: &[u64]) -> (f64, f64) {
    if xs.is_empty() {
        return (0.0, 0.0);
    }
    let n = xs.len() as f64;
    let mean = xs.iter().map(|&x| x as f64).sum::<f64>() / n;
    let var = xs.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n;
    (mean, var.max(0.0).sqrt())
}

/// `last` against `baseline`: fires when `last > mean + k·σ` and `last ≥ min`.
/// With σ = 0 (a flat baseline) the threshold is the mean itself, and the
/// minimum count is what keeps a quiet brand's 1 → 3 from paging anyone.
pub fn spike(rule: Rule, baseline: &[u64], last: u64, k: f64, min: u64) -> Finding {
    let (mean, stddev) = mean_stddev(baseline);
    let threshold = mean + k * stddev;
    Finding {
        rule,
        observed: last as f64,
        mean,
        stddev: Some(stddev),
        threshold,
        count: last,
        min_count: min,
        fired: last as f64 > threshold && last >= min,
    }
}

/// Every rule's verdict on `f`. Series shorter than expected count missing
/// buckets as zeros.
pub fn evaluate(f: &EntityFigures, t: &Thresholds) -> Vec<Finding> {
    let (hourly_base, hourly_last) = split_last(&f.hourly, 13);
    let (daily_base, daily_last) = split_last(&f.daily, 8);
    let (neg_base, neg_last) = split_last(&f.hourly_negative, 13);
    let (intent_base, intent_last) = split_last(&f.hourly_intent, 13);

    let share = |neg: u64, all: u64| {
        if all == 0 {
            0.0
        } else {
            neg as f64 / all as f64
        }
    };
    let base_share = share(neg_base.iter().sum(), hourly_base.iter().sum());
    let last_share = share(neg_last, hourly_last);
    let share_threshold = t.negative_share.max(base_share + t.negative_rise);
    let negative = Finding {
        rule: Rule::NegativeShare,
        observed: last_share,
        mean: base_share,
        stddev: None,
        threshold: share_threshold,
        count: neg_last,
        min_count: t.min_negative,
        fired: neg_last >= t.min_negative && last_share >= share_threshold,
    };

    let (mean, stddev) = mean_stddev(&intent_base);
    let pr = Finding {
        rule: Rule::PrRiskBurst,
        observed: intent_last as f64,
        mean,
        stddev: Some(stddev),
        threshold: t.pr_risk_posts as f64,
        count: intent_last,
        min_count: t.pr_risk_posts,
        fired: intent_last >= t.pr_risk_posts,
    };

    vec![
        spike(
            Rule::VolumeSpike1h,
            &hourly_base,
            hourly_last,
            t.k,
            t.min_mentions,
        ),
        spike(
            Rule::VolumeSpike24h,
            &daily_base,
            daily_last,
            t.daily_k,
            t.min_daily_mentions,
        ),
        negative,
        pr,
    ]
}

/// The first `len − 1` values (padded with zeros) and the last.
fn split_last(series: &[u64], len: usize) -> (Vec<u64>, u64) {
    let mut v: Vec<u64> = series.iter().copied().take(len).collect();
    v.resize(len, 0);
    let last = v.pop().unwrap_or(0);
    (v, last)
}
