use super::*;
use crate::testing::PROVIDER;
use serde_json::json;

#[test]
fn templates_render_without_leftover_placeholders() {
    let t = to_json(&trust_policy("us-east-1:1111", PROVIDER));
    let a = to_json(&access_policy(
        "arn:aws:dynamodb:us-east-1:123456789012:table/t",
        &["dynamodb:GetItem".into()],
        None,
    ));
    let b = to_json(&backend_policy(
        "arn:aws:dynamodb:us-east-1:123456789012:table/t",
        &["dynamodb:Query".into()],
    ));
    assert!(!t.contains("${") && !a.contains("${") && !b.contains("${"), "{t} {a} {b}");
    assert!(t.contains("\"us-east-1:1111\""));
    assert!(a.contains("[\"dynamodb:GetItem\"]"));
    assert!(b.contains("[\"dynamodb:Query\"]") && b.contains("table/t"));
}

#[test]
fn isolated_access_policy_keeps_the_identity_id_variable() {
    let doc = access_policy(
        "arn:t",
        &["dynamodb:GetItem".into()],
        Some(crate::policy_doc::Isolation::IdentityId),
    );
    assert_eq!(
        doc["Statement"][0]["Condition"]["ForAllValues:StringEquals"]["dynamodb:LeadingKeys"],
        json!([IDENTITY_ID_VARIABLE])
    );
    assert_eq!(doc["Statement"][0]["Resource"], json!("arn:t"));
    // Only the IAM policy variable is left as `${...}`.
    let text = to_json(&doc);
    assert_eq!(text.matches("${").count(), 1, "{text}");
    assert!(!equivalent(&doc, &access_policy("arn:t", &["dynamodb:GetItem".into()], None)));
}

#[test]
fn order_string_vs_list_sid_and_case_do_not_matter() {
    let a = json!({"Version":"2012-10-17","Statement":[
        {"Sid":"A","Effect":"Allow","Action":["dynamodb:PutItem","dynamodb:GetItem"],"Resource":"arn:x"},
        {"Effect":"Deny","Action":"s3:*","Resource":["*"]}]});
    let b = json!({"Version":"2012-10-17","Statement":[
        {"Effect":"Deny","Action":["s3:*"],"Resource":"*"},
        {"Resource":["arn:x"],"Effect":"Allow","Action":["dynamodb:getitem","dynamodb:PutItem"]}]});
    assert!(equivalent(&a, &b));
    assert!(diff(&a, &b).is_empty());
}

#[test]
fn url_encoded_documents_parse() {
    let raw = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%5D%7D";
    assert_eq!(parse(raw).unwrap(), json!({"Version":"2012-10-17","Statement":[]}));
    assert_eq!(parse("{\"a\":1}").unwrap(), json!({"a":1}));
}

/// The one change between trust policies for two identity pools.
fn aud_change(live: &str, desired: &str) -> Change {
    Change::new(
        "Statement.Condition.StringEquals.cognito-identity.amazonaws.com:aud",
        live,
        desired,
    )
}

#[test]
fn diff_names_the_field_that_differs() {
    let live = trust_policy("us-east-1:aaaa", PROVIDER);
    let desired = trust_policy("us-east-1:bbbb", PROVIDER);
    assert_eq!(diff(&live, &desired), [aud_change("us-east-1:aaaa", "us-east-1:bbbb")]);
}

#[test]
fn diff_of_extra_action_lists_both_sets() {
    let live = access_policy("arn:t", &["dynamodb:GetItem".into()], None);
    let desired =
        access_policy("arn:t", &["dynamodb:GetItem".into(), "dynamodb:Query".into()], None);
    let changes = diff(&live, &desired);
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].field, "Statement.Action");
}

#[test]
fn added_statement_is_reported() {
    let live = json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"a:b","Resource":"r"},{"Effect":"Allow","Action":"c:d","Resource":"r"}]});
    let desired = json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"a:b","Resource":"r"}]});
    let changes = diff(&live, &desired);
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].field, "Statement (not wanted)");
}

/// A trust policy as the IAM console writes it: every value a plain string, condition
/// keys in the case someone typed them, an `Id`.
fn console_trust(pool: &str) -> Value {
    json!({"Version": "2012-10-17", "Id": "console-policy", "Statement": [{
    "Sid": "", "Effect": "Allow",
    "Principal": {"Federated": "cognito-identity.amazonaws.com"},
    "Action": "sts:AssumeRoleWithWebIdentity",
    "Condition": {
        "StringEquals": {"Cognito-Identity.amazonaws.com:AUD": pool},
        "ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": "authenticated"},
        "ForAnyValue:StringEquals": {"Cognito-Identity.amazonaws.com:AMR": PROVIDER}
    }}]})
}

