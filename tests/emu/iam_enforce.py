"""IAM enforcement on the credentials the emulator hands out to Cognito identities (issue 10).

moto evaluates no policy for the temporary credentials that GetCredentialsForIdentity returns
(tests/emulator.py, "faithful sign-in"), so any signed-in user could call anything. This module
evaluates every request signed with such credentials against the identity's role, read from
moto's IAM backend at request time:

  * the role's attached managed policies (default version) and inline policies, and its
    permissions boundary if it has one (the effective permissions are the intersection: an
    action the policies allow and the boundary does not is denied "because no permissions
    boundary allows the ... action");
  * for DynamoDB, the resource-based policy of the table the request reaches (its indexes: the
    table's; resource_policies.py): an Allow for the role, its session or "*" grants the call
    without an identity policy (same account), an explicit Deny denies ("... with an explicit
    deny in a resource-based policy");
  * action `<service>:<Operation>` and the resource the request reaches (DynamoDB: the table
    ARN, or the index ARN when the request names an IndexName; each table of a batch; each item
    of a transaction with the item's own action, as DynamoDB does; PartiQL statements as
    dynamodb:PartiQLSelect/Insert/Update/Delete on the table they name);
  * condition keys: dynamodb:LeadingKeys from the request (Key, Item, the Keys of a batch, the
    partition-key equality of KeyConditionExpression or KeyConditions); ABSENT for Scan, PartiQL
    and anything else without a key. dynamodb:EnclosingOperation for transaction items.
    cognito-identity.amazonaws.com:sub/aud/amr for policy variables, plus aws:PrincipalArn,
    aws:PrincipalAccount, aws:userid, aws:RequestedRegion, aws:SecureTransport, and
    aws:PrincipalTag/<key> = value for each principal tag of the credentials (the issued
    record's "principal_tags", from the pool's principal tag map: sign_in.py), so that
    `${aws:PrincipalTag/<key>}` resolves and a credential without the tag has no such key.
    dynamodb:Attributes and dynamodb:Select are not computed.

The decision comes from an independent, maintained IAM simulator (@cloud-copilot/iam-simulate)
run as a Node sidecar (tests/iam-sim/sim.mjs), never from the project's src/policy_eval.rs.
A denied request is answered as the service does (DynamoDB: HTTP 400 AccessDeniedException,
"User: arn:aws:sts::ACCOUNT:assumed-role/ROLE/CognitoIdentityCredentials is not authorized to
perform: dynamodb:GetItem on resource: arn:...:table/T because no identity-based policy allows
the dynamodb:GetItem action"). The sidecar must start and pass a self-check of the ForAllValues /
empty-set semantics and of aws:PrincipalTag policy variables at startup; otherwise the emulator refuses to start. If it dies later,
requests from identity credentials fail with HTTP 500: never a silent allow.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs

from . import resource_policies
from emu import iam_users

SIM_DIR = Path(__file__).resolve().parents[1] / "iam-sim"
SESSION_NAME = "CognitoIdentityCredentials"
COGNITO = "cognito-identity.amazonaws.com"
CREDENTIAL_RE = re.compile(r"Credential=([^/,\s]+)/[^/]*/([^/]*)/([^/]*)/")

# Signing name -> IAM action prefix where they differ.
ACTION_PREFIX = {"monitoring": "cloudwatch", "email": "ses", "execute-api": "execute-api"}
# Operations that IAM never authorizes: GetCallerIdentity needs no permission; the Cognito
# sign-in and user-token operations are public (authorized by their tokens, if at all).
ALWAYS_ALLOWED = {("sts", "GetCallerIdentity")} | {
    ("cognito-identity", op) for op in ("GetId", "GetCredentialsForIdentity", "GetOpenIdToken",
                                        "UnlinkIdentity")} | {
    ("cognito-idp", op) for op in (
        "InitiateAuth", "RespondToAuthChallenge", "SignUp", "ConfirmSignUp", "ResendConfirmationCode",
        "ForgotPassword", "ConfirmForgotPassword", "GetUser", "ChangePassword", "UpdateUserAttributes",
        "DeleteUser", "DeleteUserAttributes", "GlobalSignOut", "RevokeToken", "AssociateSoftwareToken",
        "VerifySoftwareToken", "SetUserMFAPreference", "GetUserAttributeVerificationCode",
        "VerifyUserAttribute", "GetTokensFromRefreshToken")}


class SimulatorError(RuntimeError):
    pass


# --------------------------------------------------------------------------
# The Node sidecar
# --------------------------------------------------------------------------

class IamSimulator:
    """One long-lived `node tests/iam-sim/sim.mjs`; JSON lines, one request -> one answer."""

    def __init__(self, node: str | None = None, start_timeout: float = 30.0):
        node = node or os.environ.get("SETUP_TEST_NODE", "node")
        script = SIM_DIR / "sim.mjs"
        if not (SIM_DIR / "node_modules" / "@cloud-copilot" / "iam-simulate").is_dir():
            raise SimulatorError(
                f"the IAM simulator is not installed ({SIM_DIR}/node_modules is missing): run "
                "`npm ci --prefix tests/iam-sim` (tests/run.sh does it)")
        try:
            self.proc = subprocess.Popen(
                [node, str(script)], cwd=str(SIM_DIR), stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=sys.stderr, text=True, bufsize=1)
        except OSError as e:
            raise SimulatorError(
                f"cannot start the IAM simulator with {node!r}: {e}. Install Node.js 18 or later "
                "(or set SETUP_TEST_NODE), then run `npm ci --prefix tests/iam-sim`") from e
        self.lock = threading.Lock()
        self.next_id = 0
        self.broken = ""
        ready = self._read_line(start_timeout)
        if not ready or not ready.get("ready"):
            self.close()
            raise SimulatorError(f"the IAM simulator did not start (said {ready!r})")
        self.version = ready.get("simulator", "?")

    def _read_line(self, timeout: float):
        if self.broken:
            raise SimulatorError(self.broken)
        box: list = []
        reader = threading.Thread(target=lambda: box.append(self.proc.stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout)
        if not box:  # a late answer would pair with the next request: stop using the sidecar
            self.broken = f"the IAM simulator did not answer within {timeout:.0f}s"
            self.proc.kill()
            raise SimulatorError(self.broken)
        line = box[0]
        if not line:
            self.broken = f"the IAM simulator exited (code {self.proc.poll()})"
            raise SimulatorError(self.broken)
        return json.loads(line)

    def decide(self, *, principal: str, action: str, resource: str, account: str,
               context: dict, policies: list[dict], boundary: list[dict] | None = None,
               resource_policy: dict | None = None) -> str:
        """'Allowed', 'ImplicitlyDenied' or 'ExplicitlyDenied'; raises SimulatorError otherwise.
        `resource_policy` is the resource's own policy document (a DynamoDB table's), if any."""
        with self.lock:
            self.next_id += 1
            req = {"id": self.next_id, "principal": principal, "action": action,
                   "resource": resource, "account": account, "context": context,
                   "policies": policies}
            if boundary:
                req["boundary"] = boundary
            if resource_policy is not None:
                req["resource_policy"] = {"name": f"resource policy of {resource}",
                                          "policy": resource_policy}
            try:
                self.proc.stdin.write(json.dumps(req) + "\n")
                self.proc.stdin.flush()
                answer = self._read_line(10.0)
            except (OSError, ValueError) as e:
                raise SimulatorError(f"the IAM simulator is gone: {e}") from e
        if answer.get("id") != req["id"]:
            raise SimulatorError(f"the IAM simulator answered out of order: {answer!r}")
        if "error" in answer:
            raise SimulatorError(answer["error"])
        return answer["result"]

    def close(self) -> None:
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def self_check(sim: IamSimulator) -> None:
    """The cases issues 10 and 21 turn on, evaluated once at startup; any surprise stops the emulator."""
    account, sub = "123456789012", "us-east-1:00000000-0000-0000-0000-000000000001"
    table = f"arn:aws:dynamodb:us-east-1:{account}:table/T"
    principal = f"arn:aws:sts::{account}:assumed-role/R/{SESSION_NAME}"
    own = {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [f"${{{COGNITO}:sub}}"]}}
    guarded = dict(own, Null={"dynamodb:LeadingKeys": "false"})

    def policy(condition, effect="Allow"):
        return [{"name": "p", "policy": {"Version": "2012-10-17", "Statement": [{
            "Effect": effect, "Action": ["dynamodb:GetItem", "dynamodb:Scan"],
            "Resource": table, "Condition": condition}]}}]

    base = {f"{COGNITO}:sub": sub}
    # principal tags (issue 21): ${aws:PrincipalTag/sub} resolves from the credentials' tags
    # (aws:PrincipalTag/<key> in the context), and a credential without the tag matches nothing
    user_sub = "5f2b6c1e-0000-4000-8000-000000000001"
    by_tag = {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["${aws:PrincipalTag/sub}"]},
              "Null": {"dynamodb:LeadingKeys": "false"}}
    tagged = dict(base, **{"aws:PrincipalTag/sub": user_sub})
    cases = [
        ("ForAllValues without keys allows Scan", own, "dynamodb:Scan", base, "Allowed"),
        ("a Null guard denies Scan", guarded, "dynamodb:Scan", base, "ImplicitlyDenied"),
        ("own key allowed", guarded, "dynamodb:GetItem",
         dict(base, **{"dynamodb:LeadingKeys": [sub]}), "Allowed"),
        ("another user's key denied", guarded, "dynamodb:GetItem",
         dict(base, **{"dynamodb:LeadingKeys": ["us-east-1:someone-else"]}), "ImplicitlyDenied"),
        ("own key by principal tag allowed", by_tag, "dynamodb:GetItem",
         dict(tagged, **{"dynamodb:LeadingKeys": [user_sub]}), "Allowed"),
        ("another key by principal tag denied", by_tag, "dynamodb:GetItem",
         dict(tagged, **{"dynamodb:LeadingKeys": ["someone-else"]}), "ImplicitlyDenied"),
        ("no principal tag denied", by_tag, "dynamodb:GetItem",
         dict(base, **{"dynamodb:LeadingKeys": [user_sub]}), "ImplicitlyDenied"),
    ]
    for what, condition, action, context, want in cases:
        got = sim.decide(principal=principal, action=action, resource=table, account=account,
                         context=context, policies=policy(condition))
        if got != want:
            raise SimulatorError(f"IAM simulator self-check failed: {what}: got {got}, want {want}")
    got = sim.decide(principal=principal, action="dynamodb:GetItem", resource=table,
                     account=account, context=base,
                     policies=policy({}) + [{"name": "d", "policy": {
                         "Version": "2012-10-17", "Statement": [{
                             "Effect": "Deny", "Action": "dynamodb:*", "Resource": "*"}]}}])
    if got != "ExplicitlyDenied":
        raise SimulatorError(f"IAM simulator self-check failed: explicit deny gave {got}")
    # a table's resource-based policy: an Allow for the role grants what no identity policy
    # does (same account), an Allow for another role does not, a Deny wins over identity Allows
    def resource(effect, who):
        return {"Version": "2012-10-17", "Statement": [{
            "Effect": effect, "Principal": {"AWS": who}, "Action": "dynamodb:DeleteItem",
            "Resource": table}]}
    role = f"arn:aws:iam::{account}:role/R"
    for what, policies, rp, want in [
        ("a resource policy Allow for the role", [], resource("Allow", role), "Allowed"),
        ("a resource policy Allow for everyone", [], resource("Allow", "*"), "Allowed"),
        ("a resource policy Allow for another role", [],
         resource("Allow", f"arn:aws:iam::{account}:role/Other"), "ImplicitlyDenied"),
        ("a resource policy Deny", [{"name": "all", "policy": {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"}]}}],
         resource("Deny", "*"), "ExplicitlyDenied"),
    ]:
        got = sim.decide(principal=principal, action="dynamodb:DeleteItem", resource=table,
                         account=account, context=base, policies=policies, resource_policy=rp)
        if got != want:
            raise SimulatorError(f"IAM simulator self-check failed: {what}: got {got}, want {want}")


# --------------------------------------------------------------------------
# What a request asks for
# --------------------------------------------------------------------------

class Authz:
    """One authorization a request needs."""

    __slots__ = ("action", "resource", "context")

    def __init__(self, action: str, resource: str, context: dict | None = None):
        self.action, self.resource, self.context = action, resource, context or {}

    def __repr__(self):
        return f"Authz({self.action}, {self.resource}, {self.context})"


def attribute_value_text(value) -> str | None:
    """The string IAM sees for a DynamoDB AttributeValue used as a key ({"S": "x"} -> "x")."""
    if not isinstance(value, dict) or len(value) != 1:
        return None
    (kind, v), = value.items()
    return v if kind in ("S", "N", "B") and isinstance(v, str) else None


class Tables:
    """Key schema lookups in moto's DynamoDB backend."""

    def __init__(self, account: str, region: str):
        self.account, self.region = account, region

    def _table(self, name: str):
        from moto.dynamodb.models import dynamodb_backends

        backend = dynamodb_backends[self.account][self.region]
        table = backend.tables.get(name)
        if table is None:
            for t in list(backend.tables.values()):
                if t.table_arn == name:
                    return t
        return table

    def hash_key(self, table_name: str, index: str | None = None) -> str | None:
        table = self._table(table_name)
        if table is None:
            return None
        if index:
            for idx in list(table.global_indexes) + list(table.indexes):
                if idx.name == index:
                    for k in idx.schema:
                        if k.get("KeyType") == "HASH":
                            return k.get("AttributeName")
            return None
        return table.hash_key_attr or None


