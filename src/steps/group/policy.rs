//! The group policy (`group-policy[<group>]`): the group's actions on the table (its indexes
//! and key too), attached to the group's role (see [`managed`] for what every managed policy
//! shares). Removed with the role when the group leaves the config or the stack goes.

use std::any::TypeId;

use anyhow::{anyhow, Result};
use serde_json::Value;

use super::super::managed::{self, Action, New, Target};
use super::super::observe::{read, Caller, Look, Observe, Scope};
use super::super::{Diff, Need, Run, Step, View};
use super::role::GROUP_REMOVED;
use super::{GroupRole, Grouped, GroupedDiff, Leftovers, Of};
use crate::config::{Desired, Principal};
use crate::plan::{Done, State, StepId, Unit};
use crate::policy_doc;
use crate::resource::Resource;

const STEP: StepId = StepId::GroupPolicy;

/// A managed policy ([`managed`]) for a group's role.
pub struct GroupPolicy;

/// Removing the group's policies (teardown, or the group left the config): their old versions,
/// then the policies; the role step detaches them when the role goes too. Kept when not the
/// stack's or attached to something outside it.
fn removal(v: &View, why: Option<&'static str>) -> Diff<Action> {
    let of = Of::new(v);
    let role = of.role_name().unwrap_or_default();
    let policies = of.policies();
    let Some(first) = policies.first() else {
        let name = of.spec().map(|g| g.policy_name.as_str()).unwrap_or_default();
        return Diff::new(STEP, name, State::Missing);
    };
    // Detached by the role step when the role goes too; else here.
    let role_goes = of.our_role();
    let mut r = Diff::new(STEP, &first.arn, State::InSync);
    for live in policies {
        let name = live.arn.rsplit('/').next().unwrap_or_default();
        let outside = managed::attached_outside(live, role_goes.then_some(role));
        if let Some(kept) = managed::kept(STEP, (&v.d.stack, v.region), name, live, &outside) {
            r.state = kept.state;
            r.actions.extend(kept.actions);
            continue;
        }
        let attached = live.entities.as_ref().is_some_and(|e| e.roles.iter().any(|x| x == role));
        if !role_goes && attached {
            r = r.act(Action::Detach(Principal::Role(role.to_string()), managed::Why::Removing));
        }
        r = managed::deletion(r, name, live, why);
    }
    r
}

impl Observe for GroupPolicy {
    type Live = managed::Live;
    fn reads(&self, _d: &Desired, _scope: Scope) -> Vec<TypeId> {
        vec![read::<Caller>()]
    }
    fn instances(&self, d: &Desired) -> Vec<Option<String>> {
        super::instances(d)
    }
    /// With its attachments and old versions for teardown (they may have to go).
    async fn observe(&self, look: &Look<'_>) -> Result<Option<managed::Live>> {
        let Some(g) = look.instance.and_then(|i| look.d.group(i)) else { return Ok(None) };
        let arn = look.d.group_policy_arn(g, &*look.account()?);
        match managed::observe(look.aws, &arn, look.full()).await? {
            Some(live) if !look.full() => {
                Ok(Some(managed::with_attachments(look.aws, live).await?))
            }
            other => Ok(other),
        }
    }
}

impl Step for GroupPolicy {
    type Action = Grouped<Action>;
    const ID: StepId = STEP;

    fn planned(&self, v: &View) -> Vec<Option<String>> {
        super::planned(v)
    }

    fn diff(&self, v: &View) -> Diff<Grouped<Action>> {
        let Some(group) = v.instance else { return Diff::new(STEP, "", State::InSync).grouped("") };
        let d = v.d;
        let Some(g) = d.group(group) else {
            let exists = format!("policy of group {group} exists");
            let r = removal(v, Some(GROUP_REMOVED)).unwanted("groups", exists, Value::Null);
            return r.grouped(group);
        };
        let table_arn = v.table_arn();
        let (desired, grants) =
            v.table_policy(super::policy_document(g, table_arn.as_str().into()), &g.actions);
        let mut r = match v.live::<GroupPolicy>() {
            None => {
                let new = New {
                    name: g.policy_name.clone(),
                    description: super::policy_description(d, &g.name),
                    document: desired.clone(),
                    grants,
                };
                managed::missing(STEP, new, Principal::Role(g.role_name.clone()))
            }
            Some(live) => {
                let role = v.live::<GroupRole>();
                let attachment = managed::role_attachment(role, &g.role_name, &live.arn);
                managed::compare(d, v.region, (STEP, &g.policy_name), live, &desired, attachment)
            }
        };
        if let Some(why) = policy_doc::too_large(&g.policy_name, &desired) {
            r = r.block(why);
        }
        r.grouped(group)
    }

    fn removal(&self, v: &View) -> Diff<Grouped<Action>> {
        removal(v, None).grouped(v.instance.unwrap_or_default())
    }

    fn needs(&self, action: &Grouped<Action>) -> Vec<Need> {
        // Its own group's role: created before the attach, the policy detached before deletion.
        let role = Unit::new(StepId::GroupRole, Some(&action.group));
        match &action.action {
            Action::Attach(_) => vec![Need::Instance(role)],
            Action::Delete { .. } => vec![Need::After(StepId::GroupRole)],
            _ => vec![],
        }
    }

    fn fixes_findings(&self, action: &Grouped<Action>) -> bool {
        managed::replaces_document(&action.action)
    }

    fn export(&self, d: &Desired) -> Vec<Resource> {
        (0..d.groups.len())
            .flat_map(|n| [Resource::GroupPolicy(n), Resource::GroupPolicyAttachment(n)])
            .collect()
    }

    async fn apply(&self, run: &Run<'_>, action: &Grouped<Action>) -> Result<Vec<Done>> {
        let (ctx, group) = (run.ctx, action.group.as_str());
        let (name, arn) = match ctx.desired.group(group) {
            Some(g) => (g.policy_name.clone(), ctx.desired.group_policy_arn(g, &ctx.account)),
            None => {
                // A group that left the config: the policy the action names.
                let named = match &action.action {
                    Action::Delete { policy, .. } | Action::DeleteVersions { policy, .. } => {
                        Some(policy.as_str())
                    }
                    _ => None,
                };
                let found = run.o.get::<Leftovers>().and_then(|f| f.leftover(group));
                let live = found
                    .into_iter()
                    .flat_map(|l| &l.policies)
                    .find(|p| named.is_none_or(|n| p.arn.rsplit('/').next() == Some(n)));
                let live = live.ok_or_else(|| {
                    anyhow!("internal: no policy of group {group} to act on: {}", action.action)
                })?;
                let name = live.arn.rsplit('/').next().unwrap_or_default().to_string();
                (name, live.arn.clone())
            }
        };
        let target = Target { step: STEP, instance: Some(group), name: &name, arn: &arn };
        managed::apply(ctx, &target, &action.action).await
    }
}
