//! The `trust-policy` step: trust policy convergence. The role's trust policy must let exactly this identity
//! pool's authenticated users assume it (`aud` = pool id, `amr` = authenticated, principal
//! `cognito-identity.amazonaws.com`, action `sts:AssumeRoleWithWebIdentity`). A role made in the
//! console, or a pool that was recreated, leaves a trust policy that does not match: the cause of
//! `InvalidIdentityPoolConfigurationException` at sign-in.

use std::fmt;

use anyhow::{anyhow, Result};

use std::any::TypeId;

use super::observe::{read, Look, Observe, Scope};
use super::{identity_pool, principal_tags, role, Diff, Need, Run, Step, View};
use crate::config::Desired;
use crate::diagnose;
use crate::plan::{Done, Note, State, StepId};
use crate::policy_doc;

const STEP: StepId = StepId::TrustPolicy;

/// Observed with the role.
pub struct Trust;

/// Shown as the desired `aud` while the identity pool does not exist yet.
pub const NEW_POOL_ID: &str = "<id of the identity pool to be created>";

/// What `apply` and `teardown` do to the trust policy.
#[derive(Debug, Clone, PartialEq, Eq, strum::IntoStaticStr, strum::VariantNames)]
#[strum(serialize_all = "kebab-case")]
pub enum Action {
    /// The role is being created with it: nothing to write (unless the create found a role
    /// made meanwhile, whose trust policy is then compared).
    WithRole,
    /// UpdateAssumeRolePolicy on the role (its name).
    Rewrite(String),
    /// The same, dropping `sts:TagSession`: only once the pool no longer passes principal tags,
    /// or sign-in fails in between.
    RewriteAfterUntag(String),
    /// Teardown: it goes with the role.
    WithRoleRemoval,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::WithRole => f.write_str("set with the role's creation"),
            Action::Rewrite(role) => write!(f, "rewrite the trust policy of role {role}"),
            Action::RewriteAfterUntag(role) => write!(
                f,
                "rewrite the trust policy of role {role} (after the principal tag map is removed)"
            ),
            Action::WithRoleRemoval => f.write_str("remove with the role"),
        }
    }
}

/// The trust policy the stack's role must have for `pool_id`: with `sts:TagSession` when the
/// pool passes principal tags (isolation by the user pool sub), or Cognito refuses credentials.
pub fn desired(d: &Desired, pool_id: &str) -> serde_json::Value {
    policy_doc::trust_policy_tagging(
        pool_id.into(),
        &d.user_pool.provider_name(),
        d.tags_sessions(),
    )
}

fn pool_id(run: &Run<'_>) -> Result<String> {
    identity_pool::id(run)
        .ok_or_else(|| anyhow!("internal: the trust policy needs the identity pool's id"))
}

async fn rewrite(run: &Run<'_>) -> Result<Vec<Done>> {
    let ctx = run.ctx;
    let pool_id = pool_id(run)?;
    let desired = desired(&ctx.desired, &pool_id);
    role::write_trust(ctx, STEP, &ctx.desired.role_name, &desired).await?;
    Ok(vec![Done::Updated(format!("trust policy now allows only identity pool {pool_id}"))])
}

/// The trust step has no read of its own: it compares the role's trust policy.
impl Observe for Trust {
    type Live = ();
    fn reads(&self, _d: &Desired, _scope: Scope) -> Vec<TypeId> {
        vec![read::<role::Role>()]
    }
    async fn observe(&self, _look: &Look<'_>) -> Result<Option<()>> {
        Ok(None)
    }
}

impl Step for Trust {
    type Action = Action;
    const ID: StepId = STEP;

