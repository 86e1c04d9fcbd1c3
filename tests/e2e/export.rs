//! `setup export`: CloudFormation templates pass cfn-lint with no errors or warnings for every
//! example config; Terraform output parses as HCL, declares every resource and every reference
//! resolves; imports carry the live ids; apply, CloudFormation and Terraform agree.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use hcl::expr::{Expression, TemplateExpr, TraversalOperator};
use hcl::template::Element;
use hcl::{Block, Body, Template};
use serde_json::{json, Value};
use setup::policy_doc;

use crate::harness::*;

fn example_configs() -> Vec<PathBuf> {
    let mut configs: Vec<PathBuf> = std::fs::read_dir(repo_root().join("examples"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    configs.sort();
    assert!(configs.len() >= 2, "examples/ has configs: {configs:?}");
    configs
}

/// A config unlike the examples: provisioned, numeric key only, two clients, guests allowed,
/// names given, extra tags and actions.
const OWN_CONFIG: &str = r#"
stack = "lint-own"
region = "eu-central-1"

[table]
name = "orders.v2"
partition_key = { name = "orderId", type = "N" }
billing_mode = "PROVISIONED"
read_capacity = 5
write_capacity = 2
point_in_time_recovery = false
deletion_protection = false
tags = { team = "shop", "cost-center" = "42" }

[user_pool]
id = "eu-west-1_Zyx987"
client_ids = ["client1abc", "client2def"]

[identity_pool]
name = "orders identities"
allow_unauthenticated = true

[role]
name = "orders-app-users"

[policy]
name = "orders-app-table"
actions = ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:BatchGetItem", "dynamodb:DeleteItem"]
"#;

fn export_offline(dir: &Path, config: &Path, args: &[&str]) -> Run {
    let config = config.to_str().unwrap();
    let mut all = vec!["export", "--config", config, "--no-import"];
    all.extend_from_slice(args);
    let r = run_plain(dir, &all, &[]);
    assert_eq!(r.code, 0, "export failed:\n{}", r.all());
    r
}

#[test]
fn cloudformation_templates_of_every_example_pass_cfn_lint_without_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let own = dir.path().join("own.toml");
    std::fs::write(&own, OWN_CONFIG).unwrap();
    let mut configs = example_configs();
    configs.push(own);
    let mut templates = Vec::new();
    for (i, config) in configs.iter().enumerate() {
        for (ext, extra) in [("yaml", None), ("json", Some("--json"))] {
            let mut args = vec!["--format", "cloudformation"];
            args.extend(extra);
            let r = export_offline(dir.path(), config, &args);
            let path = dir.path().join(format!("template-{i}.{ext}"));
            std::fs::write(&path, &r.stdout).unwrap();
            templates.push(path);
        }
    }
    let paths: Vec<&Path> = templates.iter().map(PathBuf::as_path).collect();
    let out = cfn_lint(&paths);
    assert!(
        out.status.success() && out.stdout.is_empty(),
        "cfn-lint found errors or warnings (exit {:?}):\n{}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The linter does see problems: a broken template fails.
    let broken = dir.path().join("broken.yaml");
    let yaml = std::fs::read_to_string(&templates[0]).unwrap();
    std::fs::write(
        &broken,
        yaml.replace("BillingMode: PAY_PER_REQUEST", "BillingMode: FREE"),
    )
    .unwrap();
    assert!(!cfn_lint(&[broken.as_path()]).status.success());
}

#[test]
fn cloudformation_template_has_every_piece_of_the_desired_state() {
    let dir = tempfile::tempdir().unwrap();
    let own = dir.path().join("own.toml");
    std::fs::write(&own, OWN_CONFIG).unwrap();
    let r = export_offline(
        dir.path(),
        &own,
        &["--format", "cloudformation", "--output", "json"],
    );
    let t = r.json();
    let res = &t["Resources"];
    let table = &res["Table"];
    assert_eq!(table["DeletionPolicy"], "Retain");
    assert_eq!(table["UpdateReplacePolicy"], "Retain");
    let p = &table["Properties"];
    assert_eq!(p["TableName"], "orders.v2");
    assert_eq!(
        p["KeySchema"],
        json!([{"AttributeName": "orderId", "KeyType": "HASH"}])
    );
    assert_eq!(
        p["ProvisionedThroughput"],
        json!({"ReadCapacityUnits": 5, "WriteCapacityUnits": 2})
    );
    assert_eq!(
        p["PointInTimeRecoverySpecification"],
        json!({"PointInTimeRecoveryEnabled": false})
    );
    assert_eq!(p["DeletionProtectionEnabled"], false);
    assert_eq!(
        p["Tags"],
        json!([
            {"Key": "cost-center", "Value": "42"},
            {"Key": "setup:stack", "Value": "lint-own"},
            {"Key": "team", "Value": "shop"}
        ])
    );
    let pool = &res["IdentityPool"]["Properties"];
    assert_eq!(pool["IdentityPoolName"], "orders identities");
    assert_eq!(pool["AllowUnauthenticatedIdentities"], true);
    assert_eq!(
        pool["CognitoIdentityProviders"].as_array().unwrap().len(),
        2
    );
    assert_eq!(t["Parameters"]["UserPoolId"]["Default"], "eu-west-1_Zyx987");
    assert_eq!(t["Parameters"]["AppClientId2"]["Default"], "client2def");
    let role = &res["AuthenticatedRole"]["Properties"];
    assert_eq!(role["RoleName"], "orders-app-users");
    assert!(policy_doc::equivalent(
        &role["AssumeRolePolicyDocument"],
        &policy_doc::trust_policy_with(json!({"Ref": "IdentityPool"}))
    ));
    let policy = &res["AccessPolicy"]["Properties"];
    assert_eq!(res["AccessPolicy"]["Type"], "AWS::IAM::ManagedPolicy");
    assert_eq!(policy["ManagedPolicyName"], "orders-app-table");
    assert_eq!(policy["Roles"], json!([{"Ref": "AuthenticatedRole"}]));
    assert_eq!(
        policy["PolicyDocument"]["Statement"][0]["Resource"],
        json!({"Fn::GetAtt": ["Table", "Arn"]})
    );
    let attach = &res["IdentityPoolRoleAttachment"]["Properties"];
    assert_eq!(attach["IdentityPoolId"], json!({"Ref": "IdentityPool"}));
    assert_eq!(
        attach["Roles"],
        json!({"authenticated": {"Fn::GetAtt": ["AuthenticatedRole", "Arn"]}})
    );
    for output in [
        "TableName",
        "TableArn",
        "IdentityPoolId",
        "AuthenticatedRoleArn",
        "AccessPolicyArn",
    ] {
        assert!(t["Outputs"][output]["Value"].is_object(), "output {output}");
    }
}

// ---------------------------------------------------------------------------------------------
// Terraform: the HCL parses, every resource is there, every reference resolves.

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

fn resource_blocks(body: &Body) -> Vec<(String, &Block)> {
    body.blocks()
        .filter(|b| b.identifier() == "resource")
        .map(|b| {
            (
                format!("{}.{}", b.labels()[0].as_str(), b.labels()[1].as_str()),
                b,
            )
        })
        .collect()
}

fn attr<'a>(block: &'a Block, name: &str) -> &'a Expression {
    block
        .body()
        .attributes()
        .find(|a| a.key() == name)
        .unwrap_or_else(|| panic!("no attribute {name} in {block:?}"))
        .expr()
}

