//! `setup init --from-identity-pool`: a setup made by hand in the console, with names of its own,
//! described as a config that the rest of the tool accepts. Each case builds the console setup
//! with plain SDK calls, then runs the documented path: `init --from-identity-pool` (read calls
//! only) → `status` (names the problem) → `apply --adopt` → `status` (in sync) → `verify`.

mod checks;
mod console;
mod groups;

use aws_sdk_dynamodb::types::KeyType;
use serde_json::json;

use crate::harness::*;
use checks::*;
use console::*;

const IDENTITY_ID: &str = "${cognito-identity.amazonaws.com:sub}";
/// Some other identity pool: the `aud` of a role copied from an older pool.
const OTHER_POOL: &str = "us-east-1:99999999-8888-7777-6666-555555555555";
/// An identity pool id that exists nowhere.
const POOL: &str = "us-east-1:00000000-1111-2222-3333-444444444444";

const CRUD: [&str; 4] =
    ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"];

#[test]
fn a_role_copied_from_another_pool_is_described_and_its_aud_fixed() {
    let table = Table { pitr: true, protection: true, ..Table::on_demand() };
    let c = case(
        "init-wrong-aud",
        &table,
        |_| console_trust(OTHER_POOL, true),
        table_grant(&CRUD),
        &[],
    );
    let t = &c.file["table"];
    assert_eq!(t["point_in_time_recovery"].as_bool(), Some(true));
    assert_eq!(t["deletion_protection"].as_bool(), Some(true));
    assert_eq!(t["sort_key"]["name"].as_str(), Some("noteId"));
    check_policy(&c.file, &c.hand.policy, &CRUD, false);
    let policy_arn = c.hand.policy_arn(&c.hand.policy);
    assert!(comment_above(&c.text, "[policy]").contains(&policy_arn));
    // The wrong aud is not in the file (there is no trust key): it is in the plan, as a change.
    let plan = plan_part(&c.text);
    assert!(plan.contains(&format!("aud is \"{OTHER_POOL}\"")), "{plan}");
    let drifted = format!("trust-policy {}: drifted", c.hand.role);
    assert!(plan.contains(&drifted), "{plan}");
    c.init.stdout_has("Next: `setup status`, then `setup apply --adopt`");
    adopt_and_verify(&c.s, |r, j| {
        let notes = notes_of(r, j, "trust-policy");
        let finding = format!(
            "finding: aud is \\\"{OTHER_POOL}\\\" but this stack's identity pool is \\\"{}\\\"",
            c.hand.pool_id
        );
        assert!(notes.contains(&finding), "{notes}");
    });
}

#[test]
fn a_trust_policy_without_amr_is_a_finding_until_adopted() {
    let c = case(
        "init-no-amr",
        &Table::on_demand(),
        |pool| console_trust(pool, false),
        table_grant(&CRUD),
        &[],
    );
    check_on_demand_table(&c.file);
    check_policy(&c.file, &c.hand.policy, &CRUD, false);
    let plan = plan_part(&c.text);
    assert!(plan.contains("unauthenticated (guest) identities"), "{plan}");
    adopt_and_verify_exits(&c.s, (3, 0), |r, j| {
        let notes = notes_of(r, j, "trust-policy");
        let amr = "security: no \\\"cognito-identity.amazonaws.com:amr\\\" condition";
        assert!(notes.contains(amr), "{notes}");
    });
}

