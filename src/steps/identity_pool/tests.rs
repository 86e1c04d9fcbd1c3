//! The identity pool's diff and removal, case by case.

use aws_sdk_cognitoidentity::types::CognitoIdentityProvider;

use super::*;
use crate::steps::test_support::{self, desired, observed, view, Expect};

const ID: &str = "us-east-1:1111";

fn provider(name: &str, client: &str) -> CognitoIdentityProvider {
    CognitoIdentityProvider::builder().provider_name(name).client_id(client).build()
}

fn pool(id: &str, with_tags: &[(&str, &str)]) -> Live {
    test_support::pool(&desired(""), id, with_tags)
}

/// The pool step's diff and removal of what the lookup found.
fn plan(d: &Desired, found: Lookup) -> (Diff<Action>, Diff<Action>) {
    let mut o = observed();
    o.pool = found;
    let v = view(d, &o);
    (IdentityPool.diff(&v), IdentityPool.removal(&v))
}

fn ours() -> Vec<(&'static str, &'static str)> {
    vec![("setup:stack", "demo"), ("team", "mobile")]
}

fn tagging(tags: &[(&str, &str)], adopt: bool) -> Action {
    let d = desired("");
    let name = format!("{} ({ID})", d.identity_pool_name);
    Action::Tag(test_support::tagging("identity pool", name, tags, adopt))
}

#[test]
fn diff_cases() {
    let d = desired("");
    let provider_field = format!("providers.{}", d.user_pool.provider_name());
    let with = |tags: &[(&str, &str)], f: &dyn Fn(&mut Live)| {
        let mut p = pool(ID, tags);
        f(&mut p);
        p
    };
    let guests = with(&ours(), &|p| p.allow_unauthenticated = true);
    let other_client =
        with(&ours(), &|p| p.providers = vec![provider(&d.user_pool.provider_name(), "other")]);
    let update =
        |fields: &[&str]| Action::Update(ID.into(), fields.iter().map(|f| f.to_string()).collect());
    let cases = vec![
        (
            "missing",
            Lookup::None,
            Expect::new(
                State::Missing,
                vec![Action::Create(d.identity_pool_name.clone(), "us-east-1_abc123".into(), 1)],
            ),
        ),
        (
            "in sync",
            Lookup::Owned(Box::new(pool(ID, &ours()))),
            Expect::new(State::InSync, vec![]).fields(&[]),
        ),
        (
            "guests allowed by hand",
            Lookup::Owned(Box::new(guests)),
            Expect::new(State::Drifted, vec![update(&["allow_unauthenticated"])])
                .fields(&["allow_unauthenticated"]),
        ),
        (
            "another app client",
            Lookup::Owned(Box::new(other_client)),
            Expect::new(State::Drifted, vec![update(&[provider_field.as_str()])])
                .fields(&[provider_field.as_str()]),
        ),
        (
            "a missing tag: TagResource only",
            Lookup::Owned(Box::new(pool(ID, &[("setup:stack", "demo")]))),
            Expect::new(State::Drifted, vec![tagging(&[("team", "mobile")], false)])
                .fields(&["tags.team"]),
        ),
        (
            "one untagged pool: adoptable",
            Lookup::NotOwned(vec![with(&[], &|p| p.allow_unauthenticated = true)]),
            Expect::new(
                State::NotOwned,
                vec![tagging(&ours(), true), update(&["allow_unauthenticated"])],
            )
            .fields(&["allow_unauthenticated", "tags.setup:stack", "tags.team"])
            .adoptable(),
        ),
        (
            "another stack's pool",
            Lookup::NotOwned(vec![pool(ID, &[("setup:stack", "other")])]),
            Expect::new(State::NotOwned, vec![])
                .fields(&["tags.setup:stack", "tags.team"])
                .blocked(),
        ),
        (
            "two untagged pools: --adopt cannot choose",
            Lookup::NotOwned(vec![pool(ID, &[]), pool("us-east-1:2222", &[])]),
            Expect::new(State::NotOwned, vec![]).fields(&[]).blocked(),
        ),
    ];
    for (what, found, expect) in cases {
        expect.check(what, &plan(&d, found).0);
    }
}

