#!/usr/bin/env python3
"""Local AWS emulator for the `setup` integration tests.

Runs moto's server app (DynamoDB, Cognito, IAM, STS, ...) on loopback with the fixes and test
endpoints of the package tests/emu/ (one module per concern; tests/emu/__init__.py lists them).

Usage:  python3 tests/emulator.py [--host 127.0.0.1] [--port 0] [--delay-ms N] [--page-size N]
                                  [--realistic SPEC] [--faults SPEC]
Prints exactly one line "READY <port>" on stdout once listening. Exits when its
stdin reaches EOF (so a dead test harness never leaves it orphaned), and on
SIGTERM / SIGINT. Requires moto[server]==5.2.5 (tests/requirements.txt).
Self-tests: python3 tests/emu/selftest_realistic.py, python3 tests/emu/selftest_enforce.py,
python3 tests/emu/selftest_principal_tags.py, python3 tests/emu/selftest_iam_users.py,
python3 tests/emu/selftest_role_mappings.py.
"""

from emu.launcher import main  # tests/ is on sys.path: this file runs as a script

if __name__ == "__main__":
    main(__doc__.splitlines()[0])
