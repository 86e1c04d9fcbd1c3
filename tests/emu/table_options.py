"""The table options moto lacks or gets wrong (always on), and their delays in realistic mode.

Always (fidelity fixes):
  SSE               UpdateTable's SSESpecification is applied (moto ignores it): Enabled false ->
                    the AWS owned key (no SSEDescription); KMS without a key -> the AWS managed key
                    alias/aws/dynamodb; KMS with KMSMasterKeyId (key id, key ARN, alias, alias ARN)
                    -> that key. DescribeTable's KMSMasterKeyArn is always the key's ARN (moto
                    echoes what CreateTable was given). The alias/aws/dynamodb key moto creates is
                    KeyManager AWS, as in AWS (moto says CUSTOMER).
  table class       CreateTable's and UpdateTable's TableClass are kept and DescribeTable reports
                    TableClassSummary (moto drops both).
  indexes           One index created or deleted per UpdateTable, and none while another is being
                    created or deleted: LimitExceededException "Subscriber limit exceeded: Only 1
                    online index can be created or deleted simultaneously per table". A new index's
                    key attributes must be in AttributeDefinitions (ValidationException); after an
                    index is deleted, AttributeDefinitions keep only the key attributes in use.
  KMS               CreateKey without KeyUsage / KeySpec makes a symmetric ENCRYPT_DECRYPT key
                    (moto leaves KeyUsage out); DisableKey / EnableKey accept a key ARN (moto
                    answers HTTP 500).
  billing           UpdateTable to PROVISIONED on a PAY_PER_REQUEST table with indexes needs an
                    Update with ProvisionedThroughput for every index in the same call, else
                    ValidationException "One or more parameter values were invalid:
                    ProvisionedThroughput must be specified for index: NAME" (moto accepts it).
  TTL               UpdateTimeToLive to the state it is in -> ValidationException "TimeToLive is
                    already enabled" / "TimeToLive is already disabled"; enabling another attribute
                    while on -> "TimeToLive is active on a different AttributeName"; a disabled
                    TTL is described without AttributeName.

Realistic mode (windows in realistic.py; each off while 0):
  index_creating    an index added by UpdateTable is CREATING (Backfilling) for this long.
  index_deleting    a deleted index stays listed as DELETING for this long.
  ttl_interval      a second UpdateTimeToLive on the table within this long -> ValidationException
                    "Time to live has been modified multiple times within a fixed interval"
                    (AWS: about an hour).
"""

import copy

from moto.core.exceptions import JsonRESTError
from moto.core.responses import ActionResult
from moto.dynamodb.exceptions import ERROR_TYPE_PREFIX, MockValidationException
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoHandler, DynamoResult

from emu.realistic import LOCK, now, window


class LimitExceededException(JsonRESTError):
    def __init__(self, message: str):
        super().__init__(ERROR_TYPE_PREFIX + "LimitExceededException", message)


ONE_INDEX = "Subscriber limit exceeded: Only 1 online index can be created or deleted simultaneously per table"
TTL_TOO_SOON = "Time to live has been modified multiple times within a fixed interval"


def _within(t, name: str) -> bool:
    w = window(name)
    return t is not None and w > 0 and now() - t < w


def _events(table: Table) -> dict:
    """Index name -> ("CREATING", time) or ("DELETING", time, description) for this table."""
    if not hasattr(table, "_setup_index_events"):
        table._setup_index_events = {}
    return table._setup_index_events


def _busy_index(table: Table) -> str | None:
    for name, event in _events(table).items():
        if event[0] == "CREATING" and _within(event[1], "index_creating"):
            return name
        if event[0] == "DELETING" and _within(event[1], "index_deleting"):
            return name
    return None


def _kms(table: Table):
    from moto.kms import kms_backends

    return kms_backends[table.account_id][table.region_name]


