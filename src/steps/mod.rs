//! The provisioning steps. Each module has the same shape:
//!
//! * `observe` — read the live resource (not found is a state, not an error);
//! * `diff` — compare it with the desired state and say what differs and what `apply` would do;
//! * `apply` — act only on the difference, and return what was done;
//! * `teardown` — remove what this stack created, and nothing else.
//!
//! This module runs the observations concurrently (only true data dependencies wait for each
//! other) and holds what every step needs: the clients, the desired state, the account.

pub mod backend;
pub mod identity_pool;
pub mod policy;
pub mod pool_roles;
pub mod role;
pub mod table;
pub mod trust;
pub mod user_pool;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Result};

use crate::aws::{Account, Clients, Explain};
use crate::config::{Desired, STACK_TAG};
use crate::plan::{Plan, StepId};
use crate::progress::Progress;

/// Everything a step needs to act.
pub struct Ctx {
    pub aws: Clients,
    pub desired: Desired,
    pub account: Account,
    pub progress: Arc<dyn Progress>,
    /// Take over resources that have the configured name but no stack tag.
    pub adopt: bool,
    /// How long to wait for the table to become ACTIVE or to be deleted (`--wait-timeout`).
    pub wait_timeout: Duration,
}

impl Ctx {
    pub fn region(&self) -> &str {
        &self.aws.region
    }
    pub fn table_arn(&self) -> String {
        self.desired.table_arn(self.region(), &self.account)
    }
    pub fn role_arn(&self) -> String {
        self.desired.role_arn(&self.account)
    }
    pub fn policy_arn(&self) -> String {
        self.desired.policy_arn(&self.account)
    }
}

/// Everything observed about the live stack.
#[derive(Debug, Clone)]
pub struct Observed {
    pub account: Account,
    pub table: Option<table::Live>,
    pub pool: identity_pool::Found,
    pub pool_roles: Option<pool_roles::Live>,
    pub role: Option<role::Live>,
    pub policy: Option<policy::Live>,
    /// The backend policy and principal (`None`: no `[backend]` and nothing left over).
    pub backend: Option<backend::Live>,
}

/// How much to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Everything needed to compare with the config (apply, plan, status).
    Full,
    /// Only what removal needs: which resources exist and who owns them (teardown). Skips the
    /// user pool check (a deleted user pool must not block teardown), PITR, the policy
    /// document and the pool's roles.
    Removal,
}

/// Reads every resource, with independent reads in flight together:
/// the user pool check, STS → policy → default version, table → (PITR, tags),
/// identity pools → describe → pool roles, role + its attachments.
pub async fn observe(aws: &Clients, d: &Desired, scope: Scope) -> Result<Observed> {
    let full = scope == Scope::Full;
    let preflight = async {
        if full {
            user_pool::check(aws, d).await
        } else {
            Ok(())
        }
    };
    let account_then_policy = async {
        let who = aws
            .sts
            .get_caller_identity()
            .send()
            .await
            .explain("checking the AWS credentials (sts:GetCallerIdentity)")?;
        let id = who
            .account()
            .ok_or_else(|| anyhow!("sts:GetCallerIdentity returned no account id"))?;
        let account = Account::from_caller(id, who.arn());
        let policy_arn = d.policy_arn(&account);
        let (policy, backend) = futures::join!(
            policy::observe(aws, &policy_arn, full),
            backend::observe(aws, d, &account)
        );
        Ok::<_, anyhow::Error>((account, policy?, backend?))
    };
    let table = table::observe(aws, d, full);
    let pool_then_roles = async {
        let pool = identity_pool::observe(aws, d).await?;
        let roles = match pool.live() {
            Some(p) if full => pool_roles::observe(aws, &p.id).await?,
            _ => None,
        };
        Ok::<_, anyhow::Error>((pool, roles))
    };
    let role = role::observe(aws, d);
    let (pre, account_policy, table, pool_roles, role) =
        futures::join!(preflight, account_then_policy, table, pool_then_roles, role);
    // The user pool check comes first: a wrong id explains every other failure.
    pre?;
    let (account, policy, backend) = account_policy?;
    let (pool, pool_roles) = pool_roles?;
    Ok(Observed {
        account,
        table: table?,
        pool,
        pool_roles,
        role: role?,
        policy,
        backend,
    })
}

/// Compares everything observed with the config: the report `status`, `plan` and `apply` share.
pub fn diff(d: &Desired, region: &str, o: &Observed) -> Plan {
    let pool_id = o.pool.live().map(|p| p.id.clone());
    let role_arn = d.role_arn(&o.account);
    let table_arn = d.table_arn(region, &o.account);
    let mut steps = vec![
        table::diff(d, o.table.as_ref()),
        identity_pool::diff(d, &o.pool),
        role::diff(d, o.role.as_ref(), pool_id.as_deref()),
        trust::diff(d, o.role.as_ref(), pool_id.as_deref()),
        policy::diff(d, o.policy.as_ref(), o.role.as_ref(), &table_arn),
        pool_roles::diff(pool_id.as_deref(), o.pool_roles.as_ref(), &role_arn),
    ];
    steps.extend(backend::diff(d, o.backend.as_ref(), &table_arn));
    Plan { steps }
}

