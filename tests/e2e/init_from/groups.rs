//! `init --from-identity-pool` on a pool whose role mappings were made by hand: rules in setup's
//! shape read back as `[[groups]]` (each rule's role and its policy on the table), and a
//! mapping of another shape named, with why, and not expressed.

use aws_sdk_cognitoidentity::types::{
    AmbiguousRoleResolutionType, MappingRule, MappingRuleMatchType, RoleMapping, RoleMappingType,
    RulesConfigurationType,
};

use super::checks::*;
use super::console::*;
use crate::harness::*;

/// The provider name of the stack's app client, the key of its role mapping.
fn provider(s: &Stack) -> String {
    format!("cognito-idp.{REGION}.amazonaws.com/{}:{}", s.user_pool_id, s.client_id)
}

/// A role made by hand for a group: the console's trust for `pool`, and a policy named
/// `policy` granting `actions` on the table.
fn group_role(pool: &str, hand: &ByHand, role: &str, policy: &str, actions: &[&str]) {
    let sdk = sdk();
    block_on(async {
        sdk.create_role(role, &right_trust(pool).to_string()).await;
        let doc = grant(actions, &[hand.table_arn()]).to_string();
        let p = sdk.iam.create_policy().policy_name(policy).policy_document(doc).send().await;
        let arn = p.unwrap().policy().unwrap().arn().unwrap().to_string();
        let attach = sdk.iam.attach_role_policy().role_name(role).policy_arn(arn);
        attach.send().await.unwrap();
    });
}

/// The pool's roles as built, and a mapping of the app client: `kind`, `ambiguous`, and one
/// rule per (claim, match type, value, role).
fn set_mapping(
    s: &Stack,
    pool: &str,
    kind: RoleMappingType,
    ambiguous: AmbiguousRoleResolutionType,
    rules: &[(&str, MappingRuleMatchType, &str, &str)],
) {
    let rules = rules.iter().map(|(claim, match_type, value, role)| {
        MappingRule::builder()
            .claim(*claim)
            .match_type(match_type.clone())
            .value(*value)
            .role_arn(format!("arn:aws:iam::{ACCOUNT}:role/{role}"))
            .build()
            .unwrap()
    });
    let mapping = RoleMapping::builder()
        .r#type(kind)
        .ambiguous_role_resolution(ambiguous)
        .rules_configuration(
            RulesConfigurationType::builder().set_rules(Some(rules.collect())).build().unwrap(),
        )
        .build()
        .unwrap();
    let call = sdk()
        .identity
        .set_identity_pool_roles()
        .identity_pool_id(pool)
        .roles("authenticated", ByHand::names(s).role_arn())
        .role_mappings(provider(s), mapping);
    block_on(call.send()).unwrap();
}

fn groups(file: &toml::Table) -> Vec<toml::Table> {
    let list = file.get("groups").and_then(|g| g.as_array()).cloned().unwrap_or_default();
    list.into_iter().map(|g| g.as_table().unwrap().clone()).collect()
}

