#!/usr/bin/env bash
# Fault campaign (smoke size): the whole pipeline on N posts with known ids,
# replayed from a file, while daemons are killed with SIGKILL at seeded random
# moments; then the same for the embedded mode (`earshot run --follow`).
# Ends with a table per mode: posts in, stored (deduplicated), lost (must be
# 0), duplicate rows before deduplication, dead letters by reason, and the
# recovery time after each kill.
#
#   eval "$(tests/harness/start.sh)"      # or any broker / ClickHouse
#   cargo build -p earshot
#   tests/faults/run.sh                   # N=20000 KILLS=6 GAP_MIN=2 SEED=42 by default
#
# Injected: kill -9 of connect, match and sink (round robin, KILLS times in
# all), kill -9 of the embedded process (KILLS times), one undecodable line
# every POISON_EVERY posts. Not injected yet (see benches/RELIABILITY.md):
# broker stop/start, ClickHouse outages, refusing tables, full disks.
#
# Known limit (tansu 0.6): a consumer daemon restarted after kill -9 is
# sometimes given an empty assignment for good (`partitions assigned
# partitions=[]` in its log; 3 of 4 runs here); the run then times out with
# posts not stored, though none is lost. See benches/RELIABILITY.md.
#
# Exit status 0 only when nothing was lost in either mode.
set -euo pipefail

