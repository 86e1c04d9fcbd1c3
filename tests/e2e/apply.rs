//! Fresh apply, idempotence, plan and status on a healthy stack.

use serde_json::{json, Value};
use setup::policy_doc::{equivalent, parse};

use crate::harness::*;

fn expected_trust(pool_id: &str, provider: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": "cognito-identity.amazonaws.com"},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "StringEquals": {"cognito-identity.amazonaws.com:aud": pool_id},
                "ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": "authenticated"},
                "ForAnyValue:StringEquals": {"cognito-identity.amazonaws.com:amr": provider}
            }
        }]
    })
}

fn expected_access(table: &str, actions: &[&str]) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Action": actions,
            "Resource": format!("arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{table}")
        }]
    })
}

#[test]
fn fresh_apply_creates_every_piece_with_the_expected_documents_and_tags() {
    let s = Stack::new("fresh-apply", "");
    let r = s.ok(&["apply"]);
    r.stdout_has("Applied:");
    let pool_id = s.pool_id();
    let sdk = sdk();
    let want_tags = tag_map([
        ("setup:stack".to_string(), s.name.clone()),
        ("team".to_string(), "mobile".to_string()),
    ]);
    // IAM is global: the role and policy also say which region's stack they belong to.
    let mut want_iam_tags = want_tags.clone();
    want_iam_tags.insert("setup:region".to_string(), REGION.to_string());
    block_on(async {
        // 1. table: keys, on-demand, deletion protection, PITR, tags
        let t = sdk.table(&s.table()).await;
        let keys: Vec<(String, String)> = t
            .key_schema()
            .iter()
            .map(|k| (k.attribute_name().to_string(), k.key_type().as_str().to_string()))
            .collect();
        assert_eq!(keys, [("userId".into(), "HASH".into()), ("createdAt".into(), "RANGE".into())]);
        assert_eq!(
            t.billing_mode_summary().and_then(|b| b.billing_mode()).map(|m| m.as_str()),
            Some("PAY_PER_REQUEST")
        );
        assert_eq!(t.deletion_protection_enabled(), Some(true));
        let pitr =
            sdk.dynamodb.describe_continuous_backups().table_name(s.table()).send().await.unwrap();
        let status = pitr
            .continuous_backups_description()
            .and_then(|c| c.point_in_time_recovery_description())
            .and_then(|p| p.point_in_time_recovery_status())
            .map(|s| s.as_str().to_string());
        assert_eq!(status.as_deref(), Some("ENABLED"));
        let tags = sdk
            .dynamodb
            .list_tags_of_resource()
            .resource_arn(t.table_arn().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(tag_map(tags.tags()), want_tags);

        // 2. identity pool: authenticated only, linked to the user pool's client, tagged
        let p = sdk.identity_pool(&pool_id).await;
        assert!(!p.allow_unauthenticated_identities());
        let providers: Vec<(String, String)> = p
            .cognito_identity_providers()
            .iter()
            .map(|c| (c.provider_name().unwrap().to_string(), c.client_id().unwrap().to_string()))
            .collect();
        assert_eq!(
            providers,
            [(
                format!("cognito-idp.{REGION}.amazonaws.com/{}", s.user_pool_id),
                s.client_id.clone()
            )]
        );
        // Besides the stack's tags, the pool records its creation (used to settle races).
        let mut pool_tags = tag_map(p.identity_pool_tags().unwrap().clone());
        let created = pool_tags.remove("setup:created").expect("creation tag");
        assert!(created.split('-').next().unwrap().parse::<u128>().is_ok(), "{created}");
        assert_eq!(pool_tags, want_tags);

        // 3. role: trust policy scoped to this pool's authenticated users; the pool uses it
        let role = sdk.iam.get_role().role_name(s.role()).send().await.unwrap();
        let role = role.role().unwrap();
        let trust = parse(role.assume_role_policy_document().unwrap()).unwrap();
        assert!(equivalent(&trust, &expected_trust(&pool_id, &s.provider())), "{trust}");
        assert_eq!(tag_map(role.tags()), want_iam_tags);
        let roles =
            sdk.identity.get_identity_pool_roles().identity_pool_id(&pool_id).send().await.unwrap();
        assert_eq!(
            roles.roles().unwrap().get("authenticated").map(String::as_str),
            Some(s.role_arn().as_str())
        );

        // 4. policy: scoped to the table, default actions, tagged, attached to the role
        let pol = sdk.iam.get_policy().policy_arn(s.policy_arn()).send().await.unwrap();
        let pol = pol.policy().unwrap();
        assert_eq!(tag_map(pol.tags()), want_iam_tags);
        let doc = sdk.default_document(&s.policy_arn()).await;
        assert!(
            equivalent(
                &doc,
                &expected_access(
                    &s.table(),
                    &["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]
                )
            ),
            "{doc}"
        );
        assert_eq!(sdk.attached_policy_arns(&s.role()).await, [s.policy_arn()]);
    });
}

#[test]
fn second_apply_makes_zero_writes() {
    let s = Stack::new("second-apply", "");
    s.ok(&["apply"]);
    let r = s.ok(&["apply"]);
    assert_eq!(r.writes(), Vec::<String>::new(), "{}", r.all());
    r.stdout_has("No changes");
    // A converged apply is a read-only pass: at most 18 calls (GetResourcePolicy is the 18th).
    assert!(r.ops.len() <= 18, "{} calls: {:?}", r.ops.len(), r.ops);
    let j = s.ok(&["apply", "--output", "json"]).json();
    assert_eq!(j["ok"], true);
    for step in j["steps"].as_array().unwrap() {
        assert_eq!(step["state"], "in_sync", "{step}");
        assert_eq!(step["done"], json!([]), "{step}");
    }
}

#[test]
fn status_exits_0_when_in_sync_and_reports_every_step() {
    let s = Stack::new("status-in-sync", "");
    s.ok(&["apply"]);
    let r = s.ok(&["status"]);
    for step in STEPS {
        let line = r
            .stdout
            .lines()
            .find(|l| l.split_whitespace().nth(1) == Some(step))
            .unwrap_or_else(|| panic!("no line for {step}:\n{}", r.stdout));
        assert!(line.contains("in sync"), "{line}");
    }
    assert_eq!(r.writes(), Vec::<String>::new());
    let j = s.ok(&["status", "-o", "json"]).json();
    assert_eq!(j["command"], "status");
    assert_eq!(j["stack"], s.name.as_str());
    assert_eq!(j["account"], ACCOUNT);
    assert_eq!(j["exit_code"], 0);
    assert_eq!(j["steps"].as_array().unwrap().len(), 6);
}

#[test]
fn status_of_a_new_stack_exits_2_with_everything_missing() {
    let s = Stack::new("status-missing", "");
    let r = s.run(&["status", "--output", "json"]).exits(2);
    let j = r.json();
    assert_eq!(j["ok"], false);
    for step in j["steps"].as_array().unwrap() {
        assert_eq!(step["state"], "missing", "{step}");
    }
    assert_eq!(r.writes(), Vec::<String>::new());
}

#[test]
fn plan_and_dry_run_make_no_writes() {
    let s = Stack::new("plan-no-writes", "");
    for args in [&["plan"][..], &["apply", "--dry-run"][..]] {
        let r = s.ok(args);
        assert_eq!(r.writes(), Vec::<String>::new(), "{}", r.all());
        r.stdout_has("will: create table");
        r.stdout_has("would change");
    }
    assert!(s.pool_ids().is_empty());
    // On a drifted stack too.
    s.ok(&["apply"]);
    s.write_config(
        &s.table_config("", "[policy]\nactions = [\"dynamodb:GetItem\", \"dynamodb:Query\"]\n"),
    );
    let r = s.ok(&["plan", "-o", "json"]);
    assert_eq!(r.writes(), Vec::<String>::new());
    let j = r.json();
    let step = r.step(&j, "access-policy");
    assert_eq!(step["state"], "drifted");
    assert_eq!(step["changes"][0]["field"], "document.Statement.Action");
}

#[test]
fn provisioned_billing_without_sort_key_then_switch_to_on_demand() {
    let s = Stack::new("provisioned", "");
    let table = |billing: &str| {
        format!(
            "\n[table]\nname = \"{}\"\npartition_key = {{ name = \"pk\", type = \"N\" }}\n{billing}\npoint_in_time_recovery = false\ndeletion_protection = false\n",
            s.table()
        )
    };
    s.write_config(&table("billing_mode = \"PROVISIONED\"\nread_capacity = 2\nwrite_capacity = 3"));
    s.ok(&["apply"]);
    let sdk = sdk();
    let t = block_on(sdk.table(&s.table()));
    assert_eq!(t.key_schema().len(), 1);
    assert_eq!(t.attribute_definitions()[0].attribute_type().as_str(), "N");
    let p = t.provisioned_throughput().unwrap();
    assert_eq!((p.read_capacity_units(), p.write_capacity_units()), (Some(2), Some(3)));
    assert_eq!(t.deletion_protection_enabled(), Some(false));
    s.ok(&["status"]);

    s.write_config(&table("billing_mode = \"PAY_PER_REQUEST\""));
    let r = s.run(&["status", "-o", "json"]).exits(2);
    let j = r.json();
    assert_eq!(r.step(&j, "table")["changes"][0]["field"], "billing_mode");
    let r = s.ok(&["apply"]);
    assert_eq!(r.writes(), ["UpdateTable"], "{}", r.all());
    s.ok(&["status"]);
}

#[test]
fn changed_actions_become_new_default_versions_within_the_five_version_limit() {
    let s = Stack::new("policy-versions", "");
    s.ok(&["apply"]);
    let sets = [
        vec!["dynamodb:GetItem"],
        vec!["dynamodb:GetItem", "dynamodb:Query"],
        vec!["dynamodb:GetItem", "dynamodb:BatchGetItem"],
        vec!["dynamodb:PutItem"],
        vec!["dynamodb:PutItem", "dynamodb:Query"],
        vec!["dynamodb:UpdateItem"],
    ];
    let sdk = sdk();
    for actions in sets {
        let list = actions.iter().map(|a| format!("\"{a}\"")).collect::<Vec<_>>().join(", ");
        s.write_config(&s.table_config("", &format!("[policy]\nactions = [{list}]\n")));
        let r = s.ok(&["apply"]);
        assert!(r.writes().contains(&"CreatePolicyVersion".to_string()), "{}", r.all());
        s.ok(&["status"]);
        let (count, doc) = block_on(async {
            (
                sdk.policy_versions(&s.policy_arn()).await.len(),
                sdk.default_document(&s.policy_arn()).await,
            )
        });
        assert!(count <= 5, "{count} versions");
        assert!(equivalent(&doc, &expected_access(&s.table(), &actions)), "{doc}");
    }
}
