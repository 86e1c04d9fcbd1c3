//! Per-user isolation, end to end. The emulator evaluates every DynamoDB call signed with the
//! identity pool's temporary credentials against the role's policies (tests/emu/iam_enforce.py,
//! an evaluator independent of src/policy_eval.rs), so a policy mistake fails for real: each
//! case below is checked through `setup verify` (the right hop, the right cause) and through
//! plain SDK calls with the identity's credentials, as an app makes them.
//!
//! The hole these tests close: `ForAllValues:StringEquals` on `dynamodb:LeadingKeys` is true for
//! a request with no partition key (a Scan), so an isolated policy without a `Null` guard lets
//! every signed-in user read every user's items.
//!
//! These stacks key items by the identity id (`isolation_key = "identity-id"`), whose value an
//! app reads from `GetId`; tests/e2e/sub_isolation.rs covers the default, the user pool sub.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use serde_json::{json, Value};

use crate::harness::*;

const ISOLATED: &str = "[policy]\nper_user_isolation = true\nisolation_key = \"identity-id\"\nactions = [\"dynamodb:GetItem\", \"dynamodb:PutItem\", \"dynamodb:UpdateItem\", \"dynamodb:Query\"]\n";

/// A stack with `policy` (a `[policy]` section) and its own table.
pub fn stack(name: &str, policy: &str) -> Stack {
    let s = Stack::new(name, "");
    s.write_config(&format!("\n[table]\nname = \"{}\"\n\n{policy}", s.table()));
    s
}

/// `verify`'s report `j` fails first at the isolation hop, whose error starts with `error` and
/// whose cause starts with `cause`.
fn isolation_fails(j: &Value, error: &str, cause: &str) {
    failed_at(j, "isolation", cause);
    let hop_error = hop(j, "isolation")["error"].as_str().unwrap();
    assert!(hop_error.starts_with(error), "{j}");
}

pub fn verify_json(s: &Stack) -> Value {
    let r = s.run(&["verify", "--create-test-user", "-o", "json"]);
    assert!(r.code == 0 || r.code == 1, "{}", r.all());
    r.json()
}

/// Makes `doc` the default version of the stack's access policy (a change by hand).
fn set_policy(s: &Stack, doc: &Value) {
    block_on(sdk().set_policy_document(&s.policy_arn(), &doc.to_string()));
}

/// The stack's policy as the tool writes it, with `edit` applied.
fn edited_policy(s: &Stack, edit: impl FnOnce(&mut Value)) -> Value {
    let mut doc = block_on(sdk().default_document(&s.policy_arn()));
    edit(&mut doc);
    doc
}

/// A signed-in user of the stack's identity pool, as an app has one: its identity id, its user
/// pool sub, and a DynamoDB client signed with its temporary credentials.
pub struct Identity {
    pub id: String,
    pub sub: String,
    pub ddb: aws_sdk_dynamodb::Client,
    /// The ARN STS names for the credentials Cognito handed out (`…:assumed-role/<role>/…`).
    pub caller: String,
}

pub const PASSWORD: &str = "Isolation-Test-7-pw!";

pub fn sign_in(s: &Stack, user: &str) -> Identity {
    create_user(user, PASSWORD);
    sign_in_existing(s, user)
}

