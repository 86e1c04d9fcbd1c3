//! checkov, an IaC security scanner (PyPI `checkov`, installed by tests/install-tools.sh into
//! its own virtual environment, target/checkov-venv), on both exports. With
//! `encryption = "customer-managed"` it finds nothing in the CloudFormation template (YAML and
//! JSON) or the Terraform configuration; with the default encryption exactly CKV_AWS_119 (a table
//! not encrypted with a customer managed key), the one trade-off of the default. Every other
//! finding on the example configs is one a config choice asks for, named here. checkov runs
//! offline: no download, no update check, and any other connection attempt goes to a closed
//! loopback port and shows on stderr, which must stay empty.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::export::{example_configs, export_offline};
use crate::harness::*;

/// The failed checks of one exported file: (check id, resource).
type Findings = BTreeSet<(String, String)>;

/// What checkov reported: per scanned file (relative to the scanned directory), its failed
/// checks; every file checkov evaluated at least one check on is a key.
struct Scan {
    failed: BTreeMap<String, Findings>,
    /// (file, check id, the reason of its skip comment).
    skipped: Vec<(String, String, String)>,
}

fn checkov_bin() -> PathBuf {
    repo_root().join("target/checkov-venv/bin/checkov")
}

/// Runs checkov on every CloudFormation template and Terraform directory under `dir`.
fn checkov(dir: &Path) -> Scan {
    let bin = checkov_bin();
    assert!(
        bin.exists(),
        "checkov is not installed at {}: run tests/install-tools.sh (tests/run.sh does), which installs it into its own virtual environment (tests/requirements-checkov.txt)",
        bin.display()
    );
    let closed = "http://127.0.0.1:9";
    let out = Command::new(&bin)
        .arg("--directory")
        .arg(dir)
        .args(["--framework", "cloudformation", "terraform", "--output", "json", "--skip-download"])
        .env("BC_SKIP_MAPPING", "TRUE")
        .env("CKV_SKIP_PACKAGE_UPDATE_CHECK", "true")
        .env("HTTPS_PROXY", closed)
        .env("HTTP_PROXY", closed)
        .env("https_proxy", closed)
        .env("http_proxy", closed)
        .env_remove("NO_PROXY")
        .env_remove("no_proxy")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", bin.display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.trim().is_empty(),
        "checkov wrote to stderr (a crash, or a connection attempt):\n{stderr}"
    );
    let json: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("checkov's output is not JSON ({e}):\n{stdout}"));
    let reports = match json {
        Value::Array(reports) => reports,
        one => vec![one],
    };
    let mut scan = Scan { failed: BTreeMap::new(), skipped: Vec::new() };
    let file = |c: &Value| c["file_path"].as_str().unwrap().trim_start_matches('/').to_string();
    for report in &reports {
        assert_eq!(
            report["summary"]["parsing_errors"], 0,
            "checkov could not parse a file: {}",
            report["results"]["parsing_errors"]
        );
        let results = &report["results"];
        let list = |key: &str| results[key].as_array().cloned().unwrap_or_default();
        for c in list("passed_checks") {
            scan.failed.entry(file(&c)).or_default();
        }
        for c in list("failed_checks") {
            scan.failed.entry(file(&c)).or_default().insert((
                c["check_id"].as_str().unwrap().to_string(),
                c["resource"].as_str().unwrap().to_string(),
            ));
        }
        for c in list("skipped_checks") {
            scan.skipped.push((
                file(&c),
                c["check_id"].as_str().unwrap().to_string(),
                c["check_result"]["suppress_comment"].as_str().unwrap_or_default().to_string(),
            ));
        }
    }
    let any_failed = scan.failed.values().any(|f| !f.is_empty());
    assert_eq!(
        out.status.code(),
        Some(i32::from(any_failed)),
        "checkov's exit code does not match its findings:\n{stdout}"
    );
    scan
}

/// The three files of one config's exports, relative to the scanned directory.
fn files(name: &str) -> [String; 3] {
    [
        format!("{name}/template.yaml"),
        format!("{name}/template.json"),
        format!("{name}/terraform/main.tf"),
    ]
}

/// A directory of exports for checkov to scan, one subdirectory per config.
struct Exports {
    work: tempfile::TempDir,
    scan: PathBuf,
}

impl Exports {
    fn new() -> Self {
        let work = tempfile::tempdir().unwrap();
        let scan = work.path().join("scan");
        Exports { work, scan }
    }

