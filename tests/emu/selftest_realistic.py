#!/usr/bin/env python3
"""Self-test of tests/emu: realistic mode, the always-on fidelity fixes and partitions.

Starts two launchers on loopback (python3 tests/emulator.py --port 0 [--realistic SPEC]), one in
realistic mode with short windows and one in fast mode, and checks with boto3 every behaviour
tests/emu/*.py document (realistic mode of issue 9, always-on fixes, partitions).
Run: python3 tests/emu/selftest_realistic.py [test name ...] (exit 1 on a failure).
Timing: windows are about a second and each check runs right after the call it follows; a check
that could not run inside its window fails saying the machine was too slow.
"""

import json
import subprocess
import sys
import threading
import time
import traceback
import urllib.request

from selftest_support import LAUNCHER, Launcher, check, eq, error, sleep_until, within
from selftest_tables import (status, table_args, tags_of, test_table_options_always,
                             test_table_options_realistic, wait_active)

ACCOUNT = "123456789012"

# Realistic windows for this test (seconds; billing_switches is a count).
W = {
    "table_invisible": 0.8,
    "table_creating": 1.6,
    "table_updating": 1.0,
    "table_deleting": 1.0,
    "pitr_unavailable": 2.4,
    "pitr_enabling": 1.0,
    "tags_lag": 1.0,
    "iam_delete_conflict": 1.0,
    "iam_propagation": 1.5,
    "iam_concurrent": 1.0,
    "billing_switches": 2,
    "index_creating": 1.0,
    "index_deleting": 1.0,
    "ttl_interval": 1.0,
}

TRUST_EC2 = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
POLICY = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": "*"}]})


class Emulator(Launcher):
    def __init__(self, *args: str):
        super().__init__(*args)
        self.wait_ready()

    def get(self, path: str):
        status, body = self.request("GET", path)
        eq(status, 200, f"GET {path}")
        return body

    def post(self, path: str, body: dict):
        return self.request("POST", path, body)


# -- realistic mode: DynamoDB ------------------------------------------------------

def test_endpoint(emu: Emulator):
    eq(emu.get("/_setup/realistic"), W, "GET /_setup/realistic")
    code, body = emu.post("/_setup/realistic", {"no_such_window": 1})
    eq(code, 400, "POST unknown window status")
    check("no_such_window" in body.get("error", ""), f"POST unknown window names it: {body}")
    code, body = emu.post("/_setup/realistic", {"tags_lag": -1})
    eq(code, 400, "POST negative window status")
    code, body = emu.post("/_setup/realistic", {"tags_lag": 2.5, "billing_switches": 3})
    eq((code, body), (200, {"ok": True}), "POST valid windows")
    eq(emu.get("/_setup/realistic"), {**W, "tags_lag": 2.5, "billing_switches": 3}, "GET after POST")
    restore = {"tags_lag": W["tags_lag"], "billing_switches": W["billing_switches"]}
    eq(emu.post("/_setup/realistic", restore)[0], 200, "restore")