#[test]
fn extra_actions_and_index_grants_are_copied_or_named() {
    let table = Table {
        keys: vec![("pk", KeyType::Hash)],
        provisioned: Some((3, 4)),
        tags: vec![],
        ..Table::on_demand()
    };
    const ACTIONS: [&str; 6] = [
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:Query",
        "dynamodb:BatchGetItem",
    ];
    let c = case(
        "init-extra-actions",
        &table,
        right_trust,
        |h| {
            let index = format!("{}/index/*", h.table_arn());
            vec![(h.policy.clone(), grant(&ACTIONS, &[h.table_arn(), index]))]
        },
        &[],
    );
    let t = &c.file["table"];
    assert_eq!(t["partition_key"]["name"].as_str(), Some("pk"));
    assert!(t.get("sort_key").is_none(), "only the keys the table has");
    assert_eq!(t["billing_mode"].as_str(), Some("PROVISIONED"));
    assert_eq!(t["read_capacity"].as_integer(), Some(3));
    assert_eq!(t["write_capacity"].as_integer(), Some(4));
    assert!(c.file.get("tags").is_none(), "the table has no tags");
    // Every action is kept; the index grant cannot be, and the file and stderr say so.
    check_policy(&c.file, &c.hand.policy, &ACTIONS, false);
    let index = format!("{}/index/*", c.hand.table_arn());
    let said = format!("on {index}");
    assert!(comment_above(&c.text, "[policy]").contains(&said), "{}", c.text);
    c.init.stderr_has(&said);
    let v = adopt_and_verify(&c.s, |r, j| {
        let changes = r.step(j, "access-policy")["changes"].to_string();
        assert!(changes.contains(&index), "the index grant is named: {changes}");
    });
    // Query is granted, so verify ran it.
    assert_eq!(hop(&v, "query")["status"], "ok", "{v}");
}

#[test]
fn of_two_candidate_policies_one_is_chosen_and_the_other_named() {
    const ACTIONS: [&str; 4] =
        ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"];
    let reader = "dynamo-read-init-two-policies".to_string();
    let c = case(
        "init-two-policies",
        &Table::on_demand(),
        right_trust,
        |h| {
            vec![
                (reader.clone(), grant(&["dynamodb:GetItem"], &[h.table_arn()])),
                (h.policy.clone(), grant(&ACTIONS, &[h.table_arn()])),
            ]
        },
        &[],
    );
    let (hand, text) = (&c.hand, &c.text);
    check_on_demand_table(&c.file);
    // Not a silent guess: the choice and the other candidate, in the file and on stderr.
    check_policy(&c.file, &hand.policy, &ACTIONS, false);
    let why = format!("manages policy {} on table {}", hand.policy, hand.table);
    let other = format!("not policy {reader} on table {}", hand.table);
    let above = comment_above(text, "[policy]");
    assert!(above.contains(&why) && above.contains(&other), "{text}");
    c.init.stderr_has(&why).stderr_has(&other);
    // A policy the config does not name stays a security finding after the adoption (setup
    // cannot vouch for what it grants, now or after its next version): status exits 3.
    adopt_and_verify_exits(&c.s, (3, 3), |r, j| {
        let notes = notes_of(r, j, "role");
        assert!(
            notes.contains(&format!("security: managed policy \\\"{reader}\\\" is attached")),
            "status names the other policy: {notes}"
        );
    });
    // The other policy is left as it was: still attached, never tagged.
    let sdk = sdk();
    let reader_arn = hand.policy_arn(&reader);
    assert!(block_on(sdk.attached_policy_arns(&hand.role)).contains(&reader_arn));
    let p = block_on(sdk.iam.get_policy().policy_arn(&reader_arn).send()).unwrap();
    assert_eq!(p.policy().unwrap().tags(), [], "{p:?}");
}

#[test]
fn an_aws_managed_full_access_policy_is_a_finding_and_stays_attached() {
    let full = "arn:aws:iam::aws:policy/AmazonDynamoDBFullAccess";
    // Real accounts have AWS's managed policies; moto loads them only when told to.
    let there = block_on(sdk().iam.get_policy().policy_arn(full).send());
    assert!(
        there.is_ok(),
        "the emulator has no AWS managed policies: its launcher must set MOTO_IAM_LOAD_MANAGED_POLICIES=true"
    );
    let c = case("init-full-access", &Table::on_demand(), right_trust, table_grant(&CRUD), &[full]);
    check_on_demand_table(&c.file);
    check_policy(&c.file, &c.hand.policy, &CRUD, false);
    let said = "policy AmazonDynamoDBFullAccess (AWS managed), attached to role";
    assert!(comment_above(&c.text, "[policy]").contains(said), "{}", c.text);
    c.init.stderr_has(said).stderr_has("dynamodb:* on *");
    adopt_and_verify_exits(&c.s, (3, 3), |r, j| {
        let notes = notes_of(r, j, "role");
        let finding = "security: AWS managed policy AmazonDynamoDBFullAccess is attached";
        assert!(notes.contains(finding), "{notes}");
    });
    let attached = block_on(sdk().attached_policy_arns(&c.hand.role));
    assert!(attached.contains(&full.to_string()), "{attached:?}");
}

