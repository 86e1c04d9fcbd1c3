//! Teardown: reverse order, only what the stack owns, the table kept unless asked.

use aws_sdk_dynamodb::types::AttributeValue;

use crate::harness::*;

#[test]
fn teardown_removes_everything_but_the_table_and_its_data() {
    let s = Stack::new("teardown-keeps-table", "");
    s.ok(&["apply"]);
    let sdk = sdk();
    block_on(
        sdk.dynamodb
            .put_item()
            .table_name(s.table())
            .item("userId", AttributeValue::S("u1".into()))
            .item("createdAt", AttributeValue::S("2026-01-01".into()))
            .send(),
    )
    .unwrap();

    let r = s.ok(&["teardown"]);
    r.stdout_has("kept table");
    r.stdout_has("--delete-table");
    assert!(s.pool_ids().is_empty());
    block_on(async {
        assert!(!sdk.role_exists(&s.role()).await);
        assert!(!sdk.policy_exists(&s.policy_arn()).await);
        let items = sdk.dynamodb.scan().table_name(s.table()).send().await.unwrap();
        assert_eq!(items.count(), 1, "the data survives");
    });
    // Removal order follows the dependencies: the policy is detached before the role and the
    // policy are deleted, and the pool goes only after the role that it points to.
    let at = |op: &str| {
        r.ops.iter().position(|o| o == op).unwrap_or_else(|| panic!("no {op} in {:?}", r.ops))
    };
    assert!(at("DetachRolePolicy") < at("DeleteRole"), "{:?}", r.ops);
    assert!(at("DetachRolePolicy") < at("DeletePolicy"), "{:?}", r.ops);
    assert!(at("DeleteRole") < at("DeleteIdentityPool"), "{:?}", r.ops);
    assert!(!r.ops.iter().any(|o| o == "DeleteTable" || o == "UpdateTable"));

    // Again: nothing to do, no writes.
    let r = s.ok(&["teardown"]);
    r.stdout_has("Nothing to do");
    assert_eq!(r.writes(), Vec::<String>::new());

    // Apply after teardown reuses the kept table.
    let r = s.ok(&["apply"]);
    assert!(!r.ops.iter().any(|o| o == "CreateTable"), "{}", r.all());
    s.ok(&["status"]);
}

#[test]
fn delete_table_needs_yes_without_a_terminal_and_then_removes_the_table() {
    let s = Stack::new("teardown-delete-table", "");
    s.ok(&["apply"]);
    let r = s.run(&["teardown", "--delete-table"]).exits(1);
    r.stderr_has("--yes");
    assert_eq!(r.writes(), Vec::<String>::new(), "nothing removed before confirmation");

    let r = s.ok(&["teardown", "--delete-table", "--yes", "-o", "json"]);
    let j = r.json();
    let done = r.step(&j, "table")["done"].to_string();
    assert!(
        done.contains("turned deletion protection off") && done.contains("deleted table"),
        "{done}"
    );
    assert!(!block_on(sdk().table_exists(&s.table())));
    let r = s.run(&["status"]);
    assert_eq!(r.code, 2);
}

