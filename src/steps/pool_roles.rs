//! The identity pool's roles: its `authenticated` role must be the stack's role
//! (`SetIdentityPoolRoles`). The unauthenticated role and role mappings are kept as they are.

use std::collections::HashMap;

use anyhow::Result;
use aws_sdk_cognitoidentity::types::RoleMapping;
use serde_json::Value;

use super::Ctx;
use crate::aws::{Clients, Found};
use crate::plan::{Change, State, StepId, StepReport};

const STEP: StepId = StepId::PoolRoles;

#[derive(Debug, Clone, Default)]
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
    let out = aws
        .identity
        .get_identity_pool_roles()
        .identity_pool_id(pool_id)
        .send()
        .await
        .found(format!("reading the roles of identity pool {pool_id}"))?;
    Ok(out.map(|o| Live {
        roles: o.roles().cloned().unwrap_or_default(),
        role_mappings: o.role_mappings().cloned(),
    }))
}

pub fn diff(pool_id: Option<&str>, live: Option<&Live>, role_arn: &str) -> StepReport {
    let resource = pool_id.unwrap_or("(new identity pool)");
    let current = live.and_then(Live::authenticated);
    if current == Some(role_arn) {
        return StepReport::new(STEP, resource, State::InSync);
    }
    let state = if current.is_none() {
        State::Missing
    } else {
        State::Drifted
    };
    let mut r = StepReport::new(STEP, resource, state);
    r.changes.push(Change::new(
        "roles.authenticated",
        current.map(Value::from).unwrap_or_default(),
        role_arn,
    ));
    r.actions
        .push("set the pool's authenticated role to the stack's role".into());
    r
}

pub async fn apply(
    ctx: &Ctx,
    live: Option<&Live>,
    pool_id: &str,
    role_arn: &str,
) -> Result<Vec<String>> {
    let live = live.cloned().unwrap_or_default();
    if live.authenticated() == Some(role_arn) {
        return Ok(vec![]);
    }
    ctx.progress.start(
        STEP,
        &format!("setting the authenticated role of {pool_id}"),
    );
    let mut roles = live.roles.clone();
    roles.insert("authenticated".into(), role_arn.to_string());
    // The pool or the role may have been created a moment ago.
    crate::aws::eventually(
        &format!("setting the roles of identity pool {pool_id}"),
        || {
            ctx.aws
                .identity
                .set_identity_pool_roles()
                .identity_pool_id(pool_id)
                .set_roles(Some(roles.clone()))
                .set_role_mappings(live.role_mappings.clone())
                .send()
        },
    )
    .await?;
    Ok(vec![format!("authenticated role set to {role_arn}")])
}
