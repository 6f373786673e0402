#!/usr/bin/env python3
"""Makes realistic CloudWatch Logs Lambda inputs for the benchmarks.

    python3 scripts/make-bench-inputs.py [--count 100] [--size 1000000] [--errors 0.03] [--traced] [--out target/bench-inputs]

Each input is one Lambda invocation payload ({"awslogs":{"data":...}}) whose
DATA_MESSAGE decompresses to about --size bytes: the events of one log stream
of a busy batch function. Like real batch logs they are mostly INFO lines and
Lambda platform lines (START/END/REPORT), a little WARN, and a few percent
errors, many of them with stack traces, in the text and JSON shapes of the
Python, Node.js and Java runtimes. Values (ids, amounts, durations, request
ids) vary per line so nothing compresses or caches unrealistically well.

Deterministic: the same arguments always give the same bytes.
"""

import argparse
import base64
import gzip
import json
import os
import random
import uuid

NBSP = "\u00a0"


def request_id(rng):
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def py_traceback(rng, kind):
    order = rng.randint(10_000, 99_999)
    if kind == 0:
        head, msg = "KeyError", "'customer_id'"
        frames = [("handler.py", 41, "handler", "return enrich(record)"), ("enrich.py", 17, "enrich", "cid = record['customer_id']")]
    elif kind == 1:
        head, msg = "ValueError", f"invalid literal for int() with base 10: 'N/A-{order}'"
        frames = [("handler.py", 41, "handler", "return enrich(record)"), ("parse.py", 88, "quantity", "return int(raw)")]
    else:
        head = "botocore.exceptions.ClientError"
        msg = f"An error occurred (ThrottlingException) when calling the PutItem operation (reached max retries: 4): Rate exceeded for order {order}"
        frames = [("handler.py", 52, "handler", "store(row)"), ("store.py", 19, "store", "table.put_item(Item=row)"),
                  ("/var/runtime/botocore/client.py", 1009, "_make_api_call", "raise error_class(parsed_response, operation_name)")]
    return head, msg, frames


def text_error(rng, req, ts):
    head, msg, frames = py_traceback(rng, rng.randint(0, 2))
    lines = [f"[ERROR] {head}: {msg}", "Traceback (most recent call last):"]
    for file, line, fn, code in frames:
        path = file if file.startswith("/") else f"/var/task/{file}"
        lines.append(f'{NBSP}{NBSP}File "{path}", line {line}, in {fn}')
        lines.append(f"{NBSP}{NBSP}{NBSP}{NBSP}{code}")
    return "\r".join(lines) + "\n"


def json_error(rng, req, ts):
    head, msg, frames = py_traceback(rng, rng.randint(0, 2))
    return json.dumps({
        "timestamp": ts, "log_level": "ERROR", "errorMessage": msg, "errorType": head.rsplit(".", 1)[-1], "requestId": req,
        "stackTrace": [f'  File "/var/task/{f}", line {l}, in {fn}\n    {code}\n' for f, l, fn, code in frames],
    })


def node_error(rng, req, ts):
    shipment = rng.randint(1000, 9999)
    return f"{ts}\t{req}\tERROR\tInvoke Error \t" + json.dumps({
        "errorType": "TypeError", "errorMessage": f"Cannot read properties of undefined (reading 'trackingId')",
        "stack": ["TypeError: Cannot read properties of undefined (reading 'trackingId')",
                  f"    at toRow (file:///var/task/map.mjs:14:23)", "    at Array.map (<anonymous>)",
                  "    at Runtime.handler (file:///var/task/index.mjs:8:30)"],
        "shipment": shipment,
    }) + "\n"


def logged_error(rng, req, ts):
    order = rng.randint(10_000, 99_999)
    return f"[ERROR]\t{ts}\t{req}\tfailed to write order {order} to s3://orders-archive/2025/11/{order}.json: AccessDenied\n"


def java_error(rng, req, ts):
    amount = f"{rng.randint(1, 999)},{rng.randint(0, 99):02d}"
    return (f"For input string: \"{amount}\": java.lang.NumberFormatException\n"
            f"java.lang.NumberFormatException: For input string: \"{amount}\"\n"
            "\tat java.base/jdk.internal.math.FloatingDecimal.readJavaFormatString(FloatingDecimal.java:2054)\n"
            "\tat java.base/java.lang.Double.parseDouble(Double.java:651)\n"
            "\tat com.example.ledger.Parser.amount(Parser.java:48)\n"
            "\tat com.example.ledger.Handler.handleRequest(Handler.java:27)\n\n")


