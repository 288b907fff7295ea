//! Every fuzz target's committed seeds and crash inputs (`fuzz/seeds/<target>`,
//! `fuzz/regressions/<target>`), run through the same check functions the
//! cargo-fuzz targets run (`fuzz/checks.rs`), in a plain `cargo test`: CI
//! exercises the targets without nightly or libFuzzer (issue 12).

#[path = "../../../fuzz/checks.rs"]
mod checks;

use std::path::Path;

#[test]
fn issue_12_fuzz_seeds_and_crash_inputs_replay_through_every_target() {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    for (target, check) in checks::TARGETS {
        let mut seeds = 0;
        for dir in ["seeds", "regressions"] {
            let Ok(entries) = std::fs::read_dir(fuzz.join(dir).join(target)) else {
                continue;
            };
            for entry in entries {
                let path = entry.expect("readable directory").path();
                let data = std::fs::read(&path).expect("readable seed");
                let outcome = std::panic::catch_unwind(|| check(&data));
                assert!(
                    outcome.is_ok(),
                    "{target}: {} fails its check",
                    path.display()
                );
                seeds += 1;
            }
        }
        assert!(
            seeds > 0,
            "{target} has no committed seed under fuzz/seeds/{target}"
        );
    }
    // Every target run.sh runs is replayed here, and the other way round.
    let script = std::fs::read_to_string(fuzz.join("run.sh")).expect("fuzz/run.sh");
    let words: Vec<&str> = script
        .split(|c: char| c.is_whitespace() || c == '(' || c == ')')
        .collect();
    for (target, _) in checks::TARGETS {
        assert!(words.contains(target), "run.sh does not run {target}");
    }
}