def test_create_lifecycle(emu: Emulator):
    ddb = emu.client("dynamodb")
    name = "life"
    out = ddb.create_table(**table_args(name))["TableDescription"]
    t0 = time.monotonic()
    eq(out["TableStatus"], "CREATING", "CreateTable answer")
    arn = out["TableArn"]
    # invisible
    error(ddb.describe_table, "ResourceNotFoundException",
          f"Requested resource not found: Table: {name} not found", TableName=name)
    error(ddb.list_tags_of_resource, "ResourceNotFoundException", "Requested resource not found",
          ResourceArn=arn)
    error(ddb.update_table, "ResourceNotFoundException", "Requested resource not found",
          TableName=name, DeletionProtectionEnabled=True)
    error(ddb.describe_continuous_backups, "TableNotFoundException", f"Table not found: {name}",
          TableName=name)
    error(ddb.update_continuous_backups, "TableNotFoundException", f"Table not found: {name}",
          TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
    within(t0, W["table_invisible"], "invisible checks")
    # visible, still CREATING
    sleep_until(t0, W["table_invisible"])
    eq(status(ddb, name), "CREATING", "DescribeTable after table_invisible")
    creating = f"Attempt to change a resource which is still in use: Table is being created: {name}"
    error(ddb.update_table, "ResourceInUseException", creating, TableName=name,
          DeletionProtectionEnabled=True)
    error(ddb.delete_table, "ResourceInUseException", creating, TableName=name)
    error(ddb.update_continuous_backups, "ContinuousBackupsUnavailableException",
          f"Backups are being enabled for the table: {name}. Please retry later",
          TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
    within(t0, W["table_creating"], "CREATING checks")
    eq(ddb.describe_table(TableName=name)["Table"].get("DeletionProtectionEnabled"), False,
       "refused UpdateTable changed nothing")
    sleep_until(t0, W["table_creating"])
    eq(status(ddb, name), "ACTIVE", "DescribeTable after table_creating")
    # PITR: unavailable until pitr_unavailable, then ENABLING for pitr_enabling
    error(ddb.update_continuous_backups, "ContinuousBackupsUnavailableException",
          TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
    within(t0, W["pitr_unavailable"], "ContinuousBackupsUnavailable check")
    eq(ddb.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
       ["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"], "DISABLED",
       "refused UpdateContinuousBackups changed nothing")
    sleep_until(t0, W["pitr_unavailable"])
    out = ddb.update_continuous_backups(
        TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
    t1 = time.monotonic()
    pitr = lambda d: d["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"]
    eq(pitr(out), "ENABLING", "UpdateContinuousBackups answer")
    eq(pitr(ddb.describe_continuous_backups(TableName=name)), "ENABLING", "PITR right after enabling")
    within(t1, W["pitr_enabling"], "ENABLING check")
    sleep_until(t1, W["pitr_enabling"])
    eq(pitr(ddb.describe_continuous_backups(TableName=name)), "ENABLED", "PITR after pitr_enabling")

    # UPDATING after each UpdateTable
    out = ddb.update_table(TableName=name, DeletionProtectionEnabled=True)["TableDescription"]
    t2 = time.monotonic()
    eq(out["TableStatus"], "UPDATING", "UpdateTable answer")
    eq(status(ddb, name), "UPDATING", "DescribeTable after UpdateTable")
    updating = f"Attempt to change a resource which is still in use: Table is being updated: {name}"
    error(ddb.update_table, "ResourceInUseException", updating, TableName=name,
          DeletionProtectionEnabled=False)
    error(ddb.delete_table, "ResourceInUseException", updating, TableName=name)
    within(t2, W["table_updating"], "UPDATING checks")
    eq(ddb.describe_table(TableName=name)["Table"]["DeletionProtectionEnabled"], True,
       "refused UpdateTable changed nothing")
    sleep_until(t2, W["table_updating"])
    eq(status(ddb, name), "ACTIVE", "DescribeTable after table_updating")
    ddb.update_table(TableName=name, DeletionProtectionEnabled=False)
    error(ddb.delete_table, "ResourceInUseException", updating, TableName=name)
    wait_active(ddb, name)

    # DELETING
    out = ddb.delete_table(TableName=name)["TableDescription"]
    t3 = time.monotonic()
    eq(out["TableStatus"], "DELETING", "DeleteTable answer")
    eq(status(ddb, name), "DELETING", "DescribeTable after DeleteTable")
    deleting = f"Attempt to change a resource which is still in use: Table is being deleted: {name}"
    error(ddb.create_table, "ResourceInUseException", deleting, **table_args(name))
    error(ddb.update_table, "ResourceInUseException", deleting, TableName=name,
          DeletionProtectionEnabled=True)
    eq(ddb.delete_table(TableName=name)["TableDescription"]["TableStatus"], "DELETING",
       "DeleteTable of a DELETING table (no error, as documented)")
    within(t3, W["table_deleting"], "DELETING checks")
    sleep_until(t3, W["table_deleting"])
    error(ddb.describe_table, "ResourceNotFoundException", TableName=name)
    eq(ddb.create_table(**table_args(name))["TableDescription"]["TableStatus"], "CREATING",
       "CreateTable after the deletion")


def test_tags_lag(emu: Emulator):
    ddb = emu.client("dynamodb")
    # Right after CreateTable the tags are not there yet (needs tags_lag > table_invisible).
    eq(emu.post("/_setup/realistic", {"tags_lag": 1.6})[0], 200, "POST tags_lag")
    out = ddb.create_table(**table_args("tagged", tags={"a": "1"}))["TableDescription"]
    t0 = time.monotonic()
    arn = out["TableArn"]
    sleep_until(t0, W["table_invisible"])
    eq(tags_of(ddb, arn), {}, "ListTagsOfResource right after CreateTable")
    within(t0, 1.6, "empty-tags check")
    sleep_until(t0, 1.6)
    eq(tags_of(ddb, arn), {"a": "1"}, "ListTagsOfResource after tags_lag")
    eq(emu.post("/_setup/realistic", {"tags_lag": W["tags_lag"]})[0], 200, "restore tags_lag")

    ddb.tag_resource(ResourceArn=arn, Tags=[{"Key": "b", "Value": "2"}])
    t1 = time.monotonic()
    eq(tags_of(ddb, arn), {"a": "1"}, "ListTagsOfResource right after TagResource (old set)")
    within(t1, W["tags_lag"], "old-tags check")
    sleep_until(t1, W["tags_lag"])
    eq(tags_of(ddb, arn), {"a": "1", "b": "2"}, "ListTagsOfResource after tags_lag")
    ddb.untag_resource(ResourceArn=arn, TagKeys=["a"])
    t2 = time.monotonic()
    eq(tags_of(ddb, arn), {"a": "1", "b": "2"}, "ListTagsOfResource right after UntagResource")
    within(t2, W["tags_lag"], "old-tags check after untag")
    sleep_until(t2, W["tags_lag"])
    eq(tags_of(ddb, arn), {"b": "2"}, "ListTagsOfResource after tags_lag (untag)")
    # paging over the lagged set, as moto pages (10 per page)
    ddb.tag_resource(ResourceArn=arn, Tags=[{"Key": f"k{i:02}", "Value": "v"} for i in range(12)])
    sleep_until(time.monotonic(), W["tags_lag"])
    first = ddb.list_tags_of_resource(ResourceArn=arn)
    eq(len(first["Tags"]), 10, "first page")
    rest = ddb.list_tags_of_resource(ResourceArn=arn, NextToken=first["NextToken"])
    eq(len(first["Tags"]) + len(rest["Tags"]), 13, "all tags over two pages")
    check("NextToken" not in rest, "last page has no NextToken")


def test_billing_switches(emu: Emulator):
    ddb = emu.client("dynamodb")
    name = "billing"
    eq(emu.post("/_setup/realistic", {"table_creating": 0, "table_invisible": 0,
                                      "table_updating": 0})[0], 200, "POST no table delays")
    try:
        ddb.create_table(**table_args(name, billing="PROVISIONED"))
        to_ppr = {"TableName": name, "BillingMode": "PAY_PER_REQUEST"}
        to_prov = {"TableName": name, "BillingMode": "PROVISIONED",
                   "ProvisionedThroughput": {"ReadCapacityUnits": 1, "WriteCapacityUnits": 1}}
        for _ in range(W["billing_switches"]):
            ddb.update_table(**to_ppr)
            ddb.update_table(**to_prov)  # switching back to provisioned is never limited
        error(ddb.update_table, "LimitExceededException",
              "Subscriber limit exceeded: Billing mode can be changed only "
              f"{W['billing_switches']} times within 24 hours for table {name}", **to_ppr)
        eq(ddb.describe_table(TableName=name)["Table"]["BillingModeSummary"]["BillingMode"],
           "PROVISIONED", "refused switch changed nothing")
        ddb.update_table(TableName=name, DeletionProtectionEnabled=False)  # other updates still work
    finally:
        emu.post("/_setup/realistic", {k: W[k] for k in ("table_creating", "table_invisible",
                                                         "table_updating")})


def test_manual_status_override_wins(emu: Emulator):
    """/_setup/table-status (tests/emulator.py) still decides the status it is set for."""
    ddb = emu.client("dynamodb")
    ddb.create_table(**table_args("override"))
    t0 = time.monotonic()
    urllib.request.urlopen(emu.endpoint + "/_setup/table-status?name=override&status=ARCHIVING").read()
    sleep_until(t0, W["table_invisible"])
    eq(status(ddb, "override"), "ARCHIVING", "override while realistic mode says CREATING")
    urllib.request.urlopen(emu.endpoint + "/_setup/table-status?name=override&status=").read()
    within(t0, W["table_creating"], "override check")
    eq(status(ddb, "override"), "CREATING", "realistic status once the override is cleared")


# -- realistic mode: IAM and Cognito ---------------------------------------------------

def test_iam_realistic(emu: Emulator):
    iam = emu.client("iam")
    arn = iam.create_policy(PolicyName="p1", PolicyDocument=POLICY)["Policy"]["Arn"]
    iam.create_role(RoleName="r1", AssumeRolePolicyDocument=TRUST_EC2)
    t0 = time.monotonic()
    concurrent = "Another request updating the entity is in progress. Please try again later."
    error(iam.attach_role_policy, "ConcurrentModification", concurrent, 409,
          RoleName="r1", PolicyArn=arn)
    within(t0, W["iam_concurrent"], "ConcurrentModification check")
    eq(iam.list_attached_role_policies(RoleName="r1")["AttachedPolicies"], [],
       "refused AttachRolePolicy changed nothing")
    iam.attach_role_policy(RoleName="r1", PolicyArn=arn)  # once per role: the retry succeeds
    iam.tag_role(RoleName="r1", Tags=[{"Key": "k", "Value": "v"}])

    iam.create_role(RoleName="r2", AssumeRolePolicyDocument=TRUST_EC2)
    error(iam.update_assume_role_policy, "ConcurrentModification", concurrent, 409,
          RoleName="r2", PolicyDocument=TRUST_EC2)
    iam.update_assume_role_policy(RoleName="r2", PolicyDocument=TRUST_EC2)
    iam.create_role(RoleName="r3", AssumeRolePolicyDocument=TRUST_EC2)
    error(iam.tag_role, "ConcurrentModification", concurrent, 409, RoleName="r3",
          Tags=[{"Key": "k", "Value": "v"}])
    sleep_until(t0, W["iam_concurrent"])
    iam.create_role(RoleName="r4", AssumeRolePolicyDocument=TRUST_EC2)
    error(iam.detach_role_policy, "ConcurrentModification", concurrent, 409, RoleName="r4",
          PolicyArn=arn)

    # DeleteConflict after a detach
    iam.detach_role_policy(RoleName="r1", PolicyArn=arn)
    t1 = time.monotonic()
    error(iam.delete_role, "DeleteConflict", "Cannot delete entity, must detach all policies first.",
          409, RoleName="r1")
    error(iam.delete_policy, "DeleteConflict", "Cannot delete a policy attached to entities.", 409,
          PolicyArn=arn)
    within(t1, W["iam_delete_conflict"], "DeleteConflict checks")
    sleep_until(t1, W["iam_delete_conflict"])
    iam.delete_role(RoleName="r1")
    iam.delete_policy(PolicyArn=arn)


def make_user_token(emu: Emulator, region: str):
    idp = emu.client("cognito-idp", region=region)
    pool = idp.create_user_pool(PoolName="users")["UserPool"]
    client = idp.create_user_pool_client(UserPoolId=pool["Id"], ClientName="app",
                                         ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH",
                                                            "ALLOW_REFRESH_TOKEN_AUTH"])
    client_id = client["UserPoolClient"]["ClientId"]
    idp.admin_create_user(UserPoolId=pool["Id"], Username="alice", MessageAction="SUPPRESS")
    idp.admin_set_user_password(UserPoolId=pool["Id"], Username="alice", Password="Secret-Pass-1",
                                Permanent=True)
    token = idp.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
                              AuthParameters={"USERNAME": "alice", "PASSWORD": "Secret-Pass-1"}
                              )["AuthenticationResult"]["IdToken"]
    provider = f"cognito-idp.{region}.amazonaws.com/{pool['Id']}"
    return provider, client_id, token


def trust_for(pool_id: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Federated": "cognito-identity.amazonaws.com"},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {"cognito-identity.amazonaws.com:aud": pool_id},
                      "ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": "authenticated"}}}]})


