#!/usr/bin/env python3
"""Self-test of tests/emu/principal_tags.py and the principal tags of sign-in (issue 21).

Starts a launcher on loopback (python3 tests/emulator.py --port 0) and checks with boto3:
Set/GetPrincipalTagAttributeMap and their refusals (A); GetCredentialsForIdentity refused while a
map is active and the trust policy lacks sts:TagSession, and the credentials' principal tags
enforced by the IAM sidecar as ${aws:PrincipalTag/...} (B); guests (C). In process, under moto's
mock: DeleteIdentityPool drops the pool's maps (D).
Run: python3 tests/emu/selftest_principal_tags.py   (exit 1 on any failure; about 15 s).
"""

import base64
import json
import os
import sys
import tempfile
import time

from selftest_enforce import ACCOUNT, Emulator, Stack, check_denied, error_of, item
from selftest_support import REGION, eq, run_cases_then_stop

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # tests/

PROVIDER = f"cognito-idp.{REGION}.amazonaws.com/{REGION}_Example1"
MISSING_POOL = f"{REGION}:00000000-0000-0000-0000-000000000000"
INVALID_CONFIG = "Invalid identity pool configuration. Check assigned IAM roles for this pool."


def answer(out: dict) -> dict:
    return {k: v for k, v in out.items() if k != "ResponseMetadata"}


def expect(pool_id, provider, use_defaults, tags) -> dict:
    return {"IdentityPoolId": pool_id, "IdentityProviderName": provider,
            "UseDefaults": use_defaults, "PrincipalTags": tags}


# --------------------------------------------------------------------------
# A. The API and its refusals
# --------------------------------------------------------------------------

def test_api(emu: Emulator):
    ci = emu.client("cognito-identity")
    raw = emu.client("cognito-identity", validate=False)
    pool = ci.create_identity_pool(IdentityPoolName="tags_api",
                                   AllowUnauthenticatedIdentities=False)["IdentityPoolId"]

    def get(provider=PROVIDER):
        return answer(ci.get_principal_tag_attribute_map(IdentityPoolId=pool,
                                                         IdentityProviderName=provider))

    eq(get(), expect(pool, PROVIDER, False, {}), "a provider without a map")
    out = ci.set_principal_tag_attribute_map(IdentityPoolId=pool, IdentityProviderName=PROVIDER,
                                             UseDefaults=False, PrincipalTags={"sub": "sub"})
    eq(answer(out), expect(pool, PROVIDER, False, {"sub": "sub"}), "Set echoes")
    eq(get(), expect(pool, PROVIDER, False, {"sub": "sub"}), "Get after Set")
    eq(get("cognito-idp.us-east-1.amazonaws.com/us-east-1_Other"),
       expect(pool, "cognito-idp.us-east-1.amazonaws.com/us-east-1_Other", False, {}),
       "another provider keeps no map")
    out = ci.set_principal_tag_attribute_map(IdentityPoolId=pool, IdentityProviderName=PROVIDER,
                                             UseDefaults=True)
    eq(answer(out), expect(pool, PROVIDER, True, {}), "Set UseDefaults echoes")
    eq(get(), expect(pool, PROVIDER, True, {}), "Get after UseDefaults (replaces the map)")
    out = ci.set_principal_tag_attribute_map(IdentityPoolId=pool, IdentityProviderName=PROVIDER,
                                             UseDefaults=False)
    eq(answer(out), expect(pool, PROVIDER, False, {}), "Set inactive echoes")
    eq(get(), expect(pool, PROVIDER, False, {}), "UseDefaults false without tags removes the map")

    # the documented limits are accepted at their bounds
    at_bounds = {f"k{i}": "c" for i in range(49)}
    at_bounds["k" * 128] = "c" * 256
    ci.set_principal_tag_attribute_map(IdentityPoolId=pool, IdentityProviderName="p" * 128,
                                       PrincipalTags=at_bounds)
    eq(get("p" * 128)["PrincipalTags"], at_bounds, "50 tags, key 128, value 256, provider 128")

    kept = {"sub": "sub"}
    ci.set_principal_tag_attribute_map(IdentityPoolId=pool, IdentityProviderName=PROVIDER,
                                       PrincipalTags=kept)
    refused = [
        ("pool id pattern", dict(IdentityPoolId="not-a-pool-id")),
        ("pool id length", dict(IdentityPoolId=f"{REGION}:" + "0" * 50)),
        ("provider empty", dict(IdentityProviderName="")),
        ("provider length", dict(IdentityProviderName="p" * 129)),
        ("51 tags", dict(PrincipalTags={f"k{i}": "c" for i in range(51)})),
        ("empty key", dict(PrincipalTags={"": "sub"})),
        ("key length", dict(PrincipalTags={"k" * 129: "sub"})),
        ("empty claim", dict(PrincipalTags={"k": ""})),
        ("claim length", dict(PrincipalTags={"k": "c" * 257})),
        ("UseDefaults not a boolean", dict(UseDefaults="yes")),
    ]
    for what, change in refused:
        args = dict(dict(IdentityPoolId=pool, IdentityProviderName=PROVIDER,
                         PrincipalTags={"changed": "sub"}), **change)
        code, _, status = error_of(raw.set_principal_tag_attribute_map, **args)
        eq((code, status), ("InvalidParameterException", 400), f"Set refused: {what}")
        eq(get()["PrincipalTags"], kept, f"a refused Set ({what}) changes nothing")
    code, message, _ = error_of(raw.set_principal_tag_attribute_map, IdentityPoolId="bad",
                                IdentityProviderName=PROVIDER)
    eq(message, "1 validation error detected: Value 'bad' at 'identityPoolId' failed to satisfy "
                "constraint: Member must satisfy regular expression pattern: [\\w-]+:[0-9a-f-]+",
       "the service's validation wording")
    for what, args in (("pattern", dict(IdentityPoolId="bad", IdentityProviderName=PROVIDER)),
                       ("provider", dict(IdentityPoolId=pool, IdentityProviderName="p" * 129))):
        eq(error_of(raw.get_principal_tag_attribute_map, **args)[0], "InvalidParameterException",
           f"Get refused: {what}")

    # pools that are not there: unknown, in another region, deleted
    for fn in (raw.set_principal_tag_attribute_map, raw.get_principal_tag_attribute_map):
        eq(error_of(fn, IdentityPoolId=MISSING_POOL, IdentityProviderName=PROVIDER)[0],
           "ResourceNotFoundException", f"{fn.__name__} on a missing pool")
    west = emu.client("cognito-identity", region="us-west-2").create_identity_pool(
        IdentityPoolName="west", AllowUnauthenticatedIdentities=False)["IdentityPoolId"]
    eq(error_of(ci.set_principal_tag_attribute_map, IdentityPoolId=west,
                IdentityProviderName=PROVIDER, PrincipalTags=kept)[0],
       "ResourceNotFoundException", "a pool of another region")
    ci.delete_identity_pool(IdentityPoolId=pool)
    eq(error_of(ci.get_principal_tag_attribute_map, IdentityPoolId=pool,
                IdentityProviderName=PROVIDER)[0], "ResourceNotFoundException", "a deleted pool")


