#!/usr/bin/env bash
# Creates the Python tools the AWS tests need in .venv at the repository root:
#   moto[server] 5.x  - the DynamoDB/SNS/SQS emulator tests/aws_*.rs start
#   cfn-lint          - the template linter tests/template.rs runs
#
# Idempotent and quick when already installed: it checks what is there before
# asking PyPI for anything. Run it once before `cargo test`; CI runs it too.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
python="${PYTHON:-python3}"

if [ ! -x "$venv/bin/python" ]; then
    echo "setup-test-env: creating $venv" >&2
    "$python" -m venv "$venv"
fi

# Already installed at acceptable versions? Then there is nothing to do.
if "$venv/bin/python" - <<'EOF' 2>/dev/null
import importlib.metadata as md, sys
moto = md.version("moto")
md.version("cfn-lint")
md.version("flask")  # moto[server] extras
sys.exit(0 if moto.startswith("5.") else 1)
EOF
then
    echo "setup-test-env: moto and cfn-lint already installed in $venv" >&2
    exit 0
fi

echo "setup-test-env: installing moto[server] and cfn-lint into $venv" >&2
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    'moto[server]==5.*' 'cfn-lint>=1.20,<2'
"$venv/bin/python" -c 'import moto, cfnlint; print("setup-test-env: moto", moto.__version__)' >&2
