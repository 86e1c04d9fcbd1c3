#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: installs the emulator and the test tools when they
# are missing (tests/install-tools.sh: moto, cfn-lint, parliament, zizmor, checkov, the IAM simulator), then
# `cargo test`. The end-to-end tests start the emulator themselves on a free loopback port and
# fail (never skip) when it cannot start.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${SETUP_TEST_PYTHON:-python3}"
SETUP_TEST_PYTHON="$PYTHON" tests/install-tools.sh
export SETUP_TEST_PYTHON="$PYTHON"

exec cargo test --locked "$@"
