//! `permissions_boundary` (issue 23, item 2): every role the stack creates carries the boundary
//! `setup bootstrap` made; a boundary taken off by hand is drift that apply puts back; a config
//! that asks for more than the boundary allows makes plan and apply name `setup bootstrap` and
//! write nothing; and a signed-in user's credentials are capped by the boundary (the emulator's
//! independent IAM simulator evaluates the intersection).

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{json, Value};

use crate::harness::*;

/// A stack with guests allowed whose config names the boundary `<stack>-boundary` and grants
/// `actions` to signed-in users (GetItem to guests).
fn stack(name: &str, actions: &[&str]) -> Stack {
    let s = Stack::new(name, "");
    write(&s, actions);
    s
}

fn write(s: &Stack, actions: &[&str]) {
    let actions: Vec<String> = actions.iter().map(|a| format!("\"dynamodb:{a}\"")).collect();
    let rest = format!(
        "[identity_pool]\nallow_unauthenticated = true\n[guest]\nactions = [\"dynamodb:GetItem\"]\n[policy]\nactions = [{}]\n",
        actions.join(", ")
    );
    let text = s.base_config() + &s.table_config("", &rest);
    let top = format!("permissions_boundary = \"{}-boundary\"\n", s.name);
    std::fs::write(s.config_path(), top + &text).unwrap();
}

fn boundary_arn(s: &Stack) -> String {
    format!("arn:aws:iam::{ACCOUNT}:policy/{}-boundary", s.name)
}

fn guest_role(s: &Stack) -> String {
    format!("{}-cognito-guest", s.name)
}

/// The boundary GetRole reports for `role`.
fn boundary_of(role: &str) -> Option<String> {
    let out = block_on(sdk().iam.get_role().role_name(role).send()).unwrap();
    let b = out.role().unwrap().permissions_boundary();
    b.and_then(|b| b.permissions_boundary_arn()).map(str::to_string)
}

fn role_step<'a>(r: &Run, j: &'a Value) -> &'a Value {
    r.step(j, "role")
}

#[test]
fn apply_creates_both_roles_with_the_boundary_and_puts_it_back_when_taken_off() {
    let s = stack("bnd-roles", &["GetItem", "PutItem"]);
    s.ok(&["bootstrap", "--yes"]);
    let r = s.ok(&["apply"]);
    assert_eq!(r.count("CreateRole"), 2, "{}", r.all());
    let arn = boundary_arn(&s);
    for role in [s.role(), guest_role(&s)] {
        assert_eq!(boundary_of(&role).as_deref(), Some(arn.as_str()), "{role}");
    }
    s.ok(&["status"]);

    // Taken off one role by hand, and replaced by another on the other: drift on both.
    let sdk = sdk();
    block_on(sdk.iam.delete_role_permissions_boundary().role_name(s.role()).send()).unwrap();
    let other = block_on(
        sdk.iam
            .create_policy()
            .policy_name("bnd-roles-wide-open")
            .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#)
            .send(),
    )
    .unwrap();
    let other = other.policy().unwrap().arn().unwrap().to_string();
    let put = sdk.iam.put_role_permissions_boundary().role_name(guest_role(&s));
    block_on(put.permissions_boundary(&other).send()).unwrap();

    let status = s.expect(2, &["status", "-o", "json"]);
    let j = status.json();
    let role = role_step(&status, &j);
    assert_eq!(role["state"], "drifted", "{role}");
    assert_eq!(
        role["changes"],
        json!([{"field": "permissions_boundary", "live": null, "desired": arn}]),
        "{role}"
    );
    let guest = status.step(&j, "guest-role");
    assert_eq!(guest["state"], "drifted", "{guest}");
    assert_eq!(
        guest["changes"],
        json!([{"field": "permissions_boundary", "live": other, "desired": arn}]),
        "{guest}"
    );
    let plan = s.run(&["plan"]);
    plan.stdout_has(&format!("set its permissions boundary to {arn} (PutRolePermissionsBoundary)"));

    let fix = s.ok(&["apply"]);
    assert_eq!(
        fix.writes(),
        ["PutRolePermissionsBoundary", "PutRolePermissionsBoundary"],
        "{}",
        fix.all()
    );
    for role in [s.role(), guest_role(&s)] {
        assert_eq!(boundary_of(&role).as_deref(), Some(arn.as_str()), "{role}");
    }
    s.ok(&["status"]);
    s.ok(&["teardown", "--delete-table", "--yes"]);
}

