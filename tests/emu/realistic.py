"""Realistic mode: the windows, how they are set, and the patches that use them.

Enabled by `--realistic SPEC` on tests/emulator.py or env SETUP_EMULATOR_REALISTIC=SPEC. SPEC is
`default` (or `1`) for every default window, or comma-separated `name=seconds` overrides of the
defaults, e.g. `table_creating=0.5,iam_propagation=1`. Without it every window is 0, which turns
each behaviour off (fast mode). `billing_switches` is a count, not seconds; 0 turns the quota off.

At runtime: POST /_setup/realistic {"name": seconds, ...} -> {"ok": true} changes windows (also
on an emulator started in fast mode); GET /_setup/realistic -> {"name": seconds, ...}.

All state is tied to a resource (a table, role or policy) and timestamped with a monotonic clock
when the emulator sees the write; a window is compared at the time of each later request, so a
window changed at runtime applies to resources created before. Nothing is random.
"""

import json
import threading
import time

DEFAULTS = {
    "table_invisible": 1.0,
    "table_creating": 2.0,
    "table_updating": 1.5,
    "table_deleting": 2.0,
    "pitr_unavailable": 2.5,
    "pitr_enabling": 1.0,
    "tags_lag": 1.5,
    "iam_delete_conflict": 2.0,
    "iam_propagation": 3.0,
    "iam_concurrent": 1.0,
    "billing_switches": 4,
    # tests/emu/table_options.py
    "index_creating": 2.0,
    "index_deleting": 1.0,
    "ttl_interval": 5.0,
}
COUNTS = ("billing_switches",)

# One lock for all realistic state. Re-entrant: a patched handler holds it around a
# check-then-act, and the model patches it calls take it again.
LOCK = threading.RLock()
_windows: dict[str, float] = {name: 0 for name in DEFAULTS}


def now() -> float:
    return time.monotonic()


def window(name: str) -> float:
    with LOCK:
        return _windows[name]


def get_windows() -> dict:
    with LOCK:
        return dict(_windows)


def _checked(values: dict) -> dict:
    out = {}
    for name, value in values.items():
        if name not in DEFAULTS:
            raise ValueError(f"unknown realistic window {name!r}; known: {', '.join(DEFAULTS)}")
        if isinstance(value, bool):
            raise ValueError(f"realistic window {name} must be a number, not {value!r}")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"realistic window {name} must be a number, not {value!r}") from None
        if not number >= 0 or number == float("inf"):
            raise ValueError(f"realistic window {name} must be a finite number >= 0, not {value!r}")
        if name in COUNTS:
            if number != int(number):
                raise ValueError(f"realistic {name} is a count: a whole number, not {value!r}")
            number = int(number)
        out[name] = number
    return out


def set_windows(values: dict) -> None:
    """Changes the given windows (all or nothing: raises ValueError on a bad entry)."""
    checked = _checked(values)
    with LOCK:
        _windows.update(checked)


def parse_spec(spec: str) -> dict:
    """SPEC -> the full windows map. Raises ValueError with a message for the user."""
    spec = (spec or "").strip()
    if spec.lower() in ("", "0", "off", "false", "no"):
        return {name: 0 for name in DEFAULTS}
    windows = dict(DEFAULTS)
    if spec.lower() in ("default", "1", "on", "true", "yes"):
        return windows
    overrides = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        name, sep, value = part.partition("=")
        if not sep:
            raise ValueError(f"bad realistic spec entry {part!r}: expected name=seconds "
                             f"(or the whole spec 'default')")
        overrides[name.strip()] = value.strip()
    windows.update(_checked(overrides))
    return windows


def configure(spec: str) -> None:
    windows = parse_spec(spec)
    with LOCK:
        _windows.update(windows)


def endpoint(environ) -> tuple[str, bytes, str]:
    """GET/POST /_setup/realistic -> (status, body, content type)."""
    method = environ.get("REQUEST_METHOD", "GET")
    if method == "GET":
        return "200 OK", json.dumps(get_windows()).encode(), "application/json"
    if method != "POST":
        return "405 Method Not Allowed", b'{"error": "use GET or POST"}', "application/json"
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    raw = environ["wsgi.input"].read(length) if length > 0 else b""
    try:
        values = json.loads(raw or b"{}")
        if not isinstance(values, dict):
            raise ValueError('the body must be a JSON object {"name": seconds, ...}')
        set_windows(values)
    except ValueError as e:  # json.JSONDecodeError is a ValueError
        return "400 Bad Request", json.dumps({"error": str(e)}).encode(), "application/json"
    return "200 OK", b'{"ok": true}', "application/json"


_installed = False


def install() -> None:
    """Applies every patch of the emu package to moto (idempotent). The always-on fidelity fixes
    act at once; the realistic behaviours act only while their window is above 0."""
    global _installed
    if _installed:
        return
    _installed = True
    from emu import iam_fidelity, iam_realistic, identity_tags, table_lifecycle

    iam_fidelity.install()
    iam_realistic.install()
    identity_tags.install()
    table_lifecycle.install()


def propagation_pending(role_arn: str) -> str | None:
    """For GetCredentialsForIdentity: why Cognito cannot use `role_arn` yet, or None."""
    from emu import iam_realistic

    return iam_realistic.propagation_pending(role_arn)
