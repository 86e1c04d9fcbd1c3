"""Resource Groups Tagging API GetResources that sees Cognito identity pools (issue 12), always on.

moto 5.2.5's GetResources covers the services that mix in its TaggableResourcesMixin; cognito-identity
is not one of them, so it never returns an identity pool. AWS does (resource type
`cognito-identity:identitypool`, listed for tag-based groups in the Resource Groups user guide).
This module answers GetResources itself, over moto's own resources plus the identity pools of the
request's account and region:

  ARN              arn:<partition>:cognito-identity:<region>:<account>:identitypool/<id>, with the
                   pool's IdentityPoolTags; pools without tags are not returned (as moto does for
                   its own resources).
  TagFilters       AND across filters, OR across a filter's Values, Key only = any value (moto's
                   matcher); at most 50 filters of at most 20 values (InvalidParameterException).
  ResourceTypeFilters  "service" or "service:type", as moto matches them.
  ResourceARNList  restricts to those ARNs; not together with ResourcesPerPage, TagsPerPage or
                   PaginationToken (InvalidParameterException, as documented).
  Paging           ResourcesPerPage 1..100 (default 50, moto's), TagsPerPage 100..500 (checked,
                   not applied), opaque PaginationToken over ARN order (tests/emu/paging.py, so the
                   --page-size cap applies too); the last page answers PaginationToken "", as AWS.

POST /_setup/tagging {"key_prefix": "AKIDX", "lag": 2, "page_size": 1} changes GetResources for
requests signed with a key starting with key_prefix (the longest matching prefix wins; both
fields optional, 0 or absent = off):
  lag        the Tagging API's index is eventually consistent: a pool created moments ago may be
             missing and a deleted one may still be listed. GetResources sees the index as it was
             `lag` seconds ago (pools created since are missing, pools deleted since are still
             there with their last tags). Tag changes on a live pool show at once.
  page_size  at most that many resources a page, whatever ResourcesPerPage asks for.

IAM roles and policies are never returned, tagged or not, as in AWS ("The GetResources operation
does not currently support IAM users and roles"); moto's IAM backend is not one of its taggable
ones either. tests/emu/selftest_tagging.py checks all of the above that `setup list` relies on.

install(faults) also
  * adds the fault kind "denied" to tests/emulator.py's fault injection: the request is answered
    with the service's access-denied error (AccessDeniedException, HTTP 400, for JSON services;
    AccessDenied, HTTP 403, for IAM/STS), e.g. {"kinds": ["denied"], "ops": ["GetResources"]};
  * names the service of Tagging API calls in the call log by its IAM action prefix, `tag`
    (its signing name is `tagging`), so a call log reads as the IAM actions `tag:GetResources`;
  * makes moto's own IAM enforcement (INITIAL_NO_AUTH_ACTION_COUNT) check `tag:GetResources`,
    where moto would check `tagging:GetResources` (it takes the signing name as action prefix).
"""

from __future__ import annotations

import json
import re
import threading
import time

from . import paging

POOL_TYPE = "cognito-identity:identitypool"
JSON_HEADERS = {"Content-Type": "application/x-amz-json-1.1"}
CREDENTIAL_RE = re.compile(r"Credential=([^/,\s]+)/")
# A deleted pool is remembered for at most this long (no lag a test sets is longer).
TOMBSTONE_TTL = 600.0

_lock = threading.Lock()
_settings: dict[str, dict] = {}  # key prefix -> {"lag": seconds, "page_size": n}
_tombstones: list[dict] = []  # {"account", "region", "arn", "tags", "gone"}


def now() -> float:
    return time.monotonic()


# --------------------------------------------------------------------------
# the index lag
# --------------------------------------------------------------------------

def configure(key_prefix: str, lag=0, page_size=0) -> None:
    """The settings for keys starting with key_prefix (ValueError when one is out of range)."""
    if isinstance(lag, bool) or isinstance(page_size, bool):
        raise ValueError("lag and page_size are numbers")
    lag, page_size = float(lag or 0), int(page_size or 0)
    if not 0 <= lag <= TOMBSTONE_TTL:
        raise ValueError(f"lag must be between 0 and {TOMBSTONE_TTL:.0f} seconds")
    if not 0 <= page_size <= 100:
        raise ValueError("page_size must be between 0 (off) and 100")
    with _lock:
        if lag or page_size:
            _settings[key_prefix] = {"lag": lag, "page_size": page_size}
        else:
            _settings.pop(key_prefix, None)


