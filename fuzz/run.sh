#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 60), one after another.
# Needs cargo-fuzz (`cargo install cargo-fuzz`) and a nightly toolchain (or
# RUSTC_BOOTSTRAP=1 on stable). Crashes are saved under
# fuzz/artifacts/<target>/; each one becomes a named regression test.
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
for target in query_parse config_load post_decode matcher_score; do
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
