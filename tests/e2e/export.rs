//! `setup export`: CloudFormation templates pass cfn-lint with no errors or warnings for every
//! example config and hold every piece of the desired state; apply, CloudFormation and Terraform
//! agree. The Terraform output on its own is checked in export_terraform.rs.

use std::path::{Path, PathBuf};

use hcl::expr::Expression;
use serde_json::{json, Value};
use setup::policy_doc;

use crate::export_terraform::{attr, check_terraform, eval_local, resource_blocks, string};
use crate::harness::*;

pub(crate) fn example_configs() -> Vec<PathBuf> {
    let mut configs: Vec<PathBuf> = std::fs::read_dir(repo_root().join("examples"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    configs.sort();
    assert!(configs.len() >= 2, "examples/ has configs: {configs:?}");
    configs
}

/// The example configs and [`OWN_CONFIG`], written into `dir` as `own.toml` (last).
pub(crate) fn every_config(dir: &Path) -> Vec<PathBuf> {
    let own = dir.join("own.toml");
    std::fs::write(&own, OWN_CONFIG).unwrap();
    let mut configs = example_configs();
    configs.push(own);
    configs
}

/// A config unlike the examples: provisioned, numeric key only, two clients, guests allowed,
/// names given, extra tags and actions, a permissions boundary by name, two groups.
pub(crate) const OWN_CONFIG: &str = r#"
stack = "lint-own"
region = "eu-central-1"
permissions_boundary = "orders-boundary"

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

[[groups]]
name = "admins"
actions = ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:Scan"]
per_user_isolation = false

[[groups]]
name = "support-staff"
actions = ["dynamodb:GetItem"]
role = "orders-support"
"#;

pub(crate) fn export_offline(dir: &Path, config: &Path, args: &[&str]) -> Run {
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
    let configs = every_config(dir.path());
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
    std::fs::write(&broken, yaml.replace("BillingMode: PAY_PER_REQUEST", "BillingMode: FREE"))
        .unwrap();
    assert!(!cfn_lint(&[broken.as_path()]).status.success());
}

#[test]
fn cloudformation_template_has_every_piece_of_the_desired_state() {
    let dir = tempfile::tempdir().unwrap();
    let own = dir.path().join("own.toml");
    std::fs::write(&own, OWN_CONFIG).unwrap();
    let r = export_offline(dir.path(), &own, &["--format", "cloudformation", "--output", "json"]);
    let t = r.json();
    let res = &t["Resources"];
    let table = &res["Table"];
    assert_eq!(table["DeletionPolicy"], "Retain");
    assert_eq!(table["UpdateReplacePolicy"], "Retain");
    let p = &table["Properties"];
    assert_eq!(p["TableName"], "orders.v2");
    assert_eq!(p["KeySchema"], json!([{"AttributeName": "orderId", "KeyType": "HASH"}]));
    assert_eq!(
        p["ProvisionedThroughput"],
        json!({"ReadCapacityUnits": 5, "WriteCapacityUnits": 2})
    );
    assert_eq!(p["PointInTimeRecoverySpecification"], json!({"PointInTimeRecoveryEnabled": false}));
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
    assert_eq!(pool["CognitoIdentityProviders"].as_array().unwrap().len(), 2);
    assert_eq!(t["Parameters"]["UserPoolId"]["Default"], "eu-west-1_Zyx987");
    assert_eq!(t["Parameters"]["AppClientId2"]["Default"], "client2def");
    let role = &res["AuthenticatedRole"]["Properties"];
    assert_eq!(role["RoleName"], "orders-app-users");
    assert!(policy_doc::equivalent(
        &role["AssumeRolePolicyDocument"],
        &policy_doc::trust_policy_with(
            json!({"Ref": "IdentityPool"}),
            "cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Zyx987"
        )
    ));
    let policy = &res["AccessPolicy"]["Properties"];
    assert_eq!(res["AccessPolicy"]["Type"], "AWS::IAM::ManagedPolicy");
    assert_eq!(policy["ManagedPolicyName"], "orders-app-table");
    assert_eq!(policy["Roles"], json!([{"Ref": "AuthenticatedRole"}]));
    assert_eq!(
        policy["PolicyDocument"]["Statement"][0]["Resource"],
        json!({"Fn::GetAtt": ["Table", "Arn"]})
    );
    // Guests allowed without `[guest] actions`: their role, trusting the pool's unauthenticated
    // identities, and no policy.
    let guest = &res["GuestRole"]["Properties"];
    assert_eq!(guest["RoleName"], "lint-own-cognito-guest");
    assert!(policy_doc::equivalent(
        &guest["AssumeRolePolicyDocument"],
        &setup::steps::guest::trust_policy_with(json!({"Ref": "IdentityPool"}))
    ));
    assert_eq!(
        guest["AssumeRolePolicyDocument"]["Statement"][0]["Condition"]["ForAnyValue:StringLike"]
            ["cognito-identity.amazonaws.com:amr"],
        "unauthenticated"
    );
    assert!(res.get("GuestPolicy").is_none(), "{res}");
    // Both roles carry the permissions boundary, the account's policy of that name.
    let boundary =
        json!({"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:policy/orders-boundary"});
    assert_eq!(
        (&role["PermissionsBoundary"], &guest["PermissionsBoundary"]),
        (&boundary, &boundary)
    );
    let attach = &res["IdentityPoolRoleAttachment"]["Properties"];
    assert_eq!(attach["IdentityPoolId"], json!({"Ref": "IdentityPool"}));
    assert_eq!(
        attach["Roles"],
        json!({
            "authenticated": {"Fn::GetAtt": ["AuthenticatedRole", "Arn"]},
            "unauthenticated": {"Fn::GetAtt": ["GuestRole", "Arn"]},
        })
    );
    // The groups: each its role (the stack role's trust and boundary) and policy, and the
    // pool maps each app client by rules, one per group in order.
    for (id, name, role_name) in [
        ("Admins", "admins", "lint-own-group-admins"),
        ("Supportstaff", "support-staff", "orders-support"),
    ] {
        let g = &res[format!("GroupRole{id}")]["Properties"];
        assert_eq!(g["RoleName"], role_name);
        assert_eq!(g["AssumeRolePolicyDocument"], role["AssumeRolePolicyDocument"]);
        assert_eq!(g["PermissionsBoundary"], boundary);
        let gp = &res[format!("GroupPolicy{id}")]["Properties"];
        assert_eq!(gp["ManagedPolicyName"], format!("lint-own-group-{name}-access"));
        assert_eq!(gp["Roles"], json!([{"Ref": format!("GroupRole{id}")}]));
    }
    let mappings = attach["RoleMappings"].as_object().unwrap();
    assert_eq!(mappings.keys().collect::<Vec<_>>(), ["AppClientId1", "AppClientId2"]);
    for (client, m) in mappings {
        assert_eq!(m["Type"], "Rules");
        assert_eq!(m["AmbiguousRoleResolution"], "AuthenticatedRole");
        assert!(m["IdentityProvider"]["Fn::Sub"][0]
            .as_str()
            .unwrap()
            .ends_with(&format!(":${{{client}}}")));
        let rules: Vec<(&Value, &Value)> = m["RulesConfiguration"]["Rules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (&r["Value"], &r["RoleARN"]["Fn::GetAtt"][0]))
            .collect();
        assert_eq!(
            rules,
            [
                (&json!("admins"), &json!("GroupRoleAdmins")),
                (&json!("support-staff"), &json!("GroupRoleSupportstaff"))
            ]
        );
    }
    // The table options' defaults, written out.
    assert_eq!(p["SSESpecification"], json!({"SSEEnabled": false}));
    assert_eq!(p["TableClass"], "STANDARD");
    assert!(p.get("TimeToLiveSpecification").is_none(), "{p}");
    for output in [
        "TableName",
        "TableArn",
        "IdentityPoolId",
        "AuthenticatedRoleArn",
        "AccessPolicyArn",
        "GuestRoleArn",
    ] {
        assert!(t["Outputs"][output]["Value"].is_object(), "output {output}");
    }
}

// ---------------------------------------------------------------------------------------------
// Terraform: the HCL parses, every resource is there, every reference resolves.

/// The live policy document and table settings, as apply left them.
fn live(s: &Stack) -> (Value, Value, String, Option<(i64, i64)>, String) {
    let sdk = sdk();
    block_on(async {
        let access = sdk.default_document(&s.policy_arn()).await;
        let trust = sdk.trust_policy(&s.role()).await;
        let t = sdk.table(&s.table()).await;
        let mode = t
            .billing_mode_summary()
            .and_then(|b| b.billing_mode())
            .map(|m| m.as_str().to_string())
            .unwrap_or_else(|| "PROVISIONED".into());
        let units = (mode == "PROVISIONED").then(|| {
            let p = t.provisioned_throughput().unwrap();
            (p.read_capacity_units().unwrap(), p.write_capacity_units().unwrap())
        });
        (access, trust, mode, units, t.table_arn().unwrap().to_string())
    })
}

/// CloudFormation's document with its intrinsic functions resolved to live values.
fn resolve_cfn(v: &Value, table_arn: &str, pool_id: &str) -> Value {
    resolve_cfn_with_key(v, table_arn, pool_id, "")
}

/// [`resolve_cfn`], also with the `KmsKeyArn` parameter's value and the stack's region.
fn resolve_cfn_with_key(v: &Value, table_arn: &str, pool_id: &str, key_arn: &str) -> Value {
    match v {
        Value::Object(m) if m.get("Fn::GetAtt") == Some(&json!(["Table", "Arn"])) => {
            json!(table_arn)
        }
        Value::Object(m) if m.get("Ref") == Some(&json!("IdentityPool")) => json!(pool_id),
        Value::Object(m) if m.get("Ref") == Some(&json!("KmsKeyArn")) => json!(key_arn),
        Value::Object(m) if m.len() == 1 && m.contains_key("Fn::Sub") => {
            let text = m["Fn::Sub"].as_str().unwrap().replace("${AWS::Region}", REGION);
            json!(text.replace("${Table.Arn}", table_arn))
        }
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), resolve_cfn_with_key(v, table_arn, pool_id, key_arn)))
                .collect(),
        ),
        Value::Array(items) => {
            items.iter().map(|i| resolve_cfn_with_key(i, table_arn, pool_id, key_arn)).collect()
        }
        other => other.clone(),
    }
}

