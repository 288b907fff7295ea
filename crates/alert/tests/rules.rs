//! The rule math, on figures written out by hand.

use earshot_alert::config::{AlertConfig, ThresholdOverrides, Thresholds};
use earshot_alert::message::top_terms_of;
use earshot_alert::rules::{mean_stddev, spike};
use earshot_alert::{evaluate, Rule};
use earshot_sink::alerts::EntityFigures;

fn figures(hourly: &[u64]) -> EntityFigures {
    let mut f = EntityFigures::empty("acme");
    f.hourly = hourly.to_vec();
    f
}

fn finding(f: &EntityFigures, t: &Thresholds, rule: Rule) -> earshot_alert::Finding {
    evaluate(f, t)
        .into_iter()
        .find(|x| x.rule == rule)
        .expect("every rule has a finding")
}

#[test]
fn issue_13_mean_and_population_stddev() {
    assert_eq!(mean_stddev(&[]), (0.0, 0.0));
    assert_eq!(mean_stddev(&[5, 5, 5]), (5.0, 0.0));
    let (m, s) = mean_stddev(&[2, 4, 4, 4, 5, 5, 7, 9]);
    assert_eq!(m, 5.0);
    assert!((s - 2.0).abs() < 1e-12, "{s}");
}

#[test]
fn issue_13_empty_hours_count_as_zeros() {
    // 12 baseline hours of which only two had posts: 6 and 6 → mean 1, σ = √5.
    let mut hourly = vec![0; 13];
    hourly[3] = 6;
    hourly[8] = 6;
    hourly[12] = 12;
    let t = Thresholds::default();
    let f = finding(&figures(&hourly), &t, Rule::VolumeSpike1h);
    assert_eq!(f.mean, 1.0);
    let sigma = 5f64.sqrt();
    assert!((f.stddev.unwrap() - sigma).abs() < 1e-12);
    assert!((f.threshold - (1.0 + 3.0 * sigma)).abs() < 1e-12);
    assert!(f.fired, "12 > {:.2} and ≥ 10", f.threshold);

    // A short series (a store answering only the hours it has) is padded with zeros.
    let short = EntityFigures {
        hourly: vec![],
        ..EntityFigures::empty("acme")
    };
    let f = finding(&short, &t, Rule::VolumeSpike1h);
    assert_eq!(
        (f.observed, f.mean, f.threshold, f.fired),
        (0.0, 0.0, 0.0, false)
    );
}

#[test]
fn issue_13_flat_baseline_sigma_zero_needs_the_minimum_count() {
    let t = Thresholds::default();
    // σ = 0: the threshold is the mean; 1 → 3 is "above" but far below min_mentions.
    let mut hourly = vec![1; 13];
    hourly[12] = 3;
    let f = finding(&figures(&hourly), &t, Rule::VolumeSpike1h);
    assert_eq!((f.mean, f.stddev, f.threshold), (1.0, Some(0.0), 1.0));
    assert!(!f.fired);
    // The same flat baseline with 11 posts in the last hour fires.
    hourly[12] = 11;
    assert!(finding(&figures(&hourly), &t, Rule::VolumeSpike1h).fired);
    // Equal to the threshold is not above it.
    let f = spike(Rule::VolumeSpike1h, &[10; 12], 10, 3.0, 1);
    assert!(!f.fired);
    // All zeros, nothing now: nothing fires, nothing divides by zero.
    let zero = EntityFigures::empty("acme");
    assert!(evaluate(&zero, &t)
        .iter()
        .all(|f| !f.fired && f.observed == 0.0));
}

#[test]
fn issue_13_daily_rule_uses_seven_days_before() {
    let t = Thresholds::default();
    let mut f = EntityFigures::empty("acme");
    f.daily = vec![40, 50, 60, 40, 50, 60, 50, 120];
    let d = finding(&f, &t, Rule::VolumeSpike24h);
    assert_eq!(d.mean, 50.0);
    let sigma = (400.0f64 / 7.0).sqrt(); // deviations −10, 0, 10, −10, 0, 10, 0
    assert!((d.threshold - (50.0 + 3.0 * sigma)).abs() < 1e-9);
    assert!(d.fired);
    f.daily[7] = 70;
    assert!(!finding(&f, &t, Rule::VolumeSpike24h).fired);
}

