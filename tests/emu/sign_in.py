"""Faithful sign-in: InitiateAuth auth flows, GetId, GetCredentialsForIdentity.

moto hands out fixed credentials to anyone who asks. AWS does not, and the
failures are what `setup verify` must explain, so this module makes the
sign-in path behave like the real services (all state lives in moto's own
backends, read in-process):

  * cognito-idp InitiateAuth USER_PASSWORD_AUTH needs ALLOW_USER_PASSWORD_AUTH
    (or the legacy USER_PASSWORD_AUTH) in the app client's ExplicitAuthFlows;
    otherwise InvalidParameterException, as AWS answers.
  * cognito-identity GetId / GetCredentialsForIdentity check the Logins map:
    every token must be an unexpired ID token issued by a user pool and app
    client the identity pool lists (else NotAuthorizedException). Without
    Logins, GetId needs AllowUnauthenticatedIdentities. The identity id is
    stable per (identity pool, user).
  * GetCredentialsForIdentity answers InvalidIdentityPoolConfigurationException
    when the pool has no role for the identity's kind ("authenticated" with
    Logins, "unauthenticated" for a guest identity without them), the role does
    not exist, or its trust policy does not let this pool's identities of that
    kind assume it: an Allow statement for principal Federated
    cognito-identity.amazonaws.com and action sts:AssumeRoleWithWebIdentity
    whose conditions hold for aud = <pool id> and
    amr = [authenticated, <provider>, <provider>:CognitoSignIn:<sub>]
    (a guest: amr = [unauthenticated]), and no matching Deny. Like Cognito's
    enhanced flow, a trust policy without an `aud` condition is refused too.
  * Principal tags ("attributes for access control", tests/emu/principal_tags.py): when the
    pool has an active principal tag map for the provider of a login, the trust policy must also
    allow sts:TagSession for principal Federated cognito-identity.amazonaws.com under conditions
    that hold for the request (the same aud / amr / sub, plus aws:RequestTag/<key> and
    aws:TagKeys; in the assume statement's Action list or a statement of its own, which needs
    no aud condition of its own: that check is Cognito's, for the assume), and no Deny may
    match it; else InvalidIdentityPoolConfigurationException (STS refuses to tag the session,
    and Cognito answers its usual message), with the reason on stderr. The credentials carry the
    tags the map gives the claims of the login's ID token: ISSUED_CREDENTIALS[key]
    ["principal_tags"] = {tag: value}, which iam_enforce.py passes on as aws:PrincipalTag/<tag>.
    Guests (no Logins) get no tags and need no sts:TagSession.
  * ServerSideTokenCheck on the identity pool's provider entry: the ID token of a user who
    signed out everywhere since, was disabled or deleted is refused (NotAuthorizedException);
    without the check it works until it expires.
  * Guests: GetId and GetCredentialsForIdentity without Logins need
    AllowUnauthenticatedIdentities (else NotAuthorizedException "Unauthenticated
    access is not supported for this identity pool."); each GetId without
    Logins makes a new identity.
  * Each call gets fresh credentials (ASIA… key, secret, session token), so
    the call log tells their requests apart from the operator's.

IAM policies on those credentials are enforced by tests/emu/iam_enforce.py.
  * Role mappings (tests/emu/role_mappings.py): the role is the one the login's mapping chooses
    (rules on the ID token's claims, or its role claims, then AmbiguousRoleResolution); the
    checks above apply to that role.
Not emulated: developer/OIDC/SAML logins, the basic (classic) flow, STS's limits
on session tags (characters, the packed size, the 460 bytes the console names for mapped
attributes), and principal tags from GetOpenIdTokenForDeveloperIdentity.
"""

import base64
import json
import re
import secrets
import string
import sys
import threading
import time

from joserfc import jwt as jose_jwt
from moto.cognitoidentity.exceptions import ResourceNotFoundError
from moto.cognitoidentity.responses import CognitoIdentityResponse
from moto.cognitoidp.models import CognitoIdpBackend, cognitoidp_backends
from moto.core.exceptions import JsonRESTError

