"""Fault injection and holds (reliability tests).

POST /_setup/faults  {"key_prefix": "AKIDX", "rate": 0.1, "seed": 7,
                      "kinds": ["throttle", "500", "503", "drop", "drop-after", "slow"],
                      "slow_ms": 2500, "ops": ["CreateRole", ...] (optional)}
  From then on, requests signed with an access key starting with key_prefix fail with the
  given probability, a kind drawn from `kinds` with a seeded generator (so a failing case can
  be replayed). `--faults rate=0.1,seed=7,kinds=throttle+500` sets one for every key.
    throttle    HTTP 400 with the service's throttling error (DynamoDB ThrottlingException or
                ProvisionedThroughputExceededException, Cognito TooManyRequestsException,
                IAM/STS Throttling), before the request is processed
    500 / 503   InternalFailure / ServiceUnavailable, before the request is processed
    drop        the connection is closed without an answer, before processing
    drop-after  processed, then the connection is closed: the caller cannot know it happened
    slow        processed, then answered after slow_ms (past the client's timeout)
    notfound    the service's "not found" error (IAM NoSuchEntity, others
                ResourceNotFoundException), as eventual consistency gives right after a create
    validation  HTTP 400 ValidationException / InvalidParameterException: must never be retried
    denied      the service's access-denied error (AccessDeniedException / AccessDenied);
                answered by tests/emu/tagging.py, after the call log and holds
  "max": N stops injecting after N faults.
POST /_setup/hold    {"key_prefix": "AKIDX", "op": "CreateIdentityPool", "when": "before"|"after"}
  The first matching request waits (before moto processes it, or after) until released, so a
  test can kill the client at exactly that point. Its call-log record gets "held": when.
  The empty key_prefix holds a request whatever signed it: unsigned calls (InitiateAuth,
  GetId, GetCredentialsForIdentity) and those signed with credentials from an identity pool.
POST /_setup/release {"key_prefix": "AKIDX"}: lets held requests go and removes the holds.
POST /_setup/holds   {"key_prefix": "AKIDX"}: the holds of that prefix, [{"op", "when", "holding"}]
  ("holding": a request is waiting at it), so a test knows when to act.
"""

import json
import random
import socket
import threading
import time

# The Resource Groups Tagging API signs as "tagging" and is logged under its IAM prefix "tag".
JSON_SERVICES = ("dynamodb", "cognito-identity", "cognito-idp", "tagging", "tag")
THROTTLE_CODES = {
    "dynamodb": ["ThrottlingException", "ProvisionedThroughputExceededException"],
    "cognito-identity": ["TooManyRequestsException"],
    "cognito-idp": ["TooManyRequestsException"],
    "tagging": ["ThrottledException"],
    "tag": ["ThrottledException"],
}


class FaultPlan:
    def __init__(self, spec: dict):
        self.prefix = spec.get("key_prefix", "")
        self.rate = float(spec.get("rate", 0))
        self.kinds = list(spec.get("kinds") or ["throttle", "500", "503", "drop"])
        self.ops = set(spec.get("ops") or [])
        self.slow = float(spec.get("slow_ms", 2500)) / 1000.0
        self.rng = random.Random(spec.get("seed", 0))
        self.max = int(spec["max"]) if spec.get("max") not in (None, "") else None
        self.injected = []  # (operation, kind), for the test to report

    def draw(self, operation: str):
        if self.ops and operation not in self.ops:
            return None
        if self.max is not None and len(self.injected) >= self.max:
            return None
        if self.rng.random() >= self.rate:
            return None
        kind = self.rng.choice(self.kinds)
        self.injected.append((operation, kind))
        return kind


def parse_fault_arg(arg: str) -> dict:
    spec = {}
    for part in filter(None, arg.split(",")):
        k, _, v = part.partition("=")
        spec[k] = v.split("+") if k in ("kinds", "ops") else v
    return spec


def error_response(start_response, service: str, status: str, code: str, message: str):
    if service in JSON_SERVICES:
        body = json.dumps({"__type": code, "message": message}).encode()
        headers = [("Content-Type", "application/x-amz-json-1.0"), ("x-amzn-ErrorType", code)]
    else:
        body = (f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code>"
                f"<Message>{message}</Message></Error><RequestId>fault</RequestId></ErrorResponse>"
                ).encode()
        headers = [("Content-Type", "text/xml")]
    start_response(status, headers + [("Content-Length", str(len(body)))])
    return [body]


