//! The loader's tests: what a config becomes, and which field and line each mistake names.
//! The per-field rules have their own table-driven tests in `fields.rs`.

use super::*;

fn parse_str(text: &str) -> Result<Desired, ConfigError> {
    parse(text, Path::new("setup.toml"), &Overrides::default())
}

const MINIMAL: &str =
    "stack = \"demo\"\n[user_pool]\nid = \"us-east-1_abc123\"\nclient_ids = [\"client1\"]\n";

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
    let b = d.backend.unwrap();
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
    assert!(!d.per_user_isolation);

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
    assert!(d.per_user_isolation);
    let e = parse_str(&format!(
        "{MINIMAL}[table]\npartition_key = {{ name = \"n\", type = \"N\" }}\n[policy]\nper_user_isolation = true\n"
    ))
    .unwrap_err();
    assert_eq!(e.field.as_deref(), Some("policy.per_user_isolation"), "{e}");
}

#[test]
fn per_user_isolation_refuses_actions_without_a_partition_key() {
    let with = |actions: &str| {
        parse_str(&format!(
            "{MINIMAL}[policy]\nper_user_isolation = true\nactions = [\n  \"dynamodb:GetItem\",\n  {actions}\n]\n"
        ))
    };
    for action in [
        "dynamodb:Scan",
        "dynamodb:scan",
        "dynamodb:PartiQLSelect",
        "dynamodb:ExportTableToPointInTime",
        "dynamodb:GetRecords",
        "dynamodb:DescribeTable",
    ] {
        let e = with(&format!("\"{action}\"")).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("policy.actions.1"), "{e}");
        assert!(e.message.starts_with(action), "{e}");
        assert_eq!(e.line, Some(MINIMAL.lines().count() + 5), "{e}");
    }
    let ok = with("\"dynamodb:Query\", \"dynamodb:BatchWriteItem\"").unwrap();
    assert_eq!(ok.actions.len(), 3);
    // Without isolation, Scan is an ordinary grant.
    let shared = parse_str(&format!("{MINIMAL}[policy]\nactions = [\"dynamodb:Scan\"]\n")).unwrap();
    assert_eq!(shared.actions, ["dynamodb:Scan"]);
}

