//! The `backend-policy` step, optional: backend access. A second customer-managed policy, scoped to the table,
//! attached to the existing IAM role or user a backend runs as (`[backend]` in the config). The
//! backend reads the caller's user-pool `sub` (e.g. the `x-amzn-oidc-identity` header behind a
//! load balancer) and uses it as the partition key itself, so this policy has no `LeadingKeys`
//! condition.
//!
//! The principal is never created, changed or deleted: only the policy and its attachment.
//! The policy is attached to exactly the configured principal (moving `[backend]` to another
//! role or user detaches it from the old one). Without a `[backend]` section, a policy this
//! stack created under the default name is reported and removed by `apply` / `teardown`.

use anyhow::Result;

use super::managed::{self, Action, New, Target, Why};
use super::own::Keep;
use std::any::TypeId;

use super::observe::{read, Caller, Look, Observe, Scope};
use super::{Diff, Run, Step, View};
use crate::aws::{Account, Clients, Found};
use crate::config::{Desired, Principal};
use crate::plan::{Change, Done, State, StepId};
use crate::policy_doc;
use crate::resource::Resource;

const STEP: StepId = StepId::BackendPolicy;

/// Optional: only with `[backend]`, or a leftover policy of this stack.
pub struct Backend;

#[derive(Debug, Clone)]
pub struct Live {
    /// Whether the configured principal exists (`None` without a `[backend]` section).
    pub principal_exists: Option<bool>,
    /// The policy, with its attachments and old versions.
    pub policy: Option<managed::Live>,
    /// Who the policy is attached to (users and roles; groups are listed in `groups`).
    pub attached: Vec<Principal>,
    pub groups: Vec<String>,
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
            Principal::Role(name) => {
                let role = aws.iam.get_role().role_name(name).send().await;
                role.found(what)?.is_some()
            }
            Principal::User(name) => {
                let user = aws.iam.get_user().user_name(name).send().await;
                user.found(what)?.is_some()
            }
        };
        Ok::<_, anyhow::Error>(Some(exists))
    };
    let policy = async {
        match managed::observe(aws, &arn, true).await? {
            Some(live) => Ok(Some(managed::with_attachments(aws, live).await?)),
            None => Ok::<_, anyhow::Error>(None),
        }
    };
    let (principal_exists, policy) = tokio::join!(principal, policy);
    let (principal_exists, policy) = (principal_exists?, policy?);
    if d.backend.is_none() && policy.is_none() {
        return Ok(None);
    }
    let entities = policy.as_ref().and_then(|p| p.entities.clone()).unwrap_or_default();
    Ok(Some(Live {
        principal_exists,
        attached: entities.principals(),
        groups: entities.groups,
        policy,
    }))
}

/// This stack's policy under the default name, when the config has no `[backend]` (any more).
fn leftover<'a>(d: &Desired, here: &str, live: Option<&'a Live>) -> Option<&'a managed::Live> {
    live.and_then(|l| l.policy.as_ref())
        .filter(|p| d.backend.is_none() && p.global().ours(&d.stack, here))
}

/// The policy's description.
pub fn description(d: &Desired, principal: &Principal) -> String {
    format!(
        "Backend access to DynamoDB table {} for {principal} (managed by setup, stack {})",
        d.table.name, d.stack
    )
}

/// The backend policy and principal (`None`: no `[backend]` and nothing left over).
impl Observe for Backend {
    type Live = Live;
    fn reads(&self, _d: &Desired, _scope: Scope) -> Vec<TypeId> {
        vec![read::<Caller>()]
    }
    async fn observe(&self, look: &Look<'_>) -> Result<Option<Live>> {
        observe(look.aws, look.d, &*look.account()?).await
    }
}

impl Step for Backend {
    type Action = Action;
    const ID: StepId = STEP;

    /// With a `[backend]` section, or a policy it left behind.
    fn applies(&self, v: &View) -> bool {
        v.d.backend.is_some() || leftover(v.d, v.region, v.o.get::<Backend>()).is_some()
    }

