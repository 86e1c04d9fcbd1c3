"""List calls page as AWS pages them (issue 12), always on.

What moto 5.2.5 does on its own, per List call the tool makes, and what this module changes:

  cognito-identity ListIdentityPools   moto ignores MaxResults and NextToken and returns every pool
                                       with every field. Now: MaxResults required, 1..60
                                       (InvalidParameterException otherwise), NextToken, and only
                                       IdentityPoolId + IdentityPoolName per pool, as AWS answers.
  iam ListPolicyVersions               moto: no paging at all. Now MaxItems (1..1000, default 100),
                                       Marker, IsTruncated.
  iam ListAttachedRolePolicies         moto pages by offset and answers IsTruncated=true with a
                                       Marker to an empty page when the last page is exactly full.
                                       Now: IsTruncated only when more items follow.
  iam ListRolePolicies                 moto: no paging at all. Now MaxItems/Marker/IsTruncated.
  iam ListEntitiesForPolicy            moto applies MaxItems to the list of ALL users and roles of
                                       the account before filtering (a role past the 100th is
                                       never reported) and never truncates; a missing policy gives
                                       empty lists. Now: one paged sequence (groups, users, roles),
                                       EntityFilter, PathPrefix, PolicyUsageFilter, NoSuchEntity
                                       for a missing policy.
  dynamodb ListTagsOfResource          moto pages by 10 with NextToken = last key (500 when that
                                       tag was removed meanwhile). Now: pages of 10, key order,
                                       a token that survives removals.
  cognito-idp ListUserPools /          moto pages (default 60) and accepts any MaxResults. Now
  ListUserPoolClients                  MaxResults 1..60 as AWS, and the cap below.

Markers / tokens are opaque (base64 of the last key returned), so a page never repeats or skips
an item when others are created or deleted in between.

A test-only cap, `--page-size N` / SETUP_EMULATOR_PAGE_SIZE=N, makes every page above hold at
most N items (whatever the caller asked for), so tests exercise paging with few resources.

bulk_identity_pools() creates many unrelated identity pools directly in moto's backend, for
benchmarks (POST /_setup/bulk-identity-pools, see tests/emu/endpoints.py).
"""

from __future__ import annotations

import base64
import itertools
import json
import threading

from . import override
from .errors import InvalidParameterError

PAGE_CAP: int | None = None
_seq = itertools.count(1)
_seq_lock = threading.Lock()


def configure(page_size: int | None) -> None:
    global PAGE_CAP
    if page_size is not None and page_size < 1:
        raise ValueError(f"the page size must be at least 1, got {page_size}")
    PAGE_CAP = page_size or None


def capped(limit: int) -> int:
    return min(limit, PAGE_CAP) if PAGE_CAP else limit


def encode_token(key) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


def decode_token(token: str):
    """The key a token was made from; ValueError when it is not one of ours."""
    padded = token + "=" * (-len(token) % 4)
    try:
        return json.loads(base64.urlsafe_b64decode(padded.encode()).decode())
    except Exception as e:  # noqa: BLE001 - any garbage is just "invalid"
        raise ValueError(f"invalid token {token!r}") from e


def page(items: list, key, token: str | None, limit: int):
    """(page items, next token or None): items after the token's key, in key order."""
    ordered = sorted(items, key=key)
    if token:
        after = decode_token(token)
        after = tuple(after) if isinstance(after, list) else after
        ordered = [i for i in ordered if _as_tuple(key(i)) > after]
    limit = capped(limit)
    chunk = ordered[:limit]
    more = len(ordered) > limit
    return chunk, (encode_token(key(chunk[-1])) if more and chunk else None)


def _as_tuple(k):
    return tuple(k) if isinstance(k, list) else k


# --------------------------------------------------------------------------
# cognito-identity
# --------------------------------------------------------------------------

def _range_error(value, field: str, low: int, high: int) -> str | None:
    if value is None:
        return None
    try:
        n = int(value)
    except (TypeError, ValueError):
        return f"1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: Member must be a number"
    if n < low:
        return (f"1 validation error detected: Value '{n}' at '{field}' failed to satisfy "
                f"constraint: Member must have value greater than or equal to {low}")
    if n > high:
        return (f"1 validation error detected: Value '{n}' at '{field}' failed to satisfy "
                f"constraint: Member must have value less than or equal to {high}")
    return None


