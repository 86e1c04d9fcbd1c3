//! `setup export --format terraform`: the output parses as HCL, declares every resource and
//! every reference resolves; imports carry the live ids; without credentials it still works.

use std::collections::BTreeSet;

use hcl::expr::{Expression, TemplateExpr, TraversalOperator};
use hcl::template::Element;
use hcl::{Block, Body, Template};
use serde_json::{json, Value};
use setup::policy_doc;

use crate::export::{every_config, export_offline};
use crate::harness::*;

/// Every traversal (`a.b.c`) in an expression, as its dotted attribute path.
fn references(e: &Expression, out: &mut Vec<String>) {
    match e {
        Expression::Traversal(t) => {
            let mut path = match &t.expr {
                Expression::Variable(v) => v.to_string(),
                other => {
                    references(other, out);
                    return;
                }
            };
            for op in &t.operators {
                match op {
                    TraversalOperator::GetAttr(a) => path = format!("{path}.{a}"),
                    TraversalOperator::Index(i) => references(i, out),
                    _ => {}
                }
            }
            out.push(path);
        }
        Expression::Variable(v) => out.push(v.to_string()),
        Expression::Array(items) => items.iter().for_each(|i| references(i, out)),
        Expression::Object(o) => o.values().for_each(|v| references(v, out)),
        Expression::FuncCall(f) => f.args.iter().for_each(|a| references(a, out)),
        Expression::TemplateExpr(t) => template_references(t, out),
        Expression::Parenthesis(p) => references(p, out),
        _ => {}
    }
}

fn template_references(t: &TemplateExpr, out: &mut Vec<String>) {
    let template = Template::from_expr(t).unwrap();
    for el in template.elements() {
        if let Element::Interpolation(i) = el {
            references(&i.expr, out);
        }
    }
}

/// References in attribute values; an `import` block's `to` is an address, checked separately.
fn body_references(body: &Body, out: &mut Vec<String>) {
    for a in body.attributes() {
        references(a.expr(), out);
    }
    for b in body.blocks().filter(|b| b.identifier() != "import") {
        body_references(b.body(), out);
    }
}

pub(crate) fn resource_blocks(body: &Body) -> Vec<(String, &Block)> {
    body.blocks()
        .filter(|b| b.identifier() == "resource")
        .map(|b| (format!("{}.{}", b.labels()[0].as_str(), b.labels()[1].as_str()), b))
        .collect()
}

pub(crate) fn attr<'a>(block: &'a Block, name: &str) -> &'a Expression {
    block
        .body()
        .attributes()
        .find(|a| a.key() == name)
        .unwrap_or_else(|| panic!("no attribute {name} in {block:?}"))
        .expr()
}

pub(crate) fn nested<'a>(block: &'a Block, name: &str) -> Vec<&'a Block> {
    block.body().blocks().filter(|b| b.identifier() == name).collect()
}

pub(crate) fn string(e: &Expression) -> String {
    match e {
        Expression::String(s) => s.clone(),
        other => panic!("not a string: {other:?}"),
    }
}