def _table_name(name: str) -> str:
    return name.split(":table/", 1)[1].split("/", 1)[0] if name.startswith("arn:") else name


def _key_condition_values(body: dict, hash_attr: str) -> list[str]:
    values: list[str] = []
    conditions = body.get("KeyConditions")
    if isinstance(conditions, dict):
        cond = conditions.get(hash_attr) or {}
        if cond.get("ComparisonOperator") == "EQ":
            values += [t for t in map(attribute_value_text, cond.get("AttributeValueList") or []) if t]
    expression = body.get("KeyConditionExpression")
    if isinstance(expression, str):
        names = body.get("ExpressionAttributeNames") or {}
        vals = body.get("ExpressionAttributeValues") or {}
        operand = r"(#[\w]+|:[\w]+|[A-Za-z_][\w.]*)"
        for left, right in re.findall(operand + r"\s*(?<![<>!])=(?!=)\s*" + operand, expression):
            for name_side, value_side in ((left, right), (right, left)):
                if not value_side.startswith(":"):
                    continue
                name = names.get(name_side) if name_side.startswith("#") else name_side
                if name == hash_attr:
                    text = attribute_value_text(vals.get(value_side))
                    if text is not None:
                        values.append(text)
    return values


PARTIQL_VERBS = {"SELECT": "PartiQLSelect", "INSERT": "PartiQLInsert",
                 "UPDATE": "PartiQLUpdate", "DELETE": "PartiQLDelete", "EXISTS": "PartiQLSelect"}
