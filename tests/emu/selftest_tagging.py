#!/usr/bin/env python3
"""Self-test of the Resource Groups Tagging API as `setup list` and the identity pool lookup rely
on it (tests/emu/tagging.py over moto), against the AWS documentation of GetResources:

  A  TagFilters: a Key alone matches any value, Values narrow it; tables (moto) and identity
     pools (tagging.py) are both returned, with their tags; untagged resources are not.
  B  ResourceTypeFilters: "service" and "service:type" narrow the answer.
  C  Regional: a client in another region sees that region's resources only.
  D  IAM roles and policies tagged the same way are NOT returned: "The GetResources operation
     does not currently support IAM users and roles" (Services that support the Resource Groups
     Tagging API). `setup list` must reach roles another way; this keeps the emulator honest.
  E  Paging: ResourcesPerPage 1..100 (else InvalidParameterException), a PaginationToken on
     every page but the last, whose token is ""; the pages together are the whole answer, each
     resource once; a token that was never issued is refused; ResourceARNList with paging
     parameters is refused.
  F  A deleted table or pool is no longer returned (no index lag unless configured).
Run: python3 tests/emu/selftest_tagging.py   (exit 1 on any failure; a few seconds).
"""

import json
import sys
import time

from selftest_support import Launcher, eq, error, run_cases_then_stop
from selftest_tables import table_args

ACCOUNT = "123456789012"
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Federated": "cognito-identity.amazonaws.com"},
    "Action": "sts:AssumeRoleWithWebIdentity"}]})


def arns(answer) -> list:
    return sorted(m["ResourceARN"] for m in answer["ResourceTagMappingList"])


def main() -> int:
    started = time.monotonic()
    emu = Launcher().wait_ready()
    tag = emu.client("resourcegroupstaggingapi")
    ddb, ci, iam = emu.client("dynamodb"), emu.client("cognito-identity"), emu.client("iam")
    far = emu.client("resourcegroupstaggingapi", region="ca-central-1")
    stack = {"Key": "setup:stack"}

    def table(name: str, tags: dict | None):
        return ddb.create_table(**table_args(name, tags=tags))["TableDescription"]["TableArn"]

    def pool(name: str, tags: dict | None):
        args = {"IdentityPoolName": name, "AllowUnauthenticatedIdentities": False}
        if tags:
            args["IdentityPoolTags"] = tags
        made = ci.create_identity_pool(**args)["IdentityPoolId"]
        return made, f"arn:aws:cognito-identity:us-east-1:{ACCOUNT}:identitypool/{made}"

    a_table = table("a-profiles", {"setup:stack": "a", "team": "x"})
    b_table = table("b-profiles", {"setup:stack": "b"})
    table("plain", None)
    table("other-tag", {"owner": "someone"})
    a_pool_id, a_pool = pool("a_identities", {"setup:stack": "a"})
    pool("untagged", None)
    emu.client("dynamodb", region="ca-central-1").create_table(
        **table_args("far-profiles", tags={"setup:stack": "far"}))
    iam.create_role(RoleName="a-role", AssumeRolePolicyDocument=TRUST,
                    Tags=[{"Key": "setup:stack", "Value": "a"}])
    iam.create_policy(PolicyName="a-policy", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "dynamodb:GetItem",
                                                "Resource": a_table}]}),
        Tags=[{"Key": "setup:stack", "Value": "a"}])

    def tag_filters():
        got = tag.get_resources(TagFilters=[stack])
        eq(arns(got), sorted([a_table, b_table, a_pool]), "Key alone: any value")
        tags = {m["ResourceARN"]: {t["Key"]: t["Value"] for t in m["Tags"]}
                for m in got["ResourceTagMappingList"]}
        eq(tags[a_table], {"setup:stack": "a", "team": "x"}, "a table's tags")
        eq(tags[a_pool], {"setup:stack": "a"}, "a pool's tags")
        eq(got["PaginationToken"], "", "one page: the token is empty")
        got = tag.get_resources(TagFilters=[{"Key": "setup:stack", "Values": ["a"]}])
        eq(arns(got), sorted([a_table, a_pool]), "Values narrow")

    def type_filters():
        for types, want in [(["dynamodb:table"], [a_table, b_table]), (["dynamodb"], [a_table, b_table]),
                            (["cognito-identity:identitypool"], [a_pool]),
                            (["dynamodb:table", "cognito-identity"], [a_table, b_table, a_pool])]:
            got = tag.get_resources(TagFilters=[stack], ResourceTypeFilters=types)
            eq(arns(got), sorted(want), f"ResourceTypeFilters {types}")

    def regional():
        eq(arns(far.get_resources(TagFilters=[stack])),
           [f"arn:aws:dynamodb:ca-central-1:{ACCOUNT}:table/far-profiles"], "ca-central-1's only")

    def no_iam():
        got = tag.get_resources(TagFilters=[{"Key": "setup:stack", "Values": ["a"]}])
        eq([a for a in arns(got) if ":iam:" in a], [], "IAM roles and policies are not returned")
        got = tag.get_resources(TagFilters=[stack], ResourceTypeFilters=["iam"])
        eq(arns(got), [], "not even when asked for")

    def paging():
        seen, token, pages = [], None, 0
        while True:
            args = {"TagFilters": [stack], "ResourcesPerPage": 1}
            if token:
                args["PaginationToken"] = token
            got = tag.get_resources(**args)
            pages += 1
            eq(len(got["ResourceTagMappingList"]), 1, f"page {pages} has one resource")
            seen += arns(got)
            token = got["PaginationToken"]
            if not token:
                break
        eq(pages, 3, "three resources, one a page")
        eq(sorted(seen), sorted([a_table, b_table, a_pool]), "each resource once")
        for bad in (0, 101):
            error(tag.get_resources, "InvalidParameterException", TagFilters=[stack],
                  ResourcesPerPage=bad)
        error(tag.get_resources, "InvalidParameterException", TagFilters=[stack],
              PaginationToken="never-issued")
        error(tag.get_resources, "InvalidParameterException", ResourceARNList=[a_table],
              ResourcesPerPage=10)
        eq(arns(tag.get_resources(ResourceARNList=[a_table, a_pool])), sorted([a_table, a_pool]),
           "ResourceARNList alone")

    def deleted():
        ddb.delete_table(TableName="b-profiles")
        ci.delete_identity_pool(IdentityPoolId=a_pool_id)
        eq(arns(tag.get_resources(TagFilters=[stack])), [a_table], "deleted ones are gone")

    tests = [("A TagFilters", tag_filters), ("B ResourceTypeFilters", type_filters),
             ("C regional", regional), ("D no IAM", no_iam), ("E paging", paging),
             ("F deletions", deleted)]
    return run_cases_then_stop(emu, tests, started)


if __name__ == "__main__":
    sys.exit(main())
