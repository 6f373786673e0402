#!/usr/bin/env python3
"""Template throughput: `faultline fingerprint --every-line` against drain3.

    python3 scripts/bench-templates.py [--lines 1000000] [--runs 3]

Takes the Content column of every Loghub-2k set (../shared/benchmarks/loghub2k),
repeats it to about --lines lines, writes it as DATA_MESSAGE files of 10,000
events (CloudWatch's batch limit), and in the same run times
- faultline: `fingerprint --every-line` over the files, the whole process
  (start, JSON decoding, masking, hashing, JSON output to /dev/null);
- drain3 (PyPI, out of the box): TemplateMiner.add_log_message over the same
  lines in-process, installed into .venv-bench on first use.
Prints lines per second of each (best of --runs) and their ratio. Skips
cleanly when ../shared is absent.
"""

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LOGHUB = os.path.join(ROOT, "..", "shared", "benchmarks", "loghub2k")
VENV = os.path.join(ROOT, ".venv-bench")

DRAIN_LOOP = r"""
import sys, time
from drain3 import TemplateMiner
lines = open(sys.argv[1], encoding="utf-8").read().split("\n")
miner = TemplateMiner()
start = time.perf_counter()
for line in lines:
    miner.add_log_message(line)
print(time.perf_counter() - start)
"""


def contents():
    lines = []
    for name in sorted(os.listdir(LOGHUB)):
        path = os.path.join(LOGHUB, name, f"{name}_2k.log_structured.csv")
        if os.path.exists(path):
            with open(path, newline="", encoding="utf-8") as f:
                lines.extend(row["Content"] for row in csv.DictReader(f))
    return lines


def drain3_python():
    python = os.path.join(VENV, "bin", "python")
    if not os.path.exists(python):
        subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
    if subprocess.run([python, "-c", "import drain3"], capture_output=True).returncode != 0:
        subprocess.run([python, "-m", "pip", "install", "-q", "drain3"], check=True)
    return python


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    if not os.path.isdir(LOGHUB):
        print(f"skipped: {os.path.normpath(LOGHUB)} is absent")
        return 0
    base = contents()
    repeats = max(1, args.lines // len(base))
    lines = [line.replace("\n", " ") for _ in range(repeats) for line in base]
    subprocess.run(["cargo", "build", "--release", "--quiet", "--bin", "faultline"], cwd=ROOT, check=True)
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    faultline = os.path.join(target, "release", "faultline")
    python = drain3_python()
    with tempfile.TemporaryDirectory() as tmp:
        batches = os.path.join(tmp, "batches")
        os.makedirs(batches)
        for b in range(0, len(lines), 10_000):
            events = [{"id": str(b + i), "timestamp": b + i, "message": m} for i, m in enumerate(lines[b:b + 10_000])]
            with open(os.path.join(batches, f"b{b // 10_000:05d}.json"), "w", encoding="utf-8") as f:
                json.dump({"messageType": "DATA_MESSAGE", "owner": "1", "logGroup": "/loghub", "logStream": "all",
                           "subscriptionFilters": [], "logEvents": events}, f)
        text = os.path.join(tmp, "lines.txt")
        with open(text, "w", encoding="utf-8") as f:
            f.write("\n".join(lines))
        ours, theirs = [], []
        for _ in range(args.runs):
            start = time.perf_counter()
            subprocess.run([faultline, "fingerprint", "--every-line", batches], check=True, stdout=subprocess.DEVNULL)
            ours.append(time.perf_counter() - start)
            out = subprocess.run([python, "-c", DRAIN_LOOP, text], check=True, capture_output=True, text=True)
            theirs.append(float(out.stdout.strip()))
    n = len(lines)
    f, d = n / min(ours), n / min(theirs)
    print(f"lines: {n} ({repeats} x Loghub-2k, 16 sets)")
    print(f"faultline fingerprint --every-line: {f / 1e6:.2f} M lines/s (best of {args.runs}: {min(ours):.2f} s, whole process)")
    print(f"drain3 add_log_message:            {d / 1e3:.1f} k lines/s (best of {args.runs}: {min(theirs):.2f} s, loop only)")
    print(f"ratio: {f / d:.1f}x  (target >= 30x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
