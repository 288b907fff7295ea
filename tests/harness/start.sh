#!/usr/bin/env bash
# Starts the real servers Earshot's integration tests use, on 127.0.0.1 only,
# with their data in a private temporary directory:
#   - tansu, a Kafka-protocol broker (SQLite storage), built once with
#     `cargo install` into ${XDG_CACHE_HOME:-$HOME/.cache}/earshot/tools;
#   - ClickHouse (Debian's clickhouse-server), from a private copy of its config;
#   - a ClickHouse cluster (cluster.sh: Debian's zookeeper and two more
#     clickhouse-server processes) for the cluster tests.
# Installs what is missing first.
#
# Usage:   eval "$(tests/harness/start.sh)"   ...   tests/harness/stop.sh
# stdout carries only `export NAME=value` lines (EARSHOT_TEST_KAFKA,
# EARSHOT_TEST_CLICKHOUSE, EARSHOT_TEST_CLUSTER, EARSHOT_HARNESS_DIR); progress
# goes to stderr.
#
# When EARSHOT_TEST_KAFKA or EARSHOT_TEST_CLICKHOUSE is already set, that server
# is used as it is and nothing is started for it (so the same suite runs against
# Apache Kafka or a current ClickHouse).
#
# Knobs: EARSHOT_TANSU (path to a tansu binary to use), EARSHOT_HARNESS_DIR
# (directory for data/logs/PIDs; default: a new mktemp directory),
# EARSHOT_HARNESS_SERVICES (default "kafka clickhouse cluster": which servers to start).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=tests/harness/lib.sh
source "$here/lib.sh"

TOOLS="${XDG_CACHE_HOME:-$HOME/.cache}/earshot/tools"
TANSU_VERSION=0.6.0

if [[ -z "${EARSHOT_HARNESS_DIR:-}" ]]; then
    EARSHOT_HARNESS_DIR="$(mktemp -d "${TMPDIR:-/tmp}/earshot-harness.XXXXXX")"
fi
DIR="$EARSHOT_HARNESS_DIR"
mkdir -p "$DIR"
chmod 700 "$DIR"
# If anything below fails, stop what this run already started.
trap 'rc=$?; if [[ $rc -ne 0 ]]; then EARSHOT_HARNESS_DIR="$DIR" "$(dirname "$0")/stop.sh" >&2 || true; fi' EXIT

# ---------------------------------------------------------------- Kafka (tansu)
install_tansu() {
    local bin="$TOOLS/bin/tansu"
    if [[ -n "${EARSHOT_TANSU:-}" ]]; then echo "$EARSHOT_TANSU"; return; fi
    mkdir -p "$TOOLS"
    # One build at a time, even when several harnesses (or CI jobs) start together.
    exec 9>"$TOOLS/.tansu-install.lock"
    if ! flock -n 9; then
        log "another tansu build holds $TOOLS/.tansu-install.lock; waiting for it"
        flock 9
    fi
    if [[ ! -x "$bin" ]]; then
        command -v cargo >/dev/null || die "cargo is needed to build tansu"
        log "building tansu $TANSU_VERSION into $TOOLS (about 15 minutes on 2 cores, once per machine)"
        cargo install tansu --version "$TANSU_VERSION" --locked --features libsql --root "$TOOLS" \
            >"$TOOLS/tansu-install.log" 2>&1 || die "cargo install tansu failed; see $TOOLS/tansu-install.log"
    fi
    exec 9>&-
    echo "$bin"
}

# tansu 0.6.0's SQLite schema has no index on header(topition, offset_id), and
# every fetched record looks its headers up with a join on exactly that: each
# record read scans every header ever stored, so a broker holding a few
# hundred thousand records with headers (Earshot always sends schema and origin
# headers) stalls for minutes on one fetch and stops answering. The index is
# what the schema is missing; it changes no behaviour, only the query plan.
index_tansu_headers() {
    local db=$1
    command -v sqlite3 >/dev/null || apt_install sqlite3
    for _ in $(seq 1 100); do
        if [[ "$(sqlite3 -cmd ".timeout 5000" "$db" "SELECT count(*) FROM sqlite_master WHERE name = 'header'" 2>/dev/null)" == 1 ]]; then
            sqlite3 -cmd ".timeout 10000" "$db" \
                "CREATE INDEX IF NOT EXISTS earshot_header_record ON header (topition, offset_id)" \
                || die "cannot add the header index to $db"
            return 0
        fi
        sleep 0.1
    done
    die "tansu did not create its schema in $db"
}

