#!/usr/bin/env bash
# Console page times on the embedded store at 1M interactions (issue 15).
# Seeds a SQLite store in a temporary directory (about 1 GB), times every
# page, then deletes the store (KEEP=1 keeps it in $CONSOLE_BENCH_DIR to re-time).
# Usage: benches/console/run.sh [ROWS]     (env: CONSOLE_BENCH_ROUNDS=5, PROFILE=dev|release; dev: dependencies at opt-level 2, as the tests build them)
# With CLICKHOUSE_URL=http://HOST:PORT the same pages are timed over ClickHouse
# instead: a database of its own is created, seeded through the ClickHouse sink,
# timed, and dropped (KEEP=1 keeps it; CONSOLE_BENCH_DB names it).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROWS=${1:-1000000}
PROFILE=${PROFILE:-dev}
DIR=${CONSOLE_BENCH_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/earshot-console-bench.XXXXXX")}
if [[ "${KEEP:-0}" != 1 ]]; then trap 'rm -rf "$DIR"' EXIT; fi
if [[ $PROFILE == release ]]; then flag=--release; bin=target/release; else flag=; bin=target/debug; fi
cargo build $flag -p earshot-benches --bin earshot-console-bench >&2
if [[ -n "${CLICKHOUSE_URL:-}" ]]; then
    DB=${CONSOLE_BENCH_DB:-earshot_console_bench_$$}
    if [[ "${KEEP:-0}" != 1 ]]; then
        trap 'curl -sS "$CLICKHOUSE_URL/" --data-binary "DROP DATABASE IF EXISTS $DB" >&2; rm -rf "$DIR"' EXIT
    fi
    "$bin/earshot-console-bench" --clickhouse "$CLICKHOUSE_URL" "$DB" "$ROWS"
    exit 0
fi
"$bin/earshot-console-bench" "$DIR/earshot.db" "$ROWS"
"$bin/earshot-console-bench" --write-cost "$DIR" "${WRITE_COST_ROWS:-200000}"
du -sh "$DIR" | sed 's/^/store size: /'
