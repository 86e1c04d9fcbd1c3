#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: installs the AWS emulator (moto, pinned in
# tests/requirements.txt) when it is missing, then `cargo test`. The end-to-end tests start the
# emulator themselves on a free loopback port and fail (never skip) when it cannot start.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${SETUP_TEST_PYTHON:-python3}"
want=$(sed -n 's/^moto\[server\]==//p' tests/requirements.txt)
if ! "$PYTHON" -c "import moto, flask, sys; sys.exit(moto.__version__ != '$want')" 2>/dev/null; then
  echo "tests/run.sh: installing the emulator (moto[server]==$want)"
  "$PYTHON" -m pip install --quiet --disable-pip-version-check -r tests/requirements.txt
fi
export SETUP_TEST_PYTHON="$PYTHON"

exec cargo test --locked "$@"