fn nested<'a>(block: &'a Block, name: &str) -> Vec<&'a Block> {
    block
        .body()
        .blocks()
        .filter(|b| b.identifier() == name)
        .collect()
}

fn string(e: &Expression) -> String {
    match e {
        Expression::String(s) => s.clone(),
        other => panic!("not a string: {other:?}"),
    }
}

/// Checks the configuration's structure and that every reference resolves; returns the
/// resources by address.
fn check_terraform(text: &str) -> Body {
    let body: Body = hcl::parse(text).unwrap_or_else(|e| panic!("not HCL: {e}\n{text}"));
    let resources = resource_blocks(&body);
    let addresses: Vec<&str> = resources.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(
        addresses,
        [
            "aws_dynamodb_table.table",
            "aws_cognito_identity_pool.pool",
            "aws_iam_role.authenticated",
            "aws_iam_policy.access",
            "aws_iam_role_policy_attachment.access",
            "aws_cognito_identity_pool_roles_attachment.pool",
        ]
    );
    let variables: BTreeSet<String> = body
        .blocks()
        .filter(|b| b.identifier() == "variable")
        .map(|b| format!("var.{}", b.labels()[0].as_str()))
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
            kind => {
                let mut parts = r.splitn(3, '.');
                let (_, name, attribute) = (parts.next(), parts.next(), parts.next());
                let address = format!("{kind}.{}", name.unwrap_or_default());
                addresses.contains(&address.as_str())
                    && matches!(attribute, Some("id" | "arn" | "name"))
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
        assert!(
            refs.iter().any(|r| r == wanted),
            "nothing refers to {wanted}"
        );
    }

    let by = |a: &str| resources.iter().find(|(x, _)| x == a).unwrap().1;
    let table = by("aws_dynamodb_table.table");
    let lifecycle = nested(table, "lifecycle");
    assert_eq!(lifecycle.len(), 1);
    assert_eq!(
        *attr(lifecycle[0], "prevent_destroy"),
        Expression::Bool(true)
    );
    assert_eq!(nested(table, "point_in_time_recovery").len(), 1);
    let pool = by("aws_cognito_identity_pool.pool");
    let dynamic = nested(pool, "dynamic");
    assert_eq!(
        dynamic[0].labels()[0].as_str(),
        "cognito_identity_providers"
    );
    let role = by("aws_iam_role.authenticated");
    assert_eq!(
        attr(role, "assume_role_policy").to_string(),
        "jsonencode(local.trust_policy)"
    );
    let attachment = by("aws_iam_role_policy_attachment.access");
    assert_eq!(
        attr(attachment, "policy_arn").to_string(),
        "aws_iam_policy.access.arn"
    );
    let roles = by("aws_cognito_identity_pool_roles_attachment.pool");
    assert_eq!(
        attr(roles, "identity_pool_id").to_string(),
        "aws_cognito_identity_pool.pool.id"
    );
    // Import blocks point at declared resources.
    for b in body.blocks().filter(|b| b.identifier() == "import") {
        let to = attr(b, "to").to_string();
        assert!(addresses.contains(&to.as_str()), "import to {to}");
        string(attr(b, "id"));
    }
    body
}

