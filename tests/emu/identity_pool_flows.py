"""cognito-identity AllowClassicFlow, which moto 5.2.5 ignores: CreateIdentityPool and
UpdateIdentityPool store it, DescribeIdentityPool (and their answers) return it.

UpdateIdentityPool replaces the pool's settings, as AWS documents: an update without
AllowClassicFlow turns the basic flow off. The basic flow itself (GetOpenIdToken, then STS
AssumeRoleWithWebIdentity) is not emulated.
"""

import json

from moto.cognitoidentity.models import CognitoIdentityPool
from moto.cognitoidentity.responses import CognitoIdentityResponse

_original = {}


def _to_json(self) -> str:
    out = json.loads(_original["to_json"](self))
    out["AllowClassicFlow"] = bool(getattr(self, "allow_classic_flow", False))
    return json.dumps(out)


def _create(self) -> str:
    answer = json.loads(_original["create"](self))
    pool = self.backend.identity_pools[answer["IdentityPoolId"]]
    pool.allow_classic_flow = bool(self._get_param("AllowClassicFlow") or False)
    return pool.to_json()


def _update(self) -> str:
    answer = _original["update"](self)
    pool = self.backend.identity_pools.get(self._get_param("IdentityPoolId"))
    if pool is None:
        return answer
    pool.allow_classic_flow = bool(self._get_param("AllowClassicFlow") or False)
    return pool.to_json()


def patch() -> None:
    _original["to_json"] = CognitoIdentityPool.to_json
    _original["create"] = CognitoIdentityResponse.create_identity_pool
    _original["update"] = CognitoIdentityResponse.update_identity_pool
    CognitoIdentityPool.to_json = _to_json
    CognitoIdentityResponse.create_identity_pool = _create
    CognitoIdentityResponse.update_identity_pool = _update
