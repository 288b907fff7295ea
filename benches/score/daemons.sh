#!/usr/bin/env bash
# CPU per post of the `earshot match` daemon draining a backlog on a real
# broker, against the least a Kafka daemon needs: a bare rdkafka relay with
# the same consumer and producer settings (benches/relay_floor.rs: consume,
# produce the payload unchanged, commit) on the same records (issue 11).
#
# The backlog: POSTS posts (default 100,000) of the real texts benches/score/run.sh
# uses (the vaderSentiment sdist's human-rated tweets and snippets, distinct
# ids), written once without `lang` and once with "lang":"en" to two raw
# topics of 6 partitions. Each round, each side drains a backlog from the
# start in a new group into a new topic; when that topic holds every post
# the process gets SIGTERM, and its user + system CPU until it exits
# (/usr/bin/time) is divided by the posts. The sides take turns, ROUNDS
# times (default 3); medians, and the difference in µs per post.
#
#   benches/score/daemons.sh                          # own broker (tests/harness/start.sh)
#   EARSHOT_TEST_KAFKA=127.0.0.1:9092 benches/score/daemons.sh   # that broker
#   BASE=/path/to/other/earshot ROUNDS=5 benches/score/daemons.sh  # also an earlier build, alternated
#   LANGS="none" POSTS=20000 benches/score/daemons.sh  # only the posts without `lang`
#   RELAY_PAD_BYTES=413 benches/score/daemons.sh      # the relay's records as long as
#                                                     # the interactions (550 bytes on average)
#   IDEMPOTENT=false benches/score/daemons.sh         # both sides' producers not idempotent
#                                                     # ([transport.kafka] idempotent = false)
#
# The match daemon runs the bundled config's [matcher] (config/earshot.toml,
# detect_language as shipped) with the stage defaults. With
# EARSHOT_TEST_CLICKHOUSE set (an HTTP URL), `earshot sink` then drains each
# round's scored topic (the match side's) into a new database on that
# server until it holds every post, and its CPU a post is printed too.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
rounds="${ROUNDS:-3}"
posts="${POSTS:-100000}"
langs="${LANGS:-none en}"
partitions=6
[[ -x /usr/bin/time ]] || { echo "needs /usr/bin/time (apt-get install time)" >&2; exit 1; }

# shellcheck source=../sentiment-eval/vader-env.sh
. "$root/benches/sentiment-eval/vader-env.sh"

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
cargo build -q --release -p earshot -p earshot-benches --bin earshot --bin earshot-relay-floor \
    --manifest-path "$root/Cargo.toml"
bin="$CARGO_TARGET_DIR/release"
relay="$bin/earshot-relay-floor"
earshot="${EARSHOT:-$bin/earshot}"

dir="$(mktemp -d "${TMPDIR:-/tmp}/earshot-daemons.XXXXXX")"
child=""
own_broker=""
cleanup() {
    [[ -n "$child" ]] && pkill -TERM -P "$child" 2>/dev/null
    wait 2>/dev/null || true
    [[ -n "$own_broker" ]] && EARSHOT_HARNESS_DIR="$own_broker" "$root/tests/harness/stop.sh" >&2
    rm -rf "$dir"
}
trap cleanup EXIT
if [[ -z "${EARSHOT_TEST_KAFKA:-}" ]]; then
    own_broker="$dir/harness"
    eval "$(EARSHOT_HARNESS_DIR="$own_broker" EARSHOT_HARNESS_SERVICES=kafka "$root/tests/harness/start.sh")"
fi
brokers="$EARSHOT_TEST_KAFKA"

