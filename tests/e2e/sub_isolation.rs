//! Per-user isolation by the user pool sub (`isolation_key = "user-pool-sub"`, the default), end
//! to end with IAM enforced on the identity pool's credentials. The data model is one rule,
//! `userId` = the user pool `sub`: a backend writes it from `x-amzn-oidc-identity`, and the app
//! reaches the same item through the identity pool, which passes the sub into the session as the
//! principal tag `sub`. Then each way that wiring breaks by hand, named and repaired.

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::Value;

use crate::harness::*;
use crate::isolation::{key, sign_in, stack, verify_json, DENIED};

const BY_SUB: &str = "[policy]\nper_user_isolation = true\nactions = [\"dynamodb:GetItem\", \"dynamodb:PutItem\", \"dynamodb:UpdateItem\", \"dynamodb:Query\"]\n";

fn json_of(s: &Stack, args: &[&str], code: i32) -> Value {
    s.expect(code, &[args, &["-o", "json"]].concat()).json()
}

/// The notes of `step` in a JSON report.
fn notes_of(j: &Value, step: &str) -> Vec<String> {
    let s = entry(j, "steps", "step", step);
    s["notes"].as_array().unwrap().iter().map(|n| n.as_str().unwrap().to_string()).collect()
}

/// Runs `apply` with `first` held at the emulator, checks that `then` is not sent while `first`
/// is held (it waits for it), then lets it finish.
fn apply_holding(s: &Stack, first: &str, then: &str) {
    s.control("hold", serde_json::json!({"op": first, "when": "before"}));
    let (child, key) = s.spawn(&["apply"]);
    s.wait_held(&key, first, "before");
    std::thread::sleep(std::time::Duration::from_millis(500));
    let early: Vec<String> = s.emu.calls(&key).into_iter().map(|c| c.operation).collect();
    s.control("release", serde_json::json!({}));
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!early.iter().any(|o| o == then), "{then} was sent while {first} was held: {early:?}");
    let all: Vec<String> = s.emu.calls(&key).into_iter().map(|c| c.operation).collect();
    assert!(all.iter().any(|o| o == then), "{then} was never sent: {all:?}");
}

fn has_note(j: &Value, step: &str, start: &str) -> bool {
    notes_of(j, step).iter().any(|n| n.starts_with(start))
}

#[test]
fn the_backend_and_the_app_share_each_users_items_keyed_by_the_sub() {
    let s = stack("sub-seed", BY_SUB);
    s.ok(&["apply"]);
    let j = json_of(&s, &["status"], 0);
    assert_eq!(entry(&j, "steps", "step", "principal-tags")["state"], "in_sync", "{j}");
    let sdk = sdk();
    let doc = block_on(sdk.default_document(&s.policy_arn()));
    let leading = &doc["Statement"][0]["Condition"]["ForAllValues:StringEquals"];
    assert_eq!(leading["dynamodb:LeadingKeys"][0], "${aws:PrincipalTag/sub}", "{doc}");
    let trust = block_on(sdk.trust_policy(&s.role()));
    assert!(trust.to_string().contains("sts:TagSession"), "{trust}");

    let pid = std::process::id();
    let alice = sign_in(&s, &format!("sub-alice-{pid}"));
    let bob = sign_in(&s, &format!("sub-bob-{pid}"));
    let t = s.table();
    // The backend writes Alice's profile under userId = her sub.
    let mut profile = key(&alice.sub);
    profile.insert("name".into(), AttributeValue::S("Alice".into()));
    block_on(sdk.dynamodb.put_item().table_name(&t).set_item(Some(profile)).send()).unwrap();
    // Alice reads exactly that item, and updates it, with the identity pool's credentials.
    let got = block_on(alice.ddb.get_item().table_name(&t).set_key(Some(key(&alice.sub))).send());
    let item = got.expect("Alice may read her profile").item.expect("the backend's item");
    assert_eq!(item["name"], AttributeValue::S("Alice".into()));
    assert_eq!(alice.update(&t, &alice.sub), None);
    // Nobody else reaches it, no Scan, and the identity id is no key of hers any more.
    assert_eq!(bob.get(&t, &alice.sub).as_deref(), DENIED, "another user's profile");
    assert_eq!(bob.update(&t, &alice.sub).as_deref(), DENIED);
    assert_eq!(alice.scan(&t).as_deref(), DENIED, "Scan under isolation");
    assert_eq!(alice.get(&t, &alice.id).as_deref(), DENIED, "the identity id is not the key");

    // verify proves the same story with a test user of its own.
    let j = verify_json(&s);
    assert_eq!(j["ok"], true, "{j}");
    assert_eq!(j["isolation_key"], "user-pool-sub");
    for h in ["backend-write", "backend-read", "isolation"] {
        assert_eq!(hop(&j, h)["status"], "ok", "{}", hop(&j, h));
    }
    assert_eq!(hop(&j, "backend-write")["signer"], "operator");
    assert_eq!(hop(&j, "backend-read")["signer"], "identity");
    assert!(field(hop(&j, "isolation"), "detail").ends_with("keyed by its own user pool sub"));
    assert!(field(hop(&j, "put-item"), "detail").contains("(the user pool sub, as isolation_key"));
}

