//! Backend access: `[backend]` names an existing IAM role or user of a server; setup creates a
//! second scoped policy for it, attaches it, shows it in plan and status, repairs its drift and
//! removes it on teardown, never touching the principal itself.

use serde_json::json;
use setup::policy_doc::equivalent;

use crate::harness::*;

const TRUST_ECS: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ecs-tasks.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

fn create_role(name: &str) {
    let sdk = sdk();
    block_on(
        sdk.iam
            .create_role()
            .role_name(name)
            .assume_role_policy_document(TRUST_ECS)
            .send(),
    )
    .unwrap();
}

fn backend_policy_arn(s: &Stack) -> String {
    format!("arn:aws:iam::{ACCOUNT}:policy/{}-backend-access", s.name)
}

fn attached_to_role(role: &str) -> Vec<String> {
    let sdk = sdk();
    block_on(sdk.iam.list_attached_role_policies().role_name(role).send())
        .unwrap()
        .attached_policies()
        .iter()
        .filter_map(|p| p.policy_arn().map(str::to_string))
        .collect()
}

fn policy_document(arn: &str) -> serde_json::Value {
    block_on(sdk().default_document(arn))
}

fn config(s: &Stack, backend: &str) -> String {
    format!(
        "\n[table]\nname = \"{}\"\ntags = {{ team = \"mobile\" }}\n\n[backend]\n{backend}",
        s.table()
    )
}

#[test]
fn backend_role_policy_apply_status_idempotence_and_teardown() {
    let s = Stack::new("backend-role", "");
    let api = format!("{}-api", s.name);
    create_role(&api);
    s.write_config(&config(&s, &format!("role = \"{api}\"\n")));

    let plan = s.run(&["plan", "-o", "json"]);
    let j = plan.json();
    let st = plan.step(&j, "backend-policy");
    assert_eq!(st["state"], "missing");
    assert!(
        st["actions"]
            .to_string()
            .contains(&format!("attach it to role {api}")),
        "{st}"
    );
    assert!(plan.writes().is_empty());

    s.ok(&["apply"]);
    let arn = backend_policy_arn(&s);
    assert!(attached_to_role(&api).contains(&arn));
    let table_arn = format!("arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{}", s.table());
    let want = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Action": ["dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:Query", "dynamodb:UpdateItem", "dynamodb:BatchGetItem"],
        "Resource": table_arn}]});
    assert!(
        equivalent(&policy_document(&arn), &want),
        "{}",
        policy_document(&arn)
    );
    let sdk = sdk();
    let tags = block_on(sdk.iam.get_policy().policy_arn(&arn).send()).unwrap();
    let tags = tag_map(
        tags.policy()
            .unwrap()
            .tags()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string())),
    );
    assert_eq!(tags.get("setup:stack"), Some(&s.name));

    let st = s.ok(&["status", "-o", "json"]);
    let j = st.json();
    assert_eq!(st.step(&j, "backend-policy")["state"], "in_sync");
    assert_eq!(j["steps"].as_array().unwrap().len(), 7);
    let again = s.ok(&["apply"]);
    assert!(
        again.writes().is_empty(),
        "second apply wrote: {:?}",
        again.writes()
    );

    let down = s.ok(&["teardown"]);
    assert!(
        down.stdout.contains(&format!(
            "detached from role {api} (the role itself is kept)"
        )),
        "{}",
        down.all()
    );
    assert!(
        block_on(sdk.iam.get_policy().policy_arn(&arn).send()).is_err(),
        "policy deleted"
    );
    assert!(
        block_on(sdk.iam.get_role().role_name(&api).send()).is_ok(),
        "the backend role is never deleted"
    );
    assert!(attached_to_role(&api).is_empty());
    let twice = s.ok(&["teardown"]);
    assert!(twice.writes().is_empty());
}