/// Checks the configuration's structure and that every reference resolves; returns the
/// resources by address.
pub(crate) fn check_terraform(text: &str) -> Body {
    let body: Body = hcl::parse(text).unwrap_or_else(|e| panic!("not HCL: {e}\n{text}"));
    let resources = resource_blocks(&body);
    let addresses: Vec<&str> = resources.iter().map(|(a, _)| a.as_str()).collect();
    let mut expected = vec![
        "aws_dynamodb_table.table",
        "aws_cognito_identity_pool.pool",
        "aws_iam_role.authenticated",
        "aws_iam_policy.access",
        "aws_iam_role_policy_attachment.access",
    ];
    // Guests allowed: their role, and with `[guest] actions` its policy and the attachment.
    if text.contains("allow_unauthenticated_identities = true") {
        expected.push("aws_iam_role.guest");
        if text.contains("resource \"aws_iam_policy\" \"guest\"") {
            expected.extend(["aws_iam_policy.guest", "aws_iam_role_policy_attachment.guest"]);
        }
    }
    expected.push("aws_cognito_identity_pool_roles_attachment.pool");
    // A policy keyed by the user pool sub needs the pool to map the claim to the tag.
    if text.contains("aws:PrincipalTag/sub") {
        expected.push("aws_cognito_identity_pool_provider_principal_tag.user_pool");
    }
    // A `[backend]` section (the examples name a role) adds its policy and the attachment.
    if text.contains("resource \"aws_iam_policy\" \"backend\"") {
        expected.extend(["aws_iam_policy.backend", "aws_iam_role_policy_attachment.backend"]);
    }
    // `[[groups]]`: each group's role, then each group's policy and attachment, in the config's
    // order.
    let groups: Vec<String> = addresses
        .iter()
        .filter_map(|a| a.strip_prefix("aws_iam_role.group_"))
        .map(String::from)
        .collect();
    let mut group_addresses: Vec<String> =
        groups.iter().map(|g| format!("aws_iam_role.group_{g}")).collect();
    for g in &groups {
        group_addresses.push(format!("aws_iam_policy.group_{g}"));
        group_addresses.push(format!("aws_iam_role_policy_attachment.group_{g}"));
    }
    expected.extend(group_addresses.iter().map(String::as_str));
    assert_eq!(addresses, expected);
    let variables: BTreeSet<String> = body
        .blocks()
        .filter(|b| b.identifier() == "variable")
        .map(|b| format!("var.{}", b.labels()[0].as_str()))
        .collect();
    let data: BTreeSet<String> = body
        .blocks()
        .filter(|b| b.identifier() == "data")
        .map(|b| format!("data.{}.{}", b.labels()[0].as_str(), b.labels()[1].as_str()))
        .collect();
    let locals: BTreeSet<String> = body
        .blocks()
        .filter(|b| b.identifier() == "locals")
        .flat_map(|b| b.body().attributes().map(|a| format!("local.{}", a.key())))
        .collect();
    let mut refs = Vec::new();
    body_references(&body, &mut refs);
    assert!(!refs.is_empty());
    for r in &refs {
        let ok = match r.split('.').next().unwrap() {
            "var" => variables.contains(r),
            "local" => locals.contains(r),
            // built-in type names and the dynamic block's iterator
            "string" | "list" => true,
            "cognito_identity_providers" => r == "cognito_identity_providers.value",
            "role_mapping" => r == "role_mapping.value",
            // data sources: the customer managed key's ARN
            "data" => r.strip_suffix(".arn").is_some_and(|address| data.contains(address)),
            kind => {
                let mut parts = r.splitn(3, '.');
                let (_, name, attribute) = (parts.next(), parts.next(), parts.next());
                let address = format!("{kind}.{}", name.unwrap_or_default());
                addresses.contains(&address.as_str())
                    // a whole resource: depends_on
                    && matches!(attribute, Some("id" | "arn" | "name") | None)
            }
        };
        assert!(ok, "reference {r} does not resolve:\n{text}");
    }
    for wanted in [
        "aws_cognito_identity_pool.pool.id",
        "aws_dynamodb_table.table.arn",
        "aws_iam_role.authenticated.arn",
        "aws_iam_role.authenticated.name",
        "aws_iam_policy.access.arn",
        "local.trust_policy",
        "local.access_policy",
        "var.client_ids",
        "var.user_pool_id",
    ] {
        assert!(refs.iter().any(|r| r == wanted), "nothing refers to {wanted}");
    }

    let by = |a: &str| resources.iter().find(|(x, _)| x == a).unwrap().1;
    let table = by("aws_dynamodb_table.table");
    let lifecycle = nested(table, "lifecycle");
    assert_eq!(lifecycle.len(), 1);
    assert_eq!(*attr(lifecycle[0], "prevent_destroy"), Expression::Bool(true));
    assert_eq!(nested(table, "point_in_time_recovery").len(), 1);
    let pool = by("aws_cognito_identity_pool.pool");
    let dynamic = nested(pool, "dynamic");
    assert_eq!(dynamic[0].labels()[0].as_str(), "cognito_identity_providers");
    let role = by("aws_iam_role.authenticated");
    assert_eq!(attr(role, "assume_role_policy").to_string(), "jsonencode(local.trust_policy)");
    let attachment = by("aws_iam_role_policy_attachment.access");
    assert_eq!(attr(attachment, "policy_arn").to_string(), "aws_iam_policy.access.arn");
    let roles = by("aws_cognito_identity_pool_roles_attachment.pool");
    assert_eq!(attr(roles, "identity_pool_id").to_string(), "aws_cognito_identity_pool.pool.id");
    // Import blocks point at declared resources.
    for b in body.blocks().filter(|b| b.identifier() == "import") {
        let to = attr(b, "to").to_string();
        assert!(addresses.contains(&to.as_str()), "import to {to}");
        string(attr(b, "id"));
    }
    body
}

