//! Step 4: the customer-managed IAM policy scoped to the table, attached to the role.
//! A changed document becomes a new default version; at the 5-version limit the oldest
//! non-default version is deleted first.

use std::collections::BTreeMap;

use anyhow::{anyhow, bail, Result};
use aws_sdk_iam::types::{PolicyVersion, Tag};
use serde_json::Value;

use super::{not_owned_reason, owner, role, tag_changes, Ctx, Owner};
use crate::aws::{Clients, Explain, Found};
use crate::config::Desired;
use crate::diagnose;
use crate::plan::{Change, State, StepId, StepReport};
use crate::policy_doc;

const STEP: StepId = StepId::AccessPolicy;
const MAX_VERSIONS: usize = 5;

#[derive(Debug, Clone)]
pub struct Live {
    pub arn: String,
    pub default_version: String,
    pub document: Value,
    pub tags: BTreeMap<String, String>,
}

/// Every version of a policy (all pages).
pub async fn versions(aws: &Clients, arn: &str, name: &str) -> Result<Vec<PolicyVersion>> {
    let pages: Vec<_> = aws
        .iam
        .list_policy_versions()
        .policy_arn(arn)
        .into_paginator()
        .send()
        .try_collect()
        .await
        .explain(format!("listing versions of policy {name}"))?;
    Ok(pages
        .into_iter()
        .flat_map(|p| p.versions.unwrap_or_default())
        .collect())
}

/// Everything a policy is attached to, as `role NAME` / `user NAME` / `group NAME` (all pages).
pub async fn attachments(aws: &Clients, arn: &str, name: &str) -> Result<Vec<(String, String)>> {
    let pages: Vec<_> = aws
        .iam
        .list_entities_for_policy()
        .policy_arn(arn)
        .into_paginator()
        .send()
        .try_collect()
        .await
        .explain(format!("listing what policy {name} is attached to"))?;
    let mut all = Vec::new();
    for p in pages {
        all.extend(
            p.policy_roles()
                .iter()
                .filter_map(|r| r.role_name())
                .map(|r| ("role".to_string(), r.to_string())),
        );
        all.extend(
            p.policy_users()
                .iter()
                .filter_map(|u| u.user_name())
                .map(|u| ("user".to_string(), u.to_string())),
        );
        all.extend(
            p.policy_groups()
                .iter()
                .filter_map(|g| g.group_name())
                .map(|g| ("group".to_string(), g.to_string())),
        );
    }
    Ok(all)
}

/// Reads the policy, its tags and (with `with_document`) its default version's document.
pub async fn observe(aws: &Clients, arn: &str, with_document: bool) -> Result<Option<Live>> {
    let Some(out) = aws
        .iam
        .get_policy()
        .policy_arn(arn)
        .send()
        .await
        .found(format!("reading policy {arn}"))?
    else {
        return Ok(None);
    };
    let Some(p) = out.policy() else {
        return Ok(None);
    };
    let version = p
        .default_version_id()
        .ok_or_else(|| anyhow!("policy {arn} has no default version"))?
        .to_string();
    let tags = p
        .tags()
        .iter()
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect();
    if !with_document {
        return Ok(Some(Live {
            arn: arn.to_string(),
            default_version: version,
            document: Value::Null,
            tags,
        }));
    }
    let v = aws
        .iam
        .get_policy_version()
        .policy_arn(arn)
        .version_id(&version)
        .send()
        .await
        .explain(format!("reading policy {arn} version {version}"))?;
    let raw = v
        .policy_version()
        .and_then(|v| v.document())
        .unwrap_or("{}");
    let document = policy_doc::parse(raw)
        .map_err(|e| anyhow!("policy {arn} has an unreadable document: {e}"))?;
    Ok(Some(Live {
        arn: arn.to_string(),
        default_version: version,
        document,
        tags,
    }))
}

fn attached(role: Option<&role::Live>, arn: &str) -> bool {
    role.is_some_and(|r| r.attached.iter().any(|(_, a)| a == arn))
}

pub fn diff(
    d: &Desired,
    live: Option<&Live>,
    role: Option<&role::Live>,
    table_arn: &str,
) -> StepReport {
    let desired = policy_doc::access_policy(table_arn, &d.actions, d.per_user_isolation);
    let mut r = compare(d, live, role, table_arn, &desired);
    if let Some(why) = policy_doc::too_large(&d.policy_name, &desired) {
        // Not even --adopt may write it: IAM would refuse it halfway through the apply.
        r.blocked = Some(why);
        r.adoptable = false;
    }
    r
}

