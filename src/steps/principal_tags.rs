//! The identity pool's principal tag map ("attributes for access control") for the user pool's
//! provider. With per-user isolation by the user pool sub (`isolation_key = "user-pool-sub"`,
//! the default), the pool passes the ID token's claim `sub` into the session as the principal
//! tag `sub`, and the access policy's `${aws:PrincipalTag/sub}` keys each user's items by it:
//! the same `userId = sub` a backend writes. The role's trust policy must then allow
//! `sts:TagSession` too (the trust step writes it), or Cognito refuses credentials.
//!
//! Order: a map is set only after the trust policy allows tagging, and a map is removed before
//! the trust policy stops allowing it, so that sign-in never breaks in between.

use std::collections::BTreeMap;
use std::fmt;

use anyhow::{anyhow, Result};
use serde_json::Value;

use std::any::TypeId;

use super::observe::{read, Look, Observe, Scope};
use super::{identity_pool, Diff, Need, Run, Step, View};
use crate::aws::{Clients, Found};
use crate::config::Desired;
use crate::plan::{Change, Done, State, StepId};
use crate::resource::Resource;

const STEP: StepId = StepId::PrincipalTags;

/// Observed with the identity pool; removed with it.
pub struct PrincipalTags;

/// The pool's map for one provider: tag → claim (or AWS's default map).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Live {
    pub use_defaults: bool,
    pub tags: BTreeMap<String, String>,
}

impl Live {
    /// Whether Cognito tags sessions of this provider at all.
    pub fn active(&self) -> bool {
        self.use_defaults || !self.tags.is_empty()
    }
}

/// The map of `provider` on the pool `pool_id` (`None`: no map).
pub async fn observe(aws: &Clients, pool_id: &str, provider: &str) -> Result<Option<Live>> {
    let out = aws
        .identity
        .get_principal_tag_attribute_map()
        .identity_pool_id(pool_id)
        .identity_provider_name(provider)
        .send()
        .await
        .found(format!("reading the principal tag map of identity pool {pool_id}"))?;
    Ok(out
        .map(|o| Live {
            use_defaults: o.use_defaults().unwrap_or(false),
            tags: o.principal_tags().cloned().unwrap_or_default().into_iter().collect(),
        })
        .filter(Live::active))
}

/// The active map of the stack's pool, as observed (none while the pool does not exist).
pub fn live<'a>(v: &View<'a>) -> Option<&'a Live> {
    v.pool_id().and(v.o.get::<PrincipalTags>()).filter(|l| l.active())
}

/// The tags the stack's pool passes for the user pool provider, as observed: its map, or AWS's
/// default map for a user pool (`username` ← `sub`, `client` ← `aud`).
pub fn mapped(v: &View) -> BTreeMap<String, String> {
    let Some(l) = live(v) else {
        return BTreeMap::new();
    };
    let mut tags = l.tags.clone();
    if l.use_defaults {
        tags.extend([("username", "sub"), ("client", "aud")].map(|(t, c)| (t.into(), c.into())));
    }
    tags
}

/// What `apply` and `teardown` do to the map.
#[derive(Debug, Clone, PartialEq, Eq, strum::IntoStaticStr, strum::VariantNames)]
#[strum(serialize_all = "kebab-case")]
pub enum Action {
    /// Set this map (tag → claim) for the user pool provider.
    Set(BTreeMap<String, String>),
    /// Remove the map: nothing in the config reads principal tags.
    Clear,
    /// Teardown: it goes with the identity pool.
    WithPoolRemoval,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Set(tags) => {
                let pairs: Vec<String> =
                    tags.iter().map(|(tag, claim)| format!("claim {claim} to tag {tag}")).collect();
                write!(
                    f,
                    "map the user pool's {} (principal tags on each session, set once the trust policy allows sts:TagSession)",
                    pairs.join(", ")
                )
            }
            Action::Clear => f.write_str(
                "remove the principal tag map (nothing in the config reads principal tags)",
            ),
            Action::WithPoolRemoval => f.write_str("remove with the identity pool"),
        }
    }
}

