//! The backend policy's diff and removal, case by case.

use serde_json::{json, Value};

use super::*;
use crate::steps::managed::Why;
use crate::steps::own::Tagging;
use crate::steps::test_support::{self, account, desired, observed, view, Expect};
use crate::steps::Step;

const TABLE_ARN: &str = "arn:aws:dynamodb:us-east-1:123456789012:table/demo-profiles";
const OURS: &[(&str, &str)] =
    &[("setup:region", "us-east-1"), ("setup:stack", "demo"), ("team", "mobile")];

/// The backend step's diff and removal of what was observed.
fn plan(d: &Desired, backend: Option<Live>) -> (Diff<Action>, Diff<Action>) {
    let mut o = observed();
    o.set::<crate::steps::backend::Backend>(backend);
    let v = view(d, &o);
    (Backend.diff(&v), Backend.removal(&v))
}

fn with_backend() -> Desired {
    desired("[backend]\nrole = \"api\"\n")
}

fn policy(d: &Desired, document: Value, tags: &[(&str, &str)]) -> managed::Live {
    test_support::policy(d.backend_policy_arn(&account()), document, tags)
}

fn live(policy: Option<managed::Live>, attached: &[Principal]) -> Live {
    Live { principal_exists: Some(true), policy, attached: attached.to_vec(), groups: vec![] }
}

#[test]
fn diff_cases() {
    let d = with_backend();
    let b = d.backend.as_ref().unwrap();
    let good = policy_doc::backend_policy(TABLE_ARN, &b.actions);
    let api = Principal::Role("api".into());
    let old = Principal::User("old-svc".into());
    let wide = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"}]});
    let missing_principal = Live { principal_exists: Some(false), ..live(None, &[]) };
    let ours = |document: &Value, attached: &[Principal]| {
        live(Some(policy(&d, document.clone(), OURS)), attached)
    };
    let cases = vec![
        (
            "the principal does not exist",
            missing_principal,
            Expect::new(State::Missing, vec![]).blocked(),
        ),
        (
            "missing",
            live(None, &[]),
            Expect::new(
                State::Missing,
                vec![
                    Action::Create(New {
                        name: b.policy_name.clone(),
                        description: description(&d, &api),
                        document: good.clone(),
                        grants: format!("{} on {TABLE_ARN}", b.actions.join(", ")),
                    }),
                    Action::Attach(api.clone()),
                ],
            ),
        ),
        (
            "in sync",
            ours(&good, std::slice::from_ref(&api)),
            Expect::new(State::InSync, vec![]).fields(&[]),
        ),
        (
            "moved to another principal",
            ours(&good, std::slice::from_ref(&old)),
            Expect::new(
                State::Drifted,
                vec![Action::Attach(api.clone()), Action::Detach(old, Why::Moved)],
            )
            .fields(&["attached to role api", "attached to user old-svc"]),
        ),
        (
            "another document",
            ours(&wide, std::slice::from_ref(&api)),
            Expect::new(State::Drifted, vec![Action::NewVersion(good.clone())]),
        ),
        (
            "made by hand: adoptable, then converged",
            live(Some(policy(&d, wide.clone(), &[])), &[]),
            Expect::new(
                State::NotOwned,
                vec![
                    Action::Tag(Tagging {
                        kind: "policy",
                        name: b.policy_name.clone(),
                        tags: d.iam_tags(crate::steps::test_support::REGION),
                        adopt: true,
                    }),
                    Action::NewVersion(good.clone()),
                    Action::Attach(api.clone()),
                ],
            )
            .adoptable(),
        ),
    ];
    for (what, l, expect) in cases {
        expect.check(what, &plan(&d, Some(l)).0);
    }
}

