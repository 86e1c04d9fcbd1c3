#!/usr/bin/env python3
"""Self-test of tests/emu/iam_enforce.py, paging.py and user_pools.py (issues 10 and 12).

Starts launchers on loopback (python3 tests/emulator.py --port 0 [--page-size 2]) and checks with
boto3: IAM enforcement on the credentials of signed-in identities, with DynamoDB resource-based
policies (A), AWS paging and the page
cap (B), user pools that sign in with email / phone / aliases, required attributes and password
policies (C), and that the launcher refuses to start without its IAM simulator.
Run: python3 tests/emu/selftest_enforce.py   (exit 1 on any failure; about 20 s).
"""

import json
import subprocess
import sys
import time

from botocore.exceptions import ClientError

from selftest_support import REGION, Launcher, eq, error, run_cases

ACCOUNT = "123456789012"
OPERATOR = ("AKIDOPERATOR0000", "secret")


class Emulator(Launcher):
    def __init__(self, *args: str, env: dict | None = None, stderr=None):
        super().__init__(*args, creds=OPERATOR, env=env, stderr=stderr)


def error_of(fn, *args, **kwargs):
    """(code, message, HTTP status) of the ClientError fn raises; fails when it succeeds."""
    try:
        fn(*args, **kwargs)
    except ClientError as e:
        return (e.response["Error"]["Code"], e.response["Error"].get("Message", ""),
                e.response["ResponseMetadata"]["HTTPStatusCode"])
    raise AssertionError(f"{getattr(fn, '__name__', fn)} succeeded, expected an error")


# --------------------------------------------------------------------------
# A. IAM enforcement on identity credentials
# --------------------------------------------------------------------------

class Stack:
    """A user pool with two users, an identity pool, a role, a table with a GSI."""

    def __init__(self, emu: Emulator, name: str):
        self.emu, self.name = emu, name
        idp, ident, iam, ddb = (emu.client(s) for s in ("cognito-idp", "cognito-identity", "iam", "dynamodb"))
        self.iam, self.ddb = iam, ddb
        pool = idp.create_user_pool(PoolName=f"{name}-users")["UserPool"]["Id"]
        client = idp.create_user_pool_client(
            UserPoolId=pool, ClientName="app",
            ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"])["UserPoolClient"]["ClientId"]
        for user in ("alice", "bob"):
            idp.admin_create_user(UserPoolId=pool, Username=user, MessageAction="SUPPRESS")
            idp.admin_set_user_password(UserPoolId=pool, Username=user, Password="Passw0rd!x", Permanent=True)
        self.provider = f"cognito-idp.{REGION}.amazonaws.com/{pool}"
        self.pool_id = ident.create_identity_pool(
            IdentityPoolName=f"{name}_ids", AllowUnauthenticatedIdentities=False,
            CognitoIdentityProviders=[{"ProviderName": self.provider, "ClientId": client}])["IdentityPoolId"]
        trust = {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Federated": "cognito-identity.amazonaws.com"},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"StringEquals": {"cognito-identity.amazonaws.com:aud": self.pool_id},
                          "ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": "authenticated"}}}]}
        self.role = f"{name}-role"
        self.role_arn = iam.create_role(RoleName=self.role, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
        ident.set_identity_pool_roles(IdentityPoolId=self.pool_id, Roles={"authenticated": self.role_arn})
        self.table = f"{name}-table"
        ddb.create_table(
            TableName=self.table, BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in ("pk", "sk", "owner")],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            GlobalSecondaryIndexes=[{"IndexName": "byOwner", "KeySchema": [{"AttributeName": "owner", "KeyType": "HASH"}],
                                     "Projection": {"ProjectionType": "ALL"}}])
        self.table_arn = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{self.table}"
        self.idp, self.ident, self.client_id, self.user_pool = idp, ident, client, pool

    def sign_in(self, user):
        token = self.idp.initiate_auth(ClientId=self.client_id, AuthFlow="USER_PASSWORD_AUTH",
                                       AuthParameters={"USERNAME": user, "PASSWORD": "Passw0rd!x"}
                                       )["AuthenticationResult"]["IdToken"]
        logins = {self.provider: token}
        identity = self.ident.get_id(IdentityPoolId=self.pool_id, Logins=logins)["IdentityId"]
        c = self.ident.get_credentials_for_identity(IdentityId=identity, Logins=logins)["Credentials"]
        return identity, (c["AccessKeyId"], c["SecretKey"], c["SessionToken"])

    def policy(self, statements, name="access"):
        """Creates (or re-versions) managed policy `name`, attached to the role."""
        arn = f"arn:aws:iam::{ACCOUNT}:policy/{self.name}-{name}"
        doc = json.dumps({"Version": "2012-10-17", "Statement": statements})
        try:
            self.iam.create_policy(PolicyName=f"{self.name}-{name}", PolicyDocument=doc)
        except ClientError:
            for v in self.iam.list_policy_versions(PolicyArn=arn)["Versions"]:
                if not v["IsDefaultVersion"]:
                    self.iam.delete_policy_version(PolicyArn=arn, VersionId=v["VersionId"])
            self.iam.create_policy_version(PolicyArn=arn, PolicyDocument=doc, SetAsDefault=True)
        self.iam.attach_role_policy(RoleName=self.role, PolicyArn=arn)
        return arn


