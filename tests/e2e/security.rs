//! Grants on the stack's roles beyond the config (issue 22, item 1): every signed-in user holds
//! the authenticated role's credentials, so a policy added by hand is a security finding, and
//! `status` exits 3 with the finding in `security_findings`, which a drift check fails on. The
//! emulator enforces IAM on the identity's credentials: the grant is real before it is reported.

use serde_json::{json, Value};

use crate::harness::*;
use crate::isolation::{sign_in, stack, DENIED};

fn put_inline(role: &str, name: &str, doc: &Value) {
    let sdk = sdk();
    let call = sdk.iam.put_role_policy().role_name(role).policy_name(name);
    block_on(call.policy_document(doc.to_string()).send()).unwrap();
}

fn delete_inline(role: &str, name: &str) {
    block_on(sdk().iam.delete_role_policy().role_name(role).policy_name(name).send()).unwrap();
}

/// The findings of a status report, as (step, finding).
fn findings(j: &Value) -> Vec<(String, String)> {
    j["security_findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["step"].as_str().unwrap().into(), f["finding"].as_str().unwrap().into()))
        .collect()
}

#[test]
fn a_role_made_admin_by_hand_makes_status_fail_with_a_security_finding() {
    let s = stack("sec-admin", "");
    s.ok(&["apply"]);
    let j = s.expect(0, &["status", "-o", "json"]).json();
    assert_eq!(j["security_findings"], json!([]), "{j}");

    let alice = sign_in(&s, &format!("sec-admin-{}", std::process::id()));
    let t = s.table();
    assert_eq!(alice.scan(&t).as_deref(), DENIED, "the config grants no Scan");

    // An inline policy with Action "*": Alice can now do anything, Scan included.
    let admin = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]});
    put_inline(&s.role(), "break-glass", &admin);
    assert_eq!(alice.scan(&t), None, "the inline policy grants every signed-in user a Scan");
    let r = s.expect(3, &["status", "-o", "json"]);
    let j = r.json();
    assert_eq!(j["ok"], false);
    assert_eq!(j["exit_code"], 3);
    let inline = format!(
        "inline policy \"break-glass\" on role {} grants every action (\"*\") on every resource (\"*\"): every signed-in user gets it, beyond the config; setup leaves it as is: delete it",
        s.role()
    );
    assert_eq!(findings(&j), [("role".to_string(), inline.clone())]);
    assert_eq!(r.step(&j, "role")["state"], "in_sync", "nothing for apply to converge");
    assert!(
        j["summary"].as_str().unwrap().starts_with("1 security finding: see the `security:` note."),
        "{j}"
    );
    assert!(r.count("GetRolePolicy") == 1, "{:?}", r.ops);
    // The text report says it too, with the same exit code.
    let r = s.expect(3, &["status"]);
    r.stdout_has(&format!("security: {inline}"));

    // An inline policy that only denies grants nothing: a note, and status is green again.
    delete_inline(&s.role(), "break-glass");
    let deny = json!({"Version": "2012-10-17", "Statement": {"Effect": "Deny", "Action": "dynamodb:DeleteTable", "Resource": "*"}});
    put_inline(&s.role(), "guard", &deny);
    let j = s.expect(0, &["status", "-o", "json"]).json();
    assert_eq!(
        s.run(&["status", "-o", "json"]).step(&j, "role")["notes"],
        json!([
            "has inline policy \"guard\" (not managed by setup; it allows nothing, so left as is)"
        ])
    );
    delete_inline(&s.role(), "guard");

    // AdministratorAccess attached: named for what it is, not for DynamoDB.
    let admin_arn = "arn:aws:iam::aws:policy/AdministratorAccess";
    let sdk = sdk();
    block_on(sdk.iam.attach_role_policy().role_name(s.role()).policy_arn(admin_arn).send())
        .unwrap();
    assert_eq!(alice.scan(&t), None, "AdministratorAccess grants every signed-in user a Scan");
    let j = s.expect(3, &["status", "-o", "json"]).json();
    assert_eq!(
        findings(&j),
        [(
            "role".to_string(),
            format!("AWS managed policy AdministratorAccess is attached to role {}: every signed-in user gets what it grants (every action on every resource of the account); setup leaves it attached: detach it", s.role())
        )]
    );
    // Drift as well: the findings come first, and the exit code is still 3.
    block_on(sdk.set_deletion_protection(&s.table(), false));
    let j = s.expect(3, &["status", "-o", "json"]).json();
    let summary = j["summary"].as_str().unwrap();
    assert!(summary.starts_with("1 security finding: see the `security:` note. 1 drifted"), "{j}");
    block_on(sdk.detach_policy(&s.role(), admin_arn));
    s.ok(&["apply"]);
    s.expect(0, &["status"]);
}