def sign_in_setup(emu: Emulator, region: str, role_name: str):
    """User pool + identity pool + authenticated role; returns (ci, iam, pool_id, identity_id, logins, role_arn)."""
    provider, client_id, token = make_user_token(emu, region)
    ci = emu.client("cognito-identity", region=region)
    iam = emu.client("iam", region=region)
    pool_id = ci.create_identity_pool(
        IdentityPoolName="ids", AllowUnauthenticatedIdentities=False,
        CognitoIdentityProviders=[{"ProviderName": provider, "ClientId": client_id}])["IdentityPoolId"]
    role_arn = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=trust_for(pool_id))["Role"]["Arn"]
    ci.set_identity_pool_roles(IdentityPoolId=pool_id, Roles={"authenticated": role_arn})
    logins = {provider: token}
    identity_id = ci.get_id(IdentityPoolId=pool_id, Logins=logins)["IdentityId"]
    return ci, iam, pool_id, identity_id, logins, role_arn


def test_propagation(emu: Emulator):
    ci, iam, pool_id, identity_id, logins, role_arn = sign_in_setup(emu, "us-east-1", "authrole")
    t0 = time.monotonic()  # (just after CreateRole: the role is at most this old)
    invalid = "Invalid identity pool configuration. Check assigned IAM roles for this pool."
    error(ci.get_credentials_for_identity, "InvalidIdentityPoolConfigurationException", invalid,
          IdentityId=identity_id, Logins=logins)
    within(t0, W["iam_propagation"], "propagation check")
    sleep_until(t0, W["iam_propagation"])
    creds = ci.get_credentials_for_identity(IdentityId=identity_id, Logins=logins)["Credentials"]
    check(creds["AccessKeyId"].startswith("ASIA"), "credentials after iam_propagation")
    iam.update_assume_role_policy(RoleName="authrole", PolicyDocument=trust_for(pool_id))
    t1 = time.monotonic()
    error(ci.get_credentials_for_identity, "InvalidIdentityPoolConfigurationException", invalid,
          IdentityId=identity_id, Logins=logins)
    within(t1, W["iam_propagation"], "propagation check after UpdateAssumeRolePolicy")
    sleep_until(t1, W["iam_propagation"])
    ci.get_credentials_for_identity(IdentityId=identity_id, Logins=logins)


