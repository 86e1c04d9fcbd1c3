#!/usr/bin/env python3
"""Self-test of tests/emu/iam_users.py (issue 23): with IAM enforced, an IAM user's requests are
decided by the simulator with their resources and the condition keys AWS passes.

Starts one launcher with INITIAL_NO_AUTH_ACTION_COUNT = the setup calls below, then signs as an
IAM user whose policy names resources and conditions: aws:RequestTag on CreateIdentityPool (an
action without resource), aws:ResourceTag of identity pools, iam:PolicyARN on AttachRolePolicy,
iam:PassRole with iam:PassedToService implied by SetIdentityPoolRoles, exact role names.
Run: python3 tests/emu/selftest_iam_users.py   (exit 1 on any failure).
"""

import json
import sys
import time

from selftest_support import REGION, Launcher, check, eq, error, run_cases

ACCOUNT = "123456789012"
ADMIN = ("AKIDSELFTESTADMIN", "secret")
IAM = f"arn:aws:iam::{ACCOUNT}"
# Compact: moto re-encodes a form body to check its signature, and boto3 encodes spaces its own way.
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Federated": "cognito-identity.amazonaws.com"},
    "Action": "sts:AssumeRoleWithWebIdentity"}]}, separators=(",", ":"))
POLICY = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "cognito-identity:ListIdentityPools", "Resource": "*"},
    {"Effect": "Allow", "Action": "cognito-identity:CreateIdentityPool", "Resource": "*",
     "Condition": {"StringLike": {"aws:RequestTag/setup:stack": "s"}}},
    {"Effect": "Allow", "Action": ["cognito-identity:DescribeIdentityPool"],
     "Resource": f"arn:aws:cognito-identity:{REGION}:{ACCOUNT}:identitypool/*",
     "Condition": {"StringLike": {"aws:ResourceTag/setup:stack": "s"}}},
    {"Effect": "Allow", "Action": "cognito-identity:SetIdentityPoolRoles", "Resource": "*"},
    {"Effect": "Allow", "Action": "iam:PassRole", "Resource": f"{IAM}:role/s-role",
     "Condition": {"StringEquals": {"iam:PassedToService": "cognito-identity.amazonaws.com"}}},
    {"Effect": "Allow", "Action": "iam:AttachRolePolicy", "Resource": f"{IAM}:role/s-role",
     "Condition": {"ArnLike": {"iam:PolicyARN": f"{IAM}:policy/s-access"}}},
    {"Effect": "Allow", "Action": "iam:CreateRole", "Resource": f"{IAM}:role/s-*"},
]}
POOL = {"AllowUnauthenticatedIdentities": False}


