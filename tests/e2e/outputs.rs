//! `setup outputs`: the values an app needs, from the live stack, in three formats, and
//! `--write` updating only those keys in an existing settings file.

use crate::harness::*;

/// A stack's seven properties as `outputs` writes them, in order, one per line ending in `eol`;
/// without the keys in `skip`.
fn properties(s: &Stack, eol: &str, skip: &[&str]) -> String {
    let table_arn = format!("arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{}", s.table());
    [
        ("aws.region", REGION.to_string()),
        ("aws.cognito.user-pool-id", s.user_pool_id.clone()),
        ("aws.cognito.client-id", s.client_id.clone()),
        ("aws.cognito.identity-pool-id", s.pool_id()),
        ("aws.cognito.authenticated-role-arn", s.role_arn()),
        ("aws.dynamodb.user-profile-table", s.table()),
        ("aws.dynamodb.user-profile-table-arn", table_arn),
    ]
    .iter()
    .filter(|(k, _)| !skip.contains(k))
    .map(|(k, v)| format!("{k}={v}{eol}"))
    .collect()
}

#[test]
fn outputs_fail_clearly_when_the_stack_is_not_applied() {
    let s = Stack::new("outputs-none", "");
    let r = s.run(&["outputs"]).exits(1);
    assert!(r.stdout.is_empty(), "{}", r.all());
    r.stderr_has("is not applied (table outputs-none-profiles, identity pool outputs_none_identities, role outputs-none-cognito-authenticated missing)");
    let file = s.dir.path().join("app.properties");
    let w = s.run(&["outputs", "--write", file.to_str().unwrap()]);
    assert_eq!(w.code, 1);
    assert!(!file.exists(), "no file is written for a stack that is not applied");
    assert!(r.writes().is_empty() && w.writes().is_empty());
}

#[test]
fn outputs_in_all_three_formats_come_from_the_live_stack() {
    let s = Stack::new("outputs-formats", "");
    s.ok(&["apply"]);
    let pool = s.pool_id();
    let table_arn = format!("arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{}", s.table());

    let props = s.ok(&["outputs"]);
    let expected = properties(&s, "\n", &[]);
    assert_eq!(props.stdout, expected, "{}", props.all());
    assert!(props.writes().is_empty());
    assert_eq!(s.ok(&["outputs", "--format", "properties"]).stdout, expected);

    let env = s.ok(&["outputs", "--format", "env"]);
    let lines: Vec<&str> = env.stdout.lines().collect();
    assert_eq!(lines.len(), 7, "{}", env.stdout);
    assert!(lines.iter().all(|l| l.starts_with("export ")), "{}", env.stdout);
    assert!(lines.contains(&format!("export COGNITO_IDENTITY_POOL_ID={pool}").as_str()));
    assert!(lines.contains(&format!("export DYNAMODB_USER_PROFILE_TABLE_ARN={table_arn}").as_str()));
    // The env lines are valid shell: sourcing them sets the variables.
    let sh = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{}\nprintf %s \"$COGNITO_IDENTITY_POOL_ID\"", env.stdout))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&sh.stdout), pool);

    let json = s.ok(&["outputs", "--format", "json"]).json();
    assert_eq!(json["identity_pool_id"], pool.as_str());
    assert_eq!(json["table_arn"], table_arn.as_str());
    assert_eq!(json["authenticated_role_arn"], s.role_arn().as_str());
    assert_eq!(json["properties"]["aws.cognito.user-pool-id"], s.user_pool_id.as_str());
    assert_eq!(json["env"]["COGNITO_CLIENT_ID"], s.client_id.as_str());
    // --output json alone means the JSON shape too.
    assert_eq!(s.ok(&["outputs", "-o", "json"]).json(), json);
}

