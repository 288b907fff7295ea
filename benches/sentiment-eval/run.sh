#!/usr/bin/env bash
# Reproducible sentiment evaluation: Earshot (lexicon and hybrid models) vs
# vaderSentiment 3.3.2 on the
# human-rated ground truth shipped in the vaderSentiment sdist, plus a
# differential run on benches/sentiment-eval/corpus.txt.
#
#   benches/sentiment-eval/run.sh            # held-out test half (headline figures)
#   SPLIT=dev benches/sentiment-eval/run.sh  # development half
#   SPLIT=all SHOW_DIFF=1 benches/sentiment-eval/run.sh
#
# Downloads only from PyPI (vaderSentiment wheel and sdist) into $EVAL_DIR
# (default: $TMPDIR/earshot-sentiment-eval, outside the checkout).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
# shellcheck source=vader-env.sh
. "$here/vader-env.sh"

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
cargo build -q --release -p earshot-match --example score_text --manifest-path "$root/Cargo.toml"
scorer="$CARGO_TARGET_DIR/release/examples/score_text $root/config/earshot.toml"

"$work/venv/bin/python" "$here/eval.py" "$gt" "$scorer lexicon" "$scorer hybrid" --corpus "$here/corpus.txt"
