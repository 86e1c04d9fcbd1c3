//! Guest access, end to end: `identity_pool.allow_unauthenticated = true` makes the stack create
//! the guest role (trusted by the pool's unauthenticated identities only), its policy from
//! `[guest] actions`, and set it as the pool's unauthenticated role; `verify --guest` runs the
//! unauthenticated flow against the emulator (which enforces the guest role's trust policy and
//! policies, tests/emu/sign_in.py and iam_enforce.py); a mixed-up `amr` is named and repaired;
//! turning guests off removes what the stack made; teardown removes it.

use serde_json::{json, Value};
use setup::policy_doc::equivalent;

use crate::harness::*;

const GUESTS: &str = "[identity_pool]\nallow_unauthenticated = true\n";

fn guest_role(s: &Stack) -> String {
    format!("{}-cognito-guest", s.name)
}

fn guest_role_arn(s: &Stack) -> String {
    format!("arn:aws:iam::{ACCOUNT}:role/{}", guest_role(s))
}

fn guest_policy(s: &Stack) -> String {
    format!("{}-guest-access", s.name)
}

fn guest_policy_arn(s: &Stack) -> String {
    format!("arn:aws:iam::{ACCOUNT}:policy/{}", guest_policy(s))
}

/// The pool's roles, as `GetIdentityPoolRoles` has them.
fn pool_roles(s: &Stack) -> std::collections::HashMap<String, String> {
    let out =
        block_on(sdk().identity.get_identity_pool_roles().identity_pool_id(s.pool_id()).send())
            .unwrap();
    out.roles().cloned().unwrap_or_default()
}

/// The actions of every step in a JSON report, by step name.
fn actions(j: &Value) -> Vec<(String, Vec<String>)> {
    j["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|st| {
            let acts = st["actions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap().to_string())
                .collect();
            (st["step"].as_str().unwrap().to_string(), acts)
        })
        .filter(|(_, a): &(String, Vec<String>)| !a.is_empty())
        .collect()
}

/// `plan`, then `apply`: apply carries out exactly the actions plan listed (and plan wrote
/// nothing). Returns apply's JSON report.
fn plan_then_apply(s: &Stack) -> Value {
    let plan = s.run(&["plan", "-o", "json"]);
    assert!(plan.code == 0 || plan.code == 2, "{}", plan.all());
    plan.no_writes();
    let apply = s.ok(&["apply", "-o", "json"]);
    let j = apply.json();
    assert_eq!(actions(&plan.json()), actions(&j), "plan == apply");
    j
}

fn verify_guest(s: &Stack, code: i32) -> Value {
    s.expect(code, &["verify", "--guest", "-o", "json"]).json()
}