def _key_arn(table: Table, key_id: str) -> str:
    """The ARN of the key that key_id (key id, key ARN, alias name or alias ARN) names."""
    kms = _kms(table)
    try:
        return kms.describe_key(kms.any_id_to_key_id(key_id)).arn
    except Exception:  # noqa: BLE001 - an unknown key: AWS would refuse; keep what was given
        return key_id


def _apply_sse(table: Table, spec: dict | None) -> None:
    if spec is None:
        return
    if not spec.get("Enabled", False):
        table.sse_specification = None
        return
    key = spec.get("KMSMasterKeyId")
    if key:
        arn = _key_arn(table, key)
    else:
        arn = table._get_default_encryption_key(table.account_id, table.region_name)
    table.sse_specification = {"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": arn}


def _used_attributes(table: Table) -> set:
    names = {k["AttributeName"] for k in table.schema}
    for index in list(table.global_indexes) + list(table.indexes):
        names.update(k["AttributeName"] for k in index.schema)
    return names


def _patch_model() -> None:
    original_describe = Table.describe
    original_default_key = Table._get_default_encryption_key

    def describe(self, base_key: str = "TableDescription"):
        out = original_describe(self, base_key)
        desc = out[base_key]
        table_class = getattr(self, "_setup_table_class", None)
        if table_class:
            desc["TableClassSummary"] = {"TableClass": table_class}
        with LOCK:
            events = _events(self)
            for index in desc.get("GlobalSecondaryIndexes") or []:
                event = events.get(index.get("IndexName"))
                if event and event[0] == "CREATING" and _within(event[1], "index_creating"):
                    index["IndexStatus"] = "CREATING"
                    index["Backfilling"] = True
            listed = {i.get("IndexName") for i in desc.get("GlobalSecondaryIndexes") or []}
            for name, event in events.items():
                if event[0] == "DELETING" and name not in listed and _within(event[1], "index_deleting"):
                    ghost = copy.deepcopy(event[2])
                    ghost["IndexStatus"] = "DELETING"
                    desc.setdefault("GlobalSecondaryIndexes", []).append(ghost)
        return out

    def default_key(self, account_id: str, region: str) -> str:
        arn = original_default_key(self, account_id, region)
        try:
            kms = _kms(self)
            kms.describe_key(kms.any_id_to_key_id(arn)).key_manager = "AWS"
        except Exception:  # noqa: BLE001
            pass
        return arn

    Table.describe = describe
    Table._get_default_encryption_key = default_key


