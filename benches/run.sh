#!/usr/bin/env bash
# The one entry point to Earshot's benchmarks: lists them, runs one by name.
#
#   benches/run.sh                  # list: name, what it measures
#   benches/run.sh NAME [ARGS...]   # run one (ARGS go to it)
#   benches/run.sh --check          # every script under benches/ is listed here
#
# Whole-process benchmarks are scripts beside their data; kernel benchmarks
# are criterion benches and binaries of the earshot-benches crate. Current
# figures and the exact command of each: benches/RESULTS.md.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

# name | command | what it measures
benches=(
"score|benches/score/run.sh|whole process: earshot score vs the least work its interface needs, and vs vaderSentiment"
"noise|benches/score/noise.sh|whole process: earshot score with [matcher.noise] on vs off (the near-duplicate fingerprint's cost)"
"embedded|benches/score/embedded.sh|whole process: earshot run (file -> in-memory bus -> match -> SQLite) CPU per post vs earshot score"
"daemons|benches/score/daemons.sh|whole process: earshot match draining a 100k backlog on a broker, CPU per post vs a bare rdkafka relay (benches/relay_floor.rs)"
"e2e|benches/e2e/run.sh|end to end Kafka -> match -> sink -> ClickHouse vs a bare consumer and ClickHouse's Kafka engine"
"kafka-e2e|benches/scripts/kafka-e2e.sh|raw -> earshot match -> scored on a real broker: posts/s and latency percentiles"
"daemons-cpu|benches/scripts/daemons-cpu.sh|capacity: CPU per post of connect, match and sink, whole processes"
"console|benches/console/run.sh|console page times at 1M interactions (embedded store; CLICKHOUSE_URL=... for ClickHouse)"
"connectors|benches/connectors/run.sh|one connect daemon polling 1,000 RSS feeds: CPU and memory per 1,000 polls"
"context|benches/context/run.sh|brand precision/recall on the labelled ambiguous-name set, context model off vs on"
"sentiment-eval|benches/sentiment-eval/run.sh|sentiment accuracy vs vaderSentiment on its human-rated data"
"sentiment-speed|benches/sentiment-eval/speed.sh|sentiment texts per CPU second vs vaderSentiment"
"sentiment-instructions|benches/sentiment-eval/instructions.sh|instructions and mispredicted branches per text (cachegrind)"
"matcher|cargo bench -p earshot-benches --bench matcher --|kernel: watchlist compile, find_matches, score (criterion)"
"sink-insert|cargo bench -p earshot-benches --bench sink_insert --|kernel: ClickHouseSink::write rows/s (needs EARSHOT_TEST_CLICKHOUSE)"
"sqlite-upsert|cargo run --release -p earshot-benches --bin earshot-sqlite-upsert --|kernel: the embedded store's write path (SqliteStore::upsert), CPU a row"
"score-floor|cargo run --release -p earshot-benches --bin earshot-score-floor --|the least work earshot score's interface needs (used by score)"
"lang-eval|cargo run --release -p earshot-benches --bin lang-eval --|language detection accuracy and speed, 29 languages"
"compile-rss|cargo run --release -p earshot-benches --bin compile-rss --|watchlist compile time and peak memory (run under /usr/bin/time -f %M)"
"relay-floor|cargo run --release -p earshot-benches --bin earshot-relay-floor --|a bare rdkafka relay with Earshot's client settings (used by daemons)"
)
# Scripts that are not benchmarks: helpers of the ones above, and the
# training of the hybrid sentiment model (benches/sentiment-eval/train.sh).
helpers=(benches/sentiment-eval/vader-env.sh benches/sentiment-eval/train.sh benches/run.sh)

field() { cut -d'|' -f"$2" <<<"$1"; }

case "${1:-}" in
"")
    for b in "${benches[@]}"; do
        printf '%-24s %s\n' "$(field "$b" 1)" "$(field "$b" 3)"
    done
    ;;
--check)
    missing=0
    while IFS= read -r script; do
        listed=0
        for b in "${benches[@]}" "${helpers[@]}"; do
            [[ "$(field "$b" 2)" == "$script" || "$b" == "$script" ]] && listed=1
        done
        if [[ $listed == 0 ]]; then
            echo "benches/run.sh does not list $script" >&2
            missing=1
        fi
    done < <(find benches -name '*.sh' | sort)
    for b in "${benches[@]}"; do
        cmd="$(field "$b" 2)"
        if [[ "$cmd" == *.sh && ! -x "$cmd" ]]; then
            echo "benches/run.sh lists $cmd, which is not an executable script" >&2
            missing=1
        fi
    done
    exit $missing
    ;;
*)
    name="$1"
    shift
    for b in "${benches[@]}"; do
        if [[ "$(field "$b" 1)" == "$name" ]]; then
            read -r -a cmd <<<"$(field "$b" 2)"
            exec "${cmd[@]}" "$@"
        fi
    done
    echo "no benchmark named '$name'; benches/run.sh lists them" >&2
    exit 2
    ;;
esac