/// Signs in a user made with [`PASSWORD`] and gets the identity pool's credentials.
pub fn sign_in_existing(s: &Stack, user: &str) -> Identity {
    let password = PASSWORD;
    let emu = s.emu;
    let pool_id = s.pool_id();
    block_on(async {
        let conf = sdk_config(emu, &fresh_key()).await;
        let idp = aws_sdk_cognitoidentityprovider::Client::new(&conf);
        let auth = idp
            .initiate_auth()
            .client_id(&s.client_id)
            .auth_flow(aws_sdk_cognitoidentityprovider::types::AuthFlowType::UserPasswordAuth)
            .auth_parameters("USERNAME", user)
            .auth_parameters("PASSWORD", password)
            .send()
            .await
            .unwrap();
        let tokens = auth.authentication_result().unwrap();
        let token = tokens.id_token().unwrap().to_string();
        let me = idp.get_user().access_token(tokens.access_token().unwrap()).send().await.unwrap();
        let sub = me.user_attributes().iter().find(|a| a.name() == "sub").unwrap();
        let sub = sub.value().unwrap().to_string();
        let provider = format!("cognito-idp.{REGION}.amazonaws.com/{}", s.user_pool_id);
        let identity = aws_sdk_cognitoidentity::Client::new(&conf);
        let id = identity
            .get_id()
            .identity_pool_id(&pool_id)
            .logins(&provider, &token)
            .send()
            .await
            .unwrap()
            .identity_id()
            .unwrap()
            .to_string();
        let creds = identity
            .get_credentials_for_identity()
            .identity_id(&id)
            .logins(&provider, &token)
            .send()
            .await
            .unwrap();
        let issued = creds.credentials().unwrap();
        let caller = sts_caller(&conf, issued).await;
        Identity { id, sub, ddb: dynamodb_as(&conf, issued, "identity"), caller }
    })
}

/// An item key of the default user-profiles layout (userId, createdAt).
pub fn key(pk: &str) -> HashMap<String, AttributeValue> {
    HashMap::from([
        ("userId".to_string(), AttributeValue::S(pk.to_string())),
        ("createdAt".to_string(), AttributeValue::S("1".to_string())),
    ])
}

/// The error code of a call with the identity's credentials (`None`: it succeeded).
fn code_of<T, E: ProvideErrorMetadata>(
    r: Result<
        T,
        aws_smithy_runtime_api::client::result::SdkError<
            E,
            aws_smithy_runtime_api::client::orchestrator::HttpResponse,
        >,
    >,
) -> Option<String> {
    r.err().map(|e| e.code().unwrap_or("no code").to_string())
}

pub const DENIED: Option<&str> = Some("AccessDeniedException");

impl Identity {
    pub fn put(&self, table: &str, pk: &str) -> Option<String> {
        code_of(block_on(self.ddb.put_item().table_name(table).set_item(Some(key(pk))).send()))
    }
    pub fn get(&self, table: &str, pk: &str) -> Option<String> {
        code_of(block_on(self.ddb.get_item().table_name(table).set_key(Some(key(pk))).send()))
    }
    pub fn update(&self, table: &str, pk: &str) -> Option<String> {
        code_of(block_on(
            self.ddb
                .update_item()
                .table_name(table)
                .set_key(Some(key(pk)))
                .update_expression("SET n = :n")
                .expression_attribute_values(":n", AttributeValue::N("1".into()))
                .send(),
        ))
    }
    /// A Query on index `index` whose partition key attribute is `attr`.
    fn query_index(&self, table: &str, index: &str, attr: &str, value: &str) -> Option<String> {
        let call = self.ddb.query().table_name(table).index_name(index);
        let call = call.key_condition_expression("#k = :v").expression_attribute_names("#k", attr);
        code_of(block_on(
            call.expression_attribute_values(":v", AttributeValue::S(value.into())).send(),
        ))
    }
    pub fn scan(&self, table: &str) -> Option<String> {
        code_of(block_on(self.ddb.scan().table_name(table).send()))
    }
}

#[test]
fn config_refuses_actions_without_a_partition_key_under_isolation() {
    for (i, action) in ["dynamodb:Scan", "dynamodb:PartiQLSelect", "dynamodb:PartiQLDelete"]
        .into_iter()
        .enumerate()
    {
        let s = stack(
            &format!("iso-refuse-{i}"),
            &format!(
                "[policy]\nper_user_isolation = true\nactions = [\"dynamodb:GetItem\", \"{action}\"]\n"
            ),
        );
        let r = s.run(&["plan"]);
        assert_eq!(r.code, 1, "{action}: {}", r.all());
        assert!(
            r.stderr.contains("policy.actions.1") && r.stderr.contains(action),
            "{action}: {}",
            r.all()
        );
        r.stderr_has("would always be denied");
        assert!(r.ops.is_empty(), "refused before any AWS call: {:?}", r.ops);
    }
}

