//! The registry: each id finds its step, which steps a config asks for, and what each write of
//! a fresh apply and of a teardown waits for (the order `apply` and `teardown` keep).

use serde_json::Value;

use super::test_support::{self, desired, observed, view};
use super::*;
use crate::policy_doc;
use crate::steps::test_support::PROVIDER;

/// Guests with a policy of their own, a backend role, and isolation by the user pool sub (the
/// principal tag map): every step applies.
const EVERYTHING: &str = "[identity_pool]\nallow_unauthenticated = true\n[guest]\nactions = [\"dynamodb:GetItem\"]\n[backend]\nrole = \"api\"\n[policy]\nper_user_isolation = true\n[[groups]]\nname = \"admins\"\nactions = [\"dynamodb:Scan\"]\n";

/// The step ids, to write plans in tests the way the code names them.
#[allow(non_upper_case_globals)]
mod ids {
    use crate::plan::StepId;
    pub const Table: StepId = StepId::Table;
    pub const IdentityPool: StepId = StepId::IdentityPool;
    pub const Role: StepId = StepId::Role;
    pub const TrustPolicy: StepId = StepId::TrustPolicy;
    pub const AccessPolicy: StepId = StepId::AccessPolicy;
    pub const GuestRole: StepId = StepId::GuestRole;
    pub const GuestPolicy: StepId = StepId::GuestPolicy;
    pub const GroupRole: StepId = StepId::GroupRole;
    pub const GroupPolicy: StepId = StepId::GroupPolicy;
    pub const PoolRoles: StepId = StepId::PoolRoles;
    pub const PrincipalTags: StepId = StepId::PrincipalTags;
}

#[test]
fn the_registry_holds_every_step_once_in_report_order() {
    // The JSON `step` names, in the order of reports (test-only steps come last).
    let names: Vec<&str> = STEPS.iter().map(|s| s.id().name()).take(10).collect();
    assert_eq!(
        names,
        [
            "table",
            "identity-pool",
            "role",
            "trust-policy",
            "access-policy",
            "guest-role",
            "guest-policy",
            "pool-roles",
            "principal-tags",
            "backend-policy"
        ]
    );
    let mut unique: Vec<StepId> = STEPS.iter().map(|s| s.id()).collect();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), STEPS.len(), "a step id is registered twice");
}

#[test]
fn optional_steps_apply_only_when_the_config_asks_for_them() {
    let o = observed();
    let applying = |d: &Desired| -> Vec<StepId> {
        STEPS.iter().filter(|s| s.applies(&view(d, &o))).map(|s| s.id()).collect()
    };
    let every: Vec<StepId> = STEPS.iter().map(|s| s.id()).collect();
    assert_eq!(applying(&desired(EVERYTHING)), every);
    let optional =
        [StepId::GuestRole, StepId::GuestPolicy, StepId::PrincipalTags, StepId::BackendPolicy];
    let plain: Vec<StepId> = every.iter().copied().filter(|id| !optional.contains(id)).collect();
    assert_eq!(applying(&desired("")), plain);
}

/// (step, action, what it waits for) of every action in the plan `plan` makes.
/// Every step's report, one per planned instance, in registry order (as
/// `steps::diff` and `steps::removal` make them).
fn waits(
    plan: impl Fn(&dyn AnyStep, &View) -> StepReport,
    v: &View,
) -> Vec<(StepId, String, Vec<Need>)> {
    STEPS
        .iter()
        .flat_map(|s| s.planned(v).into_iter().map(move |i| (*s, i)))
        .flat_map(|(s, instance)| {
            let report = plan(s, &View { instance: instance.as_deref(), ..*v });
            let needs: Vec<_> = report.actions.iter().map(|a| s.needs(a)).collect();
            report
                .actions
                .iter()
                .zip(needs)
                .map(|(a, n)| (s.id(), a.to_string(), n))
                .collect::<Vec<_>>()
        })
        .collect()
}

fn waiting(step: StepId, action: &str, needs: &[Need]) -> (StepId, String, Vec<Need>) {
    (step, action.to_string(), needs.to_vec())
}

/// The waits of a plan as edges `step → the step it needs`.
fn edges(waits: &[(StepId, String, Vec<Need>)]) -> Vec<(StepId, StepId)> {
    waits.iter().flat_map(|(s, _, needs)| needs.iter().map(move |n| (*s, n.step()))).collect()
}

