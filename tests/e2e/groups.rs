//! Roles for user pool groups (`[[groups]]`), end to end with IAM enforced on the identity
//! pool's credentials: the emulator hands out roles from the pool's role mapping as Cognito does
//! (tests/emu/role_mappings.py), and STS names the role the credentials are for. A member of a
//! group gets its role and its actions; everyone else keeps the stack's role; the first group in
//! the config wins; a group taken out of the config goes; a mapping or trust edited by hand is
//! named and repaired.

use std::collections::HashMap;

use aws_sdk_cognitoidentity::types::{
    AmbiguousRoleResolutionType, MappingRule, MappingRuleMatchType, RoleMapping, RoleMappingType,
    RulesConfigurationType,
};
use serde_json::Value;

use crate::harness::*;
use crate::isolation::{sign_in, sign_in_existing, Identity, DENIED, PASSWORD};

/// A `[[groups]]` entry.
fn group(name: &str, actions: &[&str]) -> String {
    let actions: Vec<String> = actions.iter().map(|a| format!("\"dynamodb:{a}\"")).collect();
    format!("\n[[groups]]\nname = \"{name}\"\nactions = [{}]\n", actions.join(", "))
}

/// A stack whose config has these groups (and the default `[policy]`).
fn stack(name: &str, groups: &str) -> Stack {
    let s = Stack::new(name, "");
    s.write_config(&s.table_config("", groups));
    s
}

/// Creates user pool group `name` in the shared user pool (each test uses names of its own).
fn create_group(name: &str) {
    let (pool, _) = user_pool();
    block_on(sdk().idp.create_group().user_pool_id(pool).group_name(name).send()).unwrap();
}

/// A user of the shared user pool in these groups, signed in through the stack's pool.
fn member(s: &Stack, user: &str, groups: &[&str]) -> Identity {
    create_user(user, PASSWORD);
    let (pool, _) = user_pool();
    for g in groups {
        let call = sdk().idp.admin_add_user_to_group().user_pool_id(pool).username(user);
        block_on(call.group_name(*g).send()).unwrap();
    }
    sign_in_existing(s, user)
}

/// The role the credentials are for (`…:assumed-role/<role>/<session>`).
fn role_of(i: &Identity) -> &str {
    i.caller.split('/').nth(1).unwrap_or_else(|| panic!("not an assumed role: {}", i.caller))
}

fn group_role(s: &Stack, group: &str) -> String {
    format!("{}-group-{group}", s.name)
}

fn notes(st: &Value) -> Vec<String> {
    st["notes"].as_array().unwrap().iter().map(|n| n.as_str().unwrap().to_string()).collect()
}

/// The pool's role mappings as GetIdentityPoolRoles has them.
fn mappings(s: &Stack) -> HashMap<String, RoleMapping> {
    let call = sdk().identity.get_identity_pool_roles().identity_pool_id(s.pool_id());
    block_on(call.send()).unwrap().role_mappings().cloned().unwrap_or_default()
}

/// SetIdentityPoolRoles by hand: the pool's roles as they are, with these mappings.
fn set_mappings(s: &Stack, m: HashMap<String, RoleMapping>) {
    let roles =
        block_on(sdk().identity.get_identity_pool_roles().identity_pool_id(s.pool_id()).send())
            .unwrap()
            .roles()
            .cloned()
            .unwrap_or_default();
    let call = sdk().identity.set_identity_pool_roles().identity_pool_id(s.pool_id());
    let call = call.set_roles(Some(roles)).set_role_mappings((!m.is_empty()).then_some(m));
    block_on(call.send()).unwrap();
}

/// A one-rule mapping: `cognito:groups` Contains `value` → `role_arn`.
fn rule_mapping(
    value: &str,
    role_arn: &str,
    ambiguous: AmbiguousRoleResolutionType,
) -> RoleMapping {
    let rule = MappingRule::builder()
        .claim("cognito:groups")
        .match_type(MappingRuleMatchType::Contains)
        .value(value)
        .role_arn(role_arn)
        .build()
        .unwrap();
    let rules = RulesConfigurationType::builder().rules(rule).build().unwrap();
    RoleMapping::builder()
        .r#type(RoleMappingType::Rules)
        .ambiguous_role_resolution(ambiguous)
        .rules_configuration(rules)
        .build()
        .unwrap()
}

fn provider(s: &Stack) -> String {
    format!("{}:{}", s.provider(), s.client_id)
}

