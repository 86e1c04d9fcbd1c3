//! The group role (`group-role[<group>]`): created with the stack role's trust policy, which it
//! keeps converged and diagnoses; removed, with its group's policy detached first, when the
//! group leaves the config or the stack goes.

use std::fmt;

use anyhow::{anyhow, bail, Result};
use serde_json::Value;

use super::super::observe::{Look, Observe};
use super::super::own::{existing, Keep, Named, Owner, Tagging};
use super::super::role::{self as users_role, Live as RoleLive, Removal};
use super::super::{
    identity_pool, principal_tags, role_boundary, trust, Diff, Need, Run, Step, View,
};
use super::{group_check, Grouped, GroupedDiff, Of};
use crate::config::{Desired, GroupSpec};
use crate::diagnose::{self, grants};
use crate::plan::{Command, Done, Note, State, StepId, Unit};
use crate::policy_doc;
use crate::resource::Resource;

const STEP: StepId = StepId::GroupRole;

/// Why a group's role and policy go while the stack stays.
pub const GROUP_REMOVED: &str = "its group is no longer in [[groups]]";

/// The role of one user pool group.
pub struct GroupRole;

/// What `apply` and `teardown` do to a group's role (each carries the role's name).
#[derive(Debug, Clone, PartialEq, strum::IntoStaticStr, strum::VariantNames)]
#[strum(serialize_all = "kebab-case")]
pub enum Action {
    /// Create it, trusted as the stack's role is.
    Create(String),
    Tag(Tagging),
    /// UpdateAssumeRolePolicy with the stack role's trust policy; `after_untag`: it drops
    /// `sts:TagSession`, so only once the pool no longer passes principal tags.
    RewriteTrust {
        role: String,
        after_untag: bool,
    },
    /// PutRolePermissionsBoundary with the configured boundary (its ARN).
    PutBoundary {
        role: String,
        arn: String,
    },
    /// Detach the group's policy (this stack's), so the role can go.
    DetachPolicy {
        role: String,
        policy: String,
        arn: String,
    },
    /// Delete it (`why`: when the stack stays).
    Delete {
        role: String,
        why: Option<&'static str>,
    },
    Keep(Keep),
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Create(role) => write!(
                f,
                "create role {role} trusted by the identity pool's authenticated users (the group's members get it from the role mapping)"
            ),
            Action::Tag(t) => t.fmt(f),
            Action::RewriteTrust { role, after_untag: false } => {
                write!(f, "rewrite the trust policy of role {role}")
            }
            Action::RewriteTrust { role, after_untag: true } => write!(
                f,
                "rewrite the trust policy of role {role} (after the principal tag map is removed)"
            ),
            Action::PutBoundary { arn, .. } => role_boundary::text(f, arn),
            Action::DetachPolicy { policy, .. } => write!(f, "detach policy {policy} from it"),
            Action::Delete { role, why: None } => write!(f, "delete role {role}"),
            Action::Delete { role, why: Some(why) } => write!(f, "delete role {role} ({why})"),
            Action::Keep(k) => k.fmt(f),
        }
    }
}