#[test]
fn the_generated_isolated_policy_guards_requests_without_leading_keys() {
    let s = stack("iso-guard", ISOLATED);
    s.ok(&["apply"]);
    // verify proves it: its own item works, another identity's key and a Scan are denied.
    let j = verify_json(&s);
    assert_eq!(j["ok"], true, "{j}");
    let h = hop(&j, "isolation");
    assert_eq!(h["status"], "ok", "{h}");
    assert!(field(h, "detail").contains("and Scan were both denied"), "{h}");
    // An app's own calls: its identity id as key works, anything else is denied.
    let alice = sign_in(&s, &format!("iso-alice-{}", std::process::id()));
    let bob = sign_in(&s, &format!("iso-bob-{}", std::process::id()));
    let t = s.table();
    assert_eq!(alice.put(&t, &alice.id), None);
    assert_eq!(alice.get(&t, &alice.id), None);
    assert_eq!(bob.put(&t, &bob.id), None);
    assert_eq!(alice.get(&t, &bob.id).as_deref(), DENIED, "another user's key");
    assert_eq!(alice.update(&t, &bob.id).as_deref(), DENIED);
    assert_eq!(alice.scan(&t).as_deref(), DENIED, "Scan under isolation");
    // The user pool's sub is not the identity id.
    assert_eq!(alice.put(&t, "0f4e2c1a-1111-2222-3333-444444444444").as_deref(), DENIED);
    // What does it: the Null guard next to the ForAllValues condition.
    let doc = block_on(sdk().default_document(&s.policy_arn()));
    assert_eq!(doc["Statement"][0]["Condition"]["Null"]["dynamodb:LeadingKeys"], "false", "{doc}");
}

#[test]
fn a_hand_written_isolated_policy_without_the_guard_is_flagged_and_caught_by_verify() {
    let s = stack("iso-hole", ISOLATED);
    s.ok(&["apply"]);
    assert!(notes(&s).is_empty(), "the generated policy has no findings");
    // By hand: Scan added, the Null guard removed — the policy many tutorials show.
    let hole = edited_policy(&s, |d| {
        let st = &mut d["Statement"][0];
        st["Action"].as_array_mut().unwrap().push("dynamodb:Scan".into());
        st["Condition"].as_object_mut().unwrap().remove("Null");
    });
    set_policy(&s, &hole);

    // status and plan name the hole and what any signed-in user can do.
    let want = "security: any signed-in user can read every user's items with dynamodb:Scan, because ForAllValues over a request with no partition key is true";
    assert!(notes(&s).iter().any(|n| n.starts_with(want)), "{:#?}", notes(&s));
    let plan = s.run(&["plan"]);
    plan.stdout_has(want);

    // The emulator's own evaluator agrees: a Scan with the identity's credentials succeeds.
    let alice = sign_in(&s, &format!("iso-hole-alice-{}", std::process::id()));
    let bob = sign_in(&s, &format!("iso-hole-bob-{}", std::process::id()));
    let t = s.table();
    assert_eq!(bob.put(&t, &bob.id), None);
    assert_eq!(alice.scan(&t), None, "the hole is real: Scan is allowed");
    assert_eq!(alice.get(&t, &bob.id).as_deref(), DENIED);

    // verify fails at the isolation hop, on the Scan, with the cause.
    let j = verify_json(&s);
    isolation_fails(&j, "Scan (no partition key) was allowed", &format!("policy {} lets any signed-in user read every user's items with dynamodb:Scan, because ForAllValues", s.policy()));
    // The earlier hops passed: only isolation is wrong.
    for h in ["put-item", "get-item", "update-item", "query"] {
        assert_eq!(hop(&j, h)["status"], "ok", "{h}: {j}");
    }

    // apply restores the guarded policy; Scan is denied again and verify passes.
    s.ok(&["apply"]);
    assert!(notes(&s).is_empty(), "{:#?}", notes(&s));
    assert_eq!(alice.scan(&t).as_deref(), DENIED);
    assert_eq!(verify_json(&s)["ok"], true);
}

