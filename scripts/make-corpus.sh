#!/usr/bin/env bash
# Rebuilds tests/corpus/events.jsonl by running the buggy programs in
# tests/corpus/programs/ with the real runtimes (python3, node, java) and
# wrapping their stack traces in the log shapes faultline reads.
# The output is committed: tests read it and need none of the runtimes.
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in python3 node java; do
  command -v "$tool" >/dev/null || { echo "make-corpus: $tool is needed" >&2; exit 1; }
done
exec python3 scripts/make-corpus.py "$@"