fn compare(
    d: &Desired,
    live: Option<&Live>,
    role: Option<&role::Live>,
    table_arn: &str,
    desired: &serde_json::Value,
) -> StepReport {
    let name = &d.policy_name;
    let Some(live) = live else {
        let mut r = StepReport::new(STEP, name, State::Missing);
        r.actions.push(format!(
            "create policy {name} ({} on {table_arn})",
            d.actions.join(", ")
        ));
        r.actions.push(format!("attach it to role {}", d.role_name));
        return r;
    };
    let own = owner(&live.tags, &d.stack);
    let (mut changes, to_set) = document_and_tags(d, live, desired);
    let is_attached = attached(role, &live.arn);
    if !is_attached {
        changes.push(Change::new(
            format!("attached to role {}", d.role_name),
            false,
            true,
        ));
    }
    let mut r = StepReport::new(STEP, &live.arn, State::InSync);
    r.notes.extend(
        diagnose::access_policy(&live.document)
            .iter()
            .map(ToString::to_string),
    );
    if own != Owner::ThisStack {
        r.state = State::NotOwned;
        r.blocked = Some(not_owned_reason("policy", name, &own));
        r.changes = changes;
        if own == Owner::Nobody {
            r.adoptable = true;
            r.actions
                .push(format!("with --adopt: tag policy {name} for this stack"));
            if !policy_doc::equivalent(&live.document, desired) {
                r.actions.push(
                    "with --adopt: create a new default policy version with the desired document"
                        .into(),
                );
            }
            if !is_attached {
                r.actions
                    .push(format!("with --adopt: attach it to role {}", d.role_name));
            }
        }
        return r;
    }
    let doc_changed = !policy_doc::equivalent(&live.document, desired);
    r = r.with_changes(changes);
    if doc_changed {
        r.actions
            .push("create a new default policy version with the desired document".into());
    }
    if !to_set.is_empty() {
        r.actions.push("tag policy".into());
    }
    if !is_attached {
        r.actions.push(format!("attach it to role {}", d.role_name));
    }
    r
}

/// How a managed policy differs from the desired document (fields as `document.…`) and the
/// stack's tags; and the tags to set. Shared by the access and backend policies.
pub fn document_and_tags(
    d: &Desired,
    live: &Live,
    desired: &Value,
) -> (Vec<Change>, BTreeMap<String, String>) {
    let mut changes: Vec<Change> = policy_doc::diff(&live.document, desired)
        .into_iter()
        .map(|c| Change {
            field: format!("document.{}", c.field),
            ..c
        })
        .collect();
    let (tag_diff, to_set) = tag_changes(&live.tags, &d.tags);
    changes.extend(tag_diff);
    (changes, to_set)
}

/// The policy's description.
pub fn description(d: &Desired) -> String {
    format!(
        "Access to DynamoDB table {} (managed by setup, stack {})",
        d.table.name, d.stack
    )
}

pub fn tags(map: &BTreeMap<String, String>) -> Result<Vec<Tag>> {
    map.iter()
        .map(|(k, v)| Ok(Tag::builder().key(k).value(v).build()?))
        .collect()
}

/// Creates the policy or converges its document and tags (not the attachment, which needs the
/// role: see [`attach`]). Returns the policy ARN and what was done.
pub async fn apply_document(ctx: &Ctx, live: Option<&Live>) -> Result<(String, Vec<String>)> {
    let d = &ctx.desired;
    let name = &d.policy_name;
    let desired = policy_doc::access_policy(&ctx.table_arn(), &d.actions, d.per_user_isolation);
    let iam = &ctx.aws.iam;
    let fetched;
    let live = match live {
        Some(l) => l,
        None => {
            ctx.progress.start(STEP, &format!("creating policy {name}"));
            let res = iam
                .create_policy()
                .policy_name(name)
                .description(description(d))
                .policy_document(policy_doc::to_json(&desired))
                .set_tags(Some(tags(&d.tags)?))
                .send()
                .await;
            match res {
                Ok(out) => {
                    let arn = out
                        .policy()
                        .and_then(|p| p.arn())
                        .map(str::to_string)
                        .unwrap_or_else(|| ctx.policy_arn());
                    return Ok((arn, vec![format!("created policy {name}")]));
                }
                // Created meanwhile by another run, or by a retry whose first answer was lost.
                Err(e) if crate::aws::code(&e) == Some("EntityAlreadyExists") => {
                    fetched = observe(&ctx.aws, &ctx.policy_arn(), true)
                        .await?
                        .ok_or_else(|| anyhow!("policy {name} exists but cannot be read"))?;
                    &fetched
                }
                Err(e) => return Err(crate::aws::explain(&format!("creating policy {name}"), e)),
            }
        }
    };
    let own = owner(&live.tags, &d.stack);
    if own != Owner::ThisStack && !(ctx.adopt && own == Owner::Nobody) {
        bail!(not_owned_reason("policy", name, &own));
    }
    let mut done = Vec::new();
    let (_, to_set) = tag_changes(&live.tags, &d.tags);
    if !to_set.is_empty() {
        ctx.progress.start(STEP, &format!("tagging policy {name}"));
        iam.tag_policy()
            .policy_arn(&live.arn)
            .set_tags(Some(tags(&to_set)?))
            .send()
            .await
            .explain(format!("tagging policy {name}"))?;
        done.push(if own == Owner::Nobody {
            format!("adopted policy {name} (tagged for this stack)")
        } else {
            "updated tags".into()
        });
    }
    if !policy_doc::equivalent(&live.document, &desired) {
        done.extend(new_default_version(ctx, STEP, &live.arn, name, &desired).await?);
    }
    Ok((live.arn.clone(), done))
}

