//! Apply does exactly what plan printed: for every drift case of drift.rs (the stack broken the
//! same way) and for a takeover with `--adopt`, the actions `apply` carried out (its JSON
//! `steps[].actions`) are the actions `plan` listed, step by step; and teardown lists what it
//! carried out the same way.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::harness::*;

/// A console-made trust policy for some other identity pool.
const CONSOLE_DEFAULT_TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"cognito-identity.amazonaws.com"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"cognito-identity.amazonaws.com:aud":"us-east-1:00000000-0000-0000-0000-000000000000"},"ForAnyValue:StringLike":{"cognito-identity.amazonaws.com:amr":"authenticated"}}}]}"#;

/// A way to break an applied stack.
pub type Break = fn(&Stack, &Sdk);

/// The drift cases of drift.rs: how each breaks an applied stack, and the steps that act on it.
pub fn drift_cases() -> Vec<(&'static str, Break, &'static [&'static str])> {
    vec![
        ("trust-aud", trust_for_another_pool, &["trust-policy"]),
        ("trust-action", trust_with_wrong_action, &["trust-policy"]),
        ("detached", detach_policy, &["access-policy"]),
        ("policy-doc", replace_policy_document, &["access-policy"]),
        ("pool-roles", clear_pool_roles, &["pool-roles"]),
        ("pitr", turn_off_pitr, &["table"]),
        ("protection", turn_off_deletion_protection, &["table"]),
        ("table-deleted", delete_table, &["table"]),
        ("pool-deleted", delete_pool, &["identity-pool", "pool-roles", "trust-policy"]),
        ("unauth", allow_guests, &["identity-pool"]),
    ]
}

pub fn trust_for_another_pool(s: &Stack, sdk: &Sdk) {
    block_on(sdk.set_trust_policy(&s.role(), CONSOLE_DEFAULT_TRUST));
}

pub fn trust_with_wrong_action(s: &Stack, sdk: &Sdk) {
    let doc = CONSOLE_DEFAULT_TRUST
        .replace("us-east-1:00000000-0000-0000-0000-000000000000", &s.pool_id())
        .replace("sts:AssumeRoleWithWebIdentity", "sts:AssumeRole");
    block_on(sdk.set_trust_policy(&s.role(), &doc));
}

pub fn detach_policy(s: &Stack, sdk: &Sdk) {
    block_on(sdk.detach_policy(&s.role(), &s.policy_arn()));
}

pub fn replace_policy_document(s: &Stack, sdk: &Sdk) {
    let doc = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"}]});
    block_on(sdk.set_policy_document(&s.policy_arn(), &doc.to_string()));
}

pub fn clear_pool_roles(s: &Stack, sdk: &Sdk) {
    block_on(sdk.clear_pool_roles(&s.pool_id()));
}

pub fn turn_off_pitr(s: &Stack, sdk: &Sdk) {
    let spec = aws_sdk_dynamodb::types::PointInTimeRecoverySpecification::builder()
        .point_in_time_recovery_enabled(false)
        .build()
        .unwrap();
    let off = sdk
        .dynamodb
        .update_continuous_backups()
        .table_name(s.table())
        .point_in_time_recovery_specification(spec);
    block_on(off.send()).unwrap();
}

pub fn turn_off_deletion_protection(s: &Stack, sdk: &Sdk) {
    block_on(sdk.set_deletion_protection(&s.table(), false));
}

pub fn delete_table(s: &Stack, sdk: &Sdk) {
    turn_off_deletion_protection(s, sdk);
    block_on(sdk.delete_table(&s.table()));
}

pub fn delete_pool(s: &Stack, sdk: &Sdk) {
    let id = s.pool_id();
    block_on(sdk.identity.delete_identity_pool().identity_pool_id(id).send()).unwrap();
}

pub fn allow_guests(s: &Stack, sdk: &Sdk) {
    block_on(sdk.update_identity_pool(&s.pool_id(), |update, _| {
        update.allow_unauthenticated_identities(true)
    }));
}

/// Each step's list `key` (`actions`, `action_kinds`) in a JSON report.
fn per_step(j: &Value, key: &str) -> BTreeMap<String, Vec<String>> {
    j["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|st| {
            let list = st[key].as_array().unwrap();
            (
                st["step"].as_str().unwrap().to_string(),
                list.iter().map(|a| a.as_str().unwrap().to_string()).collect(),
            )
        })
        .collect()
}

/// Each step's `actions` in a JSON report.
fn actions(j: &Value) -> BTreeMap<String, Vec<String>> {
    per_step(j, "actions")
}

