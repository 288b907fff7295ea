#!/usr/bin/env bash
# Starts the real servers Earshot's integration tests use, on 127.0.0.1 only,
# with their data in a private temporary directory:
#   - tansu, a Kafka-protocol broker (SQLite storage), built once with
#     `cargo install` into ${XDG_CACHE_HOME:-$HOME/.cache}/earshot/tools;
#   - ClickHouse (Debian's clickhouse-server), from a private copy of its config.
# Installs what is missing first.
#
# Usage:   eval "$(tests/harness/start.sh)"   ...   tests/harness/stop.sh
# stdout carries only `export NAME=value` lines (EARSHOT_TEST_KAFKA,
# EARSHOT_TEST_CLICKHOUSE, EARSHOT_HARNESS_DIR); progress goes to stderr.
#
# When EARSHOT_TEST_KAFKA or EARSHOT_TEST_CLICKHOUSE is already set, that server
# is used as it is and nothing is started for it (so the same suite runs against
# Apache Kafka or a current ClickHouse).
#
# Knobs: EARSHOT_TANSU (path to a tansu binary to use), EARSHOT_HARNESS_DIR
# (directory for data/logs/PIDs; default: a new mktemp directory),
# EARSHOT_HARNESS_SERVICES (default "kafka clickhouse": which servers to start).
set -euo pipefail

log() { echo "[harness] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

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

# A TCP port nothing listens on right now. Random, so parallel harnesses rarely collide.
free_port() {
    local p
    for _ in $(seq 1 200); do
        p=$(( 20000 + RANDOM % 40000 ))
        if command -v ss >/dev/null; then
            ss -Hltn "sport = :$p" 2>/dev/null | grep -q . && continue
        fi
        if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then continue; fi
        echo "$p"
        return 0
    done
    die "no free TCP port found"
}

# Waits until host:port accepts TCP connections, or the process died, or the timeout.
wait_tcp() {
    local port=$1 pid=$2 name=$3 timeout=$4
    for _ in $(seq 1 $(( timeout * 10 ))); do
        kill -0 "$pid" 2>/dev/null || die "$name exited during start-up; see $DIR/$name.log"
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    die "$name did not listen on 127.0.0.1:$port within ${timeout}s; see $DIR/$name.log"
}

as_root() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi; }

APT_UPDATED=0
apt_install() {
    log "installing $* with apt-get"
    if [[ $APT_UPDATED == 0 ]]; then as_root apt-get update >&2; APT_UPDATED=1; fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y "$@" >&2
}

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
install_clickhouse() {
    command -v curl >/dev/null || apt_install curl
    if ! command -v clickhouse-server >/dev/null || ! command -v clickhouse-client >/dev/null; then
        apt_install clickhouse-server clickhouse-client
    fi
}

start_clickhouse() {
    install_clickhouse
    local ch="$DIR/clickhouse" etc=/etc/clickhouse-server pid http tcp inter
    mkdir -p "$ch/data/tmp" "$ch/data/user_files" "$ch/data/format_schemas" "$ch/log"
    cp "$etc/config.xml" "$etc/users.xml" "$ch/"
    http="$(free_port)"; tcp="$(free_port)"; inter="$(free_port)"
    # Every path and every listening port of the packaged config, moved: data and
    # logs into the private directory, ports to free ones, 127.0.0.1 only.
    # The TLS ports are commented out in the package's config; they are removed
    # anyway in case a newer package enables them.
    sed -i \
        -e "s#/var/lib/clickhouse/#$ch/data/#g" \
        -e "s#/var/log/clickhouse-server/#$ch/log/#g" \
        -e "s#<http_port>[0-9]*</http_port>#<http_port>$http</http_port>#" \
        -e "s#<tcp_port>[0-9]*</tcp_port>#<tcp_port>$tcp</tcp_port>#" \
        -e "s#<interserver_http_port>[0-9]*</interserver_http_port>#<interserver_http_port>$inter</interserver_http_port>#" \
        -e "/^[[:space:]]*<https_port>/d" \
        -e "/^[[:space:]]*<tcp_port_secure>/d" \
        -e "/^[[:space:]]*<mysql_port>/d" \
        -e "/^[[:space:]]*<postgresql_port>/d" \
        -e "/^[[:space:]]*<grpc_port>/d" \
        -e "/^[[:space:]]*<listen_host>/d" \
        -e "s#</http_port>#</http_port>\n    <listen_host>127.0.0.1</listen_host>#" \
        "$ch/config.xml"
    grep -q "/var/lib/clickhouse\|/var/log/clickhouse" "$ch/config.xml" && die "unmoved path left in $ch/config.xml"
    (
        cd "$ch"
        exec clickhouse-server --config-file="$ch/config.xml"
    ) >"$DIR/clickhouse.log" 2>&1 &
    pid=$!
    echo "$pid" >"$DIR/clickhouse.pid"
    wait_tcp "$http" "$pid" clickhouse 60
    for _ in $(seq 1 300); do
        if [[ "$(curl -fsS "http://127.0.0.1:$http/?query=SELECT%201" 2>/dev/null)" == "1" ]]; then
            log "clickhouse (pid $pid) answering on http://127.0.0.1:$http (native $tcp), data in $ch"
            EARSHOT_TEST_CLICKHOUSE="http://127.0.0.1:$http"
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || die "clickhouse exited during start-up; see $DIR/clickhouse.log and $ch/log"
        sleep 0.1
    done
    die "clickhouse did not answer SELECT 1 within 30s; see $ch/log"
}

# The console's browser test drives Debian's headless chromium.
if ! command -v chromium >/dev/null; then
    apt_install chromium
fi

SERVICES=" ${EARSHOT_HARNESS_SERVICES:-kafka clickhouse} "
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

printf 'export EARSHOT_HARNESS_DIR=%q\n' "$DIR"
[[ -n "${EARSHOT_TEST_KAFKA:-}" ]] && printf 'export EARSHOT_TEST_KAFKA=%q\n' "$EARSHOT_TEST_KAFKA"
[[ -n "${EARSHOT_TEST_CLICKHOUSE:-}" ]] && printf 'export EARSHOT_TEST_CLICKHOUSE=%q\n' "$EARSHOT_TEST_CLICKHOUSE"
exit 0