/// How the live map differs from the desired one (`principal_tags.<tag>`: the claim).
fn changes(live: Option<&Live>, desired: Option<&BTreeMap<String, String>>) -> Vec<Change> {
    let empty = BTreeMap::new();
    let (live_tags, want) = (live.map_or(&empty, |l| &l.tags), desired.unwrap_or(&empty));
    let mut out = Vec::new();
    if live.is_some_and(|l| l.use_defaults) {
        out.push(Change::new("principal_tags.use_defaults", true, false));
    }
    let mut keys: Vec<&String> = live_tags.keys().chain(want.keys()).collect();
    keys.sort();
    keys.dedup();
    for k in keys {
        let (l, d) = (live_tags.get(k), want.get(k));
        if l != d {
            let value = |v: Option<&String>| v.map(|c| Value::from(c.as_str())).unwrap_or_default();
            out.push(Change::new(format!("principal_tags.{k}"), value(l), value(d)));
        }
    }
    out
}

/// The pool's map for the user pool provider, read with the pool (not for teardown).
impl Observe for PrincipalTags {
    type Live = Live;
    fn reads(&self, _d: &Desired, _scope: Scope) -> Vec<TypeId> {
        vec![read::<identity_pool::IdentityPool>()]
    }
    async fn observe(&self, look: &Look<'_>) -> Result<Option<Live>> {
        let Some(id) = identity_pool::settings_of(look) else { return Ok(None) };
        observe(look.aws, &id, &look.d.user_pool.provider_name()).await
    }
}

impl Step for PrincipalTags {
    type Action = Action;
    const ID: StepId = STEP;

    /// With isolation by the user pool sub, or a map on the stack's pool that nothing asks for.
    fn applies(&self, v: &View) -> bool {
        v.d.principal_tags().is_some() || live(v).is_some()
    }

    fn diff(&self, v: &View) -> Diff<Action> {
        let (desired, live) = (v.d.principal_tags(), live(v));
        let resource = v.d.user_pool.provider_name();
        let changes = changes(live, desired.as_ref());
        if changes.is_empty() {
            return Diff::new(STEP, resource, State::InSync);
        }
        let state = if live.is_none() { State::Missing } else { State::Drifted };
        let action = match desired {
            Some(tags) => Action::Set(tags),
            None => Action::Clear,
        };
        let mut r = Diff::new(STEP, resource, state).act(action);
        r.changes = changes;
        r
    }

    fn removal(&self, v: &View) -> Diff<Action> {
        let pool = identity_pool::IdentityPool.removal(v);
        let mut r = Diff::new(STEP, v.d.user_pool.provider_name(), pool.state);
        if pool.actions.iter().any(|a| matches!(a, identity_pool::Action::Delete(_))) {
            r.actions.push(Action::WithPoolRemoval);
        }
        r
    }

    fn needs(&self, action: &Action) -> Vec<Need> {
        match action {
            // Tags only once the trust policy allows tagging sessions.
            Action::Set(_) => vec![
                Need::Done(StepId::IdentityPool),
                Need::Done(StepId::TrustPolicy),
                Need::Done(StepId::GroupRole),
            ],
            Action::Clear | Action::WithPoolRemoval => vec![Need::Done(StepId::IdentityPool)],
        }
    }

    async fn apply(&self, run: &Run<'_>, action: &Action) -> Result<Vec<Done>> {
        let (ctx, provider) = (run.ctx, run.ctx.desired.user_pool.provider_name());
        let tags = match action {
            Action::WithPoolRemoval => {
                return Ok(vec![Done::Removed("removed with the identity pool".into())])
            }
            Action::Set(tags) => tags.clone(),
            Action::Clear => BTreeMap::new(),
        };
        let pool_id = identity_pool::id(run).ok_or_else(|| {
            anyhow!("internal: the principal tag map needs the identity pool's id")
        })?;
        let what = match action {
            Action::Set(_) => format!("setting the principal tag map of {pool_id}"),
            _ => format!("removing the principal tag map of {pool_id}"),
        };
        ctx.progress.start(STEP, &what);
        crate::aws::eventually(&what, || {
            ctx.aws
                .identity
                .set_principal_tag_attribute_map()
                .identity_pool_id(&pool_id)
                .identity_provider_name(&provider)
                .use_defaults(false)
                .set_principal_tags(Some(tags.clone().into_iter().collect()))
                .send()
        })
        .await?;
        Ok(vec![match action {
            Action::Set(_) => Done::Updated(format!(
                "sessions of {provider} carry principal tags {}",
                tags.keys().cloned().collect::<Vec<_>>().join(", ")
            )),
            _ => Done::Removed(format!("principal tag map of {provider} removed")),
        }])
    }

