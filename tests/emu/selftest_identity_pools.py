#!/usr/bin/env python3
"""Self-test of tests/emu/identity_pool_flows.py (issue 22): AllowClassicFlow, which moto
ignores, is stored by CreateIdentityPool and UpdateIdentityPool and returned by
DescribeIdentityPool; an update without it turns the basic flow off (UpdateIdentityPool
replaces the settings). In process, under moto's mock, with boto3.
Run: python3 tests/emu/selftest_identity_pools.py   (exit 1 on any failure; a few seconds).
"""

import os
import sys
import traceback

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # tests/

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


def main() -> int:
    try:
        test_classic_flow()
        print("PASS A AllowClassicFlow")
        return 0
    except Exception:  # noqa: BLE001 - report the failure, then exit 1
        print(f"FAIL A AllowClassicFlow\n{traceback.format_exc()}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