N=${N:-20000}
KILLS=${KILLS:-6}
GAP_MIN=${GAP_MIN:-2}
SEED=${SEED:-42}
POISON_EVERY=${POISON_EVERY:-5000}
TIMEOUT=${TIMEOUT:-300}
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
BIN=${EARSHOT_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/debug/earshot}
: "${EARSHOT_TEST_KAFKA:?set EARSHOT_TEST_KAFKA (eval \"\$(tests/harness/start.sh)\")}"
: "${EARSHOT_TEST_CLICKHOUSE:?set EARSHOT_TEST_CLICKHOUSE}"
[[ -x "$BIN" ]] || { echo "no earshot binary at $BIN: cargo build -p earshot" >&2; exit 2; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/earshot-faults.XXXXXX")"
RANDOM=$SEED
TAG="faults_$(date +%s)_$$"
DB="$TAG"
log() { echo "[faults] $*" >&2; }

# ---------------------------------------------------------------- input
python3 - "$N" "$POISON_EVERY" > "$WORK/posts.jsonl" <<'PY'
import json, sys
n, every = int(sys.argv[1]), int(sys.argv[2])
texts = ["Acme support fixed my order in minutes", "Still waiting for my Acme refund, terrible",
         "Thinking about switching from Globex to Acme", "Nice weather today",
         "Initrode shipped the wrong part twice", "How do I cancel my Globex subscription?"]
for i in range(n):
    if every and i % every == every - 1:
        print('{"id": "poison:%d", "text": ' % i)      # undecodable: dead-lettered by the connector
    print(json.dumps({"id": "fault:%d" % i, "text": "%s (%d)" % (texts[i % len(texts)], i),
                      "published_at": "2026-12-06T12:00:00Z"}))
PY
POISON=$(grep -c '^{"id": "poison' "$WORK/posts.jsonl" || true)
log "work dir $WORK; $N posts, $POISON poison lines, seed $SEED"

ch() { curl -sS --fail-with-body "$EARSHOT_TEST_CLICKHOUSE/" --data-binary "$1"; }

cat > "$WORK/kafka.toml" <<TOML
[transport.kafka]
brokers = "$EARSHOT_TEST_KAFKA"
session_timeout_ms = ${SESSION_MS:-30000}
[transport.topics]
raw = "${TAG}_raw"
scored = "${TAG}_scored"
dead_letter = "${TAG}_dlq"
partitions = 3
[match]
group = "${TAG}_match"
[sink]
kind = "clickhouse"
group = "${TAG}_sink"
[sink.batch]
max_rows = 2000
max_age_ms = 300
[sink.clickhouse]
url = "$EARSHOT_TEST_CLICKHOUSE"
database = "$DB"
[cursors]
path = "$WORK/kafka-cursors.db"
[[connectors]]
name = "replay"
kind = "file"
paths = ["$WORK/posts.jsonl"]
one_shot = true
batch_size = 500
TOML

declare -A PID
start() { # name command...
    local name=$1; shift
    env -u RUST_LOG EARSHOT_LOG=info NO_COLOR=1 EARSHOT_METRICS_ADDR=127.0.0.1:0 "$BIN" "$@" >>"$WORK/$name.out" 2>>"$WORK/$name.log" &
    PID[$name]=$!
}
cleanup() { for p in "${PID[@]:-}"; do kill -9 "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

stored_kafka() { ch "SELECT uniqExact(post_id) FROM $DB.interactions WHERE post_id LIKE 'fault:%'" 2>/dev/null || echo 0; }
stored_embedded() { python3 -c "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); print(c.execute(\"SELECT COUNT(DISTINCT post_id) FROM interactions WHERE post_id LIKE 'fault:%'\").fetchone()[0])" "$WORK/embedded.db" 2>/dev/null || echo 0; }

# Waits until the stored count grows past $2 (or everything is stored); prints seconds.
recovery() { # counter before
    local counter=$1 before=$2 t0 now
    t0=$(date +%s.%N)
    for _ in $(seq 1 $((TIMEOUT * 5))); do
        now=$($counter)
        if (( now > before || now >= N )); then break; fi
        sleep 0.2
    done
    python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$t0" "$(date +%s.%N)"
}

wait_all() { # counter
    local counter=$1
    for _ in $(seq 1 $((TIMEOUT * 2))); do
        (( $($counter) >= N )) && return 0
        sleep 0.5
    done
    return 1
}

# ---------------------------------------------------------------- Kafka mode
log "Kafka mode: migrate, then connect, match and sink"
"$BIN" --config "$WORK/kafka.toml" migrate >/dev/null 2>>"$WORK/migrate.log"
start connect --config "$WORK/kafka.toml" connect
start match --config "$WORK/kafka.toml" match
start sink --config "$WORK/kafka.toml" sink
KAFKA_RECOVERY=()
daemons=(connect match sink)
for k in $(seq 1 "$KILLS"); do
    sleep "$(( GAP_MIN + RANDOM % 6 )).$(( RANDOM % 10 ))"
    d=${daemons[$(( (k - 1) % 3 ))]}
    if [[ $d == connect ]] && ! kill -0 "${PID[connect]}" 2>/dev/null; then d=match; fi
    before=$(stored_kafka)
    log "kill -9 $d (stored so far: $before)"
    kill -9 "${PID[$d]}" 2>/dev/null || true
    wait "${PID[$d]}" 2>/dev/null || true
    start "$d" --config "$WORK/kafka.toml" "$d"
    KAFKA_RECOVERY+=("$d:$(recovery stored_kafka "$before")s")
done
if ! wait_all stored_kafka; then
    log "Kafka mode: timed out waiting for every post; last assignments:"
    for d in match sink; do grep "partitions assigned" "$WORK/$d.log" | tail -1 | cut -c1-200 >&2 || true; done
fi
for d in match sink; do kill -TERM "${PID[$d]}" 2>/dev/null || true; done
kill -TERM "${PID[connect]}" 2>/dev/null || true
sleep 3
K_STORED=$(stored_kafka)
K_ROWS=$(ch "SELECT count() FROM $DB.interactions WHERE post_id LIKE 'fault:%'")
K_DL_TABLE=$(ch "SELECT count() FROM $DB.sink_dead_letters")
K_POISON=$(grep -h "bad payload dead-lettered" "$WORK"/connect.log | grep -o 'locator=[^ ]*' | sort -u | wc -l)

# ---------------------------------------------------------------- embedded mode
cat > "$WORK/embedded.toml" <<TOML
[sink]
kind = "sqlite"
[sink.sqlite]
path = "$WORK/embedded.db"
[cursors]
path = "$WORK/embedded-cursors.db"
[[connectors]]
name = "replay"
kind = "file"
paths = ["$WORK/posts.jsonl"]
one_shot = true
batch_size = 500
TOML
log "embedded mode: earshot run --follow"
start run --config "$WORK/embedded.toml" run --follow
EMB_RECOVERY=()
for k in $(seq 1 "$KILLS"); do
    sleep "$(( GAP_MIN + RANDOM % 6 )).$(( RANDOM % 10 ))"
    before=$(stored_embedded)
    log "kill -9 earshot run (stored so far: $before)"
    kill -9 "${PID[run]}" 2>/dev/null || true
    wait "${PID[run]}" 2>/dev/null || true
    start run --config "$WORK/embedded.toml" run --follow
    EMB_RECOVERY+=("run:$(recovery stored_embedded "$before")s")
done
wait_all stored_embedded || log "embedded mode: timed out waiting for every post"
kill -TERM "${PID[run]}" 2>/dev/null || true
sleep 3
E_STORED=$(stored_embedded)
E_POISON=$(grep -h "bad payload dead-lettered" "$WORK"/run.log | grep -o 'locator=[^ ]*' | sort -u | wc -l)

# ---------------------------------------------------------------- table
K_LOST=$(( N - K_STORED )); E_LOST=$(( N - E_STORED ))
printf '\n| mode | posts in | stored (dedup) | lost | duplicate rows before dedup | dead letters by reason | recovery after each kill |\n'
printf '|---|---|---|---|---|---|---|\n'
printf '| Kafka (connect, match, sink; %d × kill -9) | %d + %d poison | %d | **%d** | %d | undecodable line: %d of %d; sink_dead_letters: %d | %s |\n' \
    "$KILLS" "$N" "$POISON" "$K_STORED" "$K_LOST" "$(( K_ROWS - K_STORED ))" "$K_POISON" "$POISON" "$K_DL_TABLE" "${KAFKA_RECOVERY[*]}"
printf '| embedded (`run --follow`; %d × kill -9) | %d + %d poison | %d | **%d** | 0 (primary key) | undecodable line: %d of %d | %s |\n' \
    "$KILLS" "$N" "$POISON" "$E_STORED" "$E_LOST" "$E_POISON" "$POISON" "${EMB_RECOVERY[*]}"
log "logs in $WORK"
(( K_LOST == 0 && E_LOST == 0 ))
