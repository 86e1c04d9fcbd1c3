//! `setup verify`: the login → credentials → table round trip against the applied stack, with
//! each failure explained in the setup's terms. The emulator's launcher makes the sign-in path
//! faithful (auth flows, Logins tokens, pool roles, trust policy), so the failures are real.

use serde_json::Value;

use crate::harness::*;

fn status_of(j: &Value, name: &str) -> String {
    hop(j, name)["status"].as_str().unwrap().to_string()
}

/// Items in the stack's table (read with plain SDK calls).
fn items(
    s: &Stack,
) -> Vec<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
    let sdk = sdk();
    block_on(sdk.dynamodb.scan().table_name(s.table()).send()).unwrap().items().to_vec()
}

#[test]
fn verify_succeeds_on_a_fresh_stack_and_removes_the_test_user_and_item() {
    let s = Stack::new("verify-ok", "");
    s.ok(&["apply"]);
    let r = s.run(&["verify", "--create-test-user", "--output", "json"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let j = r.json();
    assert_eq!(j["ok"], true);
    assert_eq!(j["exit_code"], 0);
    assert_eq!(j["test_user"], true);
    let user = field(&j, "username").to_string();
    for name in [
        "create-test-user",
        "sign-in",
        "get-id",
        "get-credentials",
        "put-item",
        "get-item",
        "update-item",
        "delete-item",
        "delete-test-user",
    ] {
        assert_eq!(status_of(&j, name), "ok", "{name}: {}", hop(&j, name));
        assert!(hop(&j, name)["duration_ms"].as_f64().unwrap() > 0.0, "{name} has a duration");
    }
    // The default actions do not include Query: not run, and not a failure.
    assert_eq!(status_of(&j, "query"), "skipped");
    assert!(hop(&j, "query")["detail"].as_str().unwrap().contains("dynamodb:Query is not granted"));
    // Shared access: nothing to isolate.
    assert_eq!(status_of(&j, "isolation"), "skipped");
    assert!(hop(&j, "isolation")["detail"]
        .as_str()
        .unwrap()
        .starts_with("per_user_isolation is off"));
    // Who signed what: the app's calls go unsigned, the table calls with the identity's
    // credentials, only the clean-up with the operator's.
    assert_eq!(hop(&j, "sign-in")["signer"], "unsigned");
    assert_eq!(hop(&j, "put-item")["signer"], "identity");
    assert_eq!(hop(&j, "delete-item")["signer"], "operator");
    for op in
        ["PutItem", "GetItem", "UpdateItem", "InitiateAuth", "GetId", "GetCredentialsForIdentity"]
    {
        assert!(
            !r.ops.contains(&op.to_string()),
            "{op} was signed with the operator's key: {:?}",
            r.ops
        );
    }
    for op in ["AdminCreateUser", "AdminSetUserPassword", "DeleteItem", "AdminDeleteUser"] {
        assert!(r.ops.contains(&op.to_string()), "{op} missing: {:?}", r.ops);
    }
    // Nothing is left behind.
    assert!(!user_names().contains(&user), "test user {user} was not deleted");
    assert!(items(&s).is_empty(), "test item left in the table");
    // The stack is untouched: status still in sync, and verify wrote nothing but its own user/item.
    let writes: Vec<String> = r.writes();
    assert_eq!(
        writes,
        ["AdminCreateUser", "AdminSetUserPassword", "DeleteItem", "AdminDeleteUser"],
        "{:?}",
        r.ops
    );
    s.ok(&["status"]);

    // The text report lists every hop with its duration.
    let text = s.ok(&["verify", "--create-test-user"]);
    assert!(text.stdout.contains("ok sign-in"), "{}", text.all());
    assert!(text.stdout.contains(" ms "), "{}", text.all());
    assert!(text.stdout.contains("Verified: "), "{}", text.all());
}

#[test]
fn per_user_isolation_uses_the_identity_id_as_partition_key_and_queries_when_granted() {
    let s = Stack::new("verify-isolated", "");
    s.write_config(&format!(
        "\n[table]\nname = \"{}\"\n\n[policy]\nper_user_isolation = true\nisolation_key = \"identity-id\"\nactions = [\"dynamodb:GetItem\", \"dynamodb:PutItem\", \"dynamodb:UpdateItem\", \"dynamodb:Query\"]\n",
        s.table()
    ));
    s.ok(&["apply"]);
    // The policy carries the LeadingKeys condition on the identity id variable.
    let sdk = sdk();
    let doc = block_on(sdk.default_document(&s.policy_arn()));
    assert_eq!(
        doc["Statement"][0]["Condition"]["ForAllValues:StringEquals"]["dynamodb:LeadingKeys"][0],
        "${cognito-identity.amazonaws.com:sub}",
        "{doc}"
    );

    let j = s.verify(0, &[]).json();
    assert_eq!(j["per_user_isolation"], true);
    let identity = field(&j, "identity_id");
    assert!(identity.starts_with("us-east-1:"), "{identity}");
    assert!(
        hop(&j, "put-item")["detail"].as_str().unwrap().contains(identity),
        "the partition key is the identity id: {}",
        hop(&j, "put-item")
    );
    assert_eq!(status_of(&j, "query"), "ok", "{}", hop(&j, "query"));
    // Isolation is proven, not assumed: another identity's key and a Scan were denied.
    assert_eq!(status_of(&j, "isolation"), "ok", "{}", hop(&j, "isolation"));
    assert_eq!(hop(&j, "isolation")["signer"], "identity");
    assert!(items(&s).is_empty());
}

#[test]
fn cleared_pool_roles_fail_at_get_credentials_with_the_named_cause() {
    let s = Stack::new("verify-no-roles", "");
    s.ok(&["apply"]);
    block_on(sdk().clear_pool_roles(&s.pool_id()));
    let j = s.verify(1, &[]).json();
    assert_eq!(j["ok"], false);
    let h = hop(&j, "get-credentials");
    assert_eq!(h["status"], "failed");
    assert!(field(h, "error").starts_with("InvalidIdentityPoolConfigurationException"), "{h}");
    assert!(field(h, "cause").contains("has no authenticated role"), "{h}");
    assert!(field(h, "cause").contains("setup apply"), "{h}");
    for later in ["put-item", "get-item", "update-item", "query", "isolation", "delete-item"] {
        assert_eq!(status_of(&j, later), "skipped");
    }
    // The test user is deleted even though a hop failed.
    assert_eq!(status_of(&j, "delete-test-user"), "ok");
    assert!(!user_names().contains(&field(&j, "username").to_string()));
    // Text mode says it too, on stdout and in the error line.
    let text = s.run(&["verify", "--create-test-user"]);
    assert_eq!(text.code, 1);
    assert!(text.stdout.contains("cause: identity pool"), "{}", text.all());
    assert!(text.stderr.contains("error: Verify failed at get-credentials"), "{}", text.all());
    // apply repairs it, and verify then passes.
    s.ok(&["apply"]);
    s.ok(&["verify", "--create-test-user"]);
}

#[test]
fn a_trust_policy_for_another_pool_is_named_at_get_credentials() {
    let s = Stack::new("verify-bad-trust", "");
    s.ok(&["apply"]);
    let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"cognito-identity.amazonaws.com"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"cognito-identity.amazonaws.com:aud":"us-east-1:00000000-0000-0000-0000-000000000000"},"ForAnyValue:StringLike":{"cognito-identity.amazonaws.com:amr":"authenticated"}}}]}"#;
    block_on(sdk().set_trust_policy(&s.role(), doc));
    let h = hop(&s.verify(1, &[]).json(), "get-credentials").clone();
    let cause = field(&h, "cause");
    assert!(cause.contains("trust policy does not let"), "{cause}");
    assert!(cause.contains("aud is \"us-east-1:00000000-0000-0000-0000-000000000000\""), "{cause}");
    assert!(cause.contains(&s.pool_id()), "{cause}");
}

