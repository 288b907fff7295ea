#!/usr/bin/env bash
# Installs chdb-core (ClickHouse 26.x embedded in a Python module) into a venv
# under ${XDG_CACHE_HOME:-$HOME/.cache}/earshot/tools/chdb once, and prints the
# path of that venv's python on stdout. A second call finds the stamp file and
# returns at once. The ClickHouse comparison test
# (crates/sink/tests/issue_13_chdb.rs) runs its driver with that python.
#
# Usage:   python="$(tests/harness/chdb-env.sh)"
# Knobs:   EARSHOT_CHDB_PYTHON (an interpreter that already imports chdb: used
#          as it is), EARSHOT_CHDB_VERSION (default below).
# Progress goes to stderr; exit status is non-zero when the install failed
# (no network, no python3 venv), with the reason on stderr.
set -euo pipefail

log() { echo "[chdb] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

if [[ -n "${EARSHOT_CHDB_PYTHON:-}" ]]; then
    echo "$EARSHOT_CHDB_PYTHON"
    exit 0
fi

VERSION="${EARSHOT_CHDB_VERSION:-26.9.0}"
TOOLS="${XDG_CACHE_HOME:-$HOME/.cache}/earshot/tools"
VENV="$TOOLS/chdb-$VERSION"
STAMP="$VENV/.earshot-installed"

if [[ -f "$STAMP" && -x "$VENV/bin/python" ]]; then
    echo "$VENV/bin/python"
    exit 0
fi

mkdir -p "$TOOLS"
# One install at a time: start.sh may run this in the background while a test
# calls it too; the second waits for the first and then finds the stamp.
exec 9>"$TOOLS/.chdb-install.lock"
if ! flock -n 9; then
    log "another chdb install holds $TOOLS/.chdb-install.lock; waiting for it"
    flock 9
fi
if [[ ! -f "$STAMP" ]]; then
    # A fresh Debian or Ubuntu machine may lack python3 or its venv module.
    if ! command -v python3 >/dev/null || ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
        command -v apt-get >/dev/null || die "python3 with the venv module is needed for chdb"
        log "installing python3 and python3-venv with apt-get"
        if [[ $(id -u) -eq 0 ]]; then as_root=(); else as_root=(sudo); fi
        { "${as_root[@]}" apt-get update && "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
            apt-get install -y python3 python3-venv; } >&2 || die "cannot install python3-venv"
    fi
    rm -rf "$VENV"
    log "installing chdb-core $VERSION into $VENV (about 150 MB, once per machine)"
    python3 -m venv "$VENV" >&2 || die "python3 -m venv $VENV failed"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "chdb-core==$VERSION" \
        >"$TOOLS/chdb-install.log" 2>&1 \
        || { rm -rf "$VENV"; die "pip install chdb-core==$VERSION failed; see $TOOLS/chdb-install.log"; }
    "$VENV/bin/python" -c 'import chdb; chdb.query("SELECT 1", "CSV")' >&2 \
        || { rm -rf "$VENV"; die "chdb-core installed but cannot run a query"; }
    touch "$STAMP"
    log "chdb-core $VERSION ready in $VENV"
fi
exec 9>&-
echo "$VENV/bin/python"
