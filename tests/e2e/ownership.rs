//! Ownership without a state file: the `setup:stack` tag, `not owned`, `--adopt`, duplicate pools,
//! and live state that cannot be converged in place.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};

use crate::harness::*;

const CONSOLE_TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"cognito-identity.amazonaws.com"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"cognito-identity.amazonaws.com:aud":"us-east-1:11111111-2222-3333-4444-555555555555"}}}]}"#;

async fn create_table(sdk: &Sdk, name: &str, pk: &str, sk: Option<&str>, tags: &[(&str, &str)]) {
    let mut req = sdk
        .dynamodb
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(
            KeySchemaElement::builder().attribute_name(pk).key_type(KeyType::Hash).build().unwrap(),
        )
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(pk)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        );
    if let Some(sk) = sk {
        req = req
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name(sk)
                    .key_type(KeyType::Range)
                    .build()
                    .unwrap(),
            )
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(sk)
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .unwrap(),
            );
    }
    for (k, v) in tags {
        req = req.tags(aws_sdk_dynamodb::types::Tag::builder().key(*k).value(*v).build().unwrap());
    }
    req.send().await.unwrap();
}

/// What someone following the console steps by hand ends up with: untagged resources with the
/// configured names, a trust policy for some other pool and without the `amr` condition.
fn build_by_hand(s: &Stack, sdk: &Sdk) -> String {
    block_on(async {
        create_table(sdk, &s.table(), "userId", Some("createdAt"), &[]).await;
        let pool = sdk
            .create_identity_pool(&s.pool_name(), Some((&s.user_pool_id, &s.client_id)), &[])
            .await;
        sdk.create_role(&s.role(), CONSOLE_TRUST).await;
        let doc = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":["dynamodb:GetItem"],"Resource":"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{}"}}]}}"#,
            s.table()
        );
        sdk.iam.create_policy().policy_name(s.policy()).policy_document(doc).send().await.unwrap();
        pool
    })
}

#[test]
fn resources_made_by_hand_are_not_owned_until_adopted() {
    let s = Stack::new("adopt-by-hand", "");
    let sdk = sdk();
    let pool_id = build_by_hand(&s, &sdk);

    // The hand-made trust policy has no amr condition: a security finding (exit 3).
    let r = s.expect(3, &["status", "-o", "json"]);
    let j = r.json();
    for step in ["table", "identity-pool", "role", "access-policy"] {
        assert_eq!(r.step(&j, step)["state"], "not_owned", "{step}: {}", r.stdout);
    }

    // Without --adopt, apply changes nothing and says how to proceed.
    s.refuses(&["apply"], "--adopt");

    // plan says apply would refuse (exit 1), and why.
    s.expect(1, &["plan"]).stdout_has("would refuse").no_writes();

    // plan --adopt shows the takeover and still writes nothing.
    s.ok(&["plan", "--adopt"]).stdout_has("with --adopt: tag table").no_writes();

    s.ok(&["apply", "--adopt"])
        .stdout_has("adopted table")
        .stdout_has("adopted identity pool")
        .stdout_has("adopted role")
        .stdout_has("adopted policy");
    s.ok(&["status"]);
    // The pool made by hand was adopted, not duplicated; the trust policy now names it.
    assert_eq!(s.pool_ids(), std::slice::from_ref(&pool_id));
    let trust = block_on(sdk.trust_policy(&s.role())).to_string();
    assert!(trust.contains(&pool_id) && trust.contains("authenticated"), "{trust}");
    // Adopted resources now belong to the stack: apply again is a no-op.
    s.ok(&["apply"]).no_writes();
}

#[test]
fn a_table_of_another_stack_is_never_adopted() {
    let s = Stack::new("other-stacks-table", "");
    let sdk = sdk();
    block_on(create_table(
        &sdk,
        &s.table(),
        "userId",
        Some("createdAt"),
        &[("setup:stack", "someone-else")],
    ));
    s.refuses(&["apply", "--adopt"], "belongs to stack \"someone-else\"");
}

#[test]
fn two_pools_tagged_for_the_stack_stop_with_both_ids() {
    let s = Stack::new("two-tagged-pools", "");
    s.ok(&["apply"]);
    let first = s.pool_id();
    let sdk = sdk();
    let second =
        block_on(sdk.create_identity_pool(&s.pool_name(), None, &[("setup:stack", &s.name)]));
    for cmd in ["status", "apply"] {
        s.refuses(&[cmd], &first).stderr_has(&second);
    }
}

#[test]
fn a_table_with_other_keys_needs_replacement_and_is_never_touched() {
    let s = Stack::new("keys-differ", "");
    let sdk = sdk();
    block_on(create_table(&sdk, &s.table(), "id", None, &[("setup:stack", &s.name)]));
    let r = s.expect(2, &["status", "-o", "json"]);
    let j = r.json();
    let t = r.step(&j, "table");
    assert_eq!(t["state"], "drifted");
    assert!(t["blocked"].as_str().unwrap().contains("replacement required"), "{t}");
    s.refuses(&["apply"], "replacement required");
}

#[test]
/// Issue 22, item 2: a provider the config does not name gets the table role (the trust policy
/// asks only for amr = authenticated), so it is drift with a security finding, and apply removes
/// it (tests/e2e/security.rs has every kind of provider, with IAM enforced).
fn a_pool_with_an_extra_provider_reports_it_and_apply_removes_it() {
    let s = Stack::new("extra-provider", "");
    s.ok(&["apply"]);
    let sdk = sdk();
    block_on(sdk.update_identity_pool(&s.pool_id(), |update, p| {
        let mut providers = p.cognito_identity_providers().to_vec();
        providers.push(
            aws_sdk_cognitoidentity::types::CognitoIdentityProvider::builder()
                .provider_name("cognito-idp.us-east-1.amazonaws.com/us-east-1_Other")
                .client_id("otherclient")
                .build(),
        );
        update
            .allow_unauthenticated_identities(false)
            .set_cognito_identity_providers(Some(providers))
    }));
    let r = s.expect(3, &["status"]);
    r.stdout_has(&format!("security: identity pool {} also trusts user pool provider cognito-idp.us-east-1.amazonaws.com/us-east-1_Other, which the config does not name", s.pool_id()));
    assert_eq!(s.ok(&["apply"]).writes(), ["UpdateIdentityPool"]);
    let providers = block_on(sdk.identity_pool(&s.pool_id())).cognito_identity_providers().len();
    assert_eq!(providers, 1, "only the configured app client is left");
    s.ok(&["status"]);
}