def denied_message(stack, action, resource, explicit=False):
    why = ("with an explicit deny in an identity-based policy" if explicit
           else f"because no identity-based policy allows the {action} action")
    return (f"User: arn:aws:sts::{ACCOUNT}:assumed-role/{stack.role}/CognitoIdentityCredentials "
            f"is not authorized to perform: {action} on resource: {resource} {why}")


def check_denied(stack, fn, action, resource, explicit=False, **kwargs):
    code, message, status = error_of(fn, **kwargs)
    eq((code, status), ("AccessDeniedException", 400), f"{action} error")
    eq(message, denied_message(stack, action, resource, explicit), f"{action} message")


def item(pk, sk="1", **more):
    out = {"pk": {"S": pk}, "sk": {"S": sk}}
    out.update({k: {"S": v} for k, v in more.items()})
    return out


def test_enforcement(emu: Emulator):
    st = Stack(emu, "iso")
    own = {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["${cognito-identity.amazonaws.com:sub}"]}}
    actions = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:Scan",
               "dynamodb:BatchGetItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"]
    resources = [st.table_arn, st.table_arn + "/index/*"]
    st.policy([{"Effect": "Allow", "Action": actions, "Resource": resources, "Condition": own}])
    alice, alice_creds = st.sign_in("alice")
    bob, _ = st.sign_in("bob")
    ddb = emu.client("dynamodb", creds=alice_creds)
    st.ddb.put_item(TableName=st.table, Item=item(bob, owner=bob))  # operator: not enforced

    # the own partition works; another user's is refused, with DynamoDB's wording
    ddb.put_item(TableName=st.table, Item=item(alice, owner=alice))
    eq(ddb.get_item(TableName=st.table, Key=item(alice))["Item"]["pk"]["S"], alice, "own item")
    check_denied(st, ddb.get_item, "dynamodb:GetItem", st.table_arn, TableName=st.table, Key=item(bob))
    check_denied(st, ddb.put_item, "dynamodb:PutItem", st.table_arn, TableName=st.table, Item=item(bob))
    check_denied(st, ddb.update_item, "dynamodb:UpdateItem", st.table_arn, TableName=st.table,
                 Key=item(bob), UpdateExpression="SET x = :x", ExpressionAttributeValues={":x": {"S": "1"}})
    # Query: the partition-key equality of the key condition, with names and values resolved
    ddb.query(TableName=st.table, KeyConditionExpression="#p = :v AND begins_with(sk, :s)",
              ExpressionAttributeNames={"#p": "pk"}, ExpressionAttributeValues={":v": {"S": alice}, ":s": {"S": "1"}})
    check_denied(st, ddb.query, "dynamodb:Query", st.table_arn, TableName=st.table,
                 KeyConditionExpression="pk = :v", ExpressionAttributeValues={":v": {"S": bob}})
    check_denied(st, ddb.query, "dynamodb:Query", st.table_arn, TableName=st.table,
                 KeyConditions={"pk": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": bob}]}})
    # an index query is checked against the index ARN and the index's partition key
    ddb.query(TableName=st.table, IndexName="byOwner", KeyConditionExpression="#o = :o",
              ExpressionAttributeNames={"#o": "owner"}, ExpressionAttributeValues={":o": {"S": alice}})
    check_denied(st, ddb.query, "dynamodb:Query", st.table_arn + "/index/byOwner", TableName=st.table,
                 IndexName="byOwner", KeyConditionExpression="#o = :o",
                 ExpressionAttributeNames={"#o": "owner"}, ExpressionAttributeValues={":o": {"S": bob}})
    # batches: every key of the table counts
    ddb.batch_get_item(RequestItems={st.table: {"Keys": [item(alice)]}})
    check_denied(st, ddb.batch_get_item, "dynamodb:BatchGetItem", st.table_arn,
                 RequestItems={st.table: {"Keys": [item(alice), item(bob)]}})
    # THE HOLE (issue 10): ForAllValues over no leading keys is true, so Scan is allowed...
    scanned = {i["pk"]["S"] for i in ddb.scan(TableName=st.table)["Items"]}
    eq(scanned, {alice, bob}, "Scan under a ForAllValues-only isolation policy reads everyone")
    # ... PartiQL is a different action, not granted here
    check_denied(st, ddb.execute_statement, "dynamodb:PartiQLSelect", st.table_arn,
                 Statement=f'SELECT * FROM "{st.table}" WHERE pk = \'{bob}\'')
    # control plane: DescribeTable is not granted
    check_denied(st, ddb.describe_table, "dynamodb:DescribeTable", st.table_arn, TableName=st.table)

    # the same statement with a Null guard: no key, no access; own key still fine
    guarded = dict(own, Null={"dynamodb:LeadingKeys": "false"})
    st.policy([{"Effect": "Allow", "Action": actions + ["dynamodb:PartiQLSelect"], "Resource": resources,
                "Condition": guarded}])
    check_denied(st, ddb.scan, "dynamodb:Scan", st.table_arn, TableName=st.table)
    check_denied(st, ddb.execute_statement, "dynamodb:PartiQLSelect", st.table_arn,
                 Statement=f'SELECT * FROM "{st.table}"')
    eq(ddb.get_item(TableName=st.table, Key=item(alice))["Item"]["pk"]["S"], alice, "own item, guarded")
    check_denied(st, ddb.get_item, "dynamodb:GetItem", st.table_arn, TableName=st.table, Key=item(bob))
    # transactions: each item needs its own action
    ddb.transact_write_items(TransactItems=[{"Put": {"TableName": st.table, "Item": item(alice, "2")}}])
    check_denied(st, ddb.transact_write_items, "dynamodb:PutItem", st.table_arn,
                 TransactItems=[{"Put": {"TableName": st.table, "Item": item(bob, "2")}}])
    check_denied(st, ddb.transact_get_items, "dynamodb:GetItem", st.table_arn,
                 TransactItems=[{"Get": {"TableName": st.table, "Key": item(bob)}}])

    # a policy on another table grants nothing here
    arn = st.policy([{"Effect": "Allow", "Action": "dynamodb:*",
                      "Resource": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/other"}])
    check_denied(st, ddb.get_item, "dynamodb:GetItem", st.table_arn, TableName=st.table, Key=item(alice))
    # a detached policy grants nothing; an inline one is read too
    st.iam.detach_role_policy(RoleName=st.role, PolicyArn=arn)
    check_denied(st, ddb.get_item, "dynamodb:GetItem", st.table_arn, TableName=st.table, Key=item(alice))
    st.iam.put_role_policy(RoleName=st.role, PolicyName="inline", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "dynamodb:GetItem",
                                                "Resource": st.table_arn}]}))
    ddb.get_item(TableName=st.table, Key=item(bob))
    # an explicit deny wins, and says so
    st.iam.put_role_policy(RoleName=st.role, PolicyName="deny", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "dynamodb:GetItem",
                                                "Resource": "*", "Condition": {"ForAnyValue:StringNotEquals": {
                                                    "dynamodb:LeadingKeys": "${cognito-identity.amazonaws.com:sub}"}}}]}))
    check_denied(st, ddb.get_item, "dynamodb:GetItem", st.table_arn, explicit=True,
                 TableName=st.table, Key=item(bob))
    ddb.get_item(TableName=st.table, Key=item(alice))

    # other services: IAM answers AccessDenied (403); GetCallerIdentity needs no permission
    code, message, status = error_of(emu.client("iam", creds=alice_creds).list_roles)
    eq((code, status), ("AccessDenied", 403), "iam:ListRoles")
    eq(message, denied_message(st, "iam:ListRoles", "*"), "iam:ListRoles message")
    emu.client("sts", creds=alice_creds).get_caller_identity()
    # the operator's own credentials are not enforced
    st.ddb.scan(TableName=st.table)

    # the decision log names the leading keys it saw
    status, decisions = emu.request("GET", f"/_setup/iam-decisions?key={alice_creds[0]}")
    eq(status, 200, "iam-decisions")
    first_get = next(d for d in decisions if d["action"] == "dynamodb:GetItem")
    eq(first_get["context"], {"dynamodb:LeadingKeys": [alice]}, "GetItem context")
    scan = next(d for d in decisions if d["action"] == "dynamodb:Scan")
    eq((scan["context"], scan["decision"]), ({}, "Allowed"), "Scan context")


