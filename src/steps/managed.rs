//! Customer-managed IAM policies: what the access policy and the backend policy share. Reading
//! one (with its attachments and versions when teardown needs them), comparing its document,
//! and the actions on it: create, tag, a new default version, attach, detach, remove.

use std::collections::BTreeMap;
use std::fmt;

use anyhow::{anyhow, bail, Result};
use aws_sdk_iam::types::{PolicyVersion, Tag};
use serde_json::Value;

use super::once::create_once;
use super::own::{existing, Global, Keep, Named, Owner, Tagging};
use super::{role, Ctx, Diff, Need};
use crate::aws::{Clients, Explain, Found};
use crate::config::{Desired, Principal, REGION_TAG, STACK_TAG};
use crate::diagnose;
use crate::plan::{Change, Done, Note, State, StepId};
use crate::policy_doc;

/// IAM keeps at most five versions of a policy.
const MAX_VERSIONS: usize = 5;

#[derive(Debug, Clone)]
pub struct Live {
    pub arn: String,
    pub default_version: String,
    /// The default version's document (`null` when not read).
    pub document: Value,
    pub tags: BTreeMap<String, String>,
    /// Who it is attached to (read for teardown and for the backend policy).
    pub entities: Option<Entities>,
    /// Its non-default versions (read with `entities`).
    pub old_versions: Option<Vec<String>>,
    /// The region of the table its document grants (see [`Global`]); read with the document.
    pub named_region: Option<String>,
}

impl Live {
    /// The policy as the ownership check of a global resource sees it.
    pub fn global(&self) -> Global<'_> {
        Global { tags: &self.tags, named: self.named_region.as_deref() }
    }
}

/// What a policy is attached to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Entities {
    pub roles: Vec<String>,
    pub users: Vec<String>,
    pub groups: Vec<String>,
}

impl Entities {
    /// The roles and users it is attached to (groups are never setup's).
    pub fn principals(&self) -> Vec<Principal> {
        let roles = self.roles.iter().cloned().map(Principal::Role);
        roles.chain(self.users.iter().cloned().map(Principal::User)).collect()
    }
}

/// Reads the policy, its tags and (with `with_document`) its default version's document. The
/// document is read in any case for a policy of a stack that lacks the region tag (tagged
/// before that tag existed): the region its document names is the region it belongs to.
pub async fn observe(aws: &Clients, arn: &str, with_document: bool) -> Result<Option<Live>> {
    let request = aws.iam.get_policy().policy_arn(arn);
    let out = request.send().await.found(format!("reading policy {arn}"))?;
    let Some(p) = out.as_ref().and_then(|o| o.policy()) else {
        return Ok(None);
    };
    let version = p
        .default_version_id()
        .ok_or_else(|| anyhow!("policy {arn} has no default version"))?
        .to_string();
    let mut live = Live {
        arn: arn.to_string(),
        default_version: version,
        document: Value::Null,
        tags: p.tags().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect(),
        entities: None,
        old_versions: None,
        named_region: None,
    };
    let untagged_region = live.tags.contains_key(STACK_TAG) && !live.tags.contains_key(REGION_TAG);
    if with_document || untagged_region {
        let v = aws
            .iam
            .get_policy_version()
            .policy_arn(arn)
            .version_id(&live.default_version)
            .send()
            .await
            .explain(format!("reading policy {arn} version {}", live.default_version))?;
        let raw = v.policy_version().and_then(|v| v.document()).unwrap_or("{}");
        live.document = policy_doc::parse(raw)
            .map_err(|e| anyhow!("policy {arn} has an unreadable document: {e}"))?;
        live.named_region = policy_doc::named_region(&live.document);
    }
    Ok(Some(live))
}

/// The policy (without its document) with its attachments and old versions, all read at once
/// (a policy that does not exist answers "not found" to each): what teardown plans from.
pub async fn observe_all(aws: &Clients, arn: &str) -> Result<Option<Live>> {
    let (policy, entities, versions) =
        tokio::join!(observe(aws, arn, false), entities(aws, arn), old_versions(aws, arn));
    let Some(mut live) = policy? else {
        return Ok(None);
    };
    live.entities = Some(entities?.unwrap_or_default());
    live.old_versions = Some(versions?.unwrap_or_default());
    Ok(Some(live))
}