fn check_all_agree(s: &Stack, actions: &[&str], billing: (&str, Option<(i64, i64)>)) {
    let (access, trust, mode, units, table_arn) = live(s);
    let pool_id = s.pool_id();
    // 1. apply's live result is what the config says.
    let actions: Vec<String> = actions.iter().map(|a| a.to_string()).collect();
    assert_eq!(access, policy_doc::access_policy(&table_arn, &actions, None));
    assert_eq!((mode.as_str(), units), billing);

    // 2. CloudFormation, with its references resolved, equals the live state exactly.
    let t = s.ok(&["export", "--format", "cloudformation", "--json"]).json();
    let props = |r: &str| t["Resources"][r]["Properties"].clone();
    assert_eq!(resolve_cfn(&props("AccessPolicy")["PolicyDocument"], &table_arn, &pool_id), access);
    assert_eq!(
        resolve_cfn(&props("AuthenticatedRole")["AssumeRolePolicyDocument"], &table_arn, &pool_id),
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
    let tf_access =
        eval_local(&body, "access_policy", &[("aws_dynamodb_table", "table", "arn", &table_arn)]);
    assert_eq!(tf_access, access);
    let tf_trust =
        eval_local(&body, "trust_policy", &[("aws_cognito_identity_pool", "pool", "id", &pool_id)]);
    assert_eq!(tf_trust, trust);
    let res = resource_blocks(&body);
    let table = res.iter().find(|(a, _)| a == "aws_dynamodb_table.table").unwrap().1;
    assert_eq!(string(attr(table, "billing_mode")), mode);
    let tf_units = table.body().attributes().find(|a| a.key() == "read_capacity").map(|_| {
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
    check_all_agree(&s, &["dynamodb:GetItem", "dynamodb:Query"], ("PROVISIONED", Some((2, 3))));
    // Change the actions and the billing mode; all three follow.
    s.write_config(
        "\n[table]\nname = \"three-agree-profiles\"\nbilling_mode = \"PAY_PER_REQUEST\"\n[policy]\nactions = [\"dynamodb:GetItem\", \"dynamodb:Query\", \"dynamodb:BatchGetItem\"]\n",
    );
    let r = s.ok(&["apply"]);
    r.stdout_has("set billing mode to PAY_PER_REQUEST");
    check_all_agree(
        &s,
        &["dynamodb:GetItem", "dynamodb:Query", "dynamodb:BatchGetItem"],
        ("PAY_PER_REQUEST", None),
    );
}

#[test]
fn apply_cloudformation_and_terraform_agree_on_the_table_options_and_guests() {
    let s = Stack::new("agree-options", "");
    let alias = format!("{}-key", s.name);
    let key = create_key(emulator(), &alias);
    s.write_config(&s.table_config(
        &format!(
            "encryption = \"customer-managed\"\nkms_key = \"alias/{alias}\"\nttl_attribute = \"expiresAt\"\ntable_class = \"STANDARD_INFREQUENT_ACCESS\"\n[[table.global_secondary_indexes]]\nname = \"byEmail\"\npartition_key = {{ name = \"email\", type = \"S\" }}\nprojection = {{ include = [\"displayName\"] }}\n"
        ),
        "[identity_pool]\nallow_unauthenticated = true\n[guest]\nactions = [\"dynamodb:GetItem\"]\n",
    ));
    s.ok(&["apply"]);
    let sdk = sdk();
    let guest_role = format!("{}-cognito-guest", s.name);
    let guest_policy = format!("arn:aws:iam::{ACCOUNT}:policy/{}-guest-access", s.name);
    let (access, guest_doc, guest_trust, t, ttl) = block_on(async {
        let ttl = sdk.dynamodb.describe_time_to_live().table_name(s.table()).send().await.unwrap();
        (
            sdk.default_document(&s.policy_arn()).await,
            sdk.default_document(&guest_policy).await,
            sdk.trust_policy(&guest_role).await,
            sdk.table(&s.table()).await,
            ttl.time_to_live_description().and_then(|d| d.attribute_name()).map(str::to_string),
        )
    });
    let table_arn = t.table_arn().unwrap().to_string();
    let pool_id = s.pool_id();
    // apply's live state: the key's grant in both policies, the options on the table.
    for doc in [&access, &guest_doc] {
        assert!(
            doc["Statement"].as_array().unwrap().iter().any(|st| st["Resource"] == json!(key)),
            "no grant on {key}: {doc}"
        );
    }
    let live_key = t.sse_description().and_then(|d| d.kms_master_key_arn()).map(str::to_string);
    assert_eq!(live_key.as_deref(), Some(key.as_str()));
    assert_eq!(ttl.as_deref(), Some("expiresAt"));
    let index = &t.global_secondary_indexes()[0];
    assert_eq!(index.index_name(), Some("byEmail"));

    // CloudFormation, resolved with the live ids and the key's ARN, equals the live state.
    let cfn = s.ok(&["export", "--format", "cloudformation", "--json"]).json();
    let props = |r: &str| cfn["Resources"][r]["Properties"].clone();
    let resolve = |v: &Value| resolve_cfn_with_key(v, &table_arn, &pool_id, &key);
    assert_eq!(resolve(&props("AccessPolicy")["PolicyDocument"]), access);
    assert_eq!(resolve(&props("GuestPolicy")["PolicyDocument"]), guest_doc);
    assert_eq!(resolve(&props("GuestRole")["AssumeRolePolicyDocument"]), guest_trust);
    assert_eq!(props("GuestRole")["RoleName"], json!(guest_role));
    assert_eq!(
        props("IdentityPoolRoleAttachment")["Roles"]["unauthenticated"],
        json!({"Fn::GetAtt": ["GuestRole", "Arn"]})
    );
    let table = props("Table");
    assert_eq!(resolve(&table["SSESpecification"]["KMSMasterKeyId"]), json!(key));
    assert_eq!(table["TimeToLiveSpecification"]["AttributeName"], json!(ttl.unwrap()));
    assert_eq!(
        table["TableClass"],
        json!(t.table_class_summary().and_then(|c| c.table_class()).map(|c| c.as_str()))
    );
    let cfn_index = &table["GlobalSecondaryIndexes"][0];
    assert_eq!(cfn_index["IndexName"], "byEmail");
    assert_eq!(
        cfn_index["Projection"]["NonKeyAttributes"],
        json!(index.projection().unwrap().non_key_attributes())
    );

    // Terraform, evaluated with the live ids, equals the live state; the guest role, policy
    // and attachment get import blocks.
    let r = s.ok(&["export", "--format", "terraform"]);
    let body = check_terraform(&r.stdout);
    let live_ids = [
        ("aws_dynamodb_table", "table", "arn", table_arn.as_str()),
        ("aws_cognito_identity_pool", "pool", "id", pool_id.as_str()),
        ("data.aws_kms_key", "table", "arn", key.as_str()),
    ];
    assert_eq!(eval_local(&body, "access_policy", &live_ids), access);
    assert_eq!(eval_local(&body, "guest_policy", &live_ids), guest_doc);
    assert_eq!(eval_local(&body, "guest_trust_policy", &live_ids), guest_trust);
    let imports: Vec<(String, String)> = body
        .blocks()
        .filter(|b| b.identifier() == "import")
        .map(|b| (attr(b, "to").to_string(), string(attr(b, "id"))))
        .collect();
    for wanted in [
        ("aws_iam_role.guest".to_string(), guest_role.clone()),
        ("aws_iam_policy.guest".to_string(), guest_policy.clone()),
        (
            "aws_iam_role_policy_attachment.guest".to_string(),
            format!("{guest_role}/{guest_policy}"),
        ),
    ] {
        assert!(imports.contains(&wanted), "{wanted:?} not in {imports:?}");
    }
    s.ok(&["teardown", "--delete-table", "--yes"]);
}