def test_boundary(emu: Emulator):
    """A role with a permissions boundary: its credentials get the intersection of its policies
    and the boundary; the boundary alone grants nothing; taking it off lifts the cap."""
    st = Stack(emu, "capped")
    st.policy([{"Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:PutItem"],
                "Resource": st.table_arn}])
    doc = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:Query"], "Resource": st.table_arn}]})
    boundary = st.iam.create_policy(PolicyName="capped-boundary", PolicyDocument=doc)["Policy"]["Arn"]
    st.iam.put_role_permissions_boundary(RoleName=st.role, PermissionsBoundary=boundary)
    eq(st.iam.get_role(RoleName=st.role)["Role"]["PermissionsBoundary"]["PermissionsBoundaryArn"],
       boundary, "GetRole's boundary")
    _, creds = st.sign_in("alice")
    ddb = emu.client("dynamodb", creds=creds)
    ddb.get_item(TableName=st.table, Key=item("a"))  # in both
    code, message, status = error_of(ddb.put_item, TableName=st.table, Item=item("a"))  # policy only
    eq((code, status), ("AccessDeniedException", 400), "PutItem beyond the boundary")
    eq(message, denied_message(st, "dynamodb:PutItem", st.table_arn).replace(
        "no identity-based policy", "no permissions boundary"), "PutItem message")
    check_denied(st, ddb.query, "dynamodb:Query", st.table_arn, TableName=st.table,  # boundary only
                 KeyConditionExpression="pk = :v", ExpressionAttributeValues={":v": {"S": "a"}})
    # A new boundary version is read at request time; taking the boundary off lifts the cap.
    st.iam.create_policy_version(PolicyArn=boundary, SetAsDefault=True, PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "dynamodb:PutItem",
                                                 "Resource": st.table_arn}]}))
    ddb.put_item(TableName=st.table, Item=item("a"))
    error_of(ddb.get_item, TableName=st.table, Key=item("a"))
    st.iam.delete_role_permissions_boundary(RoleName=st.role)
    ddb.get_item(TableName=st.table, Key=item("a"))


