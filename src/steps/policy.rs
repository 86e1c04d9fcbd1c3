//! Step 5: the customer-managed IAM policy scoped to the table, attached to the role. A changed
//! document becomes a new default version (see [`managed`] for what every managed policy
//! shares).

use anyhow::Result;

use super::managed::{self, Action, New, Target};
use super::own::{owner, Keep, Owner};
use super::{Diff, Need, Run, Step, View};
use crate::config::{Desired, Principal};
use crate::export::Resource;
use crate::plan::{Change, Done, State, StepId};
use crate::policy_doc;

pub use managed::{observe, Live};

const STEP: StepId = StepId::AccessPolicy;

/// A managed policy ([`managed`]) for the stack's role.
pub struct AccessPolicy;

/// The policy's description.
pub fn description(d: &Desired) -> String {
    format!("Access to DynamoDB table {} (managed by setup, stack {})", d.table.name, d.stack)
}

fn attached(role: Option<&super::role::Live>, arn: &str) -> bool {
    role.is_some_and(|r| r.attached.iter().any(|(_, a)| a == arn))
}

/// A managed policy's deletion: its old versions, then the policy.
pub fn deletion(
    mut r: Diff<Action>,
    name: &str,
    live: &Live,
    why: Option<&'static str>,
) -> Diff<Action> {
    let old = live.old_versions.clone().unwrap_or_default();
    if !old.is_empty() {
        r = r.act(Action::DeleteVersions(name.to_string(), old));
    }
    r.act(Action::Delete(name.to_string(), why))
}

impl Step for AccessPolicy {
    type Action = Action;
    const ID: StepId = STEP;

    fn diff(&self, v: &View) -> Diff<Action> {
        let (d, name, table_arn) = (v.d, &v.d.policy_name, v.table_arn());
        let doc = policy_doc::access_policy(&table_arn, &d.actions, d.per_user_isolation);
        let (desired, grants) = v.table_policy(doc, &d.actions);
        let to_role = Principal::Role(d.role_name.clone());
        let mut r = match &v.o.policy {
            None => Diff::new(STEP, name, State::Missing)
                .act(Action::Create(New {
                    name: name.clone(),
                    description: description(d),
                    document: desired.clone(),
                    grants,
                }))
                .act(Action::Attach(to_role)),
            Some(live) => {
                let attachment = if attached(v.o.role.as_ref(), &live.arn) {
                    (vec![], vec![])
                } else {
                    let change = format!("attached to role {}", d.role_name);
                    (vec![Change::new(change, false, true)], vec![Action::Attach(to_role)])
                };
                managed::compare(d, (STEP, name), live, &desired, attachment)
            }
        };
        if let Some(why) = policy_doc::too_large(name, &desired) {
            // Not even --adopt may write it: IAM would refuse it halfway through the apply.
            r = r.block(why);
        }
        r
    }

    /// Teardown removes the stack's policy (the role step detaches it from the role first) with
    /// its old versions, unless it is attached to something outside the stack.
    fn removal(&self, v: &View) -> Diff<Action> {
        let (d, name) = (v.d, &v.d.policy_name);
        let Some(live) = &v.o.policy else {
            return Diff::new(STEP, name, State::Missing);
        };
        if owner(&live.tags, &d.stack) != Owner::ThisStack {
            return Diff::new(STEP, &live.arn, State::NotOwned)
                .act(Action::Keep(Keep::not_ours(format!("policy {name}"))));
        }
        let role_is_ours =
            v.o.role.as_ref().is_some_and(|r| owner(&r.tags, &d.stack) == Owner::ThisStack);
        let entities = live.entities.clone().unwrap_or_default();
        let mut others: Vec<String> = entities
            .roles
            .iter()
            .filter(|r| !(role_is_ours && **r == d.role_name))
            .map(|r| format!("role {r}"))
            .collect();
        others.extend(entities.users.iter().map(|u| format!("user {u}")));
        others.extend(entities.groups.iter().map(|g| format!("group {g}")));
        let r = Diff::new(STEP, &live.arn, State::InSync);
        if !others.is_empty() {
            return r.act(Action::Keep(Keep::in_use(
                format!("policy {name}"),
                format!("still attached to {} (not managed by this stack)", others.join(", ")),
            )));
        }
        deletion(r, name, live, None)
    }

    fn needs(&self, action: &Action) -> Vec<Need> {
        match action {
            Action::Attach(_) => vec![Need::Done(StepId::Role)],
            // The role step detaches it from the role first.
            Action::Delete(..) => vec![Need::After(StepId::Role)],
            _ => vec![],
        }
    }

    async fn apply(&self, run: &Run<'_>, action: &Action) -> Result<Vec<Done>> {
        let ctx = run.ctx;
        let arn = ctx.policy_arn();
        let target = Target { step: STEP, name: &ctx.desired.policy_name, arn: &arn };
        managed::apply(ctx, &target, action).await
    }

    fn export(&self, _d: &Desired) -> Vec<Resource> {
        vec![Resource::AccessPolicy, Resource::PolicyAttachment]
    }
}

#[cfg(test)]
mod tests;