start_tansu() {
    local tansu port pid
    tansu="$(install_tansu)"
    port="$(free_port)"
    mkdir -p "$DIR/kafka"
    # The SQLite path is relative to the working directory; RUST_LOG stays unset
    # (at info level tansu logs gigabytes).
    (
        cd "$DIR/kafka"
        unset RUST_LOG OTEL_EXPORTER_OTLP_ENDPOINT LISTENER_URL ADVERTISED_LISTENER_URL STORAGE_ENGINE SCHEMA_REGISTRY
        exec "$tansu" broker \
            --listener-url "tcp://127.0.0.1:$port" \
            --advertised-listener-url "tcp://127.0.0.1:$port" \
            --storage-engine "sqlite://tansu.db"
    ) >"$DIR/kafka.log" 2>&1 &
    pid=$!
    echo "$pid" >"$DIR/kafka.pid"
    wait_tcp "$port" "$pid" kafka 60
    index_tansu_headers "$DIR/kafka/tansu.db"
    log "tansu (pid $pid) listening on 127.0.0.1:$port, data in $DIR/kafka"
    EARSHOT_TEST_KAFKA="127.0.0.1:$port"
}

# ---------------------------------------------------------------- ClickHouse
start_clickhouse() {
    install_clickhouse
    local ch="$DIR/clickhouse" http tcp inter
    http="$(free_port)"; tcp="$(free_port)"; inter="$(free_port)"
    configure_clickhouse "$ch" "$http" "$tcp" "$inter"
    launch_clickhouse clickhouse "$ch" "$http"
    EARSHOT_TEST_CLICKHOUSE="http://127.0.0.1:$http"
}

# The console's browser test drives Debian's headless chromium.
if ! command -v chromium >/dev/null; then
    apt_install chromium
fi

SERVICES=" ${EARSHOT_HARNESS_SERVICES:-kafka clickhouse cluster} "
if [[ -n "${EARSHOT_TEST_KAFKA:-}" ]]; then
    log "using the Kafka broker at EARSHOT_TEST_KAFKA=$EARSHOT_TEST_KAFKA"
elif [[ "$SERVICES" == *" kafka "* ]]; then
    start_tansu
fi
if [[ -n "${EARSHOT_TEST_CLICKHOUSE:-}" ]]; then
    log "using ClickHouse at EARSHOT_TEST_CLICKHOUSE=$EARSHOT_TEST_CLICKHOUSE"
elif [[ "$SERVICES" == *" clickhouse "* ]]; then
    start_clickhouse
fi

# The ClickHouse cluster tests (issue 18): ZooKeeper and two more servers.
if [[ -n "${EARSHOT_TEST_CLUSTER:-}" ]]; then
    log "using the ClickHouse cluster at EARSHOT_TEST_CLUSTER=$EARSHOT_TEST_CLUSTER"
elif [[ "$SERVICES" == *" cluster "* ]]; then
    cluster_env="$(EARSHOT_HARNESS_DIR="$DIR" "$here/cluster.sh" start)"
    eval "$cluster_env"
fi

printf 'export EARSHOT_HARNESS_DIR=%q\n' "$DIR"
[[ -n "${EARSHOT_TEST_KAFKA:-}" ]] && printf 'export EARSHOT_TEST_KAFKA=%q\n' "$EARSHOT_TEST_KAFKA"
[[ -n "${EARSHOT_TEST_CLICKHOUSE:-}" ]] && printf 'export EARSHOT_TEST_CLICKHOUSE=%q\n' "$EARSHOT_TEST_CLICKHOUSE"
[[ -n "${EARSHOT_TEST_CLUSTER:-}" ]] && printf 'export EARSHOT_TEST_CLUSTER=%q\n' "$EARSHOT_TEST_CLUSTER"
exit 0