#[test]
fn the_executor_finds_steps_that_wait_for_each_other() {
    use ids::*;
    assert_eq!(super::run::cycle([(Role, Table), (PoolRoles, Role)]), None);
    assert_eq!(
        super::run::cycle([(Table, IdentityPool), (Role, TrustPolicy), (TrustPolicy, Role)]),
        Some(vec![Role, TrustPolicy, Role])
    );
    let long = [(PoolRoles, Role), (Role, PrincipalTags), (PrincipalTags, PoolRoles)];
    assert_eq!(super::run::cycle(long).map(|c| c.len()), Some(4));
    // A step's own actions run in order: waiting for itself is no cycle.
    assert_eq!(super::run::cycle([(Table, Table)]), None);
}

#[test]
fn each_write_of_a_fresh_apply_waits_for_what_it_uses() {
    use ids::*;
    use Need::{Done, Instance};
    let d = desired(EVERYTHING);
    let o = observed();
    let v = view(&d, &o);
    assert_eq!(
        waits(|s, v| s.diff(v), &v),
        [
            waiting(Table, "create table demo-profiles (userId (S) + createdAt (S), PAY_PER_REQUEST)", &[]),
            waiting(Table, "enable point-in-time recovery", &[]),
            waiting(IdentityPool, "create identity pool demo_identities for us-east-1_abc123 (1 app client)", &[]),
            waiting(Role, "create role demo-cognito-authenticated trusted by the identity pool's authenticated users", &[Done(IdentityPool)]),
            waiting(TrustPolicy, "set with the role's creation", &[Done(IdentityPool), Done(Role)]),
            waiting(AccessPolicy, "create policy demo-table-access (dynamodb:GetItem, dynamodb:PutItem, dynamodb:UpdateItem on arn:aws:dynamodb:us-east-1:123456789012:table/demo-profiles)", &[]),
            waiting(AccessPolicy, "attach it to role demo-cognito-authenticated", &[Done(Role)]),
            waiting(GuestRole, "create role demo-cognito-guest trusted by the identity pool's unauthenticated (guest) identities", &[Done(IdentityPool)]),
            waiting(GuestPolicy, "create policy demo-guest-access (dynamodb:GetItem on arn:aws:dynamodb:us-east-1:123456789012:table/demo-profiles)", &[]),
            waiting(GuestPolicy, "attach it to role demo-cognito-guest", &[Done(GuestRole)]),
            waiting(PoolRoles, "set the pool's authenticated role to the stack's role; set the pool's unauthenticated role to guest role demo-cognito-guest; set the role mapping of app client client1: admins → role demo-group-admins (in this order; everyone else gets the stack's role)", &[Done(IdentityPool), Done(Role), Done(GuestRole), Done(GroupRole), Done(GroupPolicy)]),
            waiting(PrincipalTags, "map the user pool's claim sub to tag sub (principal tags on each session, set once the trust policy allows sts:TagSession)", &[Done(IdentityPool), Done(TrustPolicy), Done(GroupRole)]),
            waiting(GroupRole, "create role demo-group-admins trusted by the identity pool's authenticated users (the group's members get it from the role mapping)", &[Done(IdentityPool)]),
            waiting(GroupPolicy, "create policy demo-group-admins-access (dynamodb:Scan on arn:aws:dynamodb:us-east-1:123456789012:table/demo-profiles)", &[]),
            waiting(GroupPolicy, "attach it to role demo-group-admins", &[Instance(crate::plan::Unit::new(GroupRole, Some("admins")))]),
        ]
    );
    assert_eq!(super::run::cycle(edges(&waits(|s, v| s.diff(v), &v))), None);
}

