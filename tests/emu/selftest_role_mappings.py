#!/usr/bin/env python3
"""Self-test of tests/emu/role_mappings.py (issue 25): the role GetCredentialsForIdentity chooses.

Starts a launcher on loopback and checks with boto3: user pool tokens carry cognito:groups (in
precedence order), cognito:roles and cognito:preferred_role (A); a Rules mapping for the login's
provider:client gives a group's members the group's role (GetCallerIdentity names it), the first
matching rule wins, a non-member gets the authenticated role, Deny refuses, a mapping for another
app client is not used, NotEqual/StartsWith/Equals on claims (B); a Token mapping uses
cognito:preferred_role, CustomRoleArn picks among cognito:roles and is never ignored (C); a mapped
role whose trust does not admit the pool is refused with InvalidIdentityPoolConfigurationException
(D); IAM is enforced with the chosen role's policy (E); realistic mode's propagation delay applies
to a new mapped role (F); SetIdentityPoolRoles requires AmbiguousRoleResolution and valid rules,
at most 25 (G).
Run: python3 tests/emu/selftest_role_mappings.py   (exit 1 on any failure; about 10 s).
"""

import base64
import json
import sys
import time

from botocore.exceptions import ClientError

from selftest_support import (REGION, Launcher, check, eq, error, run_cases_then_stop,
                              sleep_until, within)

ACCOUNT = "123456789012"
OPERATOR = ("AKIDOPERATOR0000", "secret")
PASSWORD = "Passw0rd!x"
INVALID = "Invalid identity pool configuration. Check assigned IAM roles for this pool."


def trust_for(pool_id: str, aud: str | None = None) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Federated": "cognito-identity.amazonaws.com"},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {"cognito-identity.amazonaws.com:aud": aud or pool_id},
                      "ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": "authenticated"}}}]})


