//! `setup verify --create-test-user --group NAME` (issue 25, item 4): the test user joins the
//! user pool group, `sts:GetCallerIdentity` on the identity pool's credentials proves that
//! Cognito handed out the group's role (the emulator chooses it from the pool's role mapping,
//! tests/emu/role_mappings.py), the group's actions work on the user's own item under IAM
//! enforced by the emulator, and a table call outside them is denied.

use serde_json::Value;

use crate::harness::*;

/// A stack with one group, `<stack>-admins` (GetItem, Query, Scan), created in `s`'s user pool
/// (setup does not create user pool groups). The group's name.
fn with_admins(s: &Stack) -> String {
    let group = format!("{}-admins", s.name);
    s.write_config(&format!(
        "[[groups]]\nname = \"{group}\"\nactions = [\"dynamodb:GetItem\", \"dynamodb:Query\", \"dynamodb:Scan\"]\n"
    ));
    let sdk = s.emu.sdk();
    block_on(sdk.idp.create_group().user_pool_id(&s.user_pool_id).group_name(&group).send())
        .unwrap();
    group
}

fn group_role(s: &Stack, group: &str) -> String {
    format!("{}-group-{group}", s.name)
}

fn status_of(j: &Value, name: &str) -> String {
    hop(j, name)["status"].as_str().unwrap().to_string()
}

/// The user names of the members of `group`.
fn members(s: &Stack, group: &str) -> Vec<String> {
    let sdk = s.emu.sdk();
    let out = block_on(
        sdk.idp.list_users_in_group().user_pool_id(&s.user_pool_id).group_name(group).send(),
    )
    .unwrap();
    out.users().iter().filter_map(|u| u.username().map(str::to_string)).collect()
}

#[test]
fn a_member_of_admins_gets_the_group_role_scans_and_is_denied_the_rest() {
    let s = Stack::new("gv-admins", "");
    let group = with_admins(&s);
    s.ok(&["apply"]);
    let role = group_role(&s, &group);
    let r = s.verify(0, &["--group", &group]);
    let j = r.json();
    assert_eq!(j["group"], group.as_str());
    assert_eq!(j["role"], role.as_str());
    assert_eq!(status_of(&j, "add-to-group"), "ok", "{}", hop(&j, "add-to-group"));
    assert_eq!(hop(&j, "add-to-group")["signer"], "operator");
    // The role is proven from the credentials, not assumed from the config.
    let proof = field(hop(&j, "group-role"), "detail");
    assert!(proof.contains(&format!("assumed-role/{role}/")) && proof.contains(&group), "{proof}");
    assert!(r.ops.contains(&"AdminAddUserToGroup".to_string()), "{:?}", r.ops);
    // The group may not write: the operator writes the test item, the group reads it back,
    // queries its partition and scans the table with the identity's credentials.
    assert_eq!(hop(&j, "put-item")["signer"], "operator", "{}", hop(&j, "put-item"));
    for h in ["get-item", "query", "scan"] {
        assert_eq!(status_of(&j, h), "ok", "{h}: {}", hop(&j, h));
        assert_eq!(hop(&j, h)["signer"], "identity");
    }
    assert_eq!(status_of(&j, "update-item"), "skipped");
    assert!(field(hop(&j, "update-item"), "detail").contains("groups.0.actions"));
    // A call outside the group's actions is denied.
    let denied = field(hop(&j, "group-denied"), "detail");
    assert!(denied.starts_with("dynamodb:DeleteItem was denied (AccessDenied"), "{denied}");
    assert!(field(&j, "summary").contains(&format!("gets role {role}")), "{}", j["summary"]);
    // The user is gone, and with it its membership.
    let user = field(&j, "username").to_string();
    assert!(!user_names().contains(&user), "test user {user} was not deleted");
    assert!(members(&s, &group).is_empty(), "{:?}", members(&s, &group));

    // The text report names the group and its role.
    let text = s.ok(&["verify", "--create-test-user", "--group", &group]);
    assert!(text.stdout.contains(&format!("in group {group} (role {role})")), "{}", text.all());
    assert!(text.stdout.contains("ok group-role"), "{}", text.all());

    // Without --group the same user pool's users get the stack's role, which may not Scan.
    let plain = s.verify(0, &[]).json();
    assert!(field(hop(&plain, "get-credentials"), "detail").contains(&s.role()));
    assert!(plain["hops"].as_array().unwrap().iter().all(|h| h["hop"] != "scan"));

    // Only configured groups, and only with a test user.
    let r = s.expect(1, &["verify", "--create-test-user", "--group", "nobody"]);
    assert!(
        r.stderr.contains(&format!("the configured groups ([[groups]]) are: {group}")),
        "{}",
        r.all()
    );
    assert!(r.ops.is_empty(), "an unconfigured group is refused before any call: {:?}", r.ops);
    let r = s.expect(2, &["verify", "--username", "alice", "--group", &group]);
    assert!(
        r.stderr.contains("cannot be used with") && r.stderr.contains("--group"),
        "{}",
        r.all()
    );
}