    fn diff(&self, v: &View) -> Diff<Action> {
        let (name, pool_id) = (&v.d.role_name, v.pool_id());
        let desired = desired(v.d, pool_id.unwrap_or(NEW_POOL_ID));
        let Some(live) = v.o.get::<role::Role>() else {
            return Diff::new(STEP, name, State::Missing).act(Action::WithRole);
        };
        let mut r =
            Diff::new(STEP, name, State::InSync).changed(policy_doc::diff(&live.trust, &desired));
        // Name each hand-made mistake, not only the raw diff.
        let tagged = principal_tags::live(v).is_some();
        r.notes.extend(
            diagnose::trust_policy(&live.trust, pool_id, &v.d.user_pool.provider_name())
                .into_iter()
                .chain(diagnose::tag_session(&live.trust, tagged))
                .map(Note::from),
        );
        if !r.changes.is_empty() {
            // While the pool still passes tags, the trust policy keeps allowing them.
            r.actions.push(match tagged && !v.d.tags_sessions() {
                true => Action::RewriteAfterUntag(name.clone()),
                false => Action::Rewrite(name.clone()),
            });
        }
        r
    }

    fn removal(&self, v: &View) -> Diff<Action> {
        let r = role::Role.removal(v);
        let mut t = Diff::new(STEP, &v.d.role_name, r.state);
        if r.actions.iter().any(|a| matches!(a, role::Action::Delete(_))) {
            t.actions.push(Action::WithRoleRemoval);
        }
        t
    }

    fn needs(&self, action: &Action) -> Vec<Need> {
        match action {
            Action::WithRole | Action::Rewrite(_) => {
                vec![Need::Done(StepId::IdentityPool), Need::Done(StepId::Role)]
            }
            Action::RewriteAfterUntag(_) => vec![
                Need::Done(StepId::IdentityPool),
                Need::Done(StepId::Role),
                Need::Done(StepId::PrincipalTags),
            ],
            Action::WithRoleRemoval => vec![Need::Done(StepId::Role)],
        }
    }

    fn fixes_findings(&self, action: &Action) -> bool {
        matches!(action, Action::Rewrite(_))
    }