def claims_of(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


class Stack:
    """A user pool with two app clients and groups, an identity pool trusting both clients, an
    authenticated role and one role per group (each trusting the pool)."""

    def __init__(self, emu: Launcher, name: str, groups=(("admins", 1), ("support", 2), ("staff", None))):
        self.emu, self.name = emu, name
        self.idp, self.ident, self.iam, self.ddb = (
            emu.client(s) for s in ("cognito-idp", "cognito-identity", "iam", "dynamodb"))
        self.user_pool = self.idp.create_user_pool(PoolName=f"{name}-users")["UserPool"]["Id"]
        self.clients = [self.idp.create_user_pool_client(
            UserPoolId=self.user_pool, ClientName=c, ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"]
        )["UserPoolClient"]["ClientId"] for c in ("web", "other")]
        self.provider = f"cognito-idp.{REGION}.amazonaws.com/{self.user_pool}"
        self.pool_id = self.ident.create_identity_pool(
            IdentityPoolName=f"{name}_ids", AllowUnauthenticatedIdentities=False,
            CognitoIdentityProviders=[{"ProviderName": self.provider, "ClientId": c}
                                      for c in self.clients])["IdentityPoolId"]
        self.roles = {"auth": self.role("auth")}
        for group, precedence in groups:
            self.roles[group] = self.role(group)
            kwargs = {"Precedence": precedence} if precedence is not None else {}
            self.idp.create_group(UserPoolId=self.user_pool, GroupName=group, **kwargs)

    def role(self, short: str, trust: str | None = None) -> str:
        return self.iam.create_role(RoleName=f"{self.name}-{short}",
                                    AssumeRolePolicyDocument=trust or trust_for(self.pool_id))["Role"]["Arn"]

    def user(self, name: str, *groups: str):
        self.idp.admin_create_user(UserPoolId=self.user_pool, Username=name, MessageAction="SUPPRESS")
        self.idp.admin_set_user_password(UserPoolId=self.user_pool, Username=name, Password=PASSWORD,
                                         Permanent=True)
        for g in groups:
            self.idp.admin_add_user_to_group(UserPoolId=self.user_pool, Username=name, GroupName=g)

    def token(self, user: str, client: int = 0) -> str:
        return self.idp.initiate_auth(ClientId=self.clients[client], AuthFlow="USER_PASSWORD_AUTH",
                                      AuthParameters={"USERNAME": user, "PASSWORD": PASSWORD}
                                      )["AuthenticationResult"]["IdToken"]

    def map(self, mappings: dict):
        self.ident.set_identity_pool_roles(IdentityPoolId=self.pool_id,
                                           Roles={"authenticated": self.roles["auth"]},
                                           RoleMappings=mappings)

    def rules(self, *groups: str, client: int = 0, ambiguous="AuthenticatedRole", claim="cognito:groups",
              match="Contains") -> dict:
        return {f"{self.provider}:{self.clients[client]}": {
            "Type": "Rules", "AmbiguousRoleResolution": ambiguous,
            "RulesConfiguration": {"Rules": [{"Claim": claim, "MatchType": match, "Value": g,
                                              "RoleARN": self.roles[g]} for g in groups]}}}

    def credentials(self, user: str, client: int = 0, **extra):
        logins = {self.provider: self.token(user, client)}
        identity = self.ident.get_id(IdentityPoolId=self.pool_id, Logins=logins)["IdentityId"]
        c = self.ident.get_credentials_for_identity(IdentityId=identity, Logins=logins, **extra)["Credentials"]
        return c["AccessKeyId"], c["SecretKey"], c["SessionToken"]

    def refused(self, user: str, code: str, message: str, client: int = 0, **extra):
        logins = {self.provider: self.token(user, client)}
        identity = self.ident.get_id(IdentityPoolId=self.pool_id, Logins=logins)["IdentityId"]
        error(self.ident.get_credentials_for_identity, code, message, IdentityId=identity,
              Logins=logins, **extra)

    def caller_role(self, user: str, client: int = 0, **extra) -> str:
        """The role name in the assumed-role ARN GetCallerIdentity answers for the user's credentials."""
        arn = self.emu.client("sts", creds=self.credentials(user, client, **extra)).get_caller_identity()["Arn"]
        prefix = f"arn:aws:sts::{ACCOUNT}:assumed-role/"
        check(arn.startswith(prefix) and arn.endswith("/CognitoIdentityCredentials"), f"assumed-role ARN: {arn}")
        return arn[len(prefix):].split("/")[0]


def test_token_claims(emu: Launcher):
    st = Stack(emu, "claims")
    st.user("ann", "staff", "support", "admins")
    st.user("nobody")
    claims = claims_of(st.token("ann"))
    eq(claims.get("cognito:groups"), ["admins", "support", "staff"], "cognito:groups by precedence")
    eq(claims_of(st.token("nobody")).get("cognito:groups"), None, "no groups, no claim")
    # roles come from the groups' RoleArn; the preferred role is the best-precedence group's
    st.idp.update_group(UserPoolId=st.user_pool, GroupName="support", RoleArn=st.roles["support"])
    st.idp.update_group(UserPoolId=st.user_pool, GroupName="staff", RoleArn=st.roles["staff"])
    claims = claims_of(st.token("ann"))
    eq(claims.get("cognito:roles"), [st.roles["support"], st.roles["staff"]], "cognito:roles")
    eq(claims.get("cognito:preferred_role"), st.roles["support"], "preferred role")
    st.idp.update_group(UserPoolId=st.user_pool, GroupName="staff", Precedence=2)  # a tie, other role
    check("cognito:preferred_role" not in claims_of(st.token("ann")), "a tie of two roles: no preferred role")


def test_rules(emu: Launcher):
    st = Stack(emu, "rules")
    st.user("ada", "admins")
    st.user("sue", "support")
    st.user("both", "support", "admins")
    st.user("joe")
    st.map(st.rules("admins", "support"))
    eq(st.caller_role("ada"), "rules-admins", "an admins member")
    eq(st.caller_role("sue"), "rules-support", "a support member")
    eq(st.caller_role("both"), "rules-admins", "two groups: the first matching rule")
    eq(st.caller_role("joe"), "rules-auth", "no group: AuthenticatedRole")
    st.map(st.rules("support", "admins"))
    eq(st.caller_role("both"), "rules-support", "rule order, not group precedence")
    # a mapping for another app client is not used
    st.map(st.rules("admins", client=1))
    eq(st.caller_role("ada"), "rules-auth", "mapping of the other client, signed in with web")
    eq(st.caller_role("ada", client=1), "rules-admins", "signed in with the mapped client")
    # Deny
    st.map(st.rules("admins", ambiguous="Deny"))
    eq(st.caller_role("ada"), "rules-admins", "Deny: a match still gets its role")
    st.refused("joe", "NotAuthorizedException",
               f"The ambiguous role mapping rules for: {st.provider} denied this request.")
    # other match types on plain claims
    mapping = st.rules("admins")
    key = next(iter(mapping))
    mapping[key]["RulesConfiguration"]["Rules"] = [
        {"Claim": "cognito:username", "MatchType": "Equals", "Value": "sue", "RoleARN": st.roles["support"]},
        {"Claim": "cognito:username", "MatchType": "StartsWith", "Value": "bo", "RoleARN": st.roles["staff"]},
        {"Claim": "custom:missing", "MatchType": "NotEqual", "Value": "x", "RoleARN": st.roles["admins"]}]
    st.map(mapping)
    eq(st.caller_role("sue"), "rules-support", "Equals")
    eq(st.caller_role("both"), "rules-staff", "StartsWith")
    eq(st.caller_role("joe"), "rules-auth", "NotEqual on a missing claim is not evaluated")
    # CustomRoleArn overrides the order among matching rules, and is never ignored
    st.map(st.rules("admins", "support"))
    eq(st.caller_role("both", CustomRoleArn=st.roles["support"]), "rules-support", "CustomRoleArn")
    st.refused("ada", "NotAuthorizedException",
               f"The ambiguous role mapping rules for: {st.provider} denied this request.",
               CustomRoleArn=st.roles["support"])


def test_token_mapping(emu: Launcher):
    st = Stack(emu, "tok")
    st.user("ada", "admins")
    st.user("joe")
    st.idp.update_group(UserPoolId=st.user_pool, GroupName="admins", RoleArn=st.roles["admins"])
    mapping = {f"{st.provider}:{st.clients[0]}": {"Type": "Token", "AmbiguousRoleResolution": "Deny"}}
    st.map(mapping)
    eq(st.caller_role("ada"), "tok-admins", "cognito:preferred_role")
    st.refused("joe", "NotAuthorizedException",
               f"The ambiguous role mapping rules for: {st.provider} denied this request.")
    st.refused("ada", "NotAuthorizedException",
               f"The ambiguous role mapping rules for: {st.provider} denied this request.",
               CustomRoleArn=st.roles["support"])
    mapping[next(iter(mapping))]["AmbiguousRoleResolution"] = "AuthenticatedRole"
    st.map(mapping)
    eq(st.caller_role("joe"), "tok-auth", "no role claims: AuthenticatedRole")
    # without any mapping, a CustomRoleArn other than the authenticated role is refused
    st.map({})
    eq(st.caller_role("ada", CustomRoleArn=st.roles["auth"]), "tok-auth", "CustomRoleArn = the default")
    st.refused("ada", "NotAuthorizedException",
               f"The ambiguous role mapping rules for: {st.provider} denied this request.",
               CustomRoleArn=st.roles["admins"])


def test_mapped_role_trust(emu: Launcher):
    st = Stack(emu, "trust")
    st.user("ada", "admins")
    st.user("joe")
    st.map(st.rules("admins"))
    st.iam.update_assume_role_policy(RoleName="trust-admins",
                                     PolicyDocument=trust_for(st.pool_id, aud="us-east-1:00000000-0000-0000-0000-000000000000"))
    st.refused("ada", "InvalidIdentityPoolConfigurationException", INVALID)
    eq(st.caller_role("joe"), "trust-auth", "the default role is unaffected")
    st.iam.update_assume_role_policy(RoleName="trust-admins", PolicyDocument=trust_for(st.pool_id))
    eq(st.caller_role("ada"), "trust-admins", "trust repaired")
    # a rule naming a role that does not exist
    gone = f"arn:aws:iam::{ACCOUNT}:role/trust-gone"
    mapping = st.rules("admins")
    mapping[next(iter(mapping))]["RulesConfiguration"]["Rules"][0]["RoleARN"] = gone
    st.map(mapping)
    st.refused("ada", "InvalidIdentityPoolConfigurationException", INVALID)


def test_enforced_with_group_role(emu: Launcher):
    st = Stack(emu, "enf")
    st.user("ada", "admins")
    st.user("joe")
    table = "enf-table"
    st.ddb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
    table_arn = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{table}"
    doc = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["dynamodb:Scan"], "Resource": table_arn}]})
    policy = st.iam.create_policy(PolicyName="enf-admins-scan", PolicyDocument=doc)["Policy"]["Arn"]
    st.iam.attach_role_policy(RoleName="enf-admins", PolicyArn=policy)
    st.map(st.rules("admins"))
    eq(emu.client("dynamodb", creds=st.credentials("ada")).scan(TableName=table)["Count"], 0, "admins Scan")
    try:
        emu.client("dynamodb", creds=st.credentials("joe")).scan(TableName=table)
        raise AssertionError("a non-member's Scan succeeded")
    except ClientError as e:
        eq(e.response["Error"]["Code"], "AccessDeniedException", "non-member Scan")
        check("assumed-role/enf-auth/" in e.response["Error"]["Message"], e.response["Error"]["Message"])
    try:
        emu.client("dynamodb", creds=st.credentials("ada")).get_item(TableName=table, Key={"pk": {"S": "x"}})
        raise AssertionError("an action outside the admins policy succeeded")
    except ClientError as e:
        eq(e.response["Error"]["Code"], "AccessDeniedException", "admins GetItem")
        check("assumed-role/enf-admins/" in e.response["Error"]["Message"], e.response["Error"]["Message"])