#[test]
fn a_console_written_trust_policy_is_the_generated_one() {
    let desired = trust_policy("us-east-1:1111", PROVIDER);
    let live = console_trust("us-east-1:1111");
    assert!(equivalent(&live, &desired), "{live} vs {desired}");
    assert_eq!(diff(&live, &desired), vec![]);
    // ... and the same shapes still tell another pool apart.
    let other = console_trust("us-east-1:2222");
    assert!(!equivalent(&other, &desired));
    assert_eq!(diff(&other, &desired), [aud_change("us-east-1:2222", "us-east-1:1111")]);
    // The console's default names no user pool in amr: a difference apply removes.
    let mut unscoped = console_trust("us-east-1:1111");
    unscoped["Statement"][0]["Condition"]
        .as_object_mut()
        .unwrap()
        .remove("ForAnyValue:StringEquals");
    assert!(!equivalent(&unscoped, &desired));
}

#[test]
fn a_principal_as_a_string_or_a_one_element_list_is_the_same() {
    let with = |principal: Value| {
        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Principal": principal, "Action": "sts:AssumeRole"}]})
    };
    let string = with(json!({"Service": "ecs-tasks.amazonaws.com"}));
    let list = with(json!({"Service": ["ecs-tasks.amazonaws.com"]}));
    assert!(equivalent(&string, &list));
    assert!(diff(&string, &list).is_empty());
    // Order within the list does not matter either; another principal does.
    let two = with(json!({"Service": ["ecs-tasks.amazonaws.com", "lambda.amazonaws.com"]}));
    let two_reversed =
        with(json!({"Service": ["lambda.amazonaws.com", "ecs-tasks.amazonaws.com"]}));
    assert!(equivalent(&two, &two_reversed));
    assert!(!equivalent(&string, &two));
    assert!(!equivalent(&string, &with(json!({"Service": "lambda.amazonaws.com"}))));
    // NotPrincipal is read the same way.
    let not = |principal: Value| {
        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Deny",
            "NotPrincipal": principal, "Action": "s3:*", "Resource": "*"}]})
    };
    assert!(equivalent(
        &not(json!({"AWS": "arn:aws:iam::123456789012:root"})),
        &not(json!({"AWS": ["arn:aws:iam::123456789012:root"]}))
    ));
}

#[test]
fn a_condition_value_as_a_string_or_a_list_and_keys_in_any_case_are_the_same() {
    let with = |condition: Value| {
        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Action": "dynamodb:GetItem", "Resource": "arn:t", "Condition": condition}]})
    };
    let list = with(json!({"ForAllValues:StringEquals":
        {"dynamodb:LeadingKeys": [IDENTITY_ID_VARIABLE]}}));
    let string = with(json!({"ForAllValues:StringEquals":
        {"dynamodb:LeadingKeys": IDENTITY_ID_VARIABLE}}));
    let upper = with(json!({"ForAllValues:StringEquals":
        {"DynamoDB:LeadingKeys": IDENTITY_ID_VARIABLE}}));
    assert!(equivalent(&list, &string));
    assert!(equivalent(&list, &upper));
    assert!(diff(&upper, &list).is_empty());
    // Values keep their case: StringEquals compares them exactly.
    let other_case = with(json!({"ForAllValues:StringEquals":
        {"dynamodb:LeadingKeys": IDENTITY_ID_VARIABLE.to_uppercase()}}));
    assert!(!equivalent(&list, &other_case));
    // A boolean written as a string, as the console writes `Null` conditions.
    assert!(equivalent(
        &with(json!({"Null": {"dynamodb:LeadingKeys": "false"}})),
        &with(json!({"Null": {"dynamodb:LeadingKeys": false}}))
    ));
}

#[test]
fn a_document_id_does_not_matter() {
    let desired = access_policy("arn:t", &["dynamodb:GetItem".into()], None);
    let mut live = desired.clone();
    live["Id"] = json!("made-in-the-console");
    assert!(equivalent(&live, &desired));
    assert!(diff(&live, &desired).is_empty());
    // Unlike the Version, which changes how IAM reads policy variables.
    live["Version"] = json!("2008-10-17");
    assert_eq!(diff(&live, &desired)[0].field, "Version");
}

#[test]
fn an_unwanted_statement_in_a_multi_statement_document_is_named_alone() {
    let st = |action: &str| json!({"Effect": "Allow", "Action": action, "Resource": "r"});
    let desired = json!({"Version": "2012-10-17", "Statement": [st("a:b"), st("c:d")]});
    let live = json!({"Version": "2012-10-17", "Statement": [st("c:d"), st("e:f"), st("a:b")]});
    let changes = diff(&live, &desired);
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0].field, "Statement (not wanted)");
    assert_eq!(changes[0].live, json!([normalize_statement(&st("e:f"))]));
    assert_eq!(changes[0].desired, Value::Null);
    // A changed statement: the live one is not wanted, the desired one is missing.
    let changed = json!({"Version": "2012-10-17", "Statement": [st("a:b"), st("c:x")]});
    let changes = diff(&changed, &desired);
    let fields: Vec<&str> = changes.iter().map(|c| c.field.as_str()).collect();
    assert_eq!(fields, ["Statement (not wanted)", "Statement (missing)"]);
    assert_eq!(changes[0].live, json!([normalize_statement(&st("c:x"))]));
    assert_eq!(changes[1].desired, json!([normalize_statement(&st("c:d"))]));
    assert_eq!(changes[1].live, Value::Null);
    // A missing statement alone.
    let fewer = json!({"Version": "2012-10-17", "Statement": [st("a:b")]});
    let changes = diff(&fewer, &desired);
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0].field, "Statement (missing)");
}

