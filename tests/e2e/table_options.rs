//! The table options (issue 14): encryption with a customer managed key, Time to Live, table
//! class and global secondary indexes, end to end: apply → status in sync → apply with zero
//! writes → drift by hand → status names it → apply converges; indexes added, removed and
//! replaced (refused without `--allow-index-replace`), one at a time with waiting (realistic
//! mode); a disabled key refused before any write; TTL changed twice within AWS's interval.

use aws_sdk_dynamodb::types::{SseSpecification, TableClass, TimeToLiveStatus};
use serde_json::{json, Value};

use crate::harness::*;

fn disable_key(emu: &Emulator, arn: &str) {
    block_on(kms(emu).disable_key().key_id(arn).send()).unwrap();
}

/// The `[table]` lines and indexes of the options config.
fn options(alias: &str, indexes: &str) -> String {
    format!(
        "encryption = \"customer-managed\"\nkms_key = \"alias/{alias}\"\nttl_attribute = \"expiresAt\"\ntable_class = \"STANDARD_INFREQUENT_ACCESS\"\n{indexes}"
    )
}

const BY_EMAIL: &str = "\n[[table.global_secondary_indexes]]\nname = \"byEmail\"\npartition_key = { name = \"email\", type = \"S\" }\nsort_key = { name = \"createdAt\", type = \"S\" }\nprojection = \"ALL\"\n";
const BY_TEAM: &str = "\n[[table.global_secondary_indexes]]\nname = \"byTeam\"\npartition_key = { name = \"team\", type = \"S\" }\nprojection = { include = [\"displayName\"] }\n";