def test_resource_policies(emu: Emulator):
    """DynamoDB resource-based policies: the three calls as AWS answers them, and the policy in
    the IAM decision on identity credentials (resource_policies.py, iam_enforce.py)."""
    st = Stack(emu, "rbp")
    own = {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["${cognito-identity.amazonaws.com:sub}"]},
           "Null": {"dynamodb:LeadingKeys": "false"}}
    st.policy([{"Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:PutItem"],
                "Resource": st.table_arn, "Condition": own}])
    alice, alice_creds = st.sign_in("alice")
    bob, _ = st.sign_in("bob")
    ddb = emu.client("dynamodb", creds=alice_creds)
    st.ddb.put_item(TableName=st.table, Item=item(bob))

    # no policy: Get answers PolicyNotFoundException; Delete is idempotent unless a revision is expected
    error(st.ddb.get_resource_policy, "PolicyNotFoundException", ResourceArn=st.table_arn)
    st.ddb.delete_resource_policy(ResourceArn=st.table_arn)
    error(st.ddb.delete_resource_policy, "PolicyNotFoundException", ResourceArn=st.table_arn,
          ExpectedRevisionId="1")
    error(st.ddb.put_resource_policy, "ValidationException", ResourceArn=st.table_arn, Policy="not json")
    check_denied(st, ddb.delete_item, "dynamodb:DeleteItem", st.table_arn, TableName=st.table, Key=item(bob))
    check_denied(st, ddb.scan, "dynamodb:Scan", st.table_arn, TableName=st.table)

    def put(statements):
        doc = json.dumps({"Version": "2012-10-17", "Statement": statements})
        rev = st.ddb.put_resource_policy(ResourceArn=st.table_arn, Policy=doc)["RevisionId"]
        eq(json.loads(st.ddb.get_resource_policy(ResourceArn=st.table_arn)["Policy"]),
           json.loads(doc), "GetResourcePolicy returns what was put")
        return rev

    # an Allow for the role grants what its identity policy does not, on another user's item too
    put([{"Effect": "Allow", "Principal": {"AWS": st.role_arn}, "Action": "dynamodb:DeleteItem",
          "Resource": st.table_arn}])
    ddb.delete_item(TableName=st.table, Key=item(bob))
    check_denied(st, ddb.scan, "dynamodb:Scan", st.table_arn, TableName=st.table)
    # "Principal": "*" grants every caller; an Allow for another role grants this one nothing
    put([{"Effect": "Allow", "Principal": "*", "Action": "dynamodb:Scan", "Resource": st.table_arn}])
    ddb.scan(TableName=st.table)
    check_denied(st, ddb.delete_item, "dynamodb:DeleteItem", st.table_arn, TableName=st.table, Key=item(bob))
    put([{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/other"},
          "Action": "dynamodb:*", "Resource": st.table_arn}])
    check_denied(st, ddb.scan, "dynamodb:Scan", st.table_arn, TableName=st.table)
    # an explicit Deny in it wins over the identity policy's Allow, and the message says whose
    rev = put([{"Effect": "Deny", "Principal": "*", "Action": "dynamodb:GetItem", "Resource": st.table_arn}])
    code, message, status = error_of(ddb.get_item, TableName=st.table, Key=item(alice))
    eq((code, status), ("AccessDeniedException", 400), "GetItem under a resource policy Deny")
    eq(message, (f"User: arn:aws:sts::{ACCOUNT}:assumed-role/{st.role}/CognitoIdentityCredentials "
                 f"is not authorized to perform: dynamodb:GetItem on resource: {st.table_arn} "
                 "with an explicit deny in a resource-based policy"), "resource policy Deny message")
    ddb.put_item(TableName=st.table, Item=item(alice))
    # deleted with the matching revision: the grants are gone
    st.ddb.delete_resource_policy(ResourceArn=st.table_arn, ExpectedRevisionId=rev)
    eq(ddb.get_item(TableName=st.table, Key=item(alice))["Item"]["pk"]["S"], alice, "own item again")
    error(st.ddb.get_resource_policy, "PolicyNotFoundException", ResourceArn=st.table_arn)
    # a deleted table takes its policy with it: a new table of that name has none
    put([{"Effect": "Allow", "Principal": "*", "Action": "dynamodb:Scan", "Resource": st.table_arn}])
    st.ddb.delete_table(TableName=st.table)
    st.ddb.create_table(TableName=st.table, BillingMode="PAY_PER_REQUEST",
                        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
    error(st.ddb.get_resource_policy, "PolicyNotFoundException", ResourceArn=st.table_arn)
    check_denied(st, ddb.scan, "dynamodb:Scan", st.table_arn, TableName=st.table)


def test_refuses_without_simulator():
    emu = Emulator(env={"SETUP_TEST_NODE": "/nonexistent/node"}, stderr=subprocess.PIPE)
    out, err = emu.proc.communicate(timeout=60)
    eq(emu.proc.returncode != 0, True, "exit status without a simulator")
    eq(out, b"", "stdout without a simulator (no READY)")
    if b"cannot enforce IAM on identity credentials" not in err:
        raise AssertionError(f"stderr does not say why: {err[-400:]!r}")


# --------------------------------------------------------------------------
# B. Paging
# --------------------------------------------------------------------------

def all_pages(call, items_key, token_in, token_out, **kwargs):
    pages, token = [], None
    while True:
        args = dict(kwargs, **({token_in: token} if token else {}))
        out = call(**args)
        pages.append(out[items_key] if not callable(items_key) else items_key(out))
        token = out.get(token_out)
        if not token or (token_out == "Marker" and not out.get("IsTruncated")):
            return pages
        if len(pages) > 1000:
            raise AssertionError("paging does not end")


def test_paging_aws_limits(emu: Emulator):
    status, body = emu.request("POST", "/_setup/bulk-identity-pools",
                               {"count": 130, "prefix": "other", "region": "eu-west-1", "account": ACCOUNT})
    eq((status, body), (200, {"created": 130}), "bulk-identity-pools")
    eq(emu.request("POST", "/_setup/bulk-identity-pools", {"count": -1})[0], 400, "bad count")
    ident = emu.client("cognito-identity", region="eu-west-1")
    pages = all_pages(ident.list_identity_pools, "IdentityPools", "NextToken", "NextToken", MaxResults=60)
    eq([len(p) for p in pages], [60, 60, 10], "ListIdentityPools pages of 60")
    names = sorted(p["IdentityPoolName"] for page in pages for p in page)
    eq(names, sorted(f"other-{i}" for i in range(130)), "every pool once")
    eq(set(pages[0][0]), {"IdentityPoolId", "IdentityPoolName"}, "fields AWS lists")
    raw = emu.client("cognito-identity", validate=False, region="eu-west-1")
    code, message, _ = error_of(raw.list_identity_pools, MaxResults=61)
    eq(code, "InvalidParameterException", "MaxResults 61")
    eq(error_of(raw.list_identity_pools)[0], "InvalidParameterException", "MaxResults missing")
    # a pool deleted between pages neither breaks the token nor shifts the next page
    first = ident.list_identity_pools(MaxResults=10)
    ident.delete_identity_pool(IdentityPoolId=first["IdentityPools"][-1]["IdentityPoolId"])
    second = ident.list_identity_pools(MaxResults=10, NextToken=first["NextToken"])
    eq(second["IdentityPools"][0]["IdentityPoolName"], "other-10", "page after a deletion")

    # ListEntitiesForPolicy: moto looked only at the first 100 roles of the account
    iam = emu.client("iam")
    arn = iam.create_policy(PolicyName="shared", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}]}))["Policy"]["Arn"]
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {
        "Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
    for i in range(105):
        iam.create_role(RoleName=f"r{i:03d}", AssumeRolePolicyDocument=trust)
    iam.attach_role_policy(RoleName="r104", PolicyArn=arn)
    out = iam.list_entities_for_policy(PolicyArn=arn)
    eq([r["RoleName"] for r in out["PolicyRoles"]], ["r104"], "the 105th role")
    eq(out["IsTruncated"], False, "IsTruncated")
    eq(error_of(iam.list_entities_for_policy, PolicyArn=arn + "-gone")[0], "NoSuchEntity", "missing policy")
    # botocore refuses MaxItems 0 itself: sent with its validation off
    eq(error_of(emu.client("iam", validate=False).list_role_policies, RoleName="r000", MaxItems=0)[0],
       "ValidationError", "MaxItems 0")


def test_paging_capped(emu: Emulator):
    """--page-size 2: every page holds at most 2 items, whatever the caller asks for."""
    iam, ddb = emu.client("iam"), emu.client("dynamodb")
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {
        "Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
    doc = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}]})
    iam.create_role(RoleName="paged", AssumeRolePolicyDocument=trust)
    for i in range(5):
        iam.put_role_policy(RoleName="paged", PolicyName=f"inline{i}", PolicyDocument=doc)
        arn = iam.create_policy(PolicyName=f"managed{i}", PolicyDocument=doc)["Policy"]["Arn"]
        iam.attach_role_policy(RoleName="paged", PolicyArn=arn)
    pages = all_pages(iam.list_role_policies, "PolicyNames", "Marker", "Marker", RoleName="paged")
    eq([len(p) for p in pages], [2, 2, 1], "ListRolePolicies pages")
    eq(sorted(n for p in pages for n in p), [f"inline{i}" for i in range(5)], "inline names")
    pages = all_pages(iam.list_attached_role_policies, "AttachedPolicies", "Marker", "Marker", RoleName="paged")
    eq([len(p) for p in pages], [2, 2, 1], "ListAttachedRolePolicies pages")
    # a page that ends exactly at the last item is not truncated
    iam.detach_role_policy(RoleName="paged", PolicyArn=f"arn:aws:iam::{ACCOUNT}:policy/managed4")
    pages = all_pages(iam.list_attached_role_policies, "AttachedPolicies", "Marker", "Marker",
                      RoleName="paged", MaxItems=100)
    eq([len(p) for p in pages], [2, 2], "no empty last page")

    shared = f"arn:aws:iam::{ACCOUNT}:policy/managed0"
    for v in range(3):
        iam.create_policy_version(PolicyArn=shared, PolicyDocument=doc, SetAsDefault=False)
    pages = all_pages(iam.list_policy_versions, "Versions", "Marker", "Marker", PolicyArn=shared)
    eq([[v["VersionId"] for v in p] for p in pages], [["v1", "v2"], ["v3", "v4"]], "ListPolicyVersions pages")
    for i in range(3):
        iam.create_role(RoleName=f"user-of-{i}", AssumeRolePolicyDocument=trust)
        iam.attach_role_policy(RoleName=f"user-of-{i}", PolicyArn=shared)
    iam.create_group(GroupName="g")
    iam.attach_group_policy(GroupName="g", PolicyArn=shared)
    pages = all_pages(iam.list_entities_for_policy,
                      lambda o: [g["GroupName"] for g in o["PolicyGroups"]] + [r["RoleName"] for r in o["PolicyRoles"]],
                      "Marker", "Marker", PolicyArn=shared)
    eq(pages, [["g", "paged"], ["user-of-0", "user-of-1"], ["user-of-2"]], "ListEntitiesForPolicy pages")
    pages = all_pages(iam.list_entities_for_policy, lambda o: [r["RoleName"] for r in o["PolicyRoles"]],
                      "Marker", "Marker", PolicyArn=shared, EntityFilter="Role")
    eq(pages, [["paged", "user-of-0"], ["user-of-1", "user-of-2"]], "EntityFilter=Role")

    for i in range(5):
        emu.client("cognito-identity").create_identity_pool(IdentityPoolName=f"p{i}", AllowUnauthenticatedIdentities=False)
    pages = all_pages(emu.client("cognito-identity").list_identity_pools, "IdentityPools",
                      "NextToken", "NextToken", MaxResults=60)
    eq([len(p) for p in pages], [2, 2, 1], "ListIdentityPools capped")

    ddb.create_table(TableName="tagged", BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                     Tags=[{"Key": f"k{i}", "Value": str(i)} for i in range(5)])
    arn = ddb.describe_table(TableName="tagged")["Table"]["TableArn"]
    pages = all_pages(ddb.list_tags_of_resource, "Tags", "NextToken", "NextToken", ResourceArn=arn)
    eq([[t["Key"] for t in p] for p in pages], [["k0", "k1"], ["k2", "k3"], ["k4"]], "ListTagsOfResource")

    idp = emu.client("cognito-idp")
    for i in range(3):
        pool = idp.create_user_pool(PoolName=f"up{i}")["UserPool"]["Id"]
    for i in range(3):
        idp.create_user_pool_client(UserPoolId=pool, ClientName=f"c{i}")
    pages = all_pages(idp.list_user_pools, "UserPools", "NextToken", "NextToken", MaxResults=60)
    eq([len(p) for p in pages], [2, 1], "ListUserPools capped")
    pages = all_pages(idp.list_user_pool_clients, "UserPoolClients", "NextToken", "NextToken",
                      UserPoolId=pool, MaxResults=60)
    eq([len(p) for p in pages], [2, 1], "ListUserPoolClients capped")
    eq(error_of(emu.client("cognito-idp", validate=False).list_user_pools, MaxResults=61)[0],
       "InvalidParameterException", "ListUserPools MaxResults 61")


