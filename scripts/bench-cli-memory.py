#!/usr/bin/env python3
"""Peak memory of `faultline ingest` on many files with many distinct errors.

    python3 scripts/bench-cli-memory.py [--files 1000] [--errors 200] [--baseline BIN]

Writes --files DATA_MESSAGE files of --errors distinct errors each (every
error a new issue with a ~2 KB message and a stack frame: the worst case for
what a run keeps per batch), ingests them into a fresh SQLite store with the
release build of this tree, and reports the peak RSS and wall time. With
--baseline, runs that binary (an older faultline) on the same files in the
same run and prints the ratio. Each measurement runs in its own child
process, so ru_maxrss is that process's own peak.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def make_inputs(folder, files, errors):
    os.makedirs(folder, exist_ok=True)
    for f in range(files):
        events = []
        for i in range(errors):
            n = f * errors + i
            message = "[ERROR] Error%d: failed %s\nTraceback (most recent call last):\n  File \"/var/task/m%d.py\", line %d, in f%d\n" % (
                n, "detail " * 250, n, i, n)
            events.append({"id": str(n), "timestamp": 1763972370000 + n, "message": message})
        with open(os.path.join(folder, "%05d.json" % f), "w") as out:
            json.dump({"messageType": "DATA_MESSAGE", "owner": "1", "logGroup": "/aws/lambda/mem",
                       "logStream": "s%d" % f, "logEvents": events}, out)


def measure(binary, inputs):
    """Peak RSS (MB) and wall seconds of one ingest, in a child process."""
    with tempfile.TemporaryDirectory() as scratch:
        code = (
            "import resource, subprocess, sys, time\n"
            "t = time.time()\n"
            "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, time.time() - t)\n"
        )
        store = "sqlite:" + os.path.join(scratch, "f.db")
        out = subprocess.run([sys.executable, "-c", code, binary, "ingest", "--notify", "none",
                              "--store", store, inputs], check=True, capture_output=True, text=True)
        kb, seconds = out.stdout.split()
        return int(kb) / 1024, float(seconds)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--errors", type=int, default=200)
    parser.add_argument("--baseline", help="an older faultline binary to compare with")
    args = parser.parse_args()
    subprocess.run(["cargo", "build", "--release", "--bin", "faultline"], cwd=ROOT, check=True)
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    binary = os.path.join(target, "release", "faultline")
    inputs = os.path.join(ROOT, "target", "bench-cli-memory-%d-%d" % (args.files, args.errors))
    if not os.path.isdir(inputs):
        make_inputs(inputs, args.files, args.errors)
    print("%d files x %d distinct errors" % (args.files, args.errors))
    mb, s = measure(binary, inputs)
    print("this tree: peak RSS %.0f MB, %.1f s" % (mb, s))
    if args.baseline:
        base_mb, base_s = measure(args.baseline, inputs)
        print("baseline:  peak RSS %.0f MB, %.1f s" % (base_mb, base_s))
        print("ratio (this / baseline): memory %.3f, time %.2f" % (mb / base_mb, s / base_s))


if __name__ == "__main__":
    main()
