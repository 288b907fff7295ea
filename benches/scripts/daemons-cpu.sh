#!/usr/bin/env bash
# Capacity figures (issue 18): the CPU each daemon spends per post, whole
# processes as users run them. Generated posts (benches/fixtures/gen_posts.py
# --seed 7) go through a one-shot `file` connector -> `earshot connect` -> raw
# -> `earshot match` -> scored -> `earshot sink` -> ClickHouse; once every post
# is stored, each daemon gets SIGTERM and /usr/bin/time reports its user +
# system CPU. Prints posts per CPU second per daemon and the wall time.
#
# Usage: benches/scripts/daemons-cpu.sh [POSTS]      (default 20000)
# Needs EARSHOT_TEST_KAFKA (a broker) and EARSHOT_TEST_CLICKHOUSE (an HTTP
# URL); BENCH_CLUSTER=NAME (and BENCH_REPLICA_PATH) puts the schema on that
# cluster, as `[sink.clickhouse] cluster`. EARSHOT: the binary (default the
# release build, built first).
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
posts="${1:-20000}"
: "${EARSHOT_TEST_KAFKA:?set EARSHOT_TEST_KAFKA (tests/harness/start.sh prints it)}"
: "${EARSHOT_TEST_CLICKHOUSE:?set EARSHOT_TEST_CLICKHOUSE}"
[[ -x /usr/bin/time ]] || { echo "needs /usr/bin/time (apt-get install time)" >&2; exit 1; }
if [[ -z "${EARSHOT:-}" ]]; then
    (cd "$root" && cargo build --release -p earshot --bin earshot >&2)
    EARSHOT="${CARGO_TARGET_DIR:-$root/target}/release/earshot"
fi

dir="$(mktemp -d "${TMPDIR:-/tmp}/earshot-daemons-cpu.XXXXXX")"
pids=()
# Each PID is a /usr/bin/time process: the signal goes to its child, the daemon.
stop_all() {
    for p in "${pids[@]}"; do pkill -TERM -P "$p" 2>/dev/null || true; done
}
cleanup() {
    stop_all
    wait 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT

python3 "$root/benches/fixtures/gen_posts.py" --count "$posts" --seed 7 >"$dir/posts.jsonl"
tag="cpu_$$_$(date +%s)"
db="earshot_bench_$tag"
cluster_keys=""
if [[ -n "${BENCH_CLUSTER:-}" ]]; then
    cluster_keys="cluster = \"$BENCH_CLUSTER\""
    [[ -n "${BENCH_REPLICA_PATH:-}" ]] && cluster_keys+=$'\n'"replica_path = \"$BENCH_REPLICA_PATH\""
fi
cat >"$dir/earshot.toml" <<EOF
[transport.kafka]
brokers = "$EARSHOT_TEST_KAFKA"
[transport.topics]
raw = "raw_$tag"
scored = "scored_$tag"
dead_letter = "dlq_$tag"
partitions = 3

[match]
group = "match_$tag"

[sink]
kind = "clickhouse"
group = "sink_$tag"
[sink.clickhouse]
url = "$EARSHOT_TEST_CLICKHOUSE"
database = "$db"
$cluster_keys

[cursors]
path = "$dir/cursors.db"

[[connectors]]
name = "replay"
kind = "file"
paths = ["$dir/posts.jsonl"]
one_shot = true
EOF

run() {
    local name=$1
    shift
    EARSHOT_METRICS_ADDR=127.0.0.1:0 /usr/bin/time -f '%U %S %e' -o "$dir/$name.cpu" \
        "$EARSHOT" --config "$dir/earshot.toml" "$@" 2>"$dir/$name.log" &
    pids+=($!)
}

"$EARSHOT" --config "$dir/earshot.toml" migrate >&2
started=$(date +%s.%N)
run match match
run sink sink
run connect connect
stored() {
    curl -fsS "$EARSHOT_TEST_CLICKHOUSE" --data-binary "SELECT uniqExact(post_id) FROM $db.interactions" 2>/dev/null || echo 0
}
deadline=$(( $(date +%s) + 1800 ))
while [[ "$(stored)" -lt "$posts" ]]; do
    if [[ $(date +%s) -gt $deadline ]]; then
        echo "only $(stored) of $posts posts stored after 30 min; logs in $dir" >&2
        trap - EXIT
        exit 1
    fi
    sleep 0.5
done
wall=$(echo "$(date +%s.%N) - $started" | bc)
stop_all
wait
pids=()

echo "$posts posts stored in ${wall%.*} s (${BENCH_CLUSTER:-one server} at $EARSHOT_TEST_CLICKHOUSE), load $(cut -d' ' -f1-3 /proc/loadavg)"
for name in connect match sink; do
    read -r user sys _ <"$dir/$name.cpu"
    cpu=$(echo "$user + $sys" | bc)
    printf '%-8s %7.2f s CPU  %8.0f posts per CPU second  %6.0f us per post\n' \
        "$name" "$cpu" "$(echo "$posts / $cpu" | bc -l)" "$(echo "$cpu * 1000000 / $posts" | bc -l)"
done
on_cluster=""
[[ -n "${BENCH_CLUSTER:-}" ]] && on_cluster=" ON CLUSTER $BENCH_CLUSTER"
curl -fsS "$EARSHOT_TEST_CLICKHOUSE" --data-binary "DROP DATABASE IF EXISTS $db$on_cluster" >/dev/null || true