#[test]
fn a_wrong_client_id_fails_at_sign_in_and_says_so() {
    let s = Stack::new("verify-bad-client", "");
    s.ok(&["apply"]);
    let j = s.verify(1, &["--client-id", "1nosuchclient234567890"]).json();
    let h = hop(&j, "sign-in");
    assert_eq!(h["status"], "failed");
    assert!(
        field(h, "cause")
            .starts_with("wrong client id: app client 1nosuchclient234567890 does not exist"),
        "{h}"
    );
    assert_eq!(status_of(&j, "delete-test-user"), "ok");
}

#[test]
fn a_client_without_user_password_auth_is_named() {
    let s = Stack::new("verify-no-flow", "");
    s.ok(&["apply"]);
    let srp_only = extra_client("srp-only", &[ExplicitAuthFlowsType::AllowUserSrpAuth]);
    let h = hop(&s.verify(1, &["--client-id", &srp_only]).json(), "sign-in").clone();
    assert!(field(&h, "error").contains("USER_PASSWORD_AUTH flow not enabled"), "{h}");
    assert!(field(&h, "cause").starts_with("auth flow not enabled: app client"), "{h}");
    assert!(field(&h, "cause").contains("ALLOW_USER_PASSWORD_AUTH"), "{h}");
}

#[test]
fn a_client_the_identity_pool_does_not_trust_fails_at_get_id() {
    let s = Stack::new("verify-unlinked", "");
    s.ok(&["apply"]);
    let other = extra_client("unlinked", &[ExplicitAuthFlowsType::AllowUserPasswordAuth]);
    let j = s.verify(1, &["--client-id", &other]).json();
    assert_eq!(status_of(&j, "sign-in"), "ok");
    let h = hop(&j, "get-id");
    assert!(field(h, "error").starts_with("NotAuthorizedException"), "{h}");
    let cause = field(h, "cause");
    assert!(cause.contains(&format!("does not trust app client {other}")), "{cause}");
    assert!(cause.contains("user_pool.client_ids"), "{cause}");
}

