# Helpers of the fault campaign (sourced by tests/faults/run.sh): the
# campaign's own servers, supervised daemons, the fault injectors, and the
# recovery measurement. Everything here acts on the campaign's own servers
# (its own EARSHOT_HARNESS_DIR), never on shared ones.

log() { echo "[faults $(date +%T)] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# ---------------------------------------------------------------- mounts
MOUNTS=()
# Mounts a tmpfs of SIZE at DIR (so the campaign can fill it: disk full).
small_disk() { # dir size
    mkdir -p "$1"
    mount -t tmpfs -o "size=$2" earshot-faults "$1" || die "cannot mount a tmpfs at $1 (the campaign needs root)"
    MOUNTS+=("$1")
}
unmount_all() {
    local m
    for m in "${MOUNTS[@]:-}"; do
        [[ -n "$m" ]] && umount -l "$m" 2>/dev/null || true
    done
    MOUNTS=()
}
# Fills the filesystem holding DIR until writes fail (ENOSPC).
fill_disk() { dd if=/dev/zero of="$1/.earshot-filler" bs=64k 2>/dev/null || true; }
free_disk() { rm -f "$1/.earshot-filler"; }

# ---------------------------------------------------------------- servers
# Starts the campaign's own tansu and ClickHouse (ClickHouse's data on a
# small tmpfs) with tests/harness/start.sh under $HDIR.
start_servers() {
    mkdir -p "$HDIR/clickhouse/data"
    small_disk "$HDIR/clickhouse/data" "$CH_DISK"
    local env_file="$WORK/servers.env" attempt
    # A second try after a failed start: the ports are picked at random
    # without a reservation, so one can be taken between the pick and the
    # bind (seen once in CI, with the suite's own servers still up). The
    # logs are shown before the work directory is removed.
    for attempt in 1 2; do
        if env -u EARSHOT_TEST_KAFKA -u EARSHOT_TEST_CLICKHOUSE -u EARSHOT_TEST_CLUSTER \
            EARSHOT_HARNESS_DIR="$HDIR" EARSHOT_HARNESS_SERVICES="kafka clickhouse" \
            "$ROOT/tests/harness/start.sh" >"$env_file" 2>>"$WORK/harness.log"; then
            break
        fi
        log "servers did not start (attempt $attempt); the harness log and the servers' logs end with:"
        tail -n 20 "$WORK/harness.log" "$HDIR"/*.log >&2 2>/dev/null || true
        stop_servers
        [[ $attempt == 1 ]] || die "servers did not start twice; see the logs above"
    done
    # shellcheck disable=SC1090
    source "$env_file"
    KAFKA=$EARSHOT_TEST_KAFKA CH=$EARSHOT_TEST_CLICKHOUSE
    log "own servers: Kafka $KAFKA, ClickHouse $CH (data on a $CH_DISK tmpfs), in $HDIR"
}
stop_servers() {
    [[ -d "$HDIR" ]] || return 0
    EARSHOT_HARNESS_KEEP=1 EARSHOT_HARNESS_DIR="$HDIR" "$ROOT/tests/harness/stop.sh" 2>>"$WORK/harness.log" || true
}

stop_pid_file() { # file [signal]: SIGTERM (or the signal), wait up to 30 s, then SIGKILL
    local pid
    pid=$(cat "$1")
    kill "-${2:-TERM}" "$pid" 2>/dev/null || return 0
    for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
}

broker_start() {
    local tansu=${EARSHOT_TANSU:-${XDG_CACHE_HOME:-$HOME/.cache}/earshot/tools/bin/tansu} port=${KAFKA##*:}
    (
        cd "$HDIR/kafka"
        unset RUST_LOG
        exec "$tansu" broker --listener-url "tcp://127.0.0.1:$port" \
            --advertised-listener-url "tcp://127.0.0.1:$port" --storage-engine "sqlite://tansu.db"
    ) >>"$HDIR/kafka.log" 2>&1 &
    echo $! >"$HDIR/kafka.pid"
    for _ in $(seq 1 300); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0; sleep 0.1; done
    die "the broker did not come back on port $port"
}

clickhouse_start() {
    (cd "$HDIR/clickhouse" && exec clickhouse-server --config-file="$HDIR/clickhouse/config.xml") >>"$HDIR/clickhouse.log" 2>&1 &
    echo $! >"$HDIR/clickhouse.pid"
    for _ in $(seq 1 600); do [[ "$(curl -fsS "$CH/?query=SELECT%201" 2>/dev/null)" == 1 ]] && return 0; sleep 0.1; done
    die "ClickHouse did not come back"
}

ch() { curl -sS --fail-with-body "$CH/" --data-binary "$1"; }

# ---------------------------------------------------------------- daemons
# Runs `earshot ARGS` under NAME, restarted whenever it exits (as systemd
# would) until $WORK/stopping exists; the current child's PID is in
# $WORK/NAME.pid and every exit is appended to $WORK/exits.log.
declare -A SUP PORT
supervise() { # name args...
    local name=$1; shift
    PORT[$name]=$(free_port)
    (
        while [[ ! -e "$WORK/stopping" ]]; do
            env -u RUST_LOG EARSHOT_LOG=info NO_COLOR=1 EARSHOT_METRICS_ADDR="127.0.0.1:${PORT[$name]}" \
                "$BIN" "$@" >>"$WORK/$name.out" 2>>"$WORK/$name.log" &
            echo $! >"$WORK/$name.pid"
            wait $! && rc=0 || rc=$?
            echo "$(date +%s.%N) $name exit $rc" >>"$WORK/exits.log"
            [[ -e "$WORK/stopping" ]] || sleep 1
        done
    ) 2>>"$WORK/supervise.log" &
    SUP[$name]=$!
}
signal() { kill "-$1" "$(cat "$WORK/$2.pid")" 2>/dev/null || true; }
stop_daemons() {
    touch "$WORK/stopping"
    local name
    for name in "${!SUP[@]}"; do signal TERM "$name"; done
    for name in "${!SUP[@]}"; do wait "${SUP[$name]}" 2>/dev/null || true; done
    SUP=()
}

# Every 2 s, each daemon's watermark and unassigned gauges into $WORK/metrics.tsv.
scrape_metrics() {
    (
        while [[ ! -e "$WORK/stopping" ]]; do
            for name in "${!PORT[@]}"; do
                curl -fsS -m 2 "http://127.0.0.1:${PORT[$name]}/metrics" 2>/dev/null |
                    grep -E '^earshot_(watermark_oldest_seconds|watermark_held_seconds|consumer_unassigned_seconds)' |
                    sed "s/^/$name\t/" >>"$WORK/metrics.tsv" || true
            done
            sleep 2
        done
    ) &
    SCRAPER=$!
}

# Appends the lines of $1 to the watched file $2 at $3 lines per second
# (whole lines per write), counting the `fault:` posts written in $2.fed.
feed() { # source dest rate
    python3 - "$@" <<'PY' &
import sys, time
src, dest, rate = sys.argv[1], sys.argv[2], float(sys.argv[3])
lines = open(src).readlines()
fed, step = 0, max(1, int(rate / 4))
with open(dest, "a") as out:
    for i in range(0, len(lines), step):
        chunk = lines[i:i + step]
        out.write("".join(chunk))
        out.flush()
        fed += sum(1 for l in chunk if l.startswith('{"id": "fault:'))
        with open(dest + ".fed.tmp", "w") as f:
            f.write(str(fed))
        import os; os.replace(dest + ".fed.tmp", dest + ".fed")
        time.sleep(step / rate)
PY
    FEEDER=$!
}
fed() { cat "$1.fed" 2>/dev/null || echo 0; }

# Seconds until COUNTER exceeds BEFORE or reaches what was fed (FED_FILE),
# at most RECOVERY_MAX; prints the seconds (or "stuck>Ns").
recovery() { # counter before fed_file
    local t0 now
    t0=$(date +%s.%N)
    while :; do
        now=$($1)
        if (( now > $2 || now >= $(fed "$3") )); then break; fi
        if python3 -c "import sys; sys.exit(0 if float(sys.argv[2]) - float(sys.argv[1]) > float(sys.argv[3]) else 1)" "$t0" "$(date +%s.%N)" "$RECOVERY_MAX"; then
            echo "stuck>${RECOVERY_MAX}s"; return
        fi
        sleep 0.5
    done
    python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}s')" "$t0" "$(date +%s.%N)"
}

# Waits until COUNTER reaches N (the feed done), at most TIMEOUT seconds.
wait_all() { # counter
    local start=$SECONDS
    while (( SECONDS - start < TIMEOUT )); do
        (( $($1) >= N )) && return 0
        sleep 1
    done
    return 1
}

# A seeded random gap between faults.
gap() { sleep "$(( GAP_MIN + RANDOM % (GAP_MAX - GAP_MIN + 1) )).$(( RANDOM % 10 ))"; }

# Shuffles its arguments with the campaign's seeded RANDOM (one per line).
shuffle() {
    local a=("$@") i j t
    for (( i = ${#a[@]} - 1; i > 0; i-- )); do
        j=$(( RANDOM % (i + 1) )); t=${a[i]}; a[i]=${a[j]}; a[j]=$t
    done
    printf '%s\n' "${a[@]}"
}
