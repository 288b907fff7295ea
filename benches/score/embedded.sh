#!/usr/bin/env bash
# Whole-process cost of the embedded mode against `earshot score`: the same
# POSTS posts (benches/score/run.sh's real texts, no `lang`) replayed by
# `earshot run` (file connector → in-memory bus → match → SQLite, the
# bundled config otherwise) and scored by `earshot score --threads 1`.
# The sides take turns, ROUNDS times; each run of `earshot run` starts on a
# fresh store. Figures: CPU µs per post (user + system), wall seconds and
# peak RSS; the ratio is of medians.
#
#   benches/score/embedded.sh               # 3 rounds, 300k posts
#   ROUNDS=5 POSTS=100000 benches/score/embedded.sh
#   EARSHOT_BASELINE=/path/to/other/earshot benches/score/embedded.sh   # also time another build's `run`
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
rounds="${ROUNDS:-3}"
posts="${POSTS:-300000}"
baseline="${EARSHOT_BASELINE:-}"

# shellcheck source=../sentiment-eval/vader-env.sh
. "$root/benches/sentiment-eval/vader-env.sh"
data="$work/embedded-bench-$posts"
mkdir -p "$data"
if [ ! -s "$data/posts.jsonl" ]; then
    cat "$gt"/*_GroundTruth.txt | cut -f3 | tr -d '\r' | grep -v '^[[:space:]]*$' > "$data/texts.txt"
    "$work/venv/bin/python" - "$data/texts.txt" "$posts" > "$data/posts.jsonl" <<'PY'
import json, sys
texts = [t for t in open(sys.argv[1], encoding="utf-8", errors="replace").read().split("\n") if t]
for i in range(int(sys.argv[2])):
    print(json.dumps({"id": f"bench:{i}", "text": texts[i % len(texts)]}, ensure_ascii=False))
PY
fi

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
cargo build -q --release -p earshot --bin earshot --manifest-path "$root/Cargo.toml"
bin="$CARGO_TARGET_DIR/release/earshot"

# The bundled config with its file connector pointed at the posts and its
# stores in a scratch directory.
cfg="$data/config"
rm -rf "$cfg" && cp -r "$root/config" "$cfg"
sed -i -e "s#^path = \".earshot/earshot.db\"#path = \"$data/store/earshot.db\"#" \
    -e "s#^path = \".earshot/cursors.db\"#path = \"$data/store/cursors.db\"#" \
    -e "s#^paths = \[\".earshot/samples/posts.jsonl\"\]#paths = [\"$data/posts.jsonl\"]#" "$cfg/earshot.toml"
grep -q "$data/posts.jsonl" "$cfg/earshot.toml" || { echo "could not point the config at the posts" >&2; exit 1; }

# "cpu_us_per_post wall_s max_rss_mb" of one whole process.
measure() {
    /usr/bin/time -o "$data/time" -f '%e %U %S %M' "$@" > /dev/null 2> "$data/stderr" \
        || { cat "$data/stderr" >&2; exit 1; }
    awk -v n="$posts" '{ printf "%.2f %.2f %.0f\n", 1e6 * ($2 + $3) / n, $1, $4 / 1024 }' "$data/time"
}
# Prints only once the store was checked, so the next run cannot overlap it.
run_once() {
    rm -rf "$data/store"
    local figures stored
    figures=$(measure "$1" --config "$cfg/earshot.toml" run)
    stored=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from interactions').fetchone()[0])" "$data/store/earshot.db")
    [ "$stored" = "$posts" ] || { echo "earshot run stored $stored of $posts posts" >&2; exit 1; }
    echo "$figures"
}

echo "posts=$posts rounds=$rounds cores=$(nproc) (CPU µs per post of the whole process, wall s, peak RSS MB)"
printf 'round\trun_cpu_us\trun_wall\trun_rss\tscore_cpu_us\tscore_wall\tscore_rss%b\n' "${baseline:+\tbase_cpu_us\tbase_wall\tbase_rss}"
rc=(); sc=(); bc=()
for r in $(seq 1 "$rounds"); do
    read -r a b c < <(run_once "$bin")
    read -r d e f < <(measure "$bin" --config "$cfg/earshot.toml" score --threads 1 < "$data/posts.jsonl")
    line="$r\t$a\t$b\t$c\t$d\t$e\t$f"
    rc+=("$a"); sc+=("$d")
    if [ -n "$baseline" ]; then
        read -r g h i < <(run_once "$baseline")
        line="$line\t$g\t$h\t$i"; bc+=("$g")
    fi
    printf "$line\n"
done
median() { printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
m_r=$(median "${rc[@]}"); m_s=$(median "${sc[@]}")
echo "median: earshot run $m_r µs a post, earshot score --threads 1 $m_s µs a post: $(awk -v a="$m_r" -v b="$m_s" 'BEGIN { printf "%.2f", a / b }')x"
if [ -n "$baseline" ]; then
    m_b=$(median "${bc[@]}")
    echo "median: baseline earshot run $m_b µs a post: this build uses $(awk -v a="$m_r" -v b="$m_b" 'BEGIN { printf "%.1f", 100 * (a - b) / b }')% CPU against it"
fi