# -- fast mode: nothing of the above, but the always-on fixes ----------------------------

def test_fast_mode(emu: Emulator):
    eq(emu.get("/_setup/realistic"), {k: 0 for k in W}, "fast mode windows")
    ddb = emu.client("dynamodb")
    out = ddb.create_table(**table_args("fast", billing="PROVISIONED"))["TableDescription"]
    eq(out["TableStatus"], "ACTIVE", "fast CreateTable answer")
    eq(status(ddb, "fast"), "ACTIVE", "fast DescribeTable")
    ddb.update_continuous_backups(TableName="fast",
                                  PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
    eq(ddb.describe_continuous_backups(TableName="fast")["ContinuousBackupsDescription"]
       ["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"], "ENABLED", "fast PITR")
    ddb.tag_resource(ResourceArn=out["TableArn"], Tags=[{"Key": "a", "Value": "1"}])
    eq(tags_of(ddb, out["TableArn"]), {"a": "1"}, "fast ListTagsOfResource")
    for _ in range(6):
        ddb.update_table(TableName="fast", BillingMode="PAY_PER_REQUEST")
        ddb.update_table(TableName="fast", BillingMode="PROVISIONED",
                         ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1})
    eq(ddb.update_table(TableName="fast", DeletionProtectionEnabled=False)["TableDescription"]
       ["TableStatus"], "ACTIVE", "fast UpdateTable answer")
    eq(ddb.delete_table(TableName="fast")["TableDescription"]["TableStatus"], "ACTIVE",
       "fast DeleteTable answer (moto's, unchanged)")
    error(ddb.describe_table, "ResourceNotFoundException", TableName="fast")
    ddb.create_table(**table_args("fast"))

    iam = emu.client("iam")
    arn = iam.create_policy(PolicyName="fp", PolicyDocument=POLICY)["Policy"]["Arn"]
    iam.create_role(RoleName="fr", AssumeRolePolicyDocument=TRUST_EC2)
    iam.attach_role_policy(RoleName="fr", PolicyArn=arn)
    iam.detach_role_policy(RoleName="fr", PolicyArn=arn)
    iam.delete_role(RoleName="fr")
    iam.delete_policy(PolicyArn=arn)
    ci, iam, pool_id, identity_id, logins, role_arn = sign_in_setup(emu, "us-east-1", "fastauth")
    ci.get_credentials_for_identity(IdentityId=identity_id, Logins=logins)