#[test]
fn issue_13_negative_share_needs_share_rise_and_count() {
    let t = Thresholds::default();
    let mut f = EntityFigures::empty("acme");
    f.hourly = vec![10; 13];
    f.hourly_negative = vec![2; 13]; // 20 % before
    f.hourly_negative[12] = 7; // 70 % now
    let n = finding(&f, &t, Rule::NegativeShare);
    assert!((n.observed - 0.7).abs() < 1e-12 && (n.mean - 0.2).abs() < 1e-12);
    assert!((n.threshold - 0.5).abs() < 1e-12, "max(0.5, 0.2 + 0.2)");
    assert!(n.fired && n.stddev.is_none());
    // Already that negative before: no surge.
    f.hourly_negative = vec![6; 13];
    f.hourly_negative[12] = 7;
    let n = finding(&f, &t, Rule::NegativeShare);
    assert!((n.threshold - 0.8).abs() < 1e-12);
    assert!(!n.fired);
    // 4 of 4 negative is 100 % but under min_negative = 5.
    let mut f = EntityFigures::empty("acme");
    f.hourly[12] = 4;
    f.hourly_negative[12] = 4;
    assert!(!finding(&f, &t, Rule::NegativeShare).fired);
}

#[test]
fn issue_13_pr_risk_burst_counts_posts_with_the_intents() {
    let t = Thresholds::default();
    let mut f = EntityFigures::empty("acme");
    f.hourly_intent[12] = 2;
    assert!(!finding(&f, &t, Rule::PrRiskBurst).fired);
    f.hourly_intent[12] = 3;
    let p = finding(&f, &t, Rule::PrRiskBurst);
    assert!(p.fired && p.threshold == 3.0 && p.count == 3);
}

#[test]
fn issue_13_thresholds_layer_brand_over_defaults_over_builtin() {
    let config: AlertConfig = toml::from_str(
        r#"
        cooldown = "30m"
        [defaults]
        k = 2.0
        min_mentions = 20
        [brands.acme]
        min_mentions = 100
        "#,
    )
    .unwrap();
    assert_eq!(config.cooldown.as_secs(), 1800);
    let acme = config.thresholds("acme");
    let other = config.thresholds("globex");
    assert_eq!((acme.k, acme.min_mentions), (2.0, 100));
    assert_eq!((other.k, other.min_mentions), (2.0, 20));
    assert_eq!(other.negative_share, Thresholds::default().negative_share);
    assert_eq!(
        Thresholds::default().with(&ThresholdOverrides::default()),
        Thresholds::default()
    );
}

#[test]
fn issue_13_config_problems_name_every_key() {
    let config: AlertConfig = toml::from_str(
        r#"
        interval = "0s"
        pr_risk_intents = ["pr_risk", "Crisis!"] # not a name (unknown names: earshot checks them against intents.toml)
        link = "ftp://x"
        top_posts = 0
        [defaults]
        k = -1.0
        negative_share = 1.5
        min_mentions = 0
        [brands.acme]
        daily_k = 1000.0
        [[channels]]
        kind = "webhook"
        url_env = "lower-case"
        [[channels]]
        kind = "slack"
        name = "webhook"
        url_env = "EARSHOT_SLACK_WEBHOOK_URL"
        secret_env = "X"
        [delivery]
        max_attempts = 0
        "#,
    )
    .unwrap();
    let keys: Vec<String> = config.validate().into_iter().map(|(k, _)| k).collect();
    for expected in [
        "alert.interval",
        "alert.pr_risk_intents[1]",
        "alert.link",
        "alert.top_posts",
        "alert.defaults.k",
        "alert.defaults.negative_share",
        "alert.defaults.min_mentions",
        "alert.brands.acme.daily_k",
        "alert.channels[0].url_env",
        "alert.channels[0].secret_env",
        "alert.channels[1].name",
        "alert.channels[1].secret_env",
        "alert.delivery.max_attempts",
    ] {
        assert!(
            keys.iter().any(|k| k == expected),
            "{expected} missing in {keys:?}"
        );
    }
    assert!(AlertConfig::default().validate().is_empty());
    let unknown = config.unknown_brands(&["globex"]);
    assert_eq!(unknown[0].0, "alert.brands.acme");
    assert!(unknown[0].1.contains("expected one of globex"));
    // Unknown keys and bad durations fail at parse time, naming the key.
    let e = toml::from_str::<AlertConfig>("cooldwn = \"1h\"").unwrap_err();
    assert!(e.to_string().contains("cooldwn"), "{e}");
    let e = toml::from_str::<AlertConfig>("cooldown = \"soon\"").unwrap_err();
    assert!(
        e.to_string().contains("cooldown") && e.to_string().contains("soon"),
        "{e}"
    );
}

#[test]
fn issue_13_top_terms_count_posts_not_repeats() {
    let texts = [
        "Acme recall: battery caught fire, recall now",
        "another battery fire at acme store",
        "the battery is fine",
    ];
    let terms = top_terms_of(&texts, &["acme"], 3);
    let got: Vec<(&str, u64)> = terms.iter().map(|t| (t.term.as_str(), t.posts)).collect();
    assert_eq!(got, [("battery", 3), ("fire", 2), ("another", 1)]);
}
