#!/usr/bin/env python3
"""Peak memory of the Lambda bootstrap on the worst legal payload, through the real Runtime API.

    python3 scripts/bench-bootstrap-peak.py [--store sqlite|dynamodb|both] [--distinct 10000] [--baseline OLD_BOOTSTRAP]

The payload is bench-ingest.py's: one subscription payload under 1 MiB with
10,000 distinct errors (each a new issue with its own type and frame), which
decompresses to about 31 MB, just under faultline's 32 MiB cap. The release
bootstrap is started as Lambda starts it (AWS_LAMBDA_RUNTIME_API pointing at a
small Runtime API served here, 128 MB announced), handed the payload as one
invocation, and its peak resident set (VmHWM) is read once it has answered and
polls for the next event. The same run measures, as baselines on the same
payload: the decode-only floor (examples/decode_floor) and `faultline ingest`
into SQLite (bench-ingest.py --peak's figure), and with --baseline an older
bootstrap binary, run just before this tree's on each store.

Stores: `sqlite` (a file, as the tests use it) and `dynamodb` (a table in the
project's moto, .venv from scripts/setup-test-env.sh, as deployed); the
DynamoDB case takes a few seconds (1,001 new issues in 41 transactions).
"""

import argparse
import http.server
import importlib.util
import json
import os
import queue
import resource
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))