#[test]
fn isolation_without_the_null_guard_is_described_and_closed_on_adopt() {
    const LIVE: [&str; 5] = [
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:Query",
        "dynamodb:Scan",
    ];
    let c = case(
        "init-isolated",
        &Table::on_demand(),
        right_trust,
        |h| {
            let isolated = json!({"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow",
                "Action": LIVE,
                "Resource": h.table_arn(),
                "Condition": {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [IDENTITY_ID]}}
            }]});
            vec![(h.policy.clone(), isolated)]
        },
        &[],
    );
    check_on_demand_table(&c.file);
    // Isolation is kept; Scan, which the config refuses under isolation, is left out and why.
    check_policy(&c.file, &c.hand.policy, &LIVE[..4], true);
    assert_eq!(c.file["policy"]["isolation_key"].as_str(), Some("identity-id"), "{}", c.text);
    let above = comment_above(&c.text, "[policy]");
    let scan = "grants dynamodb:Scan under the LeadingKeys condition";
    assert!(above.contains(scan) && above.contains("not the guard"), "{}", c.text);
    c.init.stderr_has(scan);
    let v = adopt_and_verify_exits(&c.s, (3, 0), |r, j| {
        let notes = notes_of(r, j, "access-policy");
        assert!(notes.contains("security:") && notes.contains("Scan"), "{notes}");
    });
    assert_eq!(hop(&v, "isolation")["status"], "ok", "{v}");
    let doc = block_on(sdk().default_document(&c.hand.policy_arn(&c.hand.policy)));
    let guard = &doc["Statement"][0]["Condition"]["Null"]["dynamodb:LeadingKeys"];
    assert_eq!(guard, "false", "{doc}");
}

/// A console setup keyed by the user pool sub: the pool maps the claim `sub` to the tag `sub`,
/// the trust allows `sts:TagSession`, the policy compares the key with `${aws:PrincipalTag/sub}`.
/// init reads it back as `isolation_key = "user-pool-sub"`, and after adopt verify's seed story
/// holds (the backend's item under the sub is the user's).
#[test]
fn a_setup_keyed_by_the_user_pool_sub_reads_back_as_user_pool_sub() {
    const SUB: &str = "${aws:PrincipalTag/sub}";
    let c = case_with(
        "init-by-sub",
        &Table::on_demand(),
        |pool| {
            let mut trust = right_trust(pool);
            trust["Statement"][0]["Action"] =
                json!(["sts:AssumeRoleWithWebIdentity", "sts:TagSession"]);
            trust
        },
        |h| {
            let isolated = json!({"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow",
                "Action": CRUD,
                "Resource": h.table_arn(),
                "Condition": {
                    "ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [SUB]},
                    "Null": {"dynamodb:LeadingKeys": "false"}
                }
            }]});
            vec![(h.policy.clone(), isolated)]
        },
        &[],
        |s, pool| {
            let sdk = s.emu.sdk();
            let provider = format!("cognito-idp.{REGION}.amazonaws.com/{}", s.user_pool_id);
            block_on(
                sdk.identity
                    .set_principal_tag_attribute_map()
                    .identity_pool_id(pool)
                    .identity_provider_name(provider)
                    .use_defaults(false)
                    .principal_tags("sub", "sub")
                    .send(),
            )
            .unwrap();
        },
    );
    check_policy(&c.file, &c.hand.policy, &CRUD, true);
    assert_eq!(c.file["policy"]["isolation_key"].as_str(), Some("user-pool-sub"), "{}", c.text);
    let v = adopt_and_verify(&c.s, |r, j| {
        // Nothing to name but ownership: the wiring is right.
        assert_eq!(notes_of(r, j, "principal-tags"), "[]");
    });
    assert_eq!(v["isolation_key"], "user-pool-sub", "{v}");
    for h in ["backend-write", "backend-read", "isolation"] {
        assert_eq!(hop(&v, h)["status"], "ok", "{v}");
    }
}

