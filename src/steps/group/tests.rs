use std::collections::HashMap;

use aws_sdk_cognitoidentity::types::{
    AmbiguousRoleResolutionType, MappingRule, MappingRuleMatchType, RoleMapping, RoleMappingType,
    RulesConfigurationType,
};
use serde_json::{json, Value};

use super::leftovers::{Found, Leftover};
use super::role::{Action, GROUP_REMOVED};
use super::*;
use crate::plan::State;
use crate::steps::identity_pool::{self, Lookup};
use crate::steps::managed;
use crate::steps::pool_roles::{self, PoolRoles};
use crate::steps::test_support::{self, account, desired, observed, pool, view, Expect};
use crate::steps::{Observed, Step};

const POOL: &str = "us-east-1:11111111-2222-3333-4444-555555555555";
const ADMINS: &str = "[[groups]]\nname = \"admins\"\nactions = [\"dynamodb:Scan\"]\n";

fn ours(d: &Desired) -> Vec<(String, String)> {
    d.iam_tags(test_support::REGION).into_iter().collect()
}

fn pairs(v: &[(String, String)]) -> Vec<(&str, &str)> {
    v.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// The stack's pool, and the group's role with this trust policy and tags (none: no role).
fn with_role(d: &Desired, trust: Option<Value>, tags: &[(&str, &str)]) -> Observed {
    let mut o = observed();
    let p = pool(d, POOL, &[("setup:stack", "demo")]);
    o.set::<identity_pool::IdentityPool>(Some(Lookup::Owned(Box::new(p))));
    let role = trust.map(|t| {
        let mut r = test_support::role(d, t, tags);
        r.arn = d.group_role_arn(&d.groups[0], &account());
        r
    });
    o.set_instance::<GroupRole>(Some("admins"), role);
    o
}

fn role_diff(d: &Desired, o: &Observed, group: &str) -> Diff<Action> {
    let v = View { instance: Some(group), ..view(d, o) };
    GroupRole.diff(&v).map_actions(|g| g.action)
}

#[test]
fn the_group_role_is_trusted_as_the_stacks_role_and_its_trust_is_diagnosed() {
    let d = desired(ADMINS);
    let tags = ours(&d);
    let right = trust_policy(&d, POOL.into());
    let mut wrong = right.clone();
    wrong["Statement"][0]["Condition"]["StringEquals"]["cognito-identity.amazonaws.com:aud"] =
        json!("us-east-1:other");
    let role = "demo-group-admins".to_string();
    let cases = vec![
        ("missing", None, vec![], Expect::new(State::Missing, vec![Action::Create(role.clone())])),
        (
            "in sync",
            Some(right.clone()),
            pairs(&tags),
            Expect::new(State::InSync, vec![]).fields(&[]),
        ),
        (
            "another pool's aud",
            Some(wrong.clone()),
            pairs(&tags),
            Expect::new(
                State::Drifted,
                vec![Action::RewriteTrust { role: role.clone(), after_untag: false }],
            ),
        ),
        (
            "another stack's role of that name: never touched",
            Some(right.clone()),
            vec![("setup:stack", "other")],
            Expect::new(State::NotOwned, vec![]).blocked(),
        ),
    ];
    for (what, trust, tags, expect) in cases {
        let o = with_role(&d, trust, &tags);
        expect.check(what, &role_diff(&d, &o, "admins"));
    }
    let o = with_role(&d, Some(wrong), &pairs(&tags));
    let notes = role_diff(&d, &o, "admins").notes;
    assert!(
        notes.iter().any(|n| n.is_finding()
            && n.text.starts_with("role demo-group-admins of group admins: ")
            && n.text.contains("us-east-1:other")),
        "{notes:?}"
    );
    // Isolation by the sub: the group role's trust allows sts:TagSession like the stack's.
    let by_sub = desired(&format!("{ADMINS}[policy]\nper_user_isolation = true\n"));
    let tagging = trust_policy(&by_sub, POOL.into());
    assert!(tagging.to_string().contains("sts:TagSession"), "{tagging}");
    assert!(policy_doc::equivalent(&tagging, &crate::steps::trust::desired(&by_sub, POOL)));
}

#[test]
fn a_group_the_user_pool_lacks_is_a_finding_not_a_refusal() {
    let d = desired(ADMINS);
    let tags = ours(&d);
    let mut o = with_role(&d, Some(trust_policy(&d, POOL.into())), &pairs(&tags));
    o.set_instance::<UserPoolGroup>(Some("admins"), Some(GroupCheck::Missing));
    let r = role_diff(&d, &o, "admins");
    assert_eq!((r.state, r.blocked.is_some()), (State::InSync, false));
    assert_eq!(r.notes.len(), 1, "{:?}", r.notes);
    assert!(r.notes[0].text.starts_with("user pool us-east-1_abc123 has no group \"admins\""));
    o.set_instance::<UserPoolGroup>(Some("admins"), Some(GroupCheck::Exists));
    assert!(role_diff(&d, &o, "admins").notes.is_empty());
    // Not readable (an operator policy without cognito-idp:GetGroup): said, not a finding.
    let denied = GroupCheck::Unknown("access denied".into());
    o.set_instance::<UserPoolGroup>(Some("admins"), Some(denied));
    let notes = role_diff(&d, &o, "admins").notes;
    assert_eq!(
        notes.iter().map(|n| (n.kind, n.text.as_str())).collect::<Vec<_>>(),
        [(crate::plan::NoteKind::Info, "could not check that group admins exists: access denied")]
    );
}

/// A group taken out of the config, found through the mapping: its role's policies are
/// detached and it is deleted (with why), its policy deleted; another stack's role is kept.
#[test]
fn a_group_left_in_the_mapping_is_planned_and_removed() {
    let d = desired("");
    let tags = ours(&d);
    let policy_arn = format!("arn:aws:iam::{}:policy/demo-group-old-access", test_support::ACCOUNT);
    let role_arn = format!("arn:aws:iam::{}:role/demo-group-old", test_support::ACCOUNT);
    let mut role = test_support::role(&d, Value::Null, &pairs(&tags));
    role.arn = role_arn.clone();
    role.attached = vec![("demo-group-old-access".into(), policy_arn.clone())];
    let mut policy = test_support::policy(policy_arn.clone(), Value::Null, &pairs(&tags));
    policy.entities =
        Some(managed::Entities { roles: vec!["demo-group-old".into()], ..Default::default() });
    let mut o = observed();
    let leftover = Leftover {
        group: "old".into(),
        role_arn: role_arn.clone(),
        role: Some(role.clone()),
        policies: vec![policy],
    };
    o.set::<Leftovers>(Some(Found { leftovers: vec![leftover.clone()], ..Default::default() }));
    let v = view(&d, &o);
    assert_eq!(GroupRole.planned(&v), [Some("old".to_string())]);
    let r = role_diff(&d, &o, "old");
    assert_eq!(r.state, State::Drifted);
    assert_eq!(
        r.actions,
        [
            Action::DetachPolicy {
                role: "demo-group-old".into(),
                policy: "demo-group-old-access".into(),
                arn: policy_arn.clone()
            },
            Action::Delete { role: "demo-group-old".into(), why: Some(GROUP_REMOVED) }
        ]
    );
    let p = GroupPolicy.diff(&View { instance: Some("old"), ..v }).map_actions(|g| g.action);
    assert_eq!(
        p.actions,
        [managed::Action::Delete {
            policy: "demo-group-old-access".into(),
            why: Some(GROUP_REMOVED)
        }]
    );
    // Another stack's role behind that rule: kept, and its policy left to it.
    let mut other = leftover;
    other.role.as_mut().unwrap().tags = test_support::tags(&[("setup:stack", "other")]);
    o.set::<Leftovers>(Some(Found { leftovers: vec![other], ..Default::default() }));
    let r = role_diff(&d, &o, "old");
    assert_eq!(r.state, State::NotOwned);
    assert!(matches!(r.actions[..], [Action::Keep(_)]), "{:?}", r.actions);
}

fn rule(value: &str, arn: &str) -> MappingRule {
    MappingRule::builder()
        .claim("cognito:groups")
        .match_type(MappingRuleMatchType::Contains)
        .value(value)
        .role_arn(arn)
        .build()
        .unwrap()
}

fn mapping(rules: Vec<MappingRule>, ambiguous: AmbiguousRoleResolutionType) -> RoleMapping {
    let config = RulesConfigurationType::builder().set_rules(Some(rules)).build().unwrap();
    RoleMapping::builder()
        .r#type(RoleMappingType::Rules)
        .ambiguous_role_resolution(ambiguous)
        .rules_configuration(config)
        .build()
        .unwrap()
}

/// The pool-roles diff for these live mappings (the stack's role in place).
fn pool_roles_diff(
    d: &Desired,
    o: &mut Observed,
    m: HashMap<String, RoleMapping>,
) -> Diff<pool_roles::Action> {
    let p = pool(d, POOL, &[("setup:stack", "demo")]);
    o.set::<identity_pool::IdentityPool>(Some(Lookup::Owned(Box::new(p))));
    o.set::<crate::steps::role::Role>(Some(test_support::role(d, Value::Null, &[])));
    let roles = [("authenticated".to_string(), d.role_arn(&account()))].into();
    o.set::<PoolRoles>(Some(pool_roles::Live { roles, role_mappings: Some(m) }));
    PoolRoles.diff(&view(d, o))
}

#[test]
fn the_mapping_is_compared_as_data_and_other_providers_are_kept() {
    let d = desired(ADMINS);
    let provider = d.mapping_provider("client1");
    let arn = d.group_role_arn(&d.groups[0], &account());
    let right = mapping(vec![rule("admins", &arn)], AmbiguousRoleResolutionType::AuthenticatedRole);
    let other =
        ("cognito-idp.us-east-1.amazonaws.com/us-east-1_other:x".to_string(), right.clone());
    let r = pool_roles_diff(
        &d,
        &mut observed(),
        HashMap::from([(provider.clone(), right.clone()), other.clone()]),
    );
    assert_eq!((r.state, r.actions.len()), (State::InSync, 0), "{:?}", r.changes);
    // Denying everyone else is drift, and only this provider's mapping is rewritten.
    let deny = mapping(vec![rule("admins", &arn)], AmbiguousRoleResolutionType::Deny);
    let r = pool_roles_diff(
        &d,
        &mut observed(),
        HashMap::from([(provider.clone(), deny), other.clone()]),
    );
    assert_eq!(r.state, State::Drifted);
    let fields: Vec<&str> = r.changes.iter().map(|c| c.field.as_str()).collect();
    assert_eq!(fields, [format!("role_mappings.{provider}")]);
    let [pool_roles::Action::Set(set)] = &r.actions[..] else { panic!("{:?}", r.actions) };
    assert_eq!(set.mappings.keys().collect::<Vec<_>>(), [&provider]);
    let sent = pool_roles::mappings::to_sdk(set.mappings[&provider].as_ref().unwrap()).unwrap();
    assert_eq!(sent, right, "what apply sends is the desired mapping");
    // Without groups, a mapping made by hand (its role is none of the stack's) stays.
    let plain = desired("");
    let hand = HashMap::from([(plain.mapping_provider("client1"), right.clone())]);
    let r = pool_roles_diff(&plain, &mut observed(), hand);
    assert!(r.actions.is_empty(), "{:?}", r.actions);
}

#[test]
fn without_groups_a_mapping_of_leftovers_goes_and_a_rule_to_a_missing_role_is_named() {
    let d = desired("");
    let provider = d.mapping_provider("client1");
    let arn = format!("arn:aws:iam::{}:role/demo-group-old", test_support::ACCOUNT);
    let m = HashMap::from([(
        provider.clone(),
        mapping(vec![rule("old", &arn)], AmbiguousRoleResolutionType::AuthenticatedRole),
    )]);
    let mut o = observed();
    let gone =
        Leftover { group: "old".into(), role_arn: arn.clone(), role: None, policies: vec![] };
    o.set::<Leftovers>(Some(Found { leftovers: vec![gone], ..Default::default() }));
    let r = pool_roles_diff(&d, &mut o, m);
    let [pool_roles::Action::Set(set)] = &r.actions[..] else { panic!("{:?}", r.actions) };
    assert_eq!(set.mappings, [(provider.clone(), None)].into());
    assert_eq!(
        r.notes.iter().map(|n| n.text.as_str()).collect::<Vec<_>>(),
        [format!("the role mapping of {provider}: rule 1 (cognito:groups Contains \"old\") names role {arn}, which does not exist")]
    );
}