/// The fields `status --output json` reports as changed for the table.
fn table_changes(s: &Stack, code: i32) -> (Vec<String>, Value) {
    let r = s.expect(code, &["status", "--output", "json"]);
    let j = r.json();
    let table = r.step(&j, "table").clone();
    let fields = table["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["field"].as_str().unwrap().to_string())
        .collect();
    (fields, table)
}

/// The index names and statuses DescribeTable reports.
fn indexes(sdk: &Sdk, table: &str) -> Vec<(String, String)> {
    let t = block_on(sdk.table(table));
    let mut out: Vec<(String, String)> = t
        .global_secondary_indexes()
        .iter()
        .map(|i| {
            (i.index_name().unwrap().to_string(), i.index_status().unwrap().as_str().to_string())
        })
        .collect();
    out.sort();
    out
}

fn ttl(sdk: &Sdk, table: &str) -> (String, Option<String>) {
    let out = block_on(sdk.dynamodb.describe_time_to_live().table_name(table).send()).unwrap();
    let d = out.time_to_live_description().unwrap();
    (d.time_to_live_status().unwrap().as_str().to_string(), d.attribute_name().map(str::to_string))
}

#[test]
fn table_options_apply_stay_in_sync_and_converge_after_drift() {
    let emu = emulator();
    let alias = "table-options-key";
    let key = create_key(emu, alias);
    let s = Stack::new("table-options", "");
    s.write_config(&s.table_config(&options(alias, &format!("{BY_EMAIL}{BY_TEAM}")), ""));
    let sdk = sdk();

    let plan = s.ok(&["plan"]);
    plan.stdout_has(&format!("customer managed key {key}"))
        .stdout_has("indexes byEmail, byTeam")
        .stdout_has("turn Time to Live on (attribute expiresAt)")
        // The access policy's KMS grant, on the key's ARN (the config names an alias).
        .stdout_has(&format!("kms:Decrypt, kms:GenerateDataKey on {key}"));
    s.ok(&["apply"]);

    let t = block_on(sdk.table(&s.table()));
    let sse = t.sse_description().unwrap();
    assert_eq!(sse.kms_master_key_arn(), Some(key.as_str()));
    assert_eq!(
        t.table_class_summary().and_then(|c| c.table_class()),
        Some(&TableClass::StandardInfrequentAccess)
    );
    assert_eq!(
        indexes(&sdk, &s.table()),
        [
            ("byEmail".to_string(), "ACTIVE".to_string()),
            ("byTeam".to_string(), "ACTIVE".to_string())
        ]
    );
    // Attribute definitions: the keys in use, each once.
    let mut defined: Vec<&str> =
        t.attribute_definitions().iter().map(|a| a.attribute_name()).collect();
    defined.sort();
    assert_eq!(defined, ["createdAt", "email", "team", "userId"]);
    assert_eq!(ttl(&sdk, &s.table()), ("ENABLED".to_string(), Some("expiresAt".to_string())));
    // The access policy may use that key, through DynamoDB, and nothing else.
    let doc = block_on(sdk.default_document(&s.policy_arn()));
    let kms_statements: Vec<&Value> = doc["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|st| st.to_string().contains("kms:"))
        .collect();
    assert_eq!(
        kms_statements,
        [&json!({
            "Sid": "TableKey",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
            "Resource": key,
            "Condition": {"StringEquals": {
                "kms:ViaService": "dynamodb.us-east-1.amazonaws.com",
                "kms:EncryptionContext:aws:dynamodb:tableName": s.table(),
            }}
        })]
    );
    // The independent simulator: the key serves DynamoDB's calls for this table, and not for
    // another table that shares the key, nor calls made to KMS directly.
    let mut sim = IamSim::start();
    let role =
        format!("arn:aws:sts::{ACCOUNT}:assumed-role/{}/CognitoIdentityCredentials", s.role());
    let via = |table: &str| {
        json!({"kms:ViaService": "dynamodb.us-east-1.amazonaws.com",
               "kms:EncryptionContext:aws:dynamodb:tableName": table,
               "kms:EncryptionContext:aws:dynamodb:subscriberId": ACCOUNT})
    };
    let direct = json!({"kms:EncryptionContext:aws:dynamodb:tableName": s.table()});
    // KMS decides with the key policy too: the default one, which leaves it to IAM.
    let key_policy = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:root")}, "Action": "kms:*", "Resource": "*"}]});
    for (what, action, context, want) in [
        ("this table", "kms:Decrypt", via(&s.table()), "Allowed"),
        ("this table", "kms:GenerateDataKey", via(&s.table()), "Allowed"),
        ("another table", "kms:Decrypt", via("other-table"), "ImplicitlyDenied"),
        ("KMS called directly", "kms:Decrypt", direct, "ImplicitlyDenied"),
    ] {
        let got = sim.decide(
            &role,
            action,
            &key,
            &context,
            std::slice::from_ref(&doc),
            Some(&key_policy),
        );
        assert_eq!(got, want, "{what}: {action}");
    }

    assert_eq!(table_changes(&s, 0).0, Vec::<String>::new());
    s.ok(&["apply"]).no_writes();

    // Drift by hand: the AWS owned key, the standard class, an index deleted, TTL off.
    block_on(async {
        use aws_sdk_dynamodb::types::{
            DeleteGlobalSecondaryIndexAction, GlobalSecondaryIndexUpdate, TimeToLiveSpecification,
        };
        let db = &sdk.dynamodb;
        let update = || db.update_table().table_name(s.table());
        let no_sse = SseSpecification::builder().enabled(false).build();
        update().sse_specification(no_sse).send().await.unwrap();
        update().table_class(TableClass::Standard).send().await.unwrap();
        let by_team = DeleteGlobalSecondaryIndexAction::builder().index_name("byTeam").build();
        let delete = GlobalSecondaryIndexUpdate::builder().delete(by_team.unwrap()).build();
        update().global_secondary_index_updates(delete).send().await.unwrap();
        let ttl_off = TimeToLiveSpecification::builder().attribute_name("expiresAt").enabled(false);
        let ttl = db.update_time_to_live().table_name(s.table());
        ttl.time_to_live_specification(ttl_off.build().unwrap()).send().await.unwrap();
    });
    let (fields, table) = table_changes(&s, 2);
    assert_eq!(
        fields,
        ["encryption", "table_class", "global_secondary_indexes.byTeam", "ttl_attribute"],
        "{table}"
    );
    assert_eq!(table["changes"][0]["live"], "aws-owned");
    assert_eq!(table["changes"][0]["desired"], format!("customer-managed ({key})"));
    s.run(&["status"]).stdout_has("global_secondary_indexes.byTeam");
    let fix = s.ok(&["apply"]);
    for op in ["UpdateTable", "UpdateTimeToLive"] {
        assert!(fix.count(op) >= 1, "{op}: {:?}", fix.ops);
    }
    assert_eq!(table_changes(&s, 0).0, Vec::<String>::new());
    assert_eq!(
        block_on(sdk.table(&s.table()))
            .sse_description()
            .and_then(|d| d.kms_master_key_arn())
            .map(str::to_string),
        Some(key.clone())
    );

    // An index removed from the config: plan shows it, only apply deletes it.
    s.write_config(&s.table_config(&options(alias, BY_EMAIL), ""));
    s.ok(&["plan"]).stdout_has("delete index byTeam (not in the config)").no_writes();
    assert_eq!(indexes(&sdk, &s.table()).len(), 2);
    s.ok(&["apply"]).stdout_has("deleted index byTeam");
    assert_eq!(indexes(&sdk, &s.table()), [("byEmail".to_string(), "ACTIVE".to_string())]);
    let defined: Vec<String> = block_on(sdk.table(&s.table()))
        .attribute_definitions()
        .iter()
        .map(|a| a.attribute_name().to_string())
        .collect();
    assert!(!defined.contains(&"team".to_string()), "{defined:?}");

    // A changed index: replace in plan, refused without the flag, then done with it.
    let changed = BY_EMAIL.replace("projection = \"ALL\"", "projection = \"KEYS_ONLY\"");
    s.write_config(&s.table_config(&options(alias, &changed), ""));
    // plan says so, and exits 1 like apply would refuse; with the flag it plans the replacement.
    let plan = s.run(&["plan", "-o", "json"]);
    assert_eq!(plan.code, 1, "{}", plan.all());
    let errors = plan.json()["errors"].to_string();
    assert!(errors.contains("table: index byEmail changed keys or projection"), "{errors}");
    s.ok(&["plan", "--allow-index-replace"])
        .stdout_has("with --allow-index-replace: replace index byEmail");
    s.refuses(
        &["apply"],
        "index byEmail changed keys or projection in the config, and DynamoDB cannot change an index in place",
    )
    .stderr_has("run `setup apply --allow-index-replace`");
    s.ok(&["apply", "--allow-index-replace"]).stdout_has("replaced index byEmail");
    let t = block_on(sdk.table(&s.table()));
    let projection = t.global_secondary_indexes()[0]
        .projection()
        .and_then(|p| p.projection_type())
        .map(|p| p.as_str().to_string());
    assert_eq!(projection.as_deref(), Some("KEYS_ONLY"));
    s.ok(&["apply"]).no_writes();

    // TTL removed from the config: turned off.
    s.write_config(&s.table_config(
        &options(alias, &changed).replace("ttl_attribute = \"expiresAt\"\n", ""),
        "",
    ));
    s.ok(&["apply"]).stdout_has("turned Time to Live off");
    assert_eq!(ttl(&sdk, &s.table()).0, TimeToLiveStatus::Disabled.as_str());

    s.ok(&["teardown", "--delete-table", "--yes"]);
}

/// PROVISIONED: a switch from on demand gives the index its capacity in the same UpdateTable
/// (AWS refuses it otherwise), and an index's capacity is changed in place.
#[test]
fn a_billing_switch_carries_the_index_capacity() {
    let s = Stack::new("table-options-billing", "");
    let sdk = sdk();
    s.write_config(&s.table_config(BY_EMAIL, ""));
    s.ok(&["apply"]);
    let provisioned = |read: i64| {
        format!(
            "billing_mode = \"PROVISIONED\"\nread_capacity = 2\nwrite_capacity = 2\n{BY_EMAIL}read_capacity = {read}\nwrite_capacity = 1\n"
        )
    };
    s.write_config(&s.table_config(&provisioned(3), ""));
    let r = s.ok(&["apply"]);
    assert_eq!(r.count("UpdateTable"), 1, "one call: {:?}", r.ops);
    let capacity = || {
        let t = block_on(sdk.table(&s.table()));
        let p = t.global_secondary_indexes()[0].provisioned_throughput().unwrap().clone();
        (p.read_capacity_units(), p.write_capacity_units())
    };
    assert_eq!(capacity(), (Some(3), Some(1)));
    s.ok(&["apply"]).no_writes();
    s.write_config(&s.table_config(&provisioned(5), ""));
    let (fields, _) = table_changes(&s, 2);
    assert_eq!(fields, ["global_secondary_indexes.byEmail.capacity"]);
    s.ok(&["apply"]).stdout_has("set capacity of index byEmail (read 5, write 1)");
    assert_eq!(capacity(), (Some(5), Some(1)));
    s.ok(&["teardown", "--delete-table", "--yes"]);
}

/// A key DynamoDB cannot use (disabled, missing) is found by DescribeKey and refused before
/// anything is written, with what to do.
#[test]
fn an_unusable_kms_key_is_refused_before_any_write() {
    let emu = emulator();
    let alias = "table-options-disabled";
    let key = create_key(emu, alias);
    disable_key(emu, &key);
    let s = Stack::new("table-options-disabled-key", "");
    s.write_config(&s.table_config(&options(alias, ""), ""));
    let r = s.refuses(&["apply"], &format!("KMS key {key} is Disabled"));
    r.stderr_has("enable it (`aws kms enable-key");
    assert!(!block_on(sdk().table_exists(&s.table())));

    // An existing table switched to the disabled key: refused, the table keeps its key.
    s.write_config(&s.table_config("", ""));
    s.ok(&["apply"]);
    s.write_config(&s.table_config(&options(alias, ""), ""));
    s.refuses(&["apply"], &format!("KMS key {key} is Disabled"));
    let t = block_on(sdk().table(&s.table()));
    assert!(t.sse_description().is_none(), "{t:?}");
    let (_, table) = table_changes(&s, 2);
    assert!(table["blocked"].as_str().unwrap().contains("is Disabled"), "{table}");

    s.write_config(&s.table_config(&options("no-such-key", ""), ""));
    s.refuses(&["apply"], "KMS key alias/no-such-key was not found in region us-east-1");
    // kms:DescribeKey denied to the operator: said as a denial, not as a missing key.
    s.write_config(&s.table_config(&options(alias, ""), ""));
    let denied = json!({"rate": 1.0, "kinds": ["denied"], "ops": ["DescribeKey"]});
    let r = s.run_with_faults(denied, &["plan"]);
    assert_eq!(r.code, 1, "{}", r.all());
    r.stderr_has(&format!("reading KMS key alias/{alias} (kms:DescribeKey): access denied"));
    assert!(!r.all().contains("was not found"), "{}", r.all());
    s.write_config(&s.table_config("", ""));
    s.ok(&["teardown", "--delete-table", "--yes"]);
}

/// Realistic mode: a new index is CREATING (backfilling) for a while, DynamoDB takes one index
/// change at a time, and apply waits for each before the next.
#[test]
fn indexes_are_added_and_removed_one_at_a_time_with_waiting() {
    let emu = realistic_emulator();
    // Backfilling outlasts the UPDATING that follows every UpdateTable (table_updating).
    let windows = emu.realistic();
    emu.set_realistic(json!({"index_creating": 5.0, "index_deleting": 5.0}));
    let s = Stack::on(emu, "table-options-indexes", "");
    let sdk = emu.sdk();
    s.ok(&["apply"]);
    // Two new indexes: two UpdateTable calls, each waited for until ACTIVE.
    s.write_config(&s.table_config(&format!("{BY_EMAIL}{BY_TEAM}"), ""));
    let r = s.ok(&["apply"]);
    assert_eq!(r.count("UpdateTable"), 2, "{:?}", r.ops);
    assert!(r.count("DescribeTable") >= 4, "apply should have waited for each index: {:?}", r.ops);
    // Right after apply, both are ACTIVE (without the wait the second would be refused or
    // still CREATING).
    assert_eq!(
        indexes(&sdk, &s.table()),
        [
            ("byEmail".to_string(), "ACTIVE".to_string()),
            ("byTeam".to_string(), "ACTIVE".to_string())
        ]
    );
    s.ok(&["apply"]).no_writes();
    // Both removed: deleted one after the other, gone when apply ends (not DELETING).
    s.write_config(&s.table_config("", ""));
    let r = s.ok(&["apply"]);
    assert_eq!(r.count("UpdateTable"), 2, "{:?}", r.ops);
    assert_eq!(indexes(&sdk, &s.table()), []);
    emu.set_realistic(json!({
        "index_creating": windows["index_creating"],
        "index_deleting": windows["index_deleting"],
    }));
    s.ok(&["teardown", "--delete-table", "--yes"]);
}

/// Realistic mode: AWS refuses a second TTL change within its interval; apply says so in one
/// sentence and does not retry.
#[test]
fn ttl_changed_twice_within_the_interval_is_one_sentence() {
    let emu = realistic_emulator();
    // AWS's interval is about an hour; long enough here for the next apply to fall within it.
    let window = emu.realistic()["ttl_interval"].clone();
    emu.set_realistic(json!({"ttl_interval": 120.0}));
    let s = Stack::on(emu, "table-options-ttl", "");
    s.write_config(&s.table_config("ttl_attribute = \"expiresAt\"\n", ""));
    s.ok(&["apply"]);
    // Moving TTL to another attribute takes two applies: plan says so.
    s.write_config(&s.table_config("ttl_attribute = \"validUntil\"\n", ""));
    s.ok(&["plan"]).stdout_has("Time to Live moves from expiresAt to validUntil in two changes");
    // Turning it off right after turning it on.
    s.write_config(&s.table_config("", ""));
    let r = s.expect(1, &["apply"]);
    r.stdout_has(&format!(
        "Time to Live of table {} was changed less than about an hour ago, and AWS allows one change per table in that time: run `setup apply` again in an hour to turn it off",
        s.table()
    ));
    assert_eq!(r.count("UpdateTimeToLive"), 1, "no retry loop: {:?}", r.ops);
    let sdk = emu.sdk();
    assert_eq!(ttl(&sdk, &s.table()).0, "ENABLED");
    emu.set_realistic(json!({ "ttl_interval": window }));
    s.ok(&["teardown", "--delete-table", "--yes"]);
}