/// Evaluates a `locals` entry with the given resource attributes, as Terraform would.
fn eval_local(body: &Body, name: &str, resources: &[(&str, &str, &str, &str)]) -> Value {
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
    for (kind, rname, attribute, value) in resources {
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
    let own = dir.path().join("own.toml");
    std::fs::write(&own, OWN_CONFIG).unwrap();
    let mut configs = example_configs();
    configs.push(own.clone());
    for config in &configs {
        let r = export_offline(dir.path(), config, &["--format", "terraform"]);
        assert!(!r.stdout.contains("import {"), "{}", r.stdout);
        assert!(
            r.stderr.contains("no import blocks (--no-import)"),
            "{}",
            r.all()
        );
        check_terraform(&r.stdout);
    }
    // The own config's values, one by one.
    let r = export_offline(dir.path(), &own, &["--format", "terraform"]);
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
    assert_eq!(
        *attr(table, "deletion_protection_enabled"),
        Expression::Bool(false)
    );
    let pitr = nested(table, "point_in_time_recovery");
    assert_eq!(*attr(pitr[0], "enabled"), Expression::Bool(false));
    let pool = by("aws_cognito_identity_pool.pool");
    assert_eq!(
        string(attr(pool, "identity_pool_name")),
        "orders identities"
    );
    assert_eq!(
        *attr(pool, "allow_unauthenticated_identities"),
        Expression::Bool(true)
    );
    assert_eq!(
        string(attr(by("aws_iam_role.authenticated"), "name")),
        "orders-app-users"
    );
    assert_eq!(
        string(attr(by("aws_iam_policy.access"), "name")),
        "orders-app-table"
    );
    let doc = eval_local(
        &body,
        "access_policy",
        &[("aws_dynamodb_table", "table", "arn", "arn:t")],
    );
    let want = policy_doc::access_policy(
        "arn:t",
        &[
            "dynamodb:GetItem".into(),
            "dynamodb:Query".into(),
            "dynamodb:BatchGetItem".into(),
            "dynamodb:DeleteItem".into(),
        ],
        false,
    );
    assert_eq!(doc, want);
    let provider = eval_local(&body, "user_pool_provider", &[]);
    assert_eq!(
        provider,
        json!("cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Zyx987")
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
    assert!(r.stderr.contains("has no resources yet"), "{}", r.all());
    assert!(imports(&check_terraform(&r.stdout)).is_empty());
    assert!(r.writes().is_empty(), "export wrote: {:?}", r.writes());

    s.ok(&["apply"]);
    let out = s.dir.path().join("main.tf");
    let r = s.ok(&[
        "export",
        "--format",
        "terraform",
        "--output-file",
        out.to_str().unwrap(),
    ]);
    assert!(r.stdout.is_empty(), "{}", r.all());
    assert!(r.stderr.contains("6 import blocks"), "{}", r.all());
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
            (
                "aws_cognito_identity_pool_roles_attachment.pool".to_string(),
                pool
            ),
        ]
    );
    let region = body
        .blocks()
        .find(|b| b.identifier() == "provider")
        .map(|b| string(attr(b, "region")));
    assert_eq!(region.as_deref(), Some(REGION));
}

