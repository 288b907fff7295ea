#!/usr/bin/env bash
# Fault campaign (issue 12): the whole pipeline (file connector -> Kafka ->
# match -> Kafka -> sink -> ClickHouse) on N posts with known ids, appended
# to a watched file at a steady rate, while faults are injected one after
# another in a seeded random order with seeded random gaps; then the
# embedded mode (`earshot run --follow`, SQLite) the same way. Ends with a
# table per mode (tests/faults/table.py): posts in, stored (deduplicated),
# lost (must be 0), duplicate rows, dead letters by reason (must equal what
# was injected), longest watermark hold, recovery time per fault.
#
#   cargo build -p earshot -p earshot-tests --bins
#   tests/faults/run.sh                     # smoke defaults below; as root
#   N=100000 CH_DOWN=60 ... tests/faults/run.sh   # see benches/RELIABILITY.md
#
# It starts its OWN broker and ClickHouse (tests/harness/start.sh under its
# own EARSHOT_HARNESS_DIR; ClickHouse's data dir on a small tmpfs), and
# mounts small tmpfs filesystems for the cursor and SQLite stores, so that it
# can stop, restart and fill them; everything is stopped and unmounted on
# exit, failures included. Needs root (mount).
#
# Injected (FAULTS, each as often as listed):
#   kill9:D      kill -9 of daemon D (connect, match, sink), KILLS times each
#   term:D       SIGTERM of D mid-batch (match, sink)
#   broker       the broker stopped for BROKER_DOWN s, then started again
#   ch_down      ClickHouse stopped for CH_DOWN s, then started again
#   ch_refuse    the interactions table renamed away for REFUSE_FOR s (inserts
#                fail: UNKNOWN_TABLE), then renamed back
#   disk:cursors the connector's SQLite cursor store's disk full for DISK_FULL_FOR s
#   disk:ch      ClickHouse's data disk full for DISK_FULL_FOR s
#   scored_poison an undecodable record written straight into the scored
#                topic (one per POISON_EVERY posts), for the sink to dead-letter
# and in the input: an undecodable line every POISON_EVERY posts, a row that
# is not a post every MALFORMED_EVERY, an oversize post every OVERSIZE_EVERY.
# Embedded mode: kill -9 of `earshot run` KILLS times, and its store's disk
# full for DISK_FULL_FOR s.
#
# Exit status 0 only when nothing was lost and the dead letters match.
set -euo pipefail

N=${N:-3000}
SEED=${SEED:-42}
KILLS=${KILLS:-1}
GAP_MIN=${GAP_MIN:-1}
GAP_MAX=${GAP_MAX:-3}
CH_DOWN=${CH_DOWN:-6}
BROKER_DOWN=${BROKER_DOWN:-3}
BROKER_SIGNAL=${BROKER_SIGNAL:-KILL}
REFUSE_FOR=${REFUSE_FOR:-5}
DISK_FULL_FOR=${DISK_FULL_FOR:-4}
POISON_EVERY=${POISON_EVERY:-1000}
MALFORMED_EVERY=${MALFORMED_EVERY:-1500}
OVERSIZE_EVERY=${OVERSIZE_EVERY:-3000}
SESSION_MS=${SESSION_MS:-6000}
RECOVERY_MAX=${RECOVERY_MAX:-120}
TIMEOUT=${TIMEOUT:-300}
MODES=${MODES:-"kafka embedded"}
CH_DISK=${CH_DISK:-1g}
here="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$here/../.." && pwd)"
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=${EARSHOT_BIN:-$TARGET/debug/earshot}
KTOOL=${EARSHOT_FAULTS_KAFKA:-$TARGET/debug/earshot-faults-kafka}
for b in "$BIN" "$KTOOL"; do
    [[ -x "$b" ]] || { echo "no $b: cargo build -p earshot -p earshot-tests --bins" >&2; exit 2; }
done
# shellcheck source=lib.sh
source "$here/lib.sh"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/earshot-faults.XXXXXX")"
HDIR="$WORK/srv"
RANDOM=$SEED
DB="faults_$$"
SCRAPER= FEEDER=

