//! Fuzzing the loader: random and mutated TOML, huge values, unicode, control characters,
//! deep nesting. The loader never panics; every failure names a field or a line.

use super::fields::is_user_pool_id;
use super::*;
use proptest::prelude::*;

const VALID: &str = "stack = \"demo\"\nregion = \"us-east-1\"\n\n[table]\nname = \"user-profiles\"\npartition_key = { name = \"userId\", type = \"S\" }\nsort_key = { name = \"createdAt\", type = \"S\" }\nbilling_mode = \"PROVISIONED\"\nread_capacity = 5\nwrite_capacity = 5\npoint_in_time_recovery = true\ndeletion_protection = true\ntags = { team = \"mobile\" }\nencryption = \"customer-managed\"\nkms_key = \"alias/profiles\"\nttl_attribute = \"expiresAt\"\ntable_class = \"STANDARD\"\n\n[[table.global_secondary_indexes]]\nname = \"byEmail\"\npartition_key = { name = \"email\", type = \"S\" }\nprojection = { include = [\"displayName\"] }\nread_capacity = 1\nwrite_capacity = 1\n\n[user_pool]\nid = \"us-east-1_AbCdEf123\"\nclient_ids = [\"1example23456789\"]\n\n[identity_pool]\nname = \"demo_identities\"\nallow_unauthenticated = false\n\n[role]\nname = \"demo-role\"\n\n[policy]\nname = \"demo-policy\"\nactions = [\"dynamodb:GetItem\", \"dynamodb:Query\"]\n";

/// Parses and checks the contract: no panic (the caller's proptest catches one), and an
/// error is a one-line sentence that names a field or a line.
fn check(text: &str) {
    match parse(text, Path::new("setup.toml"), &Overrides::default()) {
        Ok(d) => {
            // Whatever is accepted is valid by the same rules apply relies on.
            assert!((3..=255).contains(&d.table.name.len()));
            assert!(is_user_pool_id(&d.user_pool.id));
            assert!(d.actions.iter().all(|a| a.starts_with("dynamodb:")));
        }
        Err(e) => {
            assert!(
                e.field.is_some() || e.line.is_some(),
                "error names neither a field nor a line: {e} (input {text:?})"
            );
            assert!(!e.message.is_empty(), "empty message for {text:?}");
            assert!(e.to_string().starts_with("setup.toml"), "{e}");
        }
    }
}

