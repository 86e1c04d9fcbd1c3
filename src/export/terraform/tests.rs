use super::*;
use crate::config::{parse, Boundary, Overrides};
use crate::steps::group;
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

/// `expr` evaluated as Terraform would, with these live values (and `split`, the one function
/// the locals use).
fn eval(expr: &Expression, vars: Value) -> Value {
    use hcl::eval::{Context, Evaluate, FuncDef, ParamType};
    let mut ctx = Context::new();
    ctx.declare_func(
        "split",
        FuncDef::builder().param(ParamType::String).param(ParamType::String).build(|args| {
            let (sep, text) = (args[0].as_str().unwrap(), args[1].as_str().unwrap());
            Ok(hcl::Value::from_iter(text.split(sep).map(hcl::Value::from)))
        }),
    );
    for (k, v) in vars.as_object().unwrap() {
        ctx.declare_var(k.as_str(), hcl::value::to_value(v).unwrap());
    }
    serde_json::to_value(expr.evaluate(&ctx).unwrap_or_else(|e| panic!("{e}: {expr}"))).unwrap()
}

fn local<'a>(body: &'a Body, name: &str) -> &'a Expression {
    body.blocks()
        .filter(|b| b.identifier() == "locals")
        .flat_map(|b| b.body().attributes())
        .find(|a| a.key() == name)
        .unwrap_or_else(|| panic!("no local {name}"))
        .expr()
}

const GROUPS: &str = "[[groups]]\nname = \"admins\"\nactions = [\"dynamodb:GetItem\", \"dynamodb:Query\", \"dynamodb:Scan\"]\n[[groups]]\nname = \"support.staff+${x}\"\nactions = [\"dynamodb:GetItem\"]\nper_user_isolation = true\nrole = \"demo-support\"\npolicy_name = \"demo-support-access\"\n";

const TABLE_ARN: &str = "arn:aws:dynamodb:eu-west-1:123456789012:table/user-profiles";
const KEY: &str = "arn:aws:kms:eu-west-1:123456789012:key/k1";

fn live() -> Value {
    json!({
        "aws_dynamodb_table": {"table": {"arn": TABLE_ARN}},
        "aws_cognito_identity_pool": {"pool": {"id": "eu-west-1:1234"}},
        "data": {"aws_kms_key": {"table": {"arn": KEY}}},
        "var": {"user_pool_id": "eu-west-1_abc123"},
    })
}