/// Writes `desired` as the new default version (shared by the access and backend policies). At
/// the 5-version limit the oldest non-default version goes first. `CreatePolicyVersion` is not idempotent, so the SDK does not retry it:
/// after a lost answer the default version is read back, and only written again if it is not
/// the desired document (no duplicate versions pile up).
pub async fn new_default_version(
    ctx: &Ctx,
    step: StepId,
    arn: &str,
    name: &str,
    desired: &Value,
) -> Result<Vec<String>> {
    let iam = &ctx.aws.iam;
    ctx.progress
        .start(step, &format!("writing a new version of policy {name}"));
    let what = format!("writing a new version of policy {name}");
    let no_retry = aws_sdk_iam::config::Builder::default()
        .retry_config(aws_config::retry::RetryConfig::disabled());
    let mut done = Vec::new();
    let mut attempt = 0;
    loop {
        let versions = versions(&ctx.aws, arn, name).await?;
        if versions.len() >= MAX_VERSIONS {
            let mut old: Vec<_> = versions
                .iter()
                .filter(|v| !v.is_default_version())
                .collect();
            old.sort_by_key(|v| v.create_date().map(|d| (d.secs(), d.subsec_nanos())));
            if let Some(oldest) = old.first().and_then(|v| v.version_id()) {
                iam.delete_policy_version()
                    .policy_arn(arn)
                    .version_id(oldest)
                    .send()
                    .await
                    .found(format!("deleting version {oldest} of policy {name}"))?;
                done.push(format!("deleted oldest version {oldest} (5-version limit)"));
            }
        }
        let res = iam
            .create_policy_version()
            .policy_arn(arn)
            .policy_document(policy_doc::to_json(desired))
            .set_as_default(true)
            .customize()
            .config_override(no_retry.clone())
            .send()
            .await;
        match res {
            Ok(out) => {
                let v = out
                    .policy_version()
                    .and_then(|v| v.version_id())
                    .unwrap_or("?");
                done.push(format!("document updated (new default version {v})"));
                return Ok(done);
            }
            Err(e)
                if attempt < 5
                    && (crate::aws::is_transient(&e)
                        || crate::aws::code(&e) == Some("LimitExceeded")) =>
            {
                tracing::debug!(error = %crate::aws::explain(&what, e), "version may or may not have been written");
                let now = observe(&ctx.aws, arn, true).await?;
                if now.is_some_and(|l| policy_doc::equivalent(&l.document, desired)) {
                    done.push("document updated (new default version)".into());
                    return Ok(done);
                }
                tokio::time::sleep(crate::aws::backoff(
                    attempt,
                    std::time::Duration::from_millis(300),
                    std::time::Duration::from_secs(5),
                ))
                .await;
                attempt += 1;
            }
            Err(e) => return Err(crate::aws::explain(&what, e)),
        }
    }
}

/// Deletes a (detached) policy with its non-default versions.
pub async fn delete_with_versions(ctx: &Ctx, arn: &str, name: &str) -> Result<()> {
    let iam = &ctx.aws.iam;
    for v in versions(&ctx.aws, arn, name)
        .await?
        .iter()
        .filter(|v| !v.is_default_version())
    {
        if let Some(id) = v.version_id() {
            iam.delete_policy_version()
                .policy_arn(arn)
                .version_id(id)
                .send()
                .await
                .found(format!("deleting version {id} of policy {name}"))?;
        }
    }
    // Right after the detach, IAM can still count the attachment for a while.
    crate::aws::retry_for(
        &["DeleteConflict"],
        crate::aws::DELETE_CONFLICT_TIME,
        || iam.delete_policy().policy_arn(arn).send(),
    )
    .await
    .found(format!("deleting policy {name}"))?;
    Ok(())
}

