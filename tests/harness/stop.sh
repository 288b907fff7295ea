#!/usr/bin/env bash
# Stops the servers tests/harness/start.sh started (by the PIDs it recorded) and
# removes their private data directory.
#
# Usage: tests/harness/stop.sh [HARNESS_DIR]   (default: $EARSHOT_HARNESS_DIR)
# Set EARSHOT_HARNESS_KEEP=1 to keep the data and logs for a post-mortem.
set -uo pipefail

DIR="${1:-${EARSHOT_HARNESS_DIR:-}}"
[[ -n "$DIR" && -d "$DIR" ]] || { echo "[harness] nothing to stop (no harness directory)" >&2; exit 0; }

stop_pid() {
    local name=$1 file="$DIR/$1.pid" pid
    [[ -f "$file" ]] || return 0
    pid="$(cat "$file")"
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null
        # tansu stops about 2 s after SIGTERM, ClickHouse within a few seconds.
        for _ in $(seq 1 150); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            echo "[harness] $name (pid $pid) ignored SIGTERM for 15 s; killing it" >&2
            kill -KILL "$pid" 2>/dev/null
        fi
        echo "[harness] stopped $name (pid $pid)" >&2
    fi
    rm -f "$file"
}

stop_pid kafka
stop_pid clickhouse

if [[ "${EARSHOT_HARNESS_KEEP:-0}" == 1 ]]; then
    echo "[harness] kept $DIR" >&2
else
    rm -rf "$DIR"
fi