def settings_for(key: str) -> dict:
    with _lock:
        best = max((p for p in _settings if key.startswith(p)), key=len, default=None)
        return dict(_settings[best]) if best is not None else {"lag": 0.0, "page_size": 0}


def pool_arn(region: str, account: str, pool_id: str) -> str:
    from .partition import partition_of

    return f"arn:{partition_of(region)}:cognito-identity:{region}:{account}:identitypool/{pool_id}"


def _remember_deletion(backend, pool_id: str) -> None:
    pool = backend.identity_pools.get(pool_id)
    if pool is None:
        return
    with _lock:
        cutoff = now() - TOMBSTONE_TTL
        _tombstones[:] = [t for t in _tombstones if t["gone"] >= cutoff]
        _tombstones.append({"account": backend.account_id, "region": backend.region_name,
                            "arn": pool_arn(backend.region_name, backend.account_id, pool_id),
                            "tags": dict(pool.tags or {}), "gone": now()})


def _indexed_pools(account: str, region: str, lag: float) -> list[tuple[str, dict]]:
    """(ARN, tags) of the identity pools the index shows `lag` seconds late."""
    from moto.cognitoidentity.models import cognitoidentity_backends

    out = []
    if account in cognitoidentity_backends and region in cognitoidentity_backends[account]:
        backend = cognitoidentity_backends[account][region]
        seen_before = now() - lag
        for pool in list(backend.identity_pools.values()):
            if getattr(pool, "_setup_created", 0.0) <= seen_before:
                out.append((pool_arn(region, account, pool.identity_pool_id), dict(pool.tags or {})))
    if lag:
        with _lock:
            late = [t for t in _tombstones if t["account"] == account and t["region"] == region
                    and t["gone"] > now() - lag]
        live = {arn for arn, _ in out}
        out.extend((t["arn"], t["tags"]) for t in late if t["arn"] not in live)
    return out


# --------------------------------------------------------------------------
# GetResources
# --------------------------------------------------------------------------

def _error(code: str, message: str):
    from moto.resourcegroupstaggingapi.exceptions import ResourceGroupsTaggingAPIError

    return ResourceGroupsTaggingAPIError(code, message)