def test_iam_always(emu: Emulator):
    iam = emu.client("iam")
    arn = iam.create_policy(PolicyName="always", PolicyDocument=POLICY)["Policy"]["Arn"]
    iam.create_role(RoleName="holder", AssumeRolePolicyDocument=TRUST_EC2)
    iam.attach_role_policy(RoleName="holder", PolicyArn=arn)
    attached = "Cannot delete a policy attached to entities."
    error(iam.delete_policy, "DeleteConflict", attached, 409, PolicyArn=arn)
    iam.create_user(UserName="u")
    iam.detach_role_policy(RoleName="holder", PolicyArn=arn)
    iam.attach_user_policy(UserName="u", PolicyArn=arn)
    error(iam.delete_policy, "DeleteConflict", attached, 409, PolicyArn=arn)
    iam.detach_user_policy(UserName="u", PolicyArn=arn)
    iam.create_group(GroupName="g")
    iam.attach_group_policy(GroupName="g", PolicyArn=arn)
    error(iam.delete_policy, "DeleteConflict", attached, 409, PolicyArn=arn)
    iam.detach_group_policy(GroupName="g", PolicyArn=arn)

    iam.create_policy_version(PolicyArn=arn, PolicyDocument=POLICY, SetAsDefault=True)
    error(iam.delete_policy, "DeleteConflict",
          "This policy has more than one version. Before you delete a policy, you must delete the "
          "policy's versions. The default version is deleted with the policy.", 409, PolicyArn=arn)
    for _ in range(3):
        iam.create_policy_version(PolicyArn=arn, PolicyDocument=POLICY, SetAsDefault=False)
    error(iam.create_policy_version, "LimitExceeded",
          "A managed policy can have up to 5 versions. Before you create a new version, you must "
          "delete an existing version.", 409, PolicyArn=arn, PolicyDocument=POLICY)
    for v in iam.list_policy_versions(PolicyArn=arn)["Versions"]:
        if not v["IsDefaultVersion"]:
            iam.delete_policy_version(PolicyArn=arn, VersionId=v["VersionId"])
    iam.delete_policy(PolicyArn=arn)

    def document(non_ws: int, pad: int = 0) -> str:
        # {"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":[...]}]}
        head = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":["arn:aws:s3:::'
        tail = '"]}]}'
        body = "x" * (non_ws - len(head) - len(tail))
        return head + body + tail + " " * pad

    big = "Cannot exceed quota for PolicySize: 6144"
    error(iam.create_policy, "LimitExceeded", big, 409, PolicyName="big", PolicyDocument=document(6145))
    # whitespace is not counted
    ok = iam.create_policy(PolicyName="fits", PolicyDocument=document(6144, pad=500))["Policy"]["Arn"]
    error(iam.create_policy_version, "LimitExceeded", big, 409, PolicyArn=ok,
          PolicyDocument=document(6145))
    iam.create_policy_version(PolicyArn=ok, PolicyDocument=document(6144, pad=100))


