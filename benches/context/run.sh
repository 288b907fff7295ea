#!/usr/bin/env bash
# Brand precision, recall and F1 on the labelled ambiguous-name set
# (benches/context/data, made by gen.py with seed 16): the watchlist's
# context words alone, then with the context model trained from the
# watchlist's rules on the unlabelled stream, then from the stream and the
# training half's labels. The figures are on the held-out half (test.jsonl),
# which no training step reads.
#
#   benches/context/run.sh            # the shipped data
#   SEED=7 benches/context/run.sh     # regenerate with another seed (in a temporary directory)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

data="$here/data"
if [ -n "${SEED:-}" ]; then
    data="$work/data"
    mkdir -p "$data"
    python3 "$here/gen.py" "$data" "$SEED"
fi

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
cargo build -q -p earshot --manifest-path "$root/Cargo.toml"
earshot="$CARGO_TARGET_DIR/debug/earshot"

cp "$data/brands.toml" "$work/brands.toml"
printf '[matcher]\nbrands = ["brands.toml"]\n' > "$work/off.toml"
printf '[matcher]\nbrands = ["brands.toml"]\ncontext_model = "model.json"\n' > "$work/on.toml"

# "brand precision recall f1" rows of `earshot eval`'s entity table.
rows() {
    "$earshot" --config "$1" eval --labels "$data/test.jsonl" --misses 0 |
        sed 's/[│┆]/|/g' | awk -F'|' 'NF == 9 && $2 !~ /Entity/ { gsub(/ /, ""); print $2, $6, $7, $8 }' |
        LC_ALL=C sort
}

rows "$work/off.toml" > "$work/off.txt"
"$earshot" --config "$work/on.toml" train-context --posts "$data/stream.jsonl" > "$work/train-rules.txt"
rows "$work/on.toml" > "$work/rules.txt"
"$earshot" --config "$work/on.toml" train-context --posts "$data/stream.jsonl" \
    --labels "$data/train.jsonl" > "$work/train-labels.txt"
rows "$work/on.toml" > "$work/labels.txt"
cat "$work/train-labels.txt"

echo
echo "held-out posts: $(wc -l < "$data/test.jsonl"); P / R / F1 per brand"
printf '%-8s | %-20s | %-20s | %-20s\n' brand "context words only" "+ model (rules)" "+ model (rules+labels)"
LC_ALL=C join "$work/off.txt" "$work/rules.txt" | LC_ALL=C join - "$work/labels.txt" |
    awk '{ printf "%-8s | %.2f / %.2f / %.2f   | %.2f / %.2f / %.2f   | %.2f / %.2f / %.2f\n", $1, $2, $3, $4, $5, $6, $7, $8, $9, $10 }'