#[test]
fn a_wrong_password_is_named_and_no_password_is_ever_printed() {
    let s = Stack::new("verify-password", "");
    s.ok(&["apply"]);
    let user = format!("alice-{}", std::process::id());
    let password = "Correct-Horse-7-battery";
    create_user(&user, password);

    let wrong = "Wrong-Horse-8-battery";
    let r = s.run_env(
        &["verify", "--username", &user, "-o", "json"],
        &[("SETUP_VERIFY_PASSWORD", wrong)],
    );
    assert_eq!(r.code, 1, "{}", r.all());
    let j = r.json();
    let h = hop(&j, "sign-in");
    assert!(field(h, "error").starts_with("NotAuthorizedException"), "{h}");
    assert!(field(h, "cause").starts_with(&format!("wrong password for user {user}")), "{h}");
    assert_eq!(status_of(&j, "create-test-user"), "skipped");
    assert!(!r.stdout.contains(wrong) && !r.stderr.contains(wrong));

    // The right password, from stdin: every hop passes, the user is kept.
    let ok = s.run_stdin(&["verify", "--username", &user], &format!("{password}\n"));
    assert_eq!(ok.code, 0, "{}", ok.all());
    assert!(!ok.stdout.contains(password) && !ok.stderr.contains(password));
    assert!(user_names().contains(&user), "an existing user is never deleted");
    assert!(items(&s).is_empty());

    // No password at all: a clear error before any sign-in.
    let none = s.run(&["verify", "--username", &user]);
    assert_eq!(none.code, 1);
    assert!(none.stderr.contains("SETUP_VERIFY_PASSWORD"), "{}", none.all());
    assert!(!none.ops.iter().any(|o| o == "InitiateAuth"));
}

