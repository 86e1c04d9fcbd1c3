//! The `pool-roles` step: the identity pool's roles (`SetIdentityPoolRoles`). Its `authenticated` role must be
//! the stack's role; with guests allowed its `unauthenticated` role must be the stack's guest
//! role, and with guests off the stack's guest role is taken off the pool (another
//! unauthenticated role, set by hand, is kept). Role mappings are kept as they are.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use anyhow::{anyhow, Result};
use aws_sdk_cognitoidentity::types::RoleMapping;
use serde_json::Value;

use std::any::TypeId;

use super::observe::{read, Look, Observe, Scope};
use super::{guest, identity_pool, role, Diff, Need, Run, Step, View};
use crate::aws::{Clients, Found};
use crate::config::Desired;
use crate::plan::{Change, Done, State, StepId};
use crate::resource::Resource;

const STEP: StepId = StepId::PoolRoles;

/// Observed with the pool; created, and removed, with it.
pub struct PoolRoles;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Live {
    pub roles: HashMap<String, String>,
    pub role_mappings: Option<HashMap<String, RoleMapping>>,
}

impl Live {
    pub fn authenticated(&self) -> Option<&str> {
        self.roles.get("authenticated").map(String::as_str)
    }
    pub fn unauthenticated(&self) -> Option<&str> {
        self.roles.get("unauthenticated").map(String::as_str)
    }
}

pub async fn observe(aws: &Clients, pool_id: &str) -> Result<Option<Live>> {
    let request = aws.identity.get_identity_pool_roles();
    let out = request.identity_pool_id(pool_id).send().await;
    let out = out.found(format!("reading the roles of identity pool {pool_id}"))?;
    Ok(out.map(|o| Live {
        roles: o.roles().cloned().unwrap_or_default(),
        role_mappings: o.role_mappings().cloned(),
    }))
}

/// What happens to the pool's `unauthenticated` role.
#[derive(Debug, Clone, PartialEq)]
pub enum Guest {
    /// Left as it is (guests off, and not the stack's guest role).
    Keep,
    /// Set to the stack's guest role (its name).
    Set(String),
    /// The stack's guest role (its name) is taken off the pool: guests are off.
    Remove(String),
}

/// SetIdentityPoolRoles: the stack's role as `authenticated`, the guest change, and the other
/// roles and mappings kept.
#[derive(Debug, Clone, PartialEq)]
pub struct Roles {
    /// The pool's roles and mappings as they are (what is kept).
    pub keep: Live,
    /// Whether the `authenticated` role changes (for the plan's text; it is always sent).
    pub authenticated: bool,
    pub guest: Guest,
    /// The role mappings that change, by provider (`None`: removed), as data
    /// ([`mappings::as_data`]); the others are kept.
    pub mappings: BTreeMap<String, Option<Value>>,
}

/// What `apply` and `teardown` do to the pool's roles.
#[derive(Debug, Clone, PartialEq, strum::IntoStaticStr, strum::VariantNames)]
#[strum(serialize_all = "kebab-case")]
pub enum Action {
    Set(Roles),
    /// Teardown: they go with the identity pool.
    WithPoolRemoval,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Action::Set(r) = self else {
            return f.write_str("remove with the identity pool");
        };
        let mut parts = Vec::new();
        if r.authenticated {
            parts.push("set the pool's authenticated role to the stack's role".to_string());
        }
        match &r.guest {
            Guest::Keep => {}
            Guest::Set(name) => {
                parts.push(format!("set the pool's unauthenticated role to guest role {name}"))
            }
            Guest::Remove(name) => parts.push(format!(
                "remove guest role {name} as the pool's unauthenticated role ({})",
                guest::GUESTS_OFF
            )),
        }
        parts.extend(r.mappings.iter().map(|(p, to)| mappings::describe(p, to)));
        f.write_str(&parts.join("; "))
    }
}

/// The role the pool names, as the live side of a change (`gone`: that role does not exist).
fn named_role(arn: Option<&str>, gone: bool) -> Value {
    match arn {
        Some(arn) if gone => Value::from(format!("{arn} (no such role)")),
        other => other.map(Value::from).unwrap_or_default(),
    }
}

