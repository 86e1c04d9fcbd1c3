"""IAM checks real IAM makes and moto 5.2.5 does not. Always on, realistic mode or not.

  * DeletePolicy of a policy attached to a role, user or group -> DeleteConflict (409)
    "Cannot delete a policy attached to entities."
  * DeletePolicy of a policy with non-default versions -> DeleteConflict (409) "This policy has
    more than one version. Before you delete a policy, you must delete the policy's versions. The
    default version is deleted with the policy." (the text IAM answers)
  * CreatePolicy / CreatePolicyVersion with a document of more than 6144 non-whitespace
    characters -> LimitExceeded (409) "Cannot exceed quota for PolicySize: 6144"
    (IAM does not count whitespace).
Already in moto and left alone: a 6th version -> LimitExceeded (409) "A managed policy can have up
to 5 versions. Before you create a new version, you must delete an existing version.", and
DeleteRole with attached or inline policies -> DeleteConflict.
"""

from moto.iam.exceptions import DeleteConflictException, LimitExceededException
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

    IAMBackend.delete_policy = delete_policy
    IAMBackend.create_policy = create_policy
    IAMBackend.create_policy_version = create_policy_version