#[test]
fn write_updates_only_its_keys_and_keeps_every_other_byte() {
    let s = Stack::new("outputs-write", "");
    s.ok(&["apply"]);
    let pool = s.pool_id();
    let file = s.dir.path().join("application.properties");
    let before = "# Spring settings\r\nserver.port = 8080\r\n\r\n# AWS\r\naws.region: eu-west-1\r\n  aws.cognito.client-id=stale\r\n! legacy comment with aws.cognito.user-pool-id=x\r\nspring.datasource.url=jdbc:h2:mem:test\r\nlogging.level.root=INFO";
    std::fs::write(&file, before).unwrap();
    s.ok(&["outputs", "--write", file.to_str().unwrap()])
        .stdout_has("updated aws.region, aws.cognito.client-id");
    let after = std::fs::read_to_string(&file).unwrap();
    // Both keys already there are updated in place, the other five appended in order.
    let expected = format!(
        "# Spring settings\r\nserver.port = 8080\r\n\r\n# AWS\r\naws.region: {REGION}\r\n  aws.cognito.client-id={client}\r\n! legacy comment with aws.cognito.user-pool-id=x\r\nspring.datasource.url=jdbc:h2:mem:test\r\nlogging.level.root=INFO\r\n{appended}",
        client = s.client_id,
        appended = properties(&s, "\r\n", &["aws.region", "aws.cognito.client-id"]),
    );
    assert_eq!(after, expected);
    // A second write changes nothing, not even the file's modification time.
    let mtime = std::fs::metadata(&file).unwrap().modified().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    let again = s.ok(&["outputs", "--write", file.to_str().unwrap(), "-o", "json"]).json();
    assert_eq!(again["updated"], serde_json::json!([]));
    assert_eq!(again["added"], serde_json::json!([]));
    assert_eq!(again["unchanged"].as_array().unwrap().len(), 7);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), expected);
    assert_eq!(std::fs::metadata(&file).unwrap().modified().unwrap(), mtime);

    // A .env file: the format follows the name, the file's own style is kept.
    let env = s.dir.path().join(".env");
    std::fs::write(
        &env,
        "# local\nDATABASE_URL=postgres://localhost/app\nAWS_REGION=eu-west-1 # set by hand\n",
    )
    .unwrap();
    s.ok(&["outputs", "--write", env.to_str().unwrap()]);
    let text = std::fs::read_to_string(&env).unwrap();
    assert!(text.starts_with(&format!("# local\nDATABASE_URL=postgres://localhost/app\nAWS_REGION={REGION} # set by hand\nCOGNITO_USER_POOL_ID=")), "{text}");
    assert!(text.contains(&format!("\nCOGNITO_IDENTITY_POOL_ID={pool}\n")), "{text}");

    // Absent files are created, in the requested format.
    let new = s.dir.path().join("fresh.txt");
    s.ok(&["outputs", "--format", "env", "--write", new.to_str().unwrap()]);
    assert_eq!(
        std::fs::read_to_string(&new).unwrap(),
        s.ok(&["outputs", "--format", "env"]).stdout
    );
    // JSON cannot be merged into a file.
    let bad = s.expect(1, &["outputs", "--format", "json", "--write", new.to_str().unwrap()]);
    bad.stderr_has("--write updates a .properties, .yml/.yaml or .env file");
    assert!(bad.ops.is_empty());
}

/// The message of `--write` is true of what happened to the file: created, left as it was, or
/// written with its other lines kept.
#[test]
fn write_says_whether_it_created_left_or_wrote_the_file() {
    let s = Stack::new("outputs-write-words", "");
    s.ok(&["apply"]);
    let file = s.dir.path().join("app.properties");
    let path = file.to_str().unwrap();
    let created = s.ok(&["outputs", "--write", path]);
    assert!(
        created.stdout.starts_with(&format!("created {path} (properties) with aws.region, "))
            && !created.stdout.contains("kept"),
        "{}",
        created.all()
    );
    let again = s.ok(&["outputs", "--write", path]);
    assert!(
        again.stdout.starts_with(&format!(
            "left {path} (properties) unchanged, already current: aws.region, "
        )),
        "{}",
        again.all()
    );
    std::fs::write(&file, "server.port=8080\n").unwrap();
    let merged = s.ok(&["outputs", "--write", path]);
    assert!(
        merged.stdout.starts_with(&format!("wrote {path} (properties): added aws.region, "))
            && merged.stdout.trim_end().ends_with(". Every other line was kept."),
        "{}",
        merged.all()
    );
}

