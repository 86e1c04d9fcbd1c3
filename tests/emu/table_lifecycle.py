"""DynamoDB table states and delays, in realistic mode (each behaviour is off while its window is 0).

moto creates, updates and deletes a table at once and always calls it ACTIVE. Real DynamoDB:

  table_invisible   right after CreateTable, DescribeTable / ListTagsOfResource / UpdateTable answer
                    ResourceNotFoundException exactly as for a table that does not exist, and
                    DescribeContinuousBackups / UpdateContinuousBackups answer what they answer for
                    one: TableNotFoundException "Table not found: NAME" (ResourceNotFoundException
                    is not among those two operations' errors).
  table_creating    TableStatus CREATING (in CreateTable's own answer too), then ACTIVE.
  table_updating    UPDATING after each UpdateTable (in its answer too).
  (rule)            UpdateTable / DeleteTable while CREATING or UPDATING -> ResourceInUseException
                    "Attempt to change a resource which is still in use: Table is being
                    created|updated: NAME"; nothing is changed.
  table_deleting    after DeleteTable (whose answer says DELETING) DescribeTable answers DELETING,
                    then ResourceNotFoundException. Meanwhile CreateTable of the name ->
                    ResourceInUseException "...: Table is being deleted: NAME", UpdateTable the
                    same, and DeleteTable answers DELETING again without an error (as documented).
  pitr_unavailable  UpdateContinuousBackups this soon after CreateTable ->
                    ContinuousBackupsUnavailableException "Backups are being enabled for the table:
                    NAME. Please retry later"; nothing is changed.
  pitr_enabling     after PITR is turned on, PointInTimeRecoveryStatus is ENABLING (in the
                    UpdateContinuousBackups answer too) for this long, then ENABLED.
  tags_lag          ListTagsOfResource answers the tag set as it was this long ago (none before
                    the CreateTable).
  billing_switches  (a count) more than this many switches from PROVISIONED to PAY_PER_REQUEST on
                    one table within 24 h -> LimitExceededException "Subscriber limit exceeded:
                    Billing mode can be changed only N times within 24 hours for table NAME";
                    nothing is changed. Switches to PROVISIONED are not limited (as documented).

State is per (account, region, table name) and tied to the moto Table object, so a table created
again under the same name starts afresh.
"""

import copy
from dataclasses import dataclass, field

from moto.core.exceptions import JsonRESTError
from moto.core.responses import ActionResult
from moto.dynamodb.exceptions import (
    ERROR_TYPE_PREFIX,
    ResourceInUseException,
    ResourceNotFoundException,
    TableNotFoundException,
)
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoHandler, DynamoResult

from emu import override
from emu.paging import dynamodb_tags_page
from emu.realistic import LOCK, now, window

DAY = 24 * 3600.0


class ContinuousBackupsUnavailableException(JsonRESTError):
    def __init__(self, name: str):
        super().__init__(ERROR_TYPE_PREFIX + "ContinuousBackupsUnavailableException",
                         f"Backups are being enabled for the table: {name}. Please retry later")


class LimitExceededException(JsonRESTError):
    def __init__(self, message: str):
        super().__init__(ERROR_TYPE_PREFIX + "LimitExceededException", message)


def in_use(name: str, doing: str) -> ResourceInUseException:
    return ResourceInUseException(
        f"Attempt to change a resource which is still in use: Table is being {doing}: {name}")


@dataclass
class TableState:
    table: Table
    created: float
    updated: float | None = None
    tags: list = field(default_factory=list)  # [(time, [{"Key", "Value"}, ...]), ...]
    pitr_enabled: float | None = None
    switches: list = field(default_factory=list)  # times of PROVISIONED -> PAY_PER_REQUEST


_tables: dict[tuple, TableState] = {}  # (account, region, name) -> state of the live table
_deleted: dict[tuple, tuple] = {}  # (account, region, name) -> (time of DeleteTable, Table)


def _within(t: float | None, name: str) -> bool:
    w = window(name)
    return t is not None and w > 0 and now() - t < w


def table_name(name_or_arn) -> str:
    s = str(name_or_arn or "")
    if s.startswith("arn:") and ":table/" in s:
        return s.split(":table/", 1)[1].split("/", 1)[0]
    return s