def test_identity_tags(emu: Emulator):
    ci = emu.client("cognito-identity")
    pool_id = ci.create_identity_pool(IdentityPoolName="tags", AllowUnauthenticatedIdentities=False,
                                      IdentityPoolTags={"a": "1"})["IdentityPoolId"]
    arn = f"arn:aws:cognito-identity:us-east-1:{ACCOUNT}:identitypool/{pool_id}"
    eq(ci.list_tags_for_resource(ResourceArn=arn)["Tags"], {"a": "1"}, "tags from CreateIdentityPool")
    ci.tag_resource(ResourceArn=arn, Tags={"b": "2", "a": "one"})
    eq(ci.describe_identity_pool(IdentityPoolId=pool_id)["IdentityPoolTags"], {"a": "one", "b": "2"},
       "DescribeIdentityPool after TagResource")
    ci.untag_resource(ResourceArn=arn, TagKeys=["a", "absent"])
    eq(ci.list_tags_for_resource(ResourceArn=arn)["Tags"], {"b": "2"}, "after UntagResource")
    error(ci.list_tags_for_resource, "InvalidParameterException",
          ResourceArn="arn:aws:s3:::not-an-identity-pool")
    error(ci.list_tags_for_resource, "ResourceNotFoundException",
          ResourceArn=arn.replace("arn:aws:", "arn:aws-us-gov:"))
    error(ci.list_tags_for_resource, "ResourceNotFoundException",
          ResourceArn=arn.replace(pool_id.split(":")[1], "00000000-0000-0000-0000-000000000000"))
    error(ci.tag_resource, "InvalidParameterException", ResourceArn=arn,
          Tags={f"k{i}": "v" for i in range(50)})
    eq(ci.list_tags_for_resource(ResourceArn=arn)["Tags"], {"b": "2"}, "refused TagResource changed nothing")