_IDENT = r'(?:"((?:[^"]|"")+)"|([A-Za-z_][\w.-]*))'


def partiql_target(statement: str) -> tuple[str | None, str | None, str | None]:
    """(IAM action, table, index) of a PartiQL statement; None parts when unreadable."""
    text = statement.strip()
    verb = (re.match(r"[A-Za-z]+", text) or [None])[0]
    action = PARTIQL_VERBS.get((verb or "").upper())
    if (verb or "").upper() == "EXISTS":
        inner = re.search(r"\(\s*(SELECT\b.*)\)\s*$", text, re.IGNORECASE | re.DOTALL)
        return (action,) + partiql_target(inner.group(1))[1:] if inner else (action, None, None)
    keyword = {"SELECT": r"\bFROM", "DELETE": r"\bFROM", "INSERT": r"\bINTO", "UPDATE": r"^UPDATE"}
    pattern = keyword.get((verb or "").upper())
    if not pattern:
        return action, None, None
    m = re.search(pattern + r"\s+" + _IDENT + r"(?:\s*\.\s*" + _IDENT + r")?", text,
                  re.IGNORECASE | re.DOTALL)
    if not m:
        return action, None, None
    table = (m.group(1) or "").replace('""', '"') or m.group(2)
    index = (m.group(3) or "").replace('""', '"') or m.group(4)
    if m.group(2) and "." in m.group(2) and not m.group(3):  # Table.Index unquoted
        table, index = m.group(2).split(".", 1)
    return action, table, index


