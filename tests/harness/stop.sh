#!/usr/bin/env bash
# Stops the servers tests/harness/start.sh started (by the PIDs it recorded) and
# removes their private data directory.
#
# Usage: tests/harness/stop.sh [HARNESS_DIR]   (default: $EARSHOT_HARNESS_DIR)
# Set EARSHOT_HARNESS_KEEP=1 to keep the data and logs for a post-mortem.
set -uo pipefail

DIR="${1:-${EARSHOT_HARNESS_DIR:-}}"
[[ -n "$DIR" && -d "$DIR" ]] || { echo "[harness] nothing to stop (no harness directory)" >&2; exit 0; }

here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=tests/harness/lib.sh
source "$here/lib.sh"

if [[ -d "$DIR/cluster" ]]; then
    EARSHOT_HARNESS_DIR="$DIR" "$here/cluster.sh" stop
fi
stop_pid kafka
stop_pid clickhouse

if [[ "${EARSHOT_HARNESS_KEEP:-0}" == 1 ]]; then
    echo "[harness] kept $DIR" >&2
else
    rm -rf "$DIR"
fi
