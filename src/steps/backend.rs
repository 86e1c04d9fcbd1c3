//! Backend access: a second customer-managed policy, scoped to the table, attached to the
//! existing IAM role or user a backend runs as (`[backend]` in the config). The backend reads
//! the caller's user-pool `sub` (e.g. the `x-amzn-oidc-identity` header behind a load
//! balancer) and uses it as the partition key itself, so this policy has no `LeadingKeys`
//! condition.
//!
//! The principal is never created, changed or deleted: only the policy and its attachment.
//! The policy is attached to exactly the configured principal (moving `[backend]` to another
//! role or user detaches it from the old one). Without a `[backend]` section, a policy this
//! stack created under the default name is reported and removed by `apply` / `teardown`.

use anyhow::{bail, Result};

use super::{not_owned_reason, owner, policy, tag_changes, Ctx, Owner};
use crate::aws::{Account, Clients, Explain, Found};
use crate::config::{Desired, Principal};
use crate::diagnose;
use crate::plan::{Change, State, StepId, StepReport};
use crate::policy_doc;

const STEP: StepId = StepId::BackendPolicy;

#[derive(Debug, Clone)]
pub struct Live {
    /// Whether the configured principal exists (`None` without a `[backend]` section).
    pub principal_exists: Option<bool>,
    pub policy: Option<policy::Live>,
    /// Who the policy is attached to (users and roles; groups are listed in `groups`).
    pub attached: Vec<Principal>,
    pub groups: Vec<String>,
}

impl Live {
    fn is_attached(&self, p: &Principal) -> bool {
        self.attached.contains(p)
    }
}

/// `None` when there is nothing to look at: no `[backend]` section and no leftover policy.
pub async fn observe(aws: &Clients, d: &Desired, account: &Account) -> Result<Option<Live>> {
    let arn = d.backend_policy_arn(account);
    let principal = async {
        let Some(b) = &d.backend else {
            return Ok(None);
        };
        let what = format!("checking that backend {} exists", b.principal);
        let exists = match &b.principal {
            Principal::Role(name) => aws
                .iam
                .get_role()
                .role_name(name)
                .send()
                .await
                .found(what)?
                .is_some(),
            Principal::User(name) => aws
                .iam
                .get_user()
                .user_name(name)
                .send()
                .await
                .found(what)?
                .is_some(),
        };
        Ok::<_, anyhow::Error>(Some(exists))
    };
    let policy = async {
        let Some(live) = policy::observe(aws, &arn, true).await? else {
            return Ok((None, Vec::new(), Vec::new()));
        };
        let (attached, groups) = entities(aws, &arn).await?;
        Ok::<_, anyhow::Error>((Some(live), attached, groups))
    };
    let (principal_exists, policy) = futures::join!(principal, policy);
    let principal_exists = principal_exists?;
    let (policy, attached, groups) = policy?;
    if d.backend.is_none() && policy.is_none() {
        return Ok(None);
    }
    Ok(Some(Live {
        principal_exists,
        policy,
        attached,
        groups,
    }))
}

async fn entities(aws: &Clients, arn: &str) -> Result<(Vec<Principal>, Vec<String>)> {
    let mut attached = Vec::new();
    let mut groups = Vec::new();
    let mut marker = None;
    loop {
        let out = aws
            .iam
            .list_entities_for_policy()
            .policy_arn(arn)
            .set_marker(marker)
            .send()
            .await
            .explain(format!("listing what policy {arn} is attached to"))?;
        attached.extend(
            out.policy_roles()
                .iter()
                .filter_map(|r| r.role_name())
                .map(|r| Principal::Role(r.to_string())),
        );
        attached.extend(
            out.policy_users()
                .iter()
                .filter_map(|u| u.user_name())
                .map(|u| Principal::User(u.to_string())),
        );
        groups.extend(
            out.policy_groups()
                .iter()
                .filter_map(|g| g.group_name())
                .map(str::to_string),
        );
        marker = out.marker().map(str::to_string);
        if !out.is_truncated() || marker.is_none() {
            return Ok((attached, groups));
        }
    }
}

