#!/usr/bin/env python3
"""vaderSentiment 3.3.2 throughput per core on texts from stdin (one per line).

Scores every text with SentimentIntensityAnalyzer.polarity_scores, over and
over for a few seconds, and prints texts per second of CPU time
(time.process_time), the measure the Rust side prints too.

Usage: speed.py [seconds] < texts.txt
"""
import sys
import time

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 5.0
    texts = [line.rstrip("\n") for line in sys.stdin if line.strip()]
    vader = SentimentIntensityAnalyzer()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    scored = 0
    while time.perf_counter() - wall0 < seconds:
        for t in texts:
            vader.polarity_scores(t)
        scored += len(texts)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    print(f"vader\ttexts={len(texts)}\tscored={scored}\tcpu_s={cpu:.2f}\twall_s={wall:.2f}\t"
          f"texts_per_cpu_s={scored / cpu:.0f}")


if __name__ == "__main__":
    main()
