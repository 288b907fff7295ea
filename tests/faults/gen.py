#!/usr/bin/env python3
"""The fault campaign's input (tests/faults/run.sh): N posts with known ids
(`fault:0` ... `fault:N-1`) as JSON Lines, and bad input in between:

- every POISON_EVERY posts, an undecodable line (cut-off JSON);
- every MALFORMED_EVERY posts, a row that is JSON but not a post (no id);
- every OVERSIZE_EVERY posts, a post over the broker's 1 MB message limit
  (id `oversize:I`; the Kafka pipeline dead-letters it, the embedded mode,
  whose bus has no such limit, stores it).

Writes the file to argv[1] and what was injected, as JSON, to argv[2].
"""
import json
import sys

path, expect_path, n, poison_every, malformed_every, oversize_every = (
    sys.argv[1], sys.argv[2], *map(int, sys.argv[3:7]))
TEXTS = ["Acme support fixed my order in minutes", "Still waiting for my Acme refund, terrible",
         "Thinking about switching from Globex to Acme", "Nice weather today",
         "Initrode shipped the wrong part twice", "How do I cancel my Globex subscription?"]
poison = malformed = oversize = 0
with open(path, "w") as out:
    for i in range(n):
        if poison_every and i % poison_every == poison_every - 1:
            out.write('{"id": "poison:%d", "text": \n' % i)
            poison += 1
        if malformed_every and i % malformed_every == malformed_every - 1:
            out.write(json.dumps({"text": "a row without an id (%d)" % i, "author": {"handle": 7}}) + "\n")
            malformed += 1
        if oversize_every and i % oversize_every == oversize_every - 1:
            # 1.2 MB of text that names no brand: over the limit on its own.
            out.write(json.dumps({"id": "oversize:%d" % i, "text": "lorem ipsum " * 100_000}) + "\n")
            oversize += 1
        out.write(json.dumps({"id": "fault:%d" % i, "text": "%s (%d)" % (TEXTS[i % len(TEXTS)], i),
                              "published_at": "2026-12-06T12:00:00Z"}) + "\n")
with open(expect_path, "w") as f:
    json.dump({"posts": n, "poison": poison, "malformed": malformed, "oversize": oversize}, f)
