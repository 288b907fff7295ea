#!/usr/bin/env bash
# End-to-end benchmark Kafka -> `earshot match` -> `earshot sink` -> ClickHouse,
# compared in the same run with a bare consumer that inserts the raw topic
# unmatched, and with ClickHouse's own Kafka engine where it can reach the
# broker. Prints posts/s and produce -> visible latency p50/p99.
#
# Usage: benches/e2e/run.sh [--posts 100000] [--paced 2000] [--rate 500] [--partitions 3]
# Uses EARSHOT_TEST_KAFKA / EARSHOT_TEST_CLICKHOUSE when set; otherwise starts
# the missing servers with tests/harness/start.sh and stops them on exit.
# Builds in release mode (EARSHOT_E2E_NO_BUILD=1 skips the build).
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"

posts=100000
paced=2000
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
    case "${args[$i]}" in
        --posts) posts="${args[$((i + 1))]}" ;;
        --paced) paced="${args[$((i + 1))]}" ;;
    esac
done

if [[ -z "${EARSHOT_E2E_NO_BUILD:-}" ]]; then
    cargo build --release -p earshot --bin earshot -p earshot-benches --bin earshot-e2e-bench
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/earshot-e2e.XXXXXX")"
started=""
cleanup() {
    if [[ -n "$started" ]]; then "$root/tests/harness/stop.sh" "$started" || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

if [[ -z "${EARSHOT_TEST_KAFKA:-}" || -z "${EARSHOT_TEST_CLICKHOUSE:-}" ]]; then
    # start.sh leaves alone any server whose variable is already set.
    EARSHOT_HARNESS_SERVICES="kafka clickhouse" "$root/tests/harness/start.sh" >"$work/env"
    # shellcheck disable=SC1091
    source "$work/env"
    started="$EARSHOT_HARNESS_DIR"
fi

echo "[e2e] generating $((posts + paced)) posts with benches/fixtures/gen_posts.py" >&2
python3 benches/fixtures/gen_posts.py --count $((posts + paced)) --seed 7 >"$work/posts.jsonl"

"$root/target/release/earshot-e2e-bench" --brokers "$EARSHOT_TEST_KAFKA" \
    --clickhouse "$EARSHOT_TEST_CLICKHOUSE" --earshot "$root/target/release/earshot" \
    --posts-file "$work/posts.jsonl" "$@"

# The Kafka engine's librdkafka writes its errors to the server's stderr
# (the harness's clickhouse.log), not to query replies or the server log.
for log in "${EARSHOT_HARNESS_DIR:-/nonexistent}/clickhouse.log" "${EARSHOT_HARNESS_DIR:-/nonexistent}/clickhouse/log/clickhouse-server.log"; do
    if [[ -f "$log" ]] && grep -qE "^%[0-9]\|" "$log"; then
        echo "ClickHouse's librdkafka (Kafka engine) said, last line:"
        grep -E "^%[0-9]\|" "$log" | tail -1
    fi
done
