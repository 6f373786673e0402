#!/usr/bin/env python3
"""CPU time of several ingest variants against the decode floor, in one run.

    python3 scripts/bench-variants.py [--runs 11] [--inputs DIR] NAME=BINARY[,ENV=VALUE...] ...

Like scripts/bench-ingest.py, but for any number of faultline binaries or
environments (an older build, another allocator, MIMALLOC_* options): runs
the floor and every variant alternately, --runs times each, each ingest
into a fresh SQLite file, and prints per variant the median and minimum
CPU time (user + system), user and system apart, minor page faults, and
the ratio of its median to the floor's. The floor is the release
`examples/decode_floor` of this tree, built if missing.
"""

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(cmd, env):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime,
            after.ru_minflt - before.ru_minflt)


def variant(text):
    name, _, rest = text.partition("=")
    binary, *settings = rest.split(",")
    if not name or not binary:
        raise argparse.ArgumentTypeError(f"{text}: expected NAME=BINARY[,ENV=VALUE...]")
    env = dict(s.split("=", 1) for s in settings)
    return name, binary, env


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=11)
    ap.add_argument("--inputs", default=os.path.join(ROOT, "target", "bench-inputs"))
    ap.add_argument("variants", nargs="+", type=variant, metavar="NAME=BINARY[,ENV=VALUE...]")
    args = ap.parse_args()
    if not os.path.isdir(args.inputs) or not os.listdir(args.inputs):
        subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "make-bench-inputs.py"), "--out", args.inputs], check=True)
    subprocess.run(["cargo", "build", "--release", "--quiet", "--example", "decode_floor"], cwd=ROOT, check=True)
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    floor = os.path.join(target, "release", "examples", "decode_floor")
    results = {"floor": []}
    results.update({name: [] for name, _, _ in args.variants})
    load = os.getloadavg()
    for _ in range(args.runs):
        results["floor"].append(run([floor, args.inputs], dict(os.environ)))
        for name, binary, extra in args.variants:
            env = dict(os.environ)
            env.update(extra)
            with tempfile.TemporaryDirectory() as tmp:
                cmd = [binary, "ingest", "--notify", "none", "--store", f"sqlite:{tmp}/bench.db", args.inputs]
                results[name].append(run(cmd, env))
    print(f"inputs: {args.inputs}; {args.runs} alternating runs; load average {load[0]:.2f} before, {os.getloadavg()[0]:.2f} after")
    base = statistics.median(u + s for u, s, _ in results["floor"])
    for name, runs in results.items():
        cpu = [u + s for u, s, _ in runs]
        print(f"{name:32s} CPU median {statistics.median(cpu) * 1000:7.1f} ms  min {min(cpu) * 1000:7.1f} ms  "
              f"user {statistics.median(u for u, _, _ in runs) * 1000:7.1f}  sys {statistics.median(s for _, s, _ in runs) * 1000:6.1f}  "
              f"faults {statistics.median(f for _, _, f in runs):7.0f}  / floor {statistics.median(cpu) / base:.3f}")


if __name__ == "__main__":
    main()
