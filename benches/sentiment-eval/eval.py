#!/usr/bin/env python3
"""Compares Earshot's sentiment with vaderSentiment 3.3.2 on human-rated text.

Data: the human ground truth that ships in the vaderSentiment 3.3.2 sdist
(additional_resources/hutto_ICWSM_2014.tar.gz): for each text, the mean of
about 20 human ratings on a -4..4 scale (Hutto & Gilbert, ICWSM 2014).
Primary set: tweets_GroundTruth.txt (4,200 tweets). The amazon, movie and NYT
snippet sets are reported too.

Split: texts with an odd id are the development half (used to choose the
rules' constants and the neutral threshold, and the only half the hybrid
model is trained on: train.py); texts with an even id are the held-out test
half, on which the headline figures are computed.

Gold 3-class labels: mean rating > 0.5 positive, < -0.5 negative, else
neutral (within half a point of zero on the 9-point scale). VADER is labelled
with its documented +-0.05 compound thresholds; Earshot with its configured
neutral_threshold (the label it emits), under each of its two models.

Usage: eval.py GROUND_TRUTH_DIR LEXICON_SCORER HYBRID_SCORER [--corpus corpus.txt]
  *_SCORER: command reading texts on stdin and printing compound<TAB>label<TAB>text.
"""
import math
import os
import subprocess
import sys

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

GOLD_BAND = 0.5
LABELS = ("positive", "neutral", "negative")


def gold_label(r):
    return "positive" if r > GOLD_BAND else "negative" if r < -GOLD_BAND else "neutral"


def vader_label(c):
    return "positive" if c >= 0.05 else "negative" if c <= -0.05 else "neutral"


def pearson(xs, ys):
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    sx = math.sqrt(sum((x - mx) ** 2 for x in xs))
    sy = math.sqrt(sum((y - my) ** 2 for y in ys))
    return sxy / (sx * sy) if sx and sy else 0.0


def f1s(gold, pred):
    out = {}
    for c in LABELS:
        tp = sum(1 for g, p in zip(gold, pred) if g == c and p == c)
        fp = sum(1 for g, p in zip(gold, pred) if g != c and p == c)
        fn = sum(1 for g, p in zip(gold, pred) if g == c and p != c)
        prec = tp / (tp + fp) if tp + fp else 0.0
        rec = tp / (tp + fn) if tp + fn else 0.0
        out[c] = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    out["macro"] = sum(out[c] for c in LABELS) / 3
    return out


def load(path):
    rows = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 3:
                continue
            try:
                rows.append((int(parts[0]), float(parts[1]), " ".join(parts[2:]).replace("\r", " ")))
            except ValueError:
                continue
    return rows


def rust_scores(cmd, texts):
    inp = "".join(t.replace("\n", " ") + "\n" for t in texts)
    out = subprocess.run(cmd, input=inp, capture_output=True, text=True, shell=True, check=True).stdout
    res = []
    for line in out.splitlines():
        c, label, _ = line.split("\t", 2)
        res.append((float(c), label))
    assert len(res) == len(texts), (len(res), len(texts))
    return res


def report(name, rows, vader, cmds, split):
    if split == "dev":
        rows = [r for r in rows if r[0] % 2 == 1]
    elif split == "test":
        rows = [r for r in rows if r[0] % 2 == 0]
    texts = [r[2] for r in rows]
    gold = [r[1] for r in rows]
    gl = [gold_label(g) for g in gold]
    v = [vader.polarity_scores(t)["compound"] for t in texts]
    sides = [([c for c in v], [vader_label(c) for c in v])]
    for cmd in cmds:
        e = rust_scores(cmd, texts)
        sides.append(([c for c, _ in e], [l for _, l in e]))
    rs = [pearson(gold, c) for c, _ in sides]
    fs = [f1s(gl, l) for _, l in sides]
    cell = lambda xs: " / ".join(f"{x:.3f}" for x in xs)
    print(f"| {name} ({split}, n={len(rows)}) | {cell(rs)} | {cell(f['macro'] for f in fs)} "
          f"| {cell(f['neutral'] for f in fs)} |")


def main():
    gt_dir, cmds = sys.argv[1], sys.argv[2:4]
    corpus = sys.argv[5] if len(sys.argv) > 5 and sys.argv[4] == "--corpus" else None
    split = os.environ.get("SPLIT", "test")
    vader = SentimentIntensityAnalyzer()
    print("Each cell: VADER / Earshot lexicon / Earshot hybrid.")
    print()
    print("| data set | Pearson r | macro F1 | neutral F1 |")
    print("| --- | --- | --- | --- |")
    for fname, name in [("tweets_GroundTruth.txt", "tweets"), ("amazonReviewSnippets_GroundTruth.txt", "amazon"),
                        ("movieReviewSnippets_GroundTruth.txt", "movies"), ("nytEditorialSnippets_GroundTruth.txt", "nyt")]:
        path = os.path.join(gt_dir, fname)
        if os.path.exists(path):
            report(name, load(path), vader, cmds, split)
    if corpus:
        texts = [l.rstrip("\n") for l in open(corpus, encoding="utf-8") if l.strip() and not l.startswith("#")]
        v = [vader.polarity_scores(t)["compound"] for t in texts]
        e = rust_scores(cmds[0], texts)
        agree = sum(1 for a, (b, _) in zip(v, e) if vader_label(a) == vader_label(b)) / len(texts)
        print()
        print(f"Differential (lexicon model) on {os.path.basename(corpus)} (n={len(texts)}): label agreement at "
              f"VADER's +-0.05 thresholds {agree:.1%}, Pearson r between compounds {pearson(v, [c for c, _ in e]):.3f}")
        if os.environ.get("SHOW_DIFF"):
            for t, a, (b, _) in zip(texts, v, e):
                if vader_label(a) != vader_label(b):
                    print(f"  vader {a:+.3f} earshot {b:+.3f}  {t}")


if __name__ == "__main__":
    main()
