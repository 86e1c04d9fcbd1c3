//! The access policy's diff and removal, case by case.

use serde_json::{json, Value};

use super::*;
use crate::steps::managed::Entities;
use crate::steps::own::Keep;
use crate::steps::test_support::{self, account, desired, observed, view, Expect};
use crate::steps::{role, Observed};

const TABLE_ARN: &str = "arn:aws:dynamodb:us-east-1:123456789012:table/demo-profiles";

fn desired_doc(d: &Desired) -> Value {
    policy_doc::access_policy(TABLE_ARN, &d.actions, d.isolation)
}

/// The access policy of a stack of the same name whose table is in `region`.
fn access_in(region: &str, d: &Desired) -> Value {
    let arn = TABLE_ARN.replace("us-east-1", region);
    policy_doc::access_policy(&arn, &d.actions, d.isolation)
}

fn policy(d: &Desired, document: Value, tags: &[(&str, &str)]) -> Live {
    test_support::policy(d.policy_arn(&account()), document, tags)
}

fn role_with(d: &Desired, attached: bool, tags: &[(&str, &str)]) -> role::Live {
    let mut r = test_support::role(d, Value::Null, tags);
    if attached {
        r.attached.push((d.policy_name.clone(), d.policy_arn(&account())));
    }
    r
}

const OURS: &[(&str, &str)] =
    &[("setup:region", "us-east-1"), ("setup:stack", "demo"), ("team", "mobile")];

#[test]
fn diff_cases() {
    let d = desired("");
    let good = desired_doc(&d);
    let wide = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"}]});
    let to_role = Principal::Role(d.role_name.clone());
    let new_version = Action::NewVersion(good.clone());
    let tag = |tags: &[(&str, &str)], adopt| {
        Action::Tag(test_support::tagging("policy", &d.policy_name, tags, adopt))
    };
    let attached = role_with(&d, true, OURS);
    let detached = role_with(&d, false, OURS);
    let doc_fields = ["document.Statement.Action", "document.Statement.Resource"];
    let attach = "attached to role demo-cognito-authenticated";
    let cases = vec![
        (
            "missing",
            None,
            &detached,
            Expect::new(
                State::Missing,
                vec![
                    Action::Create(New {
                        name: d.policy_name.clone(),
                        description: description(&d),
                        document: good.clone(),
                        grants: format!("{} on {TABLE_ARN}", d.actions.join(", ")),
                    }),
                    Action::Attach(to_role.clone()),
                ],
            ),
        ),
        (
            "in sync",
            Some(policy(&d, good.clone(), OURS)),
            &attached,
            Expect::new(State::InSync, vec![]).fields(&[]),
        ),
        (
            "another document",
            Some(policy(&d, wide.clone(), OURS)),
            &attached,
            Expect::new(State::Drifted, vec![new_version.clone()]).fields(&doc_fields),
        ),
        (
            "detached",
            Some(policy(&d, good.clone(), OURS)),
            &detached,
            Expect::new(State::Drifted, vec![Action::Attach(to_role.clone())]).fields(&[attach]),
        ),
        (
            "a missing tag",
            Some(policy(
                &d,
                good.clone(),
                &[("setup:stack", "demo"), ("setup:region", "us-east-1")],
            )),
            &attached,
            Expect::new(State::Drifted, vec![tag(&[("team", "mobile")], false)])
                .fields(&["tags.team"]),
        ),
        (
            "applied before the region tag, for this region's table: the region tag is added",
            Some(policy(&d, good.clone(), &[("setup:stack", "demo"), ("team", "mobile")])),
            &attached,
            Expect::new(State::Drifted, vec![tag(&[("setup:region", "us-east-1")], false)])
                .fields(&["tags.setup:region"]),
        ),
        (
            "this stack's name in another region (tagged): never touched",
            Some(policy(
                &d,
                good.clone(),
                &[("setup:stack", "demo"), ("setup:region", "ap-south-1"), ("team", "mobile")],
            )),
            &attached,
            Expect::new(State::NotOwned, vec![]).fields(&["tags.setup:region"]).blocked(),
        ),
        (
            "applied before the region tag, for another region's table: never touched",
            Some(policy(
                &d,
                access_in("ap-south-1", &d),
                &[("setup:stack", "demo"), ("team", "mobile")],
            )),
            &attached,
            Expect::new(State::NotOwned, vec![])
                .fields(&[doc_fields[1], "tags.setup:region"])
                .blocked(),
        ),
        (
            "made by hand: adoptable",
            Some(policy(&d, wide.clone(), &[])),
            &detached,
            Expect::new(
                State::NotOwned,
                vec![tag(OURS, true), new_version, Action::Attach(to_role)],
            )
            .fields(&[
                doc_fields[0],
                doc_fields[1],
                attach,
                "tags.setup:region",
                "tags.setup:stack",
                "tags.team",
            ])
            .adoptable(),
        ),
        (
            "another stack's",
            Some(policy(&d, good.clone(), &[("setup:stack", "other")])),
            &attached,
            Expect::new(State::NotOwned, vec![])
                .fields(&["tags.setup:region", "tags.setup:stack", "tags.team"])
                .blocked(),
        ),
    ];
    for (what, live, role, expect) in cases {
        let mut o = observed();
        o.set::<AccessPolicy>(live);
        o.set::<crate::steps::role::Role>(Some(role.clone()));
        expect.check(what, &AccessPolicy.diff(&view(&d, &o)));
    }
}