/// Adds the attachments and old versions to a policy read by [`observe`].
pub async fn with_attachments(aws: &Clients, mut live: Live) -> Result<Live> {
    let (entities, versions) = tokio::join!(entities(aws, &live.arn), old_versions(aws, &live.arn));
    live.entities = Some(entities?.unwrap_or_default());
    live.old_versions = Some(versions?.unwrap_or_default());
    Ok(live)
}

/// Everything a policy is attached to (all pages); `None` when the policy does not exist.
async fn entities(aws: &Clients, arn: &str) -> Result<Option<Entities>> {
    let pages = aws.iam.list_entities_for_policy().policy_arn(arn);
    let pages = pages.into_paginator().send().try_collect().await;
    let pages = pages.found(format!("listing what policy {arn} is attached to"))?;
    Ok(pages.map(|pages| {
        let mut e = Entities::default();
        for p in pages {
            e.roles
                .extend(p.policy_roles().iter().filter_map(|r| r.role_name()).map(str::to_string));
            e.users
                .extend(p.policy_users().iter().filter_map(|u| u.user_name()).map(str::to_string));
            e.groups.extend(
                p.policy_groups().iter().filter_map(|g| g.group_name()).map(str::to_string),
            );
        }
        e
    }))
}

/// Every version of a policy (all pages).
pub async fn versions(aws: &Clients, arn: &str) -> Result<Option<Vec<PolicyVersion>>> {
    let request = aws.iam.list_policy_versions().policy_arn(arn);
    let pages = request.into_paginator().send().try_collect().await;
    let pages = pages.found(format!("listing versions of policy {arn}"))?;
    Ok(pages.map(|pages| {
        let all = pages.into_iter().flat_map(|p| p.versions.unwrap_or_default());
        all.collect()
    }))
}

async fn old_versions(aws: &Clients, arn: &str) -> Result<Option<Vec<String>>> {
    Ok(versions(aws, arn).await?.map(|all| {
        all.iter()
            .filter(|v| !v.is_default_version())
            .filter_map(|v| v.version_id().map(str::to_string))
            .collect()
    }))
}

/// How the live document differs from the desired one (fields as `document.…`).
pub fn document_changes(live: &Value, desired: &Value) -> Vec<Change> {
    policy_doc::diff(live, desired)
        .into_iter()
        .map(|c| Change { field: format!("document.{}", c.field), ..c })
        .collect()
}

/// A policy with the configured name compared with the config: its document (a new default
/// version fixes it), the attachment `changes` and `fixes` the step found, and who may act
/// (the ownership check of [`existing`]); with the findings about its document.
pub fn compare(
    d: &Desired,
    here: &str,
    (step, name): (StepId, &str),
    live: &Live,
    desired: &Value,
    attachment: (Vec<Change>, Vec<Action>),
) -> Diff<Action> {
    let mut changes = document_changes(&live.document, desired);
    let mut fixes = Vec::new();
    if !policy_doc::equivalent(&live.document, desired) {
        fixes.push(Action::NewVersion(desired.clone()));
    }
    changes.extend(attachment.0);
    fixes.extend(attachment.1);
    let named = Named {
        step,
        kind: "policy",
        name,
        resource: live.arn.clone(),
        tags: &live.tags,
        global: Some((live.named_region.as_deref(), here)),
    };
    let mut r = existing(d, named, changes, fixes, Action::Tag);
    r.notes.extend(diagnose::access_policy(&live.document).into_iter().map(Note::from));
    r
}

/// A policy that does not exist yet: create it, then attach it to `to`.
pub fn missing(step: StepId, new: New, to: Principal) -> Diff<Action> {
    Diff::new(step, &new.name, State::Missing).act(Action::Create(new)).act(Action::Attach(to))
}

/// The attachment to the role (`None`: not there yet) that [`compare`] adds when the role lacks
/// the policy `arn`.
pub fn role_attachment(
    role: Option<&role::Live>,
    role_name: &str,
    arn: &str,
) -> (Vec<Change>, Vec<Action>) {
    if role.is_some_and(|r| r.attached.iter().any(|(_, a)| a == arn)) {
        return (vec![], vec![]);
    }
    let change = Change::new(format!("attached to role {role_name}"), false, true);
    (vec![change], vec![Action::Attach(Principal::Role(role_name.to_string()))])
}

