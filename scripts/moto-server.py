"""moto's server, serving one request at a time.

moto's DynamoDB checks a write's condition and then writes with no lock in
between, and undoes a cancelled TransactWriteItems by restoring a copy of the
whole table. Its default threaded server therefore lets two conditional writes
both succeed and wipes concurrent writes, which real DynamoDB never does (see
shared/TOOLING.md). Serving one request at a time makes every request atomic,
so the concurrency tests judge faultline, not the emulator.

Usage: moto-server.py [--parent-pid PID] [moto_server options: -H HOST -p PORT]
With --parent-pid the server exits when that process is gone, so a test
binary that cannot run destructors (a static server) leaves nothing behind.
"""

import os
import sys
import threading
import time

import moto.server


def watch_parent(pid):
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            os._exit(0)
        except PermissionError:
            pass
        time.sleep(0.5)


def main():
    argv = sys.argv[1:]
    if len(argv) >= 2 and argv[0] == "--parent-pid":
        threading.Thread(target=watch_parent, args=(int(argv[1]),), daemon=True).start()
        argv = argv[2:]

    original = moto.server.run_simple

    def run_simple_one_at_a_time(*args, **kwargs):
        kwargs["threaded"] = False
        return original(*args, **kwargs)

    moto.server.run_simple = run_simple_one_at_a_time
    moto.server.main(argv)


if __name__ == "__main__":
    main()
