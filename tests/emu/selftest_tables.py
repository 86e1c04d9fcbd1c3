"""DynamoDB table helpers of the emulator's self-tests, and the self-tests of the table options
(tests/emu/table_options.py), which tests/emu/selftest_realistic.py runs.
"""

import time

from botocore.exceptions import ClientError

from selftest_support import check, eq, error, sleep_until, within


def table_args(name: str, billing: str = "PAY_PER_REQUEST", tags=None):
    args = {"TableName": name, "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
            "BillingMode": billing}
    if billing == "PROVISIONED":
        args["ProvisionedThroughput"] = {"ReadCapacityUnits": 1, "WriteCapacityUnits": 1}
    if tags:
        args["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
    return args


def status(ddb, name: str) -> str:
    return ddb.describe_table(TableName=name)["Table"]["TableStatus"]


def tags_of(ddb, arn: str) -> dict:
    return {t["Key"]: t["Value"] for t in ddb.list_tags_of_resource(ResourceArn=arn)["Tags"]}


def wait_active(ddb, name: str, timeout: float = 10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if status(ddb, name) == "ACTIVE":
                return
        except ClientError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"table {name} never became ACTIVE")


# -- table options (tests/emu/table_options.py) -------------------------------------------

def gsi_create(name: str, key: str) -> dict:
    return {"Create": {"IndexName": name, "KeySchema": [{"AttributeName": key, "KeyType": "HASH"}],
                       "Projection": {"ProjectionType": "ALL"}}}


def defs(*names: str) -> list:
    return [{"AttributeName": n, "AttributeType": "S"} for n in names]


def test_table_options_always(emu):
    """SSE and table class kept, one index change at a time, definitions of the keys in use,
    the TTL rules, KMS keys as AWS makes them (fast mode: no windows)."""
    ddb, kms = emu.client("dynamodb"), emu.client("kms")
    key = kms.create_key()["KeyMetadata"]
    eq((key["KeyUsage"], key["KeySpec"]), ("ENCRYPT_DECRYPT", "SYMMETRIC_DEFAULT"), "CreateKey defaults")
    kms.create_alias(AliasName="alias/opts", TargetKeyId=key["KeyId"])
    args = table_args("opts")
    args["SSESpecification"] = {"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": "alias/opts"}
    args["TableClass"] = "STANDARD_INFREQUENT_ACCESS"
    t = ddb.create_table(**args)["TableDescription"]
    eq(t["SSEDescription"]["KMSMasterKeyArn"], key["Arn"], "CreateTable: the alias as the key ARN")
    eq(t["TableClassSummary"], {"TableClass": "STANDARD_INFREQUENT_ACCESS"}, "CreateTable class")
    ddb.update_table(TableName="opts", SSESpecification={"Enabled": True, "SSEType": "KMS"})
    managed = ddb.describe_table(TableName="opts")["Table"]["SSEDescription"]["KMSMasterKeyArn"]
    eq(kms.describe_key(KeyId=managed)["KeyMetadata"]["KeyManager"], "AWS", "alias/aws/dynamodb")
    eq(kms.describe_key(KeyId="alias/aws/dynamodb")["KeyMetadata"]["Arn"], managed, "managed key")
    ddb.update_table(TableName="opts", SSESpecification={"Enabled": False}, TableClass="STANDARD")
    t = ddb.describe_table(TableName="opts")["Table"]
    check("SSEDescription" not in t, f"AWS owned key: no SSEDescription: {t}")
    eq(t["TableClassSummary"], {"TableClass": "STANDARD"}, "UpdateTable class")
    kms.disable_key(KeyId=key["Arn"])
    eq(kms.describe_key(KeyId="alias/opts")["KeyMetadata"]["KeyState"], "Disabled", "DisableKey by ARN")

    error(ddb.update_table, "LimitExceededException",
          "Subscriber limit exceeded: Only 1 online index can be created or deleted simultaneously per table",
          TableName="opts", AttributeDefinitions=defs("pk", "a", "b"),
          GlobalSecondaryIndexUpdates=[gsi_create("byA", "a"), gsi_create("byB", "b")])
    err = error(ddb.update_table, "ValidationException", TableName="opts",
                GlobalSecondaryIndexUpdates=[gsi_create("byA", "a")])
    check("Some index key attributes are not defined in AttributeDefinitions" in err["Message"], err)
    ddb.update_table(TableName="opts", AttributeDefinitions=defs("pk", "a"),
                     GlobalSecondaryIndexUpdates=[gsi_create("byA", "a")])
    ddb.update_table(TableName="opts", GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": "byA"}}])
    t = ddb.describe_table(TableName="opts")["Table"]
    eq(t.get("GlobalSecondaryIndexes", []), [], "index deleted at once in fast mode")
    eq(t["AttributeDefinitions"], defs("pk"), "definitions of the keys in use only")

    ddb.update_table(TableName="opts", AttributeDefinitions=defs("pk", "a"),
                     GlobalSecondaryIndexUpdates=[gsi_create("byA", "a")])
    capacity = {"ReadCapacityUnits": 1, "WriteCapacityUnits": 1}
    error(ddb.update_table, "ValidationException",
          "One or more parameter values were invalid: ProvisionedThroughput must be specified for index: byA",
          TableName="opts", BillingMode="PROVISIONED", ProvisionedThroughput=capacity)
    ddb.update_table(TableName="opts", BillingMode="PROVISIONED", ProvisionedThroughput=capacity,
                     GlobalSecondaryIndexUpdates=[{"Update": {"IndexName": "byA",
                                                              "ProvisionedThroughput": capacity}}])

    ttl = {"AttributeName": "exp", "Enabled": True}
    error(ddb.update_time_to_live, "ValidationException", "TimeToLive is already disabled",
          TableName="opts", TimeToLiveSpecification={"AttributeName": "exp", "Enabled": False})
    ddb.update_time_to_live(TableName="opts", TimeToLiveSpecification=ttl)
    error(ddb.update_time_to_live, "ValidationException", "TimeToLive is already enabled",
          TableName="opts", TimeToLiveSpecification=ttl)
    error(ddb.update_time_to_live, "ValidationException",
          "TimeToLive is active on a different AttributeName",
          TableName="opts", TimeToLiveSpecification={"AttributeName": "other", "Enabled": True})
    ddb.update_time_to_live(TableName="opts", TimeToLiveSpecification={**ttl, "Enabled": False})
    eq(ddb.describe_time_to_live(TableName="opts")["TimeToLiveDescription"],
       {"TimeToLiveStatus": "DISABLED"}, "disabled TTL: no AttributeName")


def test_table_options_realistic(emu, W: dict):
    """index_creating, index_deleting and ttl_interval (their windows in W, in seconds)."""
    ddb = emu.client("dynamodb")
    ddb.create_table(**table_args("idx"))
    wait_active(ddb, "idx")
    t0 = time.monotonic()
    ddb.update_table(TableName="idx", AttributeDefinitions=defs("pk", "a"),
                     GlobalSecondaryIndexUpdates=[gsi_create("byA", "a")])
    index = ddb.describe_table(TableName="idx")["Table"]["GlobalSecondaryIndexes"][0]
    eq((index["IndexStatus"], index.get("Backfilling")), ("CREATING", True), "new index")
    within(t0, W["index_creating"], "CREATING check")
    sleep_until(t0, max(W["index_creating"], W["table_updating"]))
    error(ddb.update_time_to_live, "ValidationException", None, TableName="idx",
          TimeToLiveSpecification={"AttributeName": "exp", "Enabled": False})
    eq(ddb.describe_table(TableName="idx")["Table"]["GlobalSecondaryIndexes"][0]["IndexStatus"],
       "ACTIVE", "index after the window")
    t1 = time.monotonic()
    ddb.update_table(TableName="idx", GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": "byA"}}])
    index = ddb.describe_table(TableName="idx")["Table"]["GlobalSecondaryIndexes"][0]
    eq((index["IndexName"], index["IndexStatus"]), ("byA", "DELETING"), "deleted index")
    error(ddb.update_table, "LimitExceededException", None, TableName="idx",
          AttributeDefinitions=defs("pk", "b"), GlobalSecondaryIndexUpdates=[gsi_create("byB", "b")])
    within(t1, W["index_deleting"], "DELETING checks")
    sleep_until(t1, max(W["index_deleting"], W["table_updating"]))
    eq(ddb.describe_table(TableName="idx")["Table"].get("GlobalSecondaryIndexes", []), [],
       "index gone after the window")

    ttl = {"AttributeName": "exp", "Enabled": True}
    t2 = time.monotonic()
    ddb.update_time_to_live(TableName="idx", TimeToLiveSpecification=ttl)
    error(ddb.update_time_to_live, "ValidationException",
          "Time to live has been modified multiple times within a fixed interval",
          TableName="idx", TimeToLiveSpecification={**ttl, "Enabled": False})
    within(t2, W["ttl_interval"], "TTL interval check")
    sleep_until(t2, W["ttl_interval"])
    ddb.update_time_to_live(TableName="idx", TimeToLiveSpecification={**ttl, "Enabled": False})
