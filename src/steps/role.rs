//! Step 3: the IAM role that the identity pool's authenticated users assume.
//! The role is created with the trust policy; the `trust` step keeps that policy converged.

use std::collections::BTreeMap;

use anyhow::{bail, Result};
use aws_sdk_iam::types::Tag;
use serde_json::Value;

use super::{not_owned_reason, owner, tag_changes, Ctx, Owner};
use crate::aws::{Clients, Explain, Found};
use crate::config::Desired;
use crate::plan::{State, StepId, StepReport};
use crate::policy_doc;

const STEP: StepId = StepId::Role;

#[derive(Debug, Clone)]
pub struct Live {
    pub arn: String,
    pub trust: Value,
    pub tags: BTreeMap<String, String>,
    /// Managed policies attached to the role: (name, ARN).
    pub attached: Vec<(String, String)>,
    /// Inline policy names (added by hand; reported, never touched).
    pub inline: Vec<String>,
}

pub async fn observe(aws: &Clients, d: &Desired) -> Result<Option<Live>> {
    let name = &d.role_name;
    let (role, attached, inline) = futures::join!(
        aws.iam.get_role().role_name(name).send(),
        list_attached(aws, name),
        async {
            aws.iam
                .list_role_policies()
                .role_name(name)
                .into_paginator()
                .send()
                .try_collect()
                .await
        }
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
    let inline = inline
        .found(format!("listing inline policies of role {name}"))?
        .map(|pages| pages.into_iter().flat_map(|o| o.policy_names).collect())
        .unwrap_or_default();
    Ok(Some(Live {
        arn: role.arn().to_string(),
        trust,
        tags: role
            .tags()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect(),
        attached: attached?.unwrap_or_default(),
        inline,
    }))
}

async fn list_attached(aws: &Clients, role: &str) -> Result<Option<Vec<(String, String)>>> {
    let mut all = Vec::new();
    let mut marker = None;
    loop {
        let Some(out) = aws
            .iam
            .list_attached_role_policies()
            .role_name(role)
            .set_marker(marker)
            .send()
            .await
            .found(format!("listing policies attached to role {role}"))?
        else {
            return Ok(None);
        };
        all.extend(out.attached_policies().iter().map(|p| {
            (
                p.policy_name().unwrap_or_default().to_string(),
                p.policy_arn().unwrap_or_default().to_string(),
            )
        }));
        marker = out.marker().map(str::to_string);
        if !out.is_truncated() || marker.is_none() {
            return Ok(Some(all));
        }
    }
}

pub fn diff(d: &Desired, live: Option<&Live>, _pool_id: Option<&str>) -> StepReport {
    let name = &d.role_name;
    let Some(live) = live else {
        let mut r = StepReport::new(STEP, name, State::Missing);
        r.actions.push(format!(
            "create role {name} trusted by the identity pool's authenticated users"
        ));
        return r;
    };
    let own = owner(&live.tags, &d.stack);
    let (changes, to_set) = tag_changes(&live.tags, &d.tags);
    let mut r = StepReport::new(STEP, &live.arn, State::InSync);
    if own != Owner::ThisStack {
        r.state = State::NotOwned;
        r.blocked = Some(not_owned_reason("role", name, &own));
        r.changes = changes;
        if own == Owner::Nobody {
            r.adoptable = true;
            r.actions
                .push(format!("with --adopt: tag role {name} for this stack"));
        }
    } else {
        r = r.with_changes(changes);
        if !to_set.is_empty() {
            r.actions.push("tag role".into());
        }
    }
    for p in &live.inline {
        r.notes.push(format!(
            "has inline policy {p:?} (not managed by setup; left as is)"
        ));
    }
    r
}

/// The role's description (exports pass a reference for `pool_id`).
pub fn description(stack: &str, pool_id: &str) -> String {
    format!("Assumed by authenticated users of identity pool {pool_id} (managed by setup, stack {stack})")
}

fn tags(map: &BTreeMap<String, String>) -> Result<Vec<Tag>> {
    map.iter()
        .map(|(k, v)| Ok(Tag::builder().key(k).value(v).build()?))
        .collect()
}

/// What the role step did: the role's ARN, whether it was just created with the desired trust
/// policy (so the trust step has nothing left to do), and the role as read after a create that
/// found it already there (another run created it meanwhile).
pub struct Applied {
    pub arn: String,
    pub created: bool,
    pub done: Vec<String>,
    pub fetched: Option<Live>,
}

pub async fn apply(ctx: &Ctx, live: Option<&Live>, pool_id: &str) -> Result<Applied> {
    let d = &ctx.desired;
    let name = &d.role_name;
    let Some(live) = live else {
        ctx.progress.start(STEP, &format!("creating role {name}"));
        let res = ctx
            .aws
            .iam
            .create_role()
            .role_name(name)
            .description(description(&d.stack, pool_id))
            .assume_role_policy_document(policy_doc::to_json(&policy_doc::trust_policy(pool_id)))
            .set_tags(Some(tags(&d.tags)?))
            .send()
            .await;
        return match res {
            Ok(out) => Ok(Applied {
                arn: out
                    .role()
                    .map(|r| r.arn().to_string())
                    .unwrap_or_else(|| ctx.role_arn()),
                created: true,
                done: vec![format!("created role {name}")],
                fetched: None,
            }),
            // Created meanwhile by another run, or by a retry whose first answer was lost:
            // read it and converge it like any existing role.
            Err(e) if crate::aws::code(&e) == Some("EntityAlreadyExists") => {
                let live = observe(&ctx.aws, d)
                    .await?
                    .ok_or_else(|| anyhow::anyhow!("role {name} exists but cannot be read"))?;
                let mut applied = converge(ctx, &live).await?;
                applied.fetched = Some(live);
                Ok(applied)
            }
            Err(e) => Err(crate::aws::explain(&format!("creating role {name}"), e)),
        };
    };
    converge(ctx, live).await
}

/// An existing role: must be this stack's (or adopted); its tags are completed.
async fn converge(ctx: &Ctx, live: &Live) -> Result<Applied> {
    let d = &ctx.desired;
    let name = &d.role_name;
    let own = owner(&live.tags, &d.stack);
    if own != Owner::ThisStack && !(ctx.adopt && own == Owner::Nobody) {
        bail!(not_owned_reason("role", name, &own));
    }
    let (_, to_set) = tag_changes(&live.tags, &d.tags);
    let mut done = Vec::new();
    if !to_set.is_empty() {
        ctx.progress.start(STEP, &format!("tagging role {name}"));
        ctx.aws
            .iam
            .tag_role()
            .role_name(name)
            .set_tags(Some(tags(&to_set)?))
            .send()
            .await
            .explain(format!("tagging role {name}"))?;
        done.push(if own == Owner::Nobody {
            format!("adopted role {name} (tagged for this stack)")
        } else {
            "updated tags".into()
        });
    }
    Ok(Applied {
        arn: live.arn.clone(),
        created: false,
        done,
        fetched: None,
    })
}

/// Deletes the role unless something not managed by this stack still uses it.
/// `detached_arn` is the stack's policy, already detached by the policy step.
pub async fn teardown(ctx: &Ctx, live: Option<&Live>, detached_arn: &str) -> Result<Vec<String>> {
    let name = &ctx.desired.role_name;
    let Some(live) = live else {
        return Ok(vec![]);
    };
    if owner(&live.tags, &ctx.desired.stack) != Owner::ThisStack {
        return Ok(vec![format!(
            "left role {name} alone (not created by this stack)"
        )]);
    }
    let others: Vec<&str> = live
        .attached
        .iter()
        .filter(|(_, arn)| arn != detached_arn)
        .map(|(n, _)| n.as_str())
        .collect();
    if !others.is_empty() || !live.inline.is_empty() {
        let mut what: Vec<String> = others
            .iter()
            .map(|n| format!("managed policy {n}"))
            .collect();
        what.extend(live.inline.iter().map(|n| format!("inline policy {n}")));
        return Ok(vec![format!(
            "kept role {name}: it still has {} that setup did not add; remove them and run teardown again",
            what.join(", ")
        )]);
    }
    ctx.progress.start(STEP, &format!("deleting role {name}"));
    // Right after the detach, IAM can still see the policy attached for a moment.
    crate::aws::retry_for(&["DeleteConflict"], crate::aws::DELETE_CONFLICT_TIME, || {
        ctx.aws.iam.delete_role().role_name(name).send()
    })
    .await
    .found(format!("deleting role {name}"))?;
    Ok(vec![format!("deleted role {name}")])
}