def _pool_seq(pool) -> int:
    seq = getattr(pool, "_setup_seq", None)
    if seq is None:
        with _seq_lock:
            seq = pool._setup_seq = next(_seq)
    return seq


def _check_max_results(max_results, required: bool, error) -> None:
    """Cognito's validation of maxResults: 1 to 60, and required where the API says so."""
    if max_results is None and required:
        raise error("1 validation error detected: Value null at 'maxResults' failed to satisfy "
                    "constraint: Member must not be null")
    problem = _range_error(max_results, "maxResults", 1, 60)
    if problem:
        raise error(problem)


def list_identity_pools(self):
    max_results = self._get_param("MaxResults")
    _check_max_results(max_results, True, InvalidParameterError)
    token = self._get_param("NextToken")
    try:
        pools, next_token = page(list(self.backend.identity_pools.values()),
                                 lambda p: [_pool_seq(p), p.identity_pool_id],
                                 token, int(max_results))
    except ValueError:
        raise InvalidParameterError("Invalid NextToken.")
    out = {"IdentityPools": [{"IdentityPoolId": p.identity_pool_id,
                              "IdentityPoolName": p.identity_pool_name} for p in pools]}
    if next_token:
        out["NextToken"] = next_token
    return json.dumps(out), {"Content-Type": "application/x-amz-json-1.1"}


def bulk_identity_pools(count: int, prefix: str, region: str, account: str) -> int:
    """Creates `count` unrelated identity pools straight in moto's backend; returns how many."""
    from moto.cognitoidentity.models import CognitoIdentityPool, cognitoidentity_backends

    backend = cognitoidentity_backends[account][region]
    for i in range(count):
        pool = CognitoIdentityPool(region, f"{prefix}-{i}", allow_unauthenticated_identities=False,
                                   cognito_identity_providers=[], tags={})
        _pool_seq(pool)
        backend.identity_pools[pool.identity_pool_id] = pool
        backend.pools_identities[pool.identity_pool_id] = {
            "IdentityPoolId": pool.identity_pool_id, "Identities": []}
    return count


# --------------------------------------------------------------------------
# IAM
# --------------------------------------------------------------------------

def _iam_limit_and_marker(resp) -> tuple[int, str | None]:
    from moto.iam.exceptions import ValidationError

    raw = resp._get_param("MaxItems")
    problem = _range_error(raw, "maxItems", 1, 1000)
    if problem:
        raise ValidationError(problem)
    return (int(raw) if raw is not None else 100), (resp._get_param("Marker") or None)


def _iam_page(resp, items, key):
    from moto.iam.exceptions import ValidationError

    limit, marker = _iam_limit_and_marker(resp)
    try:
        return page(items, key, marker, limit)
    except ValueError:
        raise ValidationError("Invalid Marker.")


def _iam_result(field: str, items, marker, extra: dict | None = None):
    from moto.core.responses import ActionResult

    out = {field: items, "IsTruncated": marker is not None}
    if marker:
        out["Marker"] = marker
    out.update(extra or {})
    return ActionResult(out)


def list_policy_versions(self):
    versions = self.backend.list_policy_versions(self._get_param("PolicyArn"))

    def number(v):
        try:
            return int(str(v.version_id).lstrip("v"))
        except ValueError:
            return 0
    chunk, marker = _iam_page(self, list(versions), number)
    return _iam_result("Versions", chunk, marker)


def list_attached_role_policies(self):
    role = self.backend.get_role(self._get_param("RoleName"))
    prefix = self._get_param("PathPrefix") or "/"
    policies = [p for p in role.managed_policies.values() if p.path.startswith(prefix)]
    chunk, marker = _iam_page(self, policies, lambda p: [p.name, p.arn])
    return _iam_result("AttachedPolicies",
                       [{"PolicyName": p.name, "PolicyArn": p.arn} for p in chunk], marker)


def list_role_policies(self):
    names = list(self.backend.list_role_policies(self._get_param("RoleName")))
    chunk, marker = _iam_page(self, names, lambda n: n)
    return _iam_result("PolicyNames", chunk, marker)


ENTITY_ORDER = {"Group": 0, "User": 1, "Role": 2}