#[test]
fn a_policy_attached_to_the_guest_role_is_a_security_finding() {
    let s = stack("sec-guest", "[identity_pool]\nallow_unauthenticated = true\n[guest]\nactions = [\"dynamodb:GetItem\"]\n");
    s.ok(&["apply"]);
    s.expect(0, &["status"]);
    let guest_role = format!("{}-cognito-guest", s.name);
    let doc = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["dynamodb:DeleteItem", "dynamodb:PutItem"], "Resource": "*"}]});
    put_inline(&guest_role, "writes", &doc);
    let j = s.expect(3, &["status", "-o", "json"]).json();
    assert_eq!(
        findings(&j),
        [(
            "guest-role".to_string(),
            format!("inline policy \"writes\" on role {guest_role} grants dynamodb:DeleteItem, dynamodb:PutItem on every resource (\"*\"): every guest (anyone on the internet) gets it, beyond the config; setup leaves it as is: delete it")
        )]
    );
}

/// DynamoDB credentials of a guest (an unauthenticated identity) of the stack's pool.
fn guest_ddb(s: &Stack) -> aws_sdk_dynamodb::Client {
    let emu = s.emu;
    let pool_id = s.pool_id();
    block_on(async {
        let conf = sdk_config(emu, &fresh_key()).await;
        let identity = aws_sdk_cognitoidentity::Client::new(&conf);
        let id = identity.get_id().identity_pool_id(&pool_id).send().await.unwrap();
        let id = id.identity_id().unwrap().to_string();
        let creds = identity.get_credentials_for_identity().identity_id(&id).send().await.unwrap();
        dynamodb_as(&conf, creds.credentials().unwrap(), "guest")
    })
}

/// Issue 22, item 3: guests (and app users, and backends) get item actions only. Actions on
/// the table itself and names that are no DynamoDB action are refused before any call, by
/// every command that reads the config; a guest Scan is allowed, with a security warning that
/// is true: a guest, with no account at all, reads the whole table.
#[test]
fn guests_get_item_actions_only_and_a_guest_scan_is_said_to_be_public() {
    const ON: &str = "[identity_pool]\nallow_unauthenticated = true\n[guest]\n";
    for (i, (action, why)) in [
        ("dynamodb:PutResourcePolicy", "acts on the table itself, not on its items"),
        ("dynamodb:UpdateTable", "acts on the table itself, not on its items"),
        ("dynamodb:DeleteTable", "acts on the table itself, not on its items"),
        ("dynamodb:NotARealAction", "is not a DynamoDB action: IAM's list of DynamoDB actions"),
    ]
    .into_iter()
    .enumerate()
    {
        let s = stack(
            &format!("sec-guest-refuse-{i}"),
            &format!("{ON}actions = [\"dynamodb:GetItem\", \"{action}\"]\n"),
        );
        for cmd in [&["plan"][..], &["apply"], &["export", "--format", "terraform"]] {
            let r = s.run(cmd);
            assert_eq!(r.code, 1, "{action} {cmd:?}: {}", r.all());
            r.stderr_has(&format!("guest.actions.1: \"{action}\" {why}"));
            r.stderr_has("dynamodb:GetItem, dynamodb:PartiQLDelete");
            assert!(r.ops.is_empty(), "refused before any AWS call: {:?}", r.ops);
        }
    }

    let s = stack(
        "sec-guest-scan",
        &format!("{ON}actions = [\"dynamodb:GetItem\", \"dynamodb:Scan\"]\n"),
    );
    let r = s.ok(&["apply"]);
    r.stderr_has("guest.actions.1: security: dynamodb:Scan lets anyone on the internet read every item of the table");
    let guest = guest_ddb(&s);
    let t = s.table();
    block_on(
        sdk()
            .dynamodb
            .put_item()
            .table_name(&t)
            .set_item(Some(crate::isolation::key("someone")))
            .send(),
    )
    .unwrap();
    let all = block_on(guest.scan().table_name(&t).send()).expect("the guest may Scan");
    assert_eq!(all.count(), 1, "the guest read another user's item");
    // A status that only repeats the config's choice stays green: the warning is the note.
    s.expect(0, &["status"]).stderr_has("security: dynamodb:Scan lets anyone");
    // Without Scan, the same guest is refused: the warning was about a real grant.
    s.write_config(&format!("\n[table]\nname = \"{t}\"\n\n{ON}actions = [\"dynamodb:GetItem\"]\n"));
    let r = s.ok(&["apply"]);
    assert!(!r.stderr.contains("security:"), "{}", r.all());
    let denied = block_on(guest.scan().table_name(&t).send()).unwrap_err();
    assert_eq!(
        aws_smithy_types::error::metadata::ProvideErrorMetadata::code(&denied),
        Some("AccessDeniedException")
    );
}

