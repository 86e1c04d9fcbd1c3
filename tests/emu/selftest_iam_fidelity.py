#!/usr/bin/env python3
"""Self-test of the IAM checks of tests/emu/iam_fidelity.py that `setup bootstrap` relies on:
IAM refuses a trust policy naming an OIDC provider the account does not have (at CreateRole and
UpdateAssumeRolePolicy), accepts it once the provider exists, and a policy keeps at most five
versions (moto's own check, kept here so that a moto upgrade cannot drop it unnoticed).
Run: python3 tests/emu/selftest_iam_fidelity.py   (exit 1 on any failure).
"""

import json
import sys
import time

from selftest_support import Launcher, check, eq, error, run_cases

ACCOUNT = "123456789012"
GITHUB = f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"
COGNITO_TRUST = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Federated": "cognito-identity.amazonaws.com"},
    "Action": "sts:AssumeRoleWithWebIdentity"}]}, separators=(",", ":"))


def trust(provider: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Federated": [provider]},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"}}}]},
        separators=(",", ":"))


def policy(n: int) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "dynamodb:GetItem",
        "Resource": f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/t{n}"}]})


def main() -> int:
    started = time.monotonic()
    emu = Launcher().wait_ready()
    iam = emu.client("iam")
    invalid = f'Invalid principal in policy: "Federated":"{GITHUB}"'

    def a_trust_naming_a_missing_provider_is_refused():
        error(iam.create_role, "MalformedPolicyDocument", invalid,
              RoleName="ci", AssumeRolePolicyDocument=trust(GITHUB))
        iam.create_role(RoleName="cognito", AssumeRolePolicyDocument=COGNITO_TRUST)
        error(iam.update_assume_role_policy, "MalformedPolicyDocument", invalid,
              RoleName="cognito", PolicyDocument=trust(GITHUB))

    def once_the_provider_exists_the_trust_is_accepted():
        made = iam.create_open_id_connect_provider(
            Url="https://token.actions.githubusercontent.com", ClientIDList=["sts.amazonaws.com"])
        eq(made["OpenIDConnectProviderArn"], GITHUB, "provider ARN")
        listed = [p["Arn"] for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]]
        eq(listed, [GITHUB], "listed providers")
        got = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=GITHUB)
        eq(got["ClientIDList"], ["sts.amazonaws.com"], "client ids")
        iam.create_role(RoleName="ci", AssumeRolePolicyDocument=trust(GITHUB))
        iam.update_assume_role_policy(RoleName="cognito", PolicyDocument=trust(GITHUB))
        other = f"arn:aws:iam::{ACCOUNT}:oidc-provider/example.com"
        error(iam.create_role, "MalformedPolicyDocument",
              f'Invalid principal in policy: "Federated":"{other}"',
              RoleName="ci2", AssumeRolePolicyDocument=trust(other))

    def a_sixth_policy_version_exceeds_the_limit():
        arn = iam.create_policy(PolicyName="five", PolicyDocument=policy(1))["Policy"]["Arn"]
        for n in range(2, 6):
            iam.create_policy_version(PolicyArn=arn, PolicyDocument=policy(n), SetAsDefault=True)
        error(iam.create_policy_version, "LimitExceeded", status=409,
              PolicyArn=arn, PolicyDocument=policy(6), SetAsDefault=True)
        versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
        check(len(versions) == 5, f"five versions: {versions}")

    try:
        return run_cases([
            ("a trust naming a missing OIDC provider is refused",
             a_trust_naming_a_missing_provider_is_refused),
            ("once the provider exists the trust is accepted",
             once_the_provider_exists_the_trust_is_accepted),
            ("a sixth policy version exceeds the limit", a_sixth_policy_version_exceeds_the_limit),
        ], started)
    finally:
        emu.stop()


if __name__ == "__main__":
    sys.exit(main())
