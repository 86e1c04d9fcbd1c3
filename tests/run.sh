#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: installs the AWS emulator (moto), cfn-lint and parliament,
# pinned in tests/requirements.txt, when they are missing, then `cargo test`. The end-to-end
# tests start the emulator themselves on a free loopback port and fail (never skip) when it cannot start.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${SETUP_TEST_PYTHON:-python3}"
want_moto=$(sed -n 's/^moto\[server\]==//p' tests/requirements.txt)
want_cfn=$(sed -n 's/^cfn-lint==//p' tests/requirements.txt)
want_parliament=$(sed -n 's/^parliament==//p' tests/requirements.txt)
if ! "$PYTHON" - "$want_moto" "$want_cfn" "$want_parliament" 2>/dev/null <<'PY'
import sys
from importlib.metadata import version
import flask, moto, cfnlint, parliament  # noqa: F401  (importable, not only installed)
sys.exit(not (version("moto") == sys.argv[1] and version("cfn-lint") == sys.argv[2]
              and version("parliament") == sys.argv[3]))
PY
then
  echo "tests/run.sh: installing the test tools (moto[server]==$want_moto, cfn-lint==$want_cfn, parliament==$want_parliament)"
  "$PYTHON" -m pip install --quiet --disable-pip-version-check -r tests/requirements.txt
fi
export SETUP_TEST_PYTHON="$PYTHON"

exec cargo test --locked "$@"