#[test]
fn a_policy_without_the_leading_keys_condition_fails_the_isolation_hop() {
    let s = stack("iso-shared", ISOLATED);
    s.ok(&["apply"]);
    let shared = edited_policy(&s, |d| {
        d["Statement"][0].as_object_mut().unwrap().remove("Condition");
    });
    set_policy(&s, &shared);
    let alice = sign_in(&s, &format!("iso-shared-alice-{}", std::process::id()));
    let t = s.table();
    assert_eq!(alice.get(&t, "us-east-1:00000000-0000-0000-0000-000000000000"), None);

    let j = verify_json(&s);
    isolation_fails(&j, "GetItem on another user's partition key", &format!("policy {} has no dynamodb:LeadingKeys condition, so every signed-in user may use every item of table {t}", s.policy()));
}

/// Each policy mistake fails at the hop that meets it, with the cause named, and an app's
/// own call with the identity's credentials is denied the same way.
#[test]
fn each_policy_mistake_fails_at_its_hop_in_verify_and_in_an_app() {
    let pid = std::process::id();

    // A missing action: UpdateItem is not granted.
    let s = stack(
        "iso-missing-action",
        "[policy]\nper_user_isolation = true\nisolation_key = \"identity-id\"\nactions = [\"dynamodb:GetItem\", \"dynamodb:PutItem\"]\n",
    );
    s.ok(&["apply"]);
    let j = verify_json(&s);
    let missing = format!(
        "missing action: policy {} does not allow dynamodb:UpdateItem on table {}",
        s.policy(),
        s.table()
    );
    failed_at(&j, "update-item", &missing);
    let app = sign_in(&s, &format!("iso-missing-{pid}"));
    assert_eq!(app.put(&s.table(), &app.id), None);
    assert_eq!(app.update(&s.table(), &app.id).as_deref(), DENIED);

    // A detached policy: the role grants nothing.
    let s = stack("iso-detached", ISOLATED);
    s.ok(&["apply"]);
    let app = sign_in(&s, &format!("iso-detached-{pid}"));
    assert_eq!(app.put(&s.table(), &app.id), None);
    block_on(sdk().detach_policy(&s.role(), &s.policy_arn()));
    let j = verify_json(&s);
    let detached =
        format!("policy {} is not attached to role {}; run `setup apply`", s.policy(), s.role());
    assert_eq!(failed_at(&j, "put-item", &detached), detached);
    assert_eq!(app.get(&s.table(), &app.id).as_deref(), DENIED);

    // A policy on another table.
    let s = stack("iso-other-table", ISOLATED);
    s.ok(&["apply"]);
    let other = format!("arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/someone-elses-table");
    let moved = edited_policy(&s, |d| d["Statement"][0]["Resource"] = json!(other));
    set_policy(&s, &moved);
    let j = verify_json(&s);
    let elsewhere = format!(
        "policy {} grants dynamodb:PutItem only on {other}, not on table {}",
        s.policy(),
        s.table()
    );
    failed_at(&j, "put-item", &elsewhere);
    let app = sign_in(&s, &format!("iso-other-{pid}"));
    assert_eq!(app.put(&s.table(), &app.id).as_deref(), DENIED);
}

#[test]
fn a_not_owned_policy_with_the_hole_is_flagged_before_adoption() {
    // A policy written by hand under the stack's policy name, before the first apply.
    let s = stack("iso-not-owned", ISOLATED);
    let doc = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:PartiQLSelect"],
        "Resource": format!("arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{}", s.table()),
        "Condition": {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["${cognito-identity.amazonaws.com:sub}"]}}}]});
    block_on(
        sdk().iam.create_policy().policy_name(s.policy()).policy_document(doc.to_string()).send(),
    )
    .unwrap();
    let r = s.run(&["plan", "-o", "json"]);
    let j = r.json();
    let step = r.step(&j, "access-policy");
    assert_eq!(step["state"], "not_owned", "{step}");
    let notes: Vec<&str> =
        step["notes"].as_array().unwrap().iter().map(|n| n.as_str().unwrap()).collect();
    assert!(
        notes.iter().any(|n| n.starts_with(
            "security: any signed-in user can read every user's items with dynamodb:PartiQLSelect, because ForAllValues"
        )),
        "{notes:#?}"
    );
}

