#!/usr/bin/env python3
"""The fault campaign's table (tests/faults/run.sh): one row per mode, then
each fault's recovery time. Exits 1 when a post was lost or the dead letters
by reason differ from what was injected.

Usage: table.py WORK_DIR MODE...   (reads the files run.sh left in WORK_DIR)
"""
import collections
import json
import os
import re
import sys

work, modes = sys.argv[1], sys.argv[2:]
expected = json.load(open(os.path.join(work, "expected.json")))
n = expected["posts"]


def lines(name):
    path = os.path.join(work, name)
    return open(path).read().splitlines() if os.path.exists(path) else []


def classify(stage, key, reason):
    """Which injected fault a dead letter answers, from its stage and reason."""
    if key.startswith("poison-scored:"):
        return "scored poison"
    if stage.startswith("connect") and "refused by the transport" in reason:
        return "oversize post"
    if stage.startswith("connect") and "not a post" in reason:
        return "undecodable line" if "EOF while parsing" in reason else "malformed row"
    return "other: " + re.sub(r"\d+", "N", reason)[:80]


failed = []
out = []
for mode in modes:
    result = json.load(open(os.path.join(work, f"{mode}.result.json")))
    letters = collections.defaultdict(set)
    raw = collections.Counter()
    for line in lines(f"{mode}.dlq"):
        stage, key, reason = (line.split("\t") + ["", ""])[:3]
        kind = classify(stage, key, reason)
        letters[kind].add(key)
        raw[kind] += 1
    want = {"undecodable line": expected["poison"], "malformed row": expected["malformed"],
            "oversize post": expected["oversize"] if mode == "kafka" else 0,
            "scored poison": result["scored_poison"]}
    got = {k: len(v) for k, v in letters.items()}
    for kind in sorted(set(want) | set(got)):
        if got.get(kind, 0) != want.get(kind, 0):
            failed.append(f"{mode}: {got.get(kind, 0)} dead letters '{kind}', {want.get(kind, 0)} injected")
    if mode == "embedded" and result["oversize_stored"] != expected["oversize"]:
        failed.append(f"embedded: {result['oversize_stored']} of {expected['oversize']} oversize posts stored")
    lost = n - result["stored"]
    if lost:
        failed.append(f"{mode}: {lost} posts lost")
    holds = collections.defaultdict(float)
    for line in lines(f"{mode}.metrics.tsv"):
        parts = line.split()
        if len(parts) >= 3:
            metric = parts[1].split("{")[0].replace("earshot_", "")
            try:
                holds[(parts[0], metric)] = max(holds[(parts[0], metric)], float(parts[-1]))
            except ValueError:
                pass
    hold = ", ".join(f"{d} {m.replace('_seconds', '')} {v:.0f}s" for (d, m), v in sorted(holds.items()) if v > 0) or "0"
    exits = collections.Counter(l.split()[1] + " " + l.split()[3] for l in lines(f"{mode}.exits.log") if len(l.split()) == 4)
    dl = "; ".join(f"{k}: {got.get(k, 0)} of {want.get(k, 0)}" + (f" ({raw[k]} records)" if raw[k] != got.get(k, 0) else "")
                   for k in sorted(set(want) | set(got)))
    faults = [l.split("\t") for l in lines(f"{mode}.faults")]
    out.append(f"| {mode} | {n} + {expected['poison']} undecodable + {expected['malformed']} malformed + "
               f"{expected['oversize']} oversize | {result['stored']} | **{lost}** | {result['rows'] - result['stored']} | "
               f"{dl}; store's own dead letters: {result['store_dead_letters']} | {hold} | "
               + " ".join(f"{f}:{t}" for f, t in faults) + " |")
    out.append(f"|   exits ({mode}) | " + ", ".join(f"{k} ×{v}" for k, v in sorted(exits.items())) + " | | | | | | |")

print("\n| mode | posts in | stored (dedup) | lost | duplicate rows | dead letters by reason (distinct of injected) | longest hold (max gauge) | recovery per fault |")
print("|---|---|---|---|---|---|---|---|")
print("\n".join(out))
for f in failed:
    print(f"FAILED: {f}", file=sys.stderr)
sys.exit(1 if failed else 0)