/// A user of `pool` (a user pool with app client `client`) signed in to the identity pool
/// `identity_pool`: its DynamoDB client, or the error code of GetId.
fn sign_in_with(
    s: &Stack,
    (pool, client): (&str, &str),
    user: &str,
) -> Result<aws_sdk_dynamodb::Client, String> {
    use aws_smithy_types::error::metadata::ProvideErrorMetadata;
    let password = "Providers-Test-7-pw!";
    let sdk = sdk();
    let emu = s.emu;
    let identity_pool = s.pool_id();
    block_on(async {
        let suppress = aws_sdk_cognitoidentityprovider::types::MessageActionType::Suppress;
        let made = sdk.idp.admin_create_user().user_pool_id(pool).username(user);
        made.message_action(suppress).send().await.unwrap();
        let set = sdk.idp.admin_set_user_password().user_pool_id(pool).username(user);
        set.password(password).permanent(true).send().await.unwrap();
        let conf = sdk_config(emu, &fresh_key()).await;
        let idp = aws_sdk_cognitoidentityprovider::Client::new(&conf);
        let auth = idp
            .initiate_auth()
            .client_id(client)
            .auth_flow(aws_sdk_cognitoidentityprovider::types::AuthFlowType::UserPasswordAuth)
            .auth_parameters("USERNAME", user)
            .auth_parameters("PASSWORD", password)
            .send()
            .await
            .unwrap();
        let token = auth.authentication_result().unwrap().id_token().unwrap().to_string();
        let provider = format!("cognito-idp.{REGION}.amazonaws.com/{pool}");
        let identity = aws_sdk_cognitoidentity::Client::new(&conf);
        let id = identity.get_id().identity_pool_id(&identity_pool).logins(&provider, &token);
        let id = id.send().await.map_err(|e| e.code().unwrap_or("no code").to_string())?;
        let id = id.identity_id().unwrap().to_string();
        let creds =
            identity.get_credentials_for_identity().identity_id(&id).logins(&provider, &token);
        let creds = creds.send().await.map_err(|e| e.code().unwrap_or("no code").to_string())?;
        Ok(dynamodb_as(&conf, creds.credentials().unwrap(), "other-pool"))
    })
}

