use super::*;
use crate::config::{parse, Boundary, Overrides};
use std::path::Path;

fn desired() -> Desired {
    let text = "stack = \"demo\"\n[user_pool]\nid = \"eu-west-1_abc123\"\nclient_ids = [\"client1\"]\n[table.tags]\nteam = \"mobile\"\n";
    parse(text, Path::new("setup.toml"), &Overrides::default()).unwrap()
}

#[test]
fn output_parses_and_references_resolve_to_declared_resources() {
    let d = desired();
    let text = configuration(
        &d,
        Some("eu-west-1"),
        &[Import { resource: Resource::Table, id: "user-profiles".into() }],
    );
    let body: Body = hcl::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let kinds: Vec<String> = body
        .blocks()
        .filter(|b| b.identifier() == "resource")
        .map(|b| format!("{}.{}", b.labels()[0].as_str(), b.labels()[1].as_str()))
        .collect();
    assert_eq!(kinds, [TABLE, IDENTITY_POOL, ROLE, ACCESS_POLICY, POLICY_ATTACHMENT, POOL_ROLES]);
    for line in [
        "\"cognito-identity.amazonaws.com:aud\" = aws_cognito_identity_pool.pool.id",
        "Resource = aws_dynamodb_table.table.arn",
        "assume_role_policy = jsonencode(local.trust_policy)",
        "policy = jsonencode(local.access_policy)",
        "\"setup:stack\" = \"demo\"",
        "prevent_destroy = true",
        "to = aws_dynamodb_table.table",
    ] {
        assert!(text.contains(line), "no {line:?} in\n{text}");
    }
}

fn desired_with(extra: &str) -> Desired {
    let text = format!(
        "stack = \"demo\"\n[user_pool]\nid = \"eu-west-1_abc123\"\nclient_ids = [\"client1\"]\n{extra}"
    );
    parse(&text, Path::new("setup.toml"), &Overrides::default()).unwrap()
}

fn blocks<'a>(body: &'a Body, kind: &str, labels: [&str; 2]) -> &'a Block {
    body.blocks()
        .find(|b| {
            b.identifier() == kind
                && b.labels().iter().map(|l| l.as_str()).eq(labels.iter().copied())
        })
        .unwrap_or_else(|| panic!("no {kind} {labels:?}"))
}

fn attribute(b: &Block, name: &str) -> String {
    b.body()
        .attributes()
        .find(|a| a.key() == name)
        .map(|a| a.expr().to_string())
        .unwrap_or_else(|| panic!("no {name} in {b:?}"))
}

fn nested<'a>(b: &'a Block, name: &str) -> Vec<&'a Block> {
    b.body().blocks().filter(|x| x.identifier() == name).collect()
}

const OPTIONS: &str = "[table]\nencryption = \"customer-managed\"\nkms_key = \"alias/profiles\"\nttl_attribute = \"expiresAt\"\ntable_class = \"STANDARD_INFREQUENT_ACCESS\"\n[[table.global_secondary_indexes]]\nname = \"byEmail\"\npartition_key = { name = \"email\", type = \"S\" }\nprojection = \"ALL\"\n[[table.global_secondary_indexes]]\nname = \"byTeam\"\npartition_key = { name = \"teamId\", type = \"N\" }\nsort_key = { name = \"createdAt\", type = \"S\" }\nprojection = { include = [\"displayName\"] }\n";