def _int_param(resp, name: str, default: int, low: int, high: int) -> int:
    raw = resp._get_param(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise _error("InvalidParameterException", f"{name} must be a number")
    if not low <= value <= high:
        raise _error("InvalidParameterException", f"{name} must be between {low} and {high}")
    return value


def _check_filters(tag_filters) -> list[dict]:
    if not isinstance(tag_filters, list):
        raise _error("InvalidParameterException", "TagFilters must be a list")
    if len(tag_filters) > 50:
        raise _error("InvalidParameterException", "TagFilters can have at most 50 items")
    for f in tag_filters:
        if not isinstance(f, dict) or not isinstance(f.get("Key"), str) or not f["Key"]:
            raise _error("InvalidParameterException", "each TagFilter needs a Key")
        if len(f.get("Values") or []) > 20:
            raise _error("InvalidParameterException", "a TagFilter can have at most 20 Values")
    return tag_filters


def get_resources(self):
    from moto.core.resource_tagging import make_tag_matcher, match_resource_type

    token = self._get_param("PaginationToken") or None
    tag_filters = _check_filters(self._get_param("TagFilters") or [])
    type_filters = list(self._get_param("ResourceTypeFilters") or [])
    arn_list = list(self._get_param("ResourceARNList") or [])
    paged = any(self._get_param(p) not in (None, "")
                for p in ("PaginationToken", "ResourcesPerPage", "TagsPerPage"))
    if arn_list and paged:
        raise _error("InvalidParameterException",
                     "ResourceARNList cannot be used with ResourcesPerPage, TagsPerPage or "
                     "PaginationToken")
    per_page = _int_param(self, "ResourcesPerPage", 50, 1, 100)
    _int_param(self, "TagsPerPage", 100, 100, 500)

    found = {r.arn: dict(r.tags) for r in self.backend._get_resources_generator(
        tag_filters=tag_filters, resource_type_filters=type_filters, resource_arn_list=arn_list)}
    match = CREDENTIAL_RE.search(self.headers.get("Authorization", "") or "")
    settings = settings_for(match.group(1) if match else "")
    lag = settings["lag"]
    if settings["page_size"]:
        per_page = min(per_page, settings["page_size"])
    if match_resource_type(POOL_TYPE, type_filters):
        matches = make_tag_matcher(tag_filters)
        for arn, tags in _indexed_pools(self.current_account, self.region, lag):
            if tags and matches(tags) and (not arn_list or arn in arn_list):
                found[arn] = tags
    try:
        chunk, next_token = paging.page(sorted(found), lambda arn: arn, token, per_page)
    except ValueError:
        raise _error("InvalidParameterException", "The PaginationToken is not valid.")
    out = {
        "ResourceTagMappingList": [
            {"ResourceARN": arn, "Tags": [{"Key": k, "Value": v} for k, v in found[arn].items()]}
            for arn in chunk
        ],
        "PaginationToken": next_token or "",
    }
    return json.dumps(out), dict(JSON_HEADERS)


# --------------------------------------------------------------------------
# IAM action prefix, access-denied fault, control endpoint
# --------------------------------------------------------------------------

# Signing name -> IAM action prefix, where they differ (for the services the tool calls).
ACTION_PREFIX = {"tagging": "tag"}


def _patch_iam_enforcement() -> None:
    from moto.iam.access_control import IAMRequestBase

    original = IAMRequestBase.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        prefix = ACTION_PREFIX.get(getattr(self, "_service", ""))
        if prefix:
            self._action = f"{prefix}:{self._action.split(':', 1)[1]}"

    IAMRequestBase.__init__ = init


JSON_SERVICES = ("dynamodb", "cognito-identity", "cognito-idp", "tagging", "tag")


def access_denied(start_response, service: str, key: str, operation: str):
    action = f"{ACTION_PREFIX.get(service, service)}:{operation}"
    message = (f"User: arn:aws:iam::123456789012:user/{key} is not authorized to perform: "
               f"{action} (injected)")
    if service in JSON_SERVICES:
        body = json.dumps({"__type": "AccessDeniedException", "message": message}).encode()
        headers = [("Content-Type", "application/x-amz-json-1.1"),
                   ("x-amzn-ErrorType", "AccessDeniedException")]
        status = "400 Bad Request"
    else:
        body = (f"<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>"
                f"<Message>{message}</Message></Error><RequestId>fault</RequestId>"
                f"</ErrorResponse>").encode()
        headers = [("Content-Type", "text/xml")]
        status = "403 Forbidden"
    start_response(status, headers + [("Content-Length", str(len(body)))])
    return [body]


class Inner:
    """Between the fault injection and moto: sees each request after a fault was drawn."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        record = environ.get("setup.record") or {}
        service = environ.get("setup.service", "")
        if service in ACTION_PREFIX:
            record["service"] = ACTION_PREFIX[service]
        if record.get("fault") == "denied":
            return access_denied(start_response, service, environ.get("setup.key", ""),
                                 environ.get("setup.operation", ""))
        return self.app(environ, start_response)


def install(faults) -> None:
    """Installs everything above. `faults` is tests/emulator.py's FaultMiddleware instance."""
    from moto.cognitoidentity.models import CognitoIdentityBackend, CognitoIdentityPool
    from moto.resourcegroupstaggingapi.responses import ResourceGroupsTaggingAPIResponse

    ResourceGroupsTaggingAPIResponse.get_resources = get_resources
    original_init = CognitoIdentityPool.__init__

    def init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        self._setup_created = now()

    CognitoIdentityPool.__init__ = init
    original_delete = CognitoIdentityBackend.delete_identity_pool

    def delete_identity_pool(self, identity_pool_id: str):
        _remember_deletion(self, identity_pool_id)
        return original_delete(self, identity_pool_id)

    CognitoIdentityBackend.delete_identity_pool = delete_identity_pool
    _patch_iam_enforcement()

    faults.app = Inner(faults.app)
    original_control = faults.control

    def control(path: str, spec: dict):
        if path == "/_setup/tagging":
            try:
                configure(str(spec.get("key_prefix", "")), spec.get("lag", 0),
                          spec.get("page_size", 0))
            except (TypeError, ValueError) as e:
                return {"ok": False, "error": str(e)}
            return {"ok": True}
        return original_control(path, spec)

    faults.control = control