#[test]
fn a_config_beyond_the_boundary_names_setup_bootstrap_and_writes_nothing() {
    let s = stack("bnd-beyond", &["GetItem"]);
    s.ok(&["bootstrap", "--yes"]);
    s.ok(&["apply"]);
    // A new action, not in the boundary bootstrap made: the policy would never take effect.
    write(&s, &["GetItem", "DeleteItem"]);
    let table = format!("arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{}", s.table());
    let beyond = format!(
        "the config asks for more than permissions boundary {} allows (dynamodb:DeleteItem on {table})",
        boundary_arn(&s)
    );
    let plan = s.expect(1, &["plan"]);
    plan.no_writes();
    assert!(
        plan.all().contains(&beyond) && plan.all().contains("`setup bootstrap`"),
        "{}",
        plan.all()
    );
    let apply = s.refuses(&["apply"], &beyond);
    apply.stderr_has("`setup bootstrap`");
    assert!(!block_on(sdk().default_document(&s.policy_arn())).to_string().contains("DeleteItem"));
    // status: a finding on the role step.
    let status = s.run(&["status", "-o", "json"]);
    let j = status.json();
    let notes = role_step(&status, &j)["notes"].to_string();
    assert!(notes.contains(&format!("finding: {beyond}")), "{}", status.all());

    // Once the administrator has run bootstrap again, apply goes ahead.
    s.ok(&["bootstrap", "--yes"]);
    let r = s.ok(&["apply"]);
    assert!(r.writes().contains(&"CreatePolicyVersion".to_string()), "{}", r.all());
    s.ok(&["status"]);
    s.ok(&["teardown", "--delete-table", "--yes"]);
}

#[test]
fn without_the_boundary_policy_apply_names_setup_bootstrap_and_writes_nothing() {
    let s = stack("bnd-none-yet", &["GetItem"]);
    let r =
        s.refuses(&["apply"], &format!("permissions boundary {} does not exist", boundary_arn(&s)));
    r.stderr_has("`setup bootstrap`");
}

/// The stack's policy allows more than the boundary (written by hand, as an operator without
/// a boundary's cap could): the signed-in user gets only what both allow.
#[test]
fn a_signed_in_users_credentials_are_capped_by_the_boundary() {
    let s = stack("bnd-capped", &["GetItem", "PutItem"]);
    s.ok(&["bootstrap", "--yes"]);
    s.ok(&["apply"]);
    // The operator widens the stack's own policy: DeleteItem, beyond the boundary.
    let mut doc = block_on(sdk().default_document(&s.policy_arn()));
    let actions = doc["Statement"][0]["Action"].as_array_mut().expect("a list of actions");
    actions.push(json!("dynamodb:DeleteItem"));
    block_on(sdk().set_policy_document(&s.policy_arn(), &doc.to_string()));

    let user = crate::isolation::sign_in(&s, "bnd-capped-user");
    let item = crate::isolation::key(&user.id);
    let mut full = item.clone();
    full.insert("name".into(), AttributeValue::S("x".into()));
    block_on(user.ddb.put_item().table_name(s.table()).set_item(Some(full)).send()).unwrap();
    block_on(user.ddb.get_item().table_name(s.table()).set_key(Some(item.clone())).send()).unwrap();
    let denied = block_on(user.ddb.delete_item().table_name(s.table()).set_key(Some(item)).send())
        .expect_err("DeleteItem is beyond the boundary");
    assert_eq!(denied.code(), Some("AccessDeniedException"));
    let message = denied.message().unwrap_or_default();
    assert!(
        message.contains("because no permissions boundary allows the dynamodb:DeleteItem action"),
        "{message}"
    );
    s.ok(&["teardown", "--delete-table", "--yes"]);
}

