"""IAM's eventual consistency, in realistic mode (each behaviour is off while its window is 0).

  iam_delete_conflict  DeleteRole of role R within the window after a DetachRolePolicy on R ->
                       DeleteConflict (409) "Cannot delete entity, must detach all policies
                       first."; DeletePolicy of policy P within the window after a
                       DetachRolePolicy of P -> DeleteConflict (409) "Cannot delete a policy
                       attached to entities." (IAM still sees the attachment, so it answers what
                       it answers for an attached policy).
  iam_concurrent       the first AttachRolePolicy / DetachRolePolicy / UpdateAssumeRolePolicy /
                       TagRole on a role created less than the window ago -> ConcurrentModification
                       (409) "Another request updating the entity is in progress. Please try again
                       later." (the text IAM answers), once per role; the call is not applied and
                       the next one succeeds.
  iam_propagation      propagation_pending(): the role was created, or its trust policy updated,
                       less than the window ago; the emulator's GetCredentialsForIdentity then
                       answers InvalidIdentityPoolConfigurationException.

State is keyed by role ARN / policy ARN (both name the account and partition) and reset when a
role of that name is created again.
"""

from dataclasses import dataclass

from moto.iam.exceptions import DeleteConflictException, IAMException
from moto.iam.models import IAMBackend

from emu import iam_fidelity, override
from emu.realistic import LOCK, now, window

ROLE_DETACHED = "Cannot delete entity, must detach all policies first."
CONCURRENT = "Another request updating the entity is in progress. Please try again later."


class ConcurrentModificationException(IAMException):
    code = "ConcurrentModification"


@dataclass
class RoleState:
    created: float
    trust_updated: float | None = None
    detached: float | None = None
    concurrent_done: bool = False


_roles: dict[str, RoleState] = {}  # role ARN -> state
_policy_detached: dict[str, float] = {}  # policy ARN -> last DetachRolePolicy


def _within(t: float | None, name: str) -> bool:
    w = window(name)
    return t is not None and w > 0 and now() - t < w


def _concurrent_check(backend: IAMBackend, role_name: str) -> None:
    """Raises ConcurrentModification on the first modification of a role younger than the window."""
    try:
        role = backend.get_role(role_name)
    except Exception:
        return  # the original call answers NoSuchEntity
    with LOCK:
        state = _roles.get(role.arn)
        if state is None or state.concurrent_done or not _within(state.created, "iam_concurrent"):
            return
        state.concurrent_done = True
    raise ConcurrentModificationException(CONCURRENT)


def propagation_pending(role_arn: str) -> str | None:
    with LOCK:
        state = _roles.get(role_arn)
        if state is None:
            return None
        changed = max(state.created, state.trust_updated or state.created)
        what = "trust policy updated" if state.trust_updated else "created"
    if _within(changed, "iam_propagation"):
        return (f"role {role_arn} is still propagating to Cognito ({what} {now() - changed:.2f}s ago, "
                f"iam_propagation window {window('iam_propagation')}s)")
    return None


def install() -> None:
    originals = {name: getattr(IAMBackend, name) for name in (
        "create_role", "delete_role", "update_assume_role_policy", "attach_role_policy",
        "detach_role_policy", "tag_role", "delete_policy")}

    def create_role(self, role_name, *args, **kwargs):
        role = originals["create_role"](self, role_name, *args, **kwargs)
        with LOCK:
            _roles[role.arn] = RoleState(created=now())
        return role

    def delete_role(self, role_name):
        role = self.get_role(role_name)  # NoSuchEntity as before
        with LOCK:
            state = _roles.get(role.arn)
            if state is not None and _within(state.detached, "iam_delete_conflict"):
                raise DeleteConflictException(ROLE_DETACHED)
        result = originals["delete_role"](self, role_name)
        with LOCK:
            _roles.pop(role.arn, None)
        return result

    def update_assume_role_policy(self, role_name, policy_document):
        _concurrent_check(self, role_name)
        result = originals["update_assume_role_policy"](self, role_name, policy_document)
        role = self.get_role(role_name)
        with LOCK:
            state = _roles.get(role.arn)
            if state is not None:
                state.trust_updated = now()
        return result

    def attach_role_policy(self, policy_arn, role_name):
        _concurrent_check(self, role_name)
        return originals["attach_role_policy"](self, policy_arn, role_name)

    def detach_role_policy(self, policy_arn, role_name):
        _concurrent_check(self, role_name)
        result = originals["detach_role_policy"](self, policy_arn, role_name)
        role = self.get_role(role_name)
        with LOCK:
            t = now()
            state = _roles.get(role.arn)
            if state is not None:
                state.detached = t
            _policy_detached[policy_arn] = t
        return result

    def tag_role(self, role_name, tags):
        _concurrent_check(self, role_name)
        return originals["tag_role"](self, role_name, tags)

    def delete_policy(self, policy_arn):
        # The always-on checks (attachments, versions) come first, as IAM answers them for good.
        policy = self.get_policy(policy_arn)
        if not iam_fidelity.is_attached(self, policy.arn) and len(policy.versions) <= 1:
            with LOCK:
                if _within(_policy_detached.get(policy.arn), "iam_delete_conflict"):
                    raise DeleteConflictException(iam_fidelity.ATTACHED)
        result = originals["delete_policy"](self, policy_arn)
        with LOCK:
            _policy_detached.pop(policy.arn, None)
        return result

    override.methods(
        IAMBackend, create_role, delete_role, update_assume_role_policy, attach_role_policy, detach_role_policy, tag_role, delete_policy)
