# Functions shared by the harness scripts (start.sh, cluster.sh): logging,
# free ports, waiting for a listener, installing with apt, and a private
# clickhouse-server (config copied from the package, paths and ports moved).
# Sourced, not run. The caller sets DIR (its state directory).

log() { echo "[harness] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

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

install_clickhouse() {
    command -v curl >/dev/null || apt_install curl
    if ! command -v clickhouse-server >/dev/null || ! command -v clickhouse-client >/dev/null; then
        apt_install clickhouse-server clickhouse-client
    fi
}

# Writes a private copy of the packaged config into $1 listening on HTTP
# port $2, native port $3 and interserver port $4, on 127.0.0.1 only, with
# data and logs under $1.
configure_clickhouse() {
    local ch=$1 http=$2 tcp=$3 inter=$4 etc=/etc/clickhouse-server
    mkdir -p "$ch/data/tmp" "$ch/data/user_files" "$ch/data/format_schemas" "$ch/log"
    cp "$etc/config.xml" "$etc/users.xml" "$ch/"
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
    return 0
}

# Starts the server configured in $2 as $DIR/$1.{pid,log} and waits until its
# HTTP port $3 answers SELECT 1.
launch_clickhouse() {
    local name=$1 ch=$2 http=$3 pid
    (
        cd "$ch"
        exec clickhouse-server --config-file="$ch/config.xml"
    ) >"$DIR/$name.log" 2>&1 &
    pid=$!
    echo "$pid" >"$DIR/$name.pid"
    wait_tcp "$http" "$pid" "$name" 60
    for _ in $(seq 1 300); do
        if [[ "$(curl -fsS "http://127.0.0.1:$http/?query=SELECT%201" 2>/dev/null)" == "1" ]]; then
            log "$name (pid $pid) answering on http://127.0.0.1:$http, data in $ch"
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || die "$name exited during start-up; see $DIR/$name.log and $ch/log"
        sleep 0.1
    done
    die "$name did not answer SELECT 1 within 30s; see $ch/log"
}

# Stops the process whose PID is in $DIR/$1.pid: SIGTERM, then SIGKILL after 15 s.
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
