#!/usr/bin/env bash
# Sentiment throughput per core: Earshot's analyzer vs vaderSentiment 3.3.2
# on the same texts (the 4,200 human-rated tweets shipped in the
# vaderSentiment sdist), both in texts per CPU second.
#
# The two sides take turns, ROUNDS times, so that a change in the shared
# machine's load between them does not decide the ratio; the ratio is of
# the two medians.
#
#   benches/sentiment-eval/speed.sh                 # 5 rounds of 2 s per side
#   ROUNDS=9 SECONDS_PER_SIDE=3 benches/sentiment-eval/speed.sh
#   MODEL=lexicon benches/sentiment-eval/speed.sh    # the lexicon model alone
#
# Uses the venv and sdist of vader-env.sh in $EVAL_DIR (made when missing).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
secs="${SECONDS_PER_SIDE:-2}"
rounds="${ROUNDS:-5}"
# The model to time (lexicon or hybrid); default: the config's.
model="${MODEL:-}"
# shellcheck source=vader-env.sh
. "$here/vader-env.sh"
texts="$work/tweets.txt"
cut -f3 "$gt/tweets_GroundTruth.txt" > "$texts"

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
cargo build -q --release -p earshot-match --example sentiment_speed --manifest-path "$root/Cargo.toml"
rate() { sed -n 's/.*texts_per_cpu_s=\([0-9]*\).*/\1/p'; }
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
rs=(); ps=()
for round in $(seq "$rounds"); do
    rust=$("$CARGO_TARGET_DIR/release/examples/sentiment_speed" "$root/config/earshot.toml" "$secs" $model < "$texts")
    py=$("$work/venv/bin/python" "$here/speed.py" "$secs" < "$texts")
    r=$(echo "$rust" | rate)
    p=$(echo "$py" | rate)
    rs+=("$r"); ps+=("$p")
    echo "round $round: earshot $r, vader $p texts per CPU second ($(awk -v r="$r" -v p="$p" 'BEGIN { printf "%.1f", r / p }')x)"
done
r=$(printf '%s\n' "${rs[@]}" | median)
p=$(printf '%s\n' "${ps[@]}" | median)
echo "median: earshot $r, vader $p texts per CPU second"
echo "ratio earshot/vader (per CPU second, medians): $(awk -v r="$r" -v p="$p" 'BEGIN { printf "%.1f", r / p }')x"
