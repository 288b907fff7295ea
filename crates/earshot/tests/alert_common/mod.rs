//! Helpers of `alert.rs`: seeded interactions, the test config and running
//! `earshot alert --once` against a loopback receiver.
#![allow(dead_code)]

use std::path::Path;
use std::process::Output;

use chrono::{DateTime, Duration, Utc};
use earshot_model::{EntityKind, Interaction, SentimentLabel};
use earshot_sink::{Batch, BatchItem, Position, SinkConfig};
use earshot_tests::seed::Seed;

use crate::receiver::{verify, Receiver};

pub const SECRET: &str = "issue-13-hmac-key";

/// A scored post mentioning `entity` at `at`.
pub fn post(
    id: &str,
    entity: (EntityKind, &str),
    at: DateTime<Utc>,
    label: SentimentLabel,
    reach: u64,
) -> Interaction {
    let mut s = Seed::new(id, at);
    s.source = "reddit";
    s.text = Some(format!("{} battery recall {id} is everywhere", entity.1));
    s.url = Some(format!("https://reddit.example/{id}"));
    s.handle = Some(format!("user{reach}"));
    s.reach = reach;
    s.fetched_after = None;
    s.scored_after = Duration::seconds(5);
    s.mentions = vec![entity];
    s.label = label;
    // Negative posts here are a little more negative than the seed's default.
    s.compound = (label == SentimentLabel::Negative).then_some(-0.7);
    s.priority = 10;
    s.build()
}

/// acme: 2 posts an hour for 12 hours, then 30 in the last hour (3 of them
/// negative, under `min_negative`); globex: a steady 3 an hour (no spike);
/// initrode: 1 an hour, then 3 (above a flat baseline, under `min_mentions`).
pub fn spike_seeds(now: DateTime<Utc>, with_acme: bool) -> Vec<Interaction> {
    let mut out = Vec::new();
    let acme = (EntityKind::Brand, "acme");
    let globex = (EntityKind::Competitor, "globex");
    let initrode = (EntityKind::Competitor, "initrode");
    for h in 1..=12 {
        let at = now - Duration::minutes(h * 60 + 30);
        if with_acme {
            for n in 0..2 {
                out.push(post(
                    &format!("a{h}_{n}"),
                    acme,
                    at + Duration::minutes(n),
                    SentimentLabel::Neutral,
                    10,
                ));
            }
        }
        for n in 0..3 {
            out.push(post(
                &format!("g{h}_{n}"),
                globex,
                at + Duration::minutes(n),
                SentimentLabel::Neutral,
                10,
            ));
        }
        out.push(post(
            &format!("i{h}"),
            initrode,
            at,
            SentimentLabel::Neutral,
            10,
        ));
    }
    // The last hour, at least 3 minutes old so a minute boundary before the run changes nothing.
    for n in 0..3i64 {
        out.push(post(
            &format!("g_last{n}"),
            globex,
            now - Duration::minutes(10 + n),
            SentimentLabel::Neutral,
            10,
        ));
        out.push(post(
            &format!("i_last{n}"),
            initrode,
            now - Duration::minutes(10 + n),
            SentimentLabel::Neutral,
            10,
        ));
    }
    if with_acme {
        for n in 0..30i64 {
            let label = if n < 3 {
                SentimentLabel::Negative
            } else {
                SentimentLabel::Neutral
            };
            out.push(post(
                &format!("spike{n}"),
                acme,
                now - Duration::minutes(3 + n),
                label,
                1000 + n as u64 * 100,
            ));
        }
    }
    out
}

pub fn batch(interactions: Vec<Interaction>) -> Batch {
    let mut b = Batch::default();
    for (n, i) in interactions.into_iter().enumerate() {
        b.push(BatchItem {
            raw: i.to_json(),
            interaction: i,
            position: Position {
                topic: "scored".into(),
                partition: 0,
                offset: n as i64,
            },
        });
    }
    b
}

pub fn sqlite_section(dir: &Path) -> String {
    format!(
        "[sink]\nkind = \"sqlite\"\n[sink.sqlite]\npath = \"{}\"\n",
        dir.join("earshot.db").display()
    )
}