/// The scoped operator policy of a stack with a boundary, enforced by the emulator: apply,
/// status and teardown run with it, the roles get the boundary, and the operator can neither
/// create a stack role without it (or with another), nor take it off, nor write the boundary.
#[test]
fn the_scoped_operator_runs_a_bounded_stack_and_cannot_escape_the_boundary() {
    use aws_sdk_iam::error::ProvideErrorMetadata as _;
    let emu = boundary_emulator();
    let admin = emu.sdk();
    let _ = emu.user_pool().clone(); // 2 requests
    let s = Stack::on(emu, "bnd-scoped", "");
    let text = s.base_config() + &s.table_config("", "");
    let top = format!("permissions_boundary = \"{}-boundary\"\n", s.name);
    std::fs::write(s.config_path(), top + &text).unwrap();
    let r = s.ok(&["export", "--format", "operator-policy"]); // 1
    let policy: Value = serde_json::from_str(&r.stdout).unwrap();
    let table = format!("arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{}", s.table());
    let doc = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Action": "dynamodb:*", "Resource": [table.clone(), format!("{table}/index/*")]}]});
    let create = admin.iam.create_policy().policy_name(format!("{}-boundary", s.name));
    block_on(create.policy_document(doc.to_string()).send()).unwrap(); // 1
    let (key, secret) = crate::least_privilege::create_user(&admin, "bnd-ci", &policy, true); // 4
    assert!(block_on(admin.iam.list_users().send()).is_err(), "the emulator does not enforce IAM");

    let op = [("AWS_ACCESS_KEY_ID", key.as_str()), ("AWS_SECRET_ACCESS_KEY", secret.as_str())];
    let run = |args: &[&str]| {
        let r = s.run_env(args, &op);
        assert_eq!(r.code, 0, "setup {args:?} as the operator:\n{}", r.all());
        r
    };
    run(&["apply"]);
    run(&["status"]);
    let arn = boundary_arn(&s);
    let o = crate::operator_scope::clients(emu, &key, &secret);
    let role = block_on(o.iam.get_role().role_name(s.role()).send()).unwrap();
    let live = role.role().unwrap().permissions_boundary().unwrap().permissions_boundary_arn();
    assert_eq!(live, Some(arn.as_str()));

    // Putting back exactly the boundary is allowed (what apply does after drift), so the
    // refusals below are the conditions', not a missing grant.
    let same = o.iam.put_role_permissions_boundary().role_name(s.role()).permissions_boundary(&arn);
    block_on(same.send()).expect("the operator may put back exactly the boundary");

    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"cognito-identity.amazonaws.com"},"Action":"sts:AssumeRoleWithWebIdentity"}]}"#;
    let guest = guest_role(&s);
    let mut wrong = Vec::new();
    let mut refused = |what: &str, code: Option<&str>| {
        if code != Some("AccessDenied") {
            wrong.push(format!("{what}: {code:?}"));
        }
    };
    let wide = iam_arn_of("policy/bnd-scoped-wide-open");
    // CreateRole of a stack role's name: the error code, if any.
    let create = |boundary: Option<&str>| -> Option<String> {
        let call = o.iam.create_role().role_name(&guest).assume_role_policy_document(trust);
        let r = block_on(call.set_permissions_boundary(boundary.map(str::to_string)).send());
        r.err().map(|e| e.code().unwrap_or("no code").to_string())
    };
    refused("a stack role without the boundary", create(None).as_deref());
    refused("a stack role with another boundary", create(Some(&wide)).as_deref());
    let put = o.iam.put_role_permissions_boundary().role_name(s.role()).permissions_boundary(&wide);
    refused(
        "another boundary on the role",
        block_on(put.send()).err().as_ref().and_then(|e| e.code()),
    );
    let delete = o.iam.delete_role_permissions_boundary().role_name(s.role());
    refused(
        "the boundary taken off",
        block_on(delete.send()).err().as_ref().and_then(|e| e.code()),
    );
    let version = o.iam.create_policy_version().policy_arn(&arn).set_as_default(true);
    let everything =
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
    let version = block_on(version.policy_document(everything).send());
    refused("a new boundary version", version.err().as_ref().and_then(|e| e.code()));
    let gone = block_on(o.iam.delete_policy().policy_arn(&arn).send());
    refused("the boundary deleted", gone.err().as_ref().and_then(|e| e.code()));
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));

    run(&["teardown", "--delete-table", "--yes"]);
}

fn iam_arn_of(resource: &str) -> String {
    format!("arn:aws:iam::{ACCOUNT}:{resource}")
}