/// A configured group's role as it exists, compared with the config: its owner, its trust
/// policy (with the explainers of the stack role's), its boundary, and what else is on it.
fn compare(v: &View, g: &GroupSpec, live: &RoleLive, pool_id: Option<&str>) -> Diff<Action> {
    let (d, name) = (v.d, &g.role_name);
    let desired = super::trust_policy(d, pool_id.unwrap_or(trust::NEW_POOL_ID).into());
    let tagged = principal_tags::live(v).is_some();
    let mut fixes = Vec::new();
    if !policy_doc::equivalent(&live.trust, &desired) {
        let after_untag = tagged && !d.tags_sessions();
        fixes.push(Action::RewriteTrust { role: name.clone(), after_untag });
    }
    let (boundary, put, note) = role_boundary::diff(d, live, &v.o.account, name);
    fixes.extend(put.map(|arn| Action::PutBoundary { role: name.clone(), arn }));
    let named = Named {
        step: STEP,
        kind: "role",
        name,
        resource: live.arn.clone(),
        tags: &live.tags,
        global: Some((live.named_region.as_deref(), v.region)),
    };
    let mut changes = super::super::guest::role::trust_changes(&live.trust, &desired);
    changes.extend(boundary);
    let mut r = existing(d, named, changes, fixes, Action::Tag);
    r.notes.extend(note.map(Note::info));
    let provider = d.user_pool.provider_name();
    r.notes.extend(
        diagnose::trust_policy(&live.trust, pool_id, &provider)
            .into_iter()
            .chain(diagnose::tag_session(&live.trust, tagged))
            .map(|f| {
                let message = format!("role {name} of group {}: {}", g.name, f.message);
                Note::from(diagnose::Finding { message, ..f })
            }),
    );
    r.notes.extend(grants::beyond_config(
        live.policies(),
        name,
        &g.policy_name,
        grants::Holder::GroupMembers,
        &d.table.name,
    ));
    r
}

/// Removing a group's role (teardown, or the group left the config): detach the stack's
/// policies, then delete it, unless it is not the stack's or holds policies setup did not add.
fn removal(v: &View, why: Option<&'static str>) -> Diff<Action> {
    let of = Of::new(v);
    let name = of.role_name().unwrap_or_default().to_string();
    let Some(live) = of.role() else {
        return Diff::new(STEP, &name, State::Missing);
    };
    let own = live.global().owner(&v.d.stack, v.region);
    if own != Owner::ThisStack {
        return Diff::new(STEP, &name, State::NotOwned)
            .act(Action::Keep(Keep::owned_by(format!("role {name}"), &own)));
    }
    let ours = of.our_policy_arns();
    let rerun = if why.is_some() { Command::Apply } else { Command::Teardown };
    let steps = users_role::removal_steps(live, &name, &ours, rerun).into_iter().map(|s| match s {
        Removal::Detach(policy, arn) => Action::DetachPolicy { role: name.clone(), policy, arn },
        Removal::Delete => Action::Delete { role: name.clone(), why },
        Removal::Keep(k) => Action::Keep(k),
    });
    steps.fold(Diff::new(STEP, &name, State::InSync), Diff::act)
}

/// Creates the role with the stack role's trust policy. When it exists already (made meanwhile,
/// or by a retry whose first answer was lost), it is read and converged like any group role.
async fn create(run: &Run<'_>, unit: &Unit, g: &GroupSpec) -> Result<Vec<Done>> {
    let ctx = run.ctx;
    let d = &ctx.desired;
    let name = &g.role_name;
    let pool_id = identity_pool::id(run)
        .ok_or_else(|| anyhow!("internal: the group role needs the identity pool's id"))?;
    let description = super::role_description(&d.stack, &g.name, &pool_id);
    let trust = super::trust_policy(d, pool_id.as_str().into());
    let res = users_role::create_call(ctx, unit.clone(), name, description, &trust).await?;
    match res {
        Ok(_) => Ok(vec![Done::Created(format!("created role {name}"))]),
        Err(e) if crate::aws::code(&e) == Some("EntityAlreadyExists") => {
            let live = users_role::observe_named(&ctx.aws, name)
                .await?
                .ok_or_else(|| anyhow!("role {name} exists but cannot be read"))?;
            let region = ctx.region();
            let v = View { d, o: run.o, region, delete_table: false, instance: Some(&g.name) };
            let plan = compare(&v, g, &live, Some(&pool_id));
            if let Some(why) = plan.blocked.filter(|_| !(ctx.adopt && plan.adoptable)) {
                bail!(why);
            }
            let mut done = Vec::new();
            for action in &plan.actions {
                done.extend(Box::pin(act(run, unit, &g.name, action)).await?);
            }
            Ok(done)
        }
        Err(e) => Err(crate::aws::explain(&format!("creating role {name}"), e)),
    }
}

