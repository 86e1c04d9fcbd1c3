"""IAM checks real IAM makes and moto 5.2.5 does not. Always on, realistic mode or not.

  * DeletePolicy of a policy attached to a role, user or group -> DeleteConflict (409)
    "Cannot delete a policy attached to entities."
  * DeletePolicy of a policy with non-default versions -> DeleteConflict (409) "This policy has
    more than one version. Before you delete a policy, you must delete the policy's versions. The
    default version is deleted with the policy." (the text IAM answers)
  * CreatePolicy / CreatePolicyVersion with a document of more than 6144 non-whitespace
    characters -> LimitExceeded (409) "Cannot exceed quota for PolicySize: 6144"
    (IAM does not count whitespace).
  * CreateRole / UpdateAssumeRolePolicy with a trust policy whose Federated principal is the ARN
    of an OIDC or SAML provider the account does not have -> MalformedPolicyDocument (400)
    'Invalid principal in policy: "Federated":"<ARN>"' (IAM resolves principals when the policy
    is written; moto accepts any string).
Already in moto and left alone: a 6th version -> LimitExceeded (409) "A managed policy can have up
to 5 versions. Before you create a new version, you must delete an existing version.", and
DeleteRole with attached or inline policies -> DeleteConflict.
"""

import json
import re

from moto.iam.exceptions import (DeleteConflictException, LimitExceededException,
                                 MalformedPolicyDocument)
from moto.iam.models import IAMBackend

POLICY_SIZE_QUOTA = 6144
ATTACHED = "Cannot delete a policy attached to entities."
HAS_VERSIONS = ("This policy has more than one version. Before you delete a policy, you must "
                "delete the policy's versions. The default version is deleted with the policy.")
TOO_BIG = f"Cannot exceed quota for PolicySize: {POLICY_SIZE_QUOTA}"


def policy_size(document) -> int:
    return sum(1 for c in str(document or "") if not c.isspace())


def check_policy_size(document) -> None:
    if policy_size(document) > POLICY_SIZE_QUOTA:
        raise LimitExceededException(TOO_BIG)


def is_attached(backend: IAMBackend, policy_arn: str) -> bool:
    holders = list(backend.roles.values()) + list(backend.users.values()) + list(backend.groups.values())
    return any(policy_arn in getattr(h, "managed_policies", {}) for h in holders)


PROVIDER_ARN = re.compile(r"^arn:[^:]+:iam::[^:]*:(oidc-provider|saml-provider)/.+$")


def federated_principals(document) -> list:
    """The Federated principals of a trust policy (strings), whatever shape it has."""
    try:
        doc = json.loads(document) if isinstance(document, str) else document
    except ValueError:
        return []
    statements = doc.get("Statement", []) if isinstance(doc, dict) else []
    if isinstance(statements, dict):
        statements = [statements]
    found = []
    for st in statements:
        principal = st.get("Principal") if isinstance(st, dict) else None
        value = principal.get("Federated") if isinstance(principal, dict) else None
        found.extend([value] if isinstance(value, str) else value or [])
    return found


def check_principals(backend: IAMBackend, document) -> None:
    """Refuses a Federated principal naming a provider the account does not have."""
    for arn in federated_principals(document):
        match = PROVIDER_ARN.match(arn)
        if not match:
            continue  # a service such as cognito-identity.amazonaws.com
        if match.group(1) == "oidc-provider":
            known = set(backend.open_id_providers)
        else:
            known = {p.arn for p in backend.saml_providers.values()}
        if arn not in known:
            raise MalformedPolicyDocument(f'Invalid principal in policy: "Federated":"{arn}"')


def install() -> None:
    original_delete = IAMBackend.delete_policy
    original_create = IAMBackend.create_policy
    original_create_version = IAMBackend.create_policy_version

    def delete_policy(self, policy_arn: str) -> None:
        policy = self.get_policy(policy_arn)  # NoSuchEntity as before
        if is_attached(self, policy.arn):
            raise DeleteConflictException(ATTACHED)
        if len(policy.versions) > 1:
            raise DeleteConflictException(HAS_VERSIONS)
        return original_delete(self, policy_arn)

    def create_policy(self, description, path, policy_document, policy_name, tags):
        check_policy_size(policy_document)
        return original_create(self, description, path, policy_document, policy_name, tags)

    def create_policy_version(self, policy_arn, policy_document, set_as_default):
        check_policy_size(policy_document)
        return original_create_version(self, policy_arn, policy_document, set_as_default)

    original_create_role = IAMBackend.create_role
    original_update_trust = IAMBackend.update_assume_role_policy

    def create_role(self, role_name, assume_role_policy_document, *args, **kwargs):
        check_principals(self, assume_role_policy_document)
        return original_create_role(self, role_name, assume_role_policy_document, *args, **kwargs)

    def update_assume_role_policy(self, role_name, policy_document):
        check_principals(self, policy_document)
        return original_update_trust(self, role_name, policy_document)

    IAMBackend.create_role = create_role
    IAMBackend.update_assume_role_policy = update_assume_role_policy
    IAMBackend.delete_policy = delete_policy
    IAMBackend.create_policy = create_policy
    IAMBackend.create_policy_version = create_policy_version
