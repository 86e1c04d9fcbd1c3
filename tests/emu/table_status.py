"""A manual override of the status DescribeTable reports (moto's tables are always ACTIVE), so
tests can run into --wait-timeout:

  GET /_setup/table-status?name=T&status=UPDATING -> DescribeTable reports table T with that
      status from now on; an empty status clears it.

Installed after the realistic mode, so the override wins over its table states.
"""

import threading
from urllib.parse import parse_qs

from moto.dynamodb.models.table import Table

_lock = threading.Lock()
# Table name -> the TableStatus DescribeTable reports instead of moto's ACTIVE.
TABLE_STATUS: dict[str, str] = {}


def patch() -> None:
    original = Table.describe

    def describe(self, base_key: str = "TableDescription"):
        out = original(self, base_key)
        status = TABLE_STATUS.get(self.name)
        if status:
            out[base_key]["TableStatus"] = status
        return out

    Table.describe = describe


def endpoint(environ) -> tuple[str, bytes, str]:
    """GET /_setup/table-status -> (HTTP status, body, content type)."""
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    name = (query.get("name") or [""])[0]
    status = (query.get("status") or [""])[0]
    if not name:
        return "400 Bad Request", b"name is required", "text/plain"
    with _lock:
        if status:
            TABLE_STATUS[name] = status
        else:
            TABLE_STATUS.pop(name, None)
    return "200 OK", b"ok", "text/plain"