/// Read with the pool (not for teardown: they go with it).
impl Observe for PoolRoles {
    type Live = Live;
    fn reads(&self, _d: &Desired, _scope: Scope) -> Vec<TypeId> {
        vec![read::<identity_pool::IdentityPool>()]
    }
    async fn observe(&self, look: &Look<'_>) -> Result<Option<Live>> {
        let Some(id) = identity_pool::settings_of(look) else { return Ok(None) };
        observe(look.aws, &id).await
    }
}

impl Step for PoolRoles {
    type Action = Action;
    const ID: StepId = STEP;

    fn diff(&self, v: &View) -> Diff<Action> {
        // No pool yet (it is to be created): it has no roles.
        let (pool_id, role_arn) = (v.pool_id(), v.role_arn());
        let live = v.o.get::<PoolRoles>().filter(|_| pool_id.is_some());
        let resource = pool_id.unwrap_or("(new identity pool)");
        let current = live.and_then(Live::authenticated);
        let current_guest = live.and_then(Live::unauthenticated);
        let mut changes = Vec::new();
        // The pool names the role, but the role is gone (deleted by hand, or by a teardown):
        // every sign-in fails until the role exists again, so this is not in sync.
        let dangling = current == Some(role_arn.as_str()) && v.o.get::<role::Role>().is_none();
        if current != Some(role_arn.as_str()) || dangling {
            changes.push(Change::new(
                "roles.authenticated",
                named_role(current, dangling),
                role_arn.as_str(),
            ));
        }
        let guest = match v.d.guest() {
            Some(g) => {
                let arn = guest::role_arn(v);
                let gone =
                    current_guest == Some(arn.as_str()) && v.o.get::<guest::GuestRole>().is_none();
                if current_guest == Some(arn.as_str()) && !gone {
                    Guest::Keep
                } else {
                    changes.push(Change::new(
                        "roles.unauthenticated",
                        named_role(current_guest, gone),
                        arn,
                    ));
                    Guest::Set(g.role_name.clone())
                }
            }
            None => match current_guest {
                Some(arn) if guest::leftover_on_pool(v, arn) => {
                    changes.push(Change::new("roles.unauthenticated", arn, Value::Null));
                    Guest::Remove(v.d.guest_spec.role_name.clone())
                }
                _ => Guest::Keep,
            },
        };
        let live_mappings = live.and_then(|l| l.role_mappings.as_ref());
        let (mapping_changes, mappings) = mappings::changes(v, live_mappings);
        changes.extend(mapping_changes);
        let findings = mappings::findings(v, live_mappings);
        if changes.is_empty() {
            let mut r = Diff::new(STEP, resource, State::InSync);
            r.notes = findings;
            return r;
        }
        let authenticated = current != Some(role_arn.as_str()) || dangling;
        // Missing: nothing of what is wanted is set; drifted: something else is.
        let state =
            if changes.iter().all(|c| c.live.is_null()) { State::Missing } else { State::Drifted };
        let mut r = Diff::new(STEP, resource, state).act(Action::Set(Roles {
            keep: live.cloned().unwrap_or_default(),
            authenticated,
            guest,
            mappings,
        }));
        r.changes = changes;
        r.notes = findings;
        r
    }

    fn removal(&self, v: &View) -> Diff<Action> {
        let pool = identity_pool::IdentityPool.removal(v);
        let mut r = Diff::new(STEP, pool.resource, pool.state);
        let deleted = pool.actions.iter().any(|a| matches!(a, identity_pool::Action::Delete(_)));
        if deleted {
            r.actions.push(Action::WithPoolRemoval);
        }
        r
    }

