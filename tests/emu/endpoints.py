"""The emulator's own endpoints for IAM enforcement and paging (tests/emu/iam_enforce.py,
tests/emu/paging.py). Sits outside the call log, so these requests are never logged:

  POST /_setup/bulk-identity-pools {"count": 1000, "prefix": "other", "region": "us-east-1",
                                    "account": "123456789012"}
      creates that many unrelated identity pools ("<prefix>-<i>") straight in moto's backend
      (no HTTP per pool) -> {"created": N}. region and account default as shown.
  GET  /_setup/iam-decisions?key=ASIA...
      the IAM decisions taken for requests signed with that identity access key, in order:
      [{"action", "resource", "context", "decision"}], decision Allowed / ImplicitlyDenied /
      ExplicitlyDenied.
"""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs

from . import paging

ACCOUNT_RE = re.compile(r"^\d{12}$")
REGION_RE = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")


class SetupEndpoints:
    def __init__(self, app, enforce=None):
        self.app = app
        self.enforce = enforce

    @staticmethod
    def _reply(start_response, status: str, payload) -> list:
        body = json.dumps(payload).encode()
        start_response(status, [("Content-Type", "application/json"),
                                ("Content-Length", str(len(body)))])
        return [body]

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "")
        if path == "/_setup/bulk-identity-pools" and method == "POST":
            try:
                length = int(environ.get("CONTENT_LENGTH") or 0)
                spec = json.loads(environ["wsgi.input"].read(length) or b"{}")
                count = int(spec.get("count", 0))
                prefix = str(spec.get("prefix", "other"))
                region = str(spec.get("region", "us-east-1"))
                account = str(spec.get("account", "123456789012"))
            except (ValueError, TypeError, AttributeError) as e:
                return self._reply(start_response, "400 Bad Request", {"error": f"bad request: {e}"})
            if not 0 <= count <= 100_000:
                return self._reply(start_response, "400 Bad Request",
                                   {"error": "count must be between 0 and 100000"})
            if not ACCOUNT_RE.match(account) or not REGION_RE.match(region) or not prefix:
                return self._reply(start_response, "400 Bad Request",
                                   {"error": "account must be 12 digits, region like us-east-1, "
                                             "prefix non-empty"})
            created = paging.bulk_identity_pools(count, prefix, region, account)
            return self._reply(start_response, "200 OK", {"created": created})
        if path == "/_setup/iam-decisions" and method == "GET" and self.enforce is not None:
            key = (parse_qs(environ.get("QUERY_STRING", "")).get("key") or [""])[0]
            with self.enforce.lock:
                decisions = list(self.enforce.decisions.get(key, []))
            return self._reply(start_response, "200 OK", decisions)
        return self.app(environ, start_response)
