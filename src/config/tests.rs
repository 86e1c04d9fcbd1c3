//! The loader's tests: what a config becomes, and which field and line each mistake names.
//! The per-field rules have their own table-driven tests in `fields.rs`.

use super::*;

fn parse_str(text: &str) -> Result<Desired, ConfigError> {
    parse(text, Path::new("setup.toml"), &Overrides::default())
}

const MINIMAL: &str =
    "stack = \"demo\"\n[user_pool]\nid = \"us-east-1_abc123\"\nclient_ids = [\"client1\"]\n";

/// Each case, `(extra config after MINIMAL's 4 lines, field, line, start of the message)`, is
/// refused naming that field and line.
fn assert_each_names_field_and_line<E: AsRef<str>>(cases: &[(E, &str, usize, &str)]) {
    for (extra, field, line, says) in cases {
        let extra = extra.as_ref();
        let e = parse_str(&format!("{MINIMAL}{extra}")).unwrap_err();
        assert_eq!((e.field.as_deref(), e.line), (Some(*field), Some(*line)), "{extra}: {e}");
        assert!(e.message.starts_with(says), "{extra}: {e}");
    }
}

#[test]
fn minimal_config_gets_user_profiles_defaults() {
    let d = parse_str(MINIMAL).unwrap();
    assert_eq!(d.table.name, "user-profiles");
    assert_eq!(d.table.partition_key.name, "userId");
    assert_eq!(d.table.sort_key.as_ref().unwrap().name, "createdAt");
    assert_eq!(d.table.billing, Billing::OnDemand);
    assert!(d.table.point_in_time_recovery && d.table.deletion_protection);
    assert_eq!(d.identity_pool_name, "demo_identities");
    assert_eq!(d.role_name, "demo-cognito-authenticated");
    assert_eq!(d.policy_name, "demo-table-access");
    assert_eq!(d.actions, DEFAULT_ACTIONS);
    assert!(!d.allow_unauthenticated);
    assert_eq!(d.tags.get(STACK_TAG).map(String::as_str), Some("demo"));
    assert_eq!(d.user_pool.provider_name(), "cognito-idp.us-east-1.amazonaws.com/us-east-1_abc123");
}

#[test]
fn backend_section_defaults_and_checks() {
    let d = parse_str(&format!("{MINIMAL}[backend]\nrole = \"api\"\n")).unwrap();
    let b = d.backend.clone().unwrap();
    assert_eq!(b.principal, Principal::Role("api".into()));
    assert_eq!(
        b.principal.arn(&Account::from_caller(
            "123456789012",
            Some("arn:aws:sts::123456789012:assumed-role/x/y")
        )),
        "arn:aws:iam::123456789012:role/api"
    );
    assert_eq!(b.policy_name, "demo-backend-access");
    assert_eq!(b.actions, DEFAULT_BACKEND_ACTIONS);
    assert!(!d.per_user_isolation());

    let d = parse_str(&format!(
        "{MINIMAL}[backend]\nuser = \"svc\"\npolicy_name = \"p\"\nactions = [\"dynamodb:GetItem\"]\n"
    ))
    .unwrap();
    let b = d.backend.clone().unwrap();
    let gov = Account::from_caller("1", Some("arn:aws-us-gov:iam::1:user/me"));
    assert_eq!(b.principal.arn(&gov), "arn:aws-us-gov:iam::1:user/svc");
    assert_eq!(
        d.table_arn("us-gov-west-1", &gov),
        "arn:aws-us-gov:dynamodb:us-gov-west-1:1:table/user-profiles"
    );
    assert_eq!(b.actions, ["dynamodb:GetItem"]);

    for (extra, field) in [
        ("[backend]\nrole = \"a\"\nuser = \"b\"\n", "backend.user"),
        ("[backend]\npolicy_name = \"x\"\n", "backend"),
        ("[backend]\nrole = \"a b\"\n", "backend.role"),
        ("[backend]\nrole = \"demo-cognito-authenticated\"\n", "backend.role"),
        ("[backend]\nrole = \"a\"\npolicy_name = \"demo-table-access\"\n", "backend.policy_name"),
        ("[backend]\nrole = \"a\"\nactions = [\"dynamodb:*\"]\n", "backend.actions.0"),
        ("[backend]\nrole = \"a\"\nactions = []\n", "backend.actions"),
    ] {
        let e = parse_str(&format!("{MINIMAL}{extra}")).unwrap_err();
        assert_eq!(e.field.as_deref(), Some(field), "{extra}: {e}");
        assert!(e.line.is_some(), "{e}");
    }
}