def dynamodb_authorizations(operation: str, body: dict, arn_prefix: str, tables: Tables) -> list[Authz]:
    def table_arn(name: str, index: str | None = None) -> str:
        base = name if name.startswith("arn:") else f"{arn_prefix}:table/{name}"
        return f"{base}/index/{index}" if index else base

    def leading(table: str, *items, index: str | None = None) -> dict:
        attr = tables.hash_key(_table_name(table), index)
        keys = []
        if attr:
            for item in items:
                if isinstance(item, dict):
                    text = attribute_value_text(item.get(attr))
                    if text is not None:
                        keys.append(text)
        return {"dynamodb:LeadingKeys": sorted(set(keys))} if keys else {}

    act = f"dynamodb:{operation}"
    name = body.get("TableName")
    if operation in ("GetItem", "DeleteItem", "UpdateItem", "PutItem") and isinstance(name, str):
        return [Authz(act, table_arn(name), leading(name, body.get("Key"), body.get("Item")))]
    if operation == "Query" and isinstance(name, str):
        index = body.get("IndexName")
        attr = tables.hash_key(_table_name(name), index)
        keys = sorted(set(_key_condition_values(body, attr))) if attr else []
        return [Authz(act, table_arn(name, index), {"dynamodb:LeadingKeys": keys} if keys else {})]
    if operation == "Scan" and isinstance(name, str):
        return [Authz(act, table_arn(name, body.get("IndexName")))]
    if operation == "BatchGetItem":
        return [Authz(act, table_arn(t), leading(t, *(spec or {}).get("Keys") or []))
                for t, spec in (body.get("RequestItems") or {}).items()]
    if operation == "BatchWriteItem":
        out = []
        for t, requests in (body.get("RequestItems") or {}).items():
            items = []
            for r in requests or []:
                items.append(((r or {}).get("PutRequest") or {}).get("Item"))
                items.append(((r or {}).get("DeleteRequest") or {}).get("Key"))
            out.append(Authz(act, table_arn(t), leading(t, *items)))
        return out
    if operation in ("TransactGetItems", "TransactWriteItems"):
        # There is no IAM action for a transaction: each item needs its own action.
        kinds = {"Get": "GetItem", "Put": "PutItem", "Update": "UpdateItem",
                 "Delete": "DeleteItem", "ConditionCheck": "ConditionCheckItem"}
        out = []
        for entry in body.get("TransactItems") or []:
            for kind, spec in (entry or {}).items():
                if kind in kinds and isinstance(spec, dict) and isinstance(spec.get("TableName"), str):
                    t = spec["TableName"]
                    ctx = leading(t, spec.get("Key"), spec.get("Item"))
                    ctx["dynamodb:EnclosingOperation"] = operation
                    out.append(Authz(f"dynamodb:{kinds[kind]}", table_arn(t), ctx))
        return out or [Authz(act, "*")]
    if operation in ("ExecuteStatement", "BatchExecuteStatement", "ExecuteTransaction"):
        statements = ([body.get("Statement")] if operation == "ExecuteStatement" else
                      [(s or {}).get("Statement") for s in
                       body.get("Statements" if operation == "BatchExecuteStatement"
                                else "TransactStatements") or []])
        out = []
        for statement in statements:
            action, table, index = partiql_target(statement if isinstance(statement, str) else "")
            ctx = {"dynamodb:EnclosingOperation": operation} if operation == "ExecuteTransaction" else {}
            out.append(Authz(f"dynamodb:{action or 'PartiQLSelect'}",
                             table_arn(table, index) if table else "*", ctx))
        return out or [Authz(act, "*")]
    # Control plane and everything else: the resource the request names, else "*".
    for field in ("ResourceArn", "StreamArn", "BackupArn", "ExportArn", "ImportArn"):
        if isinstance(body.get(field), str):
            return [Authz(act, body[field])]
    if isinstance(name, str):
        return [Authz(act, table_arn(name, body.get("IndexName")))]
    if isinstance(body.get("GlobalTableName"), str):
        return [Authz(act, f"arn:{arn_prefix.split(':')[1]}:dynamodb::{arn_prefix.split(':')[4]}"
                           f":global-table/{body['GlobalTableName']}")]
    return [Authz(act, "*")]


