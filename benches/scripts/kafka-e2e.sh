#!/usr/bin/env bash
# Kafka end-to-end benchmark: pushes posts through raw -> `earshot match` ->
# scored on a real broker and prints posts/s and end-to-end latency
# percentiles, next to the broker's own ceiling measured in the same run (one
# hop: produce then consume; two hops: a bare relay without matching).
#
# Usage: benches/scripts/kafka-e2e.sh [--posts 50000] [--paced 3000] [--rate 500] [--partitions 6]
# Uses the broker in EARSHOT_TEST_KAFKA when set; otherwise starts tansu with
# tests/harness/start.sh (and stops it on exit). Builds in release mode.
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"

cargo build --release -p earshot --bin earshot -p earshot-tests --bin earshot-kafka-bench

if [[ -z "${EARSHOT_TEST_KAFKA:-}" ]]; then
    trap '"$root/tests/harness/stop.sh" || true' EXIT
    env_file="$(mktemp)"
    EARSHOT_HARNESS_SERVICES=kafka "$root/tests/harness/start.sh" >"$env_file"
    # shellcheck disable=SC1090
    source "$env_file"
    rm -f "$env_file"
fi

"$root/target/release/earshot-kafka-bench" --brokers "$EARSHOT_TEST_KAFKA" --earshot "$root/target/release/earshot" "$@"
