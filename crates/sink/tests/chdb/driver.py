"""Runs SQL steps on chdb (ClickHouse embedded in-process) for the sink's
issue_13_chdb test, which has no HTTP server to talk to.

stdin:  {"path": DIR, "steps": [{"sql": TEXT, "params": {NAME: VALUE} | null,
                                  "format": "TabSeparated"}]}
stdout: [{"ok": true, "output": TEXT} | {"ok": false, "error": TEXT}], one per step.

Every step runs, whatever the previous ones did, in one session whose tables
live under DIR (so a later call sees what an earlier one created).
"""
import json
import sys

from chdb import session


def main():
    job = json.load(sys.stdin)
    sess = session.Session(job["path"])
    results = []
    for step in job["steps"]:
        try:
            out = sess.query(step["sql"], step.get("format", "TabSeparated"),
                             params=step.get("params") or None)
            results.append({"ok": True, "output": str(out) if out is not None else ""})
        except Exception as e:  # chdb raises its own error type; any failure is the step's result
            results.append({"ok": False, "error": str(e)})
    sess.close()
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