/// The step's report; `None` when the step does not apply (no `[backend]`, nothing left over).
pub fn diff(d: &Desired, live: Option<&Live>, table_arn: &str) -> Option<StepReport> {
    let live = live?;
    let name = d.backend_policy_name();
    let Some(b) = &d.backend else {
        // A policy under the default name, but no [backend] section (any more).
        let p = live.policy.as_ref()?;
        if owner(&p.tags, &d.stack) != Owner::ThisStack {
            return None;
        }
        let mut r = StepReport::new(STEP, &p.arn, State::Drifted);
        let attached: Vec<String> = live.attached.iter().map(ToString::to_string).collect();
        r.changes.push(Change::new(
            "[backend] section",
            if attached.is_empty() {
                format!("policy {name} exists")
            } else {
                format!("policy {name} attached to {}", attached.join(", "))
            },
            serde_json::Value::Null,
        ));
        for who in &live.attached {
            r.actions.push(format!("detach it from {who}"));
        }
        r.actions.push(format!(
            "delete policy {name} (the config has no [backend] section)"
        ));
        return Some(r);
    };
    let principal = &b.principal;
    let desired = policy_doc::backend_policy(table_arn, &b.actions);
    if live.principal_exists == Some(false) {
        let mut r = StepReport::new(STEP, &name, State::Missing);
        r.blocked = Some(format!(
            "backend {principal} does not exist in this account; create it first (setup attaches a policy to it but never creates or deletes it), or fix backend.{} in the config",
            principal.kind()
        ));
        return Some(r);
    }
    let Some(p) = &live.policy else {
        let mut r = StepReport::new(STEP, &name, State::Missing);
        r.actions.push(format!(
            "create policy {name} ({} on {table_arn})",
            b.actions.join(", ")
        ));
        r.actions.push(format!("attach it to {principal}"));
        return Some(r);
    };
    let own = owner(&p.tags, &d.stack);
    let (mut changes, to_set) = policy::document_and_tags(d, p, &desired);
    let attached = live.is_attached(principal);
    if !attached {
        changes.push(Change::new(format!("attached to {principal}"), false, true));
    }
    let others: Vec<&Principal> = live.attached.iter().filter(|a| *a != principal).collect();
    for o in &others {
        changes.push(Change::new(format!("attached to {o}"), true, false));
    }
    let mut r = StepReport::new(STEP, &p.arn, State::InSync);
    r.notes.extend(
        diagnose::access_policy(&p.document)
            .iter()
            .map(ToString::to_string),
    );
    for g in &live.groups {
        r.notes.push(format!(
            "also attached to group {g} (added by hand; left as is)"
        ));
    }
    if own != Owner::ThisStack {
        r.state = State::NotOwned;
        r.blocked = Some(not_owned_reason("policy", &name, &own));
        r.changes = changes;
        if own == Owner::Nobody {
            r.adoptable = true;
            r.actions
                .push(format!("with --adopt: tag policy {name} for this stack"));
        }
        return Some(r);
    }
    r = r.with_changes(changes);
    if !policy_doc::equivalent(&p.document, &desired) {
        r.actions
            .push("create a new default policy version with the desired document".into());
    }
    if !to_set.is_empty() {
        r.actions.push("tag policy".into());
    }
    if !attached {
        r.actions.push(format!("attach it to {principal}"));
    }
    for o in others {
        r.actions.push(format!("detach it from {o}"));
    }
    Some(r)
}

async fn attach(ctx: &Ctx, who: &Principal, arn: &str) -> Result<()> {
    let iam = &ctx.aws.iam;
    let what = format!("attaching policy {arn} to backend {who}");
    match who {
        Principal::Role(n) => {
            iam.attach_role_policy()
                .role_name(n)
                .policy_arn(arn)
                .send()
                .await
                .explain(what)?;
        }
        Principal::User(n) => {
            iam.attach_user_policy()
                .user_name(n)
                .policy_arn(arn)
                .send()
                .await
                .explain(what)?;
        }
    }
    Ok(())
}

async fn detach(ctx: &Ctx, who: &Principal, arn: &str) -> Result<()> {
    let iam = &ctx.aws.iam;
    let what = format!("detaching policy {arn} from {who}");
    match who {
        Principal::Role(n) => {
            iam.detach_role_policy()
                .role_name(n)
                .policy_arn(arn)
                .send()
                .await
                .found(what)?;
        }
        Principal::User(n) => {
            iam.detach_user_policy()
                .user_name(n)
                .policy_arn(arn)
                .send()
                .await
                .found(what)?;
        }
    }
    Ok(())
}

