#!/usr/bin/env python3
"""Local AWS emulator for the `setup` integration tests.

Runs moto's server app (DynamoDB, Cognito, IAM, STS, ...) on loopback and adds:

  * cognito-identity SetIdentityPoolRoles / GetIdentityPoolRoles, which moto
    5.2.5 lacks (monkeypatched into CognitoIdentityResponse);
  * a faithful sign-in path (section 1b): InitiateAuth USER_PASSWORD_AUTH
    needs the auth flow enabled on the app client; GetId and
    GetCredentialsForIdentity check the Logins tokens, the pool's
    authenticated role and that role's trust policy
    (InvalidIdentityPoolConfigurationException / NotAuthorizedException), and
    hand out fresh credentials per call;
  * a per-access-key call log:  GET /_setup/calls?key=AKID -> JSON array of
    {"service", "operation", "t", "t_end"} in arrival order (monotonic seconds);
  * GET /_setup/health -> "ok";
  * GET /_setup/table-status?name=T&status=UPDATING -> DescribeTable reports
    table T with that status from now on (moto's tables are always ACTIVE);
    an empty status clears it. Lets tests run into the --wait-timeout;
  * an optional artificial latency per AWS request (SETUP_EMULATOR_DELAY_MS or
    --delay-ms) to model the network;
  * IAM enforcement on the identity credentials it hands out: their role's
    policies, evaluated by an independent simulator (tests/emu/iam_enforce.py,
    Node sidecar tests/iam-sim, installed by `npm ci --prefix tests/iam-sim`);
    GET /_setup/iam-decisions?key=ASIA... lists the decisions;
  * List calls paged as AWS pages them, optionally capped at N items a page
    (--page-size N / SETUP_EMULATOR_PAGE_SIZE), and POST
    /_setup/bulk-identity-pools {"count": N, "prefix": "other"} (tests/emu/paging.py);
  * user pool checks moto lacks: username formats, schema, password policy
    wording (tests/emu/user_pools.py);
  * always-on fidelity fixes: DeletePolicy refuses attached policies and
    policies with non-default versions, CreatePolicy/CreatePolicyVersion
    enforce PolicySize 6144 (tests/emu/iam_fidelity.py); cognito-identity
    TagResource / UntagResource / ListTagsForResource on identity pool ARNs
    (tests/emu/identity_tags.py); the sign-in path finds roles of the region's
    partition (arn:aws-us-gov:, arn:aws-cn:; tests/emu/partition.py);
  * Resource Groups Tagging API GetResources that returns identity pools, with an
    optional index lag and page size per key prefix (POST /_setup/tagging), and the fault kind
    "denied" (AccessDenied) (tests/emu/tagging.py);
  * a realistic mode (--realistic SPEC / SETUP_EMULATOR_REALISTIC=SPEC, SPEC
    `default` or name=seconds overrides): tables invisible, CREATING, UPDATING,
    DELETING for a while, PITR unavailable then ENABLING, lagging table tags,
    the on-demand switch quota, IAM DeleteConflict after a detach,
    ConcurrentModification on new roles, and role propagation to Cognito
    (tests/emu/realistic.py, table_lifecycle.py, iam_realistic.py). Windows at
    runtime: GET /_setup/realistic, POST /_setup/realistic {"name": seconds}.
    Self-test: python3 tests/emu/selftest_realistic.py.

Usage:  python3 tests/emulator.py [--host 127.0.0.1] [--port 0] [--delay-ms N] [--page-size N]
                                  [--realistic SPEC]
Prints exactly one line "READY <port>" on stdout once listening. Exits when its
stdin reaches EOF (so a dead test harness never leaves it orphaned), and on
SIGTERM / SIGINT. Requires moto[server]==5.2.5 (tests/requirements.txt).
"""

import argparse
import io
import ipaddress
import json
import os
import re
import signal
import sys
import threading
import time
from urllib.parse import parse_qs

from moto.cognitoidentity.exceptions import ResourceNotFoundError
from moto.cognitoidentity.responses import CognitoIdentityResponse
from moto.core.exceptions import JsonRESTError
from moto.dynamodb.models.table import Table
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server

import emu.partition  # tests/emu: realistic mode and fidelity fixes (tests/ is on sys.path)
import emu.realistic
import emu.endpoints  # tests/emu: IAM enforcement on identity credentials, AWS paging, user pools
import emu.iam_enforce
import emu.paging
import emu.tagging  # GetResources sees identity pools; the "denied" fault kind
import emu.user_pools

