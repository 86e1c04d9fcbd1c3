"""The call log: every AWS request, by the access key that signed it, in arrival order.

  GET /_setup/calls?key=AKID -> JSON array of {"service", "operation", "t", "t_end"}
      (monotonic seconds at arrival and at answer; "fault" and "held" when injected);
  GET /_setup/health -> "ok".

Also the optional artificial latency per AWS request (--delay-ms), and the dispatch of the
emulator's other own endpoints: /_setup/realistic (realistic.py), /_setup/table-status
(table_status.py) and the POST control requests of the fault injection (faults.py).
"""

from __future__ import annotations

import io
import json
import re
import threading
import time
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

from . import realistic, table_status

if TYPE_CHECKING:
    from .faults import FaultMiddleware

CREDENTIAL_RE = re.compile(r"Credential=([^/,\s]+)/[^/]*/([^/]*)/([^/]*)/")


class CallLogMiddleware:
    def __init__(self, app, delay_ms: int = 0, faults: "FaultMiddleware | None" = None):
        self.app = app
        self.faults = faults
        self.delay = max(delay_ms, 0) / 1000.0
        self.lock = threading.Lock()
        self.calls: dict[str, list[dict]] = {}

    @staticmethod
    def _reply(start_response, status: str, body: bytes, ctype: str):
        start_response(status, [("Content-Type", ctype), ("Content-Length", str(len(body)))])
        return [body]

    def _own_endpoint(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path == "/_setup/realistic":  # before the faults branch, which consumes POST bodies
            return self._reply(start_response, *realistic.endpoint(environ))
        if environ.get("REQUEST_METHOD") == "POST" and self.faults is not None:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            spec = json.loads(environ["wsgi.input"].read(length) or b"{}")
            answer = self.faults.control(path, spec)
            if answer is not None:
                return self._reply(start_response, "200 OK", json.dumps(answer).encode(),
                                   "application/json")
        if path == "/_setup/health":
            return self._reply(start_response, "200 OK", b"ok", "text/plain")
        if path == "/_setup/calls":
            key = (parse_qs(environ.get("QUERY_STRING", "")).get("key") or [""])[0]
            with self.lock:
                body = json.dumps(self.calls.get(key, [])).encode()
            return self._reply(start_response, "200 OK", body, "application/json")
        if path == "/_setup/table-status":
            return self._reply(start_response, *table_status.endpoint(environ))
        return self._reply(start_response, "404 Not Found", b"unknown endpoint", "text/plain")

    @staticmethod
    def _operation(environ, body: bytes) -> str:
        target = environ.get("HTTP_X_AMZ_TARGET")
        if target:  # e.g. DynamoDB_20120810.DescribeTable -> DescribeTable
            return target.rsplit(".", 1)[-1]
        for source in (environ.get("QUERY_STRING", ""), body.decode("utf-8", "replace")):
            action = parse_qs(source).get("Action")
            if action:  # query protocol (IAM, STS)
                return action[0]
        return f"{environ.get('REQUEST_METHOD', '')} {environ.get('PATH_INFO', '')}"

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO", "").startswith("/_setup/"):
            return self._own_endpoint(environ, start_response)

        # Read the body fully, then hand moto an identical stream.
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        body = environ["wsgi.input"].read(length) if length > 0 else b""
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))

        match = CREDENTIAL_RE.search(environ.get("HTTP_AUTHORIZATION", ""))
        key, service = (match.group(1), match.group(3)) if match else ("", "")
        record = {"service": service, "operation": self._operation(environ, body),
                  "t": time.monotonic(), "t_end": None}
        with self.lock:  # appended on arrival, so the log is in arrival order
            self.calls.setdefault(key, []).append(record)
        environ.update({"setup.key": key, "setup.service": service,
                        "setup.operation": record["operation"], "setup.record": record})

        if self.delay:
            time.sleep(self.delay)
        try:
            return self.app(environ, start_response)
        finally:
            with self.lock:
                record["t_end"] = time.monotonic()