def other_authorization(service: str, operation: str, params: dict, partition: str,
                        region: str, account: str) -> Authz:
    prefix = ACTION_PREFIX.get(service, service)
    act = f"{prefix}:{operation}"

    def p(name):
        v = params.get(name)
        return v if isinstance(v, str) and v else None

    if service == "iam":
        if p("PolicyArn"):
            return Authz(act, p("PolicyArn"))
        if p("RoleName"):
            return Authz(act, f"arn:{partition}:iam::{account}:role/{p('RoleName')}")
        if p("UserName"):
            return Authz(act, f"arn:{partition}:iam::{account}:user/{p('UserName')}")
    if service == "cognito-identity" and p("IdentityPoolId"):
        return Authz(act, f"arn:{partition}:cognito-identity:{region}:{account}:identitypool/{p('IdentityPoolId')}")
    if service == "cognito-idp" and p("UserPoolId"):
        return Authz(act, f"arn:{partition}:cognito-idp:{region}:{account}:userpool/{p('UserPoolId')}")
    if service == "sts" and p("RoleArn"):
        return Authz(act, p("RoleArn"))
    return Authz(act, "*")


# --------------------------------------------------------------------------
# The identity's policies, read from moto at request time
# --------------------------------------------------------------------------

def _document(raw) -> dict:
    if isinstance(raw, dict):
        return raw
    try:
        return json.loads(raw)
    except (TypeError, ValueError):
        from urllib.parse import unquote
        return json.loads(unquote(raw))