# --------------------------------------------------------------------------
# 1. cognito-identity SetIdentityPoolRoles / GetIdentityPoolRoles
# --------------------------------------------------------------------------

POOL_ID_RE = re.compile(r"^[\w-]+:[0-9a-f-]+$")
ROLE_ARN_RE = re.compile(r"^arn:aws[\w-]*:iam::\d{12}:role/[\w+=,.@/-]+$")
ROLE_KEYS = ("authenticated", "unauthenticated")
MAPPING_TYPES = ("Token", "Rules")
AMBIGUOUS = ("AuthenticatedRole", "Deny")


class InvalidParameterError(JsonRESTError):
    """Serialized as {"__type": "InvalidParameterException", "message": ...}, HTTP 400."""

    def __init__(self, message: str):
        super().__init__(error_type="InvalidParameterException", message=message)


def _pool_for(resp: CognitoIdentityResponse):
    """Validate IdentityPoolId and return (id, pool object) or raise."""
    pool_id = resp._get_param("IdentityPoolId")
    if not isinstance(pool_id, str) or not pool_id:
        raise InvalidParameterError("IdentityPoolId is required.")
    if len(pool_id) > 55 or not POOL_ID_RE.match(pool_id):
        raise InvalidParameterError(
            f"1 validation error detected: Value '{pool_id}' at 'identityPoolId' "
            "failed to satisfy constraint: Member must satisfy regular expression "
            "pattern: [\\w-]+:[0-9a-f-]+"
        )
    pool = resp.backend.identity_pools.get(pool_id)
    if pool is None:
        raise ResourceNotFoundError(f"IdentityPool '{pool_id}' not found.")
    return pool_id, pool


def _validate_roles(roles) -> dict:
    if roles is None:
        raise InvalidParameterError("Roles is required.")
    if not isinstance(roles, dict) or len(roles) > 2:
        raise InvalidParameterError("Roles must be a map with at most 2 entries.")
    for key, arn in roles.items():
        if key not in ROLE_KEYS:
            raise InvalidParameterError(
                f"Invalid role type '{key}'. Valid keys are: authenticated, unauthenticated."
            )
        if not isinstance(arn, str) or not (20 <= len(arn) <= 2048) or not ROLE_ARN_RE.match(arn):
            raise InvalidParameterError(f"Invalid role ARN '{arn}' for key '{key}'.")
    return dict(roles)


def _validate_role_mappings(mappings) -> dict:
    if mappings is None:
        return {}
    if not isinstance(mappings, dict) or len(mappings) > 10:
        raise InvalidParameterError("RoleMappings must be a map with at most 10 entries.")
    for provider, mapping in mappings.items():
        if not isinstance(mapping, dict) or mapping.get("Type") not in MAPPING_TYPES:
            raise InvalidParameterError(
                f"RoleMapping for '{provider}' must have Type Token or Rules."
            )
        ambiguous = mapping.get("AmbiguousRoleResolution")
        if ambiguous is not None and ambiguous not in AMBIGUOUS:
            raise InvalidParameterError(f"Invalid AmbiguousRoleResolution '{ambiguous}'.")
        if mapping["Type"] == "Rules" and not (mapping.get("RulesConfiguration") or {}).get("Rules"):
            raise InvalidParameterError(f"RulesConfiguration is required for '{provider}'.")
    return dict(mappings)


JSON_HEADERS = {"Content-Type": "application/x-amz-json-1.1"}


def set_identity_pool_roles(self):
    _, pool = _pool_for(self)
    roles = _validate_roles(self._get_param("Roles"))
    mappings = _validate_role_mappings(self._get_param("RoleMappings"))
    # SetIdentityPoolRoles replaces both maps wholesale, like the real service.
    pool.roles, pool.role_mappings = roles, mappings
    return "{}", dict(JSON_HEADERS)


def get_identity_pool_roles(self):
    pool_id, pool = _pool_for(self)
    out = {"IdentityPoolId": pool_id, "Roles": dict(getattr(pool, "roles", {}))}
    mappings = getattr(pool, "role_mappings", {})
    if mappings:
        out["RoleMappings"] = dict(mappings)
    return json.dumps(out), dict(JSON_HEADERS)


