"""cognito-identity SetPrincipalTagAttributeMap / GetPrincipalTagAttributeMap, which moto 5.2.5
lacks ("attributes for access control", issue 21), and the principal tags a sign-in gets from them.

A map belongs to (account, identity pool, identity provider name). The pool must be one of the
request's account and region (moto's backend for the request), else ResourceNotFoundException.

  SetPrincipalTagAttributeMap {"IdentityPoolId", "IdentityProviderName", "UseDefaults"?,
                               "PrincipalTags"? {tag key: claim name}}
      -> {"IdentityPoolId", "IdentityProviderName", "UseDefaults", "PrincipalTags"}
      echoes what was set (UseDefaults false and PrincipalTags {} when absent). It replaces the
      provider's map; UseDefaults false with no PrincipalTags removes it (the provider is
      inactive again, as "Inactive" in the console).
  GetPrincipalTagAttributeMap {"IdentityPoolId", "IdentityProviderName"}
      -> the same four fields as set; for a provider without a map
      {"IdentityPoolId", "IdentityProviderName", "UseDefaults": false, "PrincipalTags": {}}.
      The API reference does not say what AWS answers for a provider without a map, and we found
      no recorded answer (terraform-provider-aws tolerates both an answer and
      ResourceNotFoundException; another emulator, ministack, chose ResourceNotFoundException).
      This emulator answers the inactive map, so a caller can tell "no map" from "no pool".

Refusals, as the API reference constrains the input; nothing is changed by a refused call:
  InvalidParameterException  IdentityPoolId missing, longer than 55 or not [\\w-]+:[0-9a-f-]+;
                             IdentityProviderName missing or not 1-128 characters; UseDefaults not
                             a boolean; PrincipalTags not a map, more than 50 entries, a key not
                             1-128 characters or a value (claim name) not 1-256 characters.
  ResourceNotFoundException  the pool does not exist in the request's account and region.
DeleteIdentityPool drops the pool's maps.

What sign-in does with a map (tests/emu/sign_in.py calls principal_tags_for): a map is active when
UseDefaults is true or PrincipalTags is non-empty. With UseDefaults true the documented defaults
for a Cognito user pool provider apply ("Default provider mappings": aud (client ID) and sub (user
ID); the API calls them "username and clientID"): tag `username` = claim `sub`, tag `client` =
claim `aud`, and PrincipalTags is not used ("a default set of mappings ... instead of a custom
map", AWS::Cognito::IdentityPoolPrincipalTag). Otherwise each PrincipalTags entry tag -> claim
takes the claim's value from the login's ID token; a claim the token lacks gives no tag, a string
claim is used as is, a number or boolean as its JSON text, a list or object gives no tag.
"""

import json
import re

from moto.cognitoidentity.exceptions import ResourceNotFoundError
from moto.cognitoidentity.models import CognitoIdentityBackend
from moto.cognitoidentity.responses import CognitoIdentityResponse

from emu.errors import InvalidParameterError
from emu.realistic import LOCK

POOL_ID_RE = re.compile(r"^[\w-]+:[0-9a-f-]+$")
MAX_TAGS = 50
JSON_HEADERS = {"Content-Type": "application/x-amz-json-1.1"}
# Tag -> claim for UseDefaults on a Cognito user pool provider (see the module docstring).
USER_POOL_DEFAULTS = {"username": "sub", "client": "aud"}

# (account, identity pool id, provider name) -> {"UseDefaults": bool, "PrincipalTags": {..}};
# only active maps are kept. Guarded by realistic.LOCK (the server is threaded).
_maps: dict[tuple[str, str, str], dict] = {}


def _invalid(value, field: str, constraint: str) -> InvalidParameterError:
    """The wording of the service's input validation errors."""
    return InvalidParameterError(
        f"1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: "
        f"{constraint}")


def _required(resp: CognitoIdentityResponse, name: str, longest: int) -> str:
    """The string parameter `name`, present and at most `longest` characters."""
    value = resp._get_param(name)
    if not isinstance(value, str) or not value:
        raise InvalidParameterError(f"{name} is required.")
    if len(value) > longest:
        raise _invalid(value, name[0].lower() + name[1:],
                       f"Member must have length less than or equal to {longest}")
    return value


def _checked_names(resp: CognitoIdentityResponse) -> tuple[str, str]:
    """IdentityPoolId and IdentityProviderName of the request, validated."""
    pool_id = _required(resp, "IdentityPoolId", 55)
    if not POOL_ID_RE.match(pool_id):
        raise _invalid(pool_id, "identityPoolId",
                       "Member must satisfy regular expression pattern: [\\w-]+:[0-9a-f-]+")
    return pool_id, _required(resp, "IdentityProviderName", 128)


