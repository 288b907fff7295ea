#!/usr/bin/env bash
# Trains the hybrid sentiment model and writes its weights to
# crates/matcher/src/sentiment/hybrid-weights.tsv (compiled into the
# matcher). Reproducible: fixed seed, fixed data (the vaderSentiment 3.3.2
# sdist from PyPI, training halves only: odd ids), plain Python. See
# train.py for the model and how its settings are chosen.
#
#   benches/sentiment-eval/train.sh            # then run.sh for the test halves
#
# Uses the venv and sdist of vader-env.sh in $EVAL_DIR (made when missing).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
# shellcheck source=vader-env.sh
. "$here/vader-env.sh"

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
cargo build -q --release -p earshot-match --example sentiment_features --manifest-path "$root/Cargo.toml"
features="$CARGO_TARGET_DIR/release/examples/sentiment_features $root/config/earshot.toml"
out="$root/crates/matcher/src/sentiment/hybrid-weights.tsv"
"$work/venv/bin/python" "$here/train.py" "$gt" "$features" "$out"