# Table name -> the TableStatus DescribeTable reports instead of moto's ACTIVE.
TABLE_STATUS: dict[str, str] = {}


def patch_table_status() -> None:
    original = Table.describe

    def describe(self, base_key: str = "TableDescription"):
        out = original(self, base_key)
        status = TABLE_STATUS.get(self.name)
        if status:
            out[base_key]["TableStatus"] = status
        return out

    Table.describe = describe


def patch_moto() -> None:
    # BaseResponse.call_action dispatches X-Amz-Target "...SetIdentityPoolRoles"
    # to the snake_case method of the same name on the response class.
    CognitoIdentityResponse.set_identity_pool_roles = set_identity_pool_roles
    CognitoIdentityResponse.get_identity_pool_roles = get_identity_pool_roles
    emu.paging.patch()  # before emu.realistic.install(), which wraps ListTagsOfResource
    emu.user_pools.patch()
    emu.realistic.install()  # before patch_table_status, whose manual override must win
    patch_table_status()
    patch_signature_check()


def patch_signature_check() -> None:
    """Only matters with IAM enforcement on (INITIAL_NO_AUTH_ACTION_COUNT).

    To check a SigV4 signature, moto rebuilds the request; for a form-encoded body (IAM, STS) it
    has only the parsed fields and re-encodes them with `urlencode`, which writes a space as
    "+". The AWS SDKs sign the body with spaces as "%20", as AWS expects, so every request with
    a space in a field (an IAM role or policy description) failed with SignatureDoesNotMatch.
    Re-encode the way the SDKs and AWS do."""
    from urllib.parse import quote, urlencode

    from moto.iam.access_control import IAMRequestBase

    original = IAMRequestBase._create_aws_request

    def create_aws_request(self):
        if not self._body and isinstance(self._data, dict):
            saved = self._data
            self._data = urlencode(saved, doseq=True, quote_via=quote)
            try:
                return original(self)
            finally:
                self._data = saved
        return original(self)

    IAMRequestBase._create_aws_request = create_aws_request


# --------------------------------------------------------------------------
# 1b. Faithful sign-in: InitiateAuth auth flows, GetId, GetCredentialsForIdentity
# --------------------------------------------------------------------------
#
# moto hands out fixed credentials to anyone who asks. AWS does not, and the
# failures are what `setup verify` must explain, so this section makes the
# sign-in path behave like the real services (all state lives in moto's own
# backends, read in-process):
#
#   * cognito-idp InitiateAuth USER_PASSWORD_AUTH needs ALLOW_USER_PASSWORD_AUTH
#     (or the legacy USER_PASSWORD_AUTH) in the app client's ExplicitAuthFlows;
#     otherwise InvalidParameterException, as AWS answers.
#   * cognito-identity GetId / GetCredentialsForIdentity check the Logins map:
#     every token must be an unexpired ID token issued by a user pool and app
#     client the identity pool lists (else NotAuthorizedException). Without
#     Logins, GetId needs AllowUnauthenticatedIdentities. The identity id is
#     stable per (identity pool, user).
#   * GetCredentialsForIdentity answers InvalidIdentityPoolConfigurationException
#     when the pool has no authenticated role, the role does not exist, or its
#     trust policy does not let this pool's authenticated identities assume it:
#     an Allow statement for principal Federated cognito-identity.amazonaws.com
#     and action sts:AssumeRoleWithWebIdentity whose conditions hold for
#     aud = <pool id>, amr = [authenticated, <provider>, <provider>:CognitoSignIn:<sub>]
#     (and no matching Deny). Like Cognito's enhanced flow, a trust policy
#     without an `aud` condition is refused too.
#   * Each call gets fresh credentials (ASIA… key, secret, session token), so
#     the call log tells their requests apart from the operator's.
#
# IAM policies on those credentials are enforced by tests/emu/iam_enforce.py.
# Not emulated: role mappings, unauthenticated roles, developer/OIDC/SAML logins.

import base64
import secrets
import string

from joserfc import jwt as jose_jwt
from moto.cognitoidp.models import CognitoIdpBackend, cognitoidp_backends
from moto.iam.models import iam_backends

COGNITO_IDENTITY = "cognito-identity.amazonaws.com"
ISSUER_RE = re.compile(r"^https://(cognito-idp\.([\w-]+)\.amazonaws\.com/([\w-]+_[0-9a-zA-Z]+))$")
INVALID_POOL_CONFIG = "Invalid identity pool configuration. Check assigned IAM roles for this pool."