/// Evaluates a `locals` entry with the given resource attributes, as Terraform would.
pub(crate) fn eval_local(body: &Body, name: &str, resources: &[(&str, &str, &str, &str)]) -> Value {
    use hcl::eval::{Context, Evaluate};
    let expr = body
        .blocks()
        .filter(|b| b.identifier() == "locals")
        .flat_map(|b| b.body().attributes())
        .find(|a| a.key() == name)
        .unwrap_or_else(|| panic!("no local {name}"))
        .expr()
        .clone();
    let mut ctx = Context::new();
    // Terraform's split(separator, string), the one function the locals use.
    ctx.declare_func(
        "split",
        hcl::eval::FuncDef::builder()
            .param(hcl::eval::ParamType::String)
            .param(hcl::eval::ParamType::String)
            .build(|args| {
                let (sep, text) = (args[0].as_str().unwrap(), args[1].as_str().unwrap());
                Ok(hcl::Value::from_iter(text.split(sep).map(hcl::Value::from)))
            }),
    );
    let mut kinds: serde_json::Map<String, Value> = serde_json::Map::new();
    let mut data: serde_json::Map<String, Value> = serde_json::Map::new();
    for (kind, rname, attribute, value) in resources {
        // `data.<type>` for a data source.
        let (kinds, kind) = match kind.strip_prefix("data.") {
            Some(kind) => (&mut data, kind),
            None => (&mut kinds, *kind),
        };
        kinds
            .entry(kind.to_string())
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .unwrap()
            .entry(rname.to_string())
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .unwrap()
            .insert(attribute.to_string(), json!(value));
    }
    for (kind, v) in kinds {
        ctx.declare_var(kind, hcl::value::to_value(v).unwrap());
    }
    ctx.declare_var("data", hcl::value::to_value(Value::Object(data)).unwrap());
    // Variables take their defaults, as in a plan without -var.
    let mut vars = hcl::value::Map::new();
    for b in body.blocks().filter(|b| b.identifier() == "variable") {
        let default = attr(b, "default").evaluate(&Context::new()).unwrap();
        vars.insert(b.labels()[0].as_str().to_string(), default);
    }
    ctx.declare_var("var", hcl::Value::Object(vars));
    let value = expr.evaluate(&ctx).unwrap();
    serde_json::to_value(value).unwrap()
}