def test_realistic_propagation(emu: Launcher):
    st = Stack(emu, "prop")
    st.user("ada", "admins")
    window = 1.5
    eq(emu.request("POST", "/_setup/realistic", {"iam_propagation": window})[0], 200, "set window")
    try:
        st.roles["late"] = st.role("late")
        t0 = time.monotonic()
        mapping = st.rules("admins")
        mapping[next(iter(mapping))]["RulesConfiguration"]["Rules"][0]["RoleARN"] = st.roles["late"]
        st.map(mapping)
        st.refused("ada", "InvalidIdentityPoolConfigurationException", INVALID)
        within(t0, window, "propagation check of the mapped role")
        sleep_until(t0, window)
        eq(st.caller_role("ada"), "prop-late", "after the propagation window")
    finally:
        emu.request("POST", "/_setup/realistic", {"iam_propagation": 0})


def test_set_roles_validation(emu: Launcher):
    st = Stack(emu, "val", groups=(("admins", 1),))
    mapping = st.rules("admins")
    key = next(iter(mapping))
    del mapping[key]["AmbiguousRoleResolution"]
    error(st.map, "InvalidParameterException", mappings=mapping)
    mapping = st.rules("admins")
    rules = mapping[key]["RulesConfiguration"]["Rules"]
    rules *= 26
    error(st.map, "InvalidParameterException", mappings=mapping)  # at most 25 rules
    del rules[25:]
    st.map(mapping)
    rules[0] = dict(rules[0], MatchType="Like")
    error(st.map, "InvalidParameterException", mappings=mapping)


def main() -> int:
    started = time.monotonic()
    emu = Launcher(creds=OPERATOR).wait_ready()
    tests = [("A token group claims", lambda: test_token_claims(emu)),
             ("B rules", lambda: test_rules(emu)),
             ("C token mappings and CustomRoleArn", lambda: test_token_mapping(emu)),
             ("D a mapped role's trust", lambda: test_mapped_role_trust(emu)),
             ("E IAM enforced with the group role", lambda: test_enforced_with_group_role(emu)),
             ("F realistic propagation of a mapped role", lambda: test_realistic_propagation(emu)),
             ("G AmbiguousRoleResolution and rules are validated", lambda: test_set_roles_validation(emu))]
    return run_cases_then_stop(emu, tests, started)


if __name__ == "__main__":
    sys.exit(main())