    fn needs(&self, action: &Action) -> Vec<Need> {
        match action {
            Action::Set(r) => {
                let mut needs = vec![Need::Done(StepId::IdentityPool), Need::Done(StepId::Role)];
                match r.guest {
                    Guest::Set(_) => needs.push(Need::Done(StepId::GuestRole)),
                    // Off the pool last: until then the pool names the guest role, which is
                    // how the next apply finds a removal that stopped halfway.
                    Guest::Remove(_) => {
                        needs.push(Need::After(StepId::GuestRole));
                        needs.push(Need::After(StepId::GuestPolicy));
                    }
                    Guest::Keep => {}
                }
                // A group's rule once its role and policy are there; a rule that goes, after
                // its role and policy (the mapping is how a removal that stopped is found).
                if r.mappings.values().any(Option::is_some) {
                    needs.push(Need::Done(StepId::GroupRole));
                    needs.push(Need::Done(StepId::GroupPolicy));
                } else if !r.mappings.is_empty() {
                    needs.push(Need::After(StepId::GroupRole));
                    needs.push(Need::After(StepId::GroupPolicy));
                }
                needs
            }
            Action::WithPoolRemoval => vec![Need::Done(StepId::IdentityPool)],
        }
    }

    async fn apply(&self, run: &Run<'_>, action: &Action) -> Result<Vec<Done>> {
        let Action::Set(set) = action else {
            return Ok(vec![Done::Removed("removed with the identity pool".into())]);
        };
        let ctx = run.ctx;
        let pool_id = identity_pool::id(run)
            .ok_or_else(|| anyhow!("internal: the pool's roles need the identity pool's id"))?;
        let role_arn = role::arn(run);
        let what = match (&set.guest, set.mappings.is_empty()) {
            (Guest::Keep, true) => "the authenticated role",
            (Guest::Keep, false) => "the role mappings",
            _ => "the roles",
        };
        let mut role_mappings = set.keep.role_mappings.clone().unwrap_or_default();
        for (provider, to) in &set.mappings {
            match to {
                Some(m) => role_mappings.insert(provider.clone(), mappings::to_sdk(m)?),
                None => role_mappings.remove(provider),
            };
        }
        // SetIdentityPoolRoles replaces them all: none is sent as none.
        let role_mappings = (!role_mappings.is_empty()).then_some(role_mappings);
        ctx.progress.start(STEP, &format!("setting {what} of {pool_id}"));
        let mut roles = set.keep.roles.clone();
        roles.insert("authenticated".into(), role_arn.clone());
        let guest_arn = run
            .o
            .get::<guest::GuestRole>()
            .map_or_else(|| ctx.desired.guest_role_arn(&ctx.account), |r| r.arn.clone());
        match &set.guest {
            Guest::Keep => {}
            Guest::Set(_) => {
                roles.insert("unauthenticated".into(), guest_arn.clone());
            }
            Guest::Remove(_) => {
                roles.remove("unauthenticated");
            }
        }
        // The pool or the roles may have been created a moment ago.
        crate::aws::eventually(&format!("setting the roles of identity pool {pool_id}"), || {
            ctx.aws
                .identity
                .set_identity_pool_roles()
                .identity_pool_id(&pool_id)
                .set_roles(Some(roles.clone()))
                .set_role_mappings(role_mappings.clone())
                .send()
        })
        .await?;
        let mut done = Vec::new();
        if set.authenticated {
            done.push(Done::Updated(format!("authenticated role set to {role_arn}")));
        }
        match &set.guest {
            Guest::Keep => {}
            Guest::Set(_) => {
                done.push(Done::Updated(format!("unauthenticated role set to {guest_arn}")))
            }
            Guest::Remove(name) => done.push(Done::Removed(format!(
                "guest role {name} is no longer the pool's unauthenticated role"
            ))),
        }
        for (provider, to) in &set.mappings {
            let client = provider.rsplit(':').next().unwrap_or(provider);
            done.push(match to {
                Some(_) => Done::Updated(format!("role mapping of app client {client} set")),
                None => Done::Removed(format!("role mapping of app client {client} removed")),
            });
        }
        Ok(done)
    }

    fn export(&self, _d: &Desired) -> Vec<Resource> {
        vec![Resource::PoolRoles]
    }
}

mod mappings;
#[cfg(test)]
mod tests;