#[test]
fn table_options_are_in_the_table_block() {
    let d = desired_with(OPTIONS);
    let text = configuration(&d, None, &[]);
    let body: Body = hcl::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    // The key by alias: a data source resolves it to the key's ARN, as apply does.
    let key = blocks(&body, "data", ["aws_kms_key", "table"]);
    assert_eq!(attribute(key, "key_id"), "\"alias/profiles\"");
    let table = blocks(&body, "resource", ["aws_dynamodb_table", "table"]);
    assert_eq!(attribute(table, "table_class"), "\"STANDARD_INFREQUENT_ACCESS\"");
    let sse = nested(table, "server_side_encryption");
    assert_eq!(attribute(sse[0], "enabled"), "true");
    assert_eq!(attribute(sse[0], "kms_key_arn"), "data.aws_kms_key.table.arn");
    let ttl = nested(table, "ttl");
    assert_eq!(attribute(ttl[0], "attribute_name"), "\"expiresAt\"");
    assert_eq!(attribute(ttl[0], "enabled"), "true");
    let attributes: Vec<(String, String)> = nested(table, "attribute")
        .iter()
        .map(|a| (attribute(a, "name"), attribute(a, "type")))
        .collect();
    let q = |s: &str| format!("\"{s}\"");
    assert_eq!(
        attributes,
        [
            (q("userId"), q("S")),
            (q("createdAt"), q("S")),
            (q("email"), q("S")),
            (q("teamId"), q("N")),
        ]
    );
    let indexes = nested(table, "global_secondary_index");
    assert_eq!(indexes.len(), 2);
    assert_eq!(attribute(indexes[0], "name"), q("byEmail"));
    assert_eq!(attribute(indexes[0], "hash_key"), q("email"));
    assert!(!indexes[0].body().attributes().any(|a| a.key() == "range_key"));
    assert_eq!(attribute(indexes[0], "projection_type"), q("ALL"));
    assert_eq!(attribute(indexes[1], "range_key"), q("createdAt"));
    assert_eq!(attribute(indexes[1], "projection_type"), q("INCLUDE"));
    assert_eq!(
        attribute(indexes[1], "non_key_attributes"),
        Expression::Array(vec![Expression::from("displayName")]).to_string()
    );
    // The key's grant in the access policy: the key's ARN, DynamoDB in the table's region.
    assert!(text.contains("Resource = data.aws_kms_key.table.arn"), "{text}");
    assert!(
        text.contains(
            r#""kms:ViaService" = "dynamodb.${split(":", aws_dynamodb_table.table.arn)[3]}.amazonaws.com""#
        ),
        "{text}"
    );

    // The defaults: encryption off (the AWS owned key), no TTL, no index, no data source.
    let text = configuration(&desired_with(""), None, &[]);
    let body: Body = hcl::parse(&text).unwrap();
    assert!(!body.blocks().any(|b| b.identifier() == "data"), "{text}");
    let table = blocks(&body, "resource", ["aws_dynamodb_table", "table"]);
    let sse = nested(table, "server_side_encryption");
    assert_eq!(attribute(sse[0], "enabled"), "false");
    assert!(sse[0].body().attributes().all(|a| a.key() != "kms_key_arn"));
    assert!(nested(table, "ttl").is_empty());
    assert!(nested(table, "global_secondary_index").is_empty());
    assert_eq!(attribute(table, "table_class"), "\"STANDARD\"");
    assert!(!text.contains("kms:"), "{text}");
    let text = configuration(&desired_with("[table]\nencryption = \"aws-managed\"\n"), None, &[]);
    let body: Body = hcl::parse(&text).unwrap();
    let table = blocks(&body, "resource", ["aws_dynamodb_table", "table"]);
    let sse = nested(table, "server_side_encryption");
    assert_eq!(attribute(sse[0], "enabled"), "true");
    assert!(sse[0].body().attributes().all(|a| a.key() != "kms_key_arn"));
}

