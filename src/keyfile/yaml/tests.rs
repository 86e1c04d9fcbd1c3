use super::*;

fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// The seven keys `setup outputs` writes.
fn ours() -> Vec<(String, String)> {
    pairs(&[
        ("aws.region", "us-east-1"),
        ("aws.cognito.user-pool-id", "us-east-1_AbC123"),
        ("aws.cognito.client-id", "1example23456789"),
        ("aws.cognito.identity-pool-id", "us-east-1:1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d"),
        ("aws.cognito.authenticated-role-arn", "arn:aws:iam::123456789012:role/demo-auth"),
        ("aws.dynamodb.user-profile-table", "demo-profiles"),
        (
            "aws.dynamodb.user-profile-table-arn",
            "arn:aws:dynamodb:us-east-1:123456789012:table/demo-profiles",
        ),
    ])
}

const NESTED: &str = "aws:
  region: us-east-1
  cognito:
    user-pool-id: us-east-1_AbC123
    client-id: \"1example23456789\"
    identity-pool-id: us-east-1:1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d
    authenticated-role-arn: arn:aws:iam::123456789012:role/demo-auth
  dynamodb:
    user-profile-table: demo-profiles
    user-profile-table-arn: arn:aws:dynamodb:us-east-1:123456789012:table/demo-profiles
";

/// Merges, asserts that the result is YAML with our values, and that merging again changes
/// nothing.
fn merged(existing: &str, p: &[(String, String)]) -> Merged {
    let m = merge(existing, p).unwrap_or_else(|e| panic!("{e:#}\n{existing}"));
    let flat = settings(&m.text).unwrap();
    for (k, v) in p {
        assert_eq!(flat.get(k), Some(&Value::String(v.clone())), "{k} in\n{}", m.text);
    }
    let again = merge(&m.text, p).unwrap();
    assert_eq!(again.text, m.text, "a second write changes the file");
    assert!(again.updated.is_empty() && again.added.is_empty(), "{again:?}");
    assert_eq!(again.unchanged.len(), p.len());
    m
}

#[test]
fn a_new_file_gets_the_keys_nested() {
    let m = merged("", &ours());
    assert_eq!(m.text, NESTED);
    assert_eq!(render(&ours()), NESTED);
    assert_eq!(m.added.len(), 7);
    assert!(m.updated.is_empty() && m.unchanged.is_empty());
}

#[test]
fn comments_and_other_keys_are_kept_and_missing_keys_go_into_the_blocks_there() {
    let existing = "# Spring settings for the app
server:
  port: 8080   # the port

aws:
  # set by setup outputs
  region: us-east-1
  cognito:
    client-id: \"1example23456789\" # our app client
  s3:
    bucket: uploads
# logging
logging:
  level:
    root: INFO
";
    let m = merged(existing, &ours());
    assert_eq!(
        m.text,
        "# Spring settings for the app
server:
  port: 8080   # the port

aws:
  # set by setup outputs
  region: us-east-1
  cognito:
    client-id: \"1example23456789\" # our app client
    user-pool-id: us-east-1_AbC123
    identity-pool-id: us-east-1:1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d
    authenticated-role-arn: arn:aws:iam::123456789012:role/demo-auth
  s3:
    bucket: uploads
  dynamodb:
    user-profile-table: demo-profiles
    user-profile-table-arn: arn:aws:dynamodb:us-east-1:123456789012:table/demo-profiles
# logging
logging:
  level:
    root: INFO
"
    );
    assert_eq!(m.unchanged, ["aws.region", "aws.cognito.client-id"]);
    assert!(m.updated.is_empty());
    assert_eq!(m.added.len(), 5);
}

#[test]
fn our_keys_at_other_values_are_updated_in_place() {
    let existing = "aws:
    region: 'eu-west-1'   # was Ireland
    cognito:
        user-pool-id: \"eu-west-1_Old\"
        client-id:
        identity-pool-id: >
          eu-west-1:old
          still the old value
        authenticated-role-arn: arn:aws:iam::1:role/old
    dynamodb:
        user-profile-table: demo-profiles
        user-profile-table-arn: arn:aws:dynamodb:us-east-1:123456789012:table/demo-profiles
spring:
    application:
        name: demo
";
    let m = merged(existing, &ours());
    assert_eq!(
        m.text,
        "aws:
    region: us-east-1   # was Ireland
    cognito:
        user-pool-id: us-east-1_AbC123
        client-id: \"1example23456789\"
        identity-pool-id: us-east-1:1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d
        authenticated-role-arn: arn:aws:iam::123456789012:role/demo-auth
    dynamodb:
        user-profile-table: demo-profiles
        user-profile-table-arn: arn:aws:dynamodb:us-east-1:123456789012:table/demo-profiles
spring:
    application:
        name: demo
"
    );
    assert_eq!(
        m.updated,
        [
            "aws.region",
            "aws.cognito.user-pool-id",
            "aws.cognito.client-id",
            "aws.cognito.identity-pool-id",
            "aws.cognito.authenticated-role-arn"
        ]
    );
    assert_eq!(
        m.unchanged,
        ["aws.dynamodb.user-profile-table", "aws.dynamodb.user-profile-table-arn"]
    );
}