def drop_connection(environ, start_response):
    sock = environ.get("werkzeug.socket")
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    # The server then fails to write this to the closed socket, which it ignores quietly.
    # (exc_info lets this replace headers moto already set, for drop-after.)
    err = ConnectionAbortedError("dropped by fault injection")
    start_response("500 Internal Server Error", [("Content-Length", "0")], (type(err), err, None))
    return []


class FaultMiddleware:
    """Sits between the call log and moto: injects faults and holds requests."""

    def __init__(self, app, default: dict | None = None):
        self.app = app
        self.lock = threading.Lock()
        self.plans: dict[str, FaultPlan] = {}
        if default:
            self.plans[""] = FaultPlan(default)
        self.holds: list[dict] = []

    def control(self, path: str, spec: dict):
        with self.lock:
            if path == "/_setup/faults":
                plan = FaultPlan(spec)
                self.plans[plan.prefix] = plan
                return {"ok": True}
            if path == "/_setup/faults/injected":
                plan = self.plans.get(spec.get("key_prefix", ""))
                return {"injected": plan.injected if plan else []}
            if path == "/_setup/hold":
                self.holds.append({"prefix": spec["key_prefix"], "op": spec["op"],
                                   "when": spec.get("when", "before"),
                                   "event": threading.Event(), "used": False})
                return {"ok": True}
            if path == "/_setup/holds":
                return [{"op": h["op"], "when": h["when"], "holding": h["used"]}
                        for h in self.holds if h["prefix"] == spec.get("key_prefix", "")]
            if path == "/_setup/release":
                for h in self.holds:
                    if h["prefix"] == spec.get("key_prefix", ""):
                        h["event"].set()
                self.holds = [h for h in self.holds if h["prefix"] != spec.get("key_prefix", "")]
                return {"ok": True}
        return None

    def _hold_for(self, key: str, operation: str, when: str):
        with self.lock:
            for h in self.holds:
                if (not h["used"] and h["when"] == when and h["op"] == operation
                        and key.startswith(h["prefix"])):
                    h["used"] = True
                    return h
        return None

    def _plan_for(self, key: str):
        with self.lock:
            best = None
            for prefix, plan in self.plans.items():
                if key.startswith(prefix) and (best is None or len(prefix) > len(best.prefix)):
                    best = plan
            return best

    def __call__(self, environ, start_response):
        key, service, operation = environ["setup.key"], environ["setup.service"], environ["setup.operation"]
        record = environ["setup.record"]
        plan = self._plan_for(key)
        kind = None
        if plan is not None:
            with self.lock:
                kind = plan.draw(operation)
        if kind:
            record["fault"] = kind
        if kind == "throttle":
            code = random.Random(plan.rng.random()).choice(THROTTLE_CODES.get(service, ["Throttling"]))
            return error_response(start_response, service, "400 Bad Request", code, "Rate exceeded")
        if kind == "500":
            return error_response(start_response, service, "500 Internal Server Error",
                                  "InternalFailure", "injected fault")
        if kind == "503":
            return error_response(start_response, service, "503 Service Unavailable",
                                  "ServiceUnavailable", "injected fault")
        if kind == "drop":
            return drop_connection(environ, start_response)
        if kind == "notfound":
            if service in JSON_SERVICES:
                return error_response(start_response, service, "400 Bad Request",
                                      "ResourceNotFoundException", "not found (injected)")
            return error_response(start_response, service, "404 Not Found", "NoSuchEntity",
                                  "not found (injected)")
        if kind == "validation":
            code = "ValidationException" if service != "cognito-identity" else "InvalidParameterException"
            return error_response(start_response, service, "400 Bad Request", code,
                                  "invalid request (injected)")

        hold = self._hold_for(key, operation, "before")
        if hold:
            record["held"] = "before"
            hold["event"].wait()
        result = self.app(environ, start_response)
        hold = self._hold_for(key, operation, "after")
        if hold:
            record["held"] = "after"
            hold["event"].wait()
        if kind == "drop-after":
            return drop_connection(environ, start_response)
        if kind == "slow":
            time.sleep(plan.slow)
        return result
