use std::path::Path;

use aws_sdk_cognitoidentity::types::{
    AmbiguousRoleResolutionType, MappingRule, RulesConfigurationType,
};

use super::*;
use crate::commands::verify::guest::DENIED_ORDER;
use crate::config::{parse, Overrides};

const BASE: &str = "stack = \"demo\"\n[user_pool]\nid = \"us-east-1_abc\"\nclient_ids = [\"c1\"]\n";
const KEY: &str = "cognito-idp.us-east-1.amazonaws.com/us-east-1_abc:c1";

fn desired(extra: &str) -> Desired {
    parse(&format!("{BASE}{extra}"), Path::new("setup.toml"), &Overrides::default()).unwrap()
}

fn two_groups() -> Desired {
    desired("[[groups]]\nname = \"admins\"\nactions = [\"dynamodb:Scan\"]\n[[groups]]\nname = \"support\"\nactions = [\"dynamodb:GetItem\"]\n")
}

#[test]
fn only_a_configured_group_with_a_test_user_is_verified() {
    let d = two_groups();
    assert_eq!(configured(&d, "support", true).unwrap().role_name, "demo-group-support");
    let unknown = configured(&d, "staff", true).unwrap_err().to_string();
    assert_eq!(
        unknown,
        "group \"staff\" is not configured; the configured groups ([[groups]]) are: admins, support"
    );
    let none = configured(&desired(""), "admins", true).unwrap_err().to_string();
    assert!(
        none.starts_with("group \"admins\" is not configured: stack demo has no [[groups]]"),
        "{none}"
    );
    let no_user = configured(&d, "admins", false).unwrap_err().to_string();
    assert!(no_user.starts_with("--group needs --create-test-user"), "{no_user}");
}

fn rule(claim: &str, how: MappingRuleMatchType, value: &str, role: &str) -> MappingRule {
    MappingRule::builder()
        .claim(claim)
        .match_type(how)
        .value(value)
        .role_arn(format!("arn:aws:iam::1:role/{role}"))
        .build()
        .unwrap()
}

fn rules(list: Vec<MappingRule>, ambiguous: &str) -> HashMap<String, RoleMapping> {
    let m = RoleMapping::builder()
        .r#type(RoleMappingType::Rules)
        .ambiguous_role_resolution(AmbiguousRoleResolutionType::from(ambiguous))
        .rules_configuration(
            RulesConfigurationType::builder().set_rules(Some(list)).build().unwrap(),
        )
        .build()
        .unwrap();
    HashMap::from([(KEY.to_string(), m)])
}

#[test]
fn the_mapping_gives_a_member_the_first_matching_rules_role() {
    use MappingRuleMatchType::*;
    let arn = |r: &str| Mapping::Rule(format!("arn:aws:iam::1:role/{r}"));
    assert_eq!(mapping(None, KEY, "admins"), Mapping::None);
    let m = rules(vec![rule(GROUPS_CLAIM, Contains, "admins", "a")], "AuthenticatedRole");
    assert_eq!(mapping(Some(&m), KEY, "admins"), arn("a"));
    assert_eq!(
        mapping(Some(&m), "cognito-idp.us-east-1.amazonaws.com/us-east-1_abc:c2", "admins"),
        Mapping::None,
        "another app client's mapping"
    );
    assert_eq!(mapping(Some(&m), KEY, "support"), Mapping::NoRule { deny: false });
    let deny = rules(vec![], "Deny");
    assert_eq!(mapping(Some(&deny), KEY, "admins"), Mapping::NoRule { deny: true });
    // In order: the first rule that matches decides; rules on other claims do not match.
    let m = rules(
        vec![
            rule("custom:team", Equals, "admins", "team"),
            rule(GROUPS_CLAIM, Contains, "support", "s"),
            rule(GROUPS_CLAIM, StartsWith, "adm", "prefix"),
            rule(GROUPS_CLAIM, Contains, "admins", "a"),
        ],
        "AuthenticatedRole",
    );
    assert_eq!(mapping(Some(&m), KEY, "admins"), arn("prefix"));
    assert_eq!(mapping(Some(&m), KEY, "support"), arn("s"));
    let m =
        rules(vec![rule(GROUPS_CLAIM, NotEqual, "support", "not-support")], "AuthenticatedRole");
    assert_eq!(mapping(Some(&m), KEY, "admins"), arn("not-support"));
    assert_eq!(mapping(Some(&m), KEY, "support"), Mapping::NoRule { deny: false });
    let m = rules(vec![rule(GROUPS_CLAIM, Equals, "admins", "eq")], "AuthenticatedRole");
    assert_eq!(mapping(Some(&m), KEY, "admins"), arn("eq"));
    // A Token mapping has no rules: the claims' roles decide, not the config.
    let token = RoleMapping::builder()
        .r#type(RoleMappingType::Token)
        .ambiguous_role_resolution(AmbiguousRoleResolutionType::AuthenticatedRole)
        .build()
        .unwrap();
    let token = HashMap::from([(KEY.to_string(), token)]);
    assert_eq!(mapping(Some(&token), KEY, "admins"), Mapping::NoRule { deny: false });
}

