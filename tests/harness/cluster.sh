#!/usr/bin/env bash
# A ClickHouse cluster on loopback for the cluster tests (issue 18): Debian's
# ZooKeeper and two clickhouse-server processes, each with its own data and
# ports, and two clusters over the same two servers:
#   earshot_replicas  one shard, two replicas (macro {shard} = 01 on both)
#   earshot_shards    two shards, one replica each (macro {shard_of_two} = 01, 02)
# Both servers have macro {replica} = ch1 / ch2. The two clusters need
# different shard macros because a replicated table's ZooKeeper path must
# be shared by replicas and distinct between shards.
#
# Usage (state under $EARSHOT_HARNESS_DIR/cluster):
#   tests/harness/cluster.sh start          prints `export EARSHOT_TEST_CLUSTER=DIR`
#   tests/harness/cluster.sh stop-server N  stops server N (1 or 2), keeping its data
#   tests/harness/cluster.sh start-server N starts it again on the same ports
#   tests/harness/cluster.sh stop           stops everything and removes the state
# DIR/env holds the servers' addresses as shell assignments:
#   CLUSTER_HTTP_1, CLUSTER_HTTP_2 (http://127.0.0.1:PORT), CLUSTER_TCP_1,
#   CLUSTER_TCP_2, CLUSTER_ZOOKEEPER (127.0.0.1:PORT).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=tests/harness/lib.sh
source "$here/lib.sh"

[[ -n "${EARSHOT_HARNESS_DIR:-}" ]] || die "EARSHOT_HARNESS_DIR is not set"
DIR="$EARSHOT_HARNESS_DIR/cluster"

install_zookeeper() {
    [[ -f /usr/share/java/zookeeper.jar ]] || apt_install zookeeper
    command -v java >/dev/null || apt_install default-jre-headless
}

# ZooKeeper answers `ruok` with `imok` once it serves clients.
zookeeper_ok() {
    [[ "$(timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1; printf ruok >&3; cat <&3" 2>/dev/null)" == imok ]]
}

start_zookeeper() {
    # A JVM that exits during start-up (a port taken between the check and
    # the bind, once in CI) gets two more tries on fresh ports.
    local attempt
    for attempt in 1 2 3; do
        try_zookeeper && return 0
        log "zookeeper exited during start-up (attempt $attempt); its log ends:"
        tail -n 20 "$DIR/zookeeper.log" >&2 || true
    done
    die "zookeeper exited during start-up three times; see $DIR/zookeeper.log"
}

# Starts ZooKeeper on a free port: 0 once it answers, 1 if it exited.
try_zookeeper() {
    local port pid
    port="$(free_port)"
    rm -rf "$DIR/zookeeper"
    mkdir -p "$DIR/zookeeper"
    # A short tick keeps start-up and session expiry fast; the admin server
    # (port 8080 by default) is off; 256 MB of heap is plenty for two servers.
    cat >"$DIR/zookeeper/zoo.cfg" <<CFG
tickTime=500
initLimit=10
syncLimit=5
dataDir=$DIR/zookeeper
clientPort=$port
clientPortAddress=127.0.0.1
admin.enableServer=false
4lw.commands.whitelist=ruok
CFG
    java -Xmx256m -Xss512k -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
        -cp /usr/share/java/zookeeper.jar \
        org.apache.zookeeper.server.quorum.QuorumPeerMain "$DIR/zookeeper/zoo.cfg" \
        >"$DIR/zookeeper.log" 2>&1 &
    pid=$!
    echo "$pid" >"$DIR/zookeeper.pid"
    for _ in $(seq 1 300); do
        if zookeeper_ok "$port"; then
            log "zookeeper (pid $pid) serving 127.0.0.1:$port"
            echo "CLUSTER_ZOOKEEPER=127.0.0.1:$port" >>"$DIR/env"
            ZK_PORT=$port
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.1
    done
    die "zookeeper did not answer within 30s; see $DIR/zookeeper.log"
}

# The cluster part of server $1's config: ZooKeeper, its macros, both clusters.
cluster_xml() {
    local n=$1
    cat <<XML
<yandex>
    <interserver_http_host>127.0.0.1</interserver_http_host>
    <zookeeper>
        <node><host>127.0.0.1</host><port>$ZK_PORT</port></node>
        <session_timeout_ms>10000</session_timeout_ms>
    </zookeeper>
    <macros>
        <shard>01</shard>
        <shard_of_two>0$n</shard_of_two>
        <replica>ch$n</replica>
    </macros>
    <remote_servers>
        <earshot_replicas>
            <shard>
                <internal_replication>true</internal_replication>
                <replica><host>127.0.0.1</host><port>$TCP_1</port></replica>
                <replica><host>127.0.0.1</host><port>$TCP_2</port></replica>
            </shard>
        </earshot_replicas>
        <earshot_shards>
            <shard>
                <internal_replication>true</internal_replication>
                <replica><host>127.0.0.1</host><port>$TCP_1</port></replica>
            </shard>
            <shard>
                <internal_replication>true</internal_replication>
                <replica><host>127.0.0.1</host><port>$TCP_2</port></replica>
            </shard>
        </earshot_shards>
    </remote_servers>
</yandex>
XML
}

start_server() {
    local n=$1
    # shellcheck disable=SC1091
    source "$DIR/env"
    local http_var="CLUSTER_HTTP_$n"
    launch_clickhouse "ch$n" "$DIR/ch$n" "${!http_var##*:}"
}

cmd_start() {
    [[ ! -e "$DIR/env" ]] || die "$DIR already holds a cluster; run \`$0 stop\` first"
    mkdir -p "$DIR"
    chmod 700 "$DIR"
    trap 'rc=$?; if [[ $rc -ne 0 ]]; then cmd_stop; fi' EXIT
    install_zookeeper
    install_clickhouse
    : >"$DIR/env"
    start_zookeeper
    local n http inter
    TCP_1="$(free_port)"
    TCP_2="$(free_port)"
    while [[ $TCP_2 == "$TCP_1" ]]; do TCP_2="$(free_port)"; done
    for n in 1 2; do
        local tcp_var="TCP_$n"
        http="$(free_port)"; inter="$(free_port)"
        configure_clickhouse "$DIR/ch$n" "$http" "${!tcp_var}" "$inter"
        mkdir -p "$DIR/ch$n/config.d"
        cluster_xml "$n" >"$DIR/ch$n/config.d/cluster.xml"
        printf 'CLUSTER_HTTP_%s=http://127.0.0.1:%s\nCLUSTER_TCP_%s=%s\n' "$n" "$http" "$n" "${!tcp_var}" >>"$DIR/env"
    done
    start_server 1
    start_server 2
    printf 'export EARSHOT_TEST_CLUSTER=%q\n' "$DIR"
}

cmd_stop() {
    [[ -d "$DIR" ]] || return 0
    stop_pid ch1
    stop_pid ch2
    stop_pid zookeeper
    if [[ "${EARSHOT_HARNESS_KEEP:-0}" == 1 ]]; then log "kept $DIR"; else rm -rf "$DIR"; fi
}

server_arg() {
    [[ "${1:-}" == 1 || "${1:-}" == 2 ]] || die "expected a server number, 1 or 2"
    [[ -f "$DIR/env" ]] || die "no cluster in $DIR; run \`$0 start\` first"
}

case "${1:-}" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    stop-server) server_arg "${2:-}"; stop_pid "ch$2" ;;
    start-server) server_arg "${2:-}"; start_server "$2" ;;
    *) die "usage: $0 start | stop | stop-server N | start-server N" ;;
esac
