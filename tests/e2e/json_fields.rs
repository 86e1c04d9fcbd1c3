//! JSON schema stability: the field paths of every `--output json` document, from real runs
//! against the emulator, must equal tests/fixtures/json-fields.txt. Renaming, removing or adding
//! a field fails here; update the fixture (and docs/json-output.md) on purpose, e.g. with
//! `SETUP_BLESS=1 cargo test json_fields`.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::harness::*;

/// Values that are any JSON (the live and desired side of a change): not descended into.
const OPAQUE: &[&str] = &["changes[].live", "changes[].desired"];

fn paths(v: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                let p = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                out.insert(p.clone());
                if !OPAQUE.iter().any(|o| p.ends_with(o)) {
                    paths(v, &p, out);
                }
            }
        }
        Value::Array(items) => {
            for i in items {
                paths(i, &format!("{prefix}[]"), out);
            }
        }
        _ => {}
    }
}

fn record(out: &mut BTreeSet<String>, command: &str, r: &Run) {
    let mut p = BTreeSet::new();
    paths(&r.json(), "", &mut p);
    // Teardown reports what it found and removed; it never has changes to show.
    assert!(
        p.contains("steps[].changes[].field") || !p.contains("steps") || command == "teardown",
        "{command}: the run must have a change so every path shows:\n{}",
        r.all()
    );
    out.extend(p.into_iter().map(|p| format!("{command}: {p}")));
}

/// Changes the policy document by hand, so every report has `changes`.
fn drift(s: &Stack) {
    let doc = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"dynamodb:Scan","Resource":"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{}"}}]}}"#,
        s.table()
    );
    block_on(sdk().set_policy_document(&s.policy_arn(), &doc));
}

#[test]
fn json_fields_match_the_fixture() {
    let s = Stack::new("json-fields", "");
    let json = ["--output", "json"];
    let mut found = BTreeSet::new();
    let run = |args: &[&str], code: i32| {
        let mut all = args.to_vec();
        all.extend(json);
        s.expect(code, &all)
    };
    record(&mut found, "plan", &run(&["plan"], 0));
    run(&["apply"], 0);
    // The stacks of the region, this one's with a table, a pool and a role.
    record(&mut found, "list", &run(&["list"], 0));
    drift(&s);
    // And a grant beyond the config, so `security_findings` has an entry.
    let admin =
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
    let sdk = sdk();
    let put = sdk.iam.put_role_policy().role_name(s.role()).policy_name("admin");
    block_on(put.policy_document(admin).send()).unwrap();
    record(&mut found, "status", &run(&["status"], 3));
    block_on(sdk.iam.delete_role_policy().role_name(s.role()).policy_name("admin").send()).unwrap();
    record(&mut found, "plan", &run(&["plan"], 0));
    record(&mut found, "apply", &run(&["apply"], 0));
    drift(&s);
    record(&mut found, "teardown", &run(&["teardown", "--delete-table", "--yes"], 0));
    record(&mut found, "error", &run(&["status", "--config", "missing.toml"], 1));
    let (pool, client) = user_pool().clone();
    record(
        &mut found,
        "init",
        &run(
            &["init", "--config", "init.toml", "--user-pool-id", &pool, "--client-id", &client],
            0,
        ),
    );

    // bootstrap, with a config that names a boundary: the run creates it, so `actions` has one.
    let text = std::fs::read_to_string(s.config_path()).unwrap();
    let boot = format!("permissions_boundary = \"json-fields-boundary\"\n{text}");
    std::fs::write(s.dir.path().join("boot.toml"), boot).unwrap();
    record(&mut found, "bootstrap", &run(&["bootstrap", "--config", "boot.toml", "--yes"], 0));

    let fixture_path = repo_root().join("tests/fixtures/json-fields.txt");
    if std::env::var_os("SETUP_BLESS").is_some() {
        let mut text = String::from(
            "# Field paths of every `setup --output json` document (see tests/e2e/json_fields.rs).\n\
             # `a[].b`: field b of each element of array a. changes[].live/desired hold any JSON.\n",
        );
        for p in &found {
            text.push_str(p);
            text.push('\n');
        }
        std::fs::write(&fixture_path, text).unwrap();
    }
    let fixture: BTreeSet<String> = std::fs::read_to_string(&fixture_path)
        .unwrap()
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect();
    let gone: Vec<_> = fixture.difference(&found).collect();
    let new: Vec<_> = found.difference(&fixture).collect();
    assert!(
        gone.is_empty() && new.is_empty(),
        "the JSON output changed.\n  fields no longer present (renamed or removed): {gone:?}\n  \
         fields not in the fixture (added or renamed): {new:?}\n\
         Scripts rely on these names. If the change is intended, update docs/json-output.md \
         and tests/fixtures/json-fields.txt (SETUP_BLESS=1 cargo test json_fields rewrites it)."
    );
}