def _patch_handler() -> None:
    originals = {name: getattr(DynamoHandler, name) for name in (
        "create_table", "update_table", "update_time_to_live", "describe_time_to_live")}

    def create_table(self):
        result = originals["create_table"](self)
        name = self.body.get("TableName")
        try:
            table = self.dynamodb_backend.get_table(name)
        except Exception:  # noqa: BLE001
            return result
        with LOCK:
            if table.sse_specification and table.sse_specification.get("KMSMasterKeyId"):
                key = table.sse_specification["KMSMasterKeyId"]
                table.sse_specification["KMSMasterKeyId"] = _key_arn(table, key)
            if self.body.get("TableClass"):
                table._setup_table_class = self.body["TableClass"]
        return DynamoResult(table.describe())

    def update_table(self):
        raw = self.body.get("TableName")
        updates = self.body.get("GlobalSecondaryIndexUpdates") or []
        online = [u for u in updates if "Create" in u or "Delete" in u]
        with LOCK:
            try:
                table = self.dynamodb_backend.get_table(raw)
            except Exception:  # noqa: BLE001 - the inner handler gives the right error
                return originals["update_table"](self)
            if len(online) > 1 or (online and _busy_index(table) is not None):
                raise LimitExceededException(ONE_INDEX)
            if self.body.get("BillingMode") == "PROVISIONED" and table.billing_mode == "PAY_PER_REQUEST":
                given = {u["Update"]["IndexName"] for u in updates
                         if "Update" in u and u["Update"].get("ProvisionedThroughput")}
                for index in table.global_indexes:
                    if index.name not in given:
                        raise MockValidationException(
                            "One or more parameter values were invalid: ProvisionedThroughput "
                            f"must be specified for index: {index.name}")
            definitions = {a["AttributeName"] for a in
                           (self.body.get("AttributeDefinitions") or table.attr)}
            for u in online:
                create = u.get("Create")
                if create:
                    missing = [k["AttributeName"] for k in create.get("KeySchema", [])
                               if k["AttributeName"] not in definitions]
                    if missing:
                        raise MockValidationException(
                            "One or more parameter values were invalid: Some index key attributes "
                            f"are not defined in AttributeDefinitions. Keys: {missing}, "
                            f"AttributeDefinitions: {sorted(definitions)}")
            before = {i.name: i.describe() for i in table.global_indexes}
            originals["update_table"](self)
            t = now()
            for u in online:
                if "Create" in u:
                    _events(table)[u["Create"]["IndexName"]] = ("CREATING", t)
                else:
                    name = u["Delete"]["IndexName"]
                    _events(table)[name] = ("DELETING", t, before.get(name, {"IndexName": name}))
            if online:
                # AWS keeps the definitions of the key attributes in use, and only those.
                used = _used_attributes(table)
                table.attr = [a for a in table.attr if a["AttributeName"] in used]
            _apply_sse(table, self.body.get("SSESpecification"))
            if self.body.get("TableClass"):
                table._setup_table_class = self.body["TableClass"]
            return DynamoResult(table.describe())

    def update_time_to_live(self):
        name = self.body.get("TableName")
        spec = self.body.get("TimeToLiveSpecification") or {}
        with LOCK:
            table = self.dynamodb_backend.get_table(name)  # ResourceNotFoundException
            on = table.ttl.get("TimeToLiveStatus") in ("ENABLED", "ENABLING")
            if _within(getattr(table, "_setup_ttl_changed", None), "ttl_interval"):
                raise MockValidationException(TTL_TOO_SOON)
            if spec.get("Enabled") and on:
                if table.ttl.get("AttributeName") != spec.get("AttributeName"):
                    raise MockValidationException("TimeToLive is active on a different AttributeName")
                raise MockValidationException("TimeToLive is already enabled")
            if not spec.get("Enabled") and not on:
                raise MockValidationException("TimeToLive is already disabled")
            result = originals["update_time_to_live"](self)
            table._setup_ttl_changed = now()
            return result

    def describe_time_to_live(self):
        name = self.body.get("TableName")
        with LOCK:
            table = self.dynamodb_backend.get_table(name)  # ResourceNotFoundException
            description = dict(table.ttl)
        if description.get("TimeToLiveStatus") == "DISABLED":
            description.pop("AttributeName", None)
        return ActionResult({"TimeToLiveDescription": description})

    DynamoHandler.create_table = create_table
    DynamoHandler.update_table = update_table
    DynamoHandler.update_time_to_live = update_time_to_live
    DynamoHandler.describe_time_to_live = describe_time_to_live


def _patch_kms() -> None:
    from moto.kms.models import KmsBackend

    original_create = KmsBackend.create_key
    original_disable = KmsBackend.disable_key
    original_enable = KmsBackend.enable_key

    def create_key(self, policy, key_usage, key_spec, *args, **kwargs):
        return original_create(self, policy, key_usage or "ENCRYPT_DECRYPT",
                               key_spec or "SYMMETRIC_DEFAULT", *args, **kwargs)

    def disable_key(self, key_id: str) -> None:
        original_disable(self, self.any_id_to_key_id(key_id))

    def enable_key(self, key_id: str) -> None:
        original_enable(self, self.any_id_to_key_id(key_id))

    KmsBackend.create_key = create_key
    KmsBackend.disable_key = disable_key
    KmsBackend.enable_key = enable_key


_installed = False


def patch() -> None:
    """Applies the patches (idempotent); after realistic.install(), whose handlers these wrap."""
    global _installed
    if _installed:
        return
    _installed = True
    _patch_model()
    _patch_handler()
    _patch_kms()
