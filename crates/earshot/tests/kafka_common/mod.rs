//! Shared set-up of the end-to-end tests that drive the real `earshot`
//! binary against the real broker (`EARSHOT_TEST_KAFKA`).
#![allow(dead_code)] // each test binary uses a different subset

use std::path::{Path, PathBuf};
use std::time::Duration;

use earshot_model::{Post, ORIGIN_HEADER, SCHEMA_HEADER};
use earshot_tests::kafka::{TestRecord, TopicReader};
use earshot_tests::process::Daemon;

/// Texts the posts rotate through: brand mentions, sentiment, intents, noise.
const TEXTS: &[&str] = &[
    "Acme support is great, they fixed my order in minutes",
    "Still waiting for my Acme refund, this is terrible. Anyone from the refund desk?",
    "acme cloud is down again, dashboards not loading",
    "Thinking about switching from Globex to Acme, any advice?",
    "Nice weather today, going for a walk",
    "Initrode shipped the wrong part twice. Never again.",
    "Acme Rocket launch was awesome!!! 🚀",
    "How do I cancel my Globex subscription?",
];

/// Unique topics, group and config file for one test.
pub struct Pipeline {
    pub brokers: String,
    pub dir: tempfile::TempDir,
    pub raw: String,
    pub scored: String,
    pub dead_letter: String,
    pub group: String,
    pub partitions: i32,
    pub config: PathBuf,
}

impl Pipeline {
    /// `None` (skip) when no broker is configured and not under CI.
    pub fn new(name: &str, partitions: i32) -> Option<Pipeline> {
        let brokers = earshot_tests::kafka()?;
        let raw = earshot_tests::unique_name(&format!("{name}_raw"));
        let scored = earshot_tests::unique_name(&format!("{name}_scored"));
        let dead_letter = earshot_tests::unique_name(&format!("{name}_dlq"));
        let group = earshot_tests::unique_name(&format!("{name}_match"));
        let rt = tokio::runtime::Runtime::new().unwrap();
        // Only raw is created here (the test fills it before any daemon runs);
        // the daemon provisions scored and dead-letter itself.
        rt.block_on(earshot_tests::create_named_topic(
            &brokers, &raw, partitions,
        ));
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("earshot.toml");
        std::fs::write(
            &config,
            format!(
                r#"
[transport.kafka]
brokers = "{brokers}"
# tansu answers heartbeats from the same queue as fetches: under a 100k-post
# backlog on 2 busy cores a 6 s session expired, and tansu then handed the
# rejoining member an empty assignment for good. 30 s rides that out.
session_timeout_ms = 30000

[transport.topics]
raw = "{raw}"
scored = "{scored}"
dead_letter = "{dead_letter}"
partitions = {partitions}

[match]
group = "{group}"
commit_interval_ms = 200
progress_interval_secs = 2
drain_timeout_ms = 5000
"#
            ),
        )
        .unwrap();
        Some(Pipeline {
            brokers,
            dir,
            raw,
            scored,
            dead_letter,
            group,
            partitions,
            config,
        })
    }

    /// The raw record of post number `i`.
    pub fn post(i: usize) -> TestRecord {
        let post = Post::new(format!("e2e:{i}"), TEXTS[i % TEXTS.len()]);
        (
            post.id.clone(),
            post.to_json(),
            vec![
                (SCHEMA_HEADER.to_string(), "1".to_string()),
                (ORIGIN_HEADER.to_string(), "test".to_string()),
            ],
        )
    }

    /// Produces posts `range` to the raw topic.
    pub fn produce_posts(&self, range: std::ops::Range<usize>) {
        earshot_tests::kafka::produce(&self.brokers, &self.raw, range.map(Pipeline::post));
    }

    /// Starts `earshot match` with this pipeline's config.
    pub fn start_match(&self, name: &str) -> Daemon {
        Daemon::spawn(
            Path::new(env!("CARGO_BIN_EXE_earshot")),
            &self.config,
            &["match"],
            self.dir.path(),
            name,
        )
    }

    /// A reader of the scored topic, once the daemon created it.
    pub fn scored_reader(&self) -> TopicReader {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(earshot_tests::wait_for_topic(
            &self.brokers,
            &self.scored,
            self.partitions,
        ));
        TopicReader::start(&self.brokers, &self.scored, self.partitions, false)
    }

    /// The match group's committed offsets on the raw topic.
    pub fn committed(&self) -> Vec<Option<i64>> {
        earshot_tests::kafka::committed(&self.brokers, &self.group, &self.raw, self.partitions)
    }

    /// End offsets of the raw topic.
    pub fn raw_end(&self) -> Vec<i64> {
        earshot_tests::kafka::end_offsets(&self.brokers, &self.raw, self.partitions)
    }

    /// Waits until the group committed the raw topic to its end.
    pub fn wait_committed_to_end(&self, timeout: Duration) {
        let end: Vec<Option<i64>> = self.raw_end().into_iter().map(Some).collect();
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let got = self.committed();
            if got == end {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "committed {got:?}, raw ends at {end:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Pipeline {
    /// On a failing test, shows the end of every daemon's log (the temporary
    /// directory holding them is removed right after).
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        let Ok(entries) = std::fs::read_dir(self.dir.path()) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "log") {
                let log = std::fs::read_to_string(&path).unwrap_or_default();
                // Progress lines repeat; keep the last few of them and every other line.
                let progress = log.lines().filter(|l| l.contains("match progress")).count();
                let mut seen = 0;
                let lines: Vec<&str> = log
                    .lines()
                    .filter(|l| {
                        let p = l.contains("match progress");
                        seen += usize::from(p);
                        !p || seen + 3 > progress
                    })
                    .collect();
                eprintln!("----- last lines of {} -----", path.display());
                for l in &lines[lines.len().saturating_sub(60)..] {
                    eprintln!("{l}");
                }
            }
        }
    }
}

/// The `N scored` figure of the daemon's final stats line.
pub fn final_scored(log: &str) -> u64 {
    let line = log
        .lines()
        .rev()
        .find(|l| l.contains("match stage stopped"))
        .unwrap_or_else(|| panic!("no final stats in log:\n{log}"));
    line.split(", ")
        .find_map(|part| {
            part.trim()
                .strip_suffix(" scored")?
                .rsplit(' ')
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("no scored count in {line}"))
}