ERRORS = [text_error, json_error, node_error, logged_error, java_error]
# The errors that carry a full stack trace (all but the logged line).
TRACED = [text_error, json_error, node_error, java_error]


def info_lines(rng, req, ts):
    n = rng.randint(1, 400)
    choices = [
        f"[INFO]\t{ts}\t{req}\tprocessed record {rng.randint(1, 10**7)} in {rng.random() * 90:.2f} ms\n",
        f"[INFO]\t{ts}\t{req}\tbatch {rng.randint(1, 5000)}: {n} records, 0 errors, error_rate=0\n",
        json.dumps({"timestamp": ts, "level": "INFO", "message": f"enriched order {rng.randint(1, 10**6)}",
                    "logger": "orders", "requestId": req, "customer": f"c-{rng.randint(1, 99999)}",
                    "duration_ms": round(rng.random() * 120, 3)}),
        f"{ts}\t{req}\tINFO\tshipment {rng.randint(1000, 9999)} mapped to carrier ups in {rng.randint(1, 80)}ms\n",
        json.dumps({"level": 30, "time": 1763900000000 + rng.randint(0, 10**6), "msg": "upserted item",
                    "sku": f"A-{rng.randint(1, 9999)}", "pid": 7}),
        f"[WARNING]\t{ts}\t{req}\tretrying after error: throttled (attempt {rng.randint(1, 3)})\n",
        f"[DEBUG]\t{ts}\t{req}\tcache hit ratio {rng.random():.3f}\n",
    ]
    weights = [30, 8, 25, 15, 12, 3, 7]
    return rng.choices(choices, weights)[0]


def stream_events(rng, size, error_rate, errors=ERRORS):
    events, total, t = [], 0, 1_763_900_000_000 + rng.randint(0, 10**8)
    req = request_id(rng)
    while total < size:
        t += rng.randint(0, 40)
        ts = f"2025-11-23T12:{(t // 60000) % 60:02d}:{(t // 1000) % 60:02d}.{t % 1000:03d}Z"
        r = rng.random()
        if r < 0.01:
            msgs = [f"END RequestId: {req}\n",
                    f"REPORT RequestId: {req}\tDuration: {rng.random() * 900:.2f} ms\tBilled Duration: {rng.randint(1, 900)} ms\tMemory Size: 512 MB\tMax Memory Used: {rng.randint(60, 200)} MB\t\n"]
            req = request_id(rng)
            msgs.append(f"START RequestId: {req} Version: $LATEST\n")
        elif r < 0.01 + error_rate:
            msgs = [rng.choice(errors)(rng, req, ts)]
        else:
            msgs = [info_lines(rng, req, ts)]
        for m in msgs:
            events.append({"id": f"{37765915600000000000000000000000000000000000000 + t * 1000 + len(events):056d}",
                           "timestamp": t, "message": m})
            total += len(json.dumps(m)) + 80
    return events


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=100)
    ap.add_argument("--size", type=int, default=1_000_000, help="decompressed bytes per input (about)")
    ap.add_argument("--errors", type=float, default=0.03, help="share of lines that are errors")
    ap.add_argument("--out", default=os.path.join("target", "bench-inputs"))
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--traced", action="store_true", help="only errors that carry a full stack trace")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    total_raw = 0
    for i in range(args.count):
        rng = random.Random(args.seed * 1_000_003 + i)
        message = {
            "messageType": "DATA_MESSAGE", "owner": "123456789012",
            "logGroup": f"/aws/lambda/batch-worker-{i % 7}",
            "logStream": f"2025/11/23/[$LATEST]{rng.getrandbits(128):032x}",
            "subscriptionFilters": ["faultline"],
            "logEvents": stream_events(rng, args.size, args.errors, TRACED if args.traced else ERRORS),
        }
        raw = json.dumps(message, separators=(",", ":")).encode()
        total_raw += len(raw)
        data = base64.b64encode(gzip.compress(raw, mtime=0)).decode()
        with open(os.path.join(args.out, f"input-{i:03d}.json"), "w") as fh:
            fh.write(json.dumps({"awslogs": {"data": data}}))
    print(f"wrote {args.count} inputs, {total_raw / 1e6:.1f} MB decompressed, to {args.out}")


if __name__ == "__main__":
    main()
