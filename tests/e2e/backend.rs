//! Backend access: `[backend]` names an existing IAM role or user of a server; setup creates a
//! second scoped policy for it, attaches it, shows it in plan and status, repairs its drift and
//! removes it on teardown, never touching the principal itself.

use serde_json::json;
use setup::policy_doc::equivalent;

use crate::harness::*;

fn create_role(name: &str) {
    block_on(sdk().create_role(name, ECS_TASKS_TRUST));
}

fn backend_policy_arn(s: &Stack) -> String {
    format!("arn:aws:iam::{ACCOUNT}:policy/{}-backend-access", s.name)
}

fn attached_to_role(role: &str) -> Vec<String> {
    block_on(sdk().attached_policy_arns(role))
}

fn policy_document(arn: &str) -> serde_json::Value {
    block_on(sdk().default_document(arn))
}

fn config(s: &Stack, backend: &str) -> String {
    s.table_config("", &format!("[backend]\n{backend}"))
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
    assert!(st["actions"].to_string().contains(&format!("attach it to role {api}")), "{st}");
    assert!(plan.writes().is_empty());

    s.ok(&["apply"]);
    let arn = backend_policy_arn(&s);
    assert!(attached_to_role(&api).contains(&arn));
    let table_arn = format!("arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{}", s.table());
    let want = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Action": ["dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:Query", "dynamodb:UpdateItem", "dynamodb:BatchGetItem"],
        "Resource": table_arn}]});
    assert!(equivalent(&policy_document(&arn), &want), "{}", policy_document(&arn));
    let sdk = sdk();
    let tags = block_on(sdk.iam.get_policy().policy_arn(&arn).send()).unwrap();
    let tags = tag_map(tags.policy().unwrap().tags());
    assert_eq!(tags.get("setup:stack"), Some(&s.name));

    let st = s.ok(&["status", "-o", "json"]);
    let j = st.json();
    assert_eq!(st.step(&j, "backend-policy")["state"], "in_sync");
    assert_eq!(j["steps"].as_array().unwrap().len(), 7);
    s.ok(&["apply"]).no_writes();

    s.ok(&["teardown"]).stdout_has(&format!("detached from role {api} (the role itself is kept)"));
    assert!(!block_on(sdk.policy_exists(&arn)), "policy deleted");
    assert!(block_on(sdk.role_exists(&api)), "the backend role is never deleted");
    assert!(attached_to_role(&api).is_empty());
    s.ok(&["teardown"]).no_writes();
}

#[test]
fn a_missing_backend_principal_is_a_clear_error_before_any_write() {
    let s = Stack::new("backend-missing", "");
    s.write_config(&config(&s, "role = \"no-such-backend-role\"\n"));
    s.refuses(&["apply"], "backend role no-such-backend-role does not exist");
    let st = s.run(&["status", "-o", "json"]);
    let j = st.json();
    assert!(st.step(&j, "backend-policy")["blocked"].as_str().unwrap().contains("create it first"));
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
    block_on(sdk.detach_policy(&api, &arn));
    let r = s.expect(2, &["status", "-o", "json"]);
    let j = r.json();
    let st = r.step(&j, "backend-policy");
    assert_eq!(st["state"], "drifted");
    assert_eq!(st["changes"][0]["field"], format!("attached to role {api}"));
    s.ok(&["apply"]);
    assert!(attached_to_role(&api).contains(&arn));

    // Widened by hand: the drift and the security findings are both reported.
    let wide = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"dynamodb:*","Resource":"*"}]}"#;
    block_on(sdk.set_policy_document(&arn, wide));
    // A security finding makes the exit code 3 (drift alone: 2).
    let r = s.expect(3, &["status", "-o", "json"]);
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
    assert!(notes.contains("security: wildcard action \\\"dynamodb:*\\\""), "{notes}");
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
    s.ok(&["plan"]).stdout_has(&format!("will: detach it from role {api}"));
    let r = s.ok(&["apply"]);
    assert!(
        r.ops.contains(&"AttachUserPolicy".to_string())
            && r.ops.contains(&"DetachRolePolicy".to_string()),
        "{:?}",
        r.ops
    );
    assert!(attached_to_role(&api).is_empty());
    let users = block_on(sdk.iam.list_attached_user_policies().user_name(&user).send()).unwrap();
    assert_eq!(users.attached_policies()[0].policy_arn(), Some(arn.as_str()));
    s.ok(&["status"]);

    // Without [backend], the stack's leftover policy shows up and apply removes it.
    s.write_config(&s.table_config("", ""));
    let st = s.expect(2, &["status", "-o", "json"]);
    let j = st.json();
    assert!(st.step(&j, "backend-policy")["actions"]
        .to_string()
        .contains("the config has no [backend] section"));
    s.ok(&["apply"]);
    assert!(!block_on(sdk.policy_exists(&arn)));
    assert!(block_on(sdk.iam.get_user().user_name(&user).send()).is_ok(), "the user is kept");
    let st = s.ok(&["status", "-o", "json"]);
    assert_eq!(st.json()["steps"].as_array().unwrap().len(), 6);
}