/// A trust policy without `sts:TagSession`, a map removed by hand, and a policy reading a tag the
/// pool does not map: each is named by `status` and `verify` in its own sentence, fails the
/// app's calls for real, and `apply` repairs it.
#[test]
fn each_way_the_sub_wiring_breaks_is_named_and_repaired() {
    let s = stack("sub-broken", BY_SUB);
    s.ok(&["apply"]);
    let sdk = sdk();
    let pool = s.pool_id();
    let provider = format!("cognito-idp.{REGION}.amazonaws.com/{}", s.user_pool_id);

    // 1. The trust policy loses sts:TagSession: Cognito refuses credentials.
    let plain = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"Federated":"cognito-identity.amazonaws.com"}},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{{"StringEquals":{{"cognito-identity.amazonaws.com:aud":"{pool}"}},"ForAnyValue:StringLike":{{"cognito-identity.amazonaws.com:amr":"authenticated"}}}}}}]}}"#
    );
    block_on(sdk.set_trust_policy(&s.role(), &plain));
    let j = json_of(&s, &["status"], 2);
    let tag_session = "finding: the identity pool passes principal tags (its principal tag map for the user pool), but the trust policy does not allow \"sts:TagSession\"";
    assert!(has_note(&j, "trust-policy", tag_session), "{:?}", notes_of(&j, "trust-policy"));
    let v = verify_json(&s);
    let cause = failed_at(&v, "get-credentials", &format!("role {}'s trust policy", s.role()));
    assert!(cause.contains("does not allow \"sts:TagSession\""), "{cause}");
    s.ok(&["apply"]);
    s.ok(&["status"]);

    // 2. The map is removed by hand: the tag never arrives, every call is denied.
    let clear = sdk.identity.set_principal_tag_attribute_map().identity_pool_id(&pool);
    block_on(clear.identity_provider_name(&provider).use_defaults(false).send()).unwrap();
    let j = json_of(&s, &["status"], 2);
    assert_eq!(entry(&j, "steps", "step", "principal-tags")["state"], "missing", "{j}");
    let unmapped = "finding: the access policy reads the principal tag \"sub\" (${aws:PrincipalTag/sub}), but the identity pool maps no tags";
    assert!(has_note(&j, "access-policy", unmapped), "{:?}", notes_of(&j, "access-policy"));
    let v = verify_json(&s);
    failed_at(&v, "put-item", &format!("policy {} allows dynamodb:PutItem only", s.policy()));
    s.ok(&["apply"]);
    assert_eq!(verify_json(&s)["ok"], true);

    // 3. The policy reads a tag the pool does not map.
    let doc = block_on(sdk.default_document(&s.policy_arn()));
    let wrong = doc.to_string().replace("${aws:PrincipalTag/sub}", "${aws:PrincipalTag/userId}");
    block_on(sdk.set_policy_document(&s.policy_arn(), &wrong));
    let j = json_of(&s, &["status"], 2);
    let named = "finding: the access policy reads the principal tag \"userId\" (${aws:PrincipalTag/userId}), but the identity pool maps only sub";
    assert!(has_note(&j, "access-policy", named), "{:?}", notes_of(&j, "access-policy"));
    let v = verify_json(&s);
    assert_eq!(first_failure(&v).0, "put-item", "{v}");
    s.ok(&["apply"]);
    s.ok(&["status"]);
}

/// Switching the key on a live stack: `plan` says in one sentence which items go out of reach,
/// `apply` carries it out (the map and TagSession in an order that never breaks sign-in), and
/// the way back the same. A backend with identity-id isolation is warned about.
#[test]
fn switching_the_isolation_key_is_said_by_plan_and_carried_out_by_apply() {
    let by_id = "[policy]\nper_user_isolation = true\nisolation_key = \"identity-id\"\n";
    let s = stack("sub-switch", by_id);
    s.ok(&["apply"]);
    let j = json_of(&s, &["status"], 0);
    assert!(j["steps"].as_array().unwrap().iter().all(|st| st["step"] != "principal-tags"));

    s.write_config(&format!("\n[table]\nname = \"{}\"\n\n{BY_SUB}", s.table()));
    let j = json_of(&s, &["plan"], 0);
    let switch = "the access policy keys each user's items by the identity id (${cognito-identity.amazonaws.com:sub}), but isolation_key = \"user-pool-sub\" keys them by the user pool sub (${aws:PrincipalTag/sub}): after apply, items stored under identity ids are out of every app user's reach";
    assert!(has_note(&j, "access-policy", switch), "{:?}", notes_of(&j, "access-policy"));
    // While the trust policy's rewrite is held, the map must not be set: sign-in would fail.
    apply_holding(&s, "UpdateAssumeRolePolicy", "SetPrincipalTagAttributeMap");
    s.ok(&["status"]);
    assert_eq!(verify_json(&s)["ok"], true);

    // Back to the identity id: the map goes first, then sts:TagSession.
    s.write_config(&format!("\n[table]\nname = \"{}\"\n\n{by_id}", s.table()));
    let j = json_of(&s, &["plan"], 0);
    assert!(
        notes_of(&j, "access-policy")
            .iter()
            .any(|n| n
                .contains("items stored under user pool subs are out of every app user's reach")),
        "{j}"
    );
    apply_holding(&s, "SetPrincipalTagAttributeMap", "UpdateAssumeRolePolicy");
    s.ok(&["status"]);
    assert_eq!(verify_json(&s)["ok"], true);

    // A backend keyed by the sub next to an app keyed by the identity id: warned, not refused.
    let api = format!("{}-api", s.name);
    block_on(sdk().create_role(&api, ECS_TASKS_TRUST));
    s.write_config(&format!(
        "\n[table]\nname = \"{}\"\n\n{by_id}[backend]\nrole = \"{api}\"\n",
        s.table()
    ));
    let j = json_of(&s, &["plan"], 0);
    assert!(
        notes_of(&j, "access-policy")
            .iter()
            .any(|n| n.contains("the backend and the app use different userId values")),
        "{j}"
    );
}