    /// Exports `config` into `scan/<name>/`: the CloudFormation template as YAML and JSON, and
    /// the Terraform configuration in its own directory (one module).
    fn add(&self, name: &str, config: &Path) {
        std::fs::create_dir_all(self.scan.join(name).join("terraform")).unwrap();
        let [yaml, json, tf] = files(name);
        for (args, file) in [
            (&["--format", "cloudformation"][..], yaml),
            (&["--format", "cloudformation", "--json"][..], json),
            (&["--format", "terraform"][..], tf),
        ] {
            let r = export_offline(self.work.path(), config, args);
            std::fs::write(self.scan.join(file), r.stdout).unwrap();
        }
    }

    /// Writes a config for stack `name`, `table` in its `[table]` section and `extra` (sections
    /// after the user pool), and exports it.
    fn config(&self, name: &str, table: &str, extra: &str) {
        let config = self.work.path().join(format!("{name}.toml"));
        std::fs::write(
            &config,
            format!(
                "stack = \"{name}\"\nregion = \"eu-west-1\"\n[table]\n{table}\n[user_pool]\nid = \"eu-west-1_Abc123\"\nclient_ids = [\"client1\"]\n{extra}"
            ),
        )
        .unwrap();
        self.add(name, &config);
    }
}

/// (check id, resource) pairs.
fn findings(pairs: &[(&str, &str)]) -> Findings {
    pairs.iter().map(|(c, r)| (c.to_string(), r.to_string())).collect()
}

/// CloudFormation and Terraform names of the table, for expected findings.
const CFN_TABLE: &str = "AWS::DynamoDB::Table.Table";
const TF_TABLE: &str = "aws_dynamodb_table.table";

/// Every option of the table, with a customer managed key (the exporters' unit tests read it
/// too).
const CUSTOMER_MANAGED: &str = include_str!("../fixtures/table-options.toml");

const BACKEND_ROLE: &str = "[backend]\nrole = \"api-task\"\nactions = [\"dynamodb:Query\"]\n";

/// Two groups, one isolated per user: their roles, policies and the pool's role mapping.
const GROUPS: &str = "[[groups]]\nname = \"admins\"\nactions = [\"dynamodb:GetItem\", \"dynamodb:Query\", \"dynamodb:Scan\"]\nper_user_isolation = false\n[[groups]]\nname = \"support\"\nactions = [\"dynamodb:GetItem\"]\n";

fn expect(scan: &Scan, name: &str, cfn: &Findings, tf: &Findings) {
    let [yaml, json, terraform] = files(name);
    for (file, want) in [(yaml, cfn), (json, cfn), (terraform, tf)] {
        let got = scan.failed.get(&file).unwrap_or_else(|| {
            panic!("checkov evaluated nothing in {file}: {:?}", scan.failed.keys())
        });
        assert_eq!(got, want, "failed checks of {file}");
    }
}

#[test]
fn customer_managed_exports_have_no_finding_and_the_default_only_ckv_aws_119() {
    let exports = Exports::new();
    // With groups: their roles and policies are as clean as the stack's.
    let with_groups = format!("{BACKEND_ROLE}{GROUPS}");
    exports.config("cmk", &format!("name = \"cmk-profiles\"\n{CUSTOMER_MANAGED}"), &with_groups);
    // The key by alias: the template takes its ARN as a parameter, Terraform looks it up.
    let by_alias = "encryption = \"customer-managed\"\nkms_key = \"alias/profiles\"";
    exports.config("cmk-alias", by_alias, "");
    exports.config("default", "", &with_groups);
    exports.config("aws-managed", "encryption = \"aws-managed\"", "");
    let scan_dir = &exports.scan;
    // The scanner does see problems in these exports: the access policy on every resource.
    let control = scan_dir.join("control");
    std::fs::create_dir_all(control.join("terraform")).unwrap();
    let [yaml, _, tf] = files("cmk");
    let [control_yaml, _, control_tf] = files("control");
    let edit = |from: &str, to: &str, needle: &str, with: &str| {
        let text = std::fs::read_to_string(scan_dir.join(from)).unwrap();
        assert!(text.contains(needle), "{needle} in {from}");
        // The first one: the access policy's (the backend policy's comes after it).
        std::fs::write(scan_dir.join(to), text.replacen(needle, with, 1)).unwrap();
    };
    // (On the table and its indexes: this config has global secondary indexes.)
    edit(
        &yaml,
        &control_yaml,
        "- !GetAtt Table.Arn\n          - !Sub ${Table.Arn}/index/*",
        "- '*'",
    );
    edit(
        &tf,
        &control_tf,
        "aws_dynamodb_table.table.arn,\n          \"${aws_dynamodb_table.table.arn}/index/*\"",
        "\"*\"",
    );

    let scan = checkov(scan_dir);
    let none = Findings::new();
    expect(&scan, "cmk", &none, &none);
    expect(&scan, "cmk-alias", &none, &none);
    for name in ["default", "aws-managed"] {
        expect(
            &scan,
            name,
            &findings(&[("CKV_AWS_119", CFN_TABLE)]),
            &findings(&[("CKV_AWS_119", TF_TABLE)]),
        );
    }
    assert_eq!(scan.skipped, vec![], "the exports carry no skip comment");
    let resources = |file: &str| -> BTreeSet<String> {
        scan.failed[file].iter().map(|(_, r)| r.clone()).collect()
    };
    assert_eq!(
        resources(&control_yaml),
        BTreeSet::from(["AWS::IAM::ManagedPolicy.AccessPolicy".to_string()]),
        "{:?}",
        scan.failed[&control_yaml]
    );
    assert_eq!(
        resources(&control_tf),
        BTreeSet::from(["aws_iam_policy.access".to_string()]),
        "{:?}",
        scan.failed[&control_tf]
    );
}