/// Each step's `action_kinds` in a JSON report (one per action, in the same order).
fn kinds(j: &Value) -> BTreeMap<String, Vec<String>> {
    let (texts, kinds) = (actions(j), per_step(j, "action_kinds"));
    for (step, k) in &kinds {
        assert_eq!(k.len(), texts[step].len(), "{step}: {k:?} for {:?}", texts[step]);
    }
    kinds
}

/// Plans, applies, and checks that apply carried out exactly the planned actions (and that they
/// converged the stack). Returns the actions.
fn plan_then_apply(s: &Stack, flags: &[&str]) -> BTreeMap<String, Vec<String>> {
    let with = |cmd: &'static str| {
        let mut args = vec![cmd, "--output", "json"];
        args.extend_from_slice(flags);
        args
    };
    let plan = s.ok(&with("plan")).json();
    let planned = actions(&plan);
    let applied = s.ok(&with("apply"));
    let done = actions(&applied.json());
    assert_eq!(done, planned, "apply did other than plan printed:\n{}", applied.all());
    assert_eq!(kinds(&applied.json()), kinds(&plan), "{}", applied.all());
    assert!(
        planned.values().any(|a| !a.is_empty()) && !applied.writes().is_empty(),
        "a drift with nothing to do:\n{}",
        applied.all()
    );
    let after = s.run(&["status"]);
    assert_eq!(after.code, 0, "{}", after.all());
    planned
}

#[test]
fn for_every_drift_apply_carries_out_exactly_the_planned_actions() {
    for (name, break_it, acting) in drift_cases() {
        let s = Stack::new(&format!("plan-apply-{name}"), "");
        s.ok(&["apply"]);
        break_it(&s, &sdk());
        let done = plan_then_apply(&s, &[]);
        // Only the broken part is touched.
        let touched: Vec<&str> =
            done.iter().filter(|(_, a)| !a.is_empty()).map(|(step, _)| step.as_str()).collect();
        assert_eq!(touched, acting, "{name}: {done:?}");
    }
}

#[test]
fn a_takeover_with_adopt_carries_out_the_planned_adoption() {
    let s = Stack::new("plan-apply-adopt", "");
    block_on(sdk().create_role(&s.role(), CONSOLE_DEFAULT_TRUST));
    // Shown `with --adopt: …`, the adoption keeps its kind.
    let plan = s.ok(&["plan", "--adopt", "--output", "json"]).json();
    assert_eq!(kinds(&plan)["role"], ["tag"]);
    let done = plan_then_apply(&s, &["--adopt"]);
    assert_eq!(done["role"], [format!("with --adopt: tag role {} for this stack", s.role())]);
    assert_eq!(done["trust-policy"], [format!("rewrite the trust policy of role {}", s.role())]);
}

#[test]
fn teardown_lists_the_removal_it_carried_out() {
    let s = Stack::new("plan-apply-teardown", "");
    s.ok(&["apply"]);
    let pool = s.pool_id();
    let r = s.ok(&["teardown", "--output", "json"]);
    let j = r.json();
    let got = actions(&j);
    let want: BTreeMap<String, Vec<String>> = [
        (
            "table",
            vec![format!(
                "keep table {} and its data (pass --delete-table to remove it)",
                s.table()
            )],
        ),
        ("identity-pool", vec![format!("delete identity pool {pool}")]),
        (
            "role",
            vec![
                format!("detach policy {} from it", s.policy()),
                format!("delete role {}", s.role()),
            ],
        ),
        ("trust-policy", vec!["remove with the role".to_string()]),
        ("access-policy", vec![format!("delete policy {}", s.policy())]),
        ("pool-roles", vec!["remove with the identity pool".to_string()]),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_eq!(got, want, "{}", r.all());
    let want_kinds: BTreeMap<String, Vec<String>> = [
        ("table", vec!["keep"]),
        ("identity-pool", vec!["delete"]),
        ("role", vec!["detach-policy", "delete"]),
        ("trust-policy", vec!["with-role-removal"]),
        ("access-policy", vec!["delete"]),
        ("pool-roles", vec!["with-pool-removal"]),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.into_iter().map(String::from).collect()))
    .collect();
    assert_eq!(kinds(&j), want_kinds, "{}", r.all());
    let mut writes = r.writes();
    writes.sort();
    assert_eq!(
        writes,
        ["DeleteIdentityPool", "DeletePolicy", "DeleteRole", "DetachRolePolicy"],
        "{}",
        r.all()
    );
    // Nothing left: no actions, no writes.
    let again = s.ok(&["teardown", "--output", "json"]);
    let left = actions(&again.json());
    let kept: Vec<&String> = left
        .iter()
        .filter(|(step, a)| *step != "table" && !a.is_empty())
        .map(|(step, _)| step)
        .collect();
    assert!(kept.is_empty(), "{left:?}");
    assert!(again.writes().is_empty(), "{}", again.all());
}