    fn diff(&self, v: &View) -> Diff<Action> {
        let (d, live, name) = (v.d, v.o.get::<Backend>(), v.d.backend_policy_name());
        let Some(b) = &d.backend else {
            // A policy under the default name, but no [backend] section (any more).
            let (Some(p), Some(live)) = (leftover(d, v.region, live), live) else {
                return Diff::new(STEP, &name, State::Missing);
            };
            let attached: Vec<String> = live.attached.iter().map(ToString::to_string).collect();
            let mut r = Diff::new(STEP, &p.arn, State::Drifted);
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
                r = r.act(Action::Detach(who.clone(), Why::Removing));
            }
            return managed::deletion(r, &name, p, Some("the config has no [backend] section"));
        };
        let principal = &b.principal;
        let table_arn = v.table_arn();
        let doc = policy_doc::backend_policy(&table_arn, &b.actions);
        let (desired, grants) = v.table_policy(doc, &b.actions);
        let live = live.filter(|l| l.principal_exists != Some(false));
        let Some(live) = live else {
            return Diff::new(STEP, &name, State::Missing).block(format!(
                "backend {principal} does not exist in this account; create it first (setup attaches a policy to it but never creates or deletes it), or fix backend.{} in the config",
                principal.kind()
            ));
        };
        let Some(p) = &live.policy else {
            let new = New {
                name: name.clone(),
                description: description(d, principal),
                document: desired,
                grants,
            };
            return managed::missing(STEP, new, principal.clone());
        };
        let mut attachment = (Vec::new(), Vec::new());
        if !live.attached.contains(principal) {
            let change = Change::new(format!("attached to {principal}"), false, true);
            attachment.0.push(change);
            attachment.1.push(Action::Attach(principal.clone()));
        }
        for other in live.attached.iter().filter(|a| *a != principal) {
            attachment.0.push(Change::new(format!("attached to {other}"), true, false));
            attachment.1.push(Action::Detach(other.clone(), Why::Moved));
        }
        let mut r = managed::compare(d, v.region, (STEP, &name), p, &desired, attachment);
        for g in &live.groups {
            r.notes.push(format!("also attached to group {g} (added by hand; left as is)").into());
        }
        r
    }

    /// Teardown detaches the stack's backend policy from every role and user and deletes it.
    /// The principals themselves are left alone.
    fn removal(&self, v: &View) -> Diff<Action> {
        let (d, name) = (v.d, v.d.backend_policy_name());
        let live = v.o.get::<Backend>();
        let (Some(live), Some(p)) = (live, live.and_then(|l| l.policy.as_ref())) else {
            return Diff::new(STEP, &name, State::Missing);
        };
        if let Some(kept) = managed::kept(STEP, (&d.stack, v.region), &name, p, &[]) {
            return kept;
        }
        let r = Diff::new(STEP, &p.arn, State::InSync);
        if !live.groups.is_empty() {
            return r.act(Action::Keep(Keep::in_use(
                format!("policy {name}"),
                format!(
                    "still attached to group(s) {} by hand; detach it and run teardown again",
                    live.groups.join(", ")
                ),
            )));
        }
        let r = live
            .attached
            .iter()
            .fold(r, |r, who| r.act(Action::Detach(who.clone(), Why::Removing)));
        managed::deletion(r, &name, p, None)
    }

    fn fixes_findings(&self, action: &Action) -> bool {
        managed::replaces_document(action)
    }

    async fn apply(&self, run: &Run<'_>, action: &Action) -> Result<Vec<Done>> {
        let ctx = run.ctx;
        let name = ctx.desired.backend_policy_name();
        let arn = ctx.desired.backend_policy_arn(&ctx.account);
        let target = Target { step: STEP, instance: None, name: &name, arn: &arn };
        managed::apply(ctx, &target, action).await
    }

    fn export(&self, d: &Desired) -> Vec<Resource> {
        match d.backend {
            Some(_) => vec![Resource::BackendPolicy, Resource::BackendAttachment],
            None => vec![],
        }
    }
}

#[cfg(test)]
mod tests;
