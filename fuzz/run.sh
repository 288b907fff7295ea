#!/usr/bin/env bash
# Runs every fuzz target (or the TARGETs named) for SECONDS each (default
# 60), one after another: fuzz/run.sh [SECONDS [TARGET...]].
# Needs cargo-fuzz (`cargo install cargo-fuzz`) and a nightly toolchain (or
# RUSTC_BOOTSTRAP=1 on stable). Crashes are saved under
# fuzz/artifacts/<target>/; each one becomes a named regression test, and the
# input is committed under regressions/<target>/ so that `cargo test`
# replays it (crates/earshot/tests/fuzz_replay.rs, with the seeds).
set -euo pipefail
seconds="${1:-60}"
cd "$(dirname "$0")"
toolchain=()
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    toolchain=(+nightly)
else
    export RUSTC_BOOTSTRAP=1
fi
status=0
targets=(query_parse config_load post_decode interaction_decode matcher_score html_to_text feed_parse
         hn reddit mastodon bluesky x youtube webhook_body)
if [[ $# -gt 1 ]]; then targets=("${@:2}"); fi
for target in "${targets[@]}"; do
    echo "== $target: ${seconds}s"
    # -timeout: one input taking over 10 s is a finding (a post or query
    # whose cost is out of bounds), not just a slow run.
    # New inputs go to corpus/<target>; seeds/<target> (committed: the
    # bundled watchlists, intents, routes, sample posts) start it off.
    mkdir -p "corpus/$target"
    if ! cargo "${toolchain[@]}" fuzz run "$target" "corpus/$target" "seeds/$target" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048; then
        echo "!! $target found a crash: see fuzz/artifacts/$target/"
        status=1
    fi
done
exit $status