#[test]
fn each_removal_of_a_teardown_waits_for_what_must_go_first() {
    use ids::*;
    use Need::{After, Done};
    let d = desired("");
    let ours: Vec<(&str, &str)> = d.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut o = observed();
    let policy_arn = d.policy_arn(&o.account);
    let mut role = test_support::role(&d, policy_doc::trust_policy("us-east-1:p", PROVIDER), &ours);
    role.attached = vec![(d.policy_name.clone(), policy_arn.clone())];
    o.set::<crate::steps::role::Role>(Some(role));
    let mut policy = test_support::policy(policy_arn, Value::Null, &ours);
    policy.entities =
        Some(managed::Entities { roles: vec![d.role_name.clone()], ..Default::default() });
    o.set::<crate::steps::policy::AccessPolicy>(Some(policy));
    o.set::<crate::steps::identity_pool::IdentityPool>(Some(identity_pool::Lookup::Owned(
        Box::new(test_support::pool(&d, "us-east-1:p", &ours)),
    )));
    let v = view(&d, &o);
    assert_eq!(
        waits(|s, v| s.removal(v), &v),
        [
            waiting(IdentityPool, "delete identity pool us-east-1:p", &[After(Role)]),
            waiting(Role, "detach policy demo-table-access from it", &[]),
            waiting(Role, "delete role demo-cognito-authenticated", &[]),
            waiting(TrustPolicy, "remove with the role", &[Done(Role)]),
            waiting(AccessPolicy, "delete policy demo-table-access", &[After(Role)]),
            waiting(PoolRoles, "remove with the identity pool", &[Done(IdentityPool)]),
            waiting(PrincipalTags, "remove with the identity pool", &[Done(IdentityPool)]),
        ]
    );
    assert_eq!(super::run::cycle(edges(&waits(|s, v| s.removal(v), &v))), None);
}

/// Every kind of action a step can plan is documented in docs/json-output.md, on its step's row.
#[test]
fn every_action_kind_is_documented_under_its_step() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/json-output.md");
    let doc = std::fs::read_to_string(path).unwrap();
    let test_only = [twins::TWINS, twins::CHILD];
    for s in STEPS.iter().filter(|s| !test_only.contains(&s.id())) {
        let row = format!("| `{}` |", s.id());
        let line = doc
            .lines()
            .find(|l| l.starts_with(&row))
            .unwrap_or_else(|| panic!("no row for step {} in docs/json-output.md", s.id()));
        for kind in s.action_kinds() {
            assert!(line.contains(&format!("`{kind}`")), "{}: `{kind}` is not in {line:?}", s.id());
        }
    }
}

/// Refusals and confirmations are the steps' hooks: apply asks the step whether a plan may run
/// (the table refuses to replace indexes without `--allow-index-replace`), and teardown asks what
/// to confirm (the table's deletion), through the erased actions commands hold.
#[test]
fn steps_say_what_they_refuse_and_what_must_be_confirmed() {
    let d = desired(
        "[[table.global_secondary_indexes]]\nname = \"byEmail\"\npartition_key = { name = \"email\", type = \"S\" }\n",
    );
    let gsi = d.table.global_secondary_indexes[0].clone();
    let report = |actions: Vec<table::Action>| {
        let mut r: StepReport = StepReport::new(StepId::Table, "t", crate::plan::State::Drifted);
        r.actions = actions.into_iter().map(Action::new).collect();
        Plan { steps: vec![r] }
    };
    let replace =
        report(vec![table::Action::TtlOff("ttl".into()), table::Action::ReplaceIndex(gsi)]);
    let refused = refusals(&replace, Allowed::default());
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert!(refused[0].starts_with("table: ") && refused[0].contains("byEmail"), "{refused:?}");
    assert_eq!(refusals(&replace, Allowed { index_replace: true }), Vec::<String>::new());
    assert_eq!(confirmations(&replace), []);

    let delete = report(vec![
        table::Action::ProtectionOff,
        table::Action::Delete { name: "demo-profiles".into(), deleting: false },
    ]);
    assert_eq!(refusals(&delete, Allowed::default()), Vec::<String>::new());
    assert_eq!(
        confirmations(&delete),
        [Confirmation {
            subject: "table demo-profiles".into(),
            answer: "demo-profiles".into(),
            answer_is: "the table name",
            flag: "--delete-table",
        }]
    );
}

/// What a plan says once whatever the state: only the role says it, and only without a
/// permissions boundary.
#[test]
fn only_the_role_says_what_nothing_caps_without_a_boundary() {
    let saying = |d: &Desired| -> Vec<StepId> {
        STEPS.iter().filter(|s| !s.plan_notes(d).is_empty()).map(|s| s.id()).collect()
    };
    assert_eq!(saying(&desired("")), [StepId::Role]);
    let mut bounded = desired("");
    bounded.permissions_boundary = Some(crate::config::Boundary::Name("b".into()));
    assert!(saying(&bounded).is_empty());
}