# --------------------------------------------------------------------------
# C. User pools people actually have
# --------------------------------------------------------------------------

STRICT = {"PasswordPolicy": {"MinimumLength": 12, "RequireUppercase": True, "RequireLowercase": True,
                             "RequireNumbers": True, "RequireSymbols": True}}


def test_user_pools(emu: Emulator):
    idp = emu.client("cognito-idp")

    def create(username, pool, **kw):
        return idp.admin_create_user(UserPoolId=pool, Username=username, MessageAction="SUPPRESS", **kw)

    def invalid(pool, username, message, **kw):
        code, got, _ = error_of(create, username, pool, **kw)
        eq((code, got), ("InvalidParameterException", message), f"AdminCreateUser {username}")

    email_pool = idp.create_user_pool(
        PoolName="by-email", UsernameAttributes=["email"], Policies=STRICT,
        Schema=[{"Name": "email", "AttributeDataType": "String", "Required": True, "Mutable": True},
                {"Name": "name", "AttributeDataType": "String", "Required": True, "Mutable": True},
                {"Name": "birthdate", "AttributeDataType": "String", "Required": True, "Mutable": True,
                 "StringAttributeConstraints": {"MinLength": "10", "MaxLength": "10"}},
                {"Name": "tenant", "AttributeDataType": "String", "Mutable": True,
                 "StringAttributeConstraints": {"MinLength": "3", "MaxLength": "8"}}])["UserPool"]["Id"]
    invalid(email_pool, "plainuser", "Username should be an email.")
    invalid(email_pool, "t@example.invalid",
            "Attributes did not conform to the schema: name: The attribute is required\n"
            "birthdate: The attribute is required\n")
    invalid(email_pool, "t@example.invalid",
            "Attributes did not conform to the schema: custom:nope: Attribute does not exist in the schema.\n",
            UserAttributes=[{"Name": "name", "Value": "T"}, {"Name": "birthdate", "Value": "2000-01-01"},
                            {"Name": "custom:nope", "Value": "x"}])
    invalid(email_pool, "t@example.invalid",
            "Attributes did not conform to the schema: birthdate: String must be between 10 and 10 characters long\n",
            UserAttributes=[{"Name": "name", "Value": "T"}, {"Name": "birthdate", "Value": "2000-1-1"}])
    invalid(email_pool, "t@example.invalid",
            "Attributes did not conform to the schema: custom:tenant: String must be between 3 and 8 characters long\n",
            UserAttributes=[{"Name": "name", "Value": "T"}, {"Name": "birthdate", "Value": "2000-01-01"},
                            {"Name": "custom:tenant", "Value": "xy"}])
    user = create("t@example.invalid", email_pool, UserAttributes=[
        {"Name": "name", "Value": "Test User"}, {"Name": "birthdate", "Value": "2000-01-01"},
        {"Name": "email_verified", "Value": "true"}, {"Name": "custom:tenant", "Value": "acme"}])["User"]
    attrs = {a["Name"]: a["Value"] for a in user["Attributes"]}
    eq(attrs.get("email"), "t@example.invalid", "email filled from the username")
    for password, problem in (("Sh0rt!", "Password not long enough"),
                              ("alllowercase1!", "Password must have uppercase characters"),
                              ("ALLUPPERCASE1!", "Password must have lowercase characters"),
                              ("NoNumbersHere!", "Password must have numeric characters"),
                              ("NoSymbols12345", "Password must have symbol characters")):
        code, message, _ = error_of(idp.admin_set_user_password, UserPoolId=email_pool,
                                    Username="t@example.invalid", Password=password, Permanent=True)
        eq((code, message), ("InvalidPasswordException", f"Password did not conform with policy: {problem}"),
           f"password {password}")
    idp.admin_set_user_password(UserPoolId=email_pool, Username="t@example.invalid",
                                Password="Str0ng!Passw0rd", Permanent=True)
    client = idp.create_user_pool_client(UserPoolId=email_pool, ClientName="app",
                                         ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"])["UserPoolClient"]["ClientId"]
    auth = idp.initiate_auth(ClientId=client, AuthFlow="USER_PASSWORD_AUTH",
                             AuthParameters={"USERNAME": "t@example.invalid", "PASSWORD": "Str0ng!Passw0rd"})
    eq("IdToken" in auth.get("AuthenticationResult", {}), True, "sign-in with the email")
    schema = {a["Name"]: a for a in idp.describe_user_pool(UserPoolId=email_pool)["UserPool"]["SchemaAttributes"]}
    eq((schema["sub"]["Required"], "phone_number" in schema, schema["name"]["Required"]),
       (True, True, True), "DescribeUserPool lists every standard attribute")

    phone_pool = idp.create_user_pool(PoolName="by-phone", UsernameAttributes=["phone_number"])["UserPool"]["Id"]
    invalid(phone_pool, "plainuser", "Username should be a phone number.")
    create("+15555550100", phone_pool)
    both = idp.create_user_pool(PoolName="by-both", UsernameAttributes=["email", "phone_number"])["UserPool"]["Id"]
    invalid(both, "plainuser", "Username should be either an email or a phone number.")
    alias_pool = idp.create_user_pool(PoolName="alias", AliasAttributes=["email"])["UserPool"]["Id"]
    invalid(alias_pool, "a@example.invalid",
            "Username cannot be of email format, since user pool is configured for email alias.")
    create("plainuser", alias_pool, UserAttributes=[{"Name": "email", "Value": "a@example.invalid"}])
    invalid(alias_pool, "other", "Attributes did not conform to the schema: email: Invalid email address format.\n",
            UserAttributes=[{"Name": "email", "Value": "not-an-email"}])
    code, message, _ = error_of(idp.create_user_pool, PoolName="req-custom", Schema=[
        {"Name": "tenant", "AttributeDataType": "String", "Required": True}])
    eq((code, message), ("InvalidParameterException", "Required custom attributes are not supported currently."),
       "required custom attribute")


# --------------------------------------------------------------------------

def main() -> int:
    started = time.monotonic()
    emulators = [Emulator(), Emulator("--page-size", "2")]
    plain, capped = (e.wait_ready() for e in emulators)
    tests = [("A enforcement", lambda: test_enforcement(plain)),
             ("A resource-based policies", lambda: test_resource_policies(plain)),
             ("A permissions boundary", lambda: test_boundary(plain)),
             ("A refuses to start without the simulator", test_refuses_without_simulator),
             ("B paging at AWS limits", lambda: test_paging_aws_limits(plain)),
             ("B paging with --page-size 2", lambda: test_paging_capped(capped)),
             ("C user pools", lambda: test_user_pools(plain))]
    try:
        return run_cases(tests, started)
    finally:
        for e in emulators:
            e.stop()


if __name__ == "__main__":
    sys.exit(main())