def test_partitions(emu: Emulator):
    for region, partition in (("us-gov-west-1", "aws-us-gov"), ("cn-north-1", "aws-cn")):
        sts = emu.client("sts", region=region)
        eq(sts.get_caller_identity()["Arn"].split(":")[1], partition, f"{region} caller ARN")
        iam = emu.client("iam", region=region)
        role = iam.create_role(RoleName=f"part-{partition}", AssumeRolePolicyDocument=TRUST_EC2)["Role"]["Arn"]
        eq(role.split(":")[1], partition, f"{region} role ARN")
        table_arn = emu.client("dynamodb", region=region).create_table(
            **table_args(f"part-{partition}"))["TableDescription"]["TableArn"]
        eq(table_arn.split(":")[1], partition, f"{region} table ARN")
        doc = json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": table_arn}]})
        policy = iam.create_policy(PolicyName=f"part-{partition}", PolicyDocument=doc)["Policy"]["Arn"]
        eq(policy.split(":")[1], partition, f"{region} policy ARN")
        iam.attach_role_policy(RoleName=f"part-{partition}", PolicyArn=policy)
        ci = emu.client("cognito-identity", region=region)
        pool_id = ci.create_identity_pool(IdentityPoolName="p", AllowUnauthenticatedIdentities=False,
                                          IdentityPoolTags={"x": "y"})["IdentityPoolId"]
        pool_arn = f"arn:{partition}:cognito-identity:{region}:{ACCOUNT}:identitypool/{pool_id}"
        eq(ci.list_tags_for_resource(ResourceArn=pool_arn)["Tags"], {"x": "y"}, f"{region} pool tags")
        error(ci.list_tags_for_resource, "ResourceNotFoundException",
              ResourceArn=pool_arn.replace(f"arn:{partition}:", "arn:aws:"))
        ci.set_identity_pool_roles(IdentityPoolId=pool_id, Roles={"authenticated": role})
        eq(ci.get_identity_pool_roles(IdentityPoolId=pool_id)["Roles"]["authenticated"], role,
           f"{region} pool role")
    # the sign-in path finds arn:aws-us-gov: roles (moto has no cognito-idp in the China regions)
    ci, iam, pool_id, identity_id, logins, role_arn = sign_in_setup(emu, "us-gov-west-1", "govauth")
    check(role_arn.startswith("arn:aws-us-gov:iam::"), f"GovCloud role ARN {role_arn}")
    creds = ci.get_credentials_for_identity(IdentityId=identity_id, Logins=logins)["Credentials"]
    check(creds["AccessKeyId"].startswith("ASIA"), "GovCloud sign-in")