#[derive(Debug, Clone)]
enum Edit {
    Delete(usize),
    Insert(usize, char),
    Replace(usize, char),
    Duplicate(usize, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    let ch = prop_oneof![
        any::<char>(),
        prop::sample::select(vec![
            '"', '\'', '[', ']', '{', '}', '=', '\n', '#', ',', '.', '\\', '\0', '\u{7f}', 'é',
            '😀', '\u{202e}', '0', '-', '_',
        ]),
    ];
    prop_oneof![
        any::<usize>().prop_map(Edit::Delete),
        (any::<usize>(), ch.clone()).prop_map(|(i, c)| Edit::Insert(i, c)),
        (any::<usize>(), ch).prop_map(|(i, c)| Edit::Replace(i, c)),
        (any::<usize>(), 1usize..200).prop_map(|(i, n)| Edit::Duplicate(i, n)),
    ]
}

fn apply_edits(base: &str, edits: &[Edit]) -> String {
    let mut chars: Vec<char> = base.chars().collect();
    for e in edits {
        let n = chars.len().max(1);
        match *e {
            Edit::Delete(i) if !chars.is_empty() => {
                chars.remove(i % chars.len());
            }
            Edit::Delete(_) => {}
            Edit::Insert(i, c) => chars.insert(i % (chars.len() + 1), c),
            Edit::Replace(i, c) if !chars.is_empty() => chars[i % n] = c,
            Edit::Replace(..) => {}
            Edit::Duplicate(i, len) => {
                let start = i % n;
                let end = (start + len).min(chars.len());
                let piece: Vec<char> = chars[start..end].to_vec();
                chars.splice(end..end, piece);
            }
        }
    }
    chars.into_iter().collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn random_text_never_panics(text in any::<String>()) {
        check(&text);
    }

    #[test]
    fn mutated_valid_configs_never_panic(edits in prop::collection::vec(edit(), 1..8)) {
        check(&apply_edits(VALID, &edits));
    }

    #[test]
    fn any_value_in_any_field_is_checked(
        field in prop::sample::select(vec![
            "stack", "region", "table.name", "user_pool.id", "role.name", "policy.name",
            "identity_pool.name", "table.billing_mode", "table.encryption", "table.kms_key",
            "table.ttl_attribute", "table.table_class",
        ]),
        value in any::<String>(),
    ) {
        let escaped = toml::Value::String(value).to_string();
        let (section, key) = field.split_once('.').unwrap_or(("", field));
        let text = VALID
            .lines()
            .scan(String::new(), |current, line| {
                if line.starts_with('[') {
                    *current = line.trim_matches(|c| c == '[' || c == ']').to_string();
                }
                let this_key = line.split('=').next().unwrap_or("").trim();
                Some(if *current == section && this_key == key {
                    format!("{key} = {escaped}")
                } else {
                    line.to_string()
                })
            })
            .collect::<Vec<_>>()
            .join("\n");
        check(&text);
    }
}

/// The base of the mutations is itself valid, table options included.
#[test]
fn the_base_config_is_valid() {
    let d = parse(VALID, Path::new("setup.toml"), &Overrides::default()).unwrap();
    assert_eq!(d.table.encryption.kms_key(), Some("alias/profiles"));
    assert_eq!(d.table.global_secondary_indexes.len(), 1);
}

#[test]
fn huge_values_are_errors_with_the_field() {
    let long = "x".repeat(1_000_000);
    let text = VALID.replace("\"user-profiles\"", &format!("\"{long}\""));
    let e = parse(&text, Path::new("setup.toml"), &Overrides::default()).unwrap_err();
    assert_eq!(e.field.as_deref(), Some("table.name"));
    // Long inputs are not echoed back whole.
    let many = (0..20_000).map(|i| format!("\"c{i}\"")).collect::<Vec<_>>().join(",");
    check(&VALID.replace("[\"1example23456789\"]", &format!("[{many}]")));
    let tags = (0..5_000).map(|i| format!("t{i} = \"v\"")).collect::<Vec<_>>().join(", ");
    check(&VALID.replace("{ team = \"mobile\" }", &format!("{{ {tags} }}")));
    check(&format!("{VALID}\n# {}\n", "é".repeat(500_000)));
}

#[test]
fn tag_keys_and_values_follow_aws_rules() {
    let with = |tags: &str| VALID.replace("{ team = \"mobile\" }", tags);
    for (tags, field, says) in [
        ("{ \"aws:x\" = \"v\" }", "table.tags", "reserved by AWS"),
        ("{ \"AWS:x\" = \"v\" }", "table.tags", "reserved by AWS"),
        ("{ \"a#b\" = \"v\" }", "table.tags", "the character '#'"),
        ("{ \"k\" = \"v;\" }", "table.tags.k", "the character ';'"),
        ("{ \"k\" = \"a\\tb\" }", "table.tags.k", "the character '\\t'"),
    ] {
        let e = parse(&with(tags), Path::new("setup.toml"), &Overrides::default()).unwrap_err();
        assert_eq!(e.field.as_deref(), Some(field), "{tags}: {e}");
        assert!(e.message.contains(says), "{tags}: {e}");
    }
    let ok = with("{ \"Équipe é/1\" = \"v_ .:/=+-@ 9\", \"名前\" = \"値\" }");
    let d = parse(&ok, Path::new("setup.toml"), &Overrides::default()).unwrap();
    assert_eq!(d.tags.get("名前").map(String::as_str), Some("値"));

    let tags = |n: usize| {
        let inner: Vec<String> = (0..n).map(|i| format!("t{i} = \"v\"")).collect();
        format!("{{ {} }}", inner.join(", "))
    };
    assert!(parse(&with(&tags(48)), Path::new("setup.toml"), &Overrides::default()).is_ok());
    let e = parse(&with(&tags(49)), Path::new("setup.toml"), &Overrides::default()).unwrap_err();
    assert_eq!(e.field.as_deref(), Some("table.tags"));
    assert!(e.message.starts_with("49 tags given; AWS allows 50"), "{e}");
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    for depth in [100usize, 10_000, 200_000] {
        let arrays = format!("{VALID}\nx = {}{}\n", "[".repeat(depth), "]".repeat(depth));
        check(&arrays);
        let tables = format!("{VALID}\ny = {}1{}\n", "{ a = ".repeat(depth), " }".repeat(depth));
        check(&tables);
        let dotted = format!("{VALID}\n[{}]\n", vec!["a"; depth.min(20_000)].join("."));
        check(&dotted);
    }
}

#[test]
fn control_characters_and_unicode_in_values_are_rejected_cleanly() {
    for bad in ["user\u{0}profiles", "prof\u{202e}iles", "用户资料", "tab\tle", "line\nbreak"] {
        let text = VALID.replace("user-profiles", &bad.escape_default().to_string());
        check(&text);
    }
}
