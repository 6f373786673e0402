#!/usr/bin/env python3
"""How fast `faultline serve` answers on a store of 50,000 issues, against
the time `faultline issues --json` takes to list the same store, in one run.

    python3 scripts/bench-serve.py [--issues 50000] [--runs 7] [--keep DIR]

Fills a fresh SQLite store through `faultline ingest` (distinct error kinds
across 20 log groups and three environments, spread over 30 days, so every
issue has hours and facets), starts `faultline serve` on a free loopback
port, and times, alternately and --runs times each: the baseline
`faultline issues --json --status all`, the list page, the list filtered by
a context value, the list sorted by trend, and an issue page. Prints the
median wall time of each and its ratio to the baseline. Builds the release
binary first.
"""

import argparse
import gzip
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HOUR = 3_600_000
END = 1_763_900_000_000  # 2025-11-23, so the store's own times are used


def word(i):
    """A letters-only name per issue: masking leaves letters alone, so each
    is its own fingerprint."""
    letters = ""
    i += 26 * 26
    while i:
        i, r = divmod(i, 26)
        letters += "abcdefghijklmnopqrstuvwxyz"[r]
    return letters.capitalize()


def fill(store_dir, issues):
    rng = random.Random(7)
    inputs = os.path.join(store_dir, "inputs")
    os.makedirs(inputs)
    per_file = 2_000
    event = 0
    for f in range(0, issues, per_file):
        group = f"/aws/lambda/job-{(f // per_file) % 20:02d}"
        events = []
        for i in range(f, min(f + per_file, issues)):
            for _ in range(1 + (i % 3)):
                event += 1
                line = json.dumps({
                    "level": "error",
                    "msg": "job step failed",
                    "environment": ["prod", "staging", "dev"][i % 3],
                    "service": f"svc{word(i % 50)}",
                    "err": {"type": f"{word(i)}Error", "message": f"step {word(i)} failed",
                            "stack": f"{word(i)}Error: step failed\n    at run (/var/task/src/{word(i % 97)}.js:1:1)"},
                })
                events.append({"id": str(event), "timestamp": END - rng.randrange(30 * 24) * HOUR, "message": line})
        body = {"messageType": "DATA_MESSAGE", "owner": "1", "logGroup": group,
                "logStream": f"2025/11/23/[1]{f:06d}", "subscriptionFilters": [], "logEvents": events}
        with open(os.path.join(inputs, f"batch-{f:06d}.json"), "w") as out:
            json.dump(body, out)
    return inputs


def wall(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--issues", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--keep", help="keep the store in this folder (and reuse it if there)")
    args = parser.parse_args()
    subprocess.run(["cargo", "build", "--release", "--quiet", "--bin", "faultline"], cwd=ROOT, check=True)
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    faultline = os.path.join(target, "release", "faultline")

    tmp = tempfile.TemporaryDirectory()
    folder = args.keep or tmp.name
    os.makedirs(folder, exist_ok=True)
    store = f"sqlite:{folder}/bench.db"
    if not os.path.exists(f"{folder}/bench.db"):
        inputs = fill(folder, args.issues)
        took = wall(lambda: subprocess.run([faultline, "ingest", "--notify", "none", "--store", store, inputs],
                                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        print(f"filled the store through ingest in {took:.1f} s")
    listed = json.loads(subprocess.run([faultline, "issues", "--json", "--status", "all", "--store", store],
                                       check=True, capture_output=True, text=True).stdout)
    print(f"store: {len(listed)} issues")
    some_id = listed[len(listed) // 2]["id"]

    server = subprocess.Popen([faultline, "serve", "--store", store, "--listen", "127.0.0.1:0"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        url = server.stdout.readline().strip().removeprefix("faultline serve: listening on ").rstrip("/")

        def get(path):
            def run():
                with urllib.request.urlopen(url + path) as response:
                    body = response.read()
                    assert response.status == 200, response.status
                    assert len(body) > 1000, body[:200]
            return run

        cases = {
            "baseline: faultline issues --json --status all": lambda: subprocess.run(
                [faultline, "issues", "--json", "--status", "all", "--store", store],
                check=True, stdout=subprocess.DEVNULL),
            "list page (open, last seen)": get("/"),
            "list, environment = staging": get("/?status=all&field=environment&value=staging"),
            "list, sorted by trend": get("/?sort=trend"),
            "issue page": get(f"/issues/{some_id}"),
        }
        times = {name: [] for name in cases}
        for case in cases.values():
            case()  # warm the page cache
        for _ in range(args.runs):
            for name, case in cases.items():
                times[name].append(wall(case))
    finally:
        server.terminate()
        server.wait()
    base = statistics.median(next(iter(times.values())))
    print(f"| median of {args.runs} | wall time | ratio to baseline |")
    print("|---|---|---|")
    for name, samples in times.items():
        m = statistics.median(samples)
        print(f"| {name} | {m * 1000:.0f} ms | {m / base:.2f} |")


if __name__ == "__main__":
    sys.exit(main())
