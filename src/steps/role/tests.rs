use super::*;
use crate::steps::test_support::PROVIDER;
use crate::steps::test_support::{self, desired, observed, view, Expect};
use crate::steps::Observed;

fn plan(d: &Desired, role: Option<Live>) -> Diff<Action> {
    let mut o = observed();
    o.set::<Role>(role);
    Role.diff(&view(d, &o))
}

fn live(with_tags: &[(&str, &str)]) -> Live {
    test_support::role(&desired(""), Value::Null, with_tags)
}

#[test]
fn diff_cases() {
    let d = desired("");
    let all = d.iam_tags(test_support::REGION);
    let tagging = |tags: &[(&str, &str)], adopt| {
        Action::Tag(test_support::tagging("role", &d.role_name, tags, adopt))
    };
    let ours: Vec<(&str, &str)> = all.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let before_region_tag = [("setup:stack", "demo"), ("team", "mobile")];
    let trusting = |pool: &str, tags: &[(&str, &str)]| {
        Some(test_support::role(&d, policy_doc::trust_policy(pool, PROVIDER), tags))
    };
    let cases = vec![
        ("missing", None, Expect::new(State::Missing, vec![Action::Create(d.role_name.clone())])),
        ("in sync", Some(live(&ours)), Expect::new(State::InSync, vec![]).fields(&[])),
        (
            "a missing tag",
            Some(live(&[("setup:stack", "demo"), ("setup:region", "us-east-1")])),
            Expect::new(State::Drifted, vec![tagging(&[("team", "mobile")], false)])
                .fields(&["tags.team"]),
        ),
        (
            "made by hand: adoptable",
            Some(live(&[])),
            Expect::new(State::NotOwned, vec![tagging(&ours, true)]).adoptable(),
        ),
        (
            "another stack's",
            Some(live(&[("setup:stack", "other")])),
            Expect::new(State::NotOwned, vec![]).blocked(),
        ),
        (
            "this stack's name in another region: never touched, not even by --adopt",
            Some(live(&[("setup:stack", "demo"), ("setup:region", "ap-south-1")])),
            Expect::new(State::NotOwned, vec![]).blocked(),
        ),
        (
            "applied before the region tag, trusting this region's pool: tagged for it",
            trusting("us-east-1:p", &before_region_tag),
            Expect::new(State::Drifted, vec![tagging(&[("setup:region", "us-east-1")], false)])
                .fields(&["tags.setup:region"]),
        ),
        (
            "applied before the region tag, trusting another region's pool: never touched",
            trusting("ap-south-1:p", &before_region_tag),
            Expect::new(State::NotOwned, vec![]).blocked(),
        ),
        (
            "applied before the region tag, trusting no pool: this region's (as before)",
            Some(live(&before_region_tag)),
            Expect::new(State::Drifted, vec![tagging(&[("setup:region", "us-east-1")], false)]),
        ),
    ];
    for (what, l, expect) in cases {
        expect.check(what, &plan(&d, l));
    }
    let mut inline = live(&ours);
    inline.inline.push("extra".into());
    let admin =
        serde_json::json!({"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}});
    inline.inline_documents.insert("extra".into(), admin);
    assert_eq!(
        plan(&d, Some(inline)).notes,
        [format!("security: inline policy \"extra\" on role {} grants every action (\"*\") on every resource (\"*\"): every signed-in user gets it, beyond the config; setup leaves it as is: delete it", d.role_name)]
    );
}

#[test]
fn removal_detaches_the_stack_policy_and_keeps_a_role_others_use() {
    let d = desired("");
    let all = d.iam_tags(test_support::REGION);
    let ours: Vec<(&str, &str)> = all.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut o = observed();
    let policy_arn = d.policy_arn(&o.account);
    o.set::<crate::steps::policy::AccessPolicy>(Some(managed::Live {
        arn: policy_arn.clone(),
        default_version: "v1".into(),
        document: Value::Null,
        tags: d.iam_tags(test_support::REGION),
        entities: None,
        old_versions: None,
        named_region: None,
    }));
    let v = |o: &Observed| Role.removal(&view(&d, o));
    assert_eq!(v(&o).state, State::Missing);
    let mut role = live(&ours);
    role.attached.push((d.policy_name.clone(), policy_arn.clone()));
    o.set::<Role>(Some(role.clone()));
    assert_eq!(
        v(&o).actions,
        [
            Action::DetachPolicy { policy: d.policy_name.clone(), arn: policy_arn.clone() },
            Action::Delete(d.role_name.clone())
        ]
    );
    role.inline.push("hand-made".into());
    role.attached.push(("other".into(), "arn:aws:iam::aws:policy/Other".into()));
    o.set::<Role>(Some(role));
    let r = v(&o);
    assert_eq!(
        r.actions[0],
        Action::DetachPolicy { policy: d.policy_name.clone(), arn: policy_arn }
    );
    let Action::Keep(k) = &r.actions[1] else { panic!("{:?}", r.actions) };
    assert_eq!(
        k.because,
        "it still has managed policy other, inline policy hand-made that setup did not add; remove them and run teardown again"
    );
    o.set::<Role>(Some(live(&[])));
    assert_eq!(v(&o).actions, [Action::Keep(Keep::not_ours(format!("role {}", d.role_name)))]);
}

/// Teardown in one region keeps the role of the same stack name in another, and says where
/// to remove it; so does the trust step that goes with it.
#[test]
fn removal_keeps_the_role_of_another_region() {
    let d = desired("");
    let mut o = observed();
    for (what, tags, trust) in [
        ("tagged", vec![("setup:stack", "demo"), ("setup:region", "ap-south-1")], Value::Null),
        (
            "trusting that region's pool",
            vec![("setup:stack", "demo")],
            policy_doc::trust_policy("ap-south-1:p", PROVIDER),
        ),
    ] {
        o.set::<Role>(Some(test_support::role(&d, trust, &tags)));
        let r = Role.removal(&view(&d, &o));
        assert_eq!(r.state, State::NotOwned, "{what}");
        let [Action::Keep(k)] = &r.actions[..] else { panic!("{what}: {:?}", r.actions) };
        assert_eq!(
            k.because,
            "it belongs to stack demo in region ap-south-1; run `setup teardown --region ap-south-1` to remove it",
            "{what}"
        );
        let t = crate::steps::trust::Trust.removal(&view(&d, &o));
        assert!(t.actions.is_empty(), "{what}: {:?}", t.actions);
    }
}
