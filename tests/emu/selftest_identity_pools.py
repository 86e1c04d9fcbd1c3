#!/usr/bin/env python3
"""Self-test of tests/emu/identity_pool_flows.py and the ServerSideTokenCheck of
tests/emu/sign_in.py (issue 22): AllowClassicFlow, which moto ignores, is stored by
CreateIdentityPool and UpdateIdentityPool and returned by DescribeIdentityPool; an update without
it turns the basic flow off (UpdateIdentityPool replaces the settings) (A). With
ServerSideTokenCheck, GetId refuses the ID token of a user who signed out everywhere, was disabled
or deleted; without it the token works until it expires (B). In process, under moto's mock.
Run: python3 tests/emu/selftest_identity_pools.py   (exit 1 on any failure; a few seconds).
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # tests/

from selftest_support import run_cases  # noqa: E402 - this directory is on sys.path (a script)

REGION = "us-east-1"


def eq(got, want, what):
    if got != want:
        raise AssertionError(f"{what}: got {got!r}, want {want!r}")


def test_classic_flow():
    import boto3
    from moto import mock_aws

    from emu import identity_pool_flows

    identity_pool_flows.patch()
    with mock_aws():
        ci = boto3.client("cognito-identity", region_name=REGION)
        made = ci.create_identity_pool(IdentityPoolName="classic", AllowUnauthenticatedIdentities=False,
                                       AllowClassicFlow=True)
        eq(made["AllowClassicFlow"], True, "CreateIdentityPool's answer")
        pool = made["IdentityPoolId"]
        eq(ci.describe_identity_pool(IdentityPoolId=pool)["AllowClassicFlow"], True, "described")
        off = ci.update_identity_pool(IdentityPoolId=pool, IdentityPoolName="classic",
                                      AllowUnauthenticatedIdentities=False)
        eq(off["AllowClassicFlow"], False, "an update without it turns it off")
        eq(ci.describe_identity_pool(IdentityPoolId=pool)["AllowClassicFlow"], False, "described after")
        ci.update_identity_pool(IdentityPoolId=pool, IdentityPoolName="classic",
                                AllowUnauthenticatedIdentities=False, AllowClassicFlow=True)
        eq(ci.describe_identity_pool(IdentityPoolId=pool)["AllowClassicFlow"], True, "turned on again")
        plain = ci.create_identity_pool(IdentityPoolName="plain", AllowUnauthenticatedIdentities=False)
        eq(plain["AllowClassicFlow"], False, "off by default")


def test_server_side_token_check():
    import boto3
    from botocore.exceptions import ClientError
    from moto import mock_aws

    from emu import sign_in

    sign_in.patch()
    with mock_aws():
        idp = boto3.client("cognito-idp", region_name=REGION)
        ci = boto3.client("cognito-identity", region_name=REGION)
        up = idp.create_user_pool(PoolName="checked")["UserPool"]["Id"]
        client = idp.create_user_pool_client(UserPoolId=up, ClientName="app",
                                             ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"])
        client = client["UserPoolClient"]["ClientId"]
        provider = f"cognito-idp.{REGION}.amazonaws.com/{up}"

        def pool(check: bool) -> str:
            return ci.create_identity_pool(
                IdentityPoolName=f"check_{check}", AllowUnauthenticatedIdentities=False,
                CognitoIdentityProviders=[{"ProviderName": provider, "ClientId": client,
                                           "ServerSideTokenCheck": check}])["IdentityPoolId"]

        checked, unchecked = pool(True), pool(False)

        def token(user: str) -> str:
            idp.admin_create_user(UserPoolId=up, Username=user, MessageAction="SUPPRESS")
            idp.admin_set_user_password(UserPoolId=up, Username=user, Password="Pw-123456789!",
                                        Permanent=True)
            auth = idp.initiate_auth(ClientId=client, AuthFlow="USER_PASSWORD_AUTH",
                                     AuthParameters={"USERNAME": user, "PASSWORD": "Pw-123456789!"})
            return auth["AuthenticationResult"]["IdToken"]

        def get_id(pool_id: str, tok: str) -> str:
            try:
                ci.get_id(IdentityPoolId=pool_id, Logins={provider: tok})
                return "ok"
            except ClientError as e:
                return e.response["Error"]["Code"]

        for user, revoke in [
            ("signed-out", lambda u: idp.admin_user_global_sign_out(UserPoolId=up, Username=u)),
            ("disabled", lambda u: idp.admin_disable_user(UserPoolId=up, Username=u)),
            ("deleted", lambda u: idp.admin_delete_user(UserPoolId=up, Username=u)),
        ]:
            tok = token(user)
            eq(get_id(checked, tok), "ok", f"{user}: a good token, checked")
            revoke(user)
            eq(get_id(checked, tok), "NotAuthorizedException", f"{user}: refused when checked")
            eq(get_id(unchecked, tok), "ok", f"{user}: accepted until it expires when unchecked")


def main() -> int:
    return run_cases([("A AllowClassicFlow", test_classic_flow),
                      ("B ServerSideTokenCheck", test_server_side_token_check)], time.monotonic())


if __name__ == "__main__":
    sys.exit(main())