#[test]
fn notes_name_what_is_left_alone() {
    let d = desired("[identity_pool]\nallow_unauthenticated = true\n");
    let mut p = pool(ID, &ours());
    p.allow_unauthenticated = true;
    p.providers.push(provider("cognito-idp.us-east-1.amazonaws.com/us-east-1_Other", "x"));
    let r = plan(&d, Lookup::Owned(Box::new(p))).0;
    assert_eq!(r.state, State::InSync, "{:?}", r.changes);
    assert_eq!(r.notes.len(), 1, "{:?}", r.notes);
    assert_eq!(
        r.notes[0],
        "also trusts provider cognito-idp.us-east-1.amazonaws.com/us-east-1_Other (not in the config; left as is)"
    );
    let two = plan(&d, Lookup::NotOwned(vec![pool(ID, &[]), pool("us-east-1:2222", &[])])).0;
    assert_eq!(two.resource, format!("{} ({ID}, us-east-1:2222)", d.identity_pool_name));
    assert!(two.notes[0].contains("--adopt cannot choose one"), "{:?}", two.notes);
}

#[test]
fn removal_deletes_only_the_stack_pool() {
    let d = desired("");
    let r = plan(&d, Lookup::Owned(Box::new(pool(ID, &ours())))).1;
    assert_eq!((r.state, r.actions), (State::InSync, vec![Action::Delete(ID.into())]));
    let r = plan(&d, Lookup::NotOwned(vec![pool(ID, &[])])).1;
    assert_eq!(r.state, State::NotOwned);
    assert_eq!(r.actions, [Action::Keep(Keep::not_ours(format!("identity pool(s) {ID}")))]);
    assert!(plan(&d, Lookup::None).1.actions.is_empty());
}

#[test]
fn the_pool_in_use_is_the_owned_one_or_the_only_untagged_one() {
    let other = pool("us-east-1:2222", &[("setup:stack", "other")]);
    let id = |found: Lookup| found.live().map(|p| p.id.clone());
    assert_eq!(id(Lookup::Owned(Box::new(pool(ID, &ours())))).as_deref(), Some(ID));
    assert_eq!(id(Lookup::NotOwned(vec![pool(ID, &[])])).as_deref(), Some(ID));
    assert_eq!(id(Lookup::NotOwned(vec![other.clone()])), None);
    assert_eq!(id(Lookup::NotOwned(vec![pool(ID, &[]), pool("us-east-1:3333", &[])])), None);
    assert_eq!(id(Lookup::None), None);
    // Several pools of that name, one of them another stack's: the refusal says whose.
    let d = desired("");
    let r = plan(&d, Lookup::NotOwned(vec![pool(ID, &[]), other])).0;
    let blocked = r.blocked.unwrap_or_default();
    assert!(blocked.contains("stack \"other\""), "{blocked}");
}

#[test]
fn plan_lines_of_the_pool() {
    let d = desired("");
    let create =
        |clients| Action::Create(d.identity_pool_name.clone(), "us-east-1_abc123".into(), clients);
    assert_eq!(
        create(1).to_string(),
        "create identity pool demo_identities for us-east-1_abc123 (1 app client)"
    );
    assert_eq!(
        create(2).to_string(),
        "create identity pool demo_identities for us-east-1_abc123 (2 app clients)"
    );
    assert_eq!(
        Action::Update(ID.into(), vec!["providers".into()]).to_string(),
        format!("update identity pool {ID}")
    );
    assert_eq!(Action::Delete(ID.into()).to_string(), format!("delete identity pool {ID}"));
    assert_eq!(
        tagging(&ours(), true).to_string(),
        format!("tag identity pool demo_identities ({ID}) for this stack")
    );
}
