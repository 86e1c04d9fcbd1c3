//! The `role` step: the IAM role that the identity pool's authenticated users assume.
//! The role is created with the trust policy; the `trust` step keeps that policy converged.

use std::collections::BTreeMap;
use std::fmt;

use anyhow::{bail, Result};
use serde_json::Value;

use super::observe::{Look, Observe};
use super::own::{existing, Global, Keep, Named, Owner, Tagging};
use super::{identity_pool, managed, Ctx, Diff, Need, Run, Step, View};
use crate::aws::{Account, Clients, Found};
use crate::config::{Desired, Principal};
use crate::diagnose::grants::{self, Holder};
use crate::plan::{Command, Done, Note, State, StepId};
use crate::policy_doc;
use crate::resource::Resource;

const STEP: StepId = StepId::Role;

/// The role, created with the trust policy (the trust step keeps it converged).
pub struct Role;

#[derive(Debug, Clone)]
pub struct Live {
    pub arn: String,
    pub trust: Value,
    pub tags: BTreeMap<String, String>,
    /// Managed policies attached to the role: (name, ARN).
    pub attached: Vec<(String, String)>,
    /// Inline policy names (added by hand; reported, never touched).
    pub inline: Vec<String>,
    /// Their documents, by name (read only when there are inline policies).
    pub inline_documents: BTreeMap<String, Value>,
    /// The region of the identity pool its trust policy names (see [`Global`]).
    pub named_region: Option<String>,
    /// The ARN of its permissions boundary (`GetRole`'s `PermissionsBoundary`), if it has one.
    pub boundary: Option<String>,
}

impl Live {
    /// Its policies, for the findings on grants beyond the config.
    pub fn policies(&self) -> grants::Policies<'_> {
        grants::Policies {
            attached: &self.attached,
            inline: &self.inline,
            inline_documents: &self.inline_documents,
        }
    }

    /// The role as the ownership check of a global resource sees it.
    pub fn global(&self) -> Global<'_> {
        Global { tags: &self.tags, named: self.named_region.as_deref() }
    }
}

pub async fn observe(aws: &Clients, d: &Desired) -> Result<Option<Live>> {
    observe_named(aws, &d.role_name).await
}