#[test]
fn teardown_leaves_untagged_resources_and_foreign_attachments_alone() {
    let s = Stack::new("teardown-foreign", "");
    s.ok(&["apply"]);
    let sdk = sdk();
    block_on(async {
        // Someone attached the stack's policy to a user of their own...
        sdk.iam.create_user().user_name(format!("{}-user", s.name)).send().await.unwrap();
        sdk.iam
            .attach_user_policy()
            .user_name(format!("{}-user", s.name))
            .policy_arn(s.policy_arn())
            .send()
            .await
            .unwrap();
        // ...and an inline policy to the stack's role.
        sdk.iam
            .put_role_policy()
            .role_name(s.role())
            .policy_name("hand-made")
            .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}"#)
            .send()
            .await
            .unwrap();
    });
    // It grants every signed-in user an S3 read: a security finding (exit 3).
    let r = s.expect(3, &["status"]);
    r.stdout_has("security: inline policy \"hand-made\"");
    let r = s.ok(&["teardown"]);
    r.stdout_has(&format!("still attached to user {}-user", s.name));
    r.stdout_has("kept role");
    r.stdout_has("finished, but kept what others still use");
    block_on(async {
        assert!(sdk.policy_exists(&s.policy_arn()).await);
        assert!(sdk.role_exists(&s.role()).await);
    });
    assert!(!r.ops.iter().any(|o| o == "DeletePolicy" || o == "DeleteRole"));

    // Untagged look-alikes of another "stack" are never touched.
    let other = Stack::new("teardown-foreign-untagged", "");
    block_on(sdk.create_role(&other.role(), r#"{"Version":"2012-10-17","Statement":[]}"#));
    let r = other.ok(&["teardown"]);
    r.stdout_has("left role");
    assert_eq!(r.writes(), Vec::<String>::new());
}

/// Every API call a whole lifecycle makes is allowed by policies/operator.json, and every
/// action the policy grants is used (so it is not broader than needed).
#[test]
fn operator_policy_covers_exactly_the_calls_of_a_lifecycle() {
    let policy: serde_json::Value =
        serde_json::from_str(include_str!("../../policies/operator.json")).unwrap();
    let mut granted = std::collections::BTreeSet::new();
    for st in policy["Statement"].as_array().unwrap() {
        match &st["Action"] {
            serde_json::Value::String(a) => {
                granted.insert(a.clone());
            }
            serde_json::Value::Array(list) => {
                granted.extend(list.iter().map(|a| a.as_str().unwrap().to_string()));
            }
            other => panic!("unexpected Action {other}"),
        }
    }
    let s = Stack::new("operator-policy", "");
    let sdk = sdk();
    // A backend role and user, so the backend policy's paths run too.
    let api = format!("{}-api", s.name);
    let svc = format!("{}-svc", s.name);
    block_on(async {
        sdk.create_role(&api, ECS_TASKS_TRUST).await;
        sdk.iam.create_user().user_name(&svc).send().await.unwrap();
    });
    // Isolation by the user pool sub, so the principal tag map and verify's backend hops run;
    // a group, so its role, policy, role mapping and the user pool group check run (made in the
    // user pool, which setup does not touch, so that verify --group can add its test user).
    let group = format!("{}-admins", s.name);
    block_on(sdk.idp.create_group().user_pool_id(&s.user_pool_id).group_name(&group).send())
        .unwrap();
    s.write_config(&s.table_config(
        "",
        &format!("[backend]\nrole = \"{api}\"\n[policy]\nper_user_isolation = true\n[[groups]]\nname = \"{group}\"\nactions = [\"dynamodb:GetItem\", \"dynamodb:Scan\"]\n"),
    ));
    let mut used = std::collections::BTreeSet::new();
    let mut run = |args: &[&str]| {
        let r = s.run(args);
        // 3: the trust policy broken by hand below lets in more (a security finding).
        assert!([0, 2, 3].contains(&r.code), "{}", r.all());
        used.extend(r.actions.clone());
    };
    run(&["status"]);
    run(&["apply"]);
    // verify (with a test user) and outputs read and write only what the policy allows.
    run(&["verify", "--create-test-user"]);
    run(&["verify", "--create-test-user", "--group", &group]);
    run(&["outputs"]);
    run(&["list"]);
    // Drift in every step, so the update paths run too.
    block_on(async {
        sdk.set_trust_policy(&s.role(), r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"cognito-identity.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#).await;
        sdk.iam
            .detach_role_policy()
            .role_name(s.role())
            .policy_arn(s.policy_arn())
            .send()
            .await
            .unwrap();
        sdk.set_deletion_protection(&s.table(), false).await;
        // An inline policy (it only denies: a note), so its document is read.
        let deny = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"s3:*","Resource":"*"}]}"#;
        let put = sdk.iam.put_role_policy().role_name(s.role()).policy_name("deny-s3");
        put.policy_document(deny).send().await.unwrap();
    });
    run(&["status"]);
    block_on(sdk.iam.delete_role_policy().role_name(s.role()).policy_name("deny-s3").send())
        .unwrap();
    // A customer managed key and TTL, so the table options' calls run too.
    let kms = aws_sdk_kms::Client::new(&block_on(sdk_config(emulator(), &fresh_key())));
    let key = block_on(kms.create_key().send()).unwrap();
    let key = key.key_metadata().unwrap().arn().unwrap().to_string();
    s.write_config(&format!(
        "\n[tags]\nteam = \"web\"\n\n[table]\nname = \"{}\"\npoint_in_time_recovery = false\nttl_attribute = \"expiresAt\"\nencryption = \"customer-managed\"\nkms_key = \"{key}\"\n[identity_pool]\nallow_unauthenticated = true\n[policy]\nactions = [\"dynamodb:Query\"]\n[backend]\nuser = \"{svc}\"\nactions = [\"dynamodb:GetItem\"]\n",
        s.table()
    ));
    // A permissions boundary added to the running stack (bootstrap, an administrator's run,
    // is not the operator's): apply puts it on the existing role, and reads it.
    let text = std::fs::read_to_string(s.config_path()).unwrap();
    let top = format!("permissions_boundary = \"{}-boundary\"\n", s.name);
    std::fs::write(s.config_path(), top + &text).unwrap();
    s.ok(&["bootstrap", "--yes"]);
    run(&["apply"]);
    block_on(sdk.clear_pool_roles(&s.pool_id()));
    run(&["apply"]);
    run(&["teardown", "--delete-table", "--yes"]);

    let not_granted: Vec<&String> = used.iter().filter(|a| !granted.contains(*a)).collect();
    assert!(not_granted.is_empty(), "calls not in operator.json: {not_granted:?}");
    // iam:PassRole is checked by AWS inside SetIdentityPoolRoles, not called directly;
    // cognito-identity:TagResource is what IAM checks for tags passed to Create/UpdateIdentityPool.
    // kms:CreateGrant is what AWS checks when a table is encrypted with a customer managed key.
    let implicit = ["iam:PassRole", "cognito-identity:TagResource", "kms:CreateGrant"];
    let unused: Vec<&String> =
        granted.iter().filter(|a| !used.contains(*a) && !implicit.contains(&a.as_str())).collect();
    assert!(unused.is_empty(), "operator.json grants actions setup never calls: {unused:?}");
}