def main() -> int:
    started = time.monotonic()
    # The setup calls, made before moto enforces IAM (one request each).
    made: dict = {}
    setup = [
        lambda a: a["iam"].create_user(UserName="ci"),
        lambda a: made.update(policy=a["iam"].create_policy(
            PolicyName="ci-policy", PolicyDocument=json.dumps(POLICY))["Policy"]["Arn"]),
        lambda a: a["iam"].attach_user_policy(UserName="ci", PolicyArn=made["policy"]),
        lambda a: made.update(key=a["iam"].create_access_key(UserName="ci")["AccessKey"]),
        lambda a: made.update(role=a["iam"].create_role(
            RoleName="s-role", AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]),
        lambda a: made.update(other_role=a["iam"].create_role(
            RoleName="other-role", AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]),
        lambda a: a["iam"].create_policy(PolicyName="s-access", PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "dynamodb:GetItem",
                                                      "Resource": "*"}]})),
        lambda a: made.update(foreign=a["ident"].create_identity_pool(
            IdentityPoolName="foreign", **POOL)["IdentityPoolId"]),
        lambda a: made.update(own=a["ident"].create_identity_pool(
            IdentityPoolName="own", IdentityPoolTags={"setup:stack": "s"}, **POOL)["IdentityPoolId"]),
    ]
    emu = Launcher(creds=ADMIN, env={"INITIAL_NO_AUTH_ACTION_COUNT": str(len(setup))}).wait_ready()
    try:
        admin = {"iam": emu.client("iam"), "ident": emu.client("cognito-identity")}
        for step in setup:
            step(admin)
        key = made["key"]
        ci = (key["AccessKeyId"], key["SecretAccessKey"])
        iam, ident = emu.client("iam", creds=ci), emu.client("cognito-identity", creds=ci)

        def create_pool_only_with_the_stack_tag():
            ident.create_identity_pool(IdentityPoolName="made", IdentityPoolTags={"setup:stack": "s"}, **POOL)
            error(ident.create_identity_pool, "AccessDeniedException", IdentityPoolName="x",
                  IdentityPoolTags={"setup:stack": "other"}, **POOL)
            error(ident.create_identity_pool, "AccessDeniedException", IdentityPoolName="x", **POOL)

        def pool_reads_only_on_pools_tagged_for_the_stack():
            eq(ident.describe_identity_pool(IdentityPoolId=made["own"])["IdentityPoolName"], "own", "own pool")
            error(ident.describe_identity_pool, "AccessDeniedException", IdentityPoolId=made["foreign"])

        def attach_only_the_named_policy():
            iam.attach_role_policy(RoleName="s-role", PolicyArn=f"{IAM}:policy/s-access")
            error(iam.attach_role_policy, "AccessDenied", status=403, RoleName="s-role",
                  PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
            error(iam.attach_role_policy, "AccessDenied", status=403, RoleName="other-role",
                  PolicyArn=f"{IAM}:policy/s-access")

        def set_pool_roles_passes_each_role():
            ident.set_identity_pool_roles(IdentityPoolId=made["own"], Roles={"authenticated": made["role"]})
            err = error(ident.set_identity_pool_roles, "AccessDeniedException", IdentityPoolId=made["own"],
                        Roles={"authenticated": made["role"], "unauthenticated": made["other_role"]})
            check("iam:PassRole" in err["Message"] and "other-role" in err["Message"], err["Message"])

        def create_role_only_with_the_stack_names():
            iam.create_role(RoleName="s-new", AssumeRolePolicyDocument=TRUST)
            error(iam.create_role, "AccessDenied", status=403, RoleName="evil", AssumeRolePolicyDocument=TRUST)

        def actions_without_resource_and_unknown_keys():
            check(isinstance(ident.list_identity_pools(MaxResults=10)["IdentityPools"], list), "listed")
            stranger = emu.client("iam", creds=("AKIDNOSUCHUSER00", "secret"))
            error(stranger.list_users, "InvalidClientTokenId", status=403)

        def public_cognito_calls_stay_unsigned():
            # GetCredentialsForIdentity is unsigned in AWS: it answers as Cognito, not as IAM.
            import boto3
            from botocore import UNSIGNED
            from botocore.config import Config
            anon = boto3.client("cognito-identity", endpoint_url=emu.endpoint, region_name=REGION,
                                config=Config(signature_version=UNSIGNED, retries={"total_max_attempts": 1}))
            err = error(anon.get_credentials_for_identity, "ResourceNotFoundException",
                        IdentityId=f"{REGION}:00000000-0000-0000-0000-000000000000")
            check("Identity" in err.get("Message", ""), err)

        return run_cases([
            ("CreateIdentityPool: aws:RequestTag on an action without resource", create_pool_only_with_the_stack_tag),
            ("identity pools by aws:ResourceTag", pool_reads_only_on_pools_tagged_for_the_stack),
            ("AttachRolePolicy: role resource and iam:PolicyARN", attach_only_the_named_policy),
            ("SetIdentityPoolRoles implies iam:PassRole to cognito-identity", set_pool_roles_passes_each_role),
            ("CreateRole: the role's ARN", create_role_only_with_the_stack_names),
            ("no-resource actions allowed, unknown keys refused", actions_without_resource_and_unknown_keys),
            ("unsigned public Cognito calls are not IAM's", public_cognito_calls_stay_unsigned),
        ], started)
    finally:
        emu.stop()


if __name__ == "__main__":
    sys.exit(main())