from . import partition, principal_tags, realistic, role_mappings
from .errors import InvalidParameterError
from .pool_roles import JSON_HEADERS

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
                    raise InvalidParameterError("USER_PASSWORD_AUTH flow not enabled for this client")
        return original(self, client_id, auth_flow, auth_parameters)

    CognitoIdpBackend.initiate_auth = initiate_auth


def _check_login(account_id: str, pool, provider: str, token) -> dict:
    """Validates one Logins entry against the identity pool; returns the ID token's claims."""
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
    checked = any(p.get("ProviderName") == provider and p.get("ClientId") == claims.get("aud")
                  and p.get("ServerSideTokenCheck") for p in pool.cognito_identity_providers)
    if checked and not _token_still_good(user_pool, token):
        raise NotAuthorizedError("Invalid login token. Token has been revoked.")
    return dict(claims)


def _token_still_good(user_pool, token: str) -> bool:
    """ServerSideTokenCheck: the identity pool asks the user pool whether the user still exists,
    is enabled (AdminDisableUser revokes the user's tokens) and has not signed out everywhere
    (GlobalSignOut, AdminUserGlobalSignOut) since the token was issued."""
    _, username = user_pool.id_tokens[token]
    # The token names the user as signed in (an email or phone number when those are the user
    # name): found by that, or by its internal name, as moto keys its users.
    user = user_pool.users.get(username) or next(
        (u for u in user_pool.users.values()
         if username in (u.username, *(a.get("Value") for a in u.attributes
                                       if a.get("Name") in ("email", "phone_number")))), None)
    if user is None or not getattr(user, "enabled", True):
        return False
    return token not in getattr(user_pool, "revoked_id_tokens", set())


def patch_sign_out() -> None:
    """moto's sign-out revokes access and refresh tokens only; it also revokes the user's ID
    tokens here, for ServerSideTokenCheck (an unchecked identity pool still accepts them until
    they expire, as AWS does)."""
    from moto.cognitoidp.models import CognitoIdpUserPool

    original = CognitoIdpUserPool.sign_out

    def sign_out(self, username):
        revoked = self.__dict__.setdefault("revoked_id_tokens", set())
        revoked.update(t for t, (_, user) in self.id_tokens.items() if user == username)
        return original(self, username)

    CognitoIdpUserPool.sign_out = sign_out


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
    """{provider: the claims of its ID token} for a valid Logins map; {} for a guest."""
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
    claims = _checked_logins(self.current_account, pool, self._get_param("Logins"))
    subs = {provider: c["sub"] for provider, c in claims.items()}
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


def trust_allows(document: dict, pool_id: str, context: dict,
                 action: str = "sts:AssumeRoleWithWebIdentity",
                 require_aud: bool = True) -> tuple[bool, str]:
    """Whether `document` lets cognito-identity perform `action` on the role for `context`
    (an Allow statement for its principal whose conditions hold, and no such Deny), and why not.
    `require_aud`: Cognito's own check that the allowing statement names an aud condition."""
    statements = _as_list(document.get("Statement"))
    allowed, reason = False, f"no statement allows {action} for {COGNITO_IDENTITY}"
    for st in statements:
        if not isinstance(st, dict):
            continue
        principal = st.get("Principal") or {}
        federated = _as_list(principal.get("Federated")) if isinstance(principal, dict) else []
        if principal != "*" and COGNITO_IDENTITY not in federated:
            continue
        if not any(_glob(a, action, ignore_case=True) for a in _as_list(st.get("Action"))):
            continue
        conditions = st.get("Condition") or {}
        holds = all(_condition_holds(op, key, expected, context)
                    for op, keys in conditions.items() if isinstance(keys, dict)
                    for key, expected in keys.items())
        if not holds:
            continue
        if st.get("Effect") == "Deny":
            return False, f"a Deny statement matches {action}"
        if st.get("Effect") == "Allow":
            has_aud = any(key.lower() == f"{COGNITO_IDENTITY}:aud"
                          for keys in conditions.values() if isinstance(keys, dict) for key in keys)
            if has_aud or not require_aud:
                allowed = True
            else:
                reason = f"the statement allowing {action} has no {COGNITO_IDENTITY}:aud condition"
    return allowed, ("" if allowed else reason)