/// A customer-managed table: the policy also grants the KMS actions on the key DescribeKey
/// found (by its ARN, whatever the config named), only through DynamoDB and only for this table
/// (DynamoDB's encryption context names it); none for a key that was not found.
#[test]
fn a_customer_managed_table_adds_the_kms_grant_on_that_key() {
    use crate::steps::table::KeyLookup;
    let key_arn = "arn:aws:kms:us-east-1:123456789012:key/k1";
    let d = desired("");
    let mut o = observed();
    o.set::<crate::steps::table::KmsKey>(Some(crate::steps::test_support::customer_key(
        key_arn,
        |_| (),
    )));
    let r = AccessPolicy.diff(&view(&d, &o));
    let Action::Create(new) = &r.actions[0] else { panic!("{:?}", r.actions) };
    assert_eq!(
        new.document["Statement"][1],
        json!({
            "Sid": "TableKey",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
            "Resource": key_arn,
            "Condition": {"StringEquals": {
                "kms:ViaService": "dynamodb.us-east-1.amazonaws.com",
                "kms:EncryptionContext:aws:dynamodb:tableName": "demo-profiles",
            }}
        })
    );
    assert_eq!(new.document["Statement"][0], desired_doc(&d)["Statement"][0]);
    assert_eq!(
        new.grants,
        format!(
            "{} on {TABLE_ARN}; kms:Decrypt, kms:GenerateDataKey on {key_arn}",
            d.actions.join(", ")
        )
    );
    // The live policy without the grant has drifted: a new version adds it.
    o.set::<crate::steps::policy::AccessPolicy>(Some(policy(&d, desired_doc(&d), OURS)));
    o.set::<crate::steps::role::Role>(Some(role_with(&d, true, OURS)));
    let r = AccessPolicy.diff(&view(&d, &o));
    assert_eq!(r.state, State::Drifted);
    assert_eq!(r.actions, [Action::NewVersion(new.document.clone())]);

    o.set::<crate::steps::table::KmsKey>(Some(KeyLookup::NotFound("alias/gone".into())));
    assert_eq!(AccessPolicy.diff(&view(&d, &o)).state, State::InSync);
}

#[test]
fn a_document_iam_would_refuse_is_blocked_even_for_adopt() {
    let mut d = desired("");
    d.actions = (0..400).map(|i| format!("dynamodb:Action{i:03}")).collect();
    let untagged = policy(&d, Value::Null, &[]);
    for live in [None, Some(untagged)] {
        let mut o = observed();
        o.set::<crate::steps::policy::AccessPolicy>(live);
        let r = AccessPolicy.diff(&view(&d, &o));
        assert!(
            r.blocked.as_deref().is_some_and(|b| b.contains("over IAM's limit")),
            "{:?}",
            r.blocked
        );
        assert!(!r.adoptable);
    }
}