# --------------------------------------------------------------------------
# B. Sign-in with a map: sts:TagSession, and the tags in IAM
# --------------------------------------------------------------------------

def claims_of(id_token: str) -> dict:
    payload = id_token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def sign_in(st: Stack, user: str):
    """(the ID token's claims, callable that asks for credentials -> (key, secret, token))."""
    token = st.idp.initiate_auth(ClientId=st.client_id, AuthFlow="USER_PASSWORD_AUTH",
                                 AuthParameters={"USERNAME": user, "PASSWORD": "Passw0rd!x"}
                                 )["AuthenticationResult"]["IdToken"]
    logins = {st.provider: token}
    identity = st.ident.get_id(IdentityPoolId=st.pool_id, Logins=logins)["IdentityId"]

    def credentials():
        c = st.ident.get_credentials_for_identity(IdentityId=identity, Logins=logins)["Credentials"]
        return c["AccessKeyId"], c["SecretKey"], c["SessionToken"]

    return claims_of(token), credentials


def trust(st: Stack, *statements):
    assume = {"Effect": "Allow", "Principal": {"Federated": "cognito-identity.amazonaws.com"},
              "Action": "sts:AssumeRoleWithWebIdentity",
              "Condition": {"StringEquals": {"cognito-identity.amazonaws.com:aud": st.pool_id},
                            "ForAnyValue:StringLike": {
                                "cognito-identity.amazonaws.com:amr": "authenticated"}}}
    st.iam.update_assume_role_policy(RoleName=st.role, PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [assume, *statements]}))
    return assume


def tag_session(aud: str, effect: str = "Allow") -> dict:
    return {"Effect": effect, "Principal": {"Federated": "cognito-identity.amazonaws.com"},
            "Action": "sts:TagSession",
            "Condition": {"StringEquals": {"cognito-identity.amazonaws.com:aud": aud}}}


def set_map(st: Stack, **kwargs):
    st.ident.set_principal_tag_attribute_map(IdentityPoolId=st.pool_id,
                                             IdentityProviderName=st.provider, **kwargs)