    async fn apply(&self, run: &Run<'_>, action: &Action) -> Result<Vec<Done>> {
        match action {
            Action::WithRoleRemoval => Ok(vec![Done::Removed("removed with the role".into())]),
            Action::Rewrite(_) | Action::RewriteAfterUntag(_) => rewrite(run).await,
            Action::WithRole => match run.handed::<role::Made>() {
                Some(made) if made.created => Ok(vec![Done::Created(format!(
                    "set with the role: allows only identity pool {}",
                    pool_id(run)?
                ))]),
                // Someone else created the role meanwhile: compare the trust policy it has.
                made => {
                    let desired = desired(&run.ctx.desired, &pool_id(run)?);
                    let found = made.and_then(|m| m.found);
                    if found.is_some_and(|r| policy_doc::equivalent(&r.trust, &desired)) {
                        Ok(vec![])
                    } else {
                        rewrite(run).await
                    }
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::steps::identity_pool::Lookup;
    use crate::steps::test_support::PROVIDER;
    use crate::steps::test_support::{self, desired, observed, pool, view, Expect};
    use serde_json::json;

    const POOL: &str = "us-east-1:11111111-2222-3333-4444-555555555555";

    fn role_trusting(doc: serde_json::Value, tags: &[(&str, &str)]) -> role::Live {
        test_support::role(&desired(""), doc, tags)
    }

    #[test]
    fn diff_cases() {
        let d = desired("");
        let ours = [("setup:stack", "demo")];
        let right = policy_doc::trust_policy(POOL, PROVIDER);
        let mut wrong_action = right.clone();
        wrong_action["Statement"][0]["Action"] = json!("sts:AssumeRole");
        let rewrite = vec![Action::Rewrite(d.role_name.clone())];
        let aud = "Statement.Condition.StringEquals.cognito-identity.amazonaws.com:aud";
        let other_pool = policy_doc::trust_policy("us-east-1:other", PROVIDER);
        let cases = vec![
            ("no role yet", None, None, Expect::new(State::Missing, vec![Action::WithRole])),
            (
                "in sync",
                Some(role_trusting(right.clone(), &ours)),
                Some(POOL),
                Expect::new(State::InSync, vec![]).fields(&[]),
            ),
            (
                "another pool",
                Some(role_trusting(other_pool.clone(), &ours)),
                Some(POOL),
                Expect::new(State::Drifted, rewrite.clone()).fields(&[aud]),
            ),
            (
                "the pool is to be created",
                Some(role_trusting(right.clone(), &ours)),
                None,
                Expect::new(State::Drifted, rewrite.clone()).fields(&[aud]),
            ),
            (
                "wrong action",
                Some(role_trusting(wrong_action, &ours)),
                Some(POOL),
                Expect::new(State::Drifted, rewrite.clone()).fields(&["Statement.Action"]),
            ),
            (
                "a role made by hand: rewritten with --adopt (the role step blocks without)",
                Some(role_trusting(other_pool, &[])),
                Some(POOL),
                Expect::new(State::Drifted, rewrite).fields(&[aud]),
            ),
        ];
        for (what, live, pool_id, expect) in cases {
            let mut o = observed();
            o.set::<role::Role>(live);
            if let Some(id) = pool_id {
                o.set::<identity_pool::IdentityPool>(Some(Lookup::Owned(Box::new(pool(
                    &d, id, &ours,
                )))));
            }
            expect.check(what, &Trust.diff(&view(&d, &o)));
        }
    }

    /// Isolation by the user pool sub: the trust policy also allows `sts:TagSession`; one that
    /// lacks it while the pool passes tags is named. Turning tags off drops `sts:TagSession` only
    /// after the map is gone.
    #[test]
    fn tag_session_follows_the_principal_tag_map() {
        use crate::steps::principal_tags::Live as TagMap;
        let ours = [("setup:stack", "demo")];
        let plain = policy_doc::trust_policy(POOL, PROVIDER);
        let tagging = policy_doc::trust_policy_tagging(POOL.into(), PROVIDER, true);
        let by_sub = desired("[policy]\nper_user_isolation = true\n");
        let off = desired("");
        let map = TagMap { use_defaults: false, tags: [("sub".into(), "sub".into())].into() };
        let actions = "Statement.Action";
        for (what, d, live, mapped, expect, finding) in [
            (
                "by sub, in sync",
                &by_sub,
                tagging.clone(),
                Some(map.clone()),
                Expect::new(State::InSync, vec![]).fields(&[]),
                false,
            ),
            (
                "by sub, no TagSession yet (no map yet either)",
                &by_sub,
                plain.clone(),
                None,
                Expect::new(State::Drifted, vec![Action::Rewrite(by_sub.role_name.clone())])
                    .fields(&[actions]),
                false,
            ),
            (
                "by sub, TagSession removed by hand: named",
                &by_sub,
                plain.clone(),
                Some(map.clone()),
                Expect::new(State::Drifted, vec![Action::Rewrite(by_sub.role_name.clone())])
                    .fields(&[actions]),
                true,
            ),
            (
                "tags off: TagSession goes after the map",
                &off,
                tagging.clone(),
                Some(map.clone()),
                Expect::new(State::Drifted, vec![Action::RewriteAfterUntag(off.role_name.clone())])
                    .fields(&[actions]),
                false,
            ),
        ] {
            let mut o = observed();
            o.set::<role::Role>(Some(role_trusting(live, &ours)));
            o.set::<identity_pool::IdentityPool>(Some(Lookup::Owned(Box::new(pool(
                d, POOL, &ours,
            )))));
            o.set::<principal_tags::PrincipalTags>(mapped);
            let r = Trust.diff(&view(d, &o));
            expect.check(what, &r);
            let named = r
                .notes
                .iter()
                .any(|n| n.is_finding() && n.text.contains("does not allow \"sts:TagSession\""));
            assert_eq!(named, finding, "{what}: {:?}", r.notes);
        }
        assert_eq!(
            Trust.needs(&Action::RewriteAfterUntag("r".into())),
            [
                Need::Done(StepId::IdentityPool),
                Need::Done(StepId::Role),
                Need::Done(StepId::PrincipalTags)
            ]
        );
    }
}