#[test]
fn every_other_finding_is_one_a_config_choice_asks_for() {
    let exports = Exports::new();
    // Point-in-time recovery off, provisioned capacity without auto scaling, guests allowed, a
    // backend user: each one finding, with the customer managed key taking CKV_AWS_119 away.
    exports.config(
        "choices",
        "name = \"choices\"\nbilling_mode = \"PROVISIONED\"\nread_capacity = 2\nwrite_capacity = 2\npoint_in_time_recovery = false\nencryption = \"customer-managed\"\nkms_key = \"alias/choices\"",
        "[identity_pool]\nallow_unauthenticated = true\n[guest]\nactions = [\"dynamodb:GetItem\"]\n[backend]\nuser = \"orders-svc\"\n",
    );
    let examples = example_configs();
    for config in &examples {
        let name = config.file_stem().unwrap().to_str().unwrap();
        exports.add(name, config);
    }
    let scan = checkov(&exports.scan);
    expect(
        &scan,
        "choices",
        &findings(&[
            ("CKV_AWS_28", CFN_TABLE),
            ("CKV_AWS_366", "AWS::Cognito::IdentityPool.IdentityPool"),
        ]),
        &findings(&[
            ("CKV_AWS_28", TF_TABLE),
            ("CKV2_AWS_16", TF_TABLE),
            ("CKV_AWS_366", "aws_cognito_identity_pool.pool"),
            ("CKV_AWS_40", "aws_iam_user_policy_attachment.backend"),
        ]),
    );
    // The examples: each finding from the choice that asks for it, as in docs/export.md.
    for config in &examples {
        let name = config.file_stem().unwrap().to_str().unwrap();
        let text = std::fs::read_to_string(config).unwrap();
        let toml: toml::Table = text.parse().unwrap();
        let get = |section: &str, key: &str| toml.get(section).and_then(|s| s.get(key)).cloned();
        let is = |section: &str, key: &str, value: toml::Value| get(section, key) == Some(value);
        let mut cfn = Vec::new();
        let mut tf = Vec::new();
        if !is("table", "encryption", "customer-managed".into()) {
            cfn.push(("CKV_AWS_119", CFN_TABLE));
            tf.push(("CKV_AWS_119", TF_TABLE));
        }
        if is("table", "point_in_time_recovery", false.into()) {
            cfn.push(("CKV_AWS_28", CFN_TABLE));
            tf.push(("CKV_AWS_28", TF_TABLE));
        }
        if is("identity_pool", "allow_unauthenticated", true.into()) {
            cfn.push(("CKV_AWS_366", "AWS::Cognito::IdentityPool.IdentityPool"));
            tf.push(("CKV_AWS_366", "aws_cognito_identity_pool.pool"));
        }
        if is("table", "billing_mode", "PROVISIONED".into()) {
            tf.push(("CKV2_AWS_16", TF_TABLE));
        }
        if get("backend", "user").is_some() {
            tf.push(("CKV_AWS_40", "aws_iam_user_policy_attachment.backend"));
        }
        expect(&scan, name, &findings(&cfn), &findings(&tf));
    }
}