#[test]
fn verify_needs_an_applied_stack_and_a_way_to_sign_in() {
    let s = Stack::new("verify-not-applied", "");
    let r = s.run(&["verify", "--create-test-user"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(r.stderr.contains("is not applied"), "{}", r.all());
    assert!(r.stderr.contains("setup apply"), "{}", r.all());
    assert!(r.writes().is_empty(), "{:?}", r.ops);
    // Neither --username nor --create-test-user: usage error from the parser.
    let r = s.run(&["verify"]);
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(r.stderr.contains("--username"), "{}", r.all());
}

/// Issue 9, row 8: right after apply, Cognito refuses the new role until IAM has propagated it
/// (the realistic emulator enforces `iam_propagation` seconds). verify's own diagnosis finds the
/// wiring right, so it waits instead of reporting a misconfiguration that is not there.
#[test]
fn verify_right_after_apply_waits_for_iam_to_propagate() {
    let emu = realistic_emulator();
    let s = Stack::on(emu, "verify-propagation", "");
    s.ok(&["apply"]);
    // Text mode: the progress line says what it waits for; the hop says how long it took.
    let r = s.run(&["verify", "--create-test-user"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(r.stderr.contains("waiting for IAM to propagate role"), "{}", r.all());
    assert!(r.stdout.contains("for IAM to propagate the role to Cognito)"), "{}", r.all());
    // Once propagated, verify does not wait.
    let again = s.run(&["verify", "--create-test-user", "-o", "json"]);
    assert_eq!(again.code, 0, "{}", again.all());
    let d = hop(&again.json(), "get-credentials")["detail"].as_str().unwrap().to_string();
    assert!(!d.contains("waiting"), "{d}");
}

#[test]
fn a_propagation_timeout_too_short_says_it_may_still_be_propagating() {
    let emu = realistic_emulator();
    let s = Stack::on(emu, "verify-propagation-short", "");
    s.ok(&["apply"]);
    // A trust policy rewritten by hand (the same document) restarts the propagation window,
    // made longer here (other tests on this emulator only wait a little longer meanwhile).
    let window = emu.realistic()["iam_propagation"].clone();
    emu.set_realistic(serde_json::json!({"iam_propagation": 10.0}));
    let sdk = emu.sdk();
    let doc = setup::policy_doc::trust_policy(&s.pool_id(), &s.provider()).to_string();
    block_on(sdk.iam.update_assume_role_policy().role_name(s.role()).policy_document(doc).send())
        .unwrap();
    let r = s.run(&["verify", "--create-test-user", "--propagation-timeout", "2s", "-o", "json"]);
    emu.set_realistic(serde_json::json!({ "iam_propagation": window }));
    assert_eq!(r.code, 1, "{}", r.all());
    let j = r.json();
    let h = hop(&j, "get-credentials");
    assert_eq!(h["status"], "failed", "{h}");
    assert!(field(h, "error").starts_with("InvalidIdentityPoolConfigurationException"), "{h}");
    let cause = field(h, "cause");
    let refused = format!(
        "Cognito still refuses identity pool {}'s role configuration after waiting 2s (--propagation-timeout), although its authenticated role {} exists and trusts the pool: IAM may still be propagating",
        s.pool_id(),
        s.role()
    );
    assert!(cause.starts_with(&refused), "{cause}");
    assert!(!cause.contains("trust policy does not let"), "{cause}");
    // It waited the bound, not less.
    assert!(h["duration_ms"].as_f64().unwrap() >= 2000.0, "{h}");
    // A real misconfiguration is still named at once, without waiting.
    block_on(
        sdk.identity
            .set_identity_pool_roles()
            .identity_pool_id(s.pool_id())
            .set_roles(Some(Default::default()))
            .send(),
    )
    .unwrap();
    let r = s.run(&["verify", "--create-test-user", "-o", "json"]);
    let h = hop(&r.json(), "get-credentials").clone();
    assert!(field(&h, "cause").contains("has no authenticated role"), "{h}");
    assert!(h["duration_ms"].as_f64().unwrap() < 2000.0, "{h}");
}