#[test]
fn springs_dotted_spellings_are_updated_where_they_are() {
    let existing = "aws.region: eu-west-1\naws:\n  cognito.client-id: old\nother: 1\n";
    let p = pairs(&[
        ("aws.region", "us-east-1"),
        ("aws.cognito.client-id", "abc"),
        ("aws.cognito.user-pool-id", "p"),
    ]);
    let m = merged(existing, &p);
    assert_eq!(
        m.text,
        "aws.region: us-east-1\naws:\n  cognito.client-id: abc\n  cognito:\n    user-pool-id: p\nother: 1\n"
    );
    assert_eq!(m.updated, ["aws.region", "aws.cognito.client-id"]);
}

#[test]
fn line_endings_a_missing_last_newline_and_later_documents_are_kept() {
    let existing = "# app\r\nserver:\r\n  port: 8080";
    let m = merged(existing, &pairs(&[("aws.region", "us-east-1")]));
    assert_eq!(m.text, "# app\r\nserver:\r\n  port: 8080\r\naws:\r\n  region: us-east-1\r\n");

    let existing = "---\nserver:\n  port: 8080\n\n---\nspring:\n  config:\n    activate:\n      on-profile: prod\naws:\n  region: eu-west-1\n";
    let m = merged(existing, &pairs(&[("aws.region", "us-east-1")]));
    assert_eq!(
        m.text,
        "---\nserver:\n  port: 8080\naws:\n  region: us-east-1\n\n---\nspring:\n  config:\n    activate:\n      on-profile: prod\naws:\n  region: eu-west-1\n"
    );
}

#[test]
fn keys_inside_lists_and_values_are_not_ours() {
    let existing = "items:\n- aws:\n    region: x\n- name: b\n  aws.region: y\ntext: |\n  aws:\n    region: z\n";
    let m = merged(existing, &pairs(&[("aws.region", "us-east-1")]));
    assert_eq!(m.text, format!("{existing}aws:\n  region: us-east-1\n"));
}

#[test]
fn a_bare_aws_key_becomes_the_block() {
    let m = merged("aws:\nserver:\n  port: 1\n", &pairs(&[("aws.region", "us-east-1")]));
    assert_eq!(m.text, "aws:\n  region: us-east-1\nserver:\n  port: 1\n");
}

#[test]
fn values_are_quoted_when_yaml_would_read_them_otherwise() {
    for value in ["1234", "yes", "Off", "a b", "", "x: y", "#x", "it's", "é", "true", "1e5", "null"]
    {
        let m = merged("", &pairs(&[("a.b", value)]));
        assert!(m.text.starts_with("a:\n  b: \""), "{value:?} is not quoted: {}", m.text);
    }
    for value in ["us-east-1", "us-east-1:abc-123", "arn:aws:iam::1:role/x", "demo_table.v2"] {
        assert_eq!(scalar(value), value);
    }
}

#[test]
fn files_it_cannot_update_safely_are_refused_and_say_what_to_do() {
    for (existing, says) in [
        ("a: [1, 2\n", "not valid YAML"),
        ("- a\n- b\n", "top level is a single value or a list"),
        ("aws: {region: eu-west-1}\n", "a form setup does not rewrite"),
        ("aws: {cognito: {}}\n", "on a line of its own"),
        ("aws:\n  region:\n    primary: x\n", "as a block of other keys"),
        ("base: &base\n  region: x\naws: *base\n", "a form setup does not rewrite"),
        // Misread by the line editor (a flow mapping over two lines), caught by the parse.
        ("{a: 1,\n b: 2}\n", "could not update it safely"),
    ] {
        let p = pairs(&[("aws.region", "us-east-1"), ("aws.cognito.client-id", "c")]);
        let e = merge(existing, &p).expect_err(existing).to_string();
        assert!(e.contains(says), "{existing:?}: {e}");
    }
}