#[test]
fn rules_in_setups_shape_become_groups_that_status_reads_and_adopt_keeps() {
    let helpdesk = |s: &Stack| format!("HelpDesk-{}", s.name);
    let c = case_with(
        "init-groups",
        &Table::on_demand(),
        right_trust,
        table_grant(&["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]),
        &[],
        |s, pool| {
            let hand = ByHand::names(s);
            // The defaults' names for admins (the stack is the pool's name's), others for support.
            let admins = format!("{}-group-admins", s.name);
            group_role(
                pool,
                &hand,
                &admins,
                &format!("{admins}-access"),
                &["dynamodb:GetItem", "dynamodb:Query", "dynamodb:Scan"],
            );
            let support = helpdesk(s);
            group_role(
                pool,
                &hand,
                &support,
                &format!("help-reads-{}", s.name),
                &["dynamodb:GetItem"],
            );
            let contains = MappingRuleMatchType::Contains;
            set_mapping(
                s,
                pool,
                RoleMappingType::Rules,
                AmbiguousRoleResolutionType::AuthenticatedRole,
                &[
                    ("cognito:groups", contains.clone(), "admins", &admins),
                    ("cognito:groups", contains, "support", &support),
                ],
            );
        },
    );
    let g = groups(&c.file);
    assert_eq!(g.len(), 2, "{}", c.text);
    // Rule order is group order; a name that is the default is left out.
    assert_eq!(g[0]["name"].as_str(), Some("admins"));
    assert!(g[0].get("role").is_none() && g[0].get("policy_name").is_none(), "{:?}", g[0]);
    assert_eq!(strs(&g[0]["actions"]), ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:Scan"]);
    assert_eq!(g[0]["per_user_isolation"].as_bool(), Some(false));
    assert_eq!(g[1]["name"].as_str(), Some("support"));
    assert_eq!(g[1]["role"].as_str(), Some(helpdesk(&c.s).as_str()));
    assert_eq!(g[1]["policy_name"].as_str(), Some(format!("help-reads-{}", c.s.name).as_str()));
    assert_eq!(strs(&g[1]["actions"]), ["dynamodb:GetItem"]);
    let above = comment_above(&c.text, "[[groups]]");
    assert!(above.contains("GetIdentityPoolRoles"), "{above}");
    assert!(!c.init.stderr.contains("not expressed"), "{}", c.init.all());
    // The tool reads the file like any config: status names each group's role and policy, made
    // by hand (not this stack's yet), and the mapping as it is.
    let r = c.s.run(&["status", "-o", "json"]).exits(2);
    let j = r.json();
    for group in ["admins", "support"] {
        for step in ["group-role", "group-policy"] {
            assert_eq!(
                unit(&j, step, group)["state"],
                "not_owned",
                "{step}[{group}]: {}",
                r.stdout
            );
        }
    }
    // Adopted: in sync, and the mapping is the one made by hand (same rules, same roles).
    let before =
        block_on(sdk().identity.get_identity_pool_roles().identity_pool_id(&c.hand.pool_id).send())
            .unwrap();
    c.s.ok(&["apply", "--adopt"]);
    let r = c.s.run(&["status", "-o", "json"]);
    assert_eq!(r.code, 0, "not in sync after adopt: {}", r.all());
    let after =
        block_on(sdk().identity.get_identity_pool_roles().identity_pool_id(&c.hand.pool_id).send())
            .unwrap();
    assert_eq!(after.role_mappings(), before.role_mappings());
}

#[test]
fn a_mapping_of_another_shape_is_named_with_why_and_not_expressed() {
    let c = case_with(
        "init-groups-deny",
        &Table::on_demand(),
        right_trust,
        table_grant(&["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]),
        &[],
        |s, pool| {
            let hand = ByHand::names(s);
            let admins = format!("Admins-{}", s.name);
            group_role(pool, &hand, &admins, &format!("admins-{}", s.name), &["dynamodb:Scan"]);
            set_mapping(
                s,
                pool,
                RoleMappingType::Rules,
                AmbiguousRoleResolutionType::Deny,
                &[("cognito:groups", MappingRuleMatchType::Contains, "admins", &admins)],
            );
        },
    );
    assert!(groups(&c.file).is_empty(), "{}", c.text);
    let why = format!(
        "the role mapping of {} is not expressed: its AmbiguousRoleResolution is Deny",
        provider(&c.s)
    );
    // In the file, above where the groups would be, and on stderr.
    let at = c.text.find("# User pool groups").unwrap_or_else(|| panic!("{}", c.text));
    let notes = flat(&c.text[at..].lines().take_while(|l| l.starts_with('#')).collect::<Vec<_>>());
    assert!(notes.contains(&why), "{notes}");
    c.init.stderr_has(&why);
}