#[test]
fn example_configs_are_valid() {
    for (name, text) in [
        ("direct-client.toml", include_str!("../../examples/direct-client.toml")),
        ("user-profiles-backend.toml", include_str!("../../examples/user-profiles-backend.toml")),
        ("backend-user-profiles.toml", include_str!("../../examples/backend-user-profiles.toml")),
    ] {
        let d =
            parse(text, Path::new(name), &Overrides::default()).unwrap_or_else(|e| panic!("{e}"));
        if name == "backend-user-profiles.toml" {
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
    for example in ["direct-client", "user-profiles-backend", "backend-user-profiles"] {
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
    for (extra, field, line, says) in cases {
        let e = parse_str(&format!("{MINIMAL}{extra}")).unwrap_err();
        assert_eq!((e.field.as_deref(), e.line), (Some(field), Some(line)), "{extra}: {e}");
        assert!(e.message.starts_with(says), "{extra}: {e}");
    }
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

/// The table options: defaults, every key read, and attribute definitions from the keys in use.
#[test]
fn table_options_are_read() {
    let d = parse_str(MINIMAL).unwrap();
    assert_eq!(d.table.encryption, Encryption::AwsOwned);
    assert_eq!(d.table.ttl_attribute, None);
    assert_eq!(d.table.table_class, TableClass::Standard);
    assert_eq!(d.table.global_secondary_indexes, []);

    let d = parse_str(&format!(
        r#"{MINIMAL}[table]
encryption = "customer-managed"
kms_key = "alias/profiles"
ttl_attribute = "expiresAt"
table_class = "STANDARD_INFREQUENT_ACCESS"
billing_mode = "PROVISIONED"
read_capacity = 5
write_capacity = 5

[[table.global_secondary_indexes]]
name = "byEmail"
partition_key = {{ name = "email", type = "S" }}
sort_key = {{ name = "createdAt", type = "S" }}
projection = "ALL"
read_capacity = 2
write_capacity = 1

[[table.global_secondary_indexes]]
name = "byAge"
partition_key = {{ name = "age", type = "N" }}
projection = {{ include = ["displayName", "email"] }}
read_capacity = 1
write_capacity = 3

[[table.global_secondary_indexes]]
name = "byTeam"
partition_key = {{ name = "team", type = "S" }}
projection = "KEYS_ONLY"
read_capacity = 1
write_capacity = 1
"#
    ))
    .unwrap();
    let t = &d.table;
    assert_eq!(t.encryption, Encryption::CustomerManaged("alias/profiles".into()));
    assert_eq!(t.encryption.kms_key(), Some("alias/profiles"));
    assert_eq!(t.ttl_attribute.as_deref(), Some("expiresAt"));
    assert_eq!(t.table_class, TableClass::StandardInfrequentAccess);
    let key = |name: &str, kind| KeyAttr { name: name.into(), kind };
    assert_eq!(
        t.global_secondary_indexes,
        [
            Gsi {
                name: "byEmail".into(),
                partition_key: key("email", KeyType::S),
                sort_key: Some(key("createdAt", KeyType::S)),
                projection: Projection::All,
                capacity: Some((2, 1)),
            },
            Gsi {
                name: "byAge".into(),
                partition_key: key("age", KeyType::N),
                sort_key: None,
                projection: Projection::Include(vec!["displayName".into(), "email".into()]),
                capacity: Some((1, 3)),
            },
            Gsi {
                name: "byTeam".into(),
                partition_key: key("team", KeyType::S),
                sort_key: None,
                projection: Projection::KeysOnly,
                capacity: Some((1, 1)),
            },
        ]
    );
    // Each key attribute once, the table's first: createdAt is a key of the table and of byEmail.
    assert_eq!(
        t.attribute_definitions(),
        [
            key("userId", KeyType::S),
            key("createdAt", KeyType::S),
            key("email", KeyType::S),
            key("age", KeyType::N),
            key("team", KeyType::S),
        ]
    );

    // On demand, an index has no capacity; projection defaults to ALL; aws-managed needs no key.
    let d = parse_str(&format!(
        "{MINIMAL}[table]\nencryption = \"aws-managed\"\n[[table.global_secondary_indexes]]\nname = \"byEmail\"\npartition_key = {{ name = \"email\", type = \"S\" }}\n"
    ))
    .unwrap();
    assert_eq!(d.table.encryption, Encryption::AwsManaged);
    let g = &d.table.global_secondary_indexes[0];
    assert_eq!((&g.projection, g.capacity), (&Projection::All, None));
    for key in [
        "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "arn:aws:kms:us-east-1:123456789012:key/mrk-1234abcd12ab34cd56ef1234567890ab",
        "arn:aws-us-gov:kms:us-gov-west-1:123456789012:alias/my/key_1",
        "alias/profiles-key",
    ] {
        let d = parse_str(&format!(
            "{MINIMAL}[table]\nencryption = \"customer-managed\"\nkms_key = \"{key}\"\n"
        ))
        .unwrap_or_else(|e| panic!("{key}: {e}"));
        assert_eq!(d.table.encryption.kms_key(), Some(key));
    }
}

/// Every mistake in the table options names its field and line, before any AWS call.
#[test]
fn table_option_errors_name_field_and_line() {
    let index = |body: &str| {
        format!("[[table.global_secondary_indexes]]\nname = \"byEmail\"\npartition_key = {{ name = \"email\", type = \"S\" }}\n{body}")
    };
    // (extra config after MINIMAL's 4 lines, field, line, start of the message)
    let cases = [
        (
            "[table]\nencryption = \"kms\"\n".to_string(),
            "table.encryption",
            6,
            "\"kms\" is not an encryption setting; use \"aws-owned\" (the default), \"aws-managed\" or \"customer-managed\" (with kms_key)",
        ),
        (
            "[table]\nencryption = \"customer-managed\"\n".into(),
            "table.encryption",
            6,
            "\"customer-managed\" needs table.kms_key: the key ARN, alias ARN or \"alias/<name>\"",
        ),
        (
            "[table]\nencryption = \"aws-managed\"\nkms_key = \"alias/k\"\n".into(),
            "table.kms_key",
            7,
            "only applies with encryption = \"customer-managed\"",
        ),
        (
            "[table]\nkms_key = \"alias/k\"\n".into(),
            "table.kms_key",
            6,
            "only applies with encryption = \"customer-managed\"",
        ),
        (
            "[table]\nencryption = \"customer-managed\"\nkms_key = \"1234abcd-12ab-34cd-56ef-1234567890ab\"\n".into(),
            "table.kms_key",
            7,
            "\"1234abcd-12ab-34cd-56ef-1234567890ab\" is not a KMS key; write the key ARN",
        ),
        (
            "[table]\nencryption = \"customer-managed\"\nkms_key = \"arn:aws:kms:us-east-1:12345:key/abc\"\n".into(),
            "table.kms_key",
            7,
            "\"arn:aws:kms:us-east-1:12345:key/abc\" is not a KMS key",
        ),
        (
            "[table]\nencryption = \"customer-managed\"\nkms_key = \"arn:aws:s3:us-east-1:123456789012:key/abc\"\n".into(),
            "table.kms_key",
            7,
            "\"arn:aws:s3:us-east-1:123456789012:key/abc\" is not a KMS key",
        ),
        (
            "[table]\nencryption = \"customer-managed\"\nkms_key = \"alias/aws/dynamodb\"\n".into(),
            "table.kms_key",
            7,
            "\"alias/aws/dynamodb\" is a key AWS manages, not a customer managed key; for the AWS managed DynamoDB key write encryption = \"aws-managed\"",
        ),
        (
            "[table]\nttl_attribute = \"\"\n".into(),
            "table.ttl_attribute",
            6,
            "must be 1-255 characters",
        ),
        (
            "[table]\ntable_class = \"GLACIER\"\n".into(),
            "table.table_class",
            6,
            "\"GLACIER\" is not a table class; use \"STANDARD\" or \"STANDARD_INFREQUENT_ACCESS\"",
        ),
        (
            index("projection = \"INCLUDE\"\n"),
            "table.global_secondary_indexes.0.projection",
            8,
            "write an INCLUDE projection as { include = [\"attribute\", ...] }",
        ),
        (
            index("projection = \"all\"\n"),
            "table.global_secondary_indexes.0.projection",
            8,
            "\"all\" is not a projection; use \"ALL\", \"KEYS_ONLY\" or { include = [\"attribute\", ...] }",
        ),
        (
            index("projection = { include = [] }\n"),
            "table.global_secondary_indexes.0.projection",
            8,
            "include needs at least one attribute; for the keys alone write projection = \"KEYS_ONLY\"",
        ),
        (
            index("projection = { exclude = [\"a\"] }\n"),
            "table.global_secondary_indexes.0.projection",
            8,
            "unknown field `exclude`, expected `include`",
        ),
        (
            index("projection = { include = [\n  \"displayName\",\n  \"email\",\n] }\n"),
            "table.global_secondary_indexes.0.projection.include.1",
            10,
            "\"email\" is a key attribute, and keys are always projected",
        ),
        (
            index("projection = { include = [\"a\", \"userId\"] }\n"),
            "table.global_secondary_indexes.0.projection.include.1",
            8,
            "\"userId\" is a key attribute",
        ),
        (
            index("projection = { include = [\"a\", \"a\"] }\n"),
            "table.global_secondary_indexes.0.projection.include.1",
            8,
            "\"a\" is listed twice",
        ),
        (
            index("read_capacity = 1\n"),
            "table.global_secondary_indexes.0.read_capacity",
            8,
            "only applies with billing_mode = \"PROVISIONED\"",
        ),
        (
            format!("[table]\nbilling_mode = \"PROVISIONED\"\nread_capacity = 1\nwrite_capacity = 1\n{}", index("read_capacity = 1\n")),
            "table.global_secondary_indexes.0.write_capacity",
            9,
            "required with billing_mode = \"PROVISIONED\" (capacity units, at least 1)",
        ),
        (
            format!("[table]\nbilling_mode = \"PROVISIONED\"\nread_capacity = 1\nwrite_capacity = 1\n{}", index("read_capacity = 0\nwrite_capacity = 1\n")),
            "table.global_secondary_indexes.0.read_capacity",
            12,
            "0 is too small",
        ),
        (
            index("sort_key = { name = \"email\", type = \"S\" }\n"),
            "table.global_secondary_indexes.0.sort_key.name",
            8,
            "\"email\" is also the index's partition key",
        ),
        (
            format!("{}{}", index(""), index("")),
            "table.global_secondary_indexes.1.name",
            9,
            "\"byEmail\" is also the name of index 0; index names must be unique",
        ),
        (
            "[[table.global_secondary_indexes]]\nname = \"byUser\"\npartition_key = { name = \"userId\", type = \"N\" }\n".into(),
            "table.global_secondary_indexes.0.partition_key",
            7,
            "\"userId\" has type N here but S in table.partition_key; an attribute has one type wherever it is a key",
        ),
        (
            format!("{}[[table.global_secondary_indexes]]\nname = \"other\"\npartition_key = {{ name = \"x\", type = \"S\" }}\nsort_key = {{ name = \"email\", type = \"B\" }}\n", index("")),
            "table.global_secondary_indexes.1.sort_key",
            11,
            "\"email\" has type B here but S in table.global_secondary_indexes.0.partition_key",
        ),
        (
            "[[table.global_secondary_indexes]]\nname = \"ab\"\npartition_key = { name = \"email\", type = \"S\" }\n".into(),
            "table.global_secondary_indexes.0.name",
            6,
            "\"ab\" must be 3-255 characters of A-Z a-z 0-9 _ . -",
        ),
        (
            "[[table.global_secondary_indexes]]\nname = \"byEmail\"\n".into(),
            "table.global_secondary_indexes.0",
            5,
            "missing field `partition_key`",
        ),
        (
            index("hash_key = \"x\"\n"),
            "table.global_secondary_indexes.0",
            8,
            "unknown field `hash_key`, expected one of `name`, `partition_key`, `sort_key`, `projection`, `read_capacity`, `write_capacity`",
        ),
    ];
    for (extra, field, line, says) in cases {
        let e = parse_str(&format!("{MINIMAL}{extra}")).unwrap_err();
        assert_eq!((e.field.as_deref(), e.line), (Some(field), Some(line)), "{extra}: {e}");
        assert!(e.message.starts_with(says), "{extra}: {e}");
    }

    // AWS's limit of 100 projected attributes, summed over the indexes.
    let attrs = |from: usize, n: usize| {
        (from..from + n).map(|i| format!("\"a{i}\"")).collect::<Vec<_>>().join(", ")
    };
    let two = |second: usize| {
        format!(
            "{MINIMAL}[[table.global_secondary_indexes]]\nname = \"one\"\npartition_key = {{ name = \"p\", type = \"S\" }}\nprojection = {{ include = [{}] }}\n[[table.global_secondary_indexes]]\nname = \"two\"\npartition_key = {{ name = \"q\", type = \"S\" }}\nprojection = {{ include = [{}] }}\n",
            attrs(0, 60),
            attrs(0, second)
        )
    };
    assert!(parse_str(&two(40)).is_ok());
    let e = parse_str(&two(41)).unwrap_err();
    assert_eq!(e.field.as_deref(), Some("table.global_secondary_indexes.1.projection.include"));
    assert!(
        e.message
            .starts_with("the indexes project 101 attributes with include; AWS allows at most 100"),
        "{e}"
    );
}