def _key(handler: DynamoHandler, name_or_arn) -> tuple:
    return (handler.current_account, handler.region, table_name(name_or_arn))


def _model_key(table: Table) -> tuple:
    return (table.account_id, table.region_name, table.name)


def _state(key: tuple) -> TableState | None:
    return _tables.get(key)


def _invisible(key: tuple) -> bool:
    state = _state(key)
    return state is not None and _within(state.created, "table_invisible")


def _ghost(key: tuple) -> Table | None:
    """The table being deleted under this name, while table_deleting lasts."""
    entry = _deleted.get(key)
    if entry is not None and _within(entry[0], "table_deleting"):
        return entry[1]
    return None


def status_of(table: Table) -> str:
    key = _model_key(table)
    with LOCK:
        entry = _deleted.get(key)
        if entry is not None and entry[1] is table:
            return "DELETING" if _within(entry[0], "table_deleting") else "ACTIVE"
        state = _state(key)
        if state is None or state.table is not table:
            return "ACTIVE"
        if _within(state.created, "table_creating"):
            return "CREATING"
        if _within(state.updated, "table_updating"):
            return "UPDATING"
    return "ACTIVE"


def _refuse_unless_active(name: str, table: Table) -> None:
    status = status_of(table)
    if status == "CREATING":
        raise in_use(name, "created")
    if status == "UPDATING":
        raise in_use(name, "updated")


def _lagged_tags(state: TableState) -> list:
    seen = now() - window("tags_lag")
    current: list = []
    for t, tags in state.tags:
        if t <= seen:
            current = tags
    return copy.deepcopy(current)


