//! The `pool-roles` step: the identity pool's roles (`SetIdentityPoolRoles`). Its `authenticated` role must be
//! the stack's role; with guests allowed its `unauthenticated` role must be the stack's guest
//! role, and with guests off the stack's guest role is taken off the pool (another
//! unauthenticated role, set by hand, is kept). Role mappings are kept as they are.

use std::collections::HashMap;
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
        if changes.is_empty() {
            return Diff::new(STEP, resource, State::InSync);
        }
        let authenticated = current != Some(role_arn.as_str()) || dangling;
        // Missing: nothing of what is wanted is set; drifted: something else is.
        let state =
            if changes.iter().all(|c| c.live.is_null()) { State::Missing } else { State::Drifted };
        let mut r = Diff::new(STEP, resource, state).act(Action::Set(Roles {
            keep: live.cloned().unwrap_or_default(),
            authenticated,
            guest,
        }));
        r.changes = changes;
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
        let what = match set.guest {
            Guest::Keep => "the authenticated role",
            _ => "the roles",
        };
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
                .set_role_mappings(set.keep.role_mappings.clone())
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
        Ok(done)
    }

    fn export(&self, _d: &Desired) -> Vec<Resource> {
        vec![Resource::PoolRoles]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::steps::identity_pool::Lookup;
    use crate::steps::test_support::{self, desired, observed, pool, view};

    const ROLE: &str = "arn:aws:iam::123456789012:role/demo-cognito-authenticated";
    const GUEST: &str = "arn:aws:iam::123456789012:role/demo-cognito-guest";
    const POOL: &str = "us-east-1:1111";

    fn roles(pairs: &[(&str, &str)]) -> Live {
        Live {
            roles: pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            role_mappings: None,
        }
    }

    fn set(keep: Live, authenticated: bool, guest: Guest) -> Vec<Action> {
        vec![Action::Set(Roles { keep, authenticated, guest })]
    }

    fn check(
        what: &str,
        d: &Desired,
        o: &mut crate::steps::Observed,
        pool_id: Option<&str>,
        live: Option<Live>,
        expect: (State, Vec<Action>, &[&str]),
    ) {
        if let Some(id) = pool_id {
            o.set::<identity_pool::IdentityPool>(Some(Lookup::Owned(Box::new(pool(
                d,
                id,
                &[("setup:stack", "demo")],
            )))));
        }
        o.set::<PoolRoles>(live);
        let r = PoolRoles.diff(&view(d, o));
        assert_eq!((r.state, r.actions), (expect.0, expect.1), "{what}");
        let fields: Vec<&str> = r.changes.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(fields, expect.2, "{what}");
    }

    #[test]
    fn diff_cases() {
        let guest = roles(&[("unauthenticated", "arn:aws:iam::123456789012:role/guest")]);
        let mut other = guest.clone();
        other.roles.insert("authenticated".into(), "arn:aws:iam::123456789012:role/x".into());
        let mut right = guest.clone();
        right.roles.insert("authenticated".into(), ROLE.into());
        let auth: &[&str] = &["roles.authenticated"];
        for (what, pool_id, live, state, actions, fields) in [
            (
                "a new pool has no roles",
                None,
                Some(right.clone()),
                State::Missing,
                set(Live::default(), true, Guest::Keep),
                auth,
            ),
            ("in sync", Some(POOL), Some(right.clone()), State::InSync, vec![], &[][..]),
            (
                "cleared: the others are kept",
                Some(POOL),
                Some(guest.clone()),
                State::Missing,
                set(guest, true, Guest::Keep),
                auth,
            ),
            (
                "another role",
                Some(POOL),
                Some(other.clone()),
                State::Drifted,
                set(other, true, Guest::Keep),
                auth,
            ),
        ] {
            let d = desired("");
            let mut o = observed();
            o.set::<role::Role>(Some(test_support::role(
                &d,
                Value::Null,
                &[("setup:stack", "demo")],
            )));
            check(what, &d, &mut o, pool_id, live, (state, actions, fields));
        }
        // The pool names the stack's role, but the role is gone: not in sync, and apply sets
        // it again once the role step made it.
        let d = desired("");
        let gone = (State::Drifted, set(right.clone(), true, Guest::Keep), auth);
        check("the role it names is gone", &d, &mut observed(), Some(POOL), Some(right), gone);
        let r = PoolRoles.diff(&view(&d, &observed_with_pool(&d)));
        assert_eq!(
            r.changes[0].live,
            Value::from(format!("{ROLE} (no such role)")),
            "the live value says why"
        );
    }

    fn observed_with_pool(d: &Desired) -> crate::steps::Observed {
        let mut o = observed();
        o.set::<identity_pool::IdentityPool>(Some(Lookup::Owned(Box::new(pool(
            d,
            POOL,
            &[("setup:stack", "demo")],
        )))));
        o.set::<PoolRoles>(Some(roles(&[("authenticated", ROLE)])));
        o
    }

    /// (what, config, the pool's roles, the guest role, expected state, actions and fields)
    type Case<'a> = (
        &'a str,
        &'a Desired,
        Option<Live>,
        Option<role::Live>,
        (State, Vec<Action>, &'a [&'a str]),
    );

    #[test]
    fn guests_get_the_guest_role_and_lose_it_when_off() {
        let on = desired("[identity_pool]\nallow_unauthenticated = true\n");
        let off = desired("");
        let both = roles(&[("authenticated", ROLE), ("unauthenticated", GUEST)]);
        let only_auth = roles(&[("authenticated", ROLE)]);
        let by_hand = roles(&[
            ("authenticated", ROLE),
            ("unauthenticated", "arn:aws:iam::123456789012:role/hand-made"),
        ]);
        let name = || "demo-cognito-guest".to_string();
        let unauth: &[&str] = &["roles.unauthenticated"];
        let ours = on.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect::<Vec<_>>();
        let guest_role = |tags: &[(&str, &str)]| {
            let mut r = test_support::role(&on, Value::Null, tags);
            r.arn = GUEST.into();
            r
        };
        let cases: Vec<Case> = vec![
            (
                "guests on, none set",
                &on,
                Some(only_auth.clone()),
                None,
                (State::Missing, set(only_auth.clone(), false, Guest::Set(name())), unauth),
            ),
            (
                "guests on, a role set by hand is replaced",
                &on,
                Some(by_hand.clone()),
                Some(guest_role(&ours)),
                (State::Drifted, set(by_hand.clone(), false, Guest::Set(name())), unauth),
            ),
            (
                "guests on, in sync",
                &on,
                Some(both.clone()),
                Some(guest_role(&ours)),
                (State::InSync, vec![], &[]),
            ),
            (
                "guests on, the guest role it names is gone",
                &on,
                Some(both.clone()),
                None,
                (State::Drifted, set(both.clone(), false, Guest::Set(name())), unauth),
            ),
            (
                "a new pool: both roles",
                &on,
                None,
                None,
                (
                    State::Missing,
                    set(Live::default(), true, Guest::Set(name())),
                    &["roles.authenticated", "roles.unauthenticated"],
                ),
            ),
            (
                "guests off: the stack's guest role comes off the pool",
                &off,
                Some(both.clone()),
                Some(guest_role(&ours)),
                (State::Drifted, set(both.clone(), false, Guest::Remove(name())), unauth),
            ),
            (
                "guests off: a guest role of that name that is gone comes off too",
                &off,
                Some(both.clone()),
                None,
                (State::Drifted, set(both.clone(), false, Guest::Remove(name())), unauth),
            ),
            (
                "guests off: another stack's role of that name stays",
                &off,
                Some(both.clone()),
                Some(guest_role(&[("setup:stack", "other")])),
                (State::InSync, vec![], &[]),
            ),
            (
                "guests off: a role set by hand stays",
                &off,
                Some(by_hand),
                None,
                (State::InSync, vec![], &[]),
            ),
        ];
        for (what, d, live, guest, expect) in cases {
            let mut o = observed();
            o.set::<role::Role>(Some(test_support::role(
                d,
                Value::Null,
                &[("setup:stack", "demo")],
            )));
            o.set::<guest::GuestRole>(guest);
            let pool_id = if what.starts_with("a new pool") { None } else { Some(POOL) };
            check(what, d, &mut o, pool_id, live, expect);
        }
    }

    #[test]
    fn the_plan_says_what_changes_and_guests_wait_for_their_role() {
        let text = |authenticated, guest| {
            Action::Set(Roles { keep: Live::default(), authenticated, guest })
        };
        let g = || "g".to_string();
        assert_eq!(
            text(true, Guest::Keep).to_string(),
            "set the pool's authenticated role to the stack's role"
        );
        assert_eq!(
            text(true, Guest::Set(g())).to_string(),
            "set the pool's authenticated role to the stack's role; set the pool's unauthenticated role to guest role g"
        );
        assert_eq!(
            text(false, Guest::Remove(g())).to_string(),
            "remove guest role g as the pool's unauthenticated role (guests are off: identity_pool.allow_unauthenticated = false)"
        );
        assert!(PoolRoles
            .needs(&text(false, Guest::Set(g())))
            .contains(&Need::Done(StepId::GuestRole)));
        let remove = PoolRoles.needs(&text(false, Guest::Remove(g())));
        assert!(remove.contains(&Need::After(StepId::GuestRole)), "{remove:?}");
        assert!(remove.contains(&Need::After(StepId::GuestPolicy)), "{remove:?}");
        assert!(!PoolRoles
            .needs(&text(true, Guest::Keep))
            .iter()
            .any(|n| matches!(n.step(), StepId::GuestRole | StepId::GuestPolicy)));
    }
}
