//! The guest policy: `guest.actions` on the table, attached to the guest role (see
//! [`managed`] for what every managed policy shares). No policy at all when `guest.actions` is
//! empty.

use anyhow::Result;
use serde_json::Value;

use super::super::managed::{self, Action, New, Target, Why};
use std::any::TypeId;

use super::super::observe::{Look, Observe, Scope};
use super::super::{Diff, Need, Run, Step, View};
use super::{our_role, GUESTS_OFF};
use crate::config::{Desired, Principal};
use crate::plan::{Done, State, StepId};
use crate::policy_doc;
use crate::resource::Resource;

const STEP: StepId = StepId::GuestPolicy;

/// Why the guest policy goes while guests stay.
const NO_ACTIONS: &str = "guest.actions is empty";

/// A managed policy ([`managed`]) for the guest role.
pub struct GuestPolicy;

/// Removing the guest policy (teardown, guests off, no actions): its old versions, then the
/// policy; the role step detaches it from the guest role first (`detach`: this step does it,
/// the role stays). Kept when it is not the stack's or attached to something outside it.
fn removal(v: &View, why: Option<&'static str>, detach: bool) -> Diff<Action> {
    let (d, name) = (v.d, &v.d.guest_spec.policy_name);
    let Some(live) = v.o.get::<crate::steps::guest::GuestPolicy>() else {
        return Diff::new(STEP, name, State::Missing);
    };
    let role = &d.guest_spec.role_name;
    // Detached here, or by the role step when the role goes too.
    let ours = (detach || our_role(v).is_some()).then_some(role.as_str());
    let outside = managed::attached_outside(live, ours);
    if let Some(kept) = managed::kept(STEP, (&d.stack, v.region), name, live, &outside) {
        return kept;
    }
    let mut r = Diff::new(STEP, &live.arn, State::InSync);
    let attached = live.entities.as_ref().is_some_and(|e| e.roles.contains(role));
    if detach && attached {
        r = r.act(Action::Detach(Principal::Role(role.clone()), Why::Removing));
    }
    managed::deletion(r, name, live, why)
}

impl Observe for GuestPolicy {
    type Live = managed::Live;
    fn reads(&self, d: &Desired, scope: Scope) -> Vec<TypeId> {
        super::reads(d, scope)
    }
    async fn observe(&self, look: &Look<'_>) -> Result<Option<managed::Live>> {
        super::observe_policy(look).await
    }
}

impl Step for GuestPolicy {
    type Action = Action;
    const ID: StepId = STEP;

    /// With guests allowed, or a guest policy this stack left behind.
    fn applies(&self, v: &View) -> bool {
        v.d.guest().is_some() || super::our_policy(v).is_some()
    }

    fn diff(&self, v: &View) -> Diff<Action> {
        let d = v.d;
        let name = &d.guest_spec.policy_name;
        let exists = format!("policy {name} exists");
        let Some(guest) = d.guest() else {
            let r = removal(v, Some(GUESTS_OFF), false);
            return r.unwanted("identity_pool.allow_unauthenticated", exists, Value::Null);
        };
        if guest.actions.is_empty() {
            return match v.o.get::<crate::steps::guest::GuestPolicy>() {
                Some(p) if p.global().ours(&d.stack, v.region) => {
                    let r = removal(v, Some(NO_ACTIONS), true);
                    r.unwanted("guest.actions", exists, Value::Array(vec![]))
                }
                Some(p) => Diff::new(STEP, &p.arn, State::InSync).note(format!(
                    "policy {name} exists but is not this stack's; left as is (guest.actions is empty, so setup writes no guest policy)"
                )),
                None => Diff::new(STEP, name, State::InSync).note(
                    "no policy: guest.actions is empty, so the guest role has no table access",
                ),
            };
        }
        let table_arn = v.table_arn();
        // A customer-managed table: guests need its key too, like signed-in users.
        let (desired, grants) =
            v.table_policy(super::policy_document(d, &table_arn), &guest.actions);
        let mut r = match v.o.get::<crate::steps::guest::GuestPolicy>() {
            None => {
                let new = New {
                    name: name.clone(),
                    description: super::policy_description(d),
                    document: desired.clone(),
                    grants,
                };
                managed::missing(STEP, new, Principal::Role(guest.role_name.clone()))
            }
            Some(live) => {
                let role = v.o.get::<crate::steps::guest::GuestRole>();
                let attachment = managed::role_attachment(role, &guest.role_name, &live.arn);
                managed::compare(d, v.region, (STEP, name), live, &desired, attachment)
            }
        };
        if let Some(why) = policy_doc::too_large(name, &desired) {
            r = r.block(why);
        }
        r
    }

    fn removal(&self, v: &View) -> Diff<Action> {
        removal(v, None, false)
    }

    fn needs(&self, action: &Action) -> Vec<Need> {
        managed::needs_role(action, StepId::GuestRole)
    }

    fn fixes_findings(&self, action: &Action) -> bool {
        managed::replaces_document(action)
    }

    async fn apply(&self, run: &Run<'_>, action: &Action) -> Result<Vec<Done>> {
        let ctx = run.ctx;
        let arn = ctx.desired.guest_policy_arn(&ctx.account);
        let target = Target {
            step: STEP,
            instance: None,
            name: &ctx.desired.guest_spec.policy_name,
            arn: &arn,
        };
        managed::apply(ctx, &target, action).await
    }

    /// Only with `guest.actions`: without them there is no policy.
    fn export(&self, d: &Desired) -> Vec<Resource> {
        match d.guest() {
            Some(g) if !g.actions.is_empty() => {
                vec![Resource::GuestPolicy, Resource::GuestPolicyAttachment]
            }
            _ => vec![],
        }
    }
}
