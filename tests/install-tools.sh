#!/usr/bin/env bash
# Installs what the emulator and the tests need, when it is missing or not the pinned version:
# the emulator (moto[server] from tests/requirements.txt) and its IAM simulator (tests/iam-sim, a
# Node sidecar, `npm ci`); then cfn-lint, parliament and zizmor (tests/requirements.txt) and
# checkov (tests/requirements-checkov.txt, in its own virtual environment target/checkov-venv).
# Idempotent and quiet when everything is in place. Used by tests/run.sh.
#
#   tests/install-tools.sh --emulator   only the emulator and its IAM simulator (what
#                                       examples/*.sh and bench/*.py need to run it)
#
# SETUP_TEST_PYTHON picks the Python to install into (default python3).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${SETUP_TEST_PYTHON:-python3}"
only_emulator=false
[ "${1:-}" = --emulator ] && only_emulator=true

pinned() { sed -n "s/^$1==//p" "${2:-tests/requirements.txt}"; }
installed() { "$PYTHON" -c "from importlib.metadata import version; print(version('$1'))" 2>/dev/null || true; }

# The emulator: moto in server mode (flask comes with the [server] extra).
want_moto=$(pinned 'moto\[server\]')
if ! "$PYTHON" -c 'import flask, moto' 2>/dev/null || [ "$(installed moto)" != "$want_moto" ]; then
  echo "tests/install-tools.sh: installing the emulator (moto[server]==$want_moto)"
  "$PYTHON" -m pip install --quiet --disable-pip-version-check "moto[server]==$want_moto"
fi

# The emulator's IAM simulator (tests/iam-sim, a Node sidecar): reinstalled when the lock changes.
lock_sum=$(sha256sum tests/iam-sim/package-lock.json | cut -d' ' -f1)
if [ "$(cat tests/iam-sim/node_modules/.setup-lock-sum 2>/dev/null)" != "$lock_sum" ]; then
  command -v npm >/dev/null || { echo "tests/install-tools.sh: npm (Node.js 18+) is needed for tests/iam-sim" >&2; exit 1; }
  echo "tests/install-tools.sh: installing the IAM simulator (npm ci --prefix tests/iam-sim)"
  npm ci --prefix tests/iam-sim --no-audit --no-fund --loglevel=error
  echo "$lock_sum" > tests/iam-sim/node_modules/.setup-lock-sum
fi

$only_emulator && exit 0

# The linters the tests run: cfn-lint (importable, not only installed), parliament, and zizmor
# (a binary wheel, no Python module to import).
for tool in cfn-lint parliament zizmor; do
  want=$(pinned "$tool")
  if [ "$(installed "$tool")" != "$want" ] \
      || { [ "$tool" = cfn-lint ] && ! "$PYTHON" -c 'import cfnlint' 2>/dev/null; }; then
    echo "tests/install-tools.sh: installing $tool==$want"
    "$PYTHON" -m pip install --quiet --disable-pip-version-check "$tool==$want"
  fi
done

# checkov (the IaC security scanner the export tests run; tests/requirements-checkov.txt): in its
# own virtual environment, target/checkov-venv, because its many pinned dependencies would clash
# with the tools above. Checked by version; a fresh machine (or `cargo clean`) installs it again.
want_checkov=$(pinned checkov tests/requirements-checkov.txt)
checkov_venv=target/checkov-venv
if [ "$("$checkov_venv/bin/python" -c 'from importlib.metadata import version; print(version("checkov"))' 2>/dev/null)" != "$want_checkov" ]; then
  echo "tests/install-tools.sh: installing checkov==$want_checkov into $checkov_venv"
  rm -rf "$checkov_venv"
  "$PYTHON" -m venv "$checkov_venv"
  "$checkov_venv/bin/python" -m pip install --quiet --disable-pip-version-check -r tests/requirements-checkov.txt
fi
