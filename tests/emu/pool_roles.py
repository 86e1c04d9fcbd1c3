"""cognito-identity SetIdentityPoolRoles / GetIdentityPoolRoles, which moto 5.2.5 lacks
(monkeypatched into CognitoIdentityResponse), with the service's parameter checks."""

import json
import re

from moto.cognitoidentity.exceptions import ResourceNotFoundError
from moto.cognitoidentity.responses import CognitoIdentityResponse

from .errors import InvalidParameterError

POOL_ID_RE = re.compile(r"^[\w-]+:[0-9a-f-]+$")
ROLE_ARN_RE = re.compile(r"^arn:aws[\w-]*:iam::\d{12}:role/[\w+=,.@/-]+$")
ROLE_KEYS = ("authenticated", "unauthenticated")
MAPPING_TYPES = ("Token", "Rules")
AMBIGUOUS = ("AuthenticatedRole", "Deny")
MATCH_TYPES = ("Equals", "Contains", "StartsWith", "NotEqual")


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


def _validate_rules(provider: str, rules) -> None:
    """RulesConfigurationType: "Array Members: Minimum number of 1 item. Maximum number of 25
    items."; MappingRule: Claim, MatchType (Equals | Contains | StartsWith | NotEqual), Value and
    RoleARN are required."""
    if not isinstance(rules, list) or len(rules) > 25:
        raise InvalidParameterError(f"At most 25 rules can be specified for '{provider}'.")
    for rule in rules:
        if not isinstance(rule, dict) or rule.get("MatchType") not in MATCH_TYPES:
            raise InvalidParameterError(f"Invalid MatchType in the rules for '{provider}'.")
        if not all(isinstance(rule.get(k), str) and rule[k] for k in ("Claim", "Value")):
            raise InvalidParameterError(f"Claim and Value are required in the rules for '{provider}'.")
        if not isinstance(rule.get("RoleARN"), str) or not ROLE_ARN_RE.match(rule["RoleARN"]):
            raise InvalidParameterError(f"Invalid role ARN '{rule.get('RoleARN')}' in the rules for '{provider}'.")


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
        # RoleMapping: "If you specify Token or Rules as the Type, AmbiguousRoleResolution is
        # required." (tests/emu/role_mappings.py applies it)
        if ambiguous is None:
            raise InvalidParameterError(f"AmbiguousRoleResolution is required for '{provider}'.")
        if ambiguous not in AMBIGUOUS:
            raise InvalidParameterError(f"Invalid AmbiguousRoleResolution '{ambiguous}'.")
        rules = (mapping.get("RulesConfiguration") or {}).get("Rules")
        if mapping["Type"] == "Rules" and not rules:
            raise InvalidParameterError(f"RulesConfiguration is required for '{provider}'.")
        _validate_rules(provider, rules or [])
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


def patch() -> None:
    # BaseResponse.call_action dispatches X-Amz-Target "...SetIdentityPoolRoles"
    # to the snake_case method of the same name on the response class.
    CognitoIdentityResponse.set_identity_pool_roles = set_identity_pool_roles
    CognitoIdentityResponse.get_identity_pool_roles = get_identity_pool_roles