/// A teardown that runs out of time on the table's wait tells the user to run teardown again,
/// on the step line as in the summary: `setup apply` would create the stack again.
#[test]
fn a_teardown_timed_out_on_the_table_says_to_run_teardown_again() {
    let s = Stack::new("teardown-timeout", "");
    s.ok(&["apply"]);
    set_table_status(&s.table(), "UPDATING");
    let r = s.run(&["teardown", "--delete-table", "--yes", "--wait-timeout", "2s"]);
    set_table_status(&s.table(), "");
    let r = r.exits(1);
    let line = r
        .stdout
        .lines()
        .find(|l| l.contains("within --wait-timeout 2s: it is still UPDATING"))
        .unwrap_or_else(|| panic!("no step line of the timeout:\n{}", r.all()));
    assert!(line.contains("run `setup teardown` again later"), "{line}");
    assert!(!r.all().contains("setup apply"), "{}", r.all());
    // Once the table is ACTIVE, the same teardown finishes.
    s.ok(&["teardown", "--delete-table", "--yes"]);
    assert!(!block_on(sdk().table_exists(&s.table())));
}

/// Without a terminal, progress is plain lines on stderr, one per event, and no line is said
/// twice: CI logs are read line by line. A stack with guests and a protected table, so teardown
/// detaches and deletes two roles and turns protection off before deleting the table (each of
/// which once printed the same line as the step after it).
#[test]
fn plain_progress_says_each_event_once() {
    let s = Stack::new("plain-once", "");
    s.write_config(&s.table_config(
        "deletion_protection = true\n",
        "[identity_pool]\nallow_unauthenticated = true\n[guest]\nactions = [\"dynamodb:GetItem\"]\n",
    ));
    for args in [&["apply"][..], &["teardown", "--delete-table", "--yes"][..]] {
        let r = s.ok(args);
        let lines: Vec<&str> = r.stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        let mut seen = std::collections::BTreeSet::new();
        let repeated: Vec<&str> = lines.iter().copied().filter(|l| !seen.insert(*l)).collect();
        assert!(repeated.is_empty(), "{args:?} repeated {repeated:?}:\n{}", r.stderr);
        for step in ["table", "role", "guest-role"] {
            let prefix = format!("{step}: ");
            assert!(lines.iter().any(|l| l.starts_with(&prefix)), "{args:?}: no {step} line");
        }
    }
}