/// The `[alert]` section: the three brands, the daily rule out of the way
/// (the seeds have no week of history), fast retries.
pub fn write_config(dir: &Path, sink: &str) -> std::path::PathBuf {
    let text = format!(
        r#"{sink}
[alert]
only = ["acme", "globex", "initrode"]
link = "https://grafana.example/d/earshot"
[alert.defaults]
min_daily_mentions = 100000
[alert.delivery]
timeout = "2s"
max_attempts = 3
initial_backoff = "50ms"
max_backoff = "200ms"
[[alert.channels]]
name = "pr-slack"
kind = "slack"
url_env = "ISSUE13_SLACK_URL"
[[alert.channels]]
name = "crm-hook"
kind = "webhook"
url_env = "ISSUE13_HOOK_URL"
secret_env = "ISSUE13_HOOK_SECRET"
"#
    );
    let path = dir.join("earshot.toml");
    std::fs::write(&path, text).unwrap();
    path
}

pub async fn alert_once(config: &Path, r: &Receiver) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_earshot"))
        .args(["--config", config.to_str().unwrap(), "alert", "--once"])
        .env_remove("EARSHOT_CONFIG")
        .env("EARSHOT_LOG", "warn")
        .env("ISSUE13_SLACK_URL", r.url("/slack"))
        .env("ISSUE13_HOOK_URL", r.url("/hook"))
        .env("ISSUE13_HOOK_SECRET", SECRET)
        .output()
        .await
        .expect("run earshot")
}

pub fn text(o: &Output) -> String {
    format!(
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

pub async fn seeded_sqlite(with_acme: bool) -> (tempfile::TempDir, std::path::PathBuf, SinkConfig) {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &sqlite_section(dir.path()));
    let mut sink = SinkConfig::default();
    sink.sqlite.path = dir.path().join("earshot.db");
    let store = earshot_sink::sqlite::SqliteStore::open(&sink.sqlite.path).unwrap();
    store.migrate().unwrap();
    store
        .upsert(&batch(spike_seeds(Utc::now(), with_acme)))
        .unwrap();
    (dir, config, sink)
}

/// The one expected alert: acme's hourly spike, to both channels.
pub fn check_spike_requests(r: &Receiver) {
    let slack = r.requests_to("/slack");
    let hook = r.requests_to("/hook");
    assert_eq!(slack.len(), 1, "{slack:?}");
    assert_eq!(hook.len(), 1, "{hook:?}");

    let s = slack[0].json();
    let s_text = s["text"].as_str().unwrap();
    assert!(
        s_text.contains("acme: 30 posts in the last hour"),
        "{s_text}"
    );
    assert!(s["blocks"].as_array().unwrap().len() >= 4, "{s}");

    verify(&hook[0], SECRET.as_bytes()).unwrap();
    let h = hook[0].json();
    assert_eq!(h["brand"], "acme");
    assert_eq!(h["rule"], "volume_spike_1h");
    assert_eq!(h["figures"]["observed"], 30.0);
    assert_eq!(h["figures"]["baseline_mean"], 2.0);
    assert_eq!(h["figures"]["stddev"], 0.0);
    assert_eq!(h["figures"]["threshold"], 2.0);
    let top = h["top_posts"].as_array().unwrap();
    assert_eq!(top.len(), 5);
    // By author reach: spike29 has the most.
    assert_eq!(top[0]["id"], "reddit:spike29");
    assert_eq!(top[0]["reach"], 3900);
    assert_eq!(top[0]["url"], "https://reddit.example/spike29");
    assert!(top[0]["excerpt"]
        .as_str()
        .unwrap()
        .contains("battery recall"));
    assert_eq!(h["top_terms"][0]["term"], "battery");
    assert_eq!(h["top_terms"][0]["posts"], 30);
    assert!(h["link"].as_str().unwrap().contains("brand=acme"));
}

/// acme steady at 10 posts an hour; in the last hour still 10 (no volume
/// spike) but 7 negative and 4 with PR-risk intents.
pub fn surge_seeds(now: DateTime<Utc>) -> Vec<Interaction> {
    let acme = (EntityKind::Brand, "acme");
    let mut out = Vec::new();
    for h in 1..=12 {
        for n in 0..10 {
            let at = now - Duration::minutes(h * 60 + 20) + Duration::minutes(n);
            out.push(post(
                &format!("b{h}_{n}"),
                acme,
                at,
                SentimentLabel::Neutral,
                10,
            ));
        }
    }
    for n in 0..10i64 {
        let label = if n < 7 {
            SentimentLabel::Negative
        } else {
            SentimentLabel::Positive
        };
        let mut i = post(
            &format!("s{n}"),
            acme,
            now - Duration::minutes(3 + n),
            label,
            100 + n as u64,
        );
        if (3..7).contains(&n) {
            i.intents = vec![earshot_model::Intent::PR_RISK];
        }
        out.push(i);
    }
    out
}
