//! `setup export` covers every step, `[backend]` included: the backend policy and its attachment
//! to the existing role or user, in CloudFormation (cfn-lint clean) and Terraform (with import
//! blocks for what apply made), with the document apply writes.

use hcl::Body;
use serde_json::{json, Value};

use crate::harness::*;

const TRUST_ECS: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ecs-tasks.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

/// `type.name` of every resource block.
fn resources(body: &Body) -> Vec<String> {
    body.blocks()
        .filter(|b| b.identifier() == "resource")
        .map(|b| format!("{}.{}", b.labels()[0].as_str(), b.labels()[1].as_str()))
        .collect()
}

fn attribute(body: &Body, address: &str, name: &str) -> String {
    body.blocks()
        .filter(|b| b.identifier() == "resource")
        .find(|b| format!("{}.{}", b.labels()[0].as_str(), b.labels()[1].as_str()) == address)
        .and_then(|b| b.body().attributes().find(|a| a.key() == name))
        .map(|a| a.expr().to_string())
        .unwrap_or_else(|| panic!("no {address}.{name}"))
}

/// CloudFormation's `{"Fn::GetAtt": ["Table", "Arn"]}` replaced by the live table ARN.
fn resolved(doc: &Value, table_arn: &str) -> Value {
    let mut doc = doc.clone();
    for st in doc["Statement"].as_array_mut().unwrap() {
        assert_eq!(st["Resource"], json!({"Fn::GetAtt": ["Table", "Arn"]}));
        st["Resource"] = json!(table_arn);
    }
    doc
}

#[test]
fn both_exports_carry_the_backend_policy_of_a_role_and_import_what_apply_made() {
    let s = Stack::new("export-backend", "");
    let api = format!("{}-api", s.name);
    let sdk = sdk();
    block_on(sdk.create_role(&api, TRUST_ECS));
    s.write_config(&format!(
        "\n[table]\nname = \"{}\"\n[backend]\nrole = \"{api}\"\nactions = [\"dynamodb:Query\", \"dynamodb:GetItem\"]\n",
        s.table()
    ));
    s.ok(&["apply"]);
    let arn = format!("arn:aws:iam::{ACCOUNT}:policy/{}-backend-access", s.name);
    let live = block_on(sdk.default_document(&arn));
    let table_arn = format!("arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{}", s.table());

    // CloudFormation: the policy, attached by name to the existing role; the same document.
    let t = s.ok(&["export", "--format", "cloudformation", "--json"]).json();
    let p = &t["Resources"]["BackendPolicy"];
    assert_eq!(p["Type"], "AWS::IAM::ManagedPolicy", "{t}");
    assert_eq!(p["Properties"]["Roles"], json!([api]));
    assert_eq!(p["Properties"]["ManagedPolicyName"], format!("{}-backend-access", s.name));
    assert!(
        setup::policy_doc::equivalent(
            &resolved(&p["Properties"]["PolicyDocument"], &table_arn),
            &live
        ),
        "{}\n{live}",
        p["Properties"]["PolicyDocument"]
    );

    // Terraform: the policy and the role attachment, with import blocks for both.
    let r = s.ok(&["export", "--format", "terraform"]);
    assert!(r.stderr.contains("8 import blocks"), "{}", r.all());
    let body: Body = hcl::parse(&r.stdout).unwrap();
    let addresses = resources(&body);
    assert_eq!(
        addresses[6..],
        ["aws_iam_policy.backend", "aws_iam_role_policy_attachment.backend"]
    );
    assert_eq!(
        attribute(&body, "aws_iam_role_policy_attachment.backend", "role"),
        format!("\"{api}\"")
    );
    assert_eq!(
        attribute(&body, "aws_iam_role_policy_attachment.backend", "policy_arn"),
        "aws_iam_policy.backend.arn"
    );
    assert_eq!(
        attribute(&body, "aws_iam_policy.backend", "policy"),
        "jsonencode(local.backend_policy)"
    );
    let local = body
        .blocks()
        .filter(|b| b.identifier() == "locals")
        .flat_map(|b| b.body().attributes())
        .find(|a| a.key() == "backend_policy")
        .map(|a| a.expr().to_string())
        .expect("a backend_policy local");
    assert!(
        local.contains("aws_dynamodb_table.table.arn")
            && local.contains("dynamodb:Query")
            && local.contains("dynamodb:GetItem"),
        "{local}"
    );
    let imports: Vec<(String, String)> = body
        .blocks()
        .filter(|b| b.identifier() == "import")
        .map(|b| {
            let get =
                |k: &str| b.body().attributes().find(|a| a.key() == k).unwrap().expr().to_string();
            (get("to"), get("id").trim_matches('"').to_string())
        })
        .collect();
    assert!(imports.contains(&("aws_iam_policy.backend".into(), arn.clone())), "{imports:?}");
    assert!(
        imports
            .contains(&("aws_iam_role_policy_attachment.backend".into(), format!("{api}/{arn}"))),
        "{imports:?}"
    );
    s.ok(&["teardown", "--delete-table", "--yes"]);
}

#[test]
fn a_backend_user_is_attached_through_users_and_the_template_passes_cfn_lint() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("setup.toml");
    std::fs::write(
        &config,
        "stack = \"lint-backend-user\"\nregion = \"eu-west-1\"\n[user_pool]\nid = \"eu-west-1_Abc123\"\nclient_ids = [\"client1\"]\n[backend]\nuser = \"orders-svc\"\n",
    )
    .unwrap();
    let export = |args: &[&str]| {
        let mut all = vec!["export", "--config", config.to_str().unwrap(), "--no-import"];
        all.extend_from_slice(args);
        let r = run_plain(dir.path(), &all, &[]);
        assert_eq!(r.code, 0, "{}", r.all());
        r
    };
    let t = export(&["--format", "cloudformation", "--json"]).json();
    let p = &t["Resources"]["BackendPolicy"]["Properties"];
    assert_eq!(p["Users"], json!(["orders-svc"]), "{t}");
    assert!(p.get("Roles").is_none(), "{p}");
    let yaml = dir.path().join("template.yaml");
    std::fs::write(&yaml, export(&["--format", "cloudformation"]).stdout).unwrap();
    let out = cfn_lint(&[yaml.as_path()]);
    assert!(
        out.status.success() && out.stdout.is_empty(),
        "cfn-lint: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let body: Body = hcl::parse(&export(&["--format", "terraform"]).stdout).unwrap();
    assert!(resources(&body).contains(&"aws_iam_user_policy_attachment.backend".to_string()));
    assert_eq!(
        attribute(&body, "aws_iam_user_policy_attachment.backend", "user"),
        "\"orders-svc\""
    );
}