/// Converges the policy and its attachment. Without a `[backend]` section it removes the
/// stack's leftover policy instead.
pub async fn apply(ctx: &Ctx, live: Option<&Live>) -> Result<Vec<String>> {
    let d = &ctx.desired;
    let Some(b) = &d.backend else {
        return teardown(ctx, live).await;
    };
    let Some(live) = live else {
        bail!("internal: the backend step was not observed");
    };
    let principal = &b.principal;
    if live.principal_exists == Some(false) {
        bail!(
            "backend {principal} does not exist; create it first or fix backend.{}",
            principal.kind()
        );
    }
    let name = &b.policy_name;
    let desired = policy_doc::backend_policy(&ctx.table_arn(), &b.actions);
    let iam = &ctx.aws.iam;
    let mut done = Vec::new();
    let arn = match &live.policy {
        None => {
            ctx.progress.start(STEP, &format!("creating policy {name}"));
            let out = iam
                .create_policy()
                .policy_name(name)
                .description(format!(
                    "Backend access to DynamoDB table {} for {principal} (managed by setup, stack {})",
                    d.table.name, d.stack
                ))
                .policy_document(policy_doc::to_json(&desired))
                .set_tags(Some(policy::tags(&d.tags)?))
                .send()
                .await
                .explain(format!("creating policy {name}"))?;
            done.push(format!("created policy {name}"));
            out.policy()
                .and_then(|p| p.arn())
                .map(str::to_string)
                .unwrap_or_else(|| d.backend_policy_arn(&ctx.account))
        }
        Some(p) => {
            let own = owner(&p.tags, &d.stack);
            if own != Owner::ThisStack && !(ctx.adopt && own == Owner::Nobody) {
                bail!(not_owned_reason("policy", name, &own));
            }
            let (_, to_set) = tag_changes(&p.tags, &d.tags);
            if !to_set.is_empty() {
                ctx.progress.start(STEP, &format!("tagging policy {name}"));
                iam.tag_policy()
                    .policy_arn(&p.arn)
                    .set_tags(Some(policy::tags(&to_set)?))
                    .send()
                    .await
                    .explain(format!("tagging policy {name}"))?;
                done.push(if own == Owner::Nobody {
                    format!("adopted policy {name} (tagged for this stack)")
                } else {
                    "updated tags".into()
                });
            }
            if !policy_doc::equivalent(&p.document, &desired) {
                done.extend(policy::new_default_version(ctx, STEP, &p.arn, name, &desired).await?);
            }
            p.arn.clone()
        }
    };
    if !live.is_attached(principal) {
        ctx.progress
            .start(STEP, &format!("attaching policy {name} to {principal}"));
        attach(ctx, principal, &arn).await?;
        done.push(format!("attached to {principal}"));
    }
    for other in live.attached.iter().filter(|a| *a != principal) {
        ctx.progress
            .start(STEP, &format!("detaching policy {name} from {other}"));
        detach(ctx, other, &arn).await?;
        done.push(format!(
            "detached from {other} (no longer backend.{})",
            other.kind()
        ));
    }
    Ok(done)
}

/// Detaches the stack's backend policy from every role and user and deletes it. The
/// principals themselves are left alone.
pub async fn teardown(ctx: &Ctx, live: Option<&Live>) -> Result<Vec<String>> {
    let d = &ctx.desired;
    let name = d.backend_policy_name();
    let Some(p) = live.and_then(|l| l.policy.as_ref()) else {
        return Ok(vec![]);
    };
    let live = live.expect("policy implies live");
    if owner(&p.tags, &d.stack) != Owner::ThisStack {
        return Ok(vec![format!(
            "left policy {name} alone (not created by this stack)"
        )]);
    }
    if !live.groups.is_empty() {
        return Ok(vec![format!(
            "kept policy {name}: still attached to group(s) {} by hand; detach it and run teardown again",
            live.groups.join(", ")
        )]);
    }
    ctx.progress.start(STEP, &format!("removing policy {name}"));
    let mut done = Vec::new();
    for who in &live.attached {
        detach(ctx, who, &p.arn).await?;
        done.push(format!(
            "detached from {who} (the {} itself is kept)",
            who.kind()
        ));
    }
    policy::delete_with_versions(ctx, &p.arn, &name).await?;
    done.push(format!("deleted policy {name}"));
    Ok(done)
}