#[test]
fn a_member_of_admins_can_scan_and_a_user_outside_the_group_cannot() {
    let pid = std::process::id();
    let admins = format!("adm{pid}");
    create_group(&admins);
    let s = stack("grp-scan", &group(&admins, &["GetItem", "Query", "Scan"]));
    let plan = s.run(&["plan", "-o", "json"]);
    let j = plan.json();
    assert_eq!(unit(&j, "group-role", &admins)["state"], "missing", "{j}");
    assert_eq!(unit(&j, "group-policy", &admins)["state"], "missing", "{j}");
    // Without a permissions boundary, plan says once (on the role) what nothing caps, groups too.
    let unbounded: Vec<(String, String)> = j["steps"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|st| notes(st).into_iter().map(move |n| (st["step"].to_string(), n)))
        .filter(|(_, n)| n.starts_with("no permissions_boundary:"))
        .collect();
    assert_eq!(unbounded.len(), 1, "{unbounded:?}");
    assert_eq!(unbounded[0].0, "\"role\"");
    assert!(unbounded[0].1.contains(&format!("of group {admins}")), "{unbounded:?}");
    let pool_roles = entry(&j, "steps", "step", "pool-roles")["actions"].to_string();
    assert!(
        pool_roles.contains(&format!("{admins} → role {}", group_role(&s, &admins))),
        "{pool_roles}"
    );
    s.ok(&["apply"]);
    let status = s.expect(0, &["status", "-o", "json"]).json();
    assert_eq!(unit(&status, "group-role", &admins)["state"], "in_sync", "{status}");
    assert_eq!(unit(&status, "group-policy", &admins)["state"], "in_sync", "{status}");
    assert!(notes(unit(&status, "group-role", &admins)).is_empty(), "{status}");

    // The mapping is setup's shape, on the configured app client.
    let m = mappings(&s);
    let mine = &m[&provider(&s)];
    assert_eq!(mine.r#type(), &RoleMappingType::Rules);
    assert_eq!(
        mine.ambiguous_role_resolution(),
        Some(&AmbiguousRoleResolutionType::AuthenticatedRole)
    );
    let rules = mine.rules_configuration().unwrap().rules();
    assert_eq!(rules.len(), 1);
    assert_eq!((rules[0].claim(), rules[0].value()), ("cognito:groups", admins.as_str()));

    let t = s.table();
    let alice = member(&s, &format!("grp-alice-{pid}"), &[&admins]);
    let bob = sign_in(&s, &format!("grp-bob-{pid}"));
    assert_eq!(role_of(&alice), group_role(&s, &admins), "{}", alice.caller);
    assert_eq!(role_of(&bob), s.role(), "{}", bob.caller);
    assert_eq!(alice.scan(&t), None, "an admin scans the table");
    assert_eq!(bob.scan(&t).as_deref(), DENIED, "a user outside the group cannot");
    // The admin has only the group's actions: no PutItem.
    assert_eq!(alice.put(&t, &alice.sub).as_deref(), DENIED, "PutItem is not an admin action");
    assert_eq!(bob.put(&t, &bob.sub), None, "the stack's role keeps [policy] actions");

    // Teardown removes the group's role and policy with the rest.
    s.ok(&["teardown", "--yes"]);
    assert!(!block_on(sdk().role_exists(&group_role(&s, &admins))));
    let policy = format!("arn:aws:iam::{ACCOUNT}:policy/{}-access", group_role(&s, &admins));
    assert!(!block_on(sdk().policy_exists(&policy)));
}

#[test]
fn a_user_in_two_groups_gets_the_first_groups_role() {
    let pid = std::process::id();
    let (first, second) = (format!("fst{pid}"), format!("snd{pid}"));
    create_group(&first);
    create_group(&second);
    let both = format!("{}{}", group(&first, &["GetItem", "Scan"]), group(&second, &["GetItem"]));
    let s = stack("grp-two", &both);
    s.ok(&["apply"]);
    let carol = format!("grp-carol-{pid}");
    let c = member(&s, &carol, &[&second, &first]);
    assert_eq!(role_of(&c), group_role(&s, &first), "the first group in the config wins");
    assert_eq!(c.scan(&s.table()), None);
    // The order of the list is the order of the rules: swapped, the other group wins.
    let swapped =
        format!("{}{}", group(&second, &["GetItem"]), group(&first, &["GetItem", "Scan"]));
    s.write_config(&s.table_config("", &swapped));
    let plan = s.ok(&["plan", "-o", "json"]).json();
    let pool_roles = entry(&plan, "steps", "step", "pool-roles");
    assert_eq!(pool_roles["state"], "drifted", "{plan}");
    assert_eq!(pool_roles["changes"][0]["field"], format!("role_mappings.{}", provider(&s)));
    s.ok(&["apply"]);
    let c = sign_in_existing(&s, &carol);
    assert_eq!(role_of(&c), group_role(&s, &second));
    assert_eq!(c.scan(&s.table()).as_deref(), DENIED);
    s.ok(&["teardown", "--yes"]);
}

#[test]
fn removing_a_group_turns_its_members_back_into_ordinary_users() {
    let pid = std::process::id();
    let (staff, keep) = (format!("stf{pid}"), format!("kep{pid}"));
    create_group(&staff);
    create_group(&keep);
    let s = stack(
        "grp-remove",
        &format!("{}{}", group(&staff, &["GetItem", "Scan"]), group(&keep, &["GetItem"])),
    );
    s.ok(&["apply"]);
    let dave = format!("grp-dave-{pid}");
    assert_eq!(role_of(&member(&s, &dave, &[&staff])), group_role(&s, &staff));

    s.write_config(&s.table_config("", &group(&keep, &["GetItem"])));
    let plan = s.ok(&["plan", "-o", "json"]).json();
    let role = unit(&plan, "group-role", &staff);
    assert_eq!(role["state"], "drifted", "{plan}");
    assert_eq!(role["action_kinds"], serde_json::json!(["detach-policy", "delete"]), "{plan}");
    assert_eq!(unit(&plan, "group-policy", &staff)["action_kinds"], serde_json::json!(["delete"]));
    assert_eq!(unit(&plan, "group-role", &keep)["state"], "in_sync", "{plan}");
    s.ok(&["apply"]);
    assert!(!block_on(sdk().role_exists(&group_role(&s, &staff))));
    let d = sign_in_existing(&s, &dave);
    assert_eq!(role_of(&d), s.role(), "back to the stack's role");
    assert_eq!(d.scan(&s.table()).as_deref(), DENIED);
    assert_eq!(d.get(&s.table(), &d.sub), None, "the stack's actions");
    let status = s.expect(0, &["status", "-o", "json"]).json();
    let steps = status["steps"].as_array().unwrap();
    assert!(!steps.iter().any(|st| st["instance"] == staff.as_str()), "{status}");

    // The last group goes: the mapping goes too.
    s.write_config(&s.table_config("", ""));
    s.ok(&["apply"]);
    assert!(!mappings(&s).contains_key(&provider(&s)), "{:?}", mappings(&s));
    assert!(!block_on(sdk().role_exists(&group_role(&s, &keep))));
    s.expect(0, &["status"]);
    s.ok(&["teardown", "--yes"]);
}

#[test]
fn a_mapping_edited_by_hand_is_drift_and_apply_repairs_it() {
    let pid = std::process::id();
    let ops = format!("ops{pid}");
    create_group(&ops);
    let s = stack("grp-hand", &group(&ops, &["GetItem", "Scan"]));
    s.ok(&["apply"]);
    let erin = format!("grp-erin-{pid}");
    assert_eq!(role_of(&member(&s, &erin, &[&ops])), group_role(&s, &ops));

    // The rule now hands out the stack's role, and nobody matching no rule gets any.
    let edited = rule_mapping(&ops, &s.role_arn(), AmbiguousRoleResolutionType::Deny);
    set_mappings(&s, HashMap::from([(provider(&s), edited)]));
    assert_eq!(role_of(&sign_in_existing(&s, &erin)), s.role());
    let status = s.expect(2, &["status", "-o", "json"]).json();
    let pool_roles = entry(&status, "steps", "step", "pool-roles");
    assert_eq!(pool_roles["state"], "drifted", "{status}");
    let change = &pool_roles["changes"][0];
    assert_eq!(change["field"], format!("role_mappings.{}", provider(&s)));
    assert_eq!(change["live"]["AmbiguousRoleResolution"], "Deny", "{change}");
    assert_eq!(change["desired"]["AmbiguousRoleResolution"], "AuthenticatedRole", "{change}");
    s.ok(&["apply"]);
    s.expect(0, &["status"]);
    assert_eq!(role_of(&sign_in_existing(&s, &erin)), group_role(&s, &ops));

    // Removed by hand: missing again, and set again.
    set_mappings(&s, HashMap::new());
    let status = s.expect(2, &["status", "-o", "json"]).json();
    assert_eq!(entry(&status, "steps", "step", "pool-roles")["changes"][0]["live"], Value::Null);
    s.ok(&["apply"]);
    assert_eq!(role_of(&sign_in_existing(&s, &erin)), group_role(&s, &ops));
    s.ok(&["teardown", "--yes"]);
}

#[test]
fn a_broken_group_trust_a_missing_group_and_a_rule_to_a_missing_role_are_named() {
    let pid = std::process::id();
    let (sup, ghost) = (format!("sup{pid}"), format!("gst{pid}"));
    create_group(&sup);
    let s = stack(
        "grp-broken",
        &format!("{}{}", group(&sup, &["GetItem", "Scan"]), group(&ghost, &["GetItem"])),
    );
    s.ok(&["apply"]);
    // A group the user pool does not have: a finding on its role, not a refusal (nor drift).
    let status = s.expect(0, &["status", "-o", "json"]).json();
    let ghost_notes = notes(unit(&status, "group-role", &ghost));
    assert!(
        ghost_notes.iter().any(|n| n.starts_with(&format!(
            "finding: user pool {} has no group \"{ghost}\"",
            s.user_pool_id
        ))),
        "{ghost_notes:?}"
    );
    assert_eq!(unit(&status, "group-role", &ghost)["state"], "in_sync");
    create_group(&ghost);
    let status = s.expect(0, &["status", "-o", "json"]).json();
    assert!(notes(unit(&status, "group-role", &ghost)).is_empty(), "{status}");

    // The group role's trust names another pool: Cognito refuses credentials to its members.
    let role = group_role(&s, &sup);
    let mut trust = block_on(sdk().trust_policy(&role));
    trust["Statement"][0]["Condition"]["StringEquals"]["cognito-identity.amazonaws.com:aud"] =
        Value::from("us-east-1:00000000-0000-0000-0000-000000000000");
    block_on(sdk().set_trust_policy(&role, &trust.to_string()));
    let frank = format!("grp-frank-{pid}");
    create_user(&frank, PASSWORD);
    let (pool, _) = user_pool();
    let add = sdk().idp.admin_add_user_to_group().user_pool_id(pool).username(&frank);
    block_on(add.group_name(&sup).send()).unwrap();
    let refused = std::panic::catch_unwind(|| sign_in_existing(&s, &frank));
    assert!(refused.is_err(), "Cognito refuses credentials for a role whose trust is broken");
    let status = s.expect(2, &["status", "-o", "json"]).json();
    let st = unit(&status, "group-role", &sup);
    assert_eq!(st["state"], "drifted", "{status}");
    assert_eq!(st["action_kinds"], serde_json::json!(["rewrite-trust"]), "{status}");
    let role_notes = notes(st);
    assert!(
        role_notes.iter().any(|n| n.starts_with(&format!("finding: role {role} of group {sup}: "))
            && n.contains("us-east-1:00000000-0000-0000-0000-000000000000")),
        "{role_notes:?}"
    );
    s.ok(&["apply"]);
    assert_eq!(role_of(&sign_in_existing(&s, &frank)), role);

    // The group's role deleted by hand: the mapping's rule names a role that does not exist.
    let sdk = sdk();
    let policy = format!("arn:aws:iam::{ACCOUNT}:policy/{role}-access");
    block_on(sdk.detach_policy(&role, &policy));
    block_on(sdk.iam.delete_role().role_name(&role).send()).unwrap();
    let status = s.expect(2, &["status", "-o", "json"]).json();
    assert_eq!(unit(&status, "group-role", &sup)["state"], "missing", "{status}");
    let pool_notes = notes(entry(&status, "steps", "step", "pool-roles"));
    let want = format!(
        "finding: the role mapping of {}: rule 1 (cognito:groups Contains \"{sup}\") names role arn:aws:iam::{ACCOUNT}:role/{role}, which does not exist",
        provider(&s)
    );
    assert!(pool_notes.iter().any(|n| n.starts_with(&want)), "{pool_notes:?}");
    s.ok(&["apply"]);
    s.expect(0, &["status"]);
    assert_eq!(role_of(&sign_in_existing(&s, &frank)), role);
    s.ok(&["teardown", "--yes"]);
}