def _default_document(policy) -> dict:
    for v in policy.versions:
        if v.version_id == policy.default_version_id:
            return _document(v.document)
    return _document(policy.versions[-1].document)


def role_policies(account: str, partition: str, role_arn: str):
    """(role or None, [{"name", "policy"}] identity policies, boundary policies)."""
    from moto.iam.models import iam_backends

    iam = iam_backends[account][partition]
    try:
        role = iam.get_role_by_arn(role_arn)
    except Exception:
        return None, [], []
    policies = [{"name": f"managed {arn}", "policy": _default_document(pol)}
                for arn, pol in list(role.managed_policies.items())]
    policies += [{"name": f"inline {name}", "policy": _document(doc)}
                 for name, doc in list(role.policies.items())]
    boundary = []
    if role.permissions_boundary_arn:
        pol = iam.managed_policies.get(role.permissions_boundary_arn)
        if pol is not None:
            boundary.append({"name": f"boundary {pol.arn}", "policy": _default_document(pol)})
    return role, policies, boundary


# --------------------------------------------------------------------------
# The middleware
# --------------------------------------------------------------------------

def deny_message(principal: str, authz: Authz, explicit: bool, where: str = "an identity-based",
                 boundary: bool = False) -> str:
    """AWS's wording; `boundary`: the identity policies allow it, the permissions boundary does
    not ("because no permissions boundary allows the ... action")."""
    why = (f"with an explicit deny in {where} policy" if explicit
           else f"because no permissions boundary allows the {authz.action} action" if boundary
           else f"because no identity-based policy allows the {authz.action} action")
    return (f"User: {principal} is not authorized to perform: {authz.action} "
            f"on resource: {authz.resource} {why}")


