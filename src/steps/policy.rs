//! Step 5: the customer-managed IAM policy scoped to the table, attached to the role. A changed
//! document becomes a new default version (see [`managed`] for what every managed policy
//! shares).

use anyhow::Result;

use super::managed::{self, Action, New, Target};
use super::own::{owner, Owner};
use super::{Diff, Need, Run, Step, View};
use crate::config::{Desired, Principal};
use crate::export::Resource;
use crate::plan::{Done, State, StepId};
use crate::policy_doc;

pub use managed::{observe, Live};

const STEP: StepId = StepId::AccessPolicy;

/// A managed policy ([`managed`]) for the stack's role.
pub struct AccessPolicy;

/// The policy's description.
pub fn description(d: &Desired) -> String {
    format!("Access to DynamoDB table {} (managed by setup, stack {})", d.table.name, d.stack)
}

impl Step for AccessPolicy {
    type Action = Action;
    const ID: StepId = STEP;

    fn diff(&self, v: &View) -> Diff<Action> {
        let (d, name, table_arn) = (v.d, &v.d.policy_name, v.table_arn());
        let doc = policy_doc::access_policy(&table_arn, &d.actions, d.per_user_isolation);
        let (desired, grants) = v.table_policy(doc, &d.actions);
        let mut r = match &v.o.policy {
            None => {
                let new = New {
                    name: name.clone(),
                    description: description(d),
                    document: desired.clone(),
                    grants,
                };
                managed::missing(STEP, new, Principal::Role(d.role_name.clone()))
            }
            Some(live) => {
                let attachment =
                    managed::role_attachment(v.o.role.as_ref(), &d.role_name, &live.arn);
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
        let role_is_ours =
            v.o.role.as_ref().is_some_and(|r| owner(&r.tags, &d.stack) == Owner::ThisStack);
        let outside = managed::attached_outside(live, role_is_ours.then_some(d.role_name.as_str()));
        if let Some(kept) = managed::kept(STEP, &d.stack, name, live, &outside) {
            return kept;
        }
        managed::deletion(Diff::new(STEP, &live.arn, State::InSync), name, live, None)
    }

    fn needs(&self, action: &Action) -> Vec<Need> {
        managed::needs_role(action, StepId::Role)
    }

    fn fixes_findings(&self, action: &Action) -> bool {
        managed::replaces_document(action)
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
