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
    vec![Action::Set(Roles { keep, authenticated, guest, mappings: BTreeMap::new() })]
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
        o.set::<role::Role>(Some(test_support::role(&d, Value::Null, &[("setup:stack", "demo")])));
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
type Case<'a> =
    (&'a str, &'a Desired, Option<Live>, Option<role::Live>, (State, Vec<Action>, &'a [&'a str]));

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
        o.set::<role::Role>(Some(test_support::role(d, Value::Null, &[("setup:stack", "demo")])));
        o.set::<guest::GuestRole>(guest);
        let pool_id = if what.starts_with("a new pool") { None } else { Some(POOL) };
        check(what, d, &mut o, pool_id, live, expect);
    }
}

#[test]
fn the_plan_says_what_changes_and_guests_wait_for_their_role() {
    let text = |authenticated, guest| {
        Action::Set(Roles {
            keep: Live::default(),
            authenticated,
            guest,
            mappings: BTreeMap::new(),
        })
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