class NotAuthorizedError(JsonRESTError):
    def __init__(self, message: str):
        super().__init__(error_type="NotAuthorizedException", message=message)


class InvalidIdentityPoolConfigurationError(JsonRESTError):
    def __init__(self, reason: str):
        # The reason goes to the emulator's stderr only: AWS does not say which check failed.
        sys.stderr.write(f"emulator: InvalidIdentityPoolConfigurationException: {reason}\n")
        super().__init__(error_type="InvalidIdentityPoolConfigurationException",
                         message=INVALID_POOL_CONFIG)


class IdpInvalidParameterError(JsonRESTError):
    def __init__(self, message: str):
        super().__init__(error_type="InvalidParameterException", message=message)


_sign_in_lock = threading.Lock()
# (identity pool id, provider, sub) -> identity id; identity id -> its record
_identity_ids: dict[tuple, str] = {}
_identities: dict[str, dict] = {}
# access key id -> what the credentials were issued for (kept for inspection/debugging)
ISSUED_CREDENTIALS: dict[str, dict] = {}


def _user_password_auth_allowed(client) -> bool:
    flows = client.extended_config.get("ExplicitAuthFlows") or []
    return "ALLOW_USER_PASSWORD_AUTH" in flows or "USER_PASSWORD_AUTH" in flows


def patch_initiate_auth() -> None:
    original = CognitoIdpBackend.initiate_auth

    def initiate_auth(self, client_id, auth_flow, auth_parameters):
        if auth_flow == "USER_PASSWORD_AUTH":
            for pool in self.user_pools.values():
                client = pool.clients.get(client_id)
                if client is not None and not _user_password_auth_allowed(client):
                    raise IdpInvalidParameterError("USER_PASSWORD_AUTH flow not enabled for this client")
        return original(self, client_id, auth_flow, auth_parameters)

    CognitoIdpBackend.initiate_auth = initiate_auth


def _check_login(account_id: str, pool, provider: str, token) -> str:
    """Validates one Logins entry against the identity pool; returns the user's sub."""
    unsupported = "Invalid login token. Token is not from a supported provider of identities."
    trusted = {(p.get("ProviderName"), p.get("ClientId")) for p in pool.cognito_identity_providers}
    if not isinstance(token, str) or provider not in {name for name, _ in trusted}:
        raise NotAuthorizedError(unsupported)
    match = re.match(r"^cognito-idp\.([\w-]+)\.amazonaws\.com/([\w-]+_[0-9a-zA-Z]+)$", provider)
    if not match:
        raise NotAuthorizedError(unsupported)
    region, user_pool_id = match.groups()
    user_pool = cognitoidp_backends[account_id][region].user_pools.get(user_pool_id)
    if user_pool is None or token not in user_pool.id_tokens:
        raise NotAuthorizedError("Invalid login token. Not a valid OpenId Connect identity token.")
    claims = jose_jwt.decode(token, user_pool.json_web_key).claims
    if claims.get("iss") != f"https://{provider}":
        raise NotAuthorizedError("Invalid login token. Issuer doesn't match providerName")
    if claims.get("token_use") != "id":
        raise NotAuthorizedError("Invalid login token. Not a valid OpenId Connect identity token.")
    if (provider, claims.get("aud")) not in trusted:
        raise NotAuthorizedError(unsupported)
    if int(claims.get("exp", 0)) < time.time():
        raise NotAuthorizedError("Invalid login token. Token expired.")
    return claims["sub"]


def _identity_pool(resp, pool_id):
    from moto.cognitoidentity.models import cognitoidentity_backends

    if not isinstance(pool_id, str) or ":" not in pool_id:
        raise InvalidParameterError("IdentityPoolId is required.")
    region = pool_id.split(":", 1)[0]
    backend = cognitoidentity_backends[resp.current_account].get(region)
    pool = backend.identity_pools.get(pool_id) if backend else None
    if pool is None:
        raise ResourceNotFoundError(f"IdentityPool '{pool_id}' not found.")
    return backend, pool


