#!/usr/bin/env python3
"""Grouping accuracy of `faultline fingerprint --every-line` on Loghub-2k.

For each of the 16 Loghub-2k systems, writes the Content column of its
corrected structured CSV as one CloudWatch Logs DATA_MESSAGE (one log group
per system), runs the faultline CLI over all of them, and scores the
fingerprints as groups against the labelled EventIds with the grouping
accuracy of Zhu et al., "Tools and Benchmarks for Automated Log Parsing"
(ICSE-SEIP 2019): a line is correct when the lines sharing its fingerprint
are exactly the lines sharing its EventId; accuracy = correct / all lines.

Labels: the Loghub 2.0 corrected file (<Set>/loghub2.0/<Set>_2k.log_
structured_corrected.csv) where the set has one, else the top-level
<Set>/<Set>_2k.log_structured_corrected.csv (Android and Windows).

Usage:
    scripts/loghub-accuracy.py [FAULTLINE_BIN] [--min-average X] [--throughput N]

FAULTLINE_BIN defaults to $FAULTLINE_BIN, then target/release/faultline.
--min-average X exits 1 when the average falls below X (for CI).
--throughput N also times the CLI over all lines repeated N times.
Data: $LOGHUB2K_DIR, else ../shared/benchmarks/loghub2k beside the repo;
when absent the script says so and exits 0. Python 3 standard library only.
"""

import argparse
import collections
import csv
import decimal
import json
import os
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Drain (He et al., ICWS 2017) on Loghub-2k with per-set tuned settings, as
# published in Zhu et al. 2019 (Table) and logpai/logparser's
# logparser/Drain/README.md benchmark table. Measured on the original labels.
DRAIN = {
    "HDFS": 0.9975,
    "Hadoop": 0.9475,
    "Spark": 0.92,
    "Zookeeper": 0.9665,
    "OpenStack": 0.7325,
    "BGL": 0.9625,
    "HPC": 0.887,
    "Thunderbird": 0.955,
    "Windows": 0.997,
    "Linux": 0.69,
    "Mac": 0.7865,
    "Android": 0.911,
    "HealthApp": 0.78,
    "Apache": 1.0,
    "OpenSSH": 0.7875,
    "Proxifier": 0.5265,
}
SETS = list(DRAIN)


def fmt(x):
    """Three decimals, halves rounded up as the papers print them."""
    return str(decimal.Decimal(repr(x)).quantize(decimal.Decimal("0.001"), rounding=decimal.ROUND_HALF_UP))


def labels_path(root, name):
    v2 = os.path.join(root, name, "loghub2.0", f"{name}_2k.log_structured_corrected.csv")
    if os.path.isfile(v2):
        return v2, "loghub2.0"
    return os.path.join(root, name, f"{name}_2k.log_structured_corrected.csv"), "loghub"


def load(path):
    with open(path, newline="", encoding="utf-8") as f:
        return [(row["Content"], row["EventId"]) for row in csv.DictReader(f)]


def data_message(log_group, messages, id_prefix=""):
    return {
        "messageType": "DATA_MESSAGE",
        "owner": "000000000000",
        "logGroup": log_group,
        "logStream": "loghub-2k",
        "subscriptionFilters": [],
        "logEvents": [
            {"id": f"{id_prefix}{i}", "timestamp": 1700000000000 + i, "message": m}
            for i, m in enumerate(messages)
        ],
    }


def grouping_accuracy(pred, truth):
    by_pred = collections.defaultdict(set)
    by_true = collections.defaultdict(set)
    for i, (p, t) in enumerate(zip(pred, truth)):
        by_pred[p].add(i)
        by_true[t].add(i)
    correct = sum(len(lines) for lines in by_true.values() if by_pred[pred[next(iter(lines))]] == lines)
    return correct / len(pred)


def run_cli(binary, paths):
    proc = subprocess.run(
        [binary, "fingerprint", "--every-line", *paths],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        check=False,
    )
    if proc.returncode != 0:
        sys.exit(f"{binary} failed ({proc.returncode}): {proc.stderr.decode(errors='replace')[:2000]}")
    return proc.stdout


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("binary", nargs="?", default=os.environ.get("FAULTLINE_BIN"))
    ap.add_argument("--min-average", type=float)
    ap.add_argument("--throughput", type=int, default=0, metavar="N")
    args = ap.parse_args()

    root = os.environ.get("LOGHUB2K_DIR") or os.path.join(REPO, "..", "shared", "benchmarks", "loghub2k")
    if not os.path.isdir(root):
        print(f"skipped: Loghub-2k not found at {os.path.normpath(root)} (set LOGHUB2K_DIR)")
        return 0
    binary = args.binary or os.path.join(REPO, "target", "release", "faultline")
    if not os.path.isfile(binary):
        sys.exit(f"{binary} not found: run `cargo build --release` or pass the binary")

    sets = {}
    with tempfile.TemporaryDirectory(prefix="loghub-accuracy-") as tmp:
        paths = []
        for name in SETS:
            path, source = labels_path(root, name)
            rows = load(path)
            sets[name] = (rows, source)
            out = os.path.join(tmp, f"{name}.json")
            with open(out, "w", encoding="utf-8") as f:
                json.dump(data_message(f"loghub/{name}", [m for m, _ in rows]), f)
            paths.append(out)
        keys = {}
        for line in run_cli(binary, paths).splitlines():
            ev = json.loads(line)
            keys[(ev["log_group"], ev["id"])] = ev["fingerprint"]

        print("| System | Labels | Lines | Events | faultline | Drain (published) | Difference |")
        print("|---|---|---:|---:|---:|---:|---:|")
        total = 0.0
        for name in SETS:
            rows, source = sets[name]
            # A missing or null fingerprint is its own group: it groups nothing.
            pred = [keys.get((f"loghub/{name}", str(i))) or f"missing-{i}" for i in range(len(rows))]
            truth = [e for _, e in rows]
            acc = grouping_accuracy(pred, truth)
            total += acc
            print(
                f"| {name} | {source} | {len(rows)} | {len(set(truth))} | {fmt(acc)} | "
                f"{fmt(DRAIN[name])} | {acc - DRAIN[name]:+.3f} |"
            )
        avg = total / len(SETS)
        drain_avg = sum(DRAIN.values()) / len(DRAIN)
        print(f"| **Average** | | | | **{fmt(avg)}** | {fmt(drain_avg)} | {avg - drain_avg:+.3f} |")

        if args.throughput > 0:
            messages = [m for name in SETS for m, _ in sets[name][0]]
            big = os.path.join(tmp, "throughput.json")
            with open(big, "w", encoding="utf-8") as f:
                events = []
                for r in range(args.throughput):
                    events.extend(data_message("loghub/all", messages, f"{r}-")["logEvents"])
                msg = data_message("loghub/all", [])
                msg["logEvents"] = events
                json.dump(msg, f)
            n = len(messages) * args.throughput
            best = None
            for _ in range(5):
                start = time.perf_counter()
                run_cli(binary, [big])
                elapsed = time.perf_counter() - start
                best = elapsed if best is None else min(best, elapsed)
            print(
                f"\nCLI throughput: {n} lines in {best:.3f}s (best of 5, including process start, "
                f"JSON parse and output): {n / best / 1e6:.2f} M lines/s"
            )

    if args.min_average is not None and avg < args.min_average:
        print(f"average {avg:.4f} is below {args.min_average}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