#[test]
fn without_credentials_export_still_works_and_says_there_are_no_imports() {
    let dir = tempfile::tempdir().unwrap();
    let config = repo_root().join("examples/user-profiles-backend.toml");
    let r = run_plain(
        dir.path(),
        &[
            "export",
            "--format",
            "terraform",
            "--config",
            config.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stderr
            .contains("no import blocks: could not read the live stack")
            && r.stderr.contains("credentials"),
        "{}",
        r.all()
    );
    let body = check_terraform(&r.stdout);
    assert!(imports(&body).is_empty());
    // CloudFormation never needs AWS access, and --json with Terraform is refused clearly.
    let r = run_plain(
        dir.path(),
        &["export", "-f", "cfn", "--config", config.to_str().unwrap()],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(r.stdout.contains("!GetAtt Table.Arn"), "{}", r.all());
    let r = run_plain(
        dir.path(),
        &[
            "export",
            "-f",
            "terraform",
            "--json",
            "--config",
            config.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.stderr.contains("--format cloudformation only"),
        "{}",
        r.all()
    );
}

/// The live policy document and table settings, as apply left them.
fn live(s: &Stack) -> (Value, Value, String, Option<(i64, i64)>, String) {
    let sdk = sdk();
    block_on(async {
        let access = sdk.default_document(&s.policy_arn()).await;
        let role = sdk.iam.get_role().role_name(s.role()).send().await.unwrap();
        let trust =
            policy_doc::parse(role.role().unwrap().assume_role_policy_document().unwrap()).unwrap();
        let t = sdk
            .dynamodb
            .describe_table()
            .table_name(s.table())
            .send()
            .await
            .unwrap();
        let t = t.table().unwrap();
        let mode = t
            .billing_mode_summary()
            .and_then(|b| b.billing_mode())
            .map(|m| m.as_str().to_string())
            .unwrap_or_else(|| "PROVISIONED".into());
        let units = (mode == "PROVISIONED").then(|| {
            let p = t.provisioned_throughput().unwrap();
            (
                p.read_capacity_units().unwrap(),
                p.write_capacity_units().unwrap(),
            )
        });
        (
            access,
            trust,
            mode,
            units,
            t.table_arn().unwrap().to_string(),
        )
    })
}

/// CloudFormation's document with its intrinsic functions resolved to live values.
fn resolve_cfn(v: &Value, table_arn: &str, pool_id: &str) -> Value {
    match v {
        Value::Object(m) if m.get("Fn::GetAtt") == Some(&json!(["Table", "Arn"])) => {
            json!(table_arn)
        }
        Value::Object(m) if m.get("Ref") == Some(&json!("IdentityPool")) => json!(pool_id),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), resolve_cfn(v, table_arn, pool_id)))
                .collect(),
        ),
        Value::Array(items) => items
            .iter()
            .map(|i| resolve_cfn(i, table_arn, pool_id))
            .collect(),
        other => other.clone(),
    }
}