cleanup() {
    set +e
    touch "$WORK/stopping"
    [[ -n "$FEEDER" ]] && kill "$FEEDER" 2>/dev/null
    [[ -n "$SCRAPER" ]] && kill "$SCRAPER" 2>/dev/null
    stop_daemons
    for d in cur emb; do free_disk "$WORK/$d" 2>/dev/null || true; done
    free_disk "$HDIR/clickhouse/data" 2>/dev/null || true
    stop_servers
    unmount_all
    if [[ "${KEEP_WORK:-0}" == 1 ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

python3 "$here/gen.py" "$WORK/all.jsonl" "$WORK/expected.json" "$N" "$POISON_EVERY" "$MALFORMED_EVERY" "$OVERSIZE_EVERY"
: >"$WORK/scored_poison"
SCORED_POISON=$(( POISON_EVERY > 0 ? (N + POISON_EVERY - 1) / POISON_EVERY : 0 ))
log "work dir $WORK; N=$N seed=$SEED; injected in the input: $(cat "$WORK/expected.json")"

faults_kafka() {
    local list=() d i
    for d in connect match sink; do for (( i = 0; i < KILLS; i++ )); do list+=("kill9:$d"); done; done
    list+=(term:match term:sink broker ch_down ch_refuse disk:cursors disk:ch)
    for (( i = 0; i < SCORED_POISON; i++ )); do list+=(scored_poison); done
    echo "${FAULTS:-${list[*]}}"
}
faults_embedded() {
    local list=() i
    for (( i = 0; i < KILLS; i++ )); do list+=(kill9:run); done
    list+=(disk:store)
    echo "${EMB_FAULTS:-${list[*]}}"
}
# How long a mode's faults take, to spread the feed over them (half as long
# again: recoveries add to it, and the last faults must land mid-stream).
span() { # faults...
    local s=0 f
    for f in "$@"; do
        s=$(( s + (GAP_MIN + GAP_MAX) / 2 + 2 ))
        case $f in
            broker) s=$(( s + BROKER_DOWN )) ;; ch_down) s=$(( s + CH_DOWN )) ;;
            ch_refuse) s=$(( s + REFUSE_FOR )) ;; disk:*) s=$(( s + DISK_FULL_FOR )) ;;
        esac
    done
    echo $(( s * 3 / 2 ))
}

inject() { # mode fault
    local f=$2 n=0
    case $f in
        kill9:*) signal KILL "${f#kill9:}" ;;
        term:*) signal TERM "${f#term:}" ;;
        broker) stop_pid_file "$HDIR/kafka.pid" "$BROKER_SIGNAL"; sleep "$BROKER_DOWN"; broker_start ;;
        ch_down) stop_pid_file "$HDIR/clickhouse.pid"; sleep "$CH_DOWN"; clickhouse_start ;;
        ch_refuse)
            ch "RENAME TABLE $DB.interactions TO $DB.interactions_refusing"
            sleep "$REFUSE_FOR"
            ch "RENAME TABLE $DB.interactions_refusing TO $DB.interactions" ;;
        disk:cursors) fill_disk "$WORK/cur"; sleep "$DISK_FULL_FOR"; free_disk "$WORK/cur" ;;
        disk:ch) fill_disk "$HDIR/clickhouse/data"; sleep "$DISK_FULL_FOR"; free_disk "$HDIR/clickhouse/data" ;;
        disk:store) fill_disk "$WORK/emb"; sleep "$DISK_FULL_FOR"; free_disk "$WORK/emb" ;;
        scored_poison)
            n=$(wc -l <"$WORK/scored_poison")
            "$KTOOL" produce "$KAFKA" "${DB}_scored" "poison-scored:$n" '{"schema_version": 1, "post": ' 2>>"$WORK/ktool.log"
            echo "poison-scored:$n" >>"$WORK/scored_poison" ;;
        *) die "unknown fault $f" ;;
    esac
}

