#!/usr/bin/env bash
# Sentiment throughput per core: Earshot's analyzer vs vaderSentiment 3.3.2
# on the same texts (the 4,200 human-rated tweets shipped in the
# vaderSentiment sdist), both in texts per CPU second.
#
#   benches/sentiment-eval/speed.sh            # 5 s per side
#   SECONDS_PER_SIDE=10 benches/sentiment-eval/speed.sh
#
# Reuses run.sh's venv and sdist in $EVAL_DIR (run run.sh once first).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
work="${EVAL_DIR:-${TMPDIR:-/tmp}/earshot-sentiment-eval}"
secs="${SECONDS_PER_SIDE:-5}"
gt="$work/sdist/vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014"
if [ ! -f "$gt/tweets_GroundTruth.txt" ] || [ ! -x "$work/venv/bin/python" ]; then
    echo "run benches/sentiment-eval/run.sh first (it installs vaderSentiment and its data)" >&2
    exit 2
fi
texts="$work/tweets.txt"
cut -f3 "$gt/tweets_GroundTruth.txt" > "$texts"

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
cargo build -q --release -p earshot-match --example sentiment_speed --manifest-path "$root/Cargo.toml"
rust=$("$CARGO_TARGET_DIR/release/examples/sentiment_speed" "$root/config/earshot.toml" "$secs" < "$texts")
py=$("$work/venv/bin/python" "$here/speed.py" "$secs" < "$texts")
echo "$rust"
echo "$py"
r=$(echo "$rust" | sed -n 's/.*texts_per_cpu_s=\([0-9]*\).*/\1/p')
p=$(echo "$py" | sed -n 's/.*texts_per_cpu_s=\([0-9]*\).*/\1/p')
echo "ratio earshot/vader (per CPU second): $(awk -v r="$r" -v p="$p" 'BEGIN { printf "%.1f", r / p }')x"
