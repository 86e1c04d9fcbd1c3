//! The identity pool's diff and removal, case by case.

use aws_sdk_cognitoidentity::operation::describe_identity_pool::DescribeIdentityPoolOutput;
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
    o.set::<crate::steps::identity_pool::IdentityPool>(Some(found));
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
    let update = |fields: &[&str]| Action::Update {
        id: ID.into(),
        fields: fields.iter().map(|f| f.to_string()).collect(),
    };
    let cases = vec![
        (
            "missing",
            Lookup::None,
            Expect::new(
                State::Missing,
                vec![Action::Create {
                    name: d.identity_pool_name.clone(),
                    user_pool: "us-east-1_abc123".into(),
                    clients: 1,
                }],
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
fn providers_the_config_does_not_name_are_drift_with_security_findings() {
    let d = desired("[identity_pool]\nallow_unauthenticated = true\n");
    let mut p = pool(ID, &ours());
    p.allow_unauthenticated = true;
    let other = "cognito-idp.us-east-1.amazonaws.com/us-east-1_Other";
    p.providers.push(provider(other, "x"));
    p.raw = DescribeIdentityPoolOutput::builder()
        .identity_pool_id(ID)
        .identity_pool_name(&d.identity_pool_name)
        .allow_unauthenticated_identities(true)
        .supported_login_providers("accounts.google.com", "app.apps.googleusercontent.com")
        .developer_provider_name("login.example")
        .open_id_connect_provider_arns("arn:aws:iam::123456789012:oidc-provider/idp.example")
        .saml_provider_arns("arn:aws:iam::123456789012:saml-provider/corp")
        .allow_classic_flow(true)
        .build()
        .unwrap();
    let r = plan(&d, Lookup::Owned(Box::new(p))).0;
    assert_eq!(r.state, State::Drifted);
    let fields: Vec<&str> = r.changes.iter().map(|c| c.field.as_str()).collect();
    let other_field = format!("providers.{other}");
    assert_eq!(
        fields,
        [
            other_field.as_str(),
            "supported_login_providers.accounts.google.com",
            "open_id_connect_provider_arns",
            "saml_provider_arns",
            "allow_classic_flow"
        ]
    );
    assert_eq!(r.actions.len(), 1, "{:?}", r.actions);
    assert!(matches!(&r.actions[0], Action::Update { .. }));
    let gets = "signed-in identities of this pool (amr = authenticated), kept from the table role only by the role's trust policy naming the configured user pool (a role or role mapping added by hand would not)";
    assert_eq!(
        r.notes,
        [
            format!("security: identity pool {ID} also trusts user pool provider {other}, which the config does not name: its users get {gets}; apply removes it"),
            format!("security: identity pool {ID} accepts sign-in provider accounts.google.com, which the config does not name: anyone with an account there gets {gets}; apply removes it"),
            format!("security: identity pool {ID} accepts OpenID Connect provider arn:aws:iam::123456789012:oidc-provider/idp.example, which the config does not name: its users get {gets}; apply removes it"),
            format!("security: identity pool {ID} accepts SAML provider arn:aws:iam::123456789012:saml-provider/corp, which the config does not name: its users get {gets}; apply removes it"),
            format!("security: identity pool {ID} allows the basic (classic) flow: an identity's OpenID token goes to STS directly, for any role that trusts the pool, without the pool's choice of role; apply turns it off"),
            format!("security: identity pool {ID} has developer provider \"login.example\", which the config does not name: whoever may call GetOpenIdTokenForDeveloperIdentity on it mints {gets}; Cognito cannot remove a developer provider name once set, so apply leaves it: make a new pool to be rid of it"),
        ]
    );
    let two = plan(&d, Lookup::NotOwned(vec![pool(ID, &[]), pool("us-east-1:2222", &[])])).0;
    assert_eq!(two.resource, format!("{} ({ID}, us-east-1:2222)", d.identity_pool_name));
    assert!(two.notes[0].text.contains("--adopt cannot choose one"), "{:?}", two.notes);
}

#[test]
fn the_server_side_token_check_follows_the_config() {
    let on = desired("");
    assert!(on.server_side_token_check, "on by default");
    let off = desired("[identity_pool]\nserver_side_token_check = false\n");
    let field = format!("providers.{}.server_side_token_check", on.user_pool.provider_name());
    let r = plan(&off, Lookup::Owned(Box::new(pool(ID, &ours())))).0;
    assert_eq!(r.changes, [Change::new(field.as_str(), true, false)]);
    assert_eq!(r.actions, [Action::Update { id: ID.into(), fields: vec![field.clone()] }]);
    let r = plan(&on, Lookup::Owned(Box::new(test_support::pool(&off, ID, &ours())))).0;
    assert_eq!(r.changes, [Change::new(field.as_str(), false, true)]);
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
    let create = |clients| Action::Create {
        name: d.identity_pool_name.clone(),
        user_pool: "us-east-1_abc123".into(),
        clients,
    };
    assert_eq!(
        create(1).to_string(),
        "create identity pool demo_identities for us-east-1_abc123 (1 app client)"
    );
    assert_eq!(
        create(2).to_string(),
        "create identity pool demo_identities for us-east-1_abc123 (2 app clients)"
    );
    assert_eq!(
        Action::Update { id: ID.into(), fields: vec!["providers".into()] }.to_string(),
        format!("update identity pool {ID}")
    );
    assert_eq!(Action::Delete(ID.into()).to_string(), format!("delete identity pool {ID}"));
    assert_eq!(
        tagging(&ours(), true).to_string(),
        format!("tag identity pool demo_identities ({ID}) for this stack")
    );
}
