#!/usr/bin/env bash
# Installs what the emulator and the tests need, when it is missing or not the pinned version:
# the emulator (moto[server]), cfn-lint, parliament and zizmor from tests/requirements.txt,
# checkov (tests/requirements-checkov.txt, in its own virtual environment target/checkov-venv) and
# the emulator's IAM simulator (tests/iam-sim, a Node sidecar, `npm ci`). Idempotent and quiet
# when everything is in place. Used by tests/run.sh; examples/*.sh and bench/*.py pass
# `--emulator`, which leaves out checkov (a one-time 45 s and 290 MB only the export tests need).
# SETUP_TEST_PYTHON picks the Python to install into (default python3).
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
# zizmor (GitHub Actions linter; a binary wheel, no Python module to import): checked by version.
want_zizmor=$(sed -n 's/^zizmor==//p' tests/requirements.txt)
if [ "$("$PYTHON" -c 'from importlib.metadata import version; print(version("zizmor"))' 2>/dev/null)" != "$want_zizmor" ]; then
  echo "tests/run.sh: installing zizmor==$want_zizmor"
  "$PYTHON" -m pip install --quiet --disable-pip-version-check "zizmor==$want_zizmor"
fi

# checkov (the IaC security scanner the export tests run; tests/requirements-checkov.txt): in its
# own virtual environment, target/checkov-venv, because its many pinned dependencies would clash
# with the tools above. Checked by version; a fresh machine (or `cargo clean`) installs it again.
want_checkov=$(sed -n 's/^checkov==//p' tests/requirements-checkov.txt)
checkov_venv=target/checkov-venv
if [ "${1:-}" != --emulator ] && [ "$("$checkov_venv/bin/python" -c 'from importlib.metadata import version; print(version("checkov"))' 2>/dev/null)" != "$want_checkov" ]; then
  echo "tests/run.sh: installing checkov==$want_checkov into $checkov_venv"
  rm -rf "$checkov_venv"
  "$PYTHON" -m venv "$checkov_venv"
  "$checkov_venv/bin/python" -m pip install --quiet --disable-pip-version-check -r tests/requirements-checkov.txt
fi

# The emulator's IAM simulator (tests/iam-sim, a Node sidecar): reinstalled when the lock changes.
lock_sum=$(sha256sum tests/iam-sim/package-lock.json | cut -d' ' -f1)
if [ "$(cat tests/iam-sim/node_modules/.setup-lock-sum 2>/dev/null)" != "$lock_sum" ]; then
  command -v npm >/dev/null || { echo "tests/run.sh: npm (Node.js 18+) is needed for tests/iam-sim" >&2; exit 1; }
  echo "tests/run.sh: installing the IAM simulator (npm ci --prefix tests/iam-sim)"
  npm ci --prefix tests/iam-sim --no-audit --no-fund --loglevel=error
  echo "$lock_sum" > tests/iam-sim/node_modules/.setup-lock-sum
fi