/// Issue 22, item 2: providers nobody configured. A user of another user pool added to the
/// identity pool by hand is a signed-in identity of the pool; the role's trust policy names the
/// configured user pool in `amr`, so Cognito refuses them the role, but with the console's trust
/// policy (`amr = authenticated` only) they get the table role (the emulator enforces IAM on
/// their credentials); Google, OpenID Connect, SAML and the basic flow the same way (their logins
/// are not emulated). `status` reports each provider as drift with a security finding (exit 3)
/// and the trust policy as drift, `plan` shows the updates, and `apply` leaves the configured
/// user pool's clients as the only way in.
#[test]
fn providers_nobody_configured_are_security_findings_and_apply_removes_them() {
    let s = stack("sec-providers", "");
    s.ok(&["apply"]);
    let sdk = sdk();
    let pool_id = s.pool_id();
    let described = block_on(sdk.identity_pool(&pool_id));
    let ours = described.cognito_identity_providers();
    assert_eq!(ours.len(), 1);
    assert_eq!(ours[0].server_side_token_check(), Some(true), "the default is on");

    // Another user pool, and the other kinds of provider, added by hand.
    let name = format!("sec-providers-other-{}", std::process::id());
    let (other_pool, other_client) =
        block_on(sdk.user_pool_with_app_client(sdk.idp.create_user_pool().pool_name(name)));
    let other = format!("cognito-idp.{REGION}.amazonaws.com/{other_pool}");
    let oidc = format!("arn:aws:iam::{ACCOUNT}:oidc-provider/idp.example.com");
    let saml = format!("arn:aws:iam::{ACCOUNT}:saml-provider/corp");
    block_on(sdk.update_identity_pool(&pool_id, |u, _| {
        let extra = aws_sdk_cognitoidentity::types::CognitoIdentityProvider::builder()
            .provider_name(&other)
            .client_id(&other_client)
            .build();
        u.cognito_identity_providers(extra)
            .supported_login_providers("accounts.google.com", "app.apps.googleusercontent.com")
            .open_id_connect_provider_arns(&oidc)
            .saml_provider_arns(&saml)
            .allow_classic_flow(true)
    }));
    assert_eq!(
        sign_in_with(&s, (&other_pool, &other_client), "stranger-0").err().as_deref(),
        Some("InvalidIdentityPoolConfigurationException"),
        "the trust policy names the configured user pool: the other pool's users get no role"
    );
    // The console's trust policy names no user pool: then the other pool's users get the role.
    let mut console = setup::policy_doc::trust_policy(&pool_id, &s.provider());
    console["Statement"][0]["Condition"]
        .as_object_mut()
        .unwrap()
        .remove("ForAnyValue:StringEquals");
    block_on(sdk.set_trust_policy(&s.role(), &console.to_string()));
    let stranger = sign_in_with(&s, (&other_pool, &other_client), "stranger")
        .expect("the other user pool's user gets credentials");
    let t = s.table();
    let item = crate::isolation::key("anything");
    let put = block_on(stranger.put_item().table_name(&t).set_item(Some(item.clone())).send());
    assert!(put.is_ok(), "the other pool's user writes to the table: {put:?}");

    let r = s.expect(3, &["status", "-o", "json"]);
    let j = r.json();
    assert_eq!(r.step(&j, "trust-policy")["state"], "drifted");
    let step = r.step(&j, "identity-pool");
    assert_eq!(step["state"], "drifted", "{step}");
    let fields: Vec<&str> =
        step["changes"].as_array().unwrap().iter().map(|c| c["field"].as_str().unwrap()).collect();
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
    let found = findings(&j);
    assert_eq!(found.len(), 5, "{found:?}");
    assert!(found.iter().all(|(st, _)| st == "identity-pool"), "{found:?}");
    assert_eq!(
        found[1].1,
        format!("identity pool {pool_id} accepts sign-in provider accounts.google.com, which the config does not name: anyone with an account there gets signed-in identities of this pool (amr = authenticated), kept from the table role only by the role's trust policy naming the configured user pool (a role or role mapping added by hand would not); apply removes it")
    );
    s.run(&["plan"]).exits(0).stdout_has(&format!("will: update identity pool {pool_id}"));

    s.ok(&["apply"]);
    let after = block_on(sdk.identity_pool(&pool_id));
    let names: Vec<&str> =
        after.cognito_identity_providers().iter().filter_map(|p| p.provider_name()).collect();
    assert_eq!(names, [format!("cognito-idp.{REGION}.amazonaws.com/{}", s.user_pool_id)]);
    assert!(after.supported_login_providers().is_none_or(|m| m.is_empty()), "{after:?}");
    assert!(after.open_id_connect_provider_arns().is_empty(), "{after:?}");
    assert!(after.saml_provider_arns().is_empty(), "{after:?}");
    assert_eq!(after.allow_classic_flow(), Some(false));
    assert_eq!(
        sign_in_with(&s, (&other_pool, &other_client), "stranger-2").err().as_deref(),
        Some("NotAuthorizedException"),
        "the other pool's users are refused now"
    );
    s.expect(0, &["status"]);
}