def refused(credentials, stderr_path: str, needle: str, what: str):
    """GetCredentialsForIdentity answers AWS's refusal, and the emulator's stderr says why."""
    before = os.path.getsize(stderr_path)
    code, message, status = error_of(credentials)
    eq((code, message, status), ("InvalidIdentityPoolConfigurationException", INVALID_CONFIG, 400),
       what)
    with open(stderr_path, encoding="utf-8") as f:  # written before the answer was sent
        f.seek(before)
        log = f.read()
    if needle not in log:
        raise AssertionError(f"{what}: the emulator's stderr does not say {needle!r}:\n{log[-800:]}")


def test_sign_in(emu: Emulator, stderr_path: str):
    st = Stack(emu, "ptags")
    by_tag = lambda tag: {  # noqa: E731
        "ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [f"${{aws:PrincipalTag/{tag}}}"]},
        "Null": {"dynamodb:LeadingKeys": "false"}}
    actions = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:Scan"]
    policy_arn = st.policy([
        {"Effect": "Allow", "Action": actions, "Resource": st.table_arn, "Condition": by_tag("sub")},
        {"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": st.table_arn,
         "Condition": by_tag("username")},
        {"Effect": "Allow", "Action": "dynamodb:DescribeTable", "Resource": st.table_arn,
         "Condition": {"StringEquals": {"aws:PrincipalTag/client": st.client_id}}}])
    alice, alice_credentials = sign_in(st, "alice")
    bob, _ = sign_in(st, "bob")
    alice_sub, bob_sub = alice["sub"], bob["sub"]
    st.ddb.put_item(TableName=st.table, Item=item(alice_sub, note="seeded"))  # the operator
    st.ddb.put_item(TableName=st.table, Item=item(bob_sub))

    # no map: no tags, so the policy keyed by the tag grants nothing
    ddb = emu.client("dynamodb", creds=alice_credentials())
    check_denied(st, ddb.get_item, "dynamodb:GetItem", st.table_arn,
                 TableName=st.table, Key=item(alice_sub))

    # a map, and a trust policy without sts:TagSession: refused as AWS does
    set_map(st, PrincipalTags={"sub": "sub"})
    needle = (f"trust policy of {st.role_arn} does not allow sts:TagSession, which the principal "
              f"tag map of {st.provider} needs")
    refused(alice_credentials, stderr_path, needle, "a map and no sts:TagSession")
    trust(st, tag_session("us-east-1:00000000-0000-0000-0000-0000000000ff"))
    refused(alice_credentials, stderr_path, needle, "sts:TagSession for another pool")
    trust(st, tag_session(st.pool_id), tag_session(st.pool_id, "Deny"))
    refused(alice_credentials, stderr_path, "a Deny statement matches sts:TagSession",
            "sts:TagSession denied")

    # sts:TagSession in a statement of its own: the credentials carry tag sub = the user pool sub
    trust(st, tag_session(st.pool_id))
    ddb = emu.client("dynamodb", creds=alice_credentials())
    eq(ddb.get_item(TableName=st.table, Key=item(alice_sub))["Item"]["note"]["S"], "seeded",
       "the item the operator wrote under the user's sub")
    ddb.put_item(TableName=st.table, Item=item(alice_sub, "2"))
    eq(ddb.query(TableName=st.table, KeyConditionExpression="pk = :p",
                 ExpressionAttributeValues={":p": {"S": alice_sub}})["Count"], 2, "own Query")
    check_denied(st, ddb.get_item, "dynamodb:GetItem", st.table_arn,
                 TableName=st.table, Key=item(bob_sub))
    check_denied(st, ddb.put_item, "dynamodb:PutItem", st.table_arn,
                 TableName=st.table, Item=item(bob_sub))
    check_denied(st, ddb.scan, "dynamodb:Scan", st.table_arn, TableName=st.table)
    check_denied(st, ddb.describe_table, "dynamodb:DescribeTable", st.table_arn,
                 TableName=st.table)  # no `client` tag in a custom map

    # sts:TagSession in the assume statement's own Action list works the same
    assume = trust(st)
    assume["Action"] = ["sts:AssumeRoleWithWebIdentity", "sts:TagSession"]
    st.iam.update_assume_role_policy(RoleName=st.role, PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [assume]}))
    ddb = emu.client("dynamodb", creds=alice_credentials())
    ddb.get_item(TableName=st.table, Key=item(alice_sub))

    # UseDefaults: username = sub, client = aud (the app client id)
    set_map(st, UseDefaults=True)
    defaults = emu.client("dynamodb", creds=alice_credentials())
    defaults.get_item(TableName=st.table, Key=item(alice_sub))  # by `username`
    defaults.describe_table(TableName=st.table)  # by `client`
    check_denied(st, defaults.get_item, "dynamodb:GetItem", st.table_arn,
                 TableName=st.table, Key=item(bob_sub))
    eq(alice["aud"], st.client_id, "the ID token's aud is the app client")

    # a claim the token lacks gives no tag; the others still do
    set_map(st, PrincipalTags={"sub": "sub", "dept": "custom:dept"})
    emu.client("dynamodb", creds=alice_credentials()).get_item(TableName=st.table,
                                                               Key=item(alice_sub))

    # the map removed: new credentials have no tags; those issued before keep theirs
    set_map(st, UseDefaults=False)
    untagged = emu.client("dynamodb", creds=alice_credentials())
    check_denied(st, untagged.get_item, "dynamodb:GetItem", st.table_arn,
                 TableName=st.table, Key=item(alice_sub))
    ddb.get_item(TableName=st.table, Key=item(alice_sub))
    trust(st)  # and without a map, sts:TagSession is not needed again
    alice_credentials()

    test_guest(emu, st, policy_arn, alice_sub)


