//! Bad input: every config mistake is reported with the field (and line) before any AWS call;
//! a wrong user pool or client id, a missing region or missing credentials are clear sentences.

use crate::harness::*;

/// Writes `config` for a stack and checks that `apply` fails naming `field` with `message`,
/// without a single call reaching the emulator.
fn rejects(name: &str, config: &str, field: &str, message: &str) {
    let s = Stack::new(name, "");
    std::fs::write(s.config_path(), config).unwrap();
    let r = s.run(&["apply"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(r.stderr.contains(field), "expected field {field}:\n{}", r.all());
    assert!(r.stderr.contains(message), "expected {message:?}:\n{}", r.all());
    assert!(r.ops.is_empty(), "AWS calls before validation: {:?}", r.ops);
    // JSON mode reports the same error as a document.
    let r = s.run(&["apply", "-o", "json"]);
    assert_eq!(r.code, 1);
    let j = r.json();
    assert_eq!(j["ok"], false);
    assert!(j["errors"][0].as_str().unwrap().contains(message), "{j}");
}

const POOL: &str = "[user_pool]\nid = \"us-east-1_abc123\"\nclient_ids = [\"client1\"]\n";

fn with(extra: &str) -> String {
    format!("stack = \"bad\"\n{POOL}{extra}")
}

#[test]
fn missing_config_file() {
    let s = Stack::new("bad-missing-file", "");
    std::fs::remove_file(s.config_path()).unwrap();
    let r = s.run(&["status"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("setup.toml: config file not found; run `setup init` to write it"),
        "{}",
        r.all()
    );
    assert!(r.stderr.contains("or pass --config PATH"), "{}", r.all());
    assert!(!r.stderr.contains("examples/"), "the binary alone has no examples/: {}", r.all());
    assert!(r.ops.is_empty());
    // Another file name: init writes that one.
    let r = s.run(&["plan", "--config", "envs/dev.toml"]).exits(1);
    r.stderr_has("run `setup init --config envs/dev.toml` to write it");
}

#[test]
fn malformed_toml_names_the_line() {
    rejects("bad-toml", "stack = \"bad\"\n[user_pool\n", "setup.toml:2", "");
}

#[test]
fn unknown_key_names_the_line() {
    rejects(
        "bad-unknown",
        &with("[table]\nnmae = \"x\"\n"),
        "setup.toml:6",
        "unknown field `nmae`",
    );
}

#[test]
fn missing_stack_and_user_pool() {
    rejects("bad-no-stack", POOL, "stack", "missing");
    rejects("bad-no-pool", "stack = \"bad\"\n", "user_pool", "missing section");
}

#[test]
fn table_name_rules() {
    rejects(
        "bad-table-short",
        &with("[table]\nname = \"ab\"\n"),
        "setup.toml:6: table.name",
        "3-255 characters",
    );
    rejects(
        "bad-table-chars",
        &with("[table]\nname = \"user profiles!\"\n"),
        "table.name",
        "3-255 characters",
    );
    let long = "x".repeat(256);
    rejects(
        "bad-table-long",
        &with(&format!("[table]\nname = \"{long}\"\n")),
        "table.name",
        "3-255",
    );
}

#[test]
fn key_rules() {
    rejects(
        "bad-key-type",
        &with("[table]\npartition_key = { name = \"userId\", type = \"X\" }\n"),
        "table.partition_key.type",
        "not a key type",
    );
    rejects(
        "bad-same-keys",
        &with("[table]\npartition_key = { name = \"userId\", type = \"S\" }\nsort_key = { name = \"userId\", type = \"S\" }\n"),
        "table.sort_key.name",
        "also the partition key",
    );
}

#[test]
fn user_pool_and_region_formats() {
    rejects(
        "bad-pool-id",
        "stack = \"bad\"\n[user_pool]\nid = \"AbCdEf123\"\nclient_ids = [\"c1\"]\n",
        "setup.toml:3: user_pool.id",
        "is not a user pool id",
    );
    rejects(
        "bad-region",
        &format!("stack = \"bad\"\nregion = \"mars-1\"\n{POOL}"),
        "setup.toml:2: region",
        "not an AWS region name",
    );
    rejects(
        "bad-no-clients",
        "stack = \"bad\"\n[user_pool]\nid = \"us-east-1_abc\"\nclient_ids = []\n",
        "user_pool.client_ids",
        "at least one",
    );
}

#[test]
fn iam_name_rules() {
    let long = "r".repeat(65);
    rejects(
        "bad-role-long",
        &with(&format!("[role]\nname = \"{long}\"\n")),
        "role.name",
        "1-64 characters",
    );
    rejects(
        "bad-role-chars",
        &with("[role]\nname = \"my role\"\n"),
        "role.name",
        "1-64 characters",
    );
    let long = "p".repeat(129);
    rejects(
        "bad-policy-long",
        &with(&format!("[policy]\nname = \"{long}\"\n")),
        "policy.name",
        "1-128 characters",
    );
    rejects(
        "bad-pool-name",
        &with("[identity_pool]\nname = \"pool/with/slashes\"\n"),
        "identity_pool.name",
        "1-128 characters",
    );
}

#[test]
fn action_rules() {
    rejects(
        "bad-action-s3",
        &with("[policy]\nactions = [\"s3:GetObject\"]\n"),
        "policy.actions.0",
        "not a DynamoDB action",
    );
    rejects(
        "bad-action-star",
        &with("[policy]\nactions = [\"dynamodb:GetItem\", \"dynamodb:*\"]\n"),
        "policy.actions.1",
        "no wildcards",
    );
}

#[test]
fn capacity_rules() {
    rejects(
        "bad-units",
        &with("[table]\nbilling_mode = \"PROVISIONED\"\nread_capacity = 0\nwrite_capacity = 1\n"),
        "table.read_capacity",
        "at least 1",
    );
    rejects(
        "bad-units-missing",
        &with("[table]\nbilling_mode = \"PROVISIONED\"\nread_capacity = 1\n"),
        "table.write_capacity",
        "required",
    );
    rejects(
        "bad-billing",
        &with("[table]\nbilling_mode = \"FREE\"\n"),
        "table.billing_mode",
        "not a billing mode",
    );
}

#[test]
fn unknown_user_pool_or_client_is_an_error_before_any_write() {
    let s = Stack::new("bad-user-pool", "");
    let cfg = std::fs::read_to_string(s.config_path()).unwrap();
    std::fs::write(s.config_path(), cfg.replace(&s.user_pool_id, "us-east-1_doesnotexist"))
        .unwrap();
    let r = s.run(&["apply"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(r.stderr.contains("user pool us-east-1_doesnotexist does not exist"), "{}", r.all());
    // The command it suggests looks in the user pool's region.
    r.stderr_has("`aws cognito-idp list-user-pools --max-results 60 --region us-east-1`");
    assert_eq!(r.writes(), Vec::<String>::new());

    std::fs::write(s.config_path(), cfg.replace(&s.client_id, "wrongclient123")).unwrap();
    let r = s.run(&["apply"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.stderr.contains("app client wrongclient123 is not a client of user pool"),
        "{}",
        r.all()
    );
    r.stderr_has(&format!(
        "`aws cognito-idp list-user-pool-clients --user-pool-id {} --region us-east-1`",
        s.user_pool_id
    ));
    assert_eq!(r.writes(), Vec::<String>::new());
}

#[test]
fn without_a_region_the_user_pools_is_used_and_said() {
    let s = Stack::new("no-region", "");
    let r = s.run_env(&["plan", "-o", "json"], &[("AWS_REGION", "")]).exits(0);
    assert_eq!(r.json()["region"], REGION);
    assert_eq!(
        r.stderr,
        format!("region: {REGION} (from the user pool id; set `region` or AWS_REGION to choose)\n")
    );
    // Any region set by hand wins, and nothing is said.
    let r = s.run_env(&["plan", "-o", "json", "--region", "eu-west-1"], &[("AWS_REGION", "")]);
    assert_eq!(r.exits(0).json()["region"], "eu-west-1");
    let r = s.run_env(
        &["plan", "-o", "json"],
        &[("AWS_REGION", ""), ("AWS_DEFAULT_REGION", "eu-west-2")],
    );
    assert_eq!(r.json()["region"], "eu-west-2");
    assert!(r.stderr.is_empty(), "{}", r.all());
}

#[test]
fn missing_credentials_are_one_clear_sentence() {
    let s = Stack::new("bad-aws-access", "");

    let r = s.run_env(&["status"], &[("AWS_ACCESS_KEY_ID", ""), ("AWS_SECRET_ACCESS_KEY", "")]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(r.stderr.contains("no AWS credentials were found"), "{}", r.all());
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.all());
}

#[test]
fn an_unreachable_endpoint_is_a_clean_sentence_with_the_detail_under_v() {
    let s = Stack::new("bad-endpoint", "");
    // Nothing listens on port 1: the connection is refused.
    let r = s.run(&["status", "--endpoint-url", "http://127.0.0.1:1"]).exits(1);
    let line = r.stderr.trim_end();
    assert!(
        line.starts_with("error: ")
            && line.contains(": could not reach the AWS endpoint (Connection refused")
            && line.ends_with(
                "check the network, --endpoint-url / AWS_ENDPOINT_URL and the region (-v shows the details)"
            )
            && r.stderr.lines().count() == 1,
        "{}",
        r.all()
    );
    // -v logs the SDK's own account of it.
    let r = s.run(&["status", "--endpoint-url", "http://127.0.0.1:1", "-v"]).exits(1);
    r.stderr_has("DispatchFailure");
}

#[test]
fn region_flag_and_stack_flag_override_the_file() {
    let s = Stack::new("flag-overrides", "");
    let r = s.ok(&["plan", "--stack", "flag-overrides-2", "--region", "us-east-1", "-o", "json"]);
    let j = r.json();
    assert_eq!(j["stack"], "flag-overrides-2");
    assert_eq!(j["region"], "us-east-1");
}

#[test]
fn backend_with_both_a_role_and_a_user() {
    rejects(
        "bad-backend-both",
        &with("[backend]\nrole = \"api\"\nuser = \"svc\"\n"),
        "setup.toml:7: backend.user",
        "set either backend.role or backend.user, not both",
    );
}

#[test]
fn backend_without_a_principal() {
    rejects(
        "bad-backend-none",
        &with("[backend]\nactions = [\"dynamodb:GetItem\"]\n"),
        "backend",
        "needs `role = \"...\"` or `user = \"...\"`",
    );
}

#[test]
fn backend_action_with_a_wildcard() {
    rejects(
        "bad-backend-action",
        &with("[backend]\nrole = \"api\"\nactions = [\"dynamodb:*\"]\n"),
        "backend.actions.0",
        "is not a DynamoDB action",
    );
}

#[test]
fn per_user_isolation_needs_a_string_partition_key() {
    rejects(
        "bad-isolation-key",
        &with("[table]\npartition_key = { name = \"id\", type = \"N\" }\n[policy]\nper_user_isolation = true\n"),
        "policy.per_user_isolation",
        "needs a string partition key",
    );
}

/// AWS's tag rules (issue 9, row 11): the character set, the reserved `aws:` prefix and 50 tags
/// per resource, checked before any call instead of failing halfway through an apply.
#[test]
fn tags_aws_would_refuse_are_rejected_before_any_call() {
    rejects(
        "bad-tag-char",
        &with("[table]\ntags = { \"team#1\" = \"mobile\" }\n"),
        "table.tags",
        "the character '#', which AWS does not allow in tags",
    );
    rejects(
        "bad-tag-reserved",
        &with("[table]\ntags = { \"aws:cost\" = \"1\" }\n"),
        "table.tags",
        "must be 1-128 characters, not start with \"aws:\" (reserved by AWS)",
    );
    let many: Vec<String> = (0..50).map(|i| format!("t{i} = \"v\"")).collect();
    rejects(
        "bad-tag-count",
        &with(&format!("[table]\ntags = {{ {} }}\n", many.join(", "))),
        "table.tags",
        "50 tags given; AWS allows 50 per resource and setup adds \"setup:stack\" and \"setup:region\" (on IAM resources), so at most 48",
    );
}

/// IAM's 6,144-character limit for a managed policy (issue 9, row 10) can no longer be reached
/// from the config: actions must be DynamoDB item actions of IAM's list (issue 22, item 3), so
/// the 260 invented names that once made the policy too large are refused, before any call,
/// naming the first. (The size check itself stays, unit-tested in src/steps/policy/tests.rs.)
#[test]
fn invented_action_names_are_refused_before_any_call() {
    let actions: Vec<String> =
        (0..260).map(|i| format!("\"dynamodb:SomeVeryLongActionNameNumber{i:04}\"")).collect();
    let s =
        Stack::new("bad-policy-size", &format!("[policy]\nactions = [{}]\n", actions.join(", ")));
    for cmd in ["plan", "apply"] {
        let r = s.run(&[cmd]);
        assert_eq!(r.code, 1, "{}", r.all());
        r.stderr_has("policy.actions.0: \"dynamodb:SomeVeryLongActionNameNumber0000\" is not a DynamoDB action: IAM's list of DynamoDB actions (Service Authorization Reference, 2026-09-26) has no such name");
        assert!(r.ops.is_empty(), "refused before any AWS call: {:?}", r.ops);
    }
}

/// `table.tags` is the old name of the top-level `tags` (they go on every resource): still
/// applied, with one warning on stderr that names the file and line; the new key gets none, and
/// both at once is an error before any call.
#[test]
fn table_tags_still_work_with_one_warning_that_names_the_line() {
    let s = Stack::new("deprecated-tags", "");
    let old = format!(
        "{}\n[table]\nname = \"{}\"\ntags = {{ team = \"mobile\" }}\n",
        s.base_config(),
        s.table()
    );
    std::fs::write(s.config_path(), &old).unwrap();
    let line = old.lines().position(|l| l.starts_with("tags")).unwrap() + 1;
    let expected = format!(
        "warning: setup.toml:{line}: table.tags: deprecated: these tags go on every resource, not only the table; move them to the top-level `tags`"
    );
    for args in [&["plan"][..], &["plan", "-o", "json"]] {
        let r = s.run(args);
        assert_eq!(r.code, 0, "{}", r.all());
        let warnings: Vec<&str> = r.stderr.lines().filter(|l| l.starts_with("warning:")).collect();
        assert_eq!(warnings.len(), 1, "{}", r.all());
        assert!(warnings[0].starts_with(&expected), "{}", r.all());
        assert!(!r.stdout.contains("warning"), "{}", r.all());
    }
    let plan = s.run(&["plan", "-o", "json"]).json();
    let current = format!(
        "{}\n[tags]\nteam = \"mobile\"\n\n[table]\nname = \"{}\"\n",
        s.base_config(),
        s.table()
    );
    std::fs::write(s.config_path(), &current).unwrap();
    let r = s.run(&["plan", "-o", "json"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(!r.stderr.contains("warning"), "{}", r.all());
    // The same desired state, tags included.
    assert_eq!(r.json()["steps"], plan["steps"]);

    rejects(
        "bad-tags-twice",
        &format!(
            "stack = \"bad\"\ntags = {{ a = \"1\" }}\n{POOL}[table]\ntags = {{ b = \"2\" }}\n"
        ),
        "setup.toml:7: table.tags",
        "is the old name of the top-level `tags`; keep one",
    );
}
