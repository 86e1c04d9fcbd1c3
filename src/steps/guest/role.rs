//! The guest role, with its trust policy (created with it, rewritten when it drifts).

use std::fmt;

use anyhow::{anyhow, bail, Result};
use serde_json::Value;

use super::super::own::{existing, Keep, Named, Owner, Tagging};
use super::super::role::{self as users_role, Live as RoleLive, Removal};
use std::any::TypeId;

use super::super::observe::{Look, Observe, Scope};
use super::super::{identity_pool, trust, Diff, Need, Run, Step, View};
use super::{our_policy, trust_policy, GUESTS_OFF};
use crate::aws::Account;
use crate::config::Desired;
use crate::diagnose;
use crate::plan::{Change, Command, Done, Note, State, StepId};
use crate::policy_doc;
use crate::resource::Resource;

const STEP: StepId = StepId::GuestRole;

/// The role the identity pool gives guests.
pub struct GuestRole;

/// What `apply` and `teardown` do to the guest role.
#[derive(Debug, Clone, PartialEq, strum::IntoStaticStr, strum::VariantNames)]
#[strum(serialize_all = "kebab-case")]
pub enum Action {
    /// Create it, trusting the identity pool's unauthenticated identities.
    Create(String),
    Tag(Tagging),
    /// UpdateAssumeRolePolicy with the guest trust policy (the role's name).
    RewriteTrust(String),
    /// PutRolePermissionsBoundary with the configured boundary (its ARN): missing or another.
    PutBoundary(String),
    /// Detach the stack's guest policy, so the role can go.
    DetachPolicy {
        policy: String,
        arn: String,
    },
    /// Delete it (`why`: when the stack stays).
    Delete {
        name: String,
        why: Option<&'static str>,
    },
    Keep(Keep),
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Create(name) => write!(
                f,
                "create role {name} trusted by the identity pool's unauthenticated (guest) identities"
            ),
            Action::Tag(t) => t.fmt(f),
            Action::RewriteTrust(name) => write!(
                f,
                "rewrite the trust policy of role {name} (this pool's guests only: amr = unauthenticated)"
            ),
            Action::PutBoundary(arn) => super::super::role_boundary::text(f, arn),
            Action::DetachPolicy { policy, .. } => write!(f, "detach policy {policy} from it"),
            Action::Delete { name, why: None } => write!(f, "delete role {name}"),
            Action::Delete { name, why: Some(why) } => write!(f, "delete role {name} ({why})"),
            Action::Keep(k) => k.fmt(f),
        }
    }
}

/// The trust policy's differences, as `trust_policy.…` fields.
pub(crate) fn trust_changes(live: &Value, desired: &Value) -> Vec<Change> {
    policy_doc::diff(live, desired)
        .into_iter()
        .map(|c| Change { field: format!("trust_policy.{}", c.field), ..c })
        .collect()
}

/// An existing role with the guest role's name, compared with the config: its owner (the
/// ownership check of [`existing`]), its trust policy, and notes for what else is on it.
fn compare(
    d: &Desired,
    (here, account): (&str, &Account),
    live: &RoleLive,
    pool_id: Option<&str>,
) -> Diff<Action> {
    let name = &d.guest_spec.role_name;
    let desired = trust_policy(pool_id.unwrap_or(trust::NEW_POOL_ID));
    let mut fixes = if policy_doc::equivalent(&live.trust, &desired) {
        vec![]
    } else {
        vec![Action::RewriteTrust(name.clone())]
    };
    let (boundary, put, note) = super::super::role_boundary::diff(d, live, account, name);
    fixes.extend(put.map(Action::PutBoundary));
    let named = Named {
        step: STEP,
        kind: "role",
        name,
        resource: live.arn.clone(),
        tags: &live.tags,
        global: Some((live.named_region.as_deref(), here)),
    };
    let mut changes = trust_changes(&live.trust, &desired);
    changes.extend(boundary);
    let mut r = existing(d, named, changes, fixes, Action::Tag);
    r.notes.extend(note.map(Note::info));
    r.notes.extend(diagnose::guest_trust_policy(&live.trust, pool_id).into_iter().map(Note::from));
    r.notes.extend(diagnose::grants::beyond_config(
        live.policies(),
        name,
        &d.guest_spec.policy_name,
        diagnose::grants::Holder::Guests,
        &d.table.name,
    ));
    r
}

/// Removing the guest role (teardown, or guests off): detach the stack's guest policy, then
/// delete it, unless it is not the stack's or has policies setup did not add.
fn removal(v: &View, why: Option<&'static str>) -> Diff<Action> {
    let (d, name) = (v.d, &v.d.guest_spec.role_name);
    let Some(live) = v.o.get::<crate::steps::guest::GuestRole>() else {
        return Diff::new(STEP, name, State::Missing);
    };
    let own = live.global().owner(&d.stack, v.region);
    if own != Owner::ThisStack {
        return Diff::new(STEP, name, State::NotOwned)
            .act(Action::Keep(Keep::owned_by(format!("role {name}"), &own)));
    }
    let ours = our_policy(v).map(|p| p.arn.as_str());
    let rerun = if why.is_some() { Command::Apply } else { Command::Teardown };
    let steps = users_role::removal_steps(live, name, ours.as_slice(), rerun).into_iter().map(
        |s| match s {
            Removal::Detach(policy, arn) => Action::DetachPolicy { policy, arn },
            Removal::Delete => Action::Delete { name: name.clone(), why },
            Removal::Keep(k) => Action::Keep(k),
        },
    );
    steps.fold(Diff::new(STEP, name, State::InSync), Diff::act)
}

