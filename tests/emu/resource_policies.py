"""DynamoDB resource-based policies (PutResourcePolicy / GetResourcePolicy / DeleteResourcePolicy,
which moto 5.2 serves), made to behave as AWS documents them, always on:

  DeleteResourcePolicy  idempotent: on a table without a policy it succeeds, unless
                        ExpectedRevisionId is given (then PolicyNotFoundException); moto answers
                        ResourceNotFoundException.
  DeleteTable           removes the table's policy and its streams' (moto keeps them, so a table
                        created again under the name would inherit the old grants).
  PutResourcePolicy     a document that is not a JSON object is refused (ValidationException).

The policy counts in the IAM decision on identity credentials (iam_enforce.py passes it to the
simulator): an Allow for the caller's role (or `"Principal": "*"`) grants a table call its
identity policies do not, and an explicit Deny denies. [`policy_for`] finds it for a request.
"""

import json

from moto.dynamodb.exceptions import MockValidationException, PolicyNotFoundException
from moto.dynamodb.models import DynamoDBBackend, dynamodb_backends


def policy_for(account: str, region: str, resource: str) -> dict | None:
    """The resource-based policy that governs `resource` (a table, one of its indexes: the
    table's; a stream: the stream's), as a document; None when there is none."""
    if ":table/" not in resource:
        return None
    head, _, rest = resource.partition(":table/")
    parts = rest.split("/")
    table_arn = f"{head}:table/{parts[0]}"
    key = resource if len(parts) > 2 and parts[1] == "stream" else table_arn
    try:
        backend = dynamodb_backends[account][region]
    except KeyError:
        return None
    policy = backend.resource_policies.get(key)
    if policy is None:
        return None
    try:
        doc = json.loads(policy.policy_doc)
    except (TypeError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def patch() -> None:
    original_put = DynamoDBBackend.put_resource_policy
    original_delete_table = DynamoDBBackend.delete_table

    def put_resource_policy(self, resource_arn, policy_doc, expected_revision_id):
        try:
            doc = json.loads(policy_doc or "")
        except ValueError:
            doc = None
        if not isinstance(doc, dict):
            raise MockValidationException("Invalid policy document: the policy is not valid JSON")
        return original_put(self, resource_arn, policy_doc, expected_revision_id)

    def delete_resource_policy(self, resource_arn, expected_revision_id):
        table_name = resource_arn.split(":table/", 1)[-1].split("/")[0]
        self.get_table(table_name)  # ResourceNotFoundException for a table that does not exist
        policy = self.resource_policies.get(resource_arn)
        if policy is None:
            if expected_revision_id:
                raise PolicyNotFoundException(
                    "Resource-based policy not found for the provided ResourceArn: Requested "
                    f"update for policy with revision id {expected_revision_id}, but the policy "
                    f"associated to target table {table_name} is not found.")
            return
        if expected_revision_id and policy.revision_id != expected_revision_id:
            raise PolicyNotFoundException(
                "Resource-based policy not found for the provided ResourceArn: Requested update "
                f"for policy with revision id {expected_revision_id}, but the policy associated to "
                f"target table {table_name} has revision id {policy.revision_id}.")
        self.resource_policies.pop(resource_arn)

    def delete_table(self, name):
        table = original_delete_table(self, name)
        arn = getattr(table, "table_arn", None)
        if arn:
            for key in [k for k in self.resource_policies if k == arn or k.startswith(arn + "/")]:
                self.resource_policies.pop(key, None)
        return table

    DynamoDBBackend.put_resource_policy = put_resource_policy
    DynamoDBBackend.delete_resource_policy = delete_resource_policy
    DynamoDBBackend.delete_table = delete_table
