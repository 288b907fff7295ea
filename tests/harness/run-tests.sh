#!/usr/bin/env bash
# Runs Earshot's whole test suite against real servers: starts them (see
# start.sh), runs `cargo test --workspace`, and stops them on exit even when
# tests fail. This is the command the README and .ci/run use.
#
# Usage: tests/harness/run-tests.sh [extra `cargo test` arguments]
# Servers already given in EARSHOT_TEST_KAFKA / EARSHOT_TEST_CLICKHOUSE are used
# as they are. With CI=true, tests needing a server fail instead of skipping.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/../.."

# Stop on every exit path: success, test failure, Ctrl-C.
cleanup() { "$here/stop.sh" || true; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# chdb-core (ClickHouse 26.x for crates/sink/tests/issue_13_chdb.rs) installs
# while the servers start; the test waits for it (chdb-env.sh holds a lock)
# and reports any install failure itself.
"$here/chdb-env.sh" >/dev/null 2>&1 &

env_file="$(mktemp)"
"$here/start.sh" >"$env_file"
# shellcheck disable=SC1090
source "$env_file"
rm -f "$env_file"
echo "[harness] EARSHOT_TEST_KAFKA=$EARSHOT_TEST_KAFKA EARSHOT_TEST_CLICKHOUSE=$EARSHOT_TEST_CLICKHOUSE EARSHOT_TEST_CLUSTER=${EARSHOT_TEST_CLUSTER:-}" >&2

# Every benchmark script is reachable from the one entry point.
benches/run.sh --check

# --no-fail-fast: one failing test binary must not hide the results of the others.
cargo test --workspace --no-fail-fast "$@"
# The patched vendored crate's own tests (vendor/ is outside the workspace).
if [[ $# -eq 0 ]]; then cargo test -p whichlang; fi

# The fault campaign at smoke size (issue 12; about 2-3 minutes): the whole
# pipeline on 3,000 posts while daemons are killed, the broker and ClickHouse
# stopped, a table refuses inserts and disks fill up. It starts its own
# servers (it stops and fills them) and needs root for its tmpfs mounts.
# EARSHOT_FAULTS_SMOKE=0 skips it (as does a filtered run, `run-tests.sh ARGS`).
if [[ "${EARSHOT_FAULTS_SMOKE:-1}" == 1 && $# -eq 0 ]]; then
    if [[ $(id -u) -ne 0 ]]; then
        if [[ "${CI:-}" == true || "${CI:-}" == 1 ]]; then
            echo "[harness] the fault campaign needs root (tmpfs mounts)" >&2
            exit 1
        fi
        echo "[harness] skipping the fault campaign: it needs root (tmpfs mounts)" >&2
    else
        cargo build -p earshot -p earshot-tests --bins
        "$here/../faults/run.sh"
    fi
fi