def _checked_tags(tags) -> dict:
    if tags is None:
        return {}
    if not isinstance(tags, dict):
        raise InvalidParameterError("PrincipalTags must be a map of tag keys to claim names.")
    if len(tags) > MAX_TAGS:
        raise _invalid(f"{len(tags)} entries", "principalTags",
                       f"Map must have at most {MAX_TAGS} entries")
    for key, claim in tags.items():
        if not isinstance(key, str) or not 1 <= len(key) <= 128:
            raise _invalid(key, "principalTags",
                           "Map keys must have length between 1 and 128")
        if not isinstance(claim, str) or not 1 <= len(claim) <= 256:
            raise _invalid(claim, "principalTags",
                           "Map values must have length between 1 and 256")
    return dict(tags)


def _pool_exists(resp: CognitoIdentityResponse, pool_id: str) -> None:
    # resp.backend is the backend of the request's account and region.
    if resp.backend.identity_pools.get(pool_id) is None:
        raise ResourceNotFoundError(f"IdentityPool '{pool_id}' not found.")


def _answer(pool_id: str, provider: str, use_defaults: bool, tags: dict):
    return json.dumps({"IdentityPoolId": pool_id, "IdentityProviderName": provider,
                       "UseDefaults": use_defaults, "PrincipalTags": tags}), dict(JSON_HEADERS)


def set_principal_tag_attribute_map(self):
    pool_id, provider = _checked_names(self)
    use_defaults = self._get_param("UseDefaults")
    if use_defaults is None:
        use_defaults = False
    if not isinstance(use_defaults, bool):
        raise _invalid(use_defaults, "useDefaults", "Member must be a boolean")
    tags = _checked_tags(self._get_param("PrincipalTags"))
    key = (self.current_account, pool_id, provider)
    with LOCK:  # the pool check and the write are one step: DeleteIdentityPool takes LOCK too
        _pool_exists(self, pool_id)
        if use_defaults or tags:
            _maps[key] = {"UseDefaults": use_defaults, "PrincipalTags": tags}
        else:
            _maps.pop(key, None)
    return _answer(pool_id, provider, use_defaults, tags)


def get_principal_tag_attribute_map(self):
    pool_id, provider = _checked_names(self)
    with LOCK:
        _pool_exists(self, pool_id)
        found = _maps.get((self.current_account, pool_id, provider))
    if found is None:
        return _answer(pool_id, provider, False, {})
    return _answer(pool_id, provider, found["UseDefaults"], dict(found["PrincipalTags"]))


def active_map(account: str, pool_id: str, provider: str) -> dict | None:
    """The provider's map on the pool ({"UseDefaults", "PrincipalTags"}), or None when inactive."""
    with LOCK:
        found = _maps.get((account, pool_id, provider))
        return None if found is None else {"UseDefaults": found["UseDefaults"],
                                           "PrincipalTags": dict(found["PrincipalTags"])}


def _tag_value(value) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, (bool, int, float)):
        return json.dumps(value)
    return None


def principal_tags_for(mapping: dict, claims: dict) -> dict:
    """The principal tags a map gives a login whose ID token has `claims`."""
    tag_to_claim = USER_POOL_DEFAULTS if mapping["UseDefaults"] else mapping["PrincipalTags"]
    tags = {}
    for tag, claim in tag_to_claim.items():
        value = _tag_value(claims.get(claim))
        if value is not None:
            tags[tag] = value
    return tags


def patch() -> None:
    original_delete = CognitoIdentityBackend.delete_identity_pool

    def delete_identity_pool(self, identity_pool_id: str) -> None:
        with LOCK:
            original_delete(self, identity_pool_id)  # ResourceNotFoundException as before
            for key in [k for k in _maps if k[0] == self.account_id and k[1] == identity_pool_id]:
                del _maps[key]

    CognitoIdentityBackend.delete_identity_pool = delete_identity_pool
    # BaseResponse.call_action dispatches X-Amz-Target "...SetPrincipalTagAttributeMap" to the
    # snake_case method of the same name on the response class.
    CognitoIdentityResponse.set_principal_tag_attribute_map = set_principal_tag_attribute_map
    CognitoIdentityResponse.get_principal_tag_attribute_map = get_principal_tag_attribute_map