#[test]
fn terraform_output_of_every_example_declares_every_resource_and_reference() {
    let dir = tempfile::tempdir().unwrap();
    let configs = every_config(dir.path());
    let own = configs.last().unwrap();
    for config in &configs {
        let r = export_offline(dir.path(), config, &["--format", "terraform"]);
        assert!(!r.stdout.contains("import {"), "{}", r.stdout);
        r.stderr_has("no import blocks (--no-import)");
        check_terraform(&r.stdout);
        // Every step is exported: `[backend]` too.
        let backend = std::fs::read_to_string(config).unwrap().contains("\n[backend]");
        assert_eq!(r.stdout.contains("aws_iam_policy\" \"backend\""), backend, "{config:?}");
    }
    // The own config's values, one by one.
    let r = export_offline(dir.path(), own, &["--format", "terraform"]);
    let body = check_terraform(&r.stdout);
    let res = resource_blocks(&body);
    let by = |a: &str| res.iter().find(|(x, _)| x == a).unwrap().1;
    let table = by("aws_dynamodb_table.table");
    assert_eq!(string(attr(table, "name")), "orders.v2");
    assert_eq!(string(attr(table, "billing_mode")), "PROVISIONED");
    assert_eq!(string(attr(table, "hash_key")), "orderId");
    assert!(!table.body().attributes().any(|a| a.key() == "range_key"));
    assert_eq!(*attr(table, "read_capacity"), Expression::from(5));
    assert_eq!(*attr(table, "write_capacity"), Expression::from(2));
    assert_eq!(*attr(table, "deletion_protection_enabled"), Expression::Bool(false));
    let pitr = nested(table, "point_in_time_recovery");
    assert_eq!(*attr(pitr[0], "enabled"), Expression::Bool(false));
    let pool = by("aws_cognito_identity_pool.pool");
    assert_eq!(string(attr(pool, "identity_pool_name")), "orders identities");
    assert_eq!(*attr(pool, "allow_unauthenticated_identities"), Expression::Bool(true));
    assert_eq!(string(attr(by("aws_iam_role.authenticated"), "name")), "orders-app-users");
    assert_eq!(string(attr(by("aws_iam_policy.access"), "name")), "orders-app-table");
    let doc =
        eval_local(&body, "access_policy", &[("aws_dynamodb_table", "table", "arn", "arn:t")]);
    let want = policy_doc::access_policy(
        "arn:t",
        &[
            "dynamodb:GetItem".into(),
            "dynamodb:Query".into(),
            "dynamodb:BatchGetItem".into(),
            "dynamodb:DeleteItem".into(),
        ],
        None,
    );
    assert_eq!(doc, want);
    let provider = eval_local(&body, "user_pool_provider", &[]);
    assert_eq!(provider, json!("cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Zyx987"));
    // The groups, and the pool's role mapping: a rule per group, in order.
    for (name, role) in [("admins", "lint-own-group-admins"), ("support-staff", "orders-support")] {
        let address = format!("aws_iam_role.group_{name}");
        assert_eq!(string(attr(by(&address), "name")), role);
        let policy = format!("aws_iam_policy.group_{name}");
        assert_eq!(string(attr(by(&policy), "name")), format!("lint-own-group-{name}-access"));
    }
    let roles = by("aws_cognito_identity_pool_roles_attachment.pool");
    let mapping = nested(roles, "dynamic");
    assert_eq!(mapping[0].labels()[0].as_str(), "role_mapping");
    let rules: Vec<(String, String)> = nested(nested(mapping[0], "content")[0], "mapping_rule")
        .iter()
        .map(|r| (string(attr(r, "value")), attr(r, "role_arn").to_string()))
        .collect();
    assert_eq!(
        rules,
        [
            ("admins".to_string(), "aws_iam_role.group_admins.arn".to_string()),
            ("support-staff".to_string(), "aws_iam_role.group_support-staff.arn".to_string()),
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// Live state: import blocks, and apply / CloudFormation / Terraform agreeing.

fn imports(body: &Body) -> Vec<(String, String)> {
    body.blocks()
        .filter(|b| b.identifier() == "import")
        .map(|b| (attr(b, "to").to_string(), string(attr(b, "id"))))
        .collect()
}

#[test]
fn terraform_imports_what_apply_created_with_live_ids() {
    let s = Stack::new("tf-imports", "");
    // Nothing yet: no import blocks, and it says so.
    let r = s.ok(&["export", "--format", "terraform"]);
    r.stderr_has("has no resources yet");
    assert!(imports(&check_terraform(&r.stdout)).is_empty());
    assert!(r.writes().is_empty(), "export wrote: {:?}", r.writes());

    s.ok(&["apply"]);
    let out = s.dir.path().join("main.tf");
    let r = s.ok(&["export", "--format", "terraform", "--output-file", out.to_str().unwrap()]);
    assert!(r.stdout.is_empty(), "{}", r.all());
    r.stderr_has("6 import blocks");
    assert!(r.writes().is_empty(), "export wrote: {:?}", r.writes());
    let text = std::fs::read_to_string(&out).unwrap();
    let body = check_terraform(&text);
    let pool = s.pool_id();
    assert_eq!(
        imports(&body),
        [
            ("aws_dynamodb_table.table".to_string(), s.table()),
            ("aws_cognito_identity_pool.pool".to_string(), pool.clone()),
            ("aws_iam_role.authenticated".to_string(), s.role()),
            ("aws_iam_policy.access".to_string(), s.policy_arn()),
            (
                "aws_iam_role_policy_attachment.access".to_string(),
                format!("{}/{}", s.role(), s.policy_arn())
            ),
            ("aws_cognito_identity_pool_roles_attachment.pool".to_string(), pool),
        ]
    );
    let region =
        body.blocks().find(|b| b.identifier() == "provider").map(|b| string(attr(b, "region")));
    assert_eq!(region.as_deref(), Some(REGION));
}

#[test]
fn terraform_imports_each_groups_role_policy_and_attachment() {
    let s = Stack::new("tf-imports-groups", "");
    let groups = "[[groups]]\nname = \"admins\"\nactions = [\"dynamodb:Scan\"]\n[[groups]]\nname = \"support\"\nactions = [\"dynamodb:GetItem\"]\nrole = \"tf-imports-helpdesk\"\n";
    s.write_config(&s.table_config("", groups));
    s.ok(&["apply"]);
    let r = s.ok(&["export", "--format", "terraform"]);
    r.stderr_has("12 import blocks");
    let body = check_terraform(&r.stdout);
    let got = imports(&body);
    let policy =
        |name: &str| format!("arn:aws:iam::{ACCOUNT}:policy/{}-group-{name}-access", s.name);
    let admins_role = format!("{}-group-admins", s.name);
    for (to, id) in [
        ("aws_iam_role.group_admins".to_string(), admins_role.clone()),
        ("aws_iam_policy.group_admins".to_string(), policy("admins")),
        (
            "aws_iam_role_policy_attachment.group_admins".to_string(),
            format!("{admins_role}/{}", policy("admins")),
        ),
        ("aws_iam_role.group_support".to_string(), "tf-imports-helpdesk".to_string()),
        ("aws_iam_policy.group_support".to_string(), policy("support")),
        (
            "aws_iam_role_policy_attachment.group_support".to_string(),
            format!("tf-imports-helpdesk/{}", policy("support")),
        ),
    ] {
        assert!(got.contains(&(to.clone(), id.clone())), "no import of {to} as {id}: {got:?}");
    }
}

#[test]
fn without_credentials_export_still_works_and_says_there_are_no_imports() {
    let dir = tempfile::tempdir().unwrap();
    let config = repo_root().join("examples/user-profiles.toml");
    let export = |args: &[&str]| {
        let config = config.to_str().unwrap();
        run_plain(dir.path(), &[&["export", "--config", config], args].concat(), &[])
    };
    let r = export(&["--format", "terraform"]).exits(0);
    assert!(
        r.stderr.contains("no import blocks: could not read the live stack")
            && r.stderr.contains("credentials"),
        "{}",
        r.all()
    );
    let body = check_terraform(&r.stdout);
    assert!(imports(&body).is_empty());
    // CloudFormation never needs AWS access, and --json with Terraform is refused clearly.
    export(&["-f", "cfn"]).exits(0).stdout_has("!GetAtt Table.Arn");
    export(&["-f", "terraform", "--json"]).exits(1).stderr_has("--format cloudformation only");
}