# The matcher as shipped: the bundled config's files, beside a config that
# adds this run's transport and stage settings.
mkdir -p "$dir/config"
for f in "$root"/config/*; do ln -s "$f" "$dir/config/"; done
tag="daemons_$$_$(date +%s)"

texts="$work/daemons-texts.txt"
cat "$gt"/*_GroundTruth.txt | cut -f3 | tr -d '\r' | grep -v '^[[:space:]]*$' >"$texts"
for lang in $langs; do
    "$work/venv/bin/python" - "$texts" "$posts" "$lang" >"$dir/posts-$lang.jsonl" <<'PY'
import json, sys
texts = [t for t in open(sys.argv[1], encoding="utf-8", errors="replace").read().split("\n") if t]
n, lang = int(sys.argv[2]), sys.argv[3]
for i in range(n):
    post = {"id": f"bench:{i}", "text": texts[i % len(texts)]}
    if lang != "none":
        post["lang"] = lang
    print(json.dumps(post, ensure_ascii=False))
PY
    "$relay" create "$brokers" "$partitions" "raw_${lang}_$tag"
    "$relay" produce "$brokers" "raw_${lang}_$tag" <"$dir/posts-$lang.jsonl"
done

# How many records topic $1 holds, and how many distinct posts database $1
# stores: what `drain` waits for.
topic_records() { "$relay" count "$brokers" "$1" 2>/dev/null || echo 0; }
stored_posts() {
    curl -fsS "$EARSHOT_TEST_CLICKHOUSE" --data-binary "SELECT uniqExact(post_id) FROM $1.interactions" 2>/dev/null || echo 0
}

# drain NAME COUNTER TARGET CMD...: runs CMD under /usr/bin/time until
# `COUNTER TARGET` reaches $posts, then SIGTERM; writes the process's CPU µs
# per post and its wall seconds to $dir/result.
drain() {
    local name=$1 counter=$2 target=$3
    shift 3
    local started
    started=$(date +%s.%N)
    EARSHOT_METRICS_ADDR=127.0.0.1:0 /usr/bin/time -f '%U %S' -o "$dir/$name.cpu" "$@" 2>"$dir/$name.log" &
    child=$!
    local deadline=$(($(date +%s) + 1800))
    while [[ "$("$counter" "$target")" -lt "$posts" ]]; do
        if [[ $(date +%s) -gt $deadline ]] || ! kill -0 "$child" 2>/dev/null; then
            echo "$name: $target does not hold $posts posts; log:" >&2
            tail -20 "$dir/$name.log" >&2
            exit 1
        fi
        sleep 0.2
    done
    local wall
    wall=$(echo "$(date +%s.%N) - $started" | bc)
    pkill -TERM -P "$child"
    wait "$child" || { echo "$name exited with an error; log:" >&2; tail -20 "$dir/$name.log" >&2; exit 1; }
    child=""
    awk -v n="$posts" -v w="$wall" '{ printf "%.1f %.1f\n", ($1 + $2) * 1e6 / n, w }' "$dir/$name.cpu" >"$dir/result"
}

run_match() {
    local exe=$1 lang=$2 out=$3 group=$4
    local cfg="$dir/config/bench-$group.toml"
    sed '/^\[transport.topics\]/,$d' "$root/config/earshot.toml" >"$cfg"
    cat >>"$cfg" <<EOF
[transport.kafka]
brokers = "$brokers"
idempotent = ${IDEMPOTENT:-true}
[transport.topics]
raw = "raw_${lang}_$tag"
scored = "$out"
dead_letter = "dlq_$tag"
partitions = $partitions

[match]
group = "$group"
EOF
    drain "$group" topic_records "$out" "$exe" --config "$cfg" match
}

# `earshot sink` from the scored topic $1 into database $2, until it holds
# every post (the same CPU accounting as drain).
run_sink() {
    local scored=$1 db=$2
    local cfg="$dir/config/bench-$db.toml"
    printf '%s\n' "[transport.kafka]" "brokers = \"$brokers\"" "[transport.topics]" \
        "raw = \"unused_$tag\"" "scored = \"$scored\"" "dead_letter = \"dlq_$tag\"" \
        "partitions = $partitions" "[sink]" 'kind = "clickhouse"' "group = \"$db\"" \
        "[sink.clickhouse]" "url = \"$EARSHOT_TEST_CLICKHOUSE\"" "database = \"$db\"" >"$cfg"
    "$earshot" --config "$cfg" migrate >/dev/null 2>"$dir/$db.migrate.log"
    drain "$db" stored_posts "$db" "$earshot" --config "$cfg" sink
    curl -fsS "$EARSHOT_TEST_CLICKHOUSE" --data-binary "DROP DATABASE IF EXISTS $db" >/dev/null || true
}

sides="relay match"
[[ -n "${BASE:-}" ]] && sides="relay match base"
median() { printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
echo "posts=$posts rounds=$rounds partitions=$partitions broker=$brokers cores=$(nproc) load=$(cut -d' ' -f1-3 /proc/loadavg)"
printf 'round\tlang\tside\tcpu_us_per_post\twall_s\n'
declare -A cpu
for r in $(seq 1 "$rounds"); do
    for lang in $langs; do
        for side in $sides; do
            out="out_${side}_${lang}_${r}_$tag"
            group="${side}_${lang}_${r}_$tag"
            "$relay" create "$brokers" "$partitions" "$out"
            case $side in
            relay) RELAY_IDEMPOTENT="${IDEMPOTENT:-true}" drain "$group" topic_records "$out" "$relay" relay "$brokers" "$group" "raw_${lang}_$tag" "$out" ;;
            match) run_match "$earshot" "$lang" "$out" "$group" ;;
            base) run_match "$BASE" "$lang" "$out" "$group" ;;
            esac
            read -r us wall <"$dir/result"
            cpu[$lang,$side]+="$us "
            printf '%s\t%s\t%s\t%s\t%s\n' "$r" "$lang" "$side" "$us" "$wall"
        done
        if [[ -n "${EARSHOT_TEST_CLICKHOUSE:-}" ]]; then
            run_sink "out_match_${lang}_${r}_$tag" "sink_${lang}_${r}_$tag"
            read -r us wall <"$dir/result"
            cpu[$lang,sink]+="$us "
            printf '%s\t%s\t%s\t%s\t%s\n' "$r" "$lang" "sink" "$us" "$wall"
        fi
    done
done
for lang in $langs; do
    # shellcheck disable=SC2086
    relay_us=$(median ${cpu[$lang,relay]})
    for side in $sides; do
        # shellcheck disable=SC2086
        m=$(median ${cpu[$lang,$side]})
        awk -v l="$lang" -v s="$side" -v m="$m" -v f="$relay_us" \
            'BEGIN { printf "median lang=%s %-6s %7.1f us CPU a post (%+.1f us beyond the bare relay)\n", l, s, m, m - f }'
    done
    if [[ -n "${cpu[$lang,sink]:-}" ]]; then
        # shellcheck disable=SC2086
        echo "median lang=$lang sink   $(median ${cpu[$lang,sink]}) us CPU a post (scored topic -> ClickHouse)"
    fi
done