/// The order of a policy attached to the role of `role_step`: the role exists before the
/// attach, and the role step detaches the policy before it is deleted.
pub fn needs_role(action: &Action, role_step: StepId) -> Vec<Need> {
    match action {
        Action::Attach(_) => vec![Need::Done(role_step)],
        Action::Delete { .. } => vec![Need::After(role_step)],
        _ => vec![],
    }
}

/// Who the policy is attached to outside the stack: its users, groups and roles, but `ours`
/// (the stack's role, when it is the stack's).
pub fn attached_outside(live: &Live, ours: Option<&str>) -> Vec<String> {
    let entities = live.entities.clone().unwrap_or_default();
    let roles = entities.roles.iter().filter(|r| Some(r.as_str()) != ours);
    let mut out: Vec<String> = roles.map(|r| format!("role {r}")).collect();
    out.extend(entities.users.iter().map(|u| format!("user {u}")));
    out.extend(entities.groups.iter().map(|g| format!("group {g}")));
    out
}

/// Teardown's answer for a policy that is kept: not the stack's, or attached to `outside`
/// principals ([`attached_outside`]). `None`: it may go.
pub fn kept(
    step: StepId,
    (stack, here): (&str, &str),
    name: &str,
    live: &Live,
    outside: &[String],
) -> Option<Diff<Action>> {
    let what = format!("policy {name}");
    let own = live.global().owner(stack, here);
    let (state, keep) = if own != Owner::ThisStack {
        (State::NotOwned, Keep::owned_by(what, &own))
    } else if !outside.is_empty() {
        let because =
            format!("still attached to {} (not managed by this stack)", outside.join(", "));
        (State::InSync, Keep::in_use(what, because))
    } else {
        return None;
    };
    Some(Diff::new(step, &live.arn, state).act(Action::Keep(keep)))
}

/// A managed policy's deletion: its old versions, then the policy.
pub fn deletion(
    mut r: Diff<Action>,
    name: &str,
    live: &Live,
    why: Option<&'static str>,
) -> Diff<Action> {
    let old = live.old_versions.clone().unwrap_or_default();
    if !old.is_empty() {
        r = r.act(Action::DeleteVersions { policy: name.to_string(), versions: old });
    }
    r.act(Action::Delete { policy: name.to_string(), why })
}

pub fn tags(map: &BTreeMap<String, String>) -> Result<Vec<Tag>> {
    map.iter().map(|(k, v)| Ok(Tag::builder().key(k).value(v).build()?)).collect()
}

/// A policy to create.
#[derive(Debug, Clone, PartialEq)]
pub struct New {
    pub name: String,
    pub description: String,
    pub document: Value,
    /// What it grants, for people: `dynamodb:GetItem, … on <table ARN>`.
    pub grants: String,
}

/// Why a policy is detached from a principal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// `[backend]` names another principal now.
    Moved,
    /// The policy is being removed; the principal stays.
    Removing,
}

/// What `apply` and `teardown` do to a managed policy.
#[derive(Debug, Clone, PartialEq, strum::IntoStaticStr, strum::VariantNames)]
#[strum(serialize_all = "kebab-case")]
pub enum Action {
    Create(New),
    Tag(Tagging),
    /// A new default version with this document; at the 5-version limit the oldest
    /// non-default version goes first.
    NewVersion(Value),
    Attach(Principal),
    Detach(Principal, Why),
    /// The policy's non-default versions, which must go before the policy.
    DeleteVersions {
        policy: String,
        versions: Vec<String>,
    },
    /// Delete the policy (`why`: when it is not the stack's removal).
    Delete {
        policy: String,
        why: Option<&'static str>,
    },
    Keep(Keep),
}

/// Whether `action` replaces the policy's document with the desired one (its findings are then
/// past).
pub fn replaces_document(action: &Action) -> bool {
    matches!(action, Action::NewVersion(_))
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Create(n) => write!(f, "create policy {} ({})", n.name, n.grants),
            Action::Tag(t) => t.fmt(f),
            Action::NewVersion(_) => {
                f.write_str("create a new default policy version with the desired document")
            }
            Action::Attach(who) => write!(f, "attach it to {who}"),
            Action::Detach(who, _) => write!(f, "detach it from {who}"),
            Action::DeleteVersions { policy: name, versions: ids } => {
                write!(f, "delete the old versions {} of policy {name}", ids.join(", "))
            }
            Action::Delete { policy: name, why: None } => write!(f, "delete policy {name}"),
            Action::Delete { policy: name, why: Some(why) } => {
                write!(f, "delete policy {name} ({why})")
            }
            Action::Keep(k) => k.fmt(f),
        }
    }
}