#[test]
fn each_group_gets_its_role_policy_and_attachment_as_apply_writes_them() {
    let mut d = desired_with(&format!("{OPTIONS}{GROUPS}"));
    d.permissions_boundary = Some(Boundary::Name("demo-boundary".into()));
    let text = configuration(&d, None, &[]);
    let body: Body = hcl::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let addresses: Vec<String> = body
        .blocks()
        .filter(|b| b.identifier() == "resource")
        .map(|b| format!("{}.{}", b.labels()[0].as_str(), b.labels()[1].as_str()))
        .collect();
    let group = |kind: &str, name: &str| format!("{kind}.group_{name}");
    let mut want = vec![TABLE, IDENTITY_POOL, ROLE, ACCESS_POLICY, POLICY_ATTACHMENT]
        .into_iter()
        .map(String::from)
        .collect::<Vec<_>>();
    want.push(POOL_ROLES.into());
    // The isolated group's policy reads the sub's principal tag.
    want.push(PRINCIPAL_TAGS.into());
    // The group role step's resources, then the group policy step's.
    let names = ["admins", "support_staff___x_"];
    want.extend(names.map(|name| group("aws_iam_role", name)));
    for name in names {
        want.push(group("aws_iam_policy", name));
        want.push(group("aws_iam_role_policy_attachment", name));
    }
    assert_eq!(addresses, want);
    // One trust policy for the groups: the stack role's, for this pool.
    let trust = eval(local(&body, groups::GROUP_TRUST_POLICY), live());
    assert_eq!(trust, group::trust_policy(&d, json!("eu-west-1:1234")));
    assert_eq!(trust, eval(local(&body, TRUST_POLICY), live()));
    let iam_tags =
        r#"merge(local.tags, { "setup:region" = split(":", aws_dynamodb_table.table.arn)[3] })"#;
    for (n, (name, role_name, policy_name)) in [
        ("admins", "demo-group-admins", "demo-group-admins-access"),
        ("support_staff___x_", "demo-support", "demo-support-access"),
    ]
    .into_iter()
    .enumerate()
    {
        let g = &d.groups[n];
        let role = blocks(&body, "resource", ["aws_iam_role", &format!("group_{name}")]);
        assert_eq!(attribute(role, "name"), format!("\"{role_name}\""));
        assert_eq!(attribute(role, "assume_role_policy"), "jsonencode(local.group_trust_policy)");
        assert_eq!(attribute(role, "permissions_boundary"), "data.aws_iam_policy.boundary.arn");
        assert_eq!(attribute(role, "tags"), iam_tags);
        let description = role.body().attributes().find(|a| a.key() == "description").unwrap();
        assert_eq!(
            eval(description.expr(), live()),
            json!(group::role_description("demo", &g.name, "eu-west-1:1234"))
        );
        let policy = blocks(&body, "resource", ["aws_iam_policy", &format!("group_{name}")]);
        assert_eq!(attribute(policy, "name"), format!("\"{policy_name}\""));
        assert_eq!(attribute(policy, "policy"), format!("jsonencode(local.group_{name}_policy)"));
        assert_eq!(attribute(policy, "tags"), iam_tags);
        let description = policy.body().attributes().find(|a| a.key() == "description").unwrap();
        assert_eq!(eval(description.expr(), live()), json!(group::policy_description(&d, &g.name)));
        // As apply writes it: the group's actions on the table and its indexes, the key's grant.
        assert_eq!(
            eval(local(&body, &format!("group_{name}_policy")), live()),
            policy_doc::with_statement(
                d.on_indexes_of(group::policy_document(g, json!(TABLE_ARN)), TABLE_ARN),
                policy_doc::kms_statement(KEY, "eu-west-1", &d.table.name),
            )
        );
        let attachment =
            blocks(&body, "resource", ["aws_iam_role_policy_attachment", &format!("group_{name}")]);
        assert_eq!(attribute(attachment, "role"), format!("aws_iam_role.group_{name}.name"));
        assert_eq!(attribute(attachment, "policy_arn"), format!("aws_iam_policy.group_{name}.arn"));
    }
    // Without groups, none of this.
    let text = configuration(&desired_with(""), None, &[]);
    assert!(!text.contains("group"), "{text}");
}

#[test]
fn the_pool_maps_each_app_client_by_rules_one_per_group_in_order() {
    let d = desired_with(GROUPS);
    let text = configuration(&d, None, &[]);
    let body: Body = hcl::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let roles = blocks(&body, "resource", ["aws_cognito_identity_pool_roles_attachment", "pool"]);
    let dynamic = nested(roles, "dynamic");
    assert_eq!(dynamic.len(), 1);
    assert_eq!(dynamic[0].labels()[0].as_str(), "role_mapping");
    assert_eq!(attribute(dynamic[0], "for_each"), "var.client_ids");
    let content = nested(dynamic[0], "content");
    let provider = content[0].body().attributes().find(|a| a.key() == "identity_provider").unwrap();
    let mut vars = live();
    vars["role_mapping"] = json!({"value": "client1"});
    vars["local"] = json!({"user_pool_provider": eval(local(&body, "user_pool_provider"), live())});
    assert_eq!(
        eval(provider.expr(), vars),
        json!("cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc123:client1")
    );
    assert_eq!(attribute(content[0], "type"), "\"Rules\"");
    assert_eq!(attribute(content[0], "ambiguous_role_resolution"), "\"AuthenticatedRole\"");
    let rules: Vec<Value> = nested(content[0], "mapping_rule")
        .iter()
        .map(|r| {
            let get = |k: &str| r.body().attributes().find(|a| a.key() == k).unwrap().expr();
            json!([
                eval(get("claim"), live()),
                eval(get("match_type"), live()),
                eval(get("value"), live()),
                get("role_arn").to_string(),
            ])
        })
        .collect();
    assert_eq!(
        rules,
        [
            json!(["cognito:groups", "Contains", "admins", "aws_iam_role.group_admins.arn"]),
            json!([
                "cognito:groups",
                "Contains",
                "support.staff+${x}",
                "aws_iam_role.group_support_staff___x_.arn"
            ]),
        ]
    );
    // Without groups, no mapping.
    let text = configuration(&desired_with(""), None, &[]);
    assert!(!text.contains("role_mapping"), "{text}");
}