/// For teardown: what exists before removal. `in_sync` here means "exists and is this stack's",
/// `not_owned` "exists but is not this stack's" (left alone), `missing` "nothing to remove".
pub fn presence(d: &Desired, region: &str, o: &Observed) -> Plan {
    let state = |tags: Option<&BTreeMap<String, String>>| match tags.map(|t| owner(t, &d.stack)) {
        None => crate::plan::State::Missing,
        Some(Owner::ThisStack) => crate::plan::State::InSync,
        Some(_) => crate::plan::State::NotOwned,
    };
    let pool = match &o.pool {
        identity_pool::Found::None => crate::plan::State::Missing,
        identity_pool::Found::Owned(_) => crate::plan::State::InSync,
        identity_pool::Found::NotOwned(_) => crate::plan::State::NotOwned,
    };
    let pool_name = o
        .pool
        .live()
        .map(|p| format!("{} ({})", d.identity_pool_name, p.id))
        .unwrap_or_else(|| d.identity_pool_name.clone());
    let role = state(o.role.as_ref().map(|r| &r.tags));
    let report = crate::plan::StepReport::new;
    let table_arn = d.table_arn(region, &o.account);
    let backend = backend::diff(d, o.backend.as_ref(), &table_arn)
        .into_iter()
        .map(|mut r| {
            use crate::plan::State::*;
            r.state = match r.state {
                Missing => Missing,
                NotOwned => NotOwned,
                _ => InSync,
            };
            r.changes.clear();
            r.actions.clear();
            r.blocked = None;
            r
        });
    let mut plan = Plan {
        steps: vec![
            report(
                StepId::Table,
                &d.table.name,
                state(o.table.as_ref().map(|t| &t.tags)),
            ),
            report(StepId::IdentityPool, &pool_name, pool),
            report(StepId::Role, &d.role_name, role),
            report(StepId::TrustPolicy, &d.role_name, role),
            report(
                StepId::AccessPolicy,
                &d.policy_name,
                state(o.policy.as_ref().map(|p| &p.tags)),
            ),
            report(StepId::PoolRoles, &pool_name, pool),
        ],
    };
    plan.steps.extend(backend);
    plan
}

/// Who owns a resource, from its tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    ThisStack,
    OtherStack(String),
    Nobody,
}

pub fn owner(tags: &BTreeMap<String, String>, stack: &str) -> Owner {
    match tags.get(STACK_TAG) {
        Some(s) if s == stack => Owner::ThisStack,
        Some(s) => Owner::OtherStack(s.clone()),
        None => Owner::Nobody,
    }
}

/// The note and blocked reason for a resource that is not this stack's.
pub fn not_owned_reason(kind: &str, name: &str, owner: &Owner) -> String {
    match owner {
        Owner::OtherStack(s) => format!(
            "{kind} {name} belongs to stack {s:?} (tag {STACK_TAG}); choose another name in the config"
        ),
        _ => format!(
            "{kind} {name} exists but was not created by this stack; run `setup apply --adopt` to take it over, or choose another name"
        ),
    }
}

/// Desired tags that are missing or different on the live resource (extra live tags are left alone).
pub fn tag_changes(
    live: &BTreeMap<String, String>,
    desired: &BTreeMap<String, String>,
) -> (Vec<crate::plan::Change>, BTreeMap<String, String>) {
    let mut changes = Vec::new();
    let mut to_set = BTreeMap::new();
    for (k, v) in desired {
        if live.get(k) != Some(v) {
            changes.push(crate::plan::Change::new(
                format!("tags.{k}"),
                live.get(k)
                    .cloned()
                    .map(serde_json::Value::from)
                    .unwrap_or_default(),
                v.clone(),
            ));
            to_set.insert(k.clone(), v.clone());
        }
    }
    (changes, to_set)
}

pub fn hashmap_to_btree(m: Option<&HashMap<String, String>>) -> BTreeMap<String, String> {
    m.map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default()
}

/// A step's progress: start → finish with what was done, or "unchanged".
pub fn finish(ctx: &Ctx, step: StepId, result: &Result<Vec<String>>) {
    match result {
        Ok(done) if done.is_empty() => ctx.progress.finish(step, true, "unchanged"),
        Ok(done) => ctx.progress.finish(step, true, &done.join("; ")),
        Err(e) => ctx.progress.finish(step, false, &format!("{e:#}")),
    }
}
