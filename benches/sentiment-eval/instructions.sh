#!/usr/bin/env bash
# Instructions and (simulated) mispredicted branches per text of Earshot's
# sentiment analyzer, steady state: cachegrind runs the `sentiment_speed`
# example twice (short and long) on the same texts and the difference is
# divided by the extra texts scored, so start-up and lexicon loading drop out.
# Deterministic, unlike timings on a shared machine.
#
#   benches/sentiment-eval/instructions.sh [texts.txt]
#
# Default texts: the human-rated tweets run.sh downloads. Needs valgrind.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
work="${EVAL_DIR:-${TMPDIR:-/tmp}/earshot-sentiment-eval}"
texts="${1:-$work/tweets.txt}"
if [ ! -f "$texts" ]; then
    echo "no texts at $texts: run benches/sentiment-eval/speed.sh once, or pass a file" >&2
    exit 2
fi
command -v valgrind >/dev/null || { echo "valgrind is needed (apt-get install valgrind)" >&2; exit 2; }
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
cargo build -q --release -p earshot-match --example sentiment_speed --manifest-path "$root/Cargo.toml"
bin="$CARGO_TARGET_DIR/release/examples/sentiment_speed"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
run() {
    valgrind --tool=cachegrind --cache-sim=no --branch-sim=yes --cachegrind-out-file="$tmp/$2" \
        "$bin" "$root/config/earshot.toml" "$1" < "$texts" 2>/dev/null | sed -n 's/.*scored=\([0-9]*\).*/\1/p'
}
short=$(run 0.05 a.out)
long=$(run 0.5 b.out)
summary() { sed -n 's/^summary: //p' "$tmp/$1"; }
events=$(sed -n 's/^events: //p' "$tmp/a.out")
awk -v n=$((long - short)) -v ev="$events" -v a="$(summary a.out)" -v b="$(summary b.out)" 'BEGIN {
    split(ev, e, " "); split(a, x, " "); split(b, y, " ")
    printf "texts=%d", n
    for (i = 1; i <= length(e); i++) if (e[i] == "Ir" || e[i] == "Bc" || e[i] == "Bcm")
        printf " %s/text=%.0f", e[i], (y[i] - x[i]) / n
    printf "\n"
}'