#[test]
fn init_refuses_an_existing_file_and_makes_no_call() {
    let s = Stack::new("init-exists", "");
    let before = std::fs::read_to_string(s.config_path()).unwrap();
    let r = s.run(&["init", "--from-identity-pool", POOL]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(r.stderr.contains("already exists") && r.stderr.contains("--force"), "{}", r.all());
    assert_eq!(r.ops, Vec::<String>::new());
    assert_eq!(std::fs::read_to_string(s.config_path()).unwrap(), before);
    // --force goes past the check to the reads (this pool does not exist).
    let r = s.run(&["init", "--force", "--from-identity-pool", POOL]).exits(1);
    r.stderr_has(&format!("identity pool {POOL} does not exist"));
    assert!(!r.ops.is_empty() && r.writes().is_empty(), "{:?}", r.ops);
    assert_eq!(std::fs::read_to_string(s.config_path()).unwrap(), before);
}

/// Runs init on `pool_id` without a config file: exit 1, one error sentence containing
/// `sentence`, and no writes.
fn refused(s: &Stack, pool_id: &str, sentence: &str) -> Run {
    let _ = std::fs::remove_file(s.config_path());
    let r = s.refuses(&["init", "--from-identity-pool", pool_id], sentence);
    let errors = r.stderr.lines().filter(|l| l.starts_with("error: "));
    assert_eq!(errors.count(), 1, "one sentence: {}", r.all());
    r
}

#[test]
fn init_refuses_a_pool_that_does_not_exist() {
    let s = Stack::new("init-no-pool", "");
    let id = POOL;
    refused(&s, id, &format!("identity pool {id} does not exist in region {REGION}"));
    assert!(!s.config_path().exists());
}

#[test]
fn init_refuses_a_pool_without_an_authenticated_role() {
    let s = Stack::new("init-no-role", "");
    let sdk = sdk();
    let pool = block_on(
        sdk.identity
            .create_identity_pool()
            .identity_pool_name(format!("{} identities", s.name))
            .allow_unauthenticated_identities(false)
            .send(),
    )
    .unwrap();
    let id = pool.identity_pool_id();
    refused(
        &s,
        id,
        &format!("identity pool {id} ({} identities) has no authenticated role", s.name),
    );
    assert!(!s.config_path().exists());
}

#[test]
fn a_role_without_a_table_policy_still_gets_a_config_with_placeholders() {
    let s = Stack::new("init-no-policy", "");
    let hand = build(
        &s,
        &Table::on_demand(),
        |pool| console_trust(pool, true),
        &[(
            format!("files-{}", s.name),
            grant(&["s3:GetObject"], &["arn:aws:s3:::notes-files/*".to_string()]),
        )],
        &[],
    );
    refused(
        &s,
        &hand.pool_id,
        &format!("role {} has no attached policy that grants DynamoDB actions on a table; wrote setup.toml", hand.role),
    );
    let text = std::fs::read_to_string(s.config_path()).unwrap();
    let file: toml::Table = toml::from_str(&text).unwrap();
    assert_eq!(file["role"]["name"].as_str(), Some(hand.role.as_str()));
    assert_eq!(file["identity_pool"]["name"].as_str(), Some(hand.pool_name.as_str()));
    assert!(file["table"].get("name").is_none(), "{text}");
    assert!(file["policy"].get("name").is_none(), "{text}");
    assert!(comment_above(&text, "[table]").contains("placeholder"), "{text}");
    // The tool reads it like any config: status compares it with the live resources.
    // The role's other policy is a grant beyond the config: a security finding (exit 3).
    let r = s.run(&["status"]);
    assert_eq!(r.code, 3, "{}", r.all());
    r.stdout_has(&format!("security: managed policy \"files-{}\" is attached", s.name));
}