/// GetId then GetCredentialsForIdentity with a user pool ID token: "ok" or the error code.
fn credentials_with(s: &Stack, token: &str) -> String {
    use aws_smithy_types::error::metadata::ProvideErrorMetadata;
    let emu = s.emu;
    let pool = s.pool_id();
    let provider = format!("cognito-idp.{REGION}.amazonaws.com/{}", s.user_pool_id);
    block_on(async {
        let conf = sdk_config(emu, &fresh_key()).await;
        let identity = aws_sdk_cognitoidentity::Client::new(&conf);
        let id =
            match identity.get_id().identity_pool_id(&pool).logins(&provider, token).send().await {
                Ok(id) => id.identity_id().unwrap().to_string(),
                Err(e) => return e.code().unwrap_or("no code").to_string(),
            };
        let creds =
            identity.get_credentials_for_identity().identity_id(&id).logins(&provider, token);
        match creds.send().await {
            Ok(_) => "ok".to_string(),
            Err(e) => e.code().unwrap_or("no code").to_string(),
        }
    })
}

/// Issue 22, item 2: `server_side_token_check`, on by default, makes Cognito refuse the ID
/// token of a user who signed out everywhere (the emulator asks its user pool, as Cognito does);
/// with `false` the same token still gets credentials until it expires.
#[test]
fn a_signed_out_users_token_gets_no_credentials_with_the_server_side_check() {
    let s = stack("sec-token-check", "");
    s.ok(&["apply"]);
    let user = format!("sec-token-{}", std::process::id());
    let password = "Token-Check-7-pw!";
    create_user(&user, password);
    let token = block_on(async {
        let conf = sdk_config(s.emu, &fresh_key()).await;
        let idp = aws_sdk_cognitoidentityprovider::Client::new(&conf);
        let auth = idp
            .initiate_auth()
            .client_id(&s.client_id)
            .auth_flow(aws_sdk_cognitoidentityprovider::types::AuthFlowType::UserPasswordAuth)
            .auth_parameters("USERNAME", &user)
            .auth_parameters("PASSWORD", password)
            .send()
            .await
            .unwrap();
        auth.authentication_result().unwrap().id_token().unwrap().to_string()
    });
    assert_eq!(credentials_with(&s, &token), "ok");
    let sdk = sdk();
    let out = sdk.idp.admin_user_global_sign_out().user_pool_id(&s.user_pool_id).username(&user);
    block_on(out.send()).unwrap();
    assert_eq!(credentials_with(&s, &token), "NotAuthorizedException", "signed out everywhere");

    // The trade-off, turned off: the status says what changes, apply writes it, and the same
    // revoked token gets credentials again.
    s.write_config(&format!(
        "\n[table]\nname = \"{}\"\n\n[identity_pool]\nserver_side_token_check = false\n",
        s.table()
    ));
    let r = s.expect(2, &["status", "-o", "json"]);
    let j = r.json();
    let field = format!(
        "providers.cognito-idp.{REGION}.amazonaws.com/{}.server_side_token_check",
        s.user_pool_id
    );
    assert_eq!(
        r.step(&j, "identity-pool")["changes"],
        json!([{"field": field, "live": true, "desired": false}])
    );
    s.ok(&["apply"]);
    assert_eq!(credentials_with(&s, &token), "ok", "unchecked: any unexpired token");
}