#[test]
fn a_missing_backend_principal_is_a_clear_error_before_any_write() {
    let s = Stack::new("backend-missing", "");
    s.write_config(&config(&s, "role = \"no-such-backend-role\"\n"));
    let r = s.run(&["apply"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.stderr
            .contains("backend role no-such-backend-role does not exist"),
        "{}",
        r.all()
    );
    assert!(
        r.writes().is_empty(),
        "apply wrote before refusing: {:?}",
        r.writes()
    );
    let st = s.run(&["status", "-o", "json"]);
    let j = st.json();
    assert!(st.step(&j, "backend-policy")["blocked"]
        .as_str()
        .unwrap()
        .contains("create it first"));
}

#[test]
fn backend_policy_drift_is_detected_and_repaired() {
    let s = Stack::new("backend-drift", "");
    let api = format!("{}-api", s.name);
    create_role(&api);
    s.write_config(&config(
        &s,
        &format!("role = \"{api}\"\nactions = [\"dynamodb:GetItem\", \"dynamodb:Query\"]\n"),
    ));
    s.ok(&["apply"]);
    let arn = backend_policy_arn(&s);
    let sdk = sdk();

    // Detached by hand.
    block_on(
        sdk.iam
            .detach_role_policy()
            .role_name(&api)
            .policy_arn(&arn)
            .send(),
    )
    .unwrap();
    let r = s.run(&["status", "-o", "json"]);
    assert_eq!(r.code, 2, "{}", r.all());
    let j = r.json();
    let st = r.step(&j, "backend-policy");
    assert_eq!(st["state"], "drifted");
    assert_eq!(st["changes"][0]["field"], format!("attached to role {api}"));
    s.ok(&["apply"]);
    assert!(attached_to_role(&api).contains(&arn));

    // Widened by hand: the drift and the security findings are both reported.
    let wide = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"dynamodb:*","Resource":"*"}]}"#;
    block_on(
        sdk.iam
            .create_policy_version()
            .policy_arn(&arn)
            .policy_document(wide)
            .set_as_default(true)
            .send(),
    )
    .unwrap();
    let r = s.run(&["status", "-o", "json"]);
    assert_eq!(r.code, 2);
    let j = r.json();
    let st = r.step(&j, "backend-policy");
    let fields = st["changes"].to_string();
    assert!(
        fields.contains("document.Statement.Resource")
            && fields.contains("document.Statement.Action"),
        "{st}"
    );
    let notes = st["notes"].to_string();
    assert!(notes.contains("security: Resource \\\"*\\\""), "{notes}");
    assert!(
        notes.contains("security: wildcard action \\\"dynamodb:*\\\""),
        "{notes}"
    );
    let fix = s.ok(&["apply"]);
    assert!(fix.ops.contains(&"CreatePolicyVersion".to_string()));
    s.ok(&["status"]);
}

#[test]
fn moving_the_backend_to_a_user_detaches_the_old_role_and_removing_the_section_removes_the_policy()
{
    let s = Stack::new("backend-move", "");
    let api = format!("{}-api", s.name);
    let user = format!("{}-svc", s.name);
    create_role(&api);
    let sdk = sdk();
    block_on(sdk.iam.create_user().user_name(&user).send()).unwrap();
    s.write_config(&config(&s, &format!("role = \"{api}\"\n")));
    s.ok(&["apply"]);
    let arn = backend_policy_arn(&s);

    s.write_config(&config(&s, &format!("user = \"{user}\"\n")));
    let plan = s.ok(&["plan"]);
    assert!(
        plan.stdout
            .contains(&format!("will: detach it from role {api}")),
        "{}",
        plan.all()
    );
    let r = s.ok(&["apply"]);
    assert!(
        r.ops.contains(&"AttachUserPolicy".to_string())
            && r.ops.contains(&"DetachRolePolicy".to_string()),
        "{:?}",
        r.ops
    );
    assert!(attached_to_role(&api).is_empty());
    let users = block_on(
        sdk.iam
            .list_attached_user_policies()
            .user_name(&user)
            .send(),
    )
    .unwrap();
    assert_eq!(
        users.attached_policies()[0].policy_arn(),
        Some(arn.as_str())
    );
    s.ok(&["status"]);

    // Without [backend], the stack's leftover policy shows up and apply removes it.
    s.write_config(&format!(
        "\n[table]\nname = \"{}\"\ntags = {{ team = \"mobile\" }}\n",
        s.table()
    ));
    let st = s.run(&["status", "-o", "json"]);
    assert_eq!(st.code, 2, "{}", st.all());
    let j = st.json();
    assert!(st.step(&j, "backend-policy")["actions"]
        .to_string()
        .contains("the config has no [backend] section"));
    s.ok(&["apply"]);
    assert!(block_on(sdk.iam.get_policy().policy_arn(&arn).send()).is_err());
    assert!(
        block_on(sdk.iam.get_user().user_name(&user).send()).is_ok(),
        "the user is kept"
    );
    let st = s.ok(&["status", "-o", "json"]);
    assert_eq!(st.json()["steps"].as_array().unwrap().len(), 6);
}