def _checked_logins(account_id: str, pool, logins) -> dict:
    if not logins:
        if not pool.allow_unauthenticated_identities:
            raise NotAuthorizedError("Unauthenticated access is not supported for this identity pool.")
        return {}
    if not isinstance(logins, dict):
        raise InvalidParameterError("Logins must be a map.")
    return {provider: _check_login(account_id, pool, provider, token) for provider, token in logins.items()}


def get_id_faithful(self):
    pool_id = self._get_param("IdentityPoolId")
    backend, pool = _identity_pool(self, pool_id)
    subs = _checked_logins(self.current_account, pool, self._get_param("Logins"))
    key = (pool_id, tuple(sorted(subs.items()))) if subs else None
    with _sign_in_lock:
        identity_id = _identity_ids.get(key) if key else None
        if identity_id is None:
            identity_id = f"{pool_id.split(':', 1)[0]}:{uuid_like()}"
            if key:
                _identity_ids[key] = identity_id
            _identities[identity_id] = {"pool_id": pool_id, "logins": subs}
            backend.pools_identities.setdefault(pool_id, {"IdentityPoolId": pool_id, "Identities": []})
            backend.pools_identities[pool_id]["Identities"].append(
                {"IdentityId": identity_id, "Logins": sorted(subs)})
    return json.dumps({"IdentityId": identity_id}), dict(JSON_HEADERS)


def uuid_like() -> str:
    h = secrets.token_hex(16)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


# -- a small IAM condition evaluator, just enough for trust policies --------

def _as_list(v) -> list:
    if v is None:
        return []
    return v if isinstance(v, list) else [v]


def _glob(pattern: str, value: str, ignore_case: bool = False) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.IGNORECASE if ignore_case else 0) is not None


def _condition_holds(operator: str, key: str, expected, context: dict) -> bool:
    qualifier, _, op = operator.rpartition(":")
    if_exists = op.endswith("IfExists")
    op = op[: -len("IfExists")] if if_exists else op
    actual = context.get(key.lower())
    expected = [str(e) for e in _as_list(expected)]
    tests = {
        "StringEquals": lambda a, e: a == e,
        "StringLike": lambda a, e: _glob(e, a),
        "StringEqualsIgnoreCase": lambda a, e: a.lower() == e.lower(),
    }
    negated = {"StringNotEquals": "StringEquals", "StringNotLike": "StringLike",
               "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase"}
    base = negated.get(op, op)
    if base not in tests:
        return False  # an operator this evaluator does not know never grants anything
    if actual is None:
        if qualifier == "ForAllValues" or if_exists:
            return True
        return op in negated
    values = _as_list(actual)

    def one(a):
        hit = any(tests[base](a, e) for e in expected)
        return not hit if op in negated else hit

    if qualifier == "ForAllValues":
        return all(one(a) for a in values)
    return any(one(a) for a in values)


def trust_allows(document: dict, pool_id: str, context: dict) -> tuple[bool, str]:
    """Whether `document` lets cognito-identity assume the role for `context`."""
    statements = _as_list(document.get("Statement"))
    allowed, reason = False, "no statement allows sts:AssumeRoleWithWebIdentity for cognito-identity.amazonaws.com"
    for st in statements:
        if not isinstance(st, dict):
            continue
        principal = st.get("Principal") or {}
        federated = _as_list(principal.get("Federated")) if isinstance(principal, dict) else []
        if principal != "*" and COGNITO_IDENTITY not in federated:
            continue
        if not any(_glob(a, "sts:AssumeRoleWithWebIdentity", ignore_case=True) for a in _as_list(st.get("Action"))):
            continue
        conditions = st.get("Condition") or {}
        holds = all(_condition_holds(op, key, expected, context)
                    for op, keys in conditions.items() if isinstance(keys, dict)
                    for key, expected in keys.items())
        if not holds:
            continue
        if st.get("Effect") == "Deny":
            return False, "a Deny statement matches"
        if st.get("Effect") == "Allow":
            has_aud = any(key.lower() == f"{COGNITO_IDENTITY}:aud"
                          for keys in conditions.values() if isinstance(keys, dict) for key in keys)
            if has_aud:
                allowed = True
            else:
                reason = "the allowing statement has no cognito-identity.amazonaws.com:aud condition"
    return allowed, ("" if allowed else reason)