#[test]
fn per_user_isolation_is_read_from_the_policy_section() {
    let d = parse_str(&format!("{MINIMAL}[policy]\nper_user_isolation = true\n")).unwrap();
    assert!(d.per_user_isolation());
    let e = parse_str(&format!(
        "{MINIMAL}[table]\npartition_key = {{ name = \"n\", type = \"N\" }}\n[policy]\nper_user_isolation = true\n"
    ))
    .unwrap_err();
    assert_eq!(e.field.as_deref(), Some("policy.per_user_isolation"), "{e}");
}

/// `isolation_key`: the user pool sub by default (the key a backend writes), the identity id on
/// request, refused without isolation; guests stay keyed by their identity id.
#[test]
fn the_isolation_key_defaults_to_the_user_pool_sub() {
    use crate::config::Isolation;
    let with = |policy: &str| parse_str(&format!("{MINIMAL}[policy]\n{policy}"));
    let on = "per_user_isolation = true\n";
    for (policy, want) in [
        (on.to_string(), Isolation::UserPoolSub),
        (format!("{on}isolation_key = \"user-pool-sub\"\n"), Isolation::UserPoolSub),
        (format!("{on}isolation_key = \"identity-id\"\n"), Isolation::IdentityId),
    ] {
        let d = with(&policy).unwrap();
        assert_eq!(d.isolation, Some(want), "{policy}");
        assert_eq!(d.tags_sessions(), want == Isolation::UserPoolSub, "{policy}");
        assert_eq!(d.guest_isolation(), Some(Isolation::IdentityId), "{policy}");
    }
    let d = with(on).unwrap();
    assert_eq!(
        d.principal_tags(),
        Some([("sub".to_string(), "sub".to_string())].into_iter().collect())
    );
    assert_eq!(with("").unwrap().principal_tags(), None);
    for off in ["", "per_user_isolation = false\n"] {
        let e = with(&format!("{off}isolation_key = \"identity-id\"\n")).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("policy.isolation_key"), "{e}");
        assert_eq!(
            e.message,
            "applies only with per_user_isolation = true: set per_user_isolation = true, or remove isolation_key"
        );
        assert!(e.line.is_some(), "{e}");
    }
    let e = with(&format!("{on}isolation_key = \"sub\"\n")).unwrap_err();
    assert!(e.message.starts_with("\"sub\" is not an isolation key; use \"user-pool-sub\""), "{e}");
}

#[test]
fn per_user_isolation_refuses_actions_without_a_partition_key() {
    let with = |actions: &str| {
        parse_str(&format!(
            "{MINIMAL}[policy]\nper_user_isolation = true\nactions = [\n  \"dynamodb:GetItem\",\n  {actions}\n]\n"
        ))
    };
    for action in
        ["dynamodb:Scan", "dynamodb:scan", "dynamodb:PartiQLSelect", "dynamodb:PartiQLUpdate"]
    {
        let e = with(&format!("\"{action}\"")).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("policy.actions.1"), "{e}");
        assert!(e.message.starts_with(action), "{e}");
        assert_eq!(e.line, Some(MINIMAL.lines().count() + 5), "{e}");
    }
    // Actions on the table itself are refused with or without isolation (issue 22, item 3).
    for action in
        ["dynamodb:ExportTableToPointInTime", "dynamodb:GetRecords", "dynamodb:DescribeTable"]
    {
        let e = with(&format!("\"{action}\"")).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("policy.actions.1"), "{e}");
        assert!(e.message.starts_with(&format!("\"{action}\" acts on the table itself")), "{e}");
    }
    let ok = with("\"dynamodb:Query\", \"dynamodb:BatchWriteItem\"").unwrap();
    assert_eq!(ok.actions.len(), 3);
    // Without isolation, Scan is an ordinary grant.
    let shared = parse_str(&format!("{MINIMAL}[policy]\nactions = [\"dynamodb:Scan\"]\n")).unwrap();
    assert_eq!(shared.actions, ["dynamodb:Scan"]);
}