#[test]
fn a_diff_shows_one_element_lists_as_their_element() {
    let live = access_policy("arn:t", &["dynamodb:GetItem".into(), "dynamodb:Query".into()], None);
    let desired = access_policy("arn:t", &["dynamodb:GetItem".into()], None);
    let changes = diff(&live, &desired);
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0].field, "Statement.Action");
    assert_eq!(changes[0].live, json!(["dynamodb:getitem", "dynamodb:query"]));
    assert_eq!(changes[0].desired, json!("dynamodb:getitem"));
    // Both ways round, and a field present on one side only.
    let changes = diff(&desired, &live);
    assert_eq!(changes[0].live, json!("dynamodb:getitem"));
    let mut extra = desired.clone();
    extra["Statement"][0]["NotResource"] = json!(["arn:other"]);
    let changes = diff(&extra, &desired);
    assert_eq!(changes[0].field, "Statement.NotResource");
    assert_eq!(changes[0].live, json!(["arn:other"]));
    assert_eq!(changes[0].desired, Value::Null);
}

#[test]
fn a_policy_of_exactly_6144_characters_fits() {
    // Pad one action name until the document is exactly at the limit.
    let doc_with = |len: usize| {
        let action = format!("dynamodb:{}", "x".repeat(len));
        access_policy("arn:t", &[action], None)
    };
    let base = iam_size(&doc_with(0));
    let at_limit = doc_with(MANAGED_POLICY_MAX - base);
    assert_eq!(iam_size(&at_limit), MANAGED_POLICY_MAX);
    assert_eq!(too_large("p", &at_limit), None);
    let over = doc_with(MANAGED_POLICY_MAX - base + 1);
    assert!(too_large("p", &over).is_some());
}

#[test]
fn size_counts_non_whitespace_and_limits_at_6144() {
    let doc = serde_json::json!({"Version": "2012-10-17", "Statement": [{"Sid": "a b"}]});
    let compact = to_json(&doc).chars().filter(|c| !c.is_whitespace()).count();
    assert_eq!(iam_size(&doc), compact);
    // "a b" keeps its space in the text but IAM does not count it.
    assert_eq!(iam_size(&doc), r#"{"Version":"2012-10-17","Statement":[{"Sid":"ab"}]}"#.len());
    let actions: Vec<String> = (0..400).map(|i| format!("dynamodb:Action{i:04}")).collect();
    let big = access_policy("arn:aws:dynamodb:us-east-1:1:table/t", &actions, None);
    assert!(iam_size(&big) > MANAGED_POLICY_MAX);
    let why = too_large("p", &big).unwrap();
    assert!(why.starts_with(&format!("policy p would be {} characters", iam_size(&big))), "{why}");
    let small = access_policy("arn:aws:dynamodb:us-east-1:1:table/t", &actions[..10], None);
    assert_eq!(too_large("p", &small), None);
}

#[test]
fn the_region_a_document_names() {
    let table = |region: &str| format!("arn:aws:dynamodb:{region}:123456789012:table/t");
    let access = |region: &str| {
        access_policy(
            &table(region),
            &["dynamodb:GetItem".into()],
            Some(crate::policy_doc::Isolation::IdentityId),
        )
    };
    let cases = [
        (
            "a trust policy: its pool's region",
            trust_policy("ap-south-1:1111", PROVIDER),
            Some("ap-south-1"),
        ),
        ("an access policy: its table's region", access("eu-west-1"), Some("eu-west-1")),
        (
            "on the indexes too: still one region",
            with_indexes(
                access("eu-west-1"),
                &json!(table("eu-west-1")),
                json!(index_arn(&table("eu-west-1"))),
            ),
            Some("eu-west-1"),
        ),
        (
            "another partition",
            access_policy("arn:aws-cn:dynamodb:cn-north-1:1:table/t", &[], None),
            Some("cn-north-1"),
        ),
        (
            "two pools of two regions: none",
            trust_policy_with(json!(["ap-south-1:1", "eu-west-1:2"]), PROVIDER),
            None,
        ),
        (
            "the pool wins over a table (a trust policy names no table)",
            with_statement(
                trust_policy("ap-south-1:1", PROVIDER),
                json!({"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": table("eu-west-1")}),
            ),
            Some("ap-south-1"),
        ),
        (
            "no aud, no table: none",
            json!({"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}]}),
            None,
        ),
        ("a pool id without a region: none", trust_policy("1111", PROVIDER), None),
        ("not a document", json!("x"), None),
    ];
    for (what, doc, want) in cases {
        assert_eq!(named_region(&doc).as_deref(), want, "{what}");
    }
}