def get_credentials_for_identity_faithful(self):
    identity_id = self._get_param("IdentityId")
    with _sign_in_lock:
        record = _identities.get(identity_id)
    if record is None:
        raise ResourceNotFoundError(f"Identity '{identity_id}' not found.")
    backend, pool = _identity_pool(self, record["pool_id"])
    subs = _checked_logins(self.current_account, pool, self._get_param("Logins"))
    if record["logins"] and subs != record["logins"]:
        raise NotAuthorizedError("Logins don't match. Please include at least one valid login for this identity or identity pool.")
    if not subs:
        raise InvalidIdentityPoolConfigurationError("unauthenticated roles are not emulated")
    role_arn = (getattr(pool, "roles", {}) or {}).get("authenticated")
    if not role_arn:
        raise InvalidIdentityPoolConfigurationError(f"identity pool {record['pool_id']} has no authenticated role")
    iam = emu.partition.iam_backend(self.current_account, record["pool_id"].split(":", 1)[0])
    try:
        role = iam.get_role_by_arn(role_arn)
    except Exception:
        raise InvalidIdentityPoolConfigurationError(f"role {role_arn} does not exist")
    try:
        document = json.loads(role.assume_role_policy_document)
    except (TypeError, ValueError):
        from urllib.parse import unquote
        document = json.loads(unquote(role.assume_role_policy_document))
    amr = ["authenticated"]
    for provider, sub in subs.items():
        amr += [provider, f"{provider}:CognitoSignIn:{sub}"]
    context = {
        f"{COGNITO_IDENTITY}:aud": [record["pool_id"]],
        f"{COGNITO_IDENTITY}:amr": amr,
        f"{COGNITO_IDENTITY}:sub": [identity_id],
    }
    ok, reason = trust_allows(document, record["pool_id"], context)
    if not ok:
        raise InvalidIdentityPoolConfigurationError(f"trust policy of {role_arn}: {reason}")
    pending = emu.realistic.propagation_pending(role_arn)  # realistic mode: IAM -> Cognito delay
    if pending:
        raise InvalidIdentityPoolConfigurationError(pending)
    alphabet = string.ascii_uppercase + string.digits
    access_key = "ASIA" + "".join(secrets.choice(alphabet) for _ in range(16))
    secret_key = base64.b64encode(secrets.token_bytes(30)).decode()
    session_token = base64.b64encode(secrets.token_bytes(96)).decode()
    expiration = time.time() + 3600
    with _sign_in_lock:
        ISSUED_CREDENTIALS[access_key] = {"identity_id": identity_id, "role_arn": role_arn,
                                          "pool_id": record["pool_id"], "expiration": expiration,
                                          "amr": amr}
    body = {"IdentityId": identity_id, "Credentials": {
        "AccessKeyId": access_key, "SecretKey": secret_key,
        "SessionToken": session_token, "Expiration": expiration}}
    return json.dumps(body), dict(JSON_HEADERS)


def patch_sign_in() -> None:
    patch_initiate_auth()
    CognitoIdentityResponse.get_id = get_id_faithful
    CognitoIdentityResponse.get_credentials_for_identity = get_credentials_for_identity_faithful


# --------------------------------------------------------------------------
# 2. Call-log middleware
# --------------------------------------------------------------------------

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
            return self._reply(start_response, *emu.realistic.endpoint(environ))
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
            query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
            name = (query.get("name") or [""])[0]
            status = (query.get("status") or [""])[0]
            if not name:
                return self._reply(start_response, "400 Bad Request", b"name is required", "text/plain")
            with self.lock:
                if status:
                    TABLE_STATUS[name] = status
                else:
                    TABLE_STATUS.pop(name, None)
            return self._reply(start_response, "200 OK", b"ok", "text/plain")
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


