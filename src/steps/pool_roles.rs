//! Step 6: the identity pool's roles. Its `authenticated` role must be the stack's role
//! (`SetIdentityPoolRoles`); the unauthenticated role and role mappings are kept as they are.

use std::collections::HashMap;
use std::fmt;

use anyhow::{anyhow, Result};
use aws_sdk_cognitoidentity::types::RoleMapping;
use serde_json::Value;

use super::{identity_pool, role, Diff, Need, Run, Step, View};
use crate::aws::{Clients, Found};
use crate::config::Desired;
use crate::export::Resource;
use crate::plan::{Change, Done, State, StepId};

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

/// What `apply` and `teardown` do to the pool's roles.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// SetIdentityPoolRoles: the stack's role as `authenticated`, with these other roles and
    /// mappings kept.
    SetAuthenticated(Live),
    /// Teardown: they go with the identity pool.
    WithPoolRemoval,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::SetAuthenticated(_) => {
                f.write_str("set the pool's authenticated role to the stack's role")
            }
            Action::WithPoolRemoval => f.write_str("remove with the identity pool"),
        }
    }
}

impl Step for PoolRoles {
    type Action = Action;
    const ID: StepId = STEP;

    fn diff(&self, v: &View) -> Diff<Action> {
        // No pool yet (it is to be created): it has no roles.
        let (pool_id, role_arn) = (v.pool_id(), v.role_arn());
        let live = v.o.pool_roles.as_ref().filter(|_| pool_id.is_some());
        let resource = pool_id.unwrap_or("(new identity pool)");
        let current = live.and_then(Live::authenticated);
        if current == Some(role_arn.as_str()) {
            return Diff::new(STEP, resource, State::InSync);
        }
        let state = if current.is_none() {
            State::Missing
        } else {
            State::Drifted
        };
        let mut r = Diff::new(STEP, resource, state)
            .act(Action::SetAuthenticated(live.cloned().unwrap_or_default()));
        r.changes.push(Change::new(
            "roles.authenticated",
            current.map(Value::from).unwrap_or_default(),
            role_arn.as_str(),
        ));
        r
    }

    fn removal(&self, v: &View) -> Diff<Action> {
        let pool = identity_pool::IdentityPool.removal(v);
        let mut r = Diff::new(STEP, pool.resource, pool.state);
        let deleted = pool
            .actions
            .iter()
            .any(|a| matches!(a, identity_pool::Action::Delete(_)));
        if deleted {
            r.actions.push(Action::WithPoolRemoval);
        }
        r
    }

    fn needs(&self, action: &Action) -> Vec<Need> {
        match action {
            Action::SetAuthenticated(_) => {
                vec![Need::Done(StepId::IdentityPool), Need::Done(StepId::Role)]
            }
            Action::WithPoolRemoval => vec![Need::Done(StepId::IdentityPool)],
        }
    }

    async fn apply(&self, run: &Run<'_>, action: &Action) -> Result<Vec<Done>> {
        let Action::SetAuthenticated(keep) = action else {
            return Ok(vec![Done::Removed("removed with the identity pool".into())]);
        };
        let ctx = run.ctx;
        let pool_id = identity_pool::id(run)
            .ok_or_else(|| anyhow!("internal: the pool's roles need the identity pool's id"))?;
        let role_arn = role::arn(run);
        ctx.progress.start(
            STEP,
            &format!("setting the authenticated role of {pool_id}"),
        );
        let mut roles = keep.roles.clone();
        roles.insert("authenticated".into(), role_arn.clone());
        // The pool or the role may have been created a moment ago.
        crate::aws::eventually(
            &format!("setting the roles of identity pool {pool_id}"),
            || {
                ctx.aws
                    .identity
                    .set_identity_pool_roles()
                    .identity_pool_id(&pool_id)
                    .set_roles(Some(roles.clone()))
                    .set_role_mappings(keep.role_mappings.clone())
                    .send()
            },
        )
        .await?;
        Ok(vec![Done::Updated(format!(
            "authenticated role set to {role_arn}"
        ))])
    }

    fn export(&self, _d: &Desired) -> Vec<Resource> {
        vec![Resource::PoolRoles]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::steps::identity_pool::Lookup;
    use crate::steps::test_support::{desired, observed, pool, view};

    const ROLE: &str = "arn:aws:iam::123456789012:role/demo-cognito-authenticated";
    const POOL: &str = "us-east-1:1111";

    fn roles(pairs: &[(&str, &str)]) -> Live {
        Live {
            roles: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            role_mappings: None,
        }
    }

    #[test]
    fn diff_cases() {
        let guest = roles(&[("unauthenticated", "arn:aws:iam::123456789012:role/guest")]);
        let mut other = guest.clone();
        other.roles.insert(
            "authenticated".into(),
            "arn:aws:iam::123456789012:role/x".into(),
        );
        let mut right = guest.clone();
        right.roles.insert("authenticated".into(), ROLE.into());
        for (what, pool_id, live, state, actions) in [
            (
                "a new pool has no roles",
                None,
                Some(right.clone()),
                State::Missing,
                vec![Action::SetAuthenticated(Live::default())],
            ),
            ("in sync", Some(POOL), Some(right), State::InSync, vec![]),
            (
                "cleared: the others are kept",
                Some(POOL),
                Some(guest.clone()),
                State::Missing,
                vec![Action::SetAuthenticated(guest)],
            ),
            (
                "another role",
                Some(POOL),
                Some(other.clone()),
                State::Drifted,
                vec![Action::SetAuthenticated(other)],
            ),
        ] {
            let d = desired("");
            let mut o = observed();
            if let Some(id) = pool_id {
                o.pool = Lookup::Owned(Box::new(pool(&d, id, &[("setup:stack", "demo")])));
            }
            o.pool_roles = live;
            let r = PoolRoles.diff(&view(&d, &o));
            assert_eq!((r.state, r.actions), (state, actions), "{what}");
            let fields: Vec<&str> = r.changes.iter().map(|c| c.field.as_str()).collect();
            let expected: &[&str] = if state == State::InSync {
                &[]
            } else {
                &["roles.authenticated"]
            };
            assert_eq!(fields, expected, "{what}");
        }
    }
}