/// The access-policy notes of `status`.
fn notes(s: &Stack) -> Vec<String> {
    s.status_notes("access-policy")
}

/// A Query that names an index is authorized on the index's ARN (`<table>/index/<name>`), which
/// the emulator's IAM evaluation uses like AWS: the generated policies cover the table's indexes,
/// shared and under isolation (where the leading key of an index is its own partition key).
#[test]
fn signed_in_users_can_query_the_tables_indexes() {
    const INDEXES: &str = "[[table.global_secondary_indexes]]\nname = \"byEmail\"\npartition_key = { name = \"email\", type = \"S\" }\n\n[[table.global_secondary_indexes]]\nname = \"byUser\"\npartition_key = { name = \"userId\", type = \"S\" }\nsort_key = { name = \"email\", type = \"S\" }\n";
    let shared = "[policy]\nactions = [\"dynamodb:GetItem\", \"dynamodb:Query\"]\n";
    let s = stack("iso-index-shared", &format!("{INDEXES}\n{shared}"));
    s.ok(&["apply"]);
    let u = sign_in(&s, "index-reader");
    assert_eq!(u.query_index(&s.table(), "byEmail", "email", "a@example.com"), None);
    assert_eq!(u.query_index(&s.table(), "byUser", "userId", "someone-else"), None);

    let s = stack("iso-index-own", &format!("{INDEXES}\n{ISOLATED}"));
    s.ok(&["apply"]);
    let u = sign_in(&s, "index-owner");
    assert_eq!(u.query_index(&s.table(), "byUser", "userId", &u.id), None);
    assert_eq!(u.query_index(&s.table(), "byUser", "userId", "someone-else").as_deref(), DENIED);
    // An index keyed by something else cannot be limited to the user's own items: denied.
    assert_eq!(u.query_index(&s.table(), "byEmail", "email", "a@example.com").as_deref(), DENIED);
}

/// A statement in the table's resource-based policy that lets the signed-in role Scan breaks
/// isolation without touching the role's policies: the isolation hop names that statement (the
/// emulator enforces the table's policy like DynamoDB), and `status` shows it as a security
/// finding on the table.
#[test]
fn a_table_resource_policy_that_breaks_isolation_is_named() {
    let s = stack("iso-resource-policy", ISOLATED);
    s.ok(&["apply"]);
    let table_arn = format!("arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{}", s.table());
    let doc = json!({"Version": "2012-10-17", "Statement": [{"Sid": "Reports", "Effect": "Allow",
        "Principal": {"AWS": s.role_arn()}, "Action": "dynamodb:Scan", "Resource": table_arn}]});
    block_on(
        sdk()
            .dynamodb
            .put_resource_policy()
            .resource_arn(&table_arn)
            .policy(doc.to_string())
            .send(),
    )
    .unwrap();
    let j = verify_json(&s);
    isolation_fails(
        &j,
        "Scan (no partition key) was allowed",
        &format!(
            "dynamodb:Scan with no partition key was allowed although policy {} does not allow it: the resource-based policy of table {} grants it (statement \"Reports\"; setup does not manage that policy)",
            s.policy(),
            s.table()
        ),
    );
    let findings: Vec<String> =
        s.status_notes("table").into_iter().filter(|n| n.starts_with("security: ")).collect();
    assert_eq!(
        findings,
        [format!(
            "security: the resource-based policy of table {} grants role {} (every signed-in user) dynamodb:Scan, which [policy] actions does not (statement \"Reports\"); setup does not manage that policy: remove the grant",
            s.table(),
            s.role()
        )]
    );
    s.ok(&["teardown", "--delete-table", "--yes"]);
}