def _pitr_view(state: TableState | None, description: dict) -> dict:
    out = copy.deepcopy(description)
    pitr = out.get("PointInTimeRecoveryDescription") or {}
    if (state is not None and pitr.get("PointInTimeRecoveryStatus") == "ENABLED"
            and _within(state.pitr_enabled, "pitr_enabling")):
        out["PointInTimeRecoveryDescription"] = {
            k: v for k, v in pitr.items()
            if k not in ("EarliestRestorableDateTime", "LatestRestorableDateTime")}
        out["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] = "ENABLING"
    return out


def _pitr_status(table: Table) -> str:
    return (table.continuous_backups.get("PointInTimeRecoveryDescription") or {}).get(
        "PointInTimeRecoveryStatus", "DISABLED")


def _patch_model() -> None:
    original_describe = Table.describe

    def describe(self, base_key: str = "TableDescription"):
        out = original_describe(self, base_key)
        status = status_of(self)
        if status != "ACTIVE":
            out[base_key]["TableStatus"] = status
        return out

    Table.describe = describe

    originals = {name: getattr(DynamoDBBackend, name) for name in (
        "create_table", "delete_table", "update_table", "tag_resource", "untag_resource")}

    def create_table(self, name, *args, **kwargs):
        table = originals["create_table"](self, name, *args, **kwargs)
        with LOCK:
            t = now()
            _tables[_model_key(table)] = TableState(
                table=table, created=t, tags=[(t, copy.deepcopy(table.tags or []))])
            _deleted.pop(_model_key(table), None)
        return table

    def delete_table(self, name):
        table = originals["delete_table"](self, name)
        with LOCK:
            _deleted[_model_key(table)] = (now(), table)
            _tables.pop(_model_key(table), None)
        return table

    def update_table(self, name, *args, **kwargs):
        table = originals["update_table"](self, name, *args, **kwargs)
        with LOCK:
            state = _state(_model_key(table))
            if state is not None and state.table is table:
                state.updated = now()
        return table

    def _record_tags(backend, arn):
        with LOCK:
            for table in list(backend.tables.values()):
                state = _state(_model_key(table))
                if table.table_arn == arn and state is not None and state.table is table:
                    state.tags.append((now(), copy.deepcopy(table.tags or [])))
                    del state.tags[:-100]

    def tag_resource(self, arn, tags):
        result = originals["tag_resource"](self, arn, tags)
        _record_tags(self, arn)
        return result

    def untag_resource(self, arn, tag_keys):
        result = originals["untag_resource"](self, arn, tag_keys)
        _record_tags(self, arn)
        return result

    override.methods(
        DynamoDBBackend, create_table, delete_table, update_table, tag_resource, untag_resource)


def _patch_handler() -> None:
    originals = {name: getattr(DynamoHandler, name) for name in (
        "create_table", "delete_table", "update_table", "describe_table", "list_tags_of_resource")}

    def describe_table(self):
        raw = self.body.get("TableName")
        key = _key(self, raw)
        with LOCK:
            ghost = _ghost(key)
            if ghost is not None:
                return DynamoResult(ghost.describe(base_key="Table"))
            if _invisible(key):
                raise ResourceNotFoundException(table_name=raw)
        return originals["describe_table"](self)

    def create_table(self):
        raw = self.body.get("TableName")
        key = _key(self, raw)
        with LOCK:
            if _ghost(key) is not None:
                raise in_use(table_name(raw), "deleted")
            return originals["create_table"](self)

    def update_table(self):
        raw = self.body.get("TableName")
        key = _key(self, raw)
        name = table_name(raw)
        with LOCK:
            if _invisible(key):
                raise ResourceNotFoundException()
            if _ghost(key) is not None:
                raise in_use(name, "deleted")
            table = self.dynamodb_backend.get_table(raw)  # ResourceNotFoundException as before
            _refuse_unless_active(name, table)
            state = _state(key)
            switching = (self.body.get("BillingMode") == "PAY_PER_REQUEST"
                         and table.billing_mode == "PROVISIONED")
            quota = int(window("billing_switches"))
            if switching and quota > 0 and state is not None:
                state.switches = [t for t in state.switches if now() - t < DAY]
                if len(state.switches) >= quota:
                    raise LimitExceededException(
                        "Subscriber limit exceeded: Billing mode can be changed only "
                        f"{quota} times within 24 hours for table {name}")
            result = originals["update_table"](self)
            if switching and state is not None and table.billing_mode == "PAY_PER_REQUEST":
                state.switches.append(now())
            return result

    def delete_table(self):
        raw = self.body.get("TableName")
        key = _key(self, raw)
        with LOCK:
            ghost = _ghost(key)
            if ghost is not None:  # "If table is already in the DELETING state, no error is returned."
                return DynamoResult(ghost.describe())
            table = self.dynamodb_backend.get_table(raw)  # ResourceNotFoundException as before
            _refuse_unless_active(table_name(raw), table)
            return originals["delete_table"](self)

    def list_tags_of_resource(self):
        arn = self.body.get("ResourceArn")
        key = _key(self, arn)
        with LOCK:
            if _invisible(key):
                raise ResourceNotFoundException()
            state = _state(key)
            if window("tags_lag") <= 0 or state is None or state.table.table_arn != arn:
                return originals["list_tags_of_resource"](self)
            self.dynamodb_backend.list_tags_of_resource(arn)  # ResourceNotFoundException as before
            tags = _lagged_tags(state)
        # the same pages and tokens as the emulator's other ListTagsOfResource answers
        return ActionResult(dynamodb_tags_page(tags, self.body.get("NextToken")))

    def describe_continuous_backups(self):
        raw = self.body.get("TableName")
        key = _key(self, raw)
        with LOCK:
            if _invisible(key):
                raise TableNotFoundException(table_name(raw))
            description = self.dynamodb_backend.describe_continuous_backups(raw)
            return ActionResult({"ContinuousBackupsDescription": _pitr_view(_state(key), description)})

    def update_continuous_backups(self):
        raw = self.body.get("TableName")
        key = _key(self, raw)
        spec = self.body["PointInTimeRecoverySpecification"]
        with LOCK:
            if _invisible(key):
                raise TableNotFoundException(table_name(raw))
            state = _state(key)
            if state is not None and _within(state.created, "pitr_unavailable"):
                raise ContinuousBackupsUnavailableException(table_name(raw))
            before = _pitr_status(state.table) if state is not None else None
            description = self.dynamodb_backend.update_continuous_backups(raw, spec)
            if state is not None:
                after = _pitr_status(state.table)
                if after == "ENABLED" and before != "ENABLED":
                    state.pitr_enabled = now()
                elif after != "ENABLED":
                    state.pitr_enabled = None
            return ActionResult({"ContinuousBackupsDescription": _pitr_view(state, description)})

    override.methods(
        DynamoHandler, describe_table, create_table, update_table, delete_table, list_tags_of_resource, describe_continuous_backups, update_continuous_backups)


def install() -> None:
    _patch_model()
    _patch_handler()