# Runs one mode's faults against COUNTER; writes $WORK/MODE.faults (fault, recovery).
campaign() { # mode counter fed_file faults...
    local mode=$1 counter=$2 fed_file=$3 f before; shift 3
    : >"$WORK/$mode.faults"
    for f in "$@"; do
        gap
        log "$mode: $f (stored so far: $($counter))"
        inject "$mode" "$f"
        before=$($counter)
        printf '%s\t%s\n' "$f" "$(recovery "$counter" "$before" "$fed_file")" >>"$WORK/$mode.faults"
    done
}

# ---------------------------------------------------------------- Kafka mode
stored_kafka() { ch "SELECT uniqExact(post_id) FROM $DB.interactions WHERE post_id LIKE 'fault:%'" 2>/dev/null || echo 0; }

# Waits until the dead-letter topic holds WANT scored-poison records, at most
# TIMEOUT seconds.
wait_dead_letters() { # want
    local start=$SECONDS got
    while (( SECONDS - start < TIMEOUT )); do
        got=$("$KTOOL" dump "$KAFKA" "${DB}_dlq" 3 2>>"$WORK/ktool.log" | grep -c $'^[^\t]*\tpoison-scored:') || true
        (( ${got:-0} >= $1 )) && return 0
        sleep 2
    done
    return 1
}

kafka_mode() {
    start_servers
    small_disk "$WORK/cur" 16m
    mkdir -p "$WORK/kin"
    cat >"$WORK/kafka.toml" <<TOML
[transport.kafka]
brokers = "$KAFKA"
session_timeout_ms = $SESSION_MS
[transport.topics]
raw = "${DB}_raw"
scored = "${DB}_scored"
dead_letter = "${DB}_dlq"
partitions = 3
[match]
group = "${DB}_match"
[sink]
kind = "clickhouse"
group = "${DB}_sink"
[sink.batch]
max_rows = 2000
max_age_ms = 300
[sink.clickhouse]
url = "$CH"
database = "$DB"
[cursors]
path = "$WORK/cur/cursors.db"
[[connectors]]
name = "replay"
kind = "file"
paths = ["$WORK/kin/posts.jsonl"]
poll_interval_secs = 0.5
progress = false
batch_size = 500
TOML
    "$BIN" --config "$WORK/kafka.toml" migrate >/dev/null 2>>"$WORK/migrate.log" || die "migrate failed; see $WORK/migrate.log"
    # shellcheck disable=SC2207
    local faults=($(shuffle $(faults_kafka)))
    supervise connect --config "$WORK/kafka.toml" connect
    supervise match --config "$WORK/kafka.toml" match
    supervise sink --config "$WORK/kafka.toml" sink
    scrape_metrics
    feed "$WORK/all.jsonl" "$WORK/kin/posts.jsonl" "$(( N / $(span "${faults[@]}") + 1 ))"
    log "Kafka mode: ${#faults[@]} faults: ${faults[*]}"
    campaign kafka stored_kafka "$WORK/kin/posts.jsonl" "${faults[@]}"
    wait_all stored_kafka || log "Kafka mode: timed out waiting for every post"
    # A poison injected after the last post is stored is still on its way to
    # the dead-letter topic (the sink may be rejoining its group after a
    # fault); stopping now would count it missing though nothing is lost.
    wait_dead_letters "$(wc -l <"$WORK/scored_poison")" \
        || log "Kafka mode: timed out waiting for the scored poison's dead letters"
    stop_daemons
    kill "$SCRAPER" 2>/dev/null || true
    "$KTOOL" dump "$KAFKA" "${DB}_dlq" 3 >"$WORK/kafka.dlq" 2>>"$WORK/ktool.log" || log "could not read the dead-letter topic"
    python3 - "$WORK" "$(stored_kafka)" \
        "$(ch "SELECT count() FROM $DB.interactions WHERE post_id LIKE 'fault:%'")" \
        "$(ch "SELECT countIf(post_id LIKE 'oversize:%') FROM $DB.interactions")" \
        "$(ch "SELECT count() FROM $DB.sink_dead_letters")" "$(wc -l <"$WORK/scored_poison")" <<'PY'
import json, sys
work, stored, rows, oversize_stored, ch_dead, scored_poison = sys.argv[1], *map(int, sys.argv[2:])
json.dump({"stored": stored, "rows": rows, "oversize_stored": oversize_stored,
           "store_dead_letters": ch_dead, "scored_poison": scored_poison},
          open(f"{work}/kafka.result.json", "w"))
PY
    rm -f "$WORK/stopping"
    SUP=() PORT=()
}