def _respond(start_response, service: str, status: str, code: str, message: str):
    if service in ("iam", "sts"):
        body = ('<ErrorResponse xmlns="https://%s.amazonaws.com/doc/%s/"><Error><Type>Sender</Type>'
                "<Code>%s</Code><Message>%s</Message></Error><RequestId>%s</RequestId>"
                "</ErrorResponse>" % (
                    service, "2011-06-15" if service == "sts" else "2010-05-08", code,
                    message.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"),
                    "00000000-0000-0000-0000-000000000000")).encode()
        headers = [("Content-Type", "text/xml")]
    else:
        if service == "dynamodb":  # the wire form DynamoDB answers with (and "Message")
            payload = {"__type": f"com.amazon.coral.service#{code}", "Message": message}
        else:
            payload = {"__type": code, "message": message}
        body = json.dumps(payload).encode()
        headers = [("Content-Type", "application/x-amz-json-1.0" if service == "dynamodb"
                    else "application/x-amz-json-1.1")]
    start_response(status, headers + [("Content-Length", str(len(body)))])
    return [body]


class IamEnforceMiddleware:
    """Wraps the moto app; `issued` maps access key id -> what GetCredentialsForIdentity issued
    it for ({"identity_id", "role_arn", "pool_id", "amr", "principal_tags", ...})."""

    def __init__(self, app, issued: dict, simulator: IamSimulator | None = None):
        self.app = app
        self.issued = issued
        self.sim = simulator or IamSimulator()
        self_check(self.sim)
        # decisions, for tests and debugging: GET /_setup/iam-decisions?key=ASIA...
        self.decisions: dict[str, list] = {}
        self.lock = threading.Lock()

    def _params(self, environ, body: bytes) -> dict:
        ctype = environ.get("CONTENT_TYPE", "")
        if "json" in ctype or body[:1] == b"{":
            try:
                parsed = json.loads(body or b"{}")
                return parsed if isinstance(parsed, dict) else {}
            except ValueError:
                return {}
        params = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
        params.update({k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()})
        return params

    def authorizations(self, environ, body: bytes, record: dict) -> tuple[list[Authz], dict]:
        service = environ.get("setup.service", "")
        operation = environ.get("setup.operation", "")
        match = CREDENTIAL_RE.search(environ.get("HTTP_AUTHORIZATION", ""))
        region = match.group(2) if match else "us-east-1"
        arn = record["role_arn"].split(":")
        partition, account = arn[1], arn[4]
        params = self._params(environ, body)
        if service == "dynamodb":
            authz = dynamodb_authorizations(operation, params, f"arn:{partition}:dynamodb:{region}:{account}",
                                            Tables(account, region))
        elif " " in operation:  # a REST call this module cannot name: never allowed
            authz = [Authz(f"{ACTION_PREFIX.get(service, service)}:{operation}", "*")]
        else:
            authz = [other_authorization(service, operation, params, partition, region, account)]
        return authz, {"partition": partition, "account": account, "region": region}

    def __call__(self, environ, start_response):
        key = environ.get("setup.key", "")
        record = self.issued.get(key)
        if record is None:  # an IAM user's key, when moto enforces IAM (emu/iam_users.py)
            return iam_users.enforce(self, environ, start_response, key)
        service = environ.get("setup.service", "")
        if (service, environ.get("setup.operation", "")) in ALWAYS_ALLOWED:
            return self.app(environ, start_response)
        stream = environ["wsgi.input"]
        body = stream.read()
        stream.seek(0)
        try:
            authz, where = self.authorizations(environ, body, record)
            role, policies, boundary = role_policies(where["account"], where["partition"], record["role_arn"])
            role_name = record["role_arn"].rsplit("/", 1)[-1]
            principal = f"arn:{where['partition']}:sts::{where['account']}:assumed-role/{role_name}/{SESSION_NAME}"
            base = {
                f"{COGNITO}:sub": record["identity_id"],
                f"{COGNITO}:aud": record["pool_id"],
                f"{COGNITO}:amr": list(record.get("amr") or ["authenticated"]),
                "aws:PrincipalArn": record["role_arn"],
                "aws:PrincipalAccount": where["account"],
                "aws:RequestedRegion": where["region"],
                "aws:SecureTransport": "true",
                "aws:CurrentTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "aws:EpochTime": str(int(time.time())),
            }
            if role is not None:
                base["aws:userid"] = f"{role.id}:{SESSION_NAME}"
            for tag, value in (record.get("principal_tags") or {}).items():
                base[f"aws:PrincipalTag/{tag}"] = value
            for a in authz:
                resource_policy = (resource_policies.policy_for(where["account"], where["region"],
                                                                a.resource)
                                   if service == "dynamodb" else None)
                decide = lambda rp: self.sim.decide(  # noqa: E731
                    principal=principal, action=a.action, resource=a.resource,
                    account=where["account"], context=dict(base, **a.context),
                    policies=policies, boundary=boundary, resource_policy=rp)
                decision = decide(resource_policy)
                with self.lock:
                    self.decisions.setdefault(key, []).append(
                        {"action": a.action, "resource": a.resource, "context": a.context,
                         "decision": decision, "resource_policy": resource_policy is not None})
                if decision != "Allowed":
                    (environ.get("setup.record") or {})["iam"] = decision
                    code = "AccessDenied" if service in ("iam", "sts") else "AccessDeniedException"
                    status = "403 Forbidden" if service in ("iam", "sts") else "400 Bad Request"
                    explicit = decision == "ExplicitlyDenied"
                    # Whose Deny: the identity policies' unless only the resource policy denies.
                    by_resource = (explicit and resource_policy is not None
                                   and decide(None) != "ExplicitlyDenied")
                    # Capped by the role's permissions boundary: allowed without it.
                    capped = (not explicit and bool(boundary) and self.sim.decide(
                        principal=principal, action=a.action, resource=a.resource,
                        account=where["account"], context=dict(base, **a.context),
                        policies=policies, boundary=None, resource_policy=resource_policy)
                        == "Allowed")
                    return _respond(start_response, service, status, code, deny_message(
                        principal, a, explicit,
                        "a resource-based" if by_resource else "an identity-based", capped))
        except SimulatorError as e:
            sys.stderr.write(f"emulator: IAM enforcement failed, refusing the request: {e}\n")
            return _respond(start_response, service, "500 Internal Server Error",
                            "InternalFailure", f"IAM enforcement failed in the emulator: {e}")
        # Decided here: moto, which does not know these keys, neither authenticates nor checks it.
        iam_users.DECIDED.identity = True
        try:
            return self.app(environ, start_response)
        finally:
            iam_users.DECIDED.identity = False