# --------------------------------------------------------------------------
# 3. Faults and holds (reliability tests)
# --------------------------------------------------------------------------
#
# POST /_setup/faults  {"key_prefix": "AKIDX", "rate": 0.1, "seed": 7,
#                       "kinds": ["throttle", "500", "503", "drop", "drop-after", "slow"],
#                       "slow_ms": 2500, "ops": ["CreateRole", ...] (optional)}
#   From then on, requests signed with an access key starting with key_prefix fail with the
#   given probability, a kind drawn from `kinds` with a seeded generator (so a failing case can
#   be replayed). `--faults rate=0.1,seed=7,kinds=throttle+500` sets one for every key.
#     throttle    HTTP 400 with the service's throttling error (DynamoDB ThrottlingException or
#                 ProvisionedThroughputExceededException, Cognito TooManyRequestsException,
#                 IAM/STS Throttling), before the request is processed
#     500 / 503   InternalFailure / ServiceUnavailable, before the request is processed
#     drop        the connection is closed without an answer, before processing
#     drop-after  processed, then the connection is closed: the caller cannot know it happened
#     slow        processed, then answered after slow_ms (past the client's timeout)
#     notfound    the service's "not found" error (IAM NoSuchEntity, others
#                 ResourceNotFoundException), as eventual consistency gives right after a create
#     validation  HTTP 400 ValidationException / InvalidParameterException: must never be retried
#     denied      the service's access-denied error (AccessDeniedException / AccessDenied);
#                 answered by tests/emu/tagging.py, after the call log and holds
#   "max": N stops injecting after N faults.
# POST /_setup/hold    {"key_prefix": "AKIDX", "op": "CreateIdentityPool", "when": "before"|"after"}
#   The first matching request waits (before moto processes it, or after) until released, so a
#   test can kill the client at exactly that point. Its call-log record gets "held": when.
# POST /_setup/release {"key_prefix": "AKIDX"}: lets held requests go and removes the holds.

import random
import socket

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


# --------------------------------------------------------------------------
# 4. Launcher
# --------------------------------------------------------------------------

class QuietHandler(MotoRequestHandler):
    """No per-request logging: an undrained stderr pipe must never block us."""

    def log_request(self, *args, **kwargs):
        pass

    def log_error(self, *args, **kwargs):  # dropped connections are expected in fault tests
        pass


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def exit_on_stdin_eof() -> None:
    # Raw os.read on fd 0: a daemon thread blocked inside sys.stdin's buffered
    # reader would make interpreter shutdown abort on its lock.
    try:
        while os.read(0, 4096):
            pass
    finally:
        os._exit(0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 = pick a free port")
    parser.add_argument("--delay-ms", type=int,
                        default=int(os.environ.get("SETUP_EMULATOR_DELAY_MS", "0") or 0))
    parser.add_argument("--faults", default=os.environ.get("SETUP_EMULATOR_FAULTS", ""),
                        help="faults for every key, e.g. rate=0.1,seed=7,kinds=throttle+500+drop")
    parser.add_argument("--realistic", metavar="SPEC",
                        default=os.environ.get("SETUP_EMULATOR_REALISTIC", ""),
                        help="realistic mode: 'default', or name=seconds overrides such as "
                             "table_creating=0.5,iam_propagation=1 (see tests/emu/realistic.py)")
    parser.add_argument("--page-size", type=int, metavar="N",
                        default=os.environ.get("SETUP_EMULATOR_PAGE_SIZE") or None,
                        help="cap every List page at N items, to exercise paging (tests/emu/paging.py)")
    args = parser.parse_args()
    if not is_loopback(args.host):
        parser.error(f"refusing to bind non-loopback host {args.host!r}")
    try:
        emu.realistic.configure(args.realistic)
        emu.paging.configure(args.page_size)
    except ValueError as e:
        parser.error(str(e))

    patch_moto()  # must happen before the backend apps are created
    patch_sign_in()
    try:  # never serve without it: identity credentials would be allowed everything
        enforce = emu.iam_enforce.IamEnforceMiddleware(
            DomainDispatcherApplication(create_backend_app), ISSUED_CREDENTIALS)
    except emu.iam_enforce.SimulatorError as e:
        sys.exit(f"emulator: cannot enforce IAM on identity credentials: {e}")
    faults = FaultMiddleware(enforce, parse_fault_arg(args.faults) if args.faults else None)
    emu.tagging.install(faults)  # tests/emu/tagging.py
    app = emu.endpoints.SetupEndpoints(CallLogMiddleware(faults, args.delay_ms, faults), enforce)
    server = make_server(args.host, args.port, app, threaded=True, request_handler=QuietHandler)

    def stop(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    threading.Thread(target=exit_on_stdin_eof, daemon=True).start()

    sys.stdout.write(f"READY {server.server_port}\n")
    sys.stdout.flush()
    try:
        server.serve_forever()
    except SystemExit:
        pass
    finally:
        server.server_close()
        sys.stdout.flush()
        os._exit(0)  # don't wait on in-flight request or stdin threads


if __name__ == "__main__":
    main()