#[test]
fn guests_get_their_role_policy_attachment_and_the_pools_unauthenticated_role() {
    let d = desired_with(
        "[identity_pool]\nallow_unauthenticated = true\n[guest]\nrole = \"visitors\"\nactions = [\"dynamodb:GetItem\"]\n",
    );
    let text = configuration(&d, None, &[]);
    let body: Body = hcl::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let role = blocks(&body, "resource", ["aws_iam_role", "guest"]);
    assert_eq!(attribute(role, "name"), "\"visitors\"");
    assert_eq!(attribute(role, "assume_role_policy"), "jsonencode(local.guest_trust_policy)");
    let policy = blocks(&body, "resource", ["aws_iam_policy", "guest"]);
    assert_eq!(attribute(policy, "name"), "\"demo-guest-access\"");
    assert_eq!(attribute(policy, "policy"), "jsonencode(local.guest_policy)");
    // IAM is global: roles and policies say which region's stack they are (the table's), the
    // table and the pool do not need to.
    let iam_tags =
        r#"merge(local.tags, { "setup:region" = split(":", aws_dynamodb_table.table.arn)[3] })"#;
    for (kind, name) in [
        ("aws_iam_role", "guest"),
        ("aws_iam_policy", "guest"),
        ("aws_iam_role", "authenticated"),
        ("aws_iam_policy", "access"),
    ] {
        assert_eq!(attribute(blocks(&body, "resource", [kind, name]), "tags"), iam_tags, "{kind}");
    }
    for (kind, name) in [("aws_dynamodb_table", "table"), ("aws_cognito_identity_pool", "pool")] {
        let tags = blocks(&body, "resource", [kind, name]);
        assert_eq!(attribute(tags, "tags"), "local.tags", "{kind}");
    }
    let attachment = blocks(&body, "resource", ["aws_iam_role_policy_attachment", "guest"]);
    assert_eq!(attribute(attachment, "role"), "aws_iam_role.guest.name");
    assert_eq!(attribute(attachment, "policy_arn"), "aws_iam_policy.guest.arn");
    let roles = blocks(&body, "resource", ["aws_cognito_identity_pool_roles_attachment", "pool"]);
    let roles = attribute(roles, "roles");
    assert!(
        roles.contains("unauthenticated = aws_iam_role.guest.arn")
            && roles.contains("authenticated = aws_iam_role.authenticated.arn"),
        "{roles}"
    );
    assert!(
        text.contains("\"cognito-identity.amazonaws.com:amr\" = \"unauthenticated\""),
        "{text}"
    );

    // No actions: the role, no policy. Guests off: neither, and no unauthenticated role.
    let text =
        configuration(&desired_with("[identity_pool]\nallow_unauthenticated = true\n"), None, &[]);
    assert!(text.contains("resource \"aws_iam_role\" \"guest\""), "{text}");
    assert!(!text.contains("resource \"aws_iam_policy\" \"guest\""), "{text}");
    let text =
        configuration(&desired_with("[guest]\nactions = [\"dynamodb:GetItem\"]\n"), None, &[]);
    assert!(!text.contains("guest"), "{text}");
}

#[test]
fn identifiers_and_quoted_keys() {
    assert!(is_identifier("Version") && is_identifier("my-key"));
    assert!(!is_identifier("cognito-identity.amazonaws.com:aud"));
    assert!(!is_identifier("ForAnyValue:StringLike") && !is_identifier("1a"));
}

#[test]
fn strings_with_template_markers_are_escaped() {
    let e = from_json(&json!({"a": "${not.a.reference}"}));
    let text = hcl::format::to_string(&e).unwrap();
    assert!(text.contains("$${not.a.reference}"), "{text}");
}

/// With `permissions_boundary`, both roles carry it: a name through the `aws_iam_policy` data
/// source, an ARN as written; without it, neither the attribute nor the data source.
#[test]
fn the_roles_carry_the_configured_permissions_boundary() {
    let guests = "[identity_pool]\nallow_unauthenticated = true\n";
    let arn = "arn:aws:iam::210987654321:policy/teams/cap";
    for (boundary, want) in [
        (Some(Boundary::Name("demo-boundary".into())), Some("data.aws_iam_policy.boundary.arn")),
        (Some(Boundary::Arn(arn.into())), Some("\"arn:aws:iam::210987654321:policy/teams/cap\"")),
        (None, None),
    ] {
        let mut d = desired_with(guests);
        d.permissions_boundary = boundary.clone();
        let text = configuration(&d, None, &[]);
        let body: Body = hcl::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        for name in ["authenticated", "guest"] {
            let role = blocks(&body, "resource", ["aws_iam_role", name]);
            let got = role.body().attributes().find(|a| a.key() == "permissions_boundary");
            assert_eq!(got.map(|a| a.expr().to_string()).as_deref(), want, "{name}");
        }
        let by_name = body
            .blocks()
            .any(|b| b.identifier() == "data" && b.labels()[0].as_str() == "aws_iam_policy");
        assert_eq!(by_name, matches!(boundary, Some(Boundary::Name(_))), "{text}");
        if by_name {
            let data = blocks(&body, "data", ["aws_iam_policy", "boundary"]);
            assert_eq!(attribute(data, "name"), "\"demo-boundary\"");
        }
    }
}