/// A role by name, with its attached and inline policies (read together: one round trip).
pub async fn observe_named(aws: &Clients, name: &str) -> Result<Option<Live>> {
    let (role, attached, inline) = tokio::join!(
        aws.iam.get_role().role_name(name).send(),
        aws.iam.list_attached_role_policies().role_name(name).into_paginator().send().try_collect(),
        aws.iam.list_role_policies().role_name(name).into_paginator().send().try_collect()
    );
    let Some(out) = role.found(format!("reading role {name}"))? else {
        return Ok(None);
    };
    let Some(role) = out.role() else {
        return Ok(None);
    };
    let trust = match role.assume_role_policy_document() {
        Some(raw) => policy_doc::parse(raw)
            .map_err(|e| anyhow::anyhow!("role {name} has an unreadable trust policy: {e}"))?,
        None => Value::Null,
    };
    let attached = attached
        .found(format!("listing policies attached to role {name}"))?
        .unwrap_or_default()
        .iter()
        .flat_map(|page| page.attached_policies())
        .map(|p| {
            (
                p.policy_name().unwrap_or_default().to_string(),
                p.policy_arn().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let inline: Vec<String> = inline
        .found(format!("listing inline policies of role {name}"))?
        .map(|pages| pages.into_iter().flat_map(|o| o.policy_names).collect())
        .unwrap_or_default();
    let inline_documents = inline_documents(aws, name, &inline).await?;
    // One deleted since the listing is gone.
    let inline = inline.into_iter().filter(|p| inline_documents.contains_key(p)).collect();
    Ok(Some(Live {
        arn: role.arn().to_string(),
        named_region: policy_doc::named_region(&trust),
        trust,
        tags: role.tags().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect(),
        attached,
        inline,
        inline_documents,
        boundary: role
            .permissions_boundary()
            .and_then(|b| b.permissions_boundary_arn())
            .map(str::to_string),
    }))
}

/// The documents of the role's inline policies, read all at once (none: no call).
async fn inline_documents(
    aws: &Clients,
    role: &str,
    names: &[String],
) -> Result<BTreeMap<String, Value>> {
    let reads = names.iter().map(|p| async move {
        let out = aws.iam.get_role_policy().role_name(role).policy_name(p).send().await;
        let what = format!("reading inline policy {p} of role {role}");
        let Some(out) = out.found(what)? else {
            return Ok(None);
        };
        // Unreadable: `null`, which the findings call unreadable (IAM still applies it).
        let doc = policy_doc::parse(out.policy_document()).unwrap_or(Value::Null);
        Ok::<_, anyhow::Error>(Some((p.clone(), doc)))
    });
    let mut out = BTreeMap::new();
    for r in futures_util::future::join_all(reads).await {
        if let Some((p, doc)) = r? {
            out.insert(p, doc);
        }
    }
    Ok(out)
}

/// The role's description (exports pass a reference for `pool_id`).
pub fn description(stack: &str, pool_id: &str) -> String {
    format!("Assumed by authenticated users of identity pool {pool_id} (managed by setup, stack {stack})")
}

/// What the role step did, for the steps that need the role.
#[derive(Debug, Clone)]
pub struct Made {
    pub arn: String,
    /// Created just now, with the desired trust policy.
    pub created: bool,
    /// The role as read after a create that found it already there (another run made it).
    pub found: Option<Live>,
}

/// The role's ARN during `apply`: as made, observed, or computed.
pub fn arn(run: &Run<'_>) -> String {
    run.handed::<Made>()
        .map(|m| m.arn)
        .or_else(|| run.o.get::<Role>().map(|r| r.arn.clone()))
        .unwrap_or_else(|| run.ctx.role_arn())
}

/// What `apply` and `teardown` do to the role.
#[derive(Debug, Clone, PartialEq, strum::IntoStaticStr, strum::VariantNames)]
#[strum(serialize_all = "kebab-case")]
pub enum Action {
    /// Create it, trusting the identity pool's authenticated users.
    Create(String),
    Tag(Tagging),
    /// PutRolePermissionsBoundary with the configured boundary (its ARN): missing or another.
    PutBoundary(String),
    /// Teardown: detach the stack's access policy, so the role can go.
    DetachPolicy {
        policy: String,
        arn: String,
    },
    Delete(String),
    Keep(Keep),
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Create(name) => {
                write!(f, "create role {name} trusted by the identity pool's authenticated users")
            }
            Action::Tag(t) => t.fmt(f),
            Action::PutBoundary(arn) => super::role_boundary::text(f, arn),
            Action::DetachPolicy { policy, .. } => write!(f, "detach policy {policy} from it"),
            Action::Delete(name) => write!(f, "delete role {name}"),
            Action::Keep(k) => k.fmt(f),
        }
    }
}

/// A role with the configured name: this stack's (tags completed), adoptable, or another's.
fn existing_role(d: &Desired, live: &Live, here: &str, account: &Account) -> Diff<Action> {
    let named = Named {
        step: STEP,
        kind: "role",
        name: &d.role_name,
        resource: live.arn.clone(),
        tags: &live.tags,
        global: Some((live.named_region.as_deref(), here)),
    };
    let (changes, fixes, note) = super::role_boundary::diff(d, live, account, &d.role_name);
    let fixes = fixes.into_iter().map(Action::PutBoundary).collect();
    let mut r = existing(d, named, changes, fixes, Action::Tag);
    r.notes.extend(note.map(Note::info));
    r.notes.extend(grants::beyond_config(
        live.policies(),
        &d.role_name,
        &d.policy_name,
        Holder::SignedIn,
        &d.table.name,
    ));
    r
}

/// Creates the role with the trust policy for the pool. When it exists already (created
/// meanwhile by another run, or by a retry whose first answer was lost), it is read and
/// converged like any role apply meets, and the trust step compares its trust policy.
async fn create(run: &Run<'_>) -> Result<Vec<Done>> {
    let ctx = run.ctx;
    let d = &ctx.desired;
    let name = &d.role_name;
    let pool_id = identity_pool::id(run)
        .ok_or_else(|| anyhow::anyhow!("internal: the role needs the identity pool's id"))?;
    let trust = super::trust::desired(&ctx.desired, &pool_id);
    let res = create_call(ctx, STEP, name, description(&d.stack, &pool_id), &trust).await?;
    match res {
        Ok(out) => {
            run.hand_on(Made {
                arn: out.role().map(|r| r.arn().to_string()).unwrap_or_else(|| ctx.role_arn()),
                created: true,
                found: None,
            });
            Ok(vec![Done::Created(format!("created role {name}"))])
        }
        Err(e) if crate::aws::code(&e) == Some("EntityAlreadyExists") => {
            let live = observe(&ctx.aws, d)
                .await?
                .ok_or_else(|| anyhow::anyhow!("role {name} exists but cannot be read"))?;
            let plan = existing_role(d, &live, ctx.region(), &ctx.account);
            if let Some(why) = plan.blocked.filter(|_| !(ctx.adopt && plan.adoptable)) {
                bail!(why);
            }
            let mut done = Vec::new();
            for action in &plan.actions {
                done.extend(Box::pin(Role.apply(run, action)).await?);
            }
            run.hand_on(Made { arn: live.arn.clone(), created: false, found: Some(live) });
            Ok(done)
        }
        Err(e) => Err(crate::aws::explain(&format!("creating role {name}"), e)),
    }
}

/// One step of removing a role of this stack (this role's and the guest role's removal).
pub enum Removal {
    /// Detach the stack's policy (its name and ARN) first.
    Detach(String, String),
    Delete,
    /// It holds policies setup did not add: kept, naming them.
    Keep(Keep),
}

/// How role `name` (this stack's) is removed: the stack's policy (`ours`, by ARN) detached, then
/// the role deleted, unless it holds policies setup did not add; then it is kept, naming them,
/// and `rerun` is the command that finishes the job once they are gone.
pub fn removal_steps(live: &Live, name: &str, ours: &[&str], rerun: Command) -> Vec<Removal> {
    let (detach, others): (Vec<_>, Vec<_>) =
        live.attached.iter().partition(|(_, arn)| ours.contains(&arn.as_str()));
    let mut others: Vec<String> =
        others.iter().map(|(p, _)| format!("managed policy {p}")).collect();
    others.extend(live.inline.iter().map(|n| format!("inline policy {n}")));
    let mut steps: Vec<Removal> =
        detach.into_iter().map(|(p, arn)| Removal::Detach(p.clone(), arn.clone())).collect();
    steps.push(match others.is_empty() {
        true => Removal::Delete,
        false => Removal::Keep(Keep::in_use(
            format!("role {name}"),
            format!(
                "it still has {} that setup did not add; remove them and run {rerun} again",
                others.join(", ")
            ),
        )),
    });
    steps
}

// The calls on a role that this step and the guest role's step (`guest/role.rs`) share.

/// CreateRole with the stack's tags (shown on the progress line); the SDK's answer, so that the
/// caller can converge a role that exists already.
pub async fn create_call(
    ctx: &Ctx,
    step: impl Into<crate::plan::Unit>,
    name: &str,
    description: String,
    trust: &Value,
) -> Result<
    std::result::Result<
        aws_sdk_iam::operation::create_role::CreateRoleOutput,
        aws_smithy_runtime_api::client::result::SdkError<
            aws_sdk_iam::operation::create_role::CreateRoleError,
            aws_smithy_runtime_api::client::orchestrator::HttpResponse,
        >,
    >,
> {
    ctx.progress.start(step, &format!("creating role {name}"));
    let call = ctx.aws.iam.create_role().role_name(name).description(description);
    let call = call.assume_role_policy_document(policy_doc::to_json(trust));
    // The permissions boundary, when the config names one: the role never exists without it.
    let call = call.set_permissions_boundary(ctx.desired.boundary_arn(&ctx.account));
    Ok(call.set_tags(Some(managed::tags(&ctx.iam_tags())?)).send().await)
}

/// Sets the role's tags.
pub async fn tag(
    ctx: &Ctx,
    step: impl Into<crate::plan::Unit>,
    name: &str,
    tagging: &Tagging,
) -> Result<Vec<Done>> {
    let call = ctx.aws.iam.tag_role().role_name(name);
    let call = call.set_tags(Some(managed::tags(&tagging.tags)?)).send();
    tagging.apply(ctx, step, call).await
}

/// Detaches a managed policy from the role (before deleting it).
pub async fn detach(
    ctx: &Ctx,
    step: impl Into<crate::plan::Unit>,
    name: &str,
    policy: &str,
    arn: &str,
) -> Result<Vec<Done>> {
    ctx.progress.start(step, &format!("detaching policy {policy} from role {name}"));
    managed::detach(ctx, &Principal::Role(name.to_string()), arn).await?;
    Ok(vec![Done::Removed(format!("detached policy {policy}"))])
}

/// Deletes the role; right after a detach IAM can still see the policy attached for a moment
/// (`DeleteConflict`), which is waited out.
pub async fn delete(
    ctx: &Ctx,
    step: impl Into<crate::plan::Unit>,
    name: &str,
) -> Result<Vec<Done>> {
    ctx.progress.start(step, &format!("deleting role {name}"));
    crate::aws::retry_for(&["DeleteConflict"], crate::aws::DELETE_CONFLICT_TIME, || {
        ctx.aws.iam.delete_role().role_name(name).send()
    })
    .await
    .found(format!("deleting role {name}"))?;
    Ok(vec![Done::Removed(format!("deleted role {name}"))])
}

/// Replaces the role's trust policy with `desired` (the role may be moments old).
pub async fn write_trust(
    ctx: &Ctx,
    step: impl Into<crate::plan::Unit>,
    name: &str,
    desired: &Value,
) -> Result<()> {
    ctx.progress.start(step, &format!("rewriting the trust policy of role {name}"));
    crate::aws::eventually(&format!("updating the trust policy of role {name}"), || {
        let call = ctx.aws.iam.update_assume_role_policy().role_name(name);
        call.policy_document(policy_doc::to_json(desired)).send()
    })
    .await?;
    Ok(())
}

impl Observe for Role {
    type Live = Live;
    async fn observe(&self, look: &Look<'_>) -> Result<Option<Live>> {
        observe(look.aws, look.d).await
    }
}

impl Step for Role {
    type Action = Action;
    const ID: StepId = STEP;

    fn diff(&self, v: &View) -> Diff<Action> {
        let r = match v.o.get::<Role>() {
            Some(live) => existing_role(v.d, live, v.region, &v.o.account),
            None => Diff::new(STEP, &v.d.role_name, State::Missing)
                .act(Action::Create(v.d.role_name.clone())),
        };
        super::role_boundary::checked(v, r)
    }

    /// Teardown deletes the stack's role once the stack's policy is detached from it, unless
    /// something setup did not add is still attached.
    fn removal(&self, v: &View) -> Diff<Action> {
        let (d, name) = (v.d, &v.d.role_name);
        let Some(live) = v.o.get::<Role>() else {
            return Diff::new(STEP, name, State::Missing);
        };
        let own = live.global().owner(&d.stack, v.region);
        if own != Owner::ThisStack {
            return Diff::new(STEP, name, State::NotOwned)
                .act(Action::Keep(Keep::owned_by(format!("role {name}"), &own)));
        }
        let ours =
            v.o.get::<crate::steps::policy::AccessPolicy>()
                .as_ref()
                .filter(|p| p.global().ours(&d.stack, v.region))
                .map(|p| p.arn.as_str());
        let steps =
            removal_steps(live, name, ours.as_slice(), Command::Teardown).into_iter().map(|s| {
                match s {
                    Removal::Detach(policy, arn) => Action::DetachPolicy { policy, arn },
                    Removal::Delete => Action::Delete(name.clone()),
                    Removal::Keep(k) => Action::Keep(k),
                }
            });
        steps.fold(Diff::new(STEP, name, State::InSync), Diff::act)
    }

    fn needs(&self, action: &Action) -> Vec<Need> {
        match action {
            // The trust policy it is created with names the pool.
            Action::Create(_) => vec![Need::Done(StepId::IdentityPool)],
            _ => vec![],
        }
    }

    async fn apply(&self, run: &Run<'_>, action: &Action) -> Result<Vec<Done>> {
        let ctx = run.ctx;
        let name = &ctx.desired.role_name;
        match action {
            Action::Create(_) => create(run).await,
            Action::Tag(tagging) => tag(ctx, STEP, name, tagging).await,
            Action::PutBoundary(arn) => super::role_boundary::put(ctx, STEP, name, arn).await,
            Action::DetachPolicy { policy, arn } => detach(ctx, STEP, name, policy, arn).await,
            Action::Delete(_) => delete(ctx, STEP, name).await,
            Action::Keep(k) => Ok(vec![k.done()]),
        }
    }

    fn export(&self, _d: &Desired) -> Vec<Resource> {
        vec![Resource::Role]
    }

    /// Without a permissions boundary: what the operator could still write into the stack's
    /// own policies, said once.
    fn plan_notes(&self, d: &Desired) -> Vec<Note> {
        super::role_boundary::unbounded_note(d).map(Note::info).into_iter().collect()
    }
}

#[cfg(test)]
mod tests;