fn step_names(j: &Value) -> Vec<String> {
    j["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|st| st["step"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn guest_access_life_cycle() {
    let s = Stack::new("guest-life", "");
    let with_guests = s.table_config(
        "",
        &format!("{GUESTS}\n[guest]\nactions = [\"dynamodb:GetItem\", \"dynamodb:Query\"]\n"),
    );
    s.write_config(&with_guests);

    // Plan shows the guest steps; apply does exactly that.
    let plan = s.run(&["plan", "-o", "json"]);
    let j = plan.json();
    assert_eq!(plan.step(&j, "guest-role")["state"], "missing");
    assert_eq!(plan.step(&j, "guest-policy")["state"], "missing");
    assert!(
        plan.step(&j, "pool-roles")["actions"].to_string().contains(&format!(
            "set the pool's unauthenticated role to guest role {}",
            guest_role(&s)
        )),
        "{j}"
    );
    plan_then_apply(&s);

    let pool_id = s.pool_id();
    let sdk = sdk();
    let trust = block_on(sdk.trust_policy(&guest_role(&s)));
    assert!(equivalent(&trust, &setup::steps::guest::trust_policy(&pool_id)), "{trust}");
    assert_eq!(
        trust["Statement"][0]["Condition"]["ForAnyValue:StringLike"]
            ["cognito-identity.amazonaws.com:amr"],
        "unauthenticated"
    );
    assert_eq!(block_on(sdk.attached_policy_arns(&guest_role(&s))), [guest_policy_arn(&s)]);
    let table_arn = format!("arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{}", s.table());
    let doc = block_on(sdk.default_document(&guest_policy_arn(&s)));
    let want = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Action": ["dynamodb:GetItem", "dynamodb:Query"], "Resource": table_arn}]});
    assert!(equivalent(&doc, &want), "{doc}");
    let roles = pool_roles(&s);
    assert_eq!(roles.get("unauthenticated"), Some(&guest_role_arn(&s)));
    assert_eq!(roles.get("authenticated"), Some(&s.role_arn()));

    // In sync, and a second apply writes nothing.
    let st = s.ok(&["status", "-o", "json"]);
    let j = st.json();
    for step in ["guest-role", "guest-policy", "pool-roles"] {
        assert_eq!(st.step(&j, step)["state"], "in_sync", "{step}: {j}");
    }
    s.ok(&["apply"]).no_writes();

    // The unauthenticated flow: a granted call passes, an ungranted one is denied.
    let v = verify_guest(&s, 0);
    assert_eq!(v["guest"], true);
    assert!(field(hop(&v, "get-id"), "detail").starts_with("unauthenticated identity"));
    assert_eq!(
        field(hop(&v, "get-credentials"), "detail"),
        format!("temporary credentials for guest role {}", guest_role(&s))
    );
    assert_eq!(hop(&v, "guest-allowed")["status"], "ok");
    assert!(field(hop(&v, "guest-allowed"), "detail").starts_with("dynamodb:GetItem on table"));
    assert_eq!(hop(&v, "guest-denied")["status"], "ok");
    assert!(
        field(hop(&v, "guest-denied"), "detail")
            .starts_with("dynamodb:DeleteItem was denied (AccessDeniedException"),
        "{v}"
    );
    assert_eq!(v["hops"].as_array().unwrap().len(), 4);

    // amr mixed up by hand: status names it, guests get no credentials, apply repairs it.
    let mut mixed_up = trust.clone();
    mixed_up["Statement"][0]["Condition"]["ForAnyValue:StringLike"]
        ["cognito-identity.amazonaws.com:amr"] = json!("authenticated");
    block_on(sdk.set_trust_policy(&guest_role(&s), &mixed_up.to_string()));
    let st = s.expect(2, &["status", "-o", "json"]);
    let j = st.json();
    let role = st.step(&j, "guest-role");
    assert_eq!(role["state"], "drifted");
    assert!(
        role["notes"][0]
            .as_str()
            .unwrap()
            .starts_with("finding: amr mix-up: the guest role trusts amr [\"authenticated\"]"),
        "{role}"
    );
    let v = verify_guest(&s, 1);
    let (failed, cause) = first_failure(&v);
    assert_eq!(failed, "get-credentials");
    assert!(cause.contains("amr mix-up"), "{cause}");
    let j = plan_then_apply(&s);
    assert_eq!(
        actions(&j),
        [(
            "guest-role".to_string(),
            vec![format!(
                "rewrite the trust policy of role {} (this pool's guests only: amr = unauthenticated)",
                guest_role(&s)
            )]
        )]
    );
    s.ok(&["status"]);
    verify_guest(&s, 0);

    // Guests off (the [guest] section left in place: a warning): plan shows the removal, apply
    // takes the role off the pool and deletes it and its policy.
    s.write_config(
        &with_guests.replace("allow_unauthenticated = true", "allow_unauthenticated = false"),
    );
    let plan = s.ok(&["plan", "-o", "json"]);
    plan.stderr_has("guest: is used only with identity_pool.allow_unauthenticated = true");
    let j = plan.json();
    assert_eq!(plan.step(&j, "guest-role")["state"], "drifted");
    let guest_actions = actions(&j);
    let of = |step: &str| {
        guest_actions.iter().find(|(s, _)| s == step).map(|(_, a)| a.clone()).unwrap_or_default()
    };
    let off = "guests are off: identity_pool.allow_unauthenticated = false";
    assert_eq!(
        of("guest-role"),
        [
            format!("detach policy {} from it", guest_policy(&s)),
            format!("delete role {} ({off})", guest_role(&s)),
        ]
    );
    assert_eq!(of("guest-policy"), [format!("delete policy {} ({off})", guest_policy(&s))]);
    assert_eq!(
        of("pool-roles"),
        [format!(
            "remove guest role {} as the pool's unauthenticated role ({off})",
            guest_role(&s)
        )]
    );
    plan_then_apply(&s);
    assert!(!block_on(sdk.role_exists(&guest_role(&s))));
    assert!(!block_on(sdk.policy_exists(&guest_policy_arn(&s))));
    let roles = pool_roles(&s);
    assert_eq!(roles.get("unauthenticated"), None);
    assert_eq!(roles.get("authenticated"), Some(&s.role_arn()));
    let st = s.ok(&["status", "-o", "json"]);
    let names = step_names(&st.json());
    assert!(!names.iter().any(|n| n.starts_with("guest-")), "{names:?}");
    s.ok(&["apply"]).no_writes();
    s.refuses(
        &["verify", "--guest"],
        "guest access is off for stack guest-life (identity_pool.allow_unauthenticated = false)",
    );

    s.ok(&["teardown"]);
    s.ok(&["teardown"]).no_writes();
}

#[test]
fn teardown_removes_the_guest_role_and_policy() {
    let s = Stack::new("guest-teardown", "");
    s.write_config(&s.table_config(
        "",
        &format!(
            "{GUESTS}[guest]\nrole = \"{}-visitors\"\nactions = [\"dynamodb:GetItem\"]\n",
            s.name
        ),
    ));
    s.ok(&["apply"]);
    let role = format!("{}-visitors", s.name);
    let sdk = sdk();
    assert!(block_on(sdk.role_exists(&role)));
    let j = s.ok(&["teardown", "-o", "json"]).json();
    let removal = actions(&j);
    assert!(
        removal.contains(&(
            "guest-role".to_string(),
            vec![
                format!("detach policy {} from it", guest_policy(&s)),
                format!("delete role {role}"),
            ]
        )),
        "{removal:?}"
    );
    assert!(!block_on(sdk.role_exists(&role)));
    assert!(!block_on(sdk.policy_exists(&guest_policy_arn(&s))));
    s.ok(&["teardown"]).no_writes();
}

/// No `[guest] actions`: no policy, nothing granted; the emulator's refusals for a pool without
/// an unauthenticated role and for a role others gave more.
#[test]
fn guests_without_actions_and_what_verify_says_when_the_wiring_breaks() {
    let s = Stack::new("guest-bare", "");
    s.write_config(&s.table_config("", GUESTS));
    let plan = s.run(&["plan", "-o", "json"]);
    let j = plan.json();
    assert_eq!(
        plan.step(&j, "guest-policy")["notes"][0],
        "no policy: guest.actions is empty, so the guest role has no table access"
    );
    s.ok(&["apply"]);
    let sdk = sdk();
    assert!(!block_on(sdk.policy_exists(&guest_policy_arn(&s))));
    assert!(block_on(sdk.attached_policy_arns(&guest_role(&s))).is_empty());
    let v = verify_guest(&s, 0);
    assert_eq!(hop(&v, "guest-allowed")["status"], "skipped");
    assert_eq!(
        field(hop(&v, "guest-allowed"), "detail"),
        "guest.actions is empty: the guest role has no table access"
    );
    assert_eq!(hop(&v, "guest-denied")["status"], "ok");

    // Two policies attached by hand, one of which grants what the config does not: the denied
    // call names that one, evaluated, not the other.
    let attach = |name: &str, doc: Value| {
        let made = block_on(
            sdk.iam.create_policy().policy_name(name).policy_document(doc.to_string()).send(),
        )
        .unwrap();
        let arn = made.policy().unwrap().arn().unwrap().to_string();
        block_on(sdk.iam.attach_role_policy().role_name(guest_role(&s)).policy_arn(&arn).send())
            .unwrap();
        arn
    };
    let unrelated = format!("{}-audit-logs", s.name);
    let unrelated_arn = attach(
        &unrelated,
        json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": "*"}]}),
    );
    let extra = format!("{}-hand-made", s.name);
    let extra_arn = attach(
        &extra,
        json!({"Version": "2012-10-17", "Statement": [{
        "Sid": "Deletes", "Effect": "Allow", "Action": "dynamodb:DeleteItem", "Resource": "*"}]}),
    );
    let v = verify_guest(&s, 1);
    let (failed, cause) = first_failure(&v);
    assert_eq!(failed, "guest-denied");
    assert_eq!(
        cause,
        format!(
            "guests may call dynamodb:DeleteItem, which guest.actions does not grant: role {} also has managed policy {extra}, which setup did not add and which grants it (statement \"Deletes\"): guests all get what it grants; remove it",
            guest_role(&s)
        )
    );
    s.expect(3, &["status"]);
    assert!(s
        .status_notes("guest-role")
        .contains(&format!("security: managed policy \"{extra}\" is attached to role {}, which the config does not name: every guest (anyone on the internet) gets what it grants, beyond the config; setup leaves it attached: detach it", guest_role(&s))));
    block_on(sdk.detach_policy(&guest_role(&s), &extra_arn));
    block_on(sdk.detach_policy(&guest_role(&s), &unrelated_arn));

    // The pool's roles cleared by hand: the emulator refuses the guest like Cognito, and verify
    // says why without waiting for propagation.
    block_on(sdk.clear_pool_roles(&s.pool_id()));
    let v = verify_guest(&s, 1);
    let (failed, cause) = first_failure(&v);
    assert_eq!(failed, "get-credentials");
    assert!(
        field(hop(&v, "get-credentials"), "error")
            .starts_with("InvalidIdentityPoolConfigurationException"),
        "{v}"
    );
    assert_eq!(
        cause,
        format!(
            "identity pool {} has no unauthenticated role, so Cognito has no role to hand to guests; run `setup apply` to fix it (`setup status` shows the same)",
            s.pool_id()
        )
    );
    s.ok(&["apply"]);
    verify_guest(&s, 0);

    // Guests turned off on the live pool by hand: GetId without Logins is refused.
    block_on(
        sdk.update_identity_pool(&s.pool_id(), |u, _| u.allow_unauthenticated_identities(false)),
    );
    let err = block_on(sdk.identity.get_id().identity_pool_id(s.pool_id()).send()).unwrap_err();
    use aws_smithy_types::error::metadata::ProvideErrorMetadata;
    assert_eq!(err.code(), Some("NotAuthorizedException"));
    assert_eq!(
        err.message(),
        Some("Unauthenticated access is not supported for this identity pool.")
    );
    let v = verify_guest(&s, 1);
    let (failed, cause) = first_failure(&v);
    assert_eq!(failed, "get-id");
    assert!(cause.contains("AllowUnauthenticatedIdentities is off"), "{cause}");
    s.ok(&["teardown"]);
}

/// A stack applied with guests allowed `dynamodb:GetItem`.
fn applied_with_guest_get_item(name: &str) -> Stack {
    let s = Stack::new(name, "");
    let guests = format!("{GUESTS}\n[guest]\nactions = [\"dynamodb:GetItem\"]\n");
    s.write_config(&s.table_config("", &guests));
    s.ok(&["apply"]);
    s
}

/// `guest.actions` emptied while guests stay: the guest policy is detached from the guest role
/// and deleted (it is read with its attachments to know it is attached); the role stays the
/// pool's unauthenticated role.
#[test]
fn emptying_guest_actions_removes_only_the_guest_policy() {
    let s = applied_with_guest_get_item("guest-empty");
    let sdk = sdk();
    assert!(block_on(sdk.policy_exists(&guest_policy_arn(&s))));
    s.write_config(&s.table_config("", GUESTS));
    let j = plan_then_apply(&s);
    let why = "guest.actions is empty";
    assert_eq!(
        actions(&j),
        [(
            "guest-policy".to_string(),
            vec![
                format!("detach it from role {}", guest_role(&s)),
                format!("delete policy {} ({why})", guest_policy(&s)),
            ]
        )]
    );
    assert!(!block_on(sdk.policy_exists(&guest_policy_arn(&s))));
    assert!(block_on(sdk.role_exists(&guest_role(&s))));
    assert_eq!(pool_roles(&s).get("unauthenticated"), Some(&guest_role_arn(&s)));
    s.ok(&["apply"]).no_writes();
    s.ok(&["teardown"]);
}

/// Teardown reads the guest policy's attachments: one attached by hand to a role outside the
/// stack keeps it (the guest role still goes).
#[test]
fn teardown_keeps_a_guest_policy_attached_outside_the_stack() {
    let s = applied_with_guest_get_item("guest-shared");
    let sdk = sdk();
    let other = format!("{}-other", s.name);
    let create =
        sdk.iam.create_role().role_name(&other).assume_role_policy_document(ECS_TASKS_TRUST);
    block_on(create.send()).unwrap();
    let attach = sdk.iam.attach_role_policy().role_name(&other).policy_arn(guest_policy_arn(&s));
    block_on(attach.send()).unwrap();
    let j = s.ok(&["teardown", "-o", "json"]).json();
    assert!(
        actions(&j).contains(&(
            "guest-policy".to_string(),
            vec![format!(
                "keep policy {}: still attached to role {other} (not managed by this stack)",
                guest_policy(&s)
            )]
        )),
        "{:?}",
        actions(&j)
    );
    assert!(block_on(sdk.policy_exists(&guest_policy_arn(&s))));
    assert!(!block_on(sdk.role_exists(&guest_role(&s))));
}

/// The issue-27 case: something outside the guest role's policies (here the table's
/// resource-based policy, which the emulator enforces like DynamoDB) lets guests call what
/// `guest.actions` does not grant. `verify --guest` names the statement that does it, not the
/// guest policy (which is in sync); `status` shows the grant as a security finding on the table;
/// once it is removed, both are clean again.
#[test]
fn a_table_resource_policy_that_lets_guests_in_is_named_by_verify_and_status() {
    let s = applied_with_guest_get_item("guest-resource-policy");
    let table_arn = format!("arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{}", s.table());
    let sdk = sdk();
    verify_guest(&s, 0);
    assert!(s.status_notes("table").iter().all(|n| !n.starts_with("security: ")));

    let doc = json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "Backend", "Effect": "Allow",
         "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:role/{}-api", s.name)},
         "Action": "dynamodb:*", "Resource": table_arn},
        {"Sid": "GuestCleanup", "Effect": "Allow", "Principal": {"AWS": guest_role_arn(&s)},
         "Action": ["dynamodb:GetItem", "dynamodb:DeleteItem"], "Resource": table_arn}]});
    block_on(
        sdk.dynamodb.put_resource_policy().resource_arn(&table_arn).policy(doc.to_string()).send(),
    )
    .unwrap();
    let v = verify_guest(&s, 1);
    let (failed, cause) = first_failure(&v);
    assert_eq!(failed, "guest-denied");
    assert_eq!(
        cause,
        format!(
            "guests may call dynamodb:DeleteItem, which guest.actions does not grant: the resource-based policy of table {} grants it (statement \"GuestCleanup\"); setup does not manage that policy (`setup status` shows the grant): remove it",
            s.table()
        )
    );
    // status: the guest policy is in sync, the table's policy grants more than the config
    let r = s.run(&["status", "-o", "json"]);
    let j = r.json();
    assert_eq!(r.step(&j, "guest-policy")["state"], "in_sync", "{}", r.all());
    let findings: Vec<String> =
        s.status_notes("table").into_iter().filter(|n| n.starts_with("security: ")).collect();
    assert_eq!(
        findings,
        [format!(
            "security: the resource-based policy of table {} grants role {} (every guest) dynamodb:DeleteItem, which guest.actions does not (statement \"GuestCleanup\"); setup does not manage that policy: remove the grant",
            s.table(),
            guest_role(&s)
        )]
    );
    block_on(sdk.dynamodb.delete_resource_policy().resource_arn(&table_arn).send()).unwrap();
    verify_guest(&s, 0);
    assert!(s.status_notes("table").iter().all(|n| !n.starts_with("security: ")));
    s.ok(&["teardown", "--delete-table", "--yes"]);
}
