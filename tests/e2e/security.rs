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
        let c = creds.credentials().unwrap();
        let creds = aws_sdk_dynamodb::config::Credentials::new(
            c.access_key_id().unwrap(),
            c.secret_key().unwrap(),
            c.session_token().map(str::to_string),
            None,
            "guest",
        );
        let conf = aws_sdk_dynamodb::config::Builder::from(&conf).credentials_provider(creds);
        aws_sdk_dynamodb::Client::from_conf(conf.build())
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
