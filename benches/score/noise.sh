#!/usr/bin/env bash
# The fingerprint's cost per post (issue 16): whole `earshot score
# --threads 1` processes on the same posts as benches/score/run.sh, taking
# turns: a baseline binary (BASE, optional: a build before the change) with the
# bundled config, this tree's binary with the bundled config (noise off),
# and this tree's binary with `[matcher.noise] enabled = true`. Figures are
# posts per CPU second (user + system), medians of ROUNDS (default 3).
#
#   ROUNDS=5 BASE=../main/target/release/earshot benches/score/noise.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
rounds="${ROUNDS:-3}"
posts="${POSTS:-200000}"
base="${BASE:-}"  # optional: a build without this change

# shellcheck source=../sentiment-eval/vader-env.sh
. "$root/benches/sentiment-eval/vader-env.sh"
data="$work/score-bench-$posts-nolang"
[ -s "$data/posts.jsonl" ] || POSTS="$posts" ROUNDS=1 "$here/run.sh" > /dev/null

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
cargo build -q --release -p earshot --bin earshot --manifest-path "$root/Cargo.toml"
bin="$CARGO_TARGET_DIR/release/earshot"

# The bundled config's directory with noise turned on (paths stay relative).
conf="$(mktemp -d)"
trap 'rm -rf "$conf"' EXIT
cp -r "$root/config/." "$conf/"
printf '\n[matcher.noise]\nenabled = true\n' >> "$conf/earshot.toml"

rate() {
    /usr/bin/time -o "$data/time" -f '%e %U %S' "$@" score --threads 1 < "$data/posts.jsonl" > /dev/null 2>/dev/null
    awk -v n="$posts" '{ printf "%.0f\n", n / ($2 + $3) }' "$data/time"
}
echo "posts=$posts rounds=$rounds base=$base (posts per CPU second, --threads 1)"
printf 'round\tbase\toff\ton\n'
b=(); f=(); o=()
for r in $(seq 1 "$rounds"); do
    x=0
    [ -x "$base" ] && x=$(rate "$base" --config "$root/config/earshot.toml")
    y=$(rate "$bin" --config "$root/config/earshot.toml")
    z=$(rate "$bin" --config "$conf/earshot.toml")
    b+=("$x"); f+=("$y"); o+=("$z")
    printf '%s\t%s\t%s\t%s\n' "$r" "$x" "$y" "$z"
done
median() { printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
mb=$(median "${b[@]}"); mf=$(median "${f[@]}"); mo=$(median "${o[@]}")
printf 'median\t%s\t%s\t%s\n' "$mb" "$mf" "$mo"
awk -v b="$mb" -v f="$mf" -v o="$mo" 'BEGIN {
    printf "noise on costs %.2f us a post (%.1f%% fewer posts per CPU second than off)\n", (1e6 / o - 1e6 / f), 100 * (f - o) / f
    if (b > 0) printf "off against the base: %+.1f%%\n", 100 * (f - b) / b
}'