def _session_tags(account: str, pool_id: str, claims: dict, document: dict, role_arn: str,
                  context: dict) -> dict:
    """The principal tags of a sign-in: what the pool's active principal tag maps
    (tests/emu/principal_tags.py) give the claims of each login's ID token, in provider order.
    With a map active, the trust policy must also allow sts:TagSession, as STS requires for an
    AssumeRoleWithWebIdentity that passes session tags (evaluated like the assume itself, with
    aws:RequestTag/<key> and aws:TagKeys; the aud check is Cognito's own, for the assume only)."""
    tags, mapped = {}, []
    for provider in sorted(claims):
        mapping = principal_tags.active_map(account, pool_id, provider)
        if mapping is not None:
            mapped.append(provider)
            tags.update(principal_tags.principal_tags_for(mapping, claims[provider]))
    if not mapped:
        return {}
    tag_context = dict(context, **{f"aws:requesttag/{k.lower()}": [v] for k, v in tags.items()})
    tag_context["aws:tagkeys"] = sorted(tags)
    ok, reason = trust_allows(document, pool_id, tag_context, action="sts:TagSession",
                              require_aud=False)
    if not ok:
        raise InvalidIdentityPoolConfigurationError(
            f"trust policy of {role_arn} does not allow sts:TagSession, which the principal tag "
            f"map of {', '.join(mapped)} needs ({reason})")
    return tags


def get_credentials_for_identity_faithful(self):
    identity_id = self._get_param("IdentityId")
    with _sign_in_lock:
        record = _identities.get(identity_id)
    if record is None:
        raise ResourceNotFoundError(f"Identity '{identity_id}' not found.")
    backend, pool = _identity_pool(self, record["pool_id"])
    claims = _checked_logins(self.current_account, pool, self._get_param("Logins"))
    subs = {provider: c["sub"] for provider, c in claims.items()}
    if record["logins"] and subs != record["logins"]:
        raise NotAuthorizedError("Logins don't match. Please include at least one valid login for this identity or identity pool.")
    kind = "authenticated" if subs else "unauthenticated"
    custom = self._get_param("CustomRoleArn")
    if kind == "authenticated":  # rules, token roles, AmbiguousRoleResolution: role_mappings.py
        role_arn = role_mappings.choose_role(pool, claims, custom)
    else:
        role_arn = (getattr(pool, "roles", {}) or {}).get(kind)
        if custom and custom != role_arn:  # never ignored silently
            raise role_mappings.RoleMappingDenied(
                "the identity pool", f"CustomRoleArn {custom} for a guest (its role is {role_arn})")
    if not role_arn:
        raise InvalidIdentityPoolConfigurationError(f"identity pool {record['pool_id']} has no {kind} role")
    iam = partition.iam_backend(self.current_account, record["pool_id"].split(":", 1)[0])
    try:
        role = iam.get_role_by_arn(role_arn)
    except Exception:
        raise InvalidIdentityPoolConfigurationError(f"role {role_arn} does not exist")
    try:
        document = json.loads(role.assume_role_policy_document)
    except (TypeError, ValueError):
        from urllib.parse import unquote
        document = json.loads(unquote(role.assume_role_policy_document))
    amr = [kind]
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
    tags = _session_tags(self.current_account, record["pool_id"], claims, document, role_arn,
                         context)
    pending = realistic.propagation_pending(role_arn)  # realistic mode: IAM -> Cognito delay
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
                                          "role_id": getattr(role, "id", None),
                                          "amr": amr, "principal_tags": tags}
    body = {"IdentityId": identity_id, "Credentials": {
        "AccessKeyId": access_key, "SecretKey": secret_key,
        "SessionToken": session_token, "Expiration": expiration}}
    return json.dumps(body), dict(JSON_HEADERS)


def patch() -> None:
    patch_initiate_auth()
    patch_sign_out()
    CognitoIdentityResponse.get_id = get_id_faithful
    CognitoIdentityResponse.get_credentials_for_identity = get_credentials_for_identity_faithful
