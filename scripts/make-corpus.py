#!/usr/bin/env python3
"""Builds faultline's labelled extraction corpus, tests/corpus/events.jsonl.

Runs the small buggy programs under tests/corpus/programs/ (Python, Node.js,
Java; two versions of each whose line numbers differ) in the real runtimes,
captures the stack traces they print on stderr, and wraps each one in the
log shapes faultline reads: Lambda text and JSON formats of each runtime,
AWS Batch / ECS awslogs (one event per line), Step Functions failure events,
Datadog fields and common structured loggers. Noise that is not an error
(INFO/WARN lines, platform lines, lines that mention "error", a WARN with a
handled traceback) surrounds them.

Some bugs carry data in their messages (resource names per environment, the
bad input a parser saw), and some are also run in a `logged` mode where the
program catches the exception and logs it (logging.exception,
console.error(message, err), a line then printStackTrace) instead of
crashing: both forms of one exception are one bug.

Each output line is one log event:
  {"stream": ..., "batch": n, "message": ..., "bug": <bug id or null>, "continuation": bool}
`bug` is set on the event that holds (or heads) an error; the other events of
a trace split over several events have `continuation: true` and no bug.
`batch` numbers the deliveries of a stream: the awslogs streams (one event
per line) are cut into several batches at random places, often inside a
trace, as a subscription delivers them.

The output is committed so tests need no runtimes; rerun after changing a
program: scripts/make-corpus.sh
"""

import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROGRAMS = os.path.join(ROOT, "tests", "corpus", "programs")
OUT = os.path.join(ROOT, "tests", "corpus", "events.jsonl")
DEPLOY = "/var/task"
RUNS_PER_VERSION = 2

BUGS = {
    "python": ["keyerror-customer", "zerodiv", "valueerror", "attr", "custom",
               "keyerror-price", "keyerror-stock", "chained", "table", "payload", "sync"],
    "node": ["typeerror", "rangeerror", "notfound", "syntax", "bucket", "sync"],
    "java": ["npe", "bounds", "format", "wrapped", "queue"],
}
# Bugs that are also run caught and logged; the logged and the uncaught
# forms are one bug.
LOGGED = {"python": ["sync", "payload"], "node": ["sync"], "java": ["queue"]}
PROGRAM = {"python": "orders.py", "node": "orders.js", "java": "Orders.java"}
COMMAND = {"python": ["python3"], "node": ["node"], "java": ["java"]}

rng = random.Random(20240501)
clock = [1714557600000]