#[test]
fn a_leftover_policy_is_removed_only_when_it_is_the_stacks() {
    let d = desired("");
    let name = d.backend_policy_name();
    let api = Principal::Role("api".into());
    let mut p = policy(&d, Value::Null, OURS);
    p.old_versions = Some(vec!["v1".into()]);
    let l = live(Some(p), std::slice::from_ref(&api));
    let r = plan(&d, Some(l.clone())).0;
    assert_eq!(r.state, State::Drifted);
    assert_eq!(r.changes[0].field, "[backend] section");
    assert_eq!(
        r.actions,
        [
            Action::Detach(api, Why::Removing),
            Action::DeleteVersions { policy: name.clone(), versions: vec!["v1".into()] },
            Action::Delete { policy: name, why: Some("the config has no [backend] section") },
        ]
    );
    let applies = |d: &Desired, backend: Option<Live>| {
        let mut o = observed();
        o.set::<crate::steps::backend::Backend>(backend);
        Backend.applies(&view(d, &o))
    };
    assert!(applies(&d, Some(l)));
    assert!(
        !applies(&d, Some(live(Some(policy(&d, Value::Null, &[])), &[]))),
        "someone else's policy of that name"
    );
    assert!(!applies(&d, None));
    assert!(applies(&with_backend(), None));
}

#[test]
fn removal_cases() {
    let d = with_backend();
    let name = d.backend_policy_name();
    let api = Principal::Role("api".into());
    let ours = live(Some(policy(&d, Value::Null, OURS)), std::slice::from_ref(&api));
    assert_eq!(
        plan(&d, Some(ours.clone())).1.actions,
        [
            Action::Detach(api.clone(), Why::Removing),
            Action::Delete { policy: name.clone(), why: None }
        ]
    );
    let mut grouped = ours.clone();
    grouped.groups.push("ops".into());
    assert_eq!(
        plan(&d, Some(grouped.clone())).1.actions,
        [Action::Keep(Keep::in_use(
            format!("policy {name}"),
            "still attached to group(s) ops by hand; detach it and run teardown again"
        ))]
    );
    let theirs = live(Some(policy(&d, Value::Null, &[])), &[api]);
    assert_eq!(
        plan(&d, Some(theirs.clone())).1.actions,
        [Action::Keep(Keep::not_ours(format!("policy {name}")))]
    );
    assert_eq!(plan(&d, Some(live(None, &[]))).1.state, State::Missing);
}

/// On a customer-managed table with indexes the backend policy, like the access policy, covers
/// the indexes and grants the KMS actions on the key DescribeKey found.
#[test]
fn a_customer_managed_table_with_indexes_is_in_the_backend_policy() {
    let key_arn = "arn:aws:kms:us-east-1:123456789012:key/k1";
    let d = desired(
        "[backend]\nrole = \"api\"\n\n[[table.global_secondary_indexes]]\nname = \"byEmail\"\npartition_key = { name = \"email\", type = \"S\" }\n",
    );
    let mut o = observed();
    o.set::<crate::steps::backend::Backend>(Some(live(None, &[])));
    o.set::<crate::steps::table::KmsKey>(Some(crate::steps::test_support::customer_key(
        key_arn,
        |_| (),
    )));
    let r = Backend.diff(&view(&d, &o));
    let Action::Create(new) = &r.actions[0] else { panic!("{:?}", r.actions) };
    let statements = new.document["Statement"].as_array().unwrap();
    assert_eq!(statements[0]["Resource"], json!([TABLE_ARN, format!("{TABLE_ARN}/index/*")]));
    assert_eq!(statements[1], policy_doc::kms_statement(key_arn, "us-east-1", &d.table.name));
    let actions = d.backend.as_ref().unwrap().actions.join(", ");
    assert_eq!(
        new.grants,
        format!("{actions} on {TABLE_ARN} and its indexes; kms:Decrypt, kms:GenerateDataKey on {key_arn}")
    );
}

/// What IAM shows next to the backend policy: the table, the principal and the stack.
#[test]
fn the_description_names_the_table_the_backend_and_the_stack() {
    assert_eq!(
        description(&with_backend(), &Principal::Role("api".into())),
        "Backend access to DynamoDB table demo-profiles for role api (managed by setup, stack demo)"
    );
}
