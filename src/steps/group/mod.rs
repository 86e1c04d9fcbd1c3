//! Roles for user pool groups (`[[groups]]`): each group's members get a role of their own from
//! the identity pool's role mapping. Two steps with one instance per group, like the signed-in
//! users' role and policy:
//!
//! * [`GroupRole`] (`group-role[<group>]`): the role `groups.N.role`, trusted exactly as the
//!   stack's role is (this pool, `amr` = `authenticated`, `sts:TagSession` when the pool passes
//!   principal tags), whose trust policy it keeps converged and diagnoses;
//! * [`GroupPolicy`] (`group-policy[<group>]`): the customer-managed policy `groups.N.policy_name`
//!   granting the group's actions on the table (and its indexes and key), attached to its role.
//!
//! The pool-roles step writes the role mapping that hands these roles out: for every configured
//! app client, `Type: Rules`, one rule per group (`cognito:groups` *Contains* the name) in the
//! config's order, and `AmbiguousRoleResolution: AuthenticatedRole` (everyone else gets the
//! stack's role).
//!
//! A group removed from the config is found through that mapping ([`Leftovers`]): the rules of
//! the stack's mappings whose group is no longer configured. Its role and policy go when they are
//! this stack's (its tags), then the rule.

mod leftovers;
mod policy;
mod role;
#[cfg(test)]
mod tests;

use serde_json::Value;

use crate::config::{Desired, GroupSpec};
use crate::policy_doc;

pub use leftovers::{Leftover, Leftovers};
pub use policy::GroupPolicy;
pub use role::{Action as RoleAction, GroupRole};

/// The claim the mapping's rules read, and how.
pub const GROUPS_CLAIM: &str = "cognito:groups";
pub const CONTAINS: &str = "Contains";
/// What a signed-in user who matches no rule gets: the pool's authenticated role.
pub const AMBIGUOUS: &str = "AuthenticatedRole";

/// A group role's trust policy: the stack role's, for `pool_id` (a reference in exports).
pub fn trust_policy(d: &Desired, pool_id: Value) -> Value {
    policy_doc::trust_policy_tagging(pool_id, &d.user_pool.provider_name(), d.tags_sessions())
}

/// A group policy's document before indexes and key: the group's actions on the table, with the
/// isolation rule when the group is isolated (`table_arn` a reference in exports).
pub fn policy_document(g: &GroupSpec, table_arn: Value) -> Value {
    policy_doc::access_policy_with(table_arn, &g.actions, g.isolation)
}

/// A group role's description (exports pass a reference for `pool_id`).
pub fn role_description(stack: &str, group: &str, pool_id: &str) -> String {
    format!("Assumed by members of user pool group {group} through identity pool {pool_id} (managed by setup, stack {stack})")
}

/// A group policy's description.
pub fn policy_description(d: &Desired, group: &str) -> String {
    format!(
        "Access of user pool group {group} to DynamoDB table {} (managed by setup, stack {})",
        d.table.name, d.stack
    )
}

/// One instance per configured group (its name), in the config's order.
fn instances(d: &Desired) -> Vec<Option<String>> {
    d.groups.iter().map(|g| Some(g.name.clone())).collect()
}
