"""cognito-identity TagResource / UntagResource / ListTagsForResource, which moto 5.2.5 lacks.

They act on the tags Create/Describe/UpdateIdentityPool use (IdentityPoolTags, moto's pool.tags).
The resource is an identity pool ARN, arn:PARTITION:cognito-identity:REGION:ACCOUNT:identitypool/ID,
whose partition, region and account must be the request's (else ResourceNotFoundException, or
InvalidParameterException when it is no identity pool ARN at all).

  TagResource      {"ResourceArn", "Tags": {k: v}} -> {}   adds or overwrites
  UntagResource    {"ResourceArn", "TagKeys": [k]}  -> {}   removes (absent keys are ignored)
  ListTagsForResource {"ResourceArn"} -> {"Tags": {k: v}}
Tag rules (as documented for the Tags map): keys 1-128 characters, values 0-256, at most 50
tags on a pool; InvalidParameterException otherwise, and nothing is changed.
"""

import json
import re

from moto.cognitoidentity.exceptions import ResourceNotFoundError
from moto.cognitoidentity.responses import CognitoIdentityResponse

from emu.errors import InvalidParameterError
from emu.partition import partition_of
from emu.realistic import LOCK

POOL_ARN_RE = re.compile(
    r"^arn:(aws[\w-]*):cognito-identity:([\w-]+):(\d{12}):identitypool/([\w-]+:[0-9a-f-]+)$")
MAX_TAGS = 50
JSON_HEADERS = {"Content-Type": "application/x-amz-json-1.1"}


def _pool(resp: CognitoIdentityResponse):
    arn = resp._get_param("ResourceArn")
    if not isinstance(arn, str) or not arn:
        raise InvalidParameterError("ResourceArn is required.")
    match = POOL_ARN_RE.match(arn)
    if not match:
        raise InvalidParameterError(
            f"Invalid ResourceArn '{arn}': expected "
            "arn:<partition>:cognito-identity:<region>:<account>:identitypool/<identity pool id>.")
    partition, region, account, pool_id = match.groups()
    pool = resp.backend.identity_pools.get(pool_id)
    if (pool is None or region != resp.region or account != resp.current_account
            or partition != partition_of(resp.region) or pool_id.split(":", 1)[0] != region):
        raise ResourceNotFoundError(f"IdentityPool '{pool_id}' not found.")
    return pool


def _check_tags(tags: dict) -> None:
    for key, value in tags.items():
        if not isinstance(key, str) or not 1 <= len(key) <= 128:
            raise InvalidParameterError(f"Invalid tag key '{key}': a key has 1 to 128 characters.")
        if not isinstance(value, str) or len(value) > 256:
            raise InvalidParameterError(
                f"Invalid tag value for key '{key}': a value has 0 to 256 characters.")
    if len(tags) > MAX_TAGS:
        raise InvalidParameterError(
            f"An identity pool can have at most {MAX_TAGS} tags; this request would leave {len(tags)}.")


def tag_resource(self):
    pool = _pool(self)
    tags = self._get_param("Tags")
    if not isinstance(tags, dict):
        raise InvalidParameterError("Tags is required: a map of tag keys to values.")
    with LOCK:  # read-modify-write of the pool's tags; the server is threaded
        merged = dict(pool.tags or {})
        merged.update(tags)
        _check_tags(merged)
        pool.tags = merged
    return "{}", dict(JSON_HEADERS)


def untag_resource(self):
    pool = _pool(self)
    keys = self._get_param("TagKeys")
    if not isinstance(keys, list):
        raise InvalidParameterError("TagKeys is required: a list of tag keys.")
    with LOCK:
        pool.tags = {k: v for k, v in (pool.tags or {}).items() if k not in keys}
    return "{}", dict(JSON_HEADERS)


def list_tags_for_resource(self):
    pool = _pool(self)
    return json.dumps({"Tags": dict(pool.tags or {})}), dict(JSON_HEADERS)


def install() -> None:
    # BaseResponse.call_action dispatches X-Amz-Target "...TagResource" to the snake_case
    # method of the same name on the response class.
    CognitoIdentityResponse.tag_resource = tag_resource
    CognitoIdentityResponse.untag_resource = untag_resource
    CognitoIdentityResponse.list_tags_for_resource = list_tags_for_resource