fn check_all_agree(s: &Stack, actions: &[&str], billing: (&str, Option<(i64, i64)>)) {
    let (access, trust, mode, units, table_arn) = live(s);
    let pool_id = s.pool_id();
    // 1. apply's live result is what the config says.
    let actions: Vec<String> = actions.iter().map(|a| a.to_string()).collect();
    assert_eq!(
        access,
        policy_doc::access_policy(&table_arn, &actions, false)
    );
    assert_eq!((mode.as_str(), units), billing);

    // 2. CloudFormation, with its references resolved, equals the live state exactly.
    let t = s
        .ok(&["export", "--format", "cloudformation", "--json"])
        .json();
    let props = |r: &str| t["Resources"][r]["Properties"].clone();
    assert_eq!(
        resolve_cfn(
            &props("AccessPolicy")["PolicyDocument"],
            &table_arn,
            &pool_id
        ),
        access
    );
    assert_eq!(
        resolve_cfn(
            &props("AuthenticatedRole")["AssumeRolePolicyDocument"],
            &table_arn,
            &pool_id
        ),
        trust
    );
    assert_eq!(props("Table")["BillingMode"], json!(mode));
    assert_eq!(
        props("Table").get("ProvisionedThroughput").cloned(),
        units.map(|(r, w)| json!({"ReadCapacityUnits": r, "WriteCapacityUnits": w}))
    );

    // 3. Terraform, evaluated with the live ids, equals the live state exactly.
    let text = s.ok(&["export", "--format", "terraform"]).stdout;
    let body = check_terraform(&text);
    let tf_access = eval_local(
        &body,
        "access_policy",
        &[("aws_dynamodb_table", "table", "arn", &table_arn)],
    );
    assert_eq!(tf_access, access);
    let tf_trust = eval_local(
        &body,
        "trust_policy",
        &[("aws_cognito_identity_pool", "pool", "id", &pool_id)],
    );
    assert_eq!(tf_trust, trust);
    let res = resource_blocks(&body);
    let table = res
        .iter()
        .find(|(a, _)| a == "aws_dynamodb_table.table")
        .unwrap()
        .1;
    assert_eq!(string(attr(table, "billing_mode")), mode);
    let tf_units = table
        .body()
        .attributes()
        .find(|a| a.key() == "read_capacity")
        .map(|_| {
            let n = |k| match attr(table, k) {
                Expression::Number(n) => n.as_i64().unwrap(),
                other => panic!("{other:?}"),
            };
            (n("read_capacity"), n("write_capacity"))
        });
    assert_eq!(tf_units, units);
}

#[test]
fn apply_cloudformation_and_terraform_agree_after_a_config_change() {
    let s = Stack::new(
        "three-agree",
        "\n[table]\nname = \"three-agree-profiles\"\nbilling_mode = \"PROVISIONED\"\nread_capacity = 2\nwrite_capacity = 3\n[policy]\nactions = [\"dynamodb:GetItem\", \"dynamodb:Query\"]\n",
    );
    s.ok(&["apply"]);
    check_all_agree(
        &s,
        &["dynamodb:GetItem", "dynamodb:Query"],
        ("PROVISIONED", Some((2, 3))),
    );
    // Change the actions and the billing mode; all three follow.
    s.write_config(
        "\n[table]\nname = \"three-agree-profiles\"\nbilling_mode = \"PAY_PER_REQUEST\"\n[policy]\nactions = [\"dynamodb:GetItem\", \"dynamodb:Query\", \"dynamodb:BatchGetItem\"]\n",
    );
    let r = s.ok(&["apply"]);
    assert!(
        r.stdout.contains("set billing mode to PAY_PER_REQUEST"),
        "{}",
        r.all()
    );
    check_all_agree(
        &s,
        &[
            "dynamodb:GetItem",
            "dynamodb:Query",
            "dynamodb:BatchGetItem",
        ],
        ("PAY_PER_REQUEST", None),
    );
}