#[test]
fn removal_cases() {
    let d = desired("");
    let plan = |o: &Observed| AccessPolicy.removal(&view(&d, o));
    let mut o = observed();
    assert_eq!(plan(&o).state, State::Missing);
    let with = |roles: &[&str], users: &[&str], old: &[&str]| {
        let mut p = policy(&d, Value::Null, OURS);
        p.entities = Some(Entities {
            roles: roles.iter().map(|r| r.to_string()).collect(),
            users: users.iter().map(|u| u.to_string()).collect(),
            groups: vec![],
        });
        p.old_versions = Some(old.iter().map(|v| v.to_string()).collect());
        p
    };
    let role = d.role_name.as_str();
    o.set::<crate::steps::role::Role>(Some(role_with(&d, true, OURS)));
    o.set::<crate::steps::policy::AccessPolicy>(Some(with(&[role], &[], &["v1", "v2"])));
    let delete = Action::Delete { policy: d.policy_name.clone(), why: None };
    assert_eq!(
        plan(&o).actions,
        [
            Action::DeleteVersions {
                policy: d.policy_name.clone(),
                versions: vec!["v1".into(), "v2".into()]
            },
            delete.clone()
        ],
        "the role step detaches it from the stack's role"
    );
    o.set::<crate::steps::policy::AccessPolicy>(Some(with(&[role], &["someone"], &[])));
    assert_eq!(
        plan(&o).actions,
        [Action::Keep(Keep::in_use(
            format!("policy {}", d.policy_name),
            "still attached to user someone (not managed by this stack)"
        ))]
    );
    // A role of the same name that is not the stack's keeps its policy (and the policy stays).
    o.set::<crate::steps::role::Role>(Some(role_with(&d, true, &[])));
    o.set::<crate::steps::policy::AccessPolicy>(Some(with(&[role], &[], &[])));
    let Action::Keep(k) = &plan(&o).actions[0] else { panic!("kept") };
    assert_eq!(k.because, format!("still attached to role {role} (not managed by this stack)"));
    o.set::<crate::steps::policy::AccessPolicy>(Some(policy(&d, Value::Null, &[])));
    assert_eq!(
        plan(&o).actions,
        [Action::Keep(Keep::not_ours(format!("policy {}", d.policy_name)))]
    );
}

/// What IAM shows next to the access policy: the table and the stack.
#[test]
fn the_description_names_the_table_and_the_stack() {
    assert_eq!(
        description(&desired("")),
        "Access to DynamoDB table demo-profiles (managed by setup, stack demo)"
    );
}

/// The sentences the access policy adds for isolation: a key switch (which items every user
/// reaches), a principal tag it reads that the pool does not map, and a backend keyed by
/// another value than the app.
#[test]
fn isolation_notes_say_what_a_key_switch_and_a_mismatch_mean() {
    use crate::steps::identity_pool::Lookup;
    use crate::steps::principal_tags::Live as TagMap;
    const POOL: &str = "us-east-1:p";
    let by_sub = desired("[policy]\nper_user_isolation = true\n");
    let by_id = desired("[policy]\nper_user_isolation = true\nisolation_key = \"identity-id\"\n");
    let backend_by_id = desired(
        "[policy]\nper_user_isolation = true\nisolation_key = \"identity-id\"\n[backend]\nrole = \"api\"\n",
    );
    let sub_map = TagMap { use_defaults: false, tags: [("sub".into(), "sub".into())].into() };
    let notes = |d: &Desired, live_doc: Value, map: Option<TagMap>| {
        let mut o = observed();
        o.set::<crate::steps::identity_pool::IdentityPool>(Some(Lookup::Owned(Box::new(
            test_support::pool(d, POOL, &[("setup:stack", "demo")]),
        ))));
        o.set::<crate::steps::principal_tags::PrincipalTags>(map);
        o.set::<crate::steps::policy::AccessPolicy>(Some(policy(d, live_doc, OURS)));
        o.set::<crate::steps::role::Role>(Some(role_with(d, true, OURS)));
        AccessPolicy.diff(&view(d, &o)).notes
    };
    let switch = notes(&by_sub, desired_doc(&by_id), Some(sub_map.clone()));
    assert_eq!(switch.len(), 1, "{switch:?}");
    assert!(
        switch[0].text.starts_with("the access policy keys each user's items by the identity id"),
        "{switch:?}"
    );
    assert!(notes(&by_sub, desired_doc(&by_sub), Some(sub_map.clone())).is_empty());
    let unmapped = notes(&by_sub, desired_doc(&by_sub), None);
    assert_eq!(unmapped.len(), 1, "{unmapped:?}");
    assert!(
        unmapped[0]
            .to_string()
            .starts_with("finding: the access policy reads the principal tag \"sub\""),
        "{unmapped:?}"
    );
    assert!(notes(&by_id, desired_doc(&by_id), None).is_empty());
    let backend = notes(&backend_by_id, desired_doc(&backend_by_id), None);
    assert_eq!(backend.len(), 1, "{backend:?}");
    assert!(
        backend[0].text.contains("the backend and the app use different userId values"),
        "{backend:?}"
    );
}