    fn export(&self, d: &Desired) -> Vec<Resource> {
        match d.principal_tags() {
            Some(_) => vec![Resource::PrincipalTags],
            None => vec![],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::steps::identity_pool::Lookup;
    use crate::steps::test_support::{desired, observed, pool, view, Expect};

    const POOL: &str = "us-east-1:1111";
    const SUB: &str = "[policy]\nper_user_isolation = true\n";

    fn live(use_defaults: bool, pairs: &[(&str, &str)]) -> Live {
        let tags = pairs.iter().map(|(t, c)| (t.to_string(), c.to_string())).collect();
        Live { use_defaults, tags }
    }

    fn sub_map() -> BTreeMap<String, String> {
        BTreeMap::from([("sub".to_string(), "sub".to_string())])
    }

    #[test]
    fn diff_cases() {
        let by_sub = desired(SUB);
        let by_id = desired(&format!("{SUB}isolation_key = \"identity-id\"\n"));
        let off = desired("");
        let set = || vec![Action::Set(sub_map())];
        for (what, d, pool_exists, map, expect) in [
            ("a new pool", &by_sub, false, None, Expect::new(State::Missing, set())),
            ("no map yet", &by_sub, true, None, Expect::new(State::Missing, set())),
            (
                "in sync",
                &by_sub,
                true,
                Some(live(false, &[("sub", "sub")])),
                Expect::new(State::InSync, vec![]).fields(&[]),
            ),
            (
                "removed by hand (inactive)",
                &by_sub,
                true,
                Some(live(false, &[])),
                Expect::new(State::Missing, set()).fields(&["principal_tags.sub"]),
            ),
            (
                "another claim",
                &by_sub,
                true,
                Some(live(false, &[("sub", "email")])),
                Expect::new(State::Drifted, set()).fields(&["principal_tags.sub"]),
            ),
            (
                "AWS's defaults instead",
                &by_sub,
                true,
                Some(live(true, &[])),
                Expect::new(State::Drifted, set())
                    .fields(&["principal_tags.use_defaults", "principal_tags.sub"]),
            ),
            (
                "an extra tag",
                &by_sub,
                true,
                Some(live(false, &[("sub", "sub"), ("team", "custom:team")])),
                Expect::new(State::Drifted, set()).fields(&["principal_tags.team"]),
            ),
            (
                "identity-id isolation: a map left is removed",
                &by_id,
                true,
                Some(live(false, &[("sub", "sub")])),
                Expect::new(State::Drifted, vec![Action::Clear]).fields(&["principal_tags.sub"]),
            ),
            (
                "isolation off: a hand-made map is removed",
                &off,
                true,
                Some(live(true, &[])),
                Expect::new(State::Drifted, vec![Action::Clear])
                    .fields(&["principal_tags.use_defaults"]),
            ),
        ] {
            let mut o = observed();
            if pool_exists {
                o.set::<identity_pool::IdentityPool>(Some(Lookup::Owned(Box::new(pool(
                    d,
                    POOL,
                    &[("setup:stack", "demo")],
                )))));
            }
            o.set::<PrincipalTags>(map);
            let v = view(d, &o);
            assert!(PrincipalTags.applies(&v), "{what}");
            expect.check(what, &PrincipalTags.diff(&v));
        }
        // Nothing asked, nothing there: the step is not part of the stack.
        for d in [&by_id, &off] {
            let mut o = observed();
            o.set::<identity_pool::IdentityPool>(Some(Lookup::Owned(Box::new(pool(
                d,
                POOL,
                &[("setup:stack", "demo")],
            )))));
            o.set::<PrincipalTags>(Some(live(false, &[])));
            assert!(!PrincipalTags.applies(&view(d, &o)));
        }
    }

    /// A map is set after the trust policy allows tagging, and removed without waiting for it.
    #[test]
    fn the_map_waits_for_the_trust_policy_and_says_what_it_passes() {
        let set = Action::Set(sub_map());
        assert_eq!(
            PrincipalTags.needs(&set),
            [
                Need::Done(StepId::IdentityPool),
                Need::Done(StepId::TrustPolicy),
                Need::Done(StepId::GroupRole)
            ]
        );
        assert_eq!(PrincipalTags.needs(&Action::Clear), [Need::Done(StepId::IdentityPool)]);
        assert_eq!(
            set.to_string(),
            "map the user pool's claim sub to tag sub (principal tags on each session, set once the trust policy allows sts:TagSession)"
        );
    }
}
