//! Each drift: made by hand with plain SDK calls, detected by `status` (exit 2, a diff naming the
//! field), then fixed by `apply`, after which `status` exits 0 again.

use serde_json::json;

use crate::harness::*;

/// Applies a fresh stack, breaks it with `break_it`, and checks detection and repair.
fn drift_case(
    name: &str,
    break_it: impl FnOnce(&Stack, &Sdk),
    step: &str,
    state: &str,
    field: &str,
) -> Stack {
    let s = Stack::new(name, "");
    s.ok(&["apply"]);
    let sdk = sdk();
    break_it(&s, &sdk);

    let r = s.run(&["status", "--output", "json"]);
    let j = r.json();
    // Drift exits 2; with a security finding (a broken document may let in more), 3.
    let code = if j["security_findings"] == serde_json::json!([]) { 2 } else { 3 };
    assert_eq!(r.code, code, "{}", r.all());
    let st = r.step(&j, step);
    assert_eq!(st["state"], state, "{st}");
    if !field.is_empty() {
        let fields: Vec<&str> = st["changes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["field"].as_str().unwrap())
            .collect();
        assert!(fields.iter().any(|f| f.contains(field)), "no change on {field}: {fields:?}");
    }
    // The text report names the field too.
    let text = s.run(&["status"]);
    assert_eq!(text.code, code);
    if !field.is_empty() {
        text.stdout_has(field);
    }

    let fix = s.ok(&["apply"]);
    assert!(!fix.writes().is_empty(), "apply should repair:\n{}", fix.all());
    s.ok(&["status"]);
    assert_eq!(s.pool_ids().len(), 1, "exactly one identity pool");
    s
}

const CONSOLE_DEFAULT_TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"cognito-identity.amazonaws.com"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"cognito-identity.amazonaws.com:aud":"us-east-1:00000000-0000-0000-0000-000000000000"},"ForAnyValue:StringLike":{"cognito-identity.amazonaws.com:amr":"authenticated"}}}]}"#;

#[test]
fn trust_policy_for_another_pool_is_detected_and_rewritten() {
    let s = drift_case(
        "drift-trust-aud",
        |s, sdk| {
            block_on(sdk.set_trust_policy(&s.role(), CONSOLE_DEFAULT_TRUST));
        },
        "trust-policy",
        "drifted",
        "Statement.Condition.StringEquals.cognito-identity.amazonaws.com:aud",
    );
    let r = s.ok(&["apply"]);
    assert!(r.writes().is_empty());
}

#[test]
fn trust_policy_with_wrong_action_is_detected_and_rewritten() {
    drift_case(
        "drift-trust-action",
        |s, sdk| {
            let pool = s.pool_id();
            let doc = CONSOLE_DEFAULT_TRUST
                .replace("us-east-1:00000000-0000-0000-0000-000000000000", &pool)
                .replace("sts:AssumeRoleWithWebIdentity", "sts:AssumeRole");
            block_on(sdk.set_trust_policy(&s.role(), &doc));
        },
        "trust-policy",
        "drifted",
        "Statement.Action",
    );
}

#[test]
fn detached_policy_is_detected_and_reattached() {
    drift_case(
        "drift-detached",
        |s, sdk| {
            block_on(sdk.detach_policy(&s.role(), &s.policy_arn()));
        },
        "access-policy",
        "drifted",
        "attached to role",
    );
}

#[test]
fn changed_policy_document_is_detected_and_replaced_by_a_new_version() {
    drift_case(
        "drift-policy-doc",
        |s, sdk| {
            let doc = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"}]});
            block_on(sdk.set_policy_document(&s.policy_arn(), &doc.to_string()));
        },
        "access-policy",
        "drifted",
        "document.Statement.Resource",
    );
}

#[test]
fn cleared_pool_roles_are_detected_and_set_again() {
    drift_case(
        "drift-pool-roles",
        |s, sdk| {
            block_on(sdk.clear_pool_roles(&s.pool_id()));
        },
        "pool-roles",
        "missing",
        "roles.authenticated",
    );
}

#[test]
fn point_in_time_recovery_turned_off_is_detected_and_turned_on() {
    drift_case(
        "drift-pitr",
        |s, sdk| {
            let spec = aws_sdk_dynamodb::types::PointInTimeRecoverySpecification::builder()
                .point_in_time_recovery_enabled(false)
                .build()
                .unwrap();
            block_on(
                sdk.dynamodb
                    .update_continuous_backups()
                    .table_name(s.table())
                    .point_in_time_recovery_specification(spec)
                    .send(),
            )
            .unwrap();
        },
        "table",
        "drifted",
        "point_in_time_recovery",
    );
}

#[test]
fn deletion_protection_turned_off_is_detected_and_turned_on() {
    drift_case(
        "drift-protection",
        |s, sdk| {
            block_on(sdk.set_deletion_protection(&s.table(), false));
        },
        "table",
        "drifted",
        "deletion_protection",
    );
}

#[test]
fn deleted_table_is_detected_and_recreated() {
    drift_case(
        "drift-table-deleted",
        |s, sdk| {
            block_on(async {
                sdk.set_deletion_protection(&s.table(), false).await;
                sdk.delete_table(&s.table()).await;
            });
        },
        "table",
        "missing",
        "",
    );
}

#[test]
fn deleted_pool_is_detected_and_recreated_with_the_trust_policy_following() {
    let mut old = String::new();
    let s = drift_case(
        "drift-pool-deleted",
        |s, sdk| {
            old = s.pool_id();
            block_on(sdk.identity.delete_identity_pool().identity_pool_id(&old).send()).unwrap();
        },
        "identity-pool",
        "missing",
        "",
    );
    let new = s.pool_id();
    assert_ne!(old, new);
    // The role now trusts the new pool, and the new pool uses the role.
    let j = s.ok(&["status", "-o", "json"]).json();
    assert_eq!(j["ok"], true);
    let trust = block_on(sdk().trust_policy(&s.role()));
    assert!(trust.to_string().contains(&new), "{trust}");
}

#[test]
fn unauthenticated_access_enabled_by_hand_is_detected_and_turned_off() {
    drift_case(
        "drift-unauth",
        |s, sdk| {
            block_on(sdk.update_identity_pool(&s.pool_id(), |update, _| {
                update.allow_unauthenticated_identities(true)
            }));
        },
        "identity-pool",
        "drifted",
        "allow_unauthenticated",
    );
}