def bench_ingest():
    spec = importlib.util.spec_from_file_location("bench_ingest", os.path.join(ROOT, "scripts", "bench-ingest.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class RuntimeApi:
    """Lambda's Runtime API, as much as a bootstrap uses: each queued event is
    served to `GET .../invocation/next`; the function's answer is kept. The
    first poll after the last event is the moment to read the peak."""

    def __init__(self):
        self.events = queue.Queue()
        self.answers = queue.Queue()
        self.idle = threading.Event()
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def reply(self, status, body=b"{}", headers=()):
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                for name, value in headers:
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                if not self.path.endswith("/runtime/invocation/next"):
                    return self.reply(404)
                if api.events.empty():
                    api.idle.set()
                event = api.events.get()
                deadline = int(time.time() * 1000) + 900_000
                self.reply(200, event, [
                    ("Lambda-Runtime-Aws-Request-Id", f"req-{time.monotonic_ns()}"),
                    ("Lambda-Runtime-Deadline-Ms", str(deadline)),
                    ("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:faultline"),
                    ("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000"),
                    ("Content-Type", "application/json"),
                ])

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                self.reply(202)
                if "/invocation/" in self.path:
                    kind = "response" if self.path.endswith("/response") else "error"
                    api.answers.put((kind, body.decode(errors="replace")))
                elif self.path.endswith("/init/error"):
                    api.answers.put(("init_error", body.decode(errors="replace")))

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def vm_hwm_kb(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise RuntimeError("no VmHWM")


def bootstrap_peak(bootstrap, payload, env, wrap=()):
    api = RuntimeApi()
    child_env = dict(os.environ)
    child_env.update({
        "AWS_LAMBDA_RUNTIME_API": api.address,
        "AWS_LAMBDA_FUNCTION_NAME": "faultline",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/faultline",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2025/11/23/[$LATEST]bench",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_EC2_METADATA_DISABLED": "true",
        "FAULTLINE_NOTIFY": "none",
    })
    child_env.update(env)
    child = subprocess.Popen(list(wrap) + [bootstrap], env=child_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if not api.idle.wait(600):
            raise RuntimeError("the bootstrap never polled for work")
        idle_kb = vm_hwm_kb(child.pid)
        api.idle.clear()
        started = time.monotonic()
        api.events.put(payload)
        kind, body = api.answers.get(timeout=1800)
        if not api.idle.wait(600):
            raise RuntimeError("the bootstrap did not poll again")
        peak_kb = vm_hwm_kb(child.pid)
        return idle_kb, peak_kb, kind, body, time.monotonic() - started
    finally:
        # A wrapper (valgrind) writes its report when its program ends.
        child.terminate()
        try:
            child.wait(timeout=120)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def child_peak_kb(cmd, env=None):
    """ru_maxrss of `cmd`, run alone under a fresh Python so no other child masks it."""
    code = ("import resource,subprocess,sys;"
            "subprocess.run(sys.argv[1:],check=True,stdout=subprocess.DEVNULL,stderr=subprocess.DEVNULL);"
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    out = subprocess.run([sys.executable, "-c", code] + cmd, check=True, capture_output=True, text=True, env=env)
    return int(out.stdout)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_moto():
    python = os.path.join(ROOT, ".venv", "bin", "python")
    if not os.path.exists(python):
        sys.exit("no .venv: run scripts/setup-test-env.sh first (it installs moto)")
    port = free_port()
    moto = subprocess.Popen([python, os.path.join(ROOT, "scripts", "moto-server.py"), "--parent-pid", str(os.getpid()),
                             "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return moto, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.1)
    moto.kill()
    sys.exit("moto did not start")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--store", choices=["sqlite", "dynamodb", "both"], default="both")
    ap.add_argument("--distinct", type=int, default=10_000)
    ap.add_argument("--bootstrap", help="a bootstrap binary to measure instead of building this tree's")
    ap.add_argument("--wrap", default="", help="a command to run the bootstrap under, e.g. "
                    "'valgrind --tool=massif --pages-as-heap=yes --massif-out-file=/tmp/massif.out' "
                    "(the peak printed is then the wrapper's)")
    ap.add_argument("--no-baselines", action="store_true", help="skip the floor and CLI baselines")
    ap.add_argument("--baseline", help="an older bootstrap binary, measured the same way just before this tree's")
    args = ap.parse_args()
    subprocess.run(["cargo", "build", "--release", "--quiet", "--bin", "bootstrap", "--bin", "faultline",
                    "--example", "decode_floor"], cwd=ROOT, check=True)
    bootstrap = args.bootstrap or os.path.join(TARGET, "release", "bootstrap")
    faultline = os.path.join(TARGET, "release", "faultline")
    floor = os.path.join(TARGET, "release", "examples", "decode_floor")

    distinct = os.path.join(ROOT, "target", "bench-distinct")
    os.makedirs(distinct, exist_ok=True)
    path = os.path.join(distinct, "payload.json")
    bench_ingest().write_distinct_payload(path, args.distinct)
    with open(path, "rb") as f:
        payload = f.read()
    print(f"input: {len(payload):,} bytes (one Lambda payload), {args.distinct:,} distinct errors")

    floor_kb = 1
    if not args.no_baselines:
        floor_kb = child_peak_kb([floor, distinct])
        print(f"decode-only floor: {floor_kb / 1024:.1f} MB")
        with tempfile.TemporaryDirectory() as tmp:
            cli_kb = child_peak_kb([faultline, "ingest", "--notify", "none", "--store", f"sqlite:{tmp}/cli.db", distinct])
        print(f"faultline ingest (SQLite): {cli_kb / 1024:.1f} MB ({cli_kb / floor_kb:.2f} x the floor)")

    stores = ["sqlite", "dynamodb"] if args.store == "both" else [args.store]
    binaries = [("this tree", bootstrap)]
    if args.baseline:
        binaries.insert(0, ("baseline", args.baseline))
    for store in stores:
        for name, binary in binaries:
            measure(name, binary, store, payload, faultline, floor_kb, args.wrap.split())


def measure(name, binary, store, payload, faultline, floor_kb, wrap):
    moto = None
    with tempfile.TemporaryDirectory() as tmp:
        if store == "sqlite":
            env = {"FAULTLINE_STORE": f"sqlite:{tmp}/lambda.db"}
        else:
            moto, endpoint = start_moto()
            env = {"FAULTLINE_STORE": "dynamodb://faultline-peak", "AWS_ENDPOINT_URL": endpoint}
            init_env = dict(os.environ, AWS_REGION="us-east-1", AWS_ACCESS_KEY_ID="testing",
                            AWS_SECRET_ACCESS_KEY="testing", AWS_ENDPOINT_URL=endpoint)
            subprocess.run([faultline, "store", "init", "--store", env["FAULTLINE_STORE"]], check=True,
                           env=init_env, stdout=subprocess.DEVNULL)
        try:
            idle_kb, peak_kb, kind, body, seconds = bootstrap_peak(binary, payload, env, wrap)
        finally:
            if moto:
                moto.kill()
                moto.wait()
    print(f"bootstrap, {name} ({store} store): peak {peak_kb / 1024:.1f} MB ({peak_kb / floor_kb:.2f} x the floor; "
          f"{idle_kb / 1024:.1f} MB before the invocation), {seconds:.1f} s, answered {kind}: {body[:120]}")
    print(f"  below 128 MB: {'yes' if peak_kb < 128 * 1024 else 'NO'}")

if __name__ == "__main__":
    main()
