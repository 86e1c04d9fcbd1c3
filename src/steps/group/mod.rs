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

pub mod leftovers;
mod policy;
mod role;
#[cfg(test)]
mod tests;

use std::fmt;

use anyhow::Result;
use serde_json::Value;

use super::observe::{Look, Observe};
use super::{managed, Diff, View};
use crate::config::{Desired, GroupSpec};
use crate::plan::Note;
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

/// The instances to plan: every configured group, then every group the stack's role mappings
/// still hold that the config no longer lists (its role and policy go).
fn planned(v: &View) -> Vec<Option<String>> {
    let mut out = instances(v.d);
    let found = v.o.get::<Leftovers>();
    out.extend(found.iter().flat_map(|f| &f.leftovers).map(|l| Some(l.group.clone())));
    out
}

/// One action of a group step, with the group it is for (its instance): what `apply` needs to
/// find the group's role or policy. Shown, and kinded, as the action itself.
#[derive(Debug, Clone, PartialEq)]
pub struct Grouped<A> {
    pub group: String,
    pub action: A,
}

impl<A: fmt::Display> fmt::Display for Grouped<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.action.fmt(f)
    }
}

impl<'a, A> From<&'a Grouped<A>> for &'static str
where
    &'a A: Into<&'static str>,
{
    fn from(g: &'a Grouped<A>) -> &'static str {
        (&g.action).into()
    }
}

impl<A: strum::VariantNames> strum::VariantNames for Grouped<A> {
    const VARIANTS: &'static [&'static str] = A::VARIANTS;
}

/// A report's actions, each with its group.
pub(crate) trait GroupedDiff<A> {
    fn grouped(self, group: &str) -> Diff<Grouped<A>>;
}

impl<A> GroupedDiff<A> for Diff<A> {
    fn grouped(self, group: &str) -> Diff<Grouped<A>> {
        self.map_actions(|action| Grouped { group: group.to_string(), action })
    }
}

/// What exists of the view's group (a configured one, or one that left the config).
struct Of<'a> {
    v: &'a View<'a>,
    leftover: Option<&'a Leftover>,
}

impl<'a> Of<'a> {
    fn new(v: &'a View<'a>) -> Self {
        let group = v.instance.unwrap_or_default();
        let leftover = match v.d.group(group) {
            Some(_) => None,
            None => v.o.get::<Leftovers>().and_then(|f| f.leftover(group)),
        };
        Of { v, leftover }
    }

    fn spec(&self) -> Option<&'a GroupSpec> {
        self.v.d.group(self.v.instance?)
    }

    fn role_name(&self) -> Option<&'a str> {
        match (self.spec(), self.leftover) {
            (Some(g), _) => Some(&g.role_name),
            (None, Some(l)) => Some(l.role_name()),
            (None, None) => None,
        }
    }

    fn role(&self) -> Option<&'a super::role::Live> {
        match self.leftover {
            Some(l) => l.role.as_ref(),
            None => self.v.live::<GroupRole>(),
        }
    }

    /// The group's policies that are this stack's (a configured group has one).
    fn policies(&self) -> Vec<&'a managed::Live> {
        match self.leftover {
            Some(l) => l.policies.iter().collect(),
            None => self.v.live::<GroupPolicy>().into_iter().collect(),
        }
    }

    fn our_policy_arns(&self) -> Vec<&'a str> {
        let (stack, here) = (&self.v.d.stack, self.v.region);
        let ours = self.policies().into_iter().filter(|p| p.global().ours(stack, here));
        ours.map(|p| p.arn.as_str()).collect()
    }

    /// Whether the group's role is this stack's (so its step detaches the group's policy).
    fn our_role(&self) -> bool {
        self.role().is_some_and(|r| r.global().ours(&self.v.d.stack, self.v.region))
    }
}

/// Whether the user pool has the group (`GetGroup`): a configured group that does not exist
/// matches nobody, which is a finding (not a refusal: the group may be created later).
pub struct UserPoolGroup;

/// What `GetGroup` said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupCheck {
    Exists,
    Missing,
    /// It could not be read (the message says why).
    Unknown(String),
}

impl Observe for UserPoolGroup {
    type Live = GroupCheck;
    fn instances(&self, d: &Desired) -> Vec<Option<String>> {
        instances(d)
    }
    async fn observe(&self, look: &Look<'_>) -> Result<Option<GroupCheck>> {
        let Some(group) = look.instance.filter(|_| look.full()) else { return Ok(None) };
        let pool = &look.d.user_pool.id;
        let call = look.aws.idp.get_group().user_pool_id(pool).group_name(group).send().await;
        Ok(Some(match call {
            Ok(_) => GroupCheck::Exists,
            Err(e) if crate::aws::code(&e) == Some("ResourceNotFoundException") => {
                GroupCheck::Missing
            }
            Err(e) => GroupCheck::Unknown(
                crate::aws::explain(
                    &format!("reading group {group} of user pool {pool} (cognito-idp:GetGroup)"),
                    e,
                )
                .to_string(),
            ),
        }))
    }
}

/// The note on a configured group the user pool does not have (or that could not be checked).
fn group_check(v: &View, g: &GroupSpec) -> Option<Note> {
    let pool = &v.d.user_pool.id;
    match v.o.instance::<UserPoolGroup>(Some(&g.name))? {
        GroupCheck::Exists => None,
        GroupCheck::Missing => Some(Note::finding(
            format!(
                "user pool {pool} has no group {:?}: nobody gets role {} until it exists; create it (`aws cognito-idp create-group --user-pool-id {pool} --group-name {}`) and add its members",
                g.name, g.role_name, g.name
            ),
            Some("its members sign in with the stack's role"),
        )),
        GroupCheck::Unknown(why) => {
            Some(Note::info(format!("could not check that group {} exists: {why}", g.name)))
        }
    }
}
