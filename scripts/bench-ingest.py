#!/usr/bin/env python3
"""The main job's CPU time against the decode-only floor, in one run.

    python3 scripts/bench-ingest.py [--runs 5] [--inputs target/bench-inputs]

Runs, alternately and --runs times each, `faultline ingest --notify none`
into a fresh SQLite file and `examples/decode_floor` (base64 + gunzip +
serde_json over the same inputs, touching every message), and reports the
median CPU time (user + system) of each and their ratio. Alternating runs in
one process keeps the ratio meaningful on a shared, noisy machine where
absolute times drift. Builds both binaries in release mode and makes the
inputs with scripts/make-bench-inputs.py if they are missing.
"""

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def cpu_of(cmd, **kw):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), after.ru_maxrss


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--inputs", default=os.path.join(ROOT, "target", "bench-inputs"))
    args = ap.parse_args()
    if not os.path.isdir(args.inputs) or not os.listdir(args.inputs):
        subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "make-bench-inputs.py"), "--out", args.inputs], check=True)
    subprocess.run(["cargo", "build", "--release", "--quiet", "--bin", "faultline", "--example", "decode_floor"], cwd=ROOT, check=True)
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    faultline = os.path.join(target, "release", "faultline")
    floor = os.path.join(target, "release", "examples", "decode_floor")
    files = sorted(f for f in os.listdir(args.inputs) if f.endswith(".json"))
    size = sum(os.path.getsize(os.path.join(args.inputs, f)) for f in files)
    floors, ingests = [], []
    for _ in range(args.runs):
        t, _ = cpu_of([floor, args.inputs])
        floors.append(t)
        with tempfile.TemporaryDirectory() as tmp:
            t, _ = cpu_of([faultline, "ingest", "--notify", "none", "--store", f"sqlite:{tmp}/bench.db", args.inputs])
            ingests.append(t)
    f, i = statistics.median(floors), statistics.median(ingests)
    print(f"inputs: {len(files)} files, {size / 1e6:.1f} MB on disk, in {args.inputs}")
    print(f"floor  (decode only)        median CPU {f * 1000:8.1f} ms  runs {[round(x * 1000) for x in floors]}")
    print(f"ingest (--notify none, sqlite) median CPU {i * 1000:8.1f} ms  runs {[round(x * 1000) for x in ingests]}")
    print(f"ratio ingest/floor: {i / f:.2f}  (target <= 1.5)")


if __name__ == "__main__":
    main()