def test_bad_spec():
    for spec, needle in (("table_creating=abc", "table_creating"), ("nope=1", "nope"),
                         ("billing_switches=1.5", "billing_switches")):
        proc = subprocess.run([sys.executable, LAUNCHER, "--port", "0", "--realistic", spec],
                              stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
        check(proc.returncode != 0 and needle in proc.stderr.decode(),
              f"--realistic {spec} must be refused naming {needle}: rc={proc.returncode} "
              f"stderr={proc.stderr.decode()[-300:]}")


def main() -> int:
    spec = ",".join(f"{k}={v}" for k, v in W.items())
    started: dict = {}

    def start(key, *args):
        started[key] = Emulator(*args)

    threads = [threading.Thread(target=start, args=("realistic", "--realistic", spec)),
               threading.Thread(target=start, args=("fast",))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if len(started) != 2:
        print("FAIL: launcher did not start", file=sys.stderr)
        for emu in started.values():
            emu.stop()
        return 1
    real, fast = started["realistic"], started["fast"]
    # Phases: the groups of a phase run at once (independent resources, windows unchanged);
    # tests that change windows at runtime run alone.
    phases = [
        [[("endpoint", lambda: test_endpoint(real))]],
        [[("table lifecycle", lambda: test_create_lifecycle(real))],
         [("iam realistic", lambda: test_iam_realistic(real)),
          ("iam propagation", lambda: test_propagation(real))],
         [("fast mode", lambda: test_fast_mode(fast)),
          ("iam always-on", lambda: test_iam_always(fast)),
          ("identity pool tags", lambda: test_identity_tags(fast)),
          ("partitions", lambda: test_partitions(fast))],
         [("bad spec", test_bad_spec)],
         [("table options always", lambda: test_table_options_always(fast))],
         [("table options realistic", lambda: test_table_options_realistic(real, W))]],
        [[("tags lag", lambda: test_tags_lag(real))]],
        [[("billing switches", lambda: test_billing_switches(real))]],
        [[("table-status override", lambda: test_manual_status_override_wins(real))]],
    ]
    only = set(sys.argv[1:])
    results: dict = {}

    def run_group(group):
        for name, fn in group:
            if only and name not in only:
                continue
            t = time.monotonic()
            try:
                fn()
                results[name] = f"ok    {name} ({time.monotonic() - t:.1f}s)"
            except Exception:
                results[name] = f"FAIL  {name}\n{traceback.format_exc()}"

    try:
        for phase in phases:
            threads = [threading.Thread(target=run_group, args=(g,)) for g in phase]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
    finally:
        real.stop()
        fast.stop()
    for line in results.values():
        print(line)
    failed = sum(1 for line in results.values() if line.startswith("FAIL"))
    print(f"{'FAILED' if failed else 'passed'}: {failed} of {len(results)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
