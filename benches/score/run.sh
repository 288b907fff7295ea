#!/usr/bin/env bash
# Whole-process speed of `earshot score` against the least work its
# interface needs (benches/score_floor.rs: parse, lowercase, one
# Aho-Corasick pass over 1,000 names, emit a line) and against
# vaderSentiment, on the same real texts: the ~29,500 human-rated tweets,
# movie, editorial and product review snippets shipped in the
# vaderSentiment sdist, repeated with distinct ids to POSTS posts.
#
# The sides take turns, ROUNDS times; each figure is posts per CPU second
# (user + system) of the whole process, and the ratios are of medians.
#
#   benches/score/run.sh                    # 5 rounds, 200k posts, no `lang`
#   LANG_FIELD=en ROUNDS=7 benches/score/run.sh
#   CONFIG=/path/earshot.toml benches/score/run.sh   # another config (default config/earshot.toml)
#
# vaderSentiment and its data come from benches/sentiment-eval/vader-env.sh.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
rounds="${ROUNDS:-5}"
posts="${POSTS:-200000}"
lang="${LANG_FIELD:-}"
config="${CONFIG:-$root/config/earshot.toml}"

# shellcheck source=../sentiment-eval/vader-env.sh
. "$root/benches/sentiment-eval/vader-env.sh"
res="$gt"

data="$work/score-bench-$posts-${lang:-nolang}"
mkdir -p "$data"
if [ ! -s "$data/posts.jsonl" ]; then
    cat "$res"/*_GroundTruth.txt | cut -f3 | tr -d '\r' | grep -v '^[[:space:]]*$' > "$data/texts.txt"
    "$work/venv/bin/python" - "$data/texts.txt" "$posts" "$lang" > "$data/posts.jsonl" <<'PY'
import json, sys
texts = [t for t in open(sys.argv[1], encoding="utf-8", errors="replace").read().split("\n") if t]
n, lang = int(sys.argv[2]), sys.argv[3]
for i in range(n):
    post = {"id": f"bench:{i}", "text": texts[i % len(texts)]}
    if lang:
        post["lang"] = lang
    print(json.dumps(post, ensure_ascii=False))
PY
fi

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
cargo build -q --release -p earshot -p earshot-benches --bin earshot --bin earshot-score-floor \
    --manifest-path "$root/Cargo.toml"
bin="$CARGO_TARGET_DIR/release"

# "wall cpu": posts per wall second and per CPU second (user + system) of
# one whole process reading $data/posts.jsonl.
rates() {
    /usr/bin/time -o "$data/time" -f '%e %U %S' "$@" < "$data/posts.jsonl" > /dev/null 2>/dev/null
    awk -v n="$posts" '{ printf "%.0f %.0f\n", n / $1, n / ($2 + $3) }' "$data/time"
}
vader_rate() {
    cut -f3 "$res/tweets_GroundTruth.txt" | "$work/venv/bin/python" "$root/benches/sentiment-eval/speed.py" 2 \
        | sed -n 's/.*texts_per_cpu_s=\([0-9]*\).*/\1/p'
}

echo "posts=$posts lang=${lang:-none} rounds=$rounds cores=$(nproc) (posts per second of the whole process)"
printf 'round\tscore_wall\tscore_cpu\tscore1_cpu\tfloor_wall\tfloor_cpu\tvader_cpu\n'
sw=(); sc=(); s1=(); fw=(); fc=(); v=()
for r in $(seq 1 "$rounds"); do
    read -r a b < <(rates "$bin/earshot" --config "$config" score)
    read -r _ c < <(rates "$bin/earshot" --config "$config" score --threads 1)
    read -r d e < <(rates "$bin/earshot-score-floor")
    f=$(vader_rate)
    sw+=("$a"); sc+=("$b"); s1+=("$c"); fw+=("$d"); fc+=("$e"); v+=("$f")
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$r" "$a" "$b" "$c" "$d" "$e" "$f"
done
median() { printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
m_sw=$(median "${sw[@]}"); m_sc=$(median "${sc[@]}"); m_s1=$(median "${s1[@]}")
m_fw=$(median "${fw[@]}"); m_fc=$(median "${fc[@]}"); m_v=$(median "${v[@]}")
printf 'median\t%s\t%s\t%s\t%s\t%s\t%s\n' "$m_sw" "$m_sc" "$m_s1" "$m_fw" "$m_fc" "$m_v"
awk -v sw="$m_sw" -v sc="$m_sc" -v s1="$m_s1" -v fw="$m_fw" -v fc="$m_fc" -v v="$m_v" 'BEGIN {
    printf "earshot score / floor, posts per wall second (all cores vs one): %.1f%%\n", 100 * sw / fw
    printf "earshot score / floor, posts per CPU second (--threads 1):       %.1f%%\n", 100 * s1 / fc
    printf "earshot score (--threads 1) / vaderSentiment, per CPU second:   %.1fx\n", s1 / v
}'