/// The policy an action is about.
pub struct Target<'a> {
    pub step: StepId,
    /// The step's instance (a group's name), for the progress lines.
    pub instance: Option<&'a str>,
    pub name: &'a str,
    pub arn: &'a str,
}

/// Carries out one action on the policy `t`.
impl Target<'_> {
    fn unit(&self) -> crate::plan::Unit {
        crate::plan::Unit::new(self.step, self.instance)
    }
}

pub async fn apply(ctx: &Ctx, t: &Target<'_>, action: &Action) -> Result<Vec<Done>> {
    let iam = &ctx.aws.iam;
    let name = t.name;
    match action {
        Action::Create(new) => create(ctx, t, new).await,
        Action::Tag(tagging) => {
            let call = iam.tag_policy().policy_arn(t.arn);
            let call = call.set_tags(Some(tags(&tagging.tags)?)).send();
            tagging.apply(ctx, t.unit(), call).await
        }
        Action::NewVersion(document) => new_default_version(ctx, t, document).await,
        Action::Attach(who) => {
            ctx.progress.start(t.unit(), &format!("attaching policy {name} to {who}"));
            attach(ctx, who, t.arn).await?;
            Ok(vec![Done::Updated(format!("attached to {who}"))])
        }
        Action::Detach(who, why) => {
            ctx.progress.start(t.unit(), &format!("detaching policy {name} from {who}"));
            detach(ctx, who, t.arn).await?;
            Ok(vec![Done::Removed(match why {
                Why::Moved => format!("detached from {who} (no longer backend.{})", who.kind()),
                Why::Removing => format!("detached from {who} (the {} itself is kept)", who.kind()),
            })])
        }
        Action::DeleteVersions { versions: ids, .. } => {
            ctx.progress.start(t.unit(), &format!("deleting the old versions of policy {name}"));
            delete_versions(ctx, t, ids).await?;
            Ok(vec![])
        }
        Action::Delete { .. } => {
            ctx.progress.start(t.unit(), &format!("deleting policy {name}"));
            // Right after a detach, IAM can still count the attachment for a while.
            crate::aws::retry_for(&["DeleteConflict"], crate::aws::DELETE_CONFLICT_TIME, || {
                iam.delete_policy().policy_arn(t.arn).send()
            })
            .await
            .found(format!("deleting policy {name}"))?;
            Ok(vec![Done::Removed(format!("deleted policy {name}"))])
        }
        Action::Keep(k) => Ok(vec![k.done()]),
    }
}

/// CreatePolicy. When it exists already (created meanwhile by another run, or by a retry whose
/// first answer was lost), it is read and its document and tags converged like any existing
/// policy of the stack.
async fn create(ctx: &Ctx, t: &Target<'_>, new: &New) -> Result<Vec<Done>> {
    let name = t.name;
    ctx.progress.start(t.unit(), &format!("creating policy {name}"));
    let res = ctx
        .aws
        .iam
        .create_policy()
        .policy_name(name)
        .description(&new.description)
        .policy_document(policy_doc::to_json(&new.document))
        .set_tags(Some(tags(&ctx.iam_tags())?))
        .send()
        .await;
    match res {
        Ok(_) => Ok(vec![Done::Created(format!("created policy {name}"))]),
        Err(e) if crate::aws::code(&e) == Some("EntityAlreadyExists") => {
            let live = observe(&ctx.aws, t.arn, true)
                .await?
                .ok_or_else(|| anyhow!("policy {name} exists but cannot be read"))?;
            let diff = compare(
                &ctx.desired,
                ctx.region(),
                (t.step, name),
                &live,
                &new.document,
                (vec![], vec![]),
            );
            if let Some(why) = diff.blocked.filter(|_| !(ctx.adopt && diff.adoptable)) {
                bail!(why);
            }
            let mut done = Vec::new();
            for a in &diff.actions {
                done.extend(Box::pin(apply(ctx, t, a)).await?);
            }
            Ok(done)
        }
        Err(e) => Err(crate::aws::explain(&format!("creating policy {name}"), e)),
    }
}