# --------------------------------------------------------------------------
# C. Guests
# --------------------------------------------------------------------------

def test_guest(emu: Emulator, st: Stack, policy_arn: str, alice_sub: str):
    """A guest gets no principal tags and needs no sts:TagSession, even with a map active."""
    set_map(st, PrincipalTags={"sub": "sub"})
    guest_trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Federated": "cognito-identity.amazonaws.com"},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {"cognito-identity.amazonaws.com:aud": st.pool_id},
                      "ForAnyValue:StringLike": {
                          "cognito-identity.amazonaws.com:amr": "unauthenticated"}}}]}
    guest_role = st.iam.create_role(RoleName=f"{st.name}-guest",
                                    AssumeRolePolicyDocument=json.dumps(guest_trust))["Role"]
    st.iam.attach_role_policy(RoleName=guest_role["RoleName"], PolicyArn=policy_arn)
    st.ident.update_identity_pool(
        IdentityPoolId=st.pool_id, IdentityPoolName=f"{st.name}_ids",
        AllowUnauthenticatedIdentities=True,
        CognitoIdentityProviders=[{"ProviderName": st.provider, "ClientId": st.client_id}])
    st.ident.set_identity_pool_roles(IdentityPoolId=st.pool_id, Roles={
        "authenticated": st.role_arn, "unauthenticated": guest_role["Arn"]})
    guest = st.ident.get_id(IdentityPoolId=st.pool_id)["IdentityId"]
    c = st.ident.get_credentials_for_identity(IdentityId=guest)["Credentials"]
    ddb = emu.client("dynamodb", creds=(c["AccessKeyId"], c["SecretKey"], c["SessionToken"]))
    code, _, _ = error_of(ddb.get_item, TableName=st.table, Key=item(alice_sub))
    eq(code, "AccessDeniedException", "a guest has no sub tag")
    code, _, _ = error_of(ddb.get_item, TableName=st.table, Key=item("${aws:PrincipalTag/sub}"))
    eq(code, "AccessDeniedException", "an unresolved variable is no key")


# --------------------------------------------------------------------------
# D. DeleteIdentityPool drops the maps (in process: a pool id is never reused over the wire)
# --------------------------------------------------------------------------

def test_delete_drops_maps():
    import boto3
    from moto import mock_aws

    from emu import principal_tags

    principal_tags.patch()
    with mock_aws():
        ci = boto3.client("cognito-identity", region_name=REGION)
        pool = ci.create_identity_pool(IdentityPoolName="gone",
                                       AllowUnauthenticatedIdentities=False)["IdentityPoolId"]
        ci.set_principal_tag_attribute_map(IdentityPoolId=pool, IdentityProviderName=PROVIDER,
                                           PrincipalTags={"sub": "sub"})
        eq(principal_tags.active_map(ACCOUNT, pool, PROVIDER),
           {"UseDefaults": False, "PrincipalTags": {"sub": "sub"}}, "the map before")
        ci.delete_identity_pool(IdentityPoolId=pool)
        eq(principal_tags.active_map(ACCOUNT, pool, PROVIDER), None, "the map after the pool")


# --------------------------------------------------------------------------

def main() -> int:
    started = time.monotonic()
    with tempfile.NamedTemporaryFile("w+b", suffix=".stderr") as stderr:
        emu = Emulator(stderr=stderr).wait_ready()
        tests = [("A Set/GetPrincipalTagAttributeMap", lambda: test_api(emu)),
                 ("B+C sign-in with principal tags", lambda: test_sign_in(emu, stderr.name)),
                 ("D DeleteIdentityPool drops the maps", test_delete_drops_maps)]
        return run_cases_then_stop(emu, tests, started)


if __name__ == "__main__":
    sys.exit(main())
