//! The `access-policy` step: the customer-managed IAM policy scoped to the table, attached to the role. A changed
//! document becomes a new default version (see [`managed`] for what every managed policy
//! shares).

use anyhow::Result;

use super::managed::{self, Action, New, Target};
use std::any::TypeId;

use super::observe::{read, Caller, Look, Observe, Scope};
use super::{Diff, Need, Run, Step, View};
use crate::config::{Desired, Isolation, Principal};
use crate::diagnose;
use crate::plan::{Done, Note, State, StepId};
use crate::policy_doc;
use crate::resource::Resource;

pub use managed::{observe, Live};

const STEP: StepId = StepId::AccessPolicy;

/// A managed policy ([`managed`]) for the stack's role.
pub struct AccessPolicy;

/// The policy's description.
pub fn description(d: &Desired) -> String {
    format!("Access to DynamoDB table {} (managed by setup, stack {})", d.table.name, d.stack)
}

/// What the access policy's per-user isolation means for the app: a switch of the key (which
/// changes which items every user reaches), a principal tag it reads that the pool does not
/// map, and a backend that keys items by another value than the app.
fn isolation_notes(v: &View) -> Vec<Note> {
    let (d, live) = (v.d, v.o.get::<AccessPolicy>());
    let mut notes = Vec::new();
    if let (Some(live), Some(key)) = (live, d.isolation) {
        notes.extend(diagnose::key_switch(&live.document, key).map(Note::info));
    }
    if let Some(live) = live {
        let mapped = super::principal_tags::mapped(v);
        notes.extend(diagnose::unmapped_tags(&live.document, &mapped).into_iter().map(Note::from));
    }
    if d.backend.is_some() && d.isolation == Some(Isolation::IdentityId) {
        notes.push(format!(
            "[backend] writes userId = the user pool sub (from x-amzn-oidc-identity), but isolation_key = \"identity-id\" lets each app user reach only items keyed by their identity id ({}): the backend and the app use different userId values for the same user; use isolation_key = \"user-pool-sub\" so that both see the same items",
            policy_doc::IDENTITY_ID_VARIABLE
        ).into());
    }
    notes
}

/// The access policy; in [`Scope::Removal`] with its attachments and old versions.
impl Observe for AccessPolicy {
    type Live = Live;
    fn reads(&self, _d: &Desired, _scope: Scope) -> Vec<TypeId> {
        vec![read::<Caller>()]
    }
    async fn observe(&self, look: &Look<'_>) -> Result<Option<Live>> {
        let arn = look.d.policy_arn(&*look.account()?);
        match look.full() {
            true => managed::observe(look.aws, &arn, true).await,
            false => managed::observe_all(look.aws, &arn).await,
        }
    }
}

impl Step for AccessPolicy {
    type Action = Action;
    const ID: StepId = STEP;

    fn diff(&self, v: &View) -> Diff<Action> {
        let (d, name, table_arn) = (v.d, &v.d.policy_name, v.table_arn());
        let doc = policy_doc::access_policy(&table_arn, &d.actions, d.isolation);
        let (desired, grants) = v.table_policy(doc, &d.actions);
        let mut r = match v.o.get::<AccessPolicy>() {
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
                let attachment = managed::role_attachment(
                    v.o.get::<crate::steps::role::Role>(),
                    &d.role_name,
                    &live.arn,
                );
                managed::compare(d, v.region, (STEP, name), live, &desired, attachment)
            }
        };
        if let Some(why) = policy_doc::too_large(name, &desired) {
            // Not even --adopt may write it: IAM would refuse it halfway through the apply.
            r = r.block(why);
        }
        r.notes.extend(isolation_notes(v));
        r
    }

    /// Teardown removes the stack's policy (the role step detaches it from the role first) with
    /// its old versions, unless it is attached to something outside the stack.
    fn removal(&self, v: &View) -> Diff<Action> {
        let (d, name) = (v.d, &v.d.policy_name);
        let Some(live) = v.o.get::<AccessPolicy>() else {
            return Diff::new(STEP, name, State::Missing);
        };
        let role_is_ours =
            v.o.get::<crate::steps::role::Role>()
                .is_some_and(|r| r.global().ours(&d.stack, v.region));
        let outside = managed::attached_outside(live, role_is_ours.then_some(d.role_name.as_str()));
        if let Some(kept) = managed::kept(STEP, (&d.stack, v.region), name, live, &outside) {
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
        let target =
            Target { step: STEP, instance: None, name: &ctx.desired.policy_name, arn: &arn };
        managed::apply(ctx, &target, action).await
    }

    fn export(&self, _d: &Desired) -> Vec<Resource> {
        vec![Resource::AccessPolicy, Resource::PolicyAttachment]
    }
}

#[cfg(test)]
mod tests;
