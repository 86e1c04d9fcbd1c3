use super::*;
use serde_json::json;

fn at() -> Place {
    Place { partition: "aws".into(), region: "us-east-1".into(), account: "123456789012".into() }
}
const T: &str = "arn:aws:dynamodb:us-east-1:123456789012:table/notes";

fn read(doc: Value) -> Reading {
    read_policy("dynamo-access", "arn:aws:iam::123456789012:policy/dynamo-access", &doc, &at())
}

#[test]
fn a_console_policy_on_one_table_is_one_grant() {
    let r = read(json!({"Version": "2012-10-17", "Statement": {
        "Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:getitem"], "Resource": T}}));
    assert_eq!(r.grants.len(), 1);
    let g = &r.grants[0];
    assert_eq!(g.table, "notes");
    assert_eq!(g.actions, ["dynamodb:GetItem", "dynamodb:PutItem"]);
    assert_eq!(g.isolation, None);
    assert!(g.dropped.is_empty() && g.wildcards.is_empty());
    assert!(r.broad.is_empty() && r.elsewhere.is_empty());
}

#[test]
fn index_arns_other_services_and_conditions_are_what_adopt_drops() {
    let r = read(json!({"Statement": [
        {"Effect": "Allow", "Action": ["dynamodb:Query", "dynamodb:Get*"], "Resource": [T, format!("{T}/index/*")]},
        {"Sid": "Files", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bucket/*"},
        {"Effect": "Allow", "Action": "dynamodb:PutItem", "Resource": T,
         "Condition": {"ForAllValues:StringEquals": {"dynamodb:Attributes": ["a"]}}},
        {"Effect": "Deny", "Action": "dynamodb:DeleteItem", "Resource": T}
    ]}));
    let g = &r.grants[0];
    assert_eq!(g.actions, ["dynamodb:Query", "dynamodb:PutItem"]);
    assert_eq!(g.wildcards, ["dynamodb:Get*"]);
    assert_eq!(
        g.dropped,
        [
            format!("dynamodb:Query, dynamodb:Get* on {T}/index/*"),
            "the condition ForAllValues:StringEquals on dynamodb:attributes".to_string(),
            "s3:GetObject on arn:aws:s3:::bucket/*".to_string(),
            "a statement (Deny)".to_string(),
        ]
    );
}

#[test]
fn wildcard_resources_and_other_regions_are_not_candidates() {
    let r = read(json!({"Statement": [
        {"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"},
        {"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": "arn:aws:dynamodb:us-east-1:123456789012:table/*"},
        {"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": "arn:aws:dynamodb:eu-west-1:123456789012:table/notes"}
    ]}));
    assert!(r.grants.is_empty());
    assert_eq!(
        r.broad,
        ["dynamodb:* on *", "dynamodb:GetItem on arn:aws:dynamodb:us-east-1:123456789012:table/*"]
    );
    assert_eq!(
        r.elsewhere,
        ["dynamodb:GetItem on table notes in region eu-west-1 of account 123456789012"]
    );
    assert!(grants_dynamodb(
        &json!({"Statement": [{"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"}]})
    ));
    assert!(!grants_dynamodb(
        &json!({"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]})
    ));
    assert!(!grants_dynamodb(
        &json!({"Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}]})
    ));
}

#[test]
fn isolation_with_and_without_the_guard() {
    let isolated = |guard: bool| {
        let mut cond =
            json!({"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [IDENTITY_ID_VARIABLE]}});
        if guard {
            cond["Null"] = json!({"dynamodb:LeadingKeys": "false"});
        }
        read(json!({"Statement": [{"Effect": "Allow",
            "Action": ["dynamodb:GetItem", "dynamodb:Scan"], "Resource": T, "Condition": cond}]}))
    };
    let boolean =
        read(json!({"Statement": [{"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": T,
        "Condition": {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": IDENTITY_ID_VARIABLE},
                      "Null": {"dynamodb:LeadingKeys": false}}}]}));
    assert!(boolean.grants[0].isolation.as_ref().unwrap().guard);
    let with = isolated(true);
    let iso = with.grants[0].isolation.clone().unwrap();
    assert!(iso.guard);
    assert_eq!(iso.values, [IDENTITY_ID_VARIABLE]);
    assert!(isolation_notes(&with.grants[0]).is_empty());
    let without = isolated(false);
    assert!(!without.grants[0].isolation.as_ref().unwrap().guard);
    let notes = isolation_notes(&without.grants[0]);
    assert_eq!(notes.len(), 1);
    assert!(notes[0].contains("apply --adopt adds it"), "{notes:?}");
    // Scan names no partition key: left out of the config's actions, with the reason.
    let a = config_actions(&without.grants[0], &["dynamodb:GetItem"]);
    assert_eq!(a.actions, ["dynamodb:GetItem"]);
    assert!(a.notes[0].contains("dynamodb:Scan under the LeadingKeys condition"), "{a:?}");
}

#[test]
fn keyed_actions_beside_the_isolated_statement_are_named() {
    let r = read(json!({"Statement": [
        {"Effect": "Allow", "Action": "dynamodb:PutItem", "Resource": T, "Condition": {
            "ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["${aws:userid}"]}}},
        {"Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:DescribeTable"], "Resource": T}
    ]}));
    let g = &r.grants[0];
    assert_eq!(
        g.dropped,
        ["dynamodb:GetItem without the LeadingKeys condition (on every user's items)"]
    );
    let notes = isolation_notes(g);
    assert_eq!(notes.len(), 2, "{notes:?}");
    assert!(notes[1].contains("${aws:userid}"));
    let a = config_actions(g, &[]);
    assert_eq!(a.actions, ["dynamodb:PutItem", "dynamodb:GetItem"]);
    let p = &g.policy;
    assert_eq!(a.notes, [format!("policy {p} grants dynamodb:DescribeTable on the table: the config grants item actions only (not actions on the table itself, nor names outside IAM's list of DynamoDB actions), so they are left out and apply --adopt removes them")]);
}

#[test]
fn only_wildcards_fall_back_to_the_defaults_with_a_note() {
    let r = read(json!({"Statement": {"Effect": "Allow", "Action": "dynamodb:*", "Resource": T}}));
    let a = config_actions(&r.grants[0], &["dynamodb:GetItem"]);
    assert_eq!(a.actions, ["dynamodb:GetItem"]);
    assert_eq!(a.notes.len(), 2, "{a:?}");
}

#[test]
fn the_choice_prefers_an_existing_table_then_more_actions_then_the_name() {
    let g = |policy: &str, table: &str, n: usize| TableGrant {
        policy: policy.into(),
        policy_arn: String::new(),
        table: table.into(),
        actions: (0..n).map(|i| format!("dynamodb:A{i}")).collect(),
        wildcards: vec![],
        isolation: None,
        dropped: vec![],
    };
    let grants = [g("b", "gone", 9), g("c", "notes", 2), g("a", "notes", 2), g("d", "notes", 3)];
    assert_eq!(choose(&grants, |t| t == "notes"), Some(3));
    assert_eq!(choose(&grants[1..3], |_| true), Some(1));
    assert_eq!(choose(&[], |_| true), None);
}

#[test]
fn stack_names_from_pool_names() {
    for (pool, stack) in [
        ("myapp_dev_identities", "myapp-dev"),
        ("my app identities", "my-app"),
        ("Notes Identity Pool", "notes"),
        ("identities", "identities"),
        ("+++", "adopted"),
    ] {
        assert_eq!(stack_from_pool_name(pool), stack, "{pool}");
    }
    let long = stack_from_pool_name(&"a-".repeat(40));
    assert!(long.len() <= 32 && !long.ends_with('-'), "{long}");
}

#[test]
fn aws_managed_arns_and_copyable_tags() {
    assert!(is_aws_managed("arn:aws:iam::aws:policy/AmazonDynamoDBFullAccess"));
    assert!(!is_aws_managed("arn:aws:iam::123456789012:policy/dynamo-access"));
    assert!(copyable_tag("team"));
    assert!(!copyable_tag("aws:cloudformation:stack-name"));
    assert!(!copyable_tag("setup:stack"));
}