/// Creates the guest role with its trust policy. When it exists already (made meanwhile by
/// another run, or by a retry whose first answer was lost), it is read and converged like any
/// guest role apply meets.
async fn create(run: &Run<'_>) -> Result<Vec<Done>> {
    let ctx = run.ctx;
    let d = &ctx.desired;
    let name = &d.guest_spec.role_name;
    let pool_id = identity_pool::id(run)
        .ok_or_else(|| anyhow!("internal: the guest role needs the identity pool's id"))?;
    let description = super::role_description(&d.stack, &pool_id);
    let res =
        users_role::create_call(ctx, STEP, name, description, &trust_policy(&pool_id)).await?;
    match res {
        Ok(_) => Ok(vec![Done::Created(format!("created role {name}"))]),
        Err(e) if crate::aws::code(&e) == Some("EntityAlreadyExists") => {
            let live = users_role::observe_named(&ctx.aws, name)
                .await?
                .ok_or_else(|| anyhow!("role {name} exists but cannot be read"))?;
            let plan = compare(d, (ctx.region(), &ctx.account), &live, Some(&pool_id));
            if let Some(why) = plan.blocked.filter(|_| !(ctx.adopt && plan.adoptable)) {
                bail!(why);
            }
            let mut done = Vec::new();
            for action in &plan.actions {
                done.extend(Box::pin(GuestRole.apply(run, action)).await?);
            }
            Ok(done)
        }
        Err(e) => Err(crate::aws::explain(&format!("creating role {name}"), e)),
    }
}

async fn rewrite_trust(run: &Run<'_>) -> Result<Vec<Done>> {
    let ctx = run.ctx;
    let name = &ctx.desired.guest_spec.role_name;
    let pool_id = identity_pool::id(run)
        .ok_or_else(|| anyhow!("internal: the guest trust policy needs the identity pool's id"))?;
    users_role::write_trust(ctx, STEP, name, &trust_policy(&pool_id)).await?;
    Ok(vec![Done::Updated(format!(
        "trust policy now allows only the guests of identity pool {pool_id}"
    ))])
}

impl Observe for GuestRole {
    type Live = RoleLive;
    fn reads(&self, d: &Desired, scope: Scope) -> Vec<TypeId> {
        super::reads(d, scope)
    }
    async fn observe(&self, look: &Look<'_>) -> Result<Option<RoleLive>> {
        super::observe_role(look).await
    }
}

impl Step for GuestRole {
    type Action = Action;
    const ID: StepId = STEP;

    /// With guests allowed, or a guest role this stack left behind.
    fn applies(&self, v: &View) -> bool {
        v.d.guest().is_some() || super::our_role(v).is_some()
    }

    fn diff(&self, v: &View) -> Diff<Action> {
        let d = v.d;
        let name = &d.guest_spec.role_name;
        if d.guest().is_none() {
            // Guests off: the stack's guest role goes, as in teardown.
            return removal(v, Some(GUESTS_OFF)).unwanted(
                "identity_pool.allow_unauthenticated",
                format!("guest role {name} exists"),
                Value::Null,
            );
        }
        match v.o.get::<crate::steps::guest::GuestRole>() {
            None => Diff::new(STEP, name, State::Missing).act(Action::Create(name.clone())),
            Some(live) => compare(d, (v.region, &v.o.account), live, v.pool_id()),
        }
    }

    fn removal(&self, v: &View) -> Diff<Action> {
        removal(v, None)
    }

    fn fixes_findings(&self, action: &Action) -> bool {
        matches!(action, Action::RewriteTrust(_))
    }

    fn needs(&self, action: &Action) -> Vec<Need> {
        match action {
            // The trust policy names the pool.
            Action::Create(_) | Action::RewriteTrust(_) => vec![Need::Done(StepId::IdentityPool)],
            _ => vec![],
        }
    }

    async fn apply(&self, run: &Run<'_>, action: &Action) -> Result<Vec<Done>> {
        let ctx = run.ctx;
        let name = &ctx.desired.guest_spec.role_name;
        match action {
            Action::Create(_) => create(run).await,
            Action::Tag(tagging) => users_role::tag(ctx, STEP, name, tagging).await,
            Action::RewriteTrust(_) => rewrite_trust(run).await,
            Action::PutBoundary(arn) => {
                super::super::role_boundary::put(ctx, STEP, name, arn).await
            }
            Action::DetachPolicy { policy, arn } => {
                users_role::detach(ctx, STEP, name, policy, arn).await
            }
            Action::Delete { .. } => users_role::delete(ctx, STEP, name).await,
            Action::Keep(k) => Ok(vec![k.done()]),
        }
    }

    fn export(&self, d: &Desired) -> Vec<Resource> {
        match d.guest() {
            Some(_) => vec![Resource::GuestRole],
            None => vec![],
        }
    }
}

#[cfg(test)]
pub(super) fn compare_for_tests(
    d: &Desired,
    live: &RoleLive,
    pool_id: Option<&str>,
) -> Diff<Action> {
    let account = crate::steps::test_support::observed().account;
    compare(d, (crate::steps::test_support::REGION, &account), live, pool_id)
}