/// An example's file name says whether it gives a backend access: "backend" in the name, and
/// only then, a `[backend]` section.
#[test]
fn example_names_say_whether_they_have_a_backend() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(&path).unwrap();
        let d =
            parse(&text, Path::new(&name), &Overrides::default()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            name.contains("backend"),
            d.backend.is_some(),
            "examples/{name}: a [backend] section exactly when the name says backend"
        );
        seen += 1;
    }
    assert!(seen >= 4, "examples/ has {seen} configs");
}

#[test]
fn example_configs_are_valid() {
    for (name, text) in [
        ("direct-client.toml", include_str!("../../examples/direct-client.toml")),
        ("user-profiles.toml", include_str!("../../examples/user-profiles.toml")),
        (
            "user-profiles-with-backend.toml",
            include_str!("../../examples/user-profiles-with-backend.toml"),
        ),
    ] {
        let d =
            parse(text, Path::new(name), &Overrides::default()).unwrap_or_else(|e| panic!("{e}"));
        if name == "user-profiles-with-backend.toml" {
            let b = d.backend.expect("a [backend] section");
            assert_eq!(b.principal, Principal::Role("profiles-api-task".into()));
            assert_eq!(b.actions, DEFAULT_BACKEND_ACTIONS);
            assert_eq!(d.table.sort_key.unwrap().name, "createdAt");
        }
    }
}

#[test]
fn overrides_win() {
    let o = Overrides { stack: Some("other".into()), region: Some("eu-west-1".into()) };
    let d = parse(MINIMAL, Path::new("x"), &o).unwrap();
    assert_eq!(d.stack, "other");
    assert_eq!(d.region.as_deref(), Some("eu-west-1"));
}

#[test]
fn errors_name_field_and_line() {
    let text = format!("{MINIMAL}[table]\nname = \"ab\"\n");
    let e = parse_str(&text).unwrap_err();
    assert_eq!(e.field.as_deref(), Some("table.name"));
    assert_eq!(e.line, Some(6));
    assert!(e.to_string().starts_with("setup.toml:6: table.name:"), "{e}");
}

#[test]
fn unknown_key_is_reported_with_line() {
    let e = parse_str(&format!("{MINIMAL}[table]\nnmae = \"x\"\n")).unwrap_err();
    assert!(e.message.contains("unknown field `nmae`"), "{e}");
    assert_eq!(e.line, Some(6));
}

#[test]
fn regions() {
    for ok in ["us-east-1", "ap-south-1", "us-gov-west-1", "eu-central-2", "ap-southeast-4"] {
        assert!(is_region(ok), "{ok}");
    }
    for bad in ["useast1", "us-east", "US-EAST-1", "us-east-1a", "", "u-east-1"] {
        assert!(!is_region(bad), "{bad}");
    }
}

