"""Role-based access control: which role GetCredentialsForIdentity hands a signed-in user.

moto 5.2.5 has no role mappings; tests/emu/pool_roles.py stores them (SetIdentityPoolRoles) and
tests/emu/sign_in.py asks choose_role() which role to issue credentials for, then applies its
usual checks (the role exists, its trust admits this pool, the principal tag map's
sts:TagSession, realistic mode's propagation delay) to that role, so a mapped role that Cognito
could not assume is refused with InvalidIdentityPoolConfigurationException like the default one,
and the IAM sidecar (tests/emu/iam_enforce.py) enforces the chosen role's policies.

What the Amazon Cognito developer guide ("Using role-based access control") and the API
reference say, and this module does:
  * The mapping is the RoleMappings entry of the login's provider; for a user pool the key is
    "cognito-idp.<region>.amazonaws.com/<user pool id>:<app client id>" (API reference,
    SetIdentityPoolRoles: "The string identifies the identity provider, for example,
    graph.facebook.com or cognito-idp.us-east-1.amazonaws.com/us-east-1_abcdefghi:app_client_id").
    The client id is the ID token's `aud`, so a mapping for another app client is not used.
    Without a mapping for the login: the pool's authenticated role.
  * Type Rules: "Rules are evaluated in order, and the IAM role for the first matching rule is
    used, unless CustomRoleArn is specified to override the order." "The match type can be
    Equals, NotEqual, StartsWith, or Contains." "If the match type is NotEqual and the claim
    doesn't exist, the rule is not evaluated. If no rules match, the Role resolution setting is
    applied to either Use default Authenticated role or DENY." (RulesConfigurationType: "Rules
    are evaluated in order. The first one to match specifies the role.")
  * Type Token: "Use the GetCredentialsForIdentity CustomRoleArn parameter if it is set and it
    matches a role in the cognito:roles claim. If this parameter doesn't match a role in
    cognito:roles, deny access. If the cognito:preferred_role claim is set, use it. If the
    cognito:preferred_role claim is not set, the cognito:roles claim is set, and CustomRoleArn is
    not specified [...], then [...] AmbiguousRoleResolution [...] is used".
  * AmbiguousRoleResolution (RoleMapping): "Specifies the action to be taken if either no rules
    match the claim value for the Rules type, or there is no cognito:preferred_role claim and
    there are multiple cognito:roles matches for the Token type. Valid Values:
    AuthenticatedRole | Deny". Deny answers NotAuthorizedException "The ambiguous role mapping
    rules for: <provider> denied this request." (the text users report from the service, e.g.
    aws-amplify/amplify-js#3621).
The emulator's own readings, where the docs say nothing:
  * A list claim (cognito:groups): Contains matches a member equal to the value (it is how
    "cognito:groups Contains admins" is meant); Equals needs the list to be exactly [value];
    StartsWith matches a member that starts with the value; NotEqual matches when no member
    equals it. A Token mapping whose token carries no cognito:roles is ambiguous too.
  * CustomRoleArn outside a mapping (the pool's authenticated role) is honoured only when it
    names that role; else NotAuthorizedException, with the reason on stderr: never ignored.
  * Several logins with mappings: the first provider in name order decides.
  * User pool tokens (moto's create_jwt, patched here): cognito:groups is ordered by group
    precedence (lowest first, groups without precedence last) and then name, and the ID token
    carries cognito:roles (the roles of the user's groups that have one) and
    cognito:preferred_role as the API reference (CreateGroup, Precedence) describes: "If a user
    belongs to two or more groups, it is the group with the lowest precedence value whose role
    ARN is given in the user's tokens for the cognito:roles and cognito:preferred_role claims.
    [...] If the two groups have different role ARNs, the cognito:preferred_role claim isn't set".
  * STS GetCallerIdentity with credentials from GetCredentialsForIdentity answers the assumed
    role (arn:<partition>:sts::<account>:assumed-role/<role name>/CognitoIdentityCredentials),
    as AWS does; moto answers a fixed IAM user for keys it did not issue.
"""

import re
import sys

from moto.core.exceptions import JsonRESTError

SESSION_NAME = "CognitoIdentityCredentials"
USER_POOL_PROVIDER_RE = re.compile(r"^cognito-idp\.[\w-]+\.amazonaws\.com/[\w-]+_[0-9a-zA-Z]+$")


class RoleMappingDenied(JsonRESTError):
    def __init__(self, provider: str, reason: str):
        sys.stderr.write(f"emulator: role mapping of {provider} denied: {reason}\n")
        super().__init__(error_type="NotAuthorizedException",
                         message=f"The ambiguous role mapping rules for: {provider} denied this request.")


def _rule_matches(rule: dict, claims: dict) -> bool:
    claim, match, value = rule.get("Claim"), rule.get("MatchType"), str(rule.get("Value", ""))
    if claim not in claims:
        return False  # NotEqual included: "the rule is not evaluated"
    actual = claims[claim]
    if isinstance(actual, list):
        members = [str(m) for m in actual]
        return {
            "Equals": members == [value],
            "Contains": value in members,
            "StartsWith": any(m.startswith(value) for m in members),
            "NotEqual": value not in members,
        }.get(match, False)
    actual = str(actual).lower() if isinstance(actual, bool) else str(actual)
    return {
        "Equals": actual == value,
        "Contains": value in actual,
        "StartsWith": actual.startswith(value),
        "NotEqual": actual != value,
    }.get(match, False)