def now_iso():
    clock[0] += rng.randint(3, 900)
    secs, milli = divmod(clock[0], 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + ".%03dZ" % milli


def now_plain():
    return now_iso().replace("T", " ").replace("Z", "").replace(".", ",")


def request_id():
    h = "%032x" % rng.getrandbits(128)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-8{h[17:20]}-{h[20:32]}"


def run(lang, version, bug, seed, mode=None):
    """The stderr of one buggy run, with the temporary path replaced by the
    path the program would be deployed at."""
    work = tempfile.mkdtemp(prefix="faultline-corpus-")
    app = os.path.join(work, "task")
    os.makedirs(app)
    shutil.copy(os.path.join(PROGRAMS, lang, version, PROGRAM[lang]), app)
    try:
        p = subprocess.run(COMMAND[lang] + [PROGRAM[lang], bug, str(seed)] + ([mode] if mode else []), cwd=app,
                           capture_output=True, text=True, timeout=120)
    finally:
        shutil.rmtree(work)
    if p.returncode == 0 or not p.stderr.strip():
        sys.exit(f"{lang} {bug} did not fail: {p.stdout} {p.stderr}")
    return p.stderr.replace(app, DEPLOY).rstrip("\n")


# ---- what each captured trace says, for building the structured shapes ----

def python_parts(stderr):
    lines = stderr.split("\n")
    last_tb = max(i for i, l in enumerate(lines) if l.startswith("Traceback (most recent call last)"))
    final = lines[-1]
    kind, _, message = final.partition(": ")
    frames = []  # (File line, code line) of the last traceback
    for i in range(last_tb + 1, len(lines) - 1):
        if lines[i].startswith('  File "'):
            code = lines[i + 1] if i + 1 < len(lines) and lines[i + 1].startswith("    ") else ""
            frames.append((lines[i], code))
    return {"kind": kind, "message": message, "frames": frames, "text": stderr}


def node_parts(stderr):
    lines = stderr.split("\n")
    start = next(i for i, l in enumerate(lines) if re.match(r"^[A-Za-z]*Error(\s\[\w+\])?: ", l))
    stack = [lines[start]]
    for l in lines[start + 1:]:
        if not l.startswith("    at "):
            break
        stack.append(l)
    kind, _, message = lines[start].partition(": ")
    return {"kind": kind, "message": message, "stack": stack, "text": "\n".join(stack), "raw": stderr}


def java_parts(stderr):
    lines = stderr.split("\n")
    blocks = []
    for l in lines:
        if l.startswith("Exception in thread "):
            head = l.split('" ', 1)[1]
            blocks.append({"header": head, "frames": []})
        elif l.startswith("Caused by: "):
            blocks.append({"header": l[len("Caused by: "):], "frames": []})
        elif l.startswith("\tat "):
            blocks[-1]["frames"].append(l[len("\tat "):])
    kind, _, message = blocks[0]["header"].partition(": ")
    printed = "\n".join([blocks[0]["header"]] + lines[1:])
    return {"kind": kind, "message": message, "blocks": blocks, "printed": printed, "raw": stderr}


def java_error_json(blocks):
    """An exception as the Lambda Java runtime serialises it: frames without
    `at`, module prefixes dropped, the cause nested."""
    def one(b):
        kind, _, message = b["header"].partition(": ")
        return {"errorMessage": message, "errorType": kind,
                "stackTrace": [f.split("/")[-1] if "/" in f.split("(")[0] else f for f in b["frames"]]}
    out = one(blocks[0])
    cur = out
    for b in blocks[1:]:
        cur["cause"] = one(b)
        cur = cur["cause"]
    return out


# ---- noise ----

def noise_lambda_python_text(rid):
    return rng.choice([
        f"[INFO]\t{now_iso()}\t{rid}\tprocessing order {rng.randint(1, 99999)}\n",
        f"[INFO]\t{now_iso()}\t{rid}\tprocessed {rng.randint(1, 50)} orders, 0 errors\n",
        f"[WARNING]\t{now_iso()}\t{rid}\tretrying after error: upstream timeout (attempt {rng.randint(2, 5)})\n",
        f"[DEBUG]\t{now_iso()}\t{rid}\terror_rate=0 latency_ms={rng.randint(3, 900)}\n",
    ])


def noise_node_text(rid):
    return rng.choice([
        f"{now_iso()}\t{rid}\tINFO\tfetched {rng.randint(1, 80)} records\n",
        f"{now_iso()}\t{rid}\tWARN\tslow query, errors so far: 0\n",
        f"{now_iso()}\t{rid}\tINFO\t{{\"level\":\"INFO\",\"message\":\"batch done\",\"errors\":[]}}\n",
        f"{now_iso()}\t{rid}\tDEBUG\tretrying after error ECONNRESET\n",
    ])


def noise_json(rid):
    return rng.choice([
        json.dumps({"timestamp": now_iso(), "level": "INFO", "requestId": rid, "message": f"processed order {rng.randint(1, 99999)}"}),
        json.dumps({"timestamp": now_iso(), "level": "WARN", "requestId": rid, "message": "retrying after error", "errors": []}),
        json.dumps({"timestamp": now_iso(), "level": "DEBUG", "requestId": rid, "message": "error_rate=0"}),
        json.dumps({"timestamp": now_iso(), "log_level": "INFO", "requestId": rid, "message": "0 errors"}),
    ])


def noise_batch():
    return rng.choice([
        f"INFO:orders:loaded {rng.randint(1, 500)} rows",
        f"Processing batch {rng.randint(1, 9)} of 9",
        "Completed with 0 errors",
        f"{now_plain()} INFO [main] Orders - exported {rng.randint(1, 500)} rows",
        f"{now_plain()} WARN [main] Orders - error budget at {rng.randint(1, 99)}%",
        "error_rate=0.00",
    ])


def lambda_wrap(rid, body_events, text_format=True):
    """START, some noise, the events, END, REPORT."""
    out = [(f"START RequestId: {rid} Version: $LATEST\n", None)] if text_format else [
        (json.dumps({"time": now_iso(), "type": "platform.start", "record": {"requestId": rid, "version": "$LATEST"}}), None)]
    return out + body_events + lambda_end(rid, text_format)


def lambda_end(rid, text_format=True, status="success"):
    d = rng.randint(2, 3000) + rng.random()
    if text_format:
        return [(f"END RequestId: {rid}\n", None),
                (f"REPORT RequestId: {rid}\tDuration: {d:.2f} ms\tBilled Duration: {int(d) + 1} ms\tMemory Size: 128 MB\tMax Memory Used: {rng.randint(40, 120)} MB\t\n", None)]
    return [(json.dumps({"time": now_iso(), "type": "platform.runtimeDone", "record": {"requestId": rid, "status": status, "metrics": {"durationMs": round(d, 3), "producedBytes": 0}}}), None),
            (json.dumps({"time": now_iso(), "type": "platform.report", "record": {"requestId": rid, "status": status, "metrics": {"durationMs": round(d, 3), "billedDurationMs": int(d) + 1, "memorySizeMB": 128, "maxMemoryUsedMB": rng.randint(40, 120)}}}), None)]


def sfn_events(arn, task_error, cause):
    """A failing execution: started, task entered, task failed, execution failed."""
    base = {"previous_event_id": "0", "event_timestamp": str(clock[0]), "execution_arn": arn, "redrive_count": "0"}
    ev = lambda i, t, d: json.dumps({"id": str(i), "type": t, "details": d, **base, "previous_event_id": str(i - 1)})
    return [
        (ev(1, "ExecutionStarted", {"roleArn": "arn:aws:iam::123456789012:role/sfn"}), None),
        (ev(2, "TaskStateEntered", {"name": "ProcessOrder"}), None),
        (ev(3, "TaskScheduled", {"resource": "invoke", "resourceType": "lambda", "region": "eu-west-1"}), None),
        (ev(4, "TaskFailed", {"resource": "invoke", "resourceType": "lambda", "error": task_error, "cause": cause}), "bug"),
        (ev(5, "ExecutionFailed", {"error": task_error, "cause": cause}), "bug"),
    ]


# ---- shapes per language: each returns [(message, role)] where role is
# "bug" (the error event), "cont" (continuation of a split trace) or None ----

def python_shapes(p, n):
    rid = request_id()
    nbsp = lambda s: re.sub(r"^ +", lambda m: "\u00a0" * len(m.group(0)), s)
    tb_lines = ["Traceback (most recent call last):"] + [x for f in p["frames"] for x in (f[0], f[1]) if x]
    head = f"[ERROR] {p['kind']}: {p['message']}"
    stack_trace = [f"{f[0]}\n{f[1]}\n" for f in p["frames"]]
    out = {}
    out["lambda-python-text-stdout"] = lambda_wrap(rid, [(noise_lambda_python_text(rid), None),
        ("\r".join([head] + [nbsp(l) for l in tb_lines]) + "\n", "bug")])
    out["lambda-python-text-telemetry"] = lambda_wrap(rid, [(noise_lambda_python_text(rid), None),
        ("\n".join([head] + [nbsp(l) for l in tb_lines]), "bug")])
    out["lambda-python-json"] = lambda_wrap(rid, [(noise_json(rid), None),
        (json.dumps({"timestamp": now_iso(), "log_level": "ERROR", "errorMessage": p["message"], "errorType": p["kind"], "requestId": rid, "stackTrace": stack_trace}), "bug")], text_format=False)
    out["lambda-python-logging-json"] = lambda_wrap(rid, [(noise_json(rid), None),
        (json.dumps({"timestamp": now_iso(), "level": "ERROR", "message": f"failed to process order {n}", "logger": "orders", "stackTrace": stack_trace, "errorType": p["kind"], "errorMessage": p["message"], "requestId": rid, "location": "/var/task/orders.py:handler:80"}), "bug")], text_format=False)
    out["lambda-python-logging-text"] = lambda_wrap(rid, [(noise_lambda_python_text(rid), None),
        (f"[ERROR]\t{now_iso()}\t{rid}\tfailed to process order {n}\n{p['text']}\n", "bug")])
    split = [l for l in p["text"].split("\n") if l.strip()]  # awslogs drops empty lines
    if rng.random() < 0.5:
        trace = [(split[0], "bug")] + [(l, "cont") for l in split[1:]]
    else:
        trace = [(f"ERROR:orders:failed to process order {n}", "bug")] + [(l, "cont") for l in split]
    out["batch-python-awslogs"] = [(noise_batch(), None), (noise_batch(), None)] + trace + [(noise_batch(), None)]
    arn = f"arn:aws:states:eu-west-1:123456789012:execution:orders:run-{n}"
    cause = json.dumps({"errorMessage": p["message"], "errorType": p["kind"], "requestId": rid, "stackTrace": stack_trace})
    out["stepfunctions"] = sfn_events(arn, p["kind"], cause)
    out["datadog"] = [(json.dumps({"status": "info", "message": f"order {n} received", "service": "orders"}), None),
        (json.dumps({"status": "error", "message": f"order {n} failed", "service": "orders", "dd.trace_id": str(rng.getrandbits(63)),
                     "error.kind": p["kind"], "error.message": p["message"], "error.stack": p["text"]}), "bug")]
    out["powertools-python"] = [(json.dumps({"level": "INFO", "location": "handler:70", "message": f"order {n} received", "timestamp": now_plain() + "+0000", "service": "orders"}), None),
        (json.dumps({"level": "ERROR", "location": "handler:82", "message": f"order {n} failed", "timestamp": now_plain() + "+0000", "service": "orders",
                     "function_request_id": rid, "exception": p["text"], "exception_name": p["kind"]}), "bug")]
    out["structlog"] = [(json.dumps({"event": "order received", "level": "info", "order": n, "timestamp": now_iso()}), None),
        (json.dumps({"event": "order failed", "level": "error", "order": n, "timestamp": now_iso(), "exception": p["text"]}), "bug")]
    return out


def python_handled_warning():
    """A handled exception logged at WARNING with its traceback: not an error."""
    stderr = "Traceback (most recent call last):\n  File \"/var/task/orders.py\", line 12, in fetch\n    conn.send(payload)\nConnectionResetError: [Errno 104] Connection reset by peer"
    lines = [f"WARNING:orders:retrying upload {rng.randint(1, 9999)}"] + stderr.split("\n")
    return [(l, None) for l in lines]


def node_shapes(p, n):
    rid = request_id()
    out = {}
    err = {"errorType": p["kind"], "errorMessage": p["message"], "stack": p["stack"]}
    label = rng.choice(["Invoke Error \t", "Invoke Error\t", "Uncaught Exception \t"])
    out["lambda-node-text"] = lambda_wrap(rid, [(noise_node_text(rid), None),
        (f"{now_iso()}\t{rid}\tERROR\t{label}{json.dumps(err, separators=(',', ':'))}\n", "bug")])
    out["lambda-node-text-console"] = lambda_wrap(rid, [(noise_node_text(rid), None),
        (f"{now_iso()}\t{rid}\tERROR\t{p['text'].replace(chr(10), chr(13))}\n", "bug")])
    out["lambda-node-json"] = lambda_wrap(rid, [(noise_json(rid), None),
        (json.dumps({"timestamp": now_iso(), "level": "ERROR", "requestId": rid, "message": {"errorType": p["kind"], "errorMessage": p["message"], "stackTrace": p["stack"]}}), "bug")], text_format=False)
    out["lambda-node-json-hoisted"] = lambda_wrap(rid, [(noise_json(rid), None),
        (json.dumps({"timestamp": now_iso(), "level": "ERROR", "requestId": rid, "message": f"order {n} failed {p['text']}",
                     "errorType": p["kind"], "errorMessage": p["message"], "stackTrace": p["stack"]}), "bug")], text_format=False)
    raw = p["raw"].split("\n")
    head = next(i for i, l in enumerate(raw) if l == p["stack"][0])
    events = []
    for i, l in enumerate(raw):
        if not l.strip():
            continue  # the awslogs driver drops empty lines
        role = "bug" if i == head else ("cont" if head < i < head + len(p["stack"]) else None)
        events.append((l, role))
    out["batch-node-awslogs"] = [(noise_batch(), None)] + events + [(noise_batch(), None)]
    out["pino"] = [(json.dumps({"level": 30, "time": clock[0], "pid": 7, "hostname": "ip-10-0-0-1", "msg": f"order {n} received"}), None),
        (json.dumps({"level": 50, "time": clock[0], "pid": 7, "hostname": "ip-10-0-0-1", "err": {"type": p["kind"], "message": p["message"], "stack": p["text"]}, "msg": f"order {n} failed"}), "bug")]
    out["powertools-ts"] = [(json.dumps({"level": "INFO", "message": "order received", "timestamp": now_iso(), "service": "orders", "function_request_id": rid}), None),
        (json.dumps({"level": "ERROR", "message": "order failed", "timestamp": now_iso(), "service": "orders", "function_request_id": rid,
                     "error": {"name": p["kind"], "location": p["stack"][1].strip()[3:], "message": p["message"], "stack": p["text"]}}), "bug")]
    arn = f"arn:aws:states:eu-west-1:123456789012:execution:orders:run-{n}"
    cause = json.dumps({"errorType": p["kind"], "errorMessage": p["message"], "trace": p["stack"]})
    out["stepfunctions"] = sfn_events(arn, p["kind"], cause)
    return out


def java_shapes(p, n):
    rid = request_id()
    out = {}
    uncaught = f"{p['message']}: {p['kind']}\n{p['printed']}\n"
    out["lambda-java-text"] = lambda_wrap(rid, [(f"[INFO] {now_iso()} order {n} received\n", None), (uncaught, "bug")])
    out["lambda-java-json"] = lambda_wrap(rid, [(json.dumps({"timestamp": now_iso(), "message": f"order {n} received", "level": "INFO", "AWSRequestId": rid}), None),
        (json.dumps({"timestamp": now_iso(), "message": uncaught, "level": "ERROR", "AWSRequestId": rid}), "bug")], text_format=False)
    raw = p["raw"].split("\n")
    if rng.random() < 0.5:
        events = [(raw[0], "bug")] + [(l, "cont") for l in raw[1:]]
    else:
        events = [(f"{now_plain()} ERROR [main] Orders - order {n} failed", "bug")] + [(l, "cont") for l in p["printed"].split("\n")]
    out["batch-java-awslogs"] = [(noise_batch(), None)] + events + [(noise_batch(), None)]
    out["batch-java-logback-multiline"] = [(noise_batch(), None),
        (f"{now_plain()} ERROR [main] Orders - order {n} failed\n{p['printed']}", "bug")]
    out["logstash"] = [(json.dumps({"@timestamp": now_iso(), "@version": "1", "message": f"order {n} received", "logger_name": "Orders", "thread_name": "main", "level": "INFO", "level_value": 20000}), None),
        (json.dumps({"@timestamp": now_iso(), "@version": "1", "message": f"order {n} failed", "logger_name": "Orders", "thread_name": "main", "level": "ERROR", "level_value": 40000, "stack_trace": p["printed"]}), "bug")]
    arn = f"arn:aws:states:eu-west-1:123456789012:execution:orders:run-{n}"
    out["stepfunctions"] = sfn_events(arn, p["kind"], json.dumps(java_error_json(p["blocks"])))
    return out


def python_logged_shapes(stderr, n):
    """logging.exception's output: the message line, then the traceback."""
    rid = request_id()
    first, _, trace = stderr.partition("\n")
    message = first.split(":", 2)[2]  # ERROR:root:<message>
    lines = [l for l in stderr.split("\n") if l.strip()]
    return {
        "lambda-python-logging-text": lambda_wrap(rid, [(noise_lambda_python_text(rid), None),
            (f"[ERROR]\t{now_iso()}\t{rid}\t{message}\n{trace}\n", "bug")]),
        "batch-python-awslogs": [(noise_batch(), None)] + [(lines[0], "bug")] + [(l, "cont") for l in lines[1:]] + [(noise_batch(), None)],
    }


def node_logged_shapes(stderr, n):
    """console.error(message, err): the message and the error's stack on
    one string."""
    rid = request_id()
    lines = [l for l in stderr.split("\n") if l.strip()]
    return {
        "lambda-node-text-console": lambda_wrap(rid, [(noise_node_text(rid), None),
            (f"{now_iso()}\t{rid}\tERROR\t{stderr.replace(chr(10), chr(13))}\n", "bug")]),
        "batch-node-awslogs": [(noise_batch(), None)] + [(lines[0], "bug")] + [(l, "cont") for l in lines[1:]] + [(noise_batch(), None)],
    }


def java_logged_shapes(stderr, n):
    """A line that says what failed, then printStackTrace, as the awslogs
    driver splits it, and as a logback layout writes it in one event."""
    lines = [l for l in stderr.split("\n") if l.strip()]
    head, rest = lines[0], lines[1:]
    return {
        "batch-java-awslogs": [(noise_batch(), None), (head, None), (rest[0], "bug")] + [(l, "cont") for l in rest[1:]] + [(noise_batch(), None)],
        "batch-java-logback-multiline": [(noise_batch(), None),
            (f"{now_plain()} ERROR [main] Orders - {head}\n" + "\n".join(rest), "bug")],
    }


def cut_into_batches(events):
    """Batch numbers for a stream's events: a new batch starts at random
    places, inside traces as often as between them."""
    batch, out = 0, []
    for i in range(len(events)):
        if i > 0 and rng.random() < 0.12:
            batch += 1
        out.append(batch)
    return out


def timeout_shapes():
    """Lambda timeouts in both log formats: one bug, and the REPORT /
    runtimeDone records that repeat it are not counted again."""
    rid = request_id()
    secs = rng.choice([3, 5, 10, 30])
    text = [(f"START RequestId: {rid} Version: $LATEST\n", None),
            (noise_lambda_python_text(rid), None),
            (f"{now_iso()} {rid} Task timed out after {secs}.{rng.randint(0, 9)}{rng.randint(0, 9)} seconds\n\n", "bug"),
            (f"END RequestId: {rid}\n", None),
            (f"REPORT RequestId: {rid}\tDuration: {secs * 1000}.00 ms\tBilled Duration: {secs * 1000} ms\tMemory Size: 128 MB\tMax Memory Used: 61 MB\tStatus: timeout\n", None)]
    rid2 = request_id()
    d = secs * 1000 + rng.random()
    js = [(json.dumps({"time": now_iso(), "type": "platform.start", "record": {"requestId": rid2, "version": "$LATEST"}}), None),
          (noise_json(rid2), None),
          (json.dumps({"time": now_iso(), "type": "platform.runtimeDone", "record": {"requestId": rid2, "status": "timeout", "metrics": {"durationMs": round(d, 3), "producedBytes": 0}}}), None),
          (json.dumps({"time": now_iso(), "type": "platform.report", "record": {"requestId": rid2, "metrics": {"durationMs": round(d, 3), "billedDurationMs": secs * 1000, "memorySizeMB": 128, "maxMemoryUsedMB": 70}, "status": "timeout"}}), "bug")]
    return {"lambda-timeouts-text": text, "lambda-timeouts-json": js}


def main():
    streams = {}

    def add(lang, version, shapes):
        for shape, events in shapes.items():
            streams.setdefault(f"{lang}/{shape}/{version}", []).extend(events)

    for lang, bugs in BUGS.items():
        for version in ("v1", "v2"):
            for bug in bugs:
                for _ in range(RUNS_PER_VERSION):
                    seed = rng.randint(1, 10**9)
                    stderr = run(lang, version, bug, seed)
                    n = rng.randint(1, 99999)
                    bug_id = f"{lang}-{bug}"
                    if lang == "python":
                        shapes = python_shapes(python_parts(stderr), n)
                        shapes["batch-python-awslogs"] += python_handled_warning()
                    elif lang == "node":
                        shapes = node_shapes(node_parts(stderr), n)
                    else:
                        shapes = java_shapes(java_parts(stderr), n)
                    labelled = {s: [(m, bug_id if r == "bug" else None, r == "cont") for m, r in ev] for s, ev in shapes.items()}
                    add(lang, version, labelled)
                    if bug in LOGGED[lang]:
                        logged = run(lang, version, bug, seed, "logged")
                        shapes = {"python": python_logged_shapes, "node": node_logged_shapes,
                                  "java": java_logged_shapes}[lang](logged, n)
                        labelled = {s + "-logged": [(m, bug_id if r == "bug" else None, r == "cont") for m, r in ev] for s, ev in shapes.items()}
                        add(lang, version, labelled)
            print(f"ran {lang} {version}", file=sys.stderr)
    for _ in range(6):
        add("lambda", "all", {s: [(m, "lambda-timeout" if r == "bug" else None, False) for m, r in ev] for s, ev in timeout_shapes().items()})

    with open(OUT, "w") as f:
        for stream in sorted(streams):
            events = streams[stream]
            batches = cut_into_batches(events) if "awslogs" in stream else [0] * len(events)
            for (message, bug, cont), batch in zip(events, batches):
                f.write(json.dumps({"stream": stream, "batch": batch, "message": message, "bug": bug, "continuation": cont}, ensure_ascii=False) + "\n")
    total = sum(len(v) for v in streams.values())
    errors = sum(1 for v in streams.values() for _, b, _ in v if b)
    print(f"wrote {OUT}: {total} events, {errors} errors, {len(streams)} streams", file=sys.stderr)


if __name__ == "__main__":
    main()