#[test]
fn the_assumed_role_is_read_from_the_caller_arn() {
    let arn =
        "arn:aws-cn:sts::123456789012:assumed-role/demo-group-admins/CognitoIdentityCredentials";
    assert_eq!(assumed_role_name(arn), Some("demo-group-admins"));
    assert_eq!(assumed_role_name("arn:aws:iam::123456789012:user/ci"), None);
    assert_eq!(assumed_role_name("arn:aws:sts::1:assumed-role//x"), None);
    assert_eq!(role_name("arn:aws:iam::1:role/path/to/r"), "r");
}

#[test]
fn another_role_handed_out_is_named_with_what_to_check() {
    let d = two_groups();
    let g = &d.groups[0];
    let text = |role: Option<&str>, mapping: Mapping| {
        wrong_role(&Handed {
            role,
            arn: "arn:aws:sts::1:assumed-role/x/s",
            group: g,
            stack_role: "demo-cognito-authenticated",
            mapping: &mapping,
            pool_id: "us-east-1:p",
            client_id: "c1",
            user_pool: "us-east-1_abc",
        })
    };
    let stack = Some("demo-cognito-authenticated");
    assert_eq!(
        text(stack, Mapping::None),
        "Cognito handed out the stack's role demo-cognito-authenticated, not group admins's role demo-group-admins: identity pool us-east-1:p has no role mapping for app client c1, so every signed-in user gets the authenticated role; run `setup apply` to fix it (`setup status` shows the same)"
    );
    let no_rule = text(stack, Mapping::NoRule { deny: false });
    assert!(no_rule.contains("has no rule cognito:groups Contains \"admins\""), "{no_rule}");
    assert!(no_rule.ends_with("`setup status` shows the same)"), "{no_rule}");
    let not_member = text(stack, Mapping::Rule("arn:aws:iam::1:role/demo-group-admins".into()));
    assert!(
        not_member.contains("the ID token did not carry admins in cognito:groups: check that group admins exists in user pool us-east-1_abc and that the test user was added to it")
            && not_member.contains("`setup status`"),
        "{not_member}"
    );
    let other = text(Some("x"), Mapping::Rule("arn:aws:iam::1:role/x".into()));
    assert!(other.starts_with("Cognito handed out role x, not group admins's role demo-group-admins: the pool's role mapping gives members of \"admins\" role arn:aws:iam::1:role/x"), "{other}");
    let user = text(None, Mapping::None);
    assert!(
        user.starts_with(
            "the credentials are not an assumed role's (arn:aws:sts::1:assumed-role/x/s)"
        ),
        "{user}"
    );
}

#[test]
fn add_to_group_refusals_say_what_to_do() {
    let missing = add_refused("ResourceNotFoundException", "us-east-1_abc", "admins");
    assert!(missing.starts_with("user pool us-east-1_abc has no group \"admins\""), "{missing}");
    assert!(
        missing.contains(
            "aws cognito-idp create-group --user-pool-id us-east-1_abc --group-name admins"
        ),
        "{missing}"
    );
    let denied = add_refused("AccessDeniedException", "p", "admins");
    assert!(denied.contains("cognito-idp:AdminAddUserToGroup"), "{denied}");
}

#[test]
fn the_denied_call_is_the_first_the_group_lacks() {
    let list = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        denied_call(&list(&["dynamodb:GetItem", "dynamodb:Query", "dynamodb:Scan"])),
        Some("dynamodb:DeleteItem")
    );
    assert_eq!(
        denied_call(&list(&["dynamodb:deleteitem", "dynamodb:PutItem"])),
        Some("dynamodb:UpdateItem")
    );
    assert_eq!(denied_call(&list(&DENIED_ORDER)), None);
}