/// Writes `desired` as the new default version of the policy `t` (see
/// [`write_default_version`]).
async fn new_default_version(ctx: &Ctx, t: &Target<'_>, desired: &Value) -> Result<Vec<Done>> {
    ctx.progress.start(t.unit(), &format!("writing a new version of policy {}", t.name));
    write_default_version(&ctx.aws, t.arn, t.name, desired).await
}

/// Writes `desired` as the new default version of the policy `arn` (named `name`). At the
/// 5-version limit the oldest non-default version goes first. `CreatePolicyVersion` is not
/// idempotent: after a lost answer the default version is read back, and only written again if
/// it is not the desired document.
pub async fn write_default_version(
    aws: &Clients,
    arn: &str,
    name: &str,
    desired: &Value,
) -> Result<Vec<Done>> {
    let iam = &aws.iam;
    let no_retry = aws_sdk_iam::config::Builder::default()
        .retry_config(aws_config::retry::RetryConfig::disabled());
    let done = std::sync::Mutex::new(Vec::new());
    let version = create_once(
        &format!("writing a new version of policy {name}"),
        &["LimitExceeded"],
        || async {
            let all = versions(aws, arn).await?.unwrap_or_default();
            if all.len() >= MAX_VERSIONS {
                let mut old: Vec<_> = all.iter().filter(|v| !v.is_default_version()).collect();
                old.sort_by_key(|v| v.create_date().map(|d| (d.secs(), d.subsec_nanos())));
                if let Some(oldest) = old.first().and_then(|v| v.version_id()) {
                    iam.delete_policy_version()
                        .policy_arn(arn)
                        .version_id(oldest)
                        .send()
                        .await
                        .found(format!("deleting version {oldest} of policy {name}"))?;
                    done.lock().expect("not poisoned").push(Done::Updated(format!(
                        "deleted oldest version {oldest} (5-version limit)"
                    )));
                }
            }
            let sent = iam
                .create_policy_version()
                .policy_arn(arn)
                .policy_document(policy_doc::to_json(desired))
                .set_as_default(true)
                .customize()
                .config_override(no_retry.clone())
                .send()
                .await;
            Ok(sent.map(|out| {
                out.policy_version()
                    .and_then(|v| v.version_id())
                    .map(|v| format!(" {v}"))
                    .unwrap_or_default()
            }))
        },
        || async {
            let now = observe(aws, arn, true).await?;
            Ok(now.filter(|l| policy_doc::equivalent(&l.document, desired)).map(|_| String::new()))
        },
    )
    .await?;
    let mut done = done.into_inner().expect("not poisoned");
    done.push(Done::Updated(format!("document updated (new default version{version})")));
    Ok(done)
}

/// Deletes these versions of a (detached) policy, all at once.
async fn delete_versions(ctx: &Ctx, t: &Target<'_>, ids: &[String]) -> Result<()> {
    let results = futures_util::future::join_all(ids.iter().map(|id| async move {
        ctx.aws
            .iam
            .delete_policy_version()
            .policy_arn(t.arn)
            .version_id(id)
            .send()
            .await
            .found(format!("deleting version {id} of policy {}", t.name))
    }))
    .await;
    for r in results {
        r?;
    }
    Ok(())
}

/// Attaches the policy. The principal or the policy may have been created a moment ago.
async fn attach(ctx: &Ctx, who: &Principal, arn: &str) -> Result<()> {
    let iam = &ctx.aws.iam;
    let what = format!("attaching policy {arn} to {who}");
    match who {
        Principal::Role(n) => {
            crate::aws::eventually(&what, || {
                iam.attach_role_policy().role_name(n).policy_arn(arn).send()
            })
            .await?;
        }
        Principal::User(n) => {
            crate::aws::eventually(&what, || {
                iam.attach_user_policy().user_name(n).policy_arn(arn).send()
            })
            .await?;
        }
    }
    Ok(())
}

/// Detaches the policy (already detached is fine).
pub async fn detach(ctx: &Ctx, who: &Principal, arn: &str) -> Result<()> {
    let iam = &ctx.aws.iam;
    let what = format!("detaching policy {arn} from {who}");
    match who {
        Principal::Role(n) => {
            let detached = iam.detach_role_policy().role_name(n).policy_arn(arn);
            detached.send().await.found(what)?;
        }
        Principal::User(n) => {
            let detached = iam.detach_user_policy().user_name(n).policy_arn(arn);
            detached.send().await.found(what)?;
        }
    }
    Ok(())
}