#[test]
fn a_group_role_trust_broken_by_hand_is_named_at_get_credentials() {
    let s = Stack::new("gv-trust", "");
    let group = with_admins(&s);
    s.ok(&["apply"]);
    let role = group_role(&s, &group);
    let other = "us-east-1:00000000-0000-0000-0000-000000000000";
    let doc = setup::policy_doc::trust_policy(other, &s.provider()).to_string();
    block_on(sdk().set_trust_policy(&role, &doc));
    let j = s.verify(1, &["--group", &group]).json();
    let h = hop(&j, "get-credentials");
    assert!(field(h, "error").starts_with("InvalidIdentityPoolConfigurationException"), "{h}");
    let cause = field(h, "cause");
    assert!(cause.contains(&format!("role {role}'s trust policy does not let")), "{cause}");
    assert!(cause.contains(&format!("aud is \"{other}\"")), "{cause}");
    assert!(cause.contains("setup apply") && cause.contains("setup status"), "{cause}");
    // Named at once, without waiting for a propagation that would not help.
    assert!(h["duration_ms"].as_f64().unwrap() < 5000.0, "{h}");
    assert_eq!(status_of(&j, "group-role"), "skipped");
    assert_eq!(status_of(&j, "delete-test-user"), "ok");
    // apply repairs it.
    s.ok(&["apply"]);
    s.verify(0, &["--group", &group]);
}

#[test]
fn a_role_mapping_removed_by_hand_hands_out_the_stacks_role_and_verify_says_so() {
    let s = Stack::new("gv-unmapped", "");
    let group = with_admins(&s);
    s.ok(&["apply"]);
    block_on(
        sdk()
            .identity
            .set_identity_pool_roles()
            .identity_pool_id(s.pool_id())
            .roles("authenticated", s.role_arn())
            .send(),
    )
    .unwrap();
    let j = s.verify(1, &["--group", &group]).json();
    assert_eq!(status_of(&j, "get-credentials"), "ok");
    let h = hop(&j, "group-role");
    assert_eq!(h["status"], "failed", "{h}");
    assert!(field(h, "error").contains(&format!("assumed-role/{}/", s.role())), "{h}");
    let cause = field(h, "cause");
    assert!(
        cause.starts_with(&format!(
            "Cognito handed out the stack's role {}, not group {group}'s role {}",
            s.role(),
            group_role(&s, &group)
        )),
        "{cause}"
    );
    assert!(cause.contains("has no role mapping for app client"), "{cause}");
    assert!(cause.contains("setup apply"), "{cause}");
    for later in ["get-item", "scan", "group-denied"] {
        assert_eq!(status_of(&j, later), "skipped", "{later}");
    }
    assert_eq!(status_of(&j, "delete-test-user"), "ok");
}

/// Realistic mode: right after an apply that created the group's role, Cognito refuses it until
/// IAM has propagated it; verify --group finds the wiring right and waits for it, as for the
/// stack's role.
#[test]
fn verify_group_right_after_the_apply_that_made_the_group_waits_for_iam() {
    let emu = realistic_emulator();
    let s = Stack::on(emu, "gv-propagation", "");
    s.ok(&["apply"]);
    // The stack's role has propagated once a plain verify passes.
    s.ok(&["verify", "--create-test-user"]);
    let group = with_admins(&s);
    s.ok(&["apply"]);
    let role = group_role(&s, &group);
    let r = s.run(&["verify", "--create-test-user", "--group", &group]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(r.stderr.contains(&format!("waiting for IAM to propagate role {role}")), "{}", r.all());
    assert!(r.stdout.contains("for IAM to propagate the role to Cognito)"), "{}", r.all());
    assert!(r.stdout.contains("ok group-role"), "{}", r.all());
}