# ---------------------------------------------------------------- embedded mode
stored_embedded() { python3 -c "import sqlite3,sys; c=sqlite3.connect(sys.argv[1], timeout=5); print(c.execute(\"SELECT COUNT(DISTINCT post_id) FROM interactions WHERE post_id LIKE 'fault:%'\").fetchone()[0])" "$WORK/emb/store.db" 2>/dev/null || echo 0; }

embedded_mode() {
    small_disk "$WORK/emb" "$(( 64 + N * 6 / 1000 ))m"
    mkdir -p "$WORK/ein"
    cat >"$WORK/embedded.toml" <<TOML
[sink]
kind = "sqlite"
[sink.sqlite]
path = "$WORK/emb/store.db"
[cursors]
path = "$WORK/emb/cursors.db"
[[connectors]]
name = "replay"
kind = "file"
paths = ["$WORK/ein/posts.jsonl"]
poll_interval_secs = 0.5
progress = false
batch_size = 500
TOML
    # shellcheck disable=SC2207
    local faults=($(shuffle $(faults_embedded)))
    supervise run --config "$WORK/embedded.toml" run --follow
    scrape_metrics
    feed "$WORK/all.jsonl" "$WORK/ein/posts.jsonl" "$(( N / $(span "${faults[@]}") + 1 ))"
    log "embedded mode: ${#faults[@]} faults: ${faults[*]}"
    campaign embedded stored_embedded "$WORK/ein/posts.jsonl" "${faults[@]}"
    wait_all stored_embedded || log "embedded mode: timed out waiting for every post"
    stop_daemons
    kill "$SCRAPER" 2>/dev/null || true
    python3 - "$WORK" <<'PY'
import json, sqlite3, sys
work = sys.argv[1]
c = sqlite3.connect(f"{work}/emb/store.db")
q = lambda sql: c.execute(sql).fetchone()[0]
with open(f"{work}/embedded.dlq", "w") as out:
    for stage, key, reason in c.execute("SELECT stage, key, reason FROM dead_letters"):
        clean = lambda s: (s or "").replace("\t", " ").replace("\n", " ")
        out.write(f"{clean(stage)}\t{clean(key)}\t{clean(reason)}\n")
json.dump({"stored": q("SELECT COUNT(DISTINCT post_id) FROM interactions WHERE post_id LIKE 'fault:%'"),
           "rows": q("SELECT COUNT(*) FROM interactions WHERE post_id LIKE 'fault:%'"),
           "oversize_stored": q("SELECT COUNT(*) FROM interactions WHERE post_id LIKE 'oversize:%'"),
           "store_dead_letters": 0, "scored_poison": 0},
          open(f"{work}/embedded.result.json", "w"))
PY
}

for mode in $MODES; do
    rm -f "$WORK/metrics.tsv"
    "${mode}_mode"
    mv "$WORK/metrics.tsv" "$WORK/$mode.metrics.tsv" 2>/dev/null || : >"$WORK/$mode.metrics.tsv"
    cp "$WORK/exits.log" "$WORK/$mode.exits.log" 2>/dev/null || : >"$WORK/$mode.exits.log"
    : >"$WORK/exits.log"
done
python3 "$here/table.py" "$WORK" $MODES && status=0 || status=$?
log "logs in $WORK (KEEP_WORK=1 keeps them)"
exit "$status"
