#!/usr/bin/env bash
# Installs what the emulator and the tests need, when it is missing or not the pinned version:
# the emulator (moto[server] from tests/requirements.txt) and its IAM simulator (tests/iam-sim, a
# Node sidecar, `npm ci`); then the Node programs the app-side tests run, each with `npm ci`
# from its lock file (the sample client examples/clients/js and the aws-amplify check
# tests/amplify); then cfn-lint, parliament and zizmor (tests/requirements.txt) and checkov
# (tests/requirements-checkov.txt, in its own virtual environment target/checkov-venv).
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

# `npm ci` in directory $1 (what it is: $2), again whenever its lock file changes.
npm_ci() {
  local lock_sum
  lock_sum=$(sha256sum "$1/package-lock.json" | cut -d' ' -f1)
  if [ "$(cat "$1/node_modules/.setup-lock-sum" 2>/dev/null)" != "$lock_sum" ]; then
    command -v npm >/dev/null || { echo "tests/install-tools.sh: npm (Node.js 18+) is needed for $1" >&2; exit 1; }
    echo "tests/install-tools.sh: installing $2 (npm ci --prefix $1)"
    npm ci --prefix "$1" --no-audit --no-fund --loglevel=error
    echo "$lock_sum" > "$1/node_modules/.setup-lock-sum"
  fi
}

# The emulator's IAM simulator (tests/iam-sim, a Node sidecar).
npm_ci tests/iam-sim "the IAM simulator"

$only_emulator && exit 0

# The app's side (tests/e2e/app_clients.rs): the sample client and the aws-amplify v6 check.
npm_ci examples/clients/js "the sample client"
npm_ci tests/amplify "aws-amplify for the Amplify check"

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