def list_entities_for_policy(self):
    from moto.iam.exceptions import NotFoundException

    arn = self._get_param("PolicyArn")
    if arn not in self.backend.managed_policies:
        raise NotFoundException(f"Policy {arn} does not exist or is not attachable.")
    entity_filter = self._get_param("EntityFilter")
    usage = self._get_param("PolicyUsageFilter")
    prefix = self._get_param("PathPrefix") or "/"
    kinds = {"User": ["User"], "Role": ["Role"], "Group": ["Group"]}.get(
        entity_filter, ["Group", "User", "Role"])
    sources = {"Group": self.backend.groups.values(), "User": self.backend.users.values(),
               "Role": self.backend.roles.values()}
    entities = []
    for kind in kinds:
        for e in list(sources[kind]):
            attached = arn in getattr(e, "managed_policies", {})
            boundary = (getattr(e, "permissions_boundary_arn", None)
                        or getattr(e, "permissions_boundary", None)) == arn
            wanted = {"PermissionsPolicy": attached, "PermissionsBoundary": boundary}.get(
                usage, attached or boundary)
            if wanted and (getattr(e, "path", "/") or "/").startswith(prefix):
                entities.append((kind, e))
    chunk, marker = _iam_page(self, entities, lambda ke: [ENTITY_ORDER[ke[0]], ke[1].name])
    return _iam_result("PolicyGroups", [e for k, e in chunk if k == "Group"], marker, {
        "PolicyUsers": [e for k, e in chunk if k == "User"],
        "PolicyRoles": [e for k, e in chunk if k == "Role"],
    })


# --------------------------------------------------------------------------
# DynamoDB
# --------------------------------------------------------------------------

DYNAMODB_TAGS_PER_PAGE = 10  # AWS documents no page size; moto uses 10


def dynamodb_tags_page(tags: list, token: str | None) -> dict:
    """One ListTagsOfResource answer over `tags` ([{"Key", "Value"}]) after `token`. Also for
    other patches that answer ListTagsOfResource themselves (realistic mode's lagged tags)."""
    from moto.dynamodb.exceptions import MockValidationException

    try:
        chunk, next_token = page(list(tags), lambda t: t["Key"], token, DYNAMODB_TAGS_PER_PAGE)
    except ValueError:
        raise MockValidationException("Invalid NextToken")
    out = {"Tags": chunk}
    if next_token:
        out["NextToken"] = next_token
    return out


def list_tags_of_resource(self):
    from moto.core.responses import ActionResult

    tags = self.dynamodb_backend.list_tags_of_resource(self.body["ResourceArn"])
    return ActionResult(dynamodb_tags_page(tags, self.body.get("NextToken")))


# --------------------------------------------------------------------------
# cognito-idp
# --------------------------------------------------------------------------

def _cap_idp(original, required: bool):
    def wrapper(self, *args, **kwargs):
        from moto.cognitoidp.exceptions import InvalidParameterException

        max_results = kwargs.get("max_results")
        _check_max_results(max_results, required, InvalidParameterException)
        kwargs["max_results"] = capped(int(max_results) if max_results is not None else 60)
        return original(self, *args, **kwargs)

    wrapper.__wrapped__ = original
    return wrapper


def patch() -> None:
    """Installs the paging above (the cap is configure()'s). Call before moto's backend apps
    are created, and before other patches that wrap these handlers (emu.realistic.install())."""
    from moto.cognitoidentity.models import CognitoIdentityPool
    from moto.cognitoidentity.responses import CognitoIdentityResponse
    from moto.cognitoidp.models import CognitoIdpBackend
    from moto.dynamodb.responses import DynamoHandler
    from moto.iam.responses import IamResponse

    CognitoIdentityResponse.list_identity_pools = list_identity_pools
    original_init = CognitoIdentityPool.__init__

    def init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        _pool_seq(self)

    CognitoIdentityPool.__init__ = init
    override.methods(
        IamResponse, list_policy_versions, list_attached_role_policies, list_role_policies, list_entities_for_policy)
    DynamoHandler.list_tags_of_resource = list_tags_of_resource
    CognitoIdpBackend.list_user_pools = _cap_idp(CognitoIdpBackend.list_user_pools, True)
    CognitoIdpBackend.list_user_pool_clients = _cap_idp(CognitoIdpBackend.list_user_pool_clients, False)