/// `tags` (top level) is the key; `table.tags`, its old name, still works with a warning that
/// names its line, and both at once is an error.
#[test]
fn tags_are_top_level_and_table_tags_is_a_deprecated_alias() {
    let parsed =
        |text: &str| parse_with_warnings(text, Path::new("setup.toml"), &Overrides::default());
    let top = parsed(&format!("{MINIMAL}[tags]\nteam = \"mobile\"\n")).unwrap();
    assert_eq!(top.warnings, []);
    assert_eq!(top.desired.tags.get("team").map(String::as_str), Some("mobile"));
    assert_eq!(top.desired.tags.get(STACK_TAG).map(String::as_str), Some("demo"));
    let inline = parsed(&format!("tags = {{ team = \"mobile\" }}\n{MINIMAL}")).unwrap();
    assert_eq!(inline.desired.tags, top.desired.tags);
    // The examples use the current key.
    for example in ["direct-client", "user-profiles", "user-profiles-with-backend"] {
        let path = format!("{}/examples/{example}.toml", env!("CARGO_MANIFEST_DIR"));
        let p = parsed(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(p.warnings, [], "{path}");
        assert!(p.desired.tags.len() > 1, "{path}");
    }

    let old =
        parsed(&format!("{MINIMAL}[table]\nname = \"t-1\"\n\n[table.tags]\nteam = \"mobile\"\n"))
            .unwrap();
    assert_eq!(old.desired.tags, top.desired.tags);
    assert_eq!(old.warnings.len(), 1);
    let w = &old.warnings[0];
    assert_eq!(w.0.field.as_deref(), Some("table.tags"));
    assert_eq!(w.0.line, Some(8));
    assert!(
        w.to_string()
            .starts_with("setup.toml:8: table.tags: deprecated: these tags go on every resource"),
        "{w}"
    );
    assert!(w.0.message.contains("move them to the top-level `tags`"), "{w}");

    let both =
        parsed(&format!("tags = {{ a = \"1\" }}\n{MINIMAL}[table]\ntags = {{ b = \"2\" }}\n"))
            .unwrap_err();
    assert_eq!(both.field.as_deref(), Some("table.tags"));
    assert_eq!(both.line, Some(7));
    assert!(both.message.starts_with("is the old name of the top-level `tags`"), "{both}");

    // The top-level key has the same rules, named by its own path.
    for (tags, field, says) in [
        ("{ \"aws:x\" = \"v\" }", "tags", "tag key \"aws:x\" must be 1-128 characters"),
        ("{ k = \"v;\" }", "tags.k", "the value has the character ';'"),
        ("{ k = 1 }", "tags.k", "invalid type: integer `1`, expected a string"),
    ] {
        let e = parsed(&format!("tags = {tags}\n{MINIMAL}")).unwrap_err();
        assert_eq!((e.field.as_deref(), e.line), (Some(field), Some(1)), "{tags}: {e}");
        assert!(e.message.starts_with(says), "{tags}: {e}");
    }
}

/// Where a value or a rule involving several fields is wrong: the field's path and line.
#[test]
fn every_error_names_its_field_and_line() {
    // (extra config after MINIMAL's 4 lines, field, line, start of the message)
    let cases = [
        (
            "[table]\nread_capacity = \"x\"\n",
            "table.read_capacity",
            6,
            "invalid type: string \"x\", expected i64",
        ),
        (
            "[table]\nbilling_mode = \"FREE\"\n",
            "table.billing_mode",
            6,
            "\"FREE\" is not a billing mode",
        ),
        (
            "[table]\nname = \"t-1\"\nbilling_mode = \"PROVISIONED\"\nread_capacity = 1\n",
            "table.write_capacity",
            5,
            "required with billing_mode = \"PROVISIONED\"",
        ),
        (
            "[table]\nbilling_mode = \"PROVISIONED\"\nread_capacity = 1\nwrite_capacity = 0\n",
            "table.write_capacity",
            8,
            "0 is too small",
        ),
        (
            "[table]\nwrite_capacity = 3\n",
            "table.write_capacity",
            6,
            "only applies with billing_mode = \"PROVISIONED\"",
        ),
        (
            "[table.sort_key]\nname = \"userId\"\ntype = \"S\"\n",
            "table.sort_key.name",
            6,
            "\"userId\" is also the partition key",
        ),
        (
            "[table.partition_key]\nname = \"id\"\n",
            "table.partition_key",
            5,
            "missing field `type`",
        ),
        ("[table]\nnmae = 1\n", "table", 6, "unknown field `nmae`, expected one of `name`"),
        (
            "[policy]\nactions = [\n  \"dynamodb:GetItem\",\n  \"dynamodb:*\",\n]\n",
            "policy.actions.1",
            8,
            "\"dynamodb:*\" is not a DynamoDB action",
        ),
        (
            "[backend]\nrole = \"api\"\nactions = [\n  \"s3:GetObject\",\n]\n",
            "backend.actions.0",
            8,
            "\"s3:GetObject\" is not a DynamoDB action",
        ),
        (
            "[policy]\nname = \"demo-backend-access\"\n\n[backend]\nrole = \"api\"\n",
            "backend.policy_name",
            8,
            "\"demo-backend-access\" is already the name",
        ),
        (
            "[role]\nname = \"api\"\n[backend]\nrole = \"api\"\n",
            "backend.role",
            8,
            "\"api\" is the role of the identity pool's signed-in users",
        ),
    ];
    assert_each_names_field_and_line(&cases);
    let clients = "stack = \"demo\"\n[user_pool]\nid = \"us-east-1_abc123\"\nclient_ids = [\n  \"ok\",\n  \"not_ok\",\n]\n";
    let e = parse_str(clients).unwrap_err();
    assert_eq!((e.field.as_deref(), e.line), (Some("user_pool.client_ids.1"), Some(6)), "{e}");
    // A command-line value has neither file nor line.
    let o = Overrides { stack: None, region: Some("mars".into()) };
    let e = parse(MINIMAL, Path::new("setup.toml"), &o).unwrap_err();
    assert_eq!(
        e.to_string(),
        "--region: \"mars\" is not an AWS region name (like \"us-east-1\" or \"ap-south-1\")"
    );
    // A file value the command line replaces is not checked.
    let o = Overrides { stack: Some("fine".into()), region: Some("eu-west-1".into()) };
    let d = parse(
        &format!("region = \"mars\"\n{}", MINIMAL.replace("\"demo\"", "\"a b\"")),
        Path::new("x"),
        &o,
    )
    .unwrap();
    assert_eq!((d.stack.as_str(), d.region.as_deref()), ("fine", Some("eu-west-1")));
}

mod table_options;

/// `[backend]` grants item actions, and reads of the table's settings only behind
/// `allow_table_reads`; never an action on the table itself (issue 22, item 3).
#[test]
fn a_backend_reads_table_settings_only_when_allowed() {
    let with = |extra: &str| {
        parse_str(&format!(
            "{MINIMAL}[backend]\nrole = \"api\"\n{extra}actions = [\"dynamodb:GetItem\", \"dynamodb:DescribeTable\"]\n"
        ))
    };
    let e = with("").unwrap_err();
    assert_eq!(e.field.as_deref(), Some("backend.actions.1"), "{e}");
    assert_eq!(
        e.message,
        "\"dynamodb:DescribeTable\" reads the table's settings, not its items: set backend.allow_table_reads = true to grant it to the backend"
    );
    let d = with("allow_table_reads = true\n").unwrap();
    assert_eq!(d.backend.unwrap().actions, ["dynamodb:GetItem", "dynamodb:DescribeTable"]);
    let e = parse_str(&format!(
        "{MINIMAL}[backend]\nrole = \"api\"\nallow_table_reads = true\nactions = [\"dynamodb:UpdateTable\"]\n"
    ))
    .unwrap_err();
    assert!(e.message.starts_with("\"dynamodb:UpdateTable\" acts on the table itself"), "{e}");
    let e = parse_str(&format!("{MINIMAL}[policy]\nactions = [\"dynamodb:DescribeTable\"]\n"))
        .unwrap_err();
    assert!(e.message.starts_with("\"dynamodb:DescribeTable\" acts on the table itself"), "{e}");
    assert!(!e.message.contains("allow_table_reads"), "only a backend may: {e}");
}

#[test]
fn the_permissions_boundary_is_read_from_the_top_level() {
    let account = crate::aws::Account { id: "123456789012".into(), partition: "aws".into() };
    assert_eq!(parse_str(MINIMAL).unwrap().boundary_arn(&account), None);
    let d = parse_str(&format!("permissions_boundary = \"demo-boundary\"\n{MINIMAL}")).unwrap();
    assert_eq!(
        d.boundary_arn(&account).as_deref(),
        Some("arn:aws:iam::123456789012:policy/demo-boundary")
    );
    let e = parse_str(&format!("permissions_boundary = \"arn:aws:iam::1:role/r\"\n{MINIMAL}"))
        .unwrap_err();
    assert_eq!((e.field.as_deref(), e.line), (Some("permissions_boundary"), Some(1)), "{e}");
    assert!(e.message.starts_with("\"arn:aws:iam::1:role/r\" is not an IAM policy ARN"), "{e}");
}
