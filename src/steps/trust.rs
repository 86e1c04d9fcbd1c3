//! Step 5: trust policy convergence. The role's trust policy must let exactly this identity
//! pool's authenticated users assume it (`aud` = pool id, `amr` = authenticated, principal
//! `cognito-identity.amazonaws.com`, action `sts:AssumeRoleWithWebIdentity`). A role made in the
//! console, or a pool that was recreated, leaves a trust policy that does not match: the cause of
//! `InvalidIdentityPoolConfigurationException` at sign-in.

use anyhow::Result;

use super::{role, Ctx};
use crate::config::Desired;
use crate::diagnose;
use crate::plan::{State, StepId, StepReport};
use crate::policy_doc;

const STEP: StepId = StepId::TrustPolicy;

/// Shown as the desired `aud` while the identity pool does not exist yet.
pub const NEW_POOL_ID: &str = "<id of the identity pool to be created>";

pub fn diff(d: &Desired, live: Option<&role::Live>, pool_id: Option<&str>) -> StepReport {
    let name = &d.role_name;
    let desired = policy_doc::trust_policy(pool_id.unwrap_or(NEW_POOL_ID));
    let Some(live) = live else {
        let mut r = StepReport::new(STEP, name, State::Missing);
        r.actions.push("set with the role's creation".to_string());
        return r;
    };
    let mut r = StepReport::new(STEP, name, State::InSync)
        .with_changes(policy_doc::diff(&live.trust, &desired));
    // Name each hand-made mistake, not only the raw diff.
    r.notes.extend(
        diagnose::trust_policy(&live.trust, pool_id)
            .iter()
            .map(ToString::to_string),
    );
    if !r.changes.is_empty() {
        r.actions
            .push(format!("rewrite the trust policy of role {name}"));
    }
    r
}

/// Rewrites the trust policy when it differs from the one for `pool_id`.
pub async fn apply(
    ctx: &Ctx,
    live: Option<&role::Live>,
    role_created: bool,
    pool_id: &str,
) -> Result<Vec<String>> {
    let name = &ctx.desired.role_name;
    let desired = policy_doc::trust_policy(pool_id);
    if role_created {
        return Ok(vec![format!(
            "set with the role: allows only identity pool {pool_id}"
        )]);
    }
    let needs_update = match live {
        None => true,
        Some(l) => !policy_doc::equivalent(&l.trust, &desired),
    };
    if !needs_update {
        return Ok(vec![]);
    }
    ctx.progress
        .start(STEP, &format!("rewriting the trust policy of role {name}"));
    crate::aws::eventually(&format!("updating the trust policy of role {name}"), || {
        ctx.aws
            .iam
            .update_assume_role_policy()
            .role_name(name)
            .policy_document(policy_doc::to_json(&desired))
            .send()
    })
    .await?;
    Ok(vec![format!(
        "trust policy now allows only identity pool {pool_id}"
    )])
}