/// Spring Boot's application.yml: the same keys as the properties, nested; the file's comments
/// and other keys kept; a second write leaves it untouched and says so.
#[test]
fn write_application_yml_nests_the_keys_and_keeps_the_rest() {
    use setup::keyfile::yaml::scalar;
    let s = Stack::new("outputs-yaml", "");
    s.ok(&["apply"]);
    let file = s.dir.path().join("application.yml");
    let before = "# Spring Boot settings\nspring:\n  application:\n    name: demo   # the service name\n\naws:\n  region: eu-west-1 # set by hand\n  s3:\n    bucket: uploads\nserver:\n  port: 8080\n";
    std::fs::write(&file, before).unwrap();
    let r = s.ok(&["outputs", "--write", file.to_str().unwrap()]);
    r.stdout_has("(yaml): updated aws.region; added aws.cognito.user-pool-id");
    let table_arn = format!("arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{}", s.table());
    let expected = format!(
        "# Spring Boot settings\nspring:\n  application:\n    name: demo   # the service name\n\naws:\n  region: {REGION} # set by hand\n  s3:\n    bucket: uploads\n  cognito:\n    user-pool-id: {}\n    client-id: {}\n    identity-pool-id: {}\n    authenticated-role-arn: {}\n  dynamodb:\n    user-profile-table: {}\n    user-profile-table-arn: {}\nserver:\n  port: 8080\n",
        scalar(&s.user_pool_id),
        scalar(&s.client_id),
        scalar(&s.pool_id()),
        scalar(&s.role_arn()),
        scalar(&s.table()),
        scalar(&table_arn),
    );
    let after = std::fs::read_to_string(&file).unwrap();
    assert_eq!(after, expected);
    // What a YAML reader sees: the values as strings, the other keys as they were.
    let doc: serde_norway::Value = serde_norway::from_str(&after).unwrap();
    assert_eq!(doc["aws"]["cognito"]["client-id"].as_str(), Some(s.client_id.as_str()));
    assert_eq!(doc["aws"]["s3"]["bucket"].as_str(), Some("uploads"));
    assert_eq!(doc["server"]["port"].as_u64(), Some(8080));

    // Again: nothing to change, the file is not touched, and the message says so.
    let mtime = std::fs::metadata(&file).unwrap().modified().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    s.ok(&["outputs", "--write", file.to_str().unwrap()]).stdout_has("unchanged, already current");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), expected);
    assert_eq!(std::fs::metadata(&file).unwrap().modified().unwrap(), mtime);

    // A new .yaml file holds what `--format yaml` prints.
    let new = s.dir.path().join("config.yaml");
    s.ok(&["outputs", "--write", new.to_str().unwrap()]).stdout_has("created");
    let printed = s.ok(&["outputs", "--format", "yaml"]).stdout;
    assert!(printed.starts_with(&format!("aws:\n  region: {REGION}\n  cognito:\n")), "{printed}");
    assert_eq!(std::fs::read_to_string(&new).unwrap(), printed);
}

/// A file name that says no known format is refused before anything is read or written:
/// guessing one corrupts the file.
#[test]
fn write_refuses_a_file_name_of_no_known_format() {
    let s = Stack::new("outputs-unknown-ext", "");
    let file = s.dir.path().join("app.conf");
    std::fs::write(&file, "keep = me\n").unwrap();
    let r = s.expect(1, &["outputs", "--write", file.to_str().unwrap()]);
    r.stderr_has("cannot tell the format of").stderr_has("--format").stderr_has("*.yml");
    assert!(r.ops.is_empty(), "{:?}", r.ops);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep = me\n");
}