def _token_roles(claims: dict) -> list[str]:
    roles = claims.get("cognito:roles")
    if roles is None:
        return []
    if isinstance(roles, str):  # the developer guide calls it a comma-separated string
        return [r.strip() for r in roles.split(",") if r.strip()]
    return [str(r) for r in roles]


def _mapped_role(provider: str, mapping: dict, claims: dict, custom: str | None) -> str | None:
    """The role the mapping gives, None for "use the authenticated role", or raises Deny."""
    if mapping.get("Type") == "Token":
        roles = _token_roles(claims)
        if custom:
            if custom in roles:
                return custom
            raise RoleMappingDenied(provider, f"CustomRoleArn {custom} is not in cognito:roles {roles}")
        if claims.get("cognito:preferred_role"):
            return str(claims["cognito:preferred_role"])
        why = "the token has no cognito:preferred_role"
    else:
        rules = (mapping.get("RulesConfiguration") or {}).get("Rules") or []
        matched = [r.get("RoleARN") for r in rules if _rule_matches(r, claims)]
        if custom:
            if custom in matched:
                return custom
            raise RoleMappingDenied(provider, f"CustomRoleArn {custom} is not the role of a matching rule")
        if matched:
            return matched[0]
        why = "no rule matches the token's claims"
    if mapping.get("AmbiguousRoleResolution") == "Deny":
        raise RoleMappingDenied(provider, f"{why}, and AmbiguousRoleResolution is Deny")
    return None


def choose_role(pool, claims_by_provider: dict, custom: str | None) -> str | None:
    """The role for a signed-in identity of `pool` with these logins ({provider: ID token
    claims}): a mapped role, or the pool's authenticated role (None when it has none, which the
    caller refuses as before). Raises RoleMappingDenied."""
    mappings = getattr(pool, "role_mappings", {}) or {}
    default = (getattr(pool, "roles", {}) or {}).get("authenticated")
    for provider in sorted(claims_by_provider):
        claims = claims_by_provider[provider]
        key = f"{provider}:{claims.get('aud')}" if USER_POOL_PROVIDER_RE.match(provider) else provider
        mapping = mappings.get(key)
        if mapping is not None:
            return _mapped_role(provider, mapping, claims, custom) or default
    if custom and custom != default:
        first = sorted(claims_by_provider)[0] if claims_by_provider else "the identity pool"
        raise RoleMappingDenied(first, f"CustomRoleArn {custom} without a role mapping that offers it "
                                       f"(the authenticated role is {default})")
    return default


# -- user pool tokens: cognito:groups in a stable order, cognito:roles, cognito:preferred_role --

def _precedence_key(group):
    p = getattr(group, "precedence", None)
    return (p is None, p if p is not None else 0, group.group_name)


def group_claims(user) -> dict:
    groups = sorted(getattr(user, "groups", ()) or (), key=_precedence_key)
    if not groups:
        return {}
    out = {"cognito:groups": [g.group_name for g in groups]}
    with_roles = [g for g in groups if getattr(g, "role_arn", None)]
    if with_roles:
        roles = list(dict.fromkeys(g.role_arn for g in with_roles))
        out["cognito:roles"] = roles
        best = _precedence_key(with_roles[0])[:2]
        top = {g.role_arn for g in with_roles if _precedence_key(g)[:2] == best}
        if len(roles) == 1:
            out["cognito:preferred_role"] = roles[0]
        elif len(top) == 1 and best[0] is False:
            out["cognito:preferred_role"] = next(iter(top))
    return out


def patch_tokens() -> None:
    from moto.cognitoidp.models import CognitoIdpUserPool

    original = CognitoIdpUserPool.create_jwt

    def create_jwt(self, client_id, username, token_use, expires_in=60 * 60, extra_data=None):
        extra = dict(extra_data or {})
        try:
            user = self._get_user(username)
        except Exception:  # noqa: BLE001 - moto raises on its own path; keep its behaviour
            user = None
        if user is not None:
            claims = group_claims(user)
            extra.pop("cognito:groups", None)
            if "cognito:groups" in claims:
                extra["cognito:groups"] = claims["cognito:groups"]
            if token_use == "id":
                for k in ("cognito:roles", "cognito:preferred_role"):
                    if k in claims:
                        extra[k] = claims[k]
        return original(self, client_id, username, token_use, expires_in, extra)

    CognitoIdpUserPool.create_jwt = create_jwt


def patch_caller_identity() -> None:
    from moto.sts.models import STSBackend

    from . import sign_in

    original = STSBackend.get_caller_identity

    def get_caller_identity(self, access_key_id, region):
        record = sign_in.ISSUED_CREDENTIALS.get(access_key_id)
        if record is None:
            return original(self, access_key_id, region)
        arn = record["role_arn"].split(":")
        partition, account = arn[1], arn[4]
        role_name = record["role_arn"].rsplit("/", 1)[-1]
        role_id = record.get("role_id") or "AROA" + role_name.upper()[:17]
        return (f"{role_id}:{SESSION_NAME}",
                f"arn:{partition}:sts::{account}:assumed-role/{role_name}/{SESSION_NAME}", account)

    STSBackend.get_caller_identity = get_caller_identity


def patch() -> None:
    patch_tokens()
    patch_caller_identity()
