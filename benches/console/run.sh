#!/usr/bin/env bash
# Console page times on the embedded store at 1M interactions (issue 15).
# Seeds a SQLite store in a temporary directory (about 1 GB), times every
# page, then deletes the store (KEEP=1 keeps it in $CONSOLE_BENCH_DIR to re-time).
# Usage: benches/console/run.sh [ROWS]     (env: CONSOLE_BENCH_ROUNDS=5, PROFILE=dev|release; dev: dependencies at opt-level 2, as the tests build them)
set -euo pipefail
cd "$(dirname "$0")/../.."
ROWS=${1:-1000000}
PROFILE=${PROFILE:-dev}
DIR=${CONSOLE_BENCH_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/earshot-console-bench.XXXXXX")}
if [[ "${KEEP:-0}" != 1 ]]; then trap 'rm -rf "$DIR"' EXIT; fi
if [[ $PROFILE == release ]]; then flag=--release; bin=target/release; else flag=; bin=target/debug; fi
cargo build $flag -p earshot-benches --bin earshot-console-bench >&2
"$bin/earshot-console-bench" "$DIR/earshot.db" "$ROWS"
"$bin/earshot-console-bench" --write-cost "$DIR" "${WRITE_COST_ROWS:-200000}"
du -sh "$DIR" | sed 's/^/store size: /'