/// Attaches the policy to the role when it is not attached yet.
pub async fn attach(ctx: &Ctx, role: Option<&role::Live>, policy_arn: &str) -> Result<Vec<String>> {
    if attached(role, policy_arn) {
        return Ok(vec![]);
    }
    let role_name = &ctx.desired.role_name;
    ctx.progress
        .start(STEP, &format!("attaching the policy to role {role_name}"));
    // The role or the policy may have been created a moment ago.
    crate::aws::eventually(
        &format!("attaching policy {policy_arn} to role {role_name}"),
        || {
            ctx.aws
                .iam
                .attach_role_policy()
                .role_name(role_name)
                .policy_arn(policy_arn)
                .send()
        },
    )
    .await?;
    Ok(vec![format!("attached to role {role_name}")])
}

/// Removing the policy takes three rounds (see `commands/teardown.rs`): detach it and list what
/// else uses it and its versions ([`detach`]), delete the old versions ([`delete_versions`]),
/// delete the policy ([`delete`]).
pub enum Removal {
    /// Nothing (more) to do, with what was done or why the policy stays.
    Finished(Vec<String>),
    /// Detached and used by nothing else: these non-default versions go first, then the policy.
    Pending {
        arn: String,
        versions: Vec<String>,
        done: Vec<String>,
    },
}

/// Round one: detach from the stack's role while listing the policy's other attachments and its
/// versions. A policy also attached outside this stack is kept and reported.
pub async fn detach(ctx: &Ctx, live: Option<&Live>, role: Option<&role::Live>) -> Result<Removal> {
    let d = &ctx.desired;
    let name = &d.policy_name;
    let Some(live) = live else {
        return Ok(Removal::Finished(vec![]));
    };
    if owner(&live.tags, &d.stack) != Owner::ThisStack {
        return Ok(Removal::Finished(vec![format!(
            "left policy {name} alone (not created by this stack)"
        )]));
    }
    let iam = &ctx.aws.iam;
    ctx.progress.start(STEP, &format!("removing policy {name}"));
    let detach = async {
        if !attached(role, &live.arn) {
            return Ok(false);
        }
        iam.detach_role_policy()
            .role_name(&d.role_name)
            .policy_arn(&live.arn)
            .send()
            .await
            .found(format!("detaching policy {name} from role {}", d.role_name))
            .map(|_| true)
    };
    let (detached, entities, versions) = futures::join!(
        detach,
        attachments(&ctx.aws, &live.arn, name),
        versions(&ctx.aws, &live.arn, name)
    );
    let mut done = Vec::new();
    if detached? {
        done.push(format!("detached from role {}", d.role_name));
    }
    let others: Vec<String> = entities?
        .into_iter()
        .filter(|(kind, n)| !(kind == "role" && *n == d.role_name))
        .map(|(kind, n)| format!("{kind} {n}"))
        .collect();
    if !others.is_empty() {
        done.push(format!(
            "kept policy {name}: still attached to {} (not managed by this stack)",
            others.join(", ")
        ));
        return Ok(Removal::Finished(done));
    }
    let versions = versions?;
    Ok(Removal::Pending {
        arn: live.arn.clone(),
        versions: versions
            .iter()
            .filter(|v| !v.is_default_version())
            .filter_map(|v| v.version_id().map(str::to_string))
            .collect(),
        done,
    })
}

/// Round two: delete the non-default versions, all at once.
pub async fn delete_versions(ctx: &Ctx, removal: &Removal) -> Result<()> {
    let Removal::Pending { arn, versions, .. } = removal else {
        return Ok(());
    };
    let name = &ctx.desired.policy_name;
    let results = futures::future::join_all(versions.iter().map(|id| async move {
        ctx.aws
            .iam
            .delete_policy_version()
            .policy_arn(arn)
            .version_id(id)
            .send()
            .await
            .found(format!("deleting version {id} of policy {name}"))
    }))
    .await;
    for r in results {
        r?;
    }
    Ok(())
}

/// Round three: delete the policy itself.
pub async fn delete(ctx: &Ctx, removal: Removal) -> Result<Vec<String>> {
    let (arn, mut done) = match removal {
        Removal::Finished(done) => return Ok(done),
        Removal::Pending { arn, done, .. } => (arn, done),
    };
    let name = &ctx.desired.policy_name;
    // Right after the detach, IAM can still count the attachment for a while.
    crate::aws::retry_for(
        &["DeleteConflict"],
        crate::aws::DELETE_CONFLICT_TIME,
        || ctx.aws.iam.delete_policy().policy_arn(&arn).send(),
    )
    .await
    .found(format!("deleting policy {name}"))?;
    done.push(format!("deleted policy {name}"));
    Ok(done)
}