/// Carries out one action on the role of `group` (each action names the role; only a create
/// needs the group's config).
async fn act(run: &Run<'_>, unit: &Unit, group: &str, action: &Action) -> Result<Vec<Done>> {
    let ctx = run.ctx;
    match action {
        Action::Create(_) => {
            let g = ctx.desired.group(group);
            let g = g.ok_or_else(|| anyhow!("internal: group {group} is not configured"))?;
            create(run, unit, g).await
        }
        Action::Tag(tagging) => users_role::tag(ctx, unit.clone(), &tagging.name, tagging).await,
        Action::RewriteTrust { role, .. } => {
            let pool_id = identity_pool::id(run).ok_or_else(|| {
                anyhow!("internal: the group role's trust policy needs the identity pool's id")
            })?;
            let desired = super::trust_policy(&ctx.desired, pool_id.as_str().into());
            users_role::write_trust(ctx, unit.clone(), role, &desired).await?;
            Ok(vec![Done::Updated(format!("trust policy now allows only identity pool {pool_id}"))])
        }
        Action::PutBoundary { role, arn } => role_boundary::put(ctx, unit.clone(), role, arn).await,
        Action::DetachPolicy { role, policy, arn } => {
            users_role::detach(ctx, unit.clone(), role, policy, arn).await
        }
        Action::Delete { role, .. } => users_role::delete(ctx, unit.clone(), role).await,
        Action::Keep(k) => Ok(vec![k.done()]),
    }
}

impl Observe for GroupRole {
    type Live = RoleLive;
    fn instances(&self, d: &Desired) -> Vec<Option<String>> {
        super::instances(d)
    }
    async fn observe(&self, look: &Look<'_>) -> Result<Option<RoleLive>> {
        match look.instance.and_then(|i| look.d.group(i)) {
            Some(g) => users_role::observe_named(look.aws, &g.role_name).await,
            None => Ok(None),
        }
    }
}

impl Step for GroupRole {
    type Action = Grouped<Action>;
    const ID: StepId = STEP;

    fn planned(&self, v: &View) -> Vec<Option<String>> {
        super::planned(v)
    }

    fn diff(&self, v: &View) -> Diff<Grouped<Action>> {
        let Some(group) = v.instance else { return Diff::new(STEP, "", State::InSync).grouped("") };
        let Some(g) = v.d.group(group) else {
            // The group left the config: its role goes, as in teardown.
            let r = removal(v, Some(GROUP_REMOVED));
            let live = format!("group {group} has role {}", r.resource);
            return r.unwanted("groups", live, Value::Null).grouped(group);
        };
        let mut r = match v.live::<GroupRole>() {
            None => Diff::new(STEP, &g.role_name, State::Missing)
                .act(Action::Create(g.role_name.clone())),
            Some(live) => compare(v, g, live, v.pool_id()),
        };
        r.notes.extend(group_check(v, g));
        r.grouped(group)
    }

    fn removal(&self, v: &View) -> Diff<Grouped<Action>> {
        removal(v, None).grouped(v.instance.unwrap_or_default())
    }

    fn fixes_findings(&self, action: &Grouped<Action>) -> bool {
        matches!(action.action, Action::RewriteTrust { .. })
    }

    fn needs(&self, action: &Grouped<Action>) -> Vec<Need> {
        match &action.action {
            // The trust policy names the pool.
            Action::Create(_) | Action::RewriteTrust { after_untag: false, .. } => {
                vec![Need::Done(StepId::IdentityPool)]
            }
            Action::RewriteTrust { after_untag: true, .. } => {
                vec![Need::Done(StepId::IdentityPool), Need::Done(StepId::PrincipalTags)]
            }
            _ => vec![],
        }
    }

    fn export(&self, d: &Desired) -> Vec<Resource> {
        (0..d.groups.len()).map(Resource::GroupRole).collect()
    }

    async fn apply(&self, run: &Run<'_>, action: &Grouped<Action>) -> Result<Vec<Done>> {
        let unit = Unit::new(STEP, Some(&action.group));
        act(run, &unit, &action.group, &action.action).await
    }
}
