"""What the emulator's self-tests share: a launcher on loopback and boto3 clients for it.

Imported by tests/emu/selftest_*.py, which run as scripts (their directory is on sys.path).
"""

import json
import os
import subprocess
import sys
import time
import traceback
import urllib.error
import urllib.request

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

LAUNCHER = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "emulator.py")
REGION = "us-east-1"


class Launcher:
    """python3 tests/emulator.py --port 0 ARGS, stopped by closing its stdin."""

    def __init__(self, *args: str, creds=("AKIDSELFTEST", "secret"), env: dict | None = None,
                 stderr=None):
        self.creds = creds
        self.proc = subprocess.Popen([sys.executable, LAUNCHER, "--port", "0", *args],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr,
                                     env=dict(os.environ, **(env or {})))

    def wait_ready(self):
        """Waits for "READY <port>"; returns self."""
        line = self.proc.stdout.readline().decode()
        if not line.startswith("READY "):
            raise RuntimeError(f"launcher did not start: {line!r}")
        self.endpoint = f"http://127.0.0.1:{int(line.split()[1])}"
        return self

    def client(self, service: str, *, region: str = REGION, creds=None, validate: bool = True):
        """A boto3 client that tries once, signing with `creds` (key, secret[, token])."""
        key, secret, *token = creds or self.creds
        return boto3.client(service, endpoint_url=self.endpoint, region_name=region,
                            aws_access_key_id=key, aws_secret_access_key=secret,
                            aws_session_token=token[0] if token else None,
                            config=Config(retries={"total_max_attempts": 1},
                                          parameter_validation=validate))

    def request(self, method: str, path: str, body=None):
        """One of the emulator's own endpoints: (HTTP status, JSON answer)."""
        req = urllib.request.Request(self.endpoint + path, method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    def stop(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


def check(cond, what: str):
    if not cond:
        raise AssertionError(what)


def eq(actual, expected, what: str = ""):
    if actual != expected:
        raise AssertionError(f"{what}: expected {expected!r}, got {actual!r}")


def error(fn, code: str, message: str | None = None, status: int = 400, **kwargs):
    """Calls fn(**kwargs), which must fail with `code` (and exactly `message`, and `status`)."""
    try:
        fn(**kwargs)
    except ClientError as e:
        err = e.response.get("Error", {})
        eq(err.get("Code"), code, f"{fn.__name__} error code")
        if message is not None:
            eq(err.get("Message"), message, f"{fn.__name__} error message")
        eq(e.response["ResponseMetadata"]["HTTPStatusCode"], status, f"{fn.__name__} HTTP status")
        return err
    raise AssertionError(f"{fn.__name__}({kwargs}) succeeded; expected {code}")


def sleep_until(t0: float, seconds: float):
    """Sleeps until `seconds` after monotonic time t0 (plus a margin)."""
    delay = t0 + seconds + 0.15 - time.monotonic()
    if delay > 0:
        time.sleep(delay)


def within(t0: float, seconds: float, what: str):
    """The check just made must have happened inside the window, else the result proves nothing."""
    if time.monotonic() - t0 >= seconds:
        raise AssertionError(f"{what}: the machine was too slow to check inside the {seconds}s window")


def run_cases(tests, started: float) -> int:
    """Runs each (name, test) in turn, printing PASS or FAIL with the traceback, then a count
    line (seconds since `started`); the exit status: 1 when any failed."""
    failed = 0
    for name, test in tests:
        try:
            test()
            print(f"PASS {name}")
        except Exception:  # noqa: BLE001 - report every failure, then exit 1
            failed += 1
            print(f"FAIL {name}\n{traceback.format_exc()}")
    print(f"{len(tests) - failed} passed, {failed} failed ({time.monotonic() - started:.1f}s)")
    return 1 if failed else 0


def run_cases_then_stop(emu, tests, started: float) -> int:
    """[`run_cases`], then stops the emulator whatever happened."""
    try:
        return run_cases(tests, started)
    finally:
        emu.stop()
