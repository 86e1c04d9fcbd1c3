//! The table options (encryption, TTL, table class, indexes): what they become, and which
//! field and line each mistake names.

use super::*;

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
    assert_each_names_field_and_line(&cases);

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
