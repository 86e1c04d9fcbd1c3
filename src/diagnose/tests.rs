use super::*;
use crate::plan::Note;
use crate::policy_doc;
use crate::testing::PROVIDER;
use serde_json::json;

const POOL: &str = "us-east-1:11111111-2222-3333-4444-555555555555";

fn trust_with(edit: impl FnOnce(&mut Value)) -> Value {
    let mut doc = policy_doc::trust_policy(POOL, PROVIDER);
    edit(&mut doc["Statement"][0]);
    doc
}

/// The trust policy as the console writes it: `amr` = `authenticated`, no provider named.
fn console_amr(s: &mut Value) {
    s["Condition"].as_object_mut().unwrap().remove("ForAnyValue:StringEquals");
}

fn messages(f: &[Finding]) -> String {
    f.iter().map(|f| f.to_string()).collect::<Vec<_>>().join("\n")
}

#[test]
fn the_desired_trust_policy_has_no_findings() {
    assert_eq!(trust_policy(&policy_doc::trust_policy(POOL, PROVIDER), Some(POOL), PROVIDER), []);
    assert_eq!(trust_policy(&policy_doc::trust_policy(POOL, PROVIDER), None, PROVIDER), []);
}

#[test]
fn aud_for_another_pool() {
    let doc = trust_with(|s| {
        s["Condition"]["StringEquals"][AUD_KEY] =
            json!("us-east-1:00000000-0000-0000-0000-000000000000")
    });
    let f = trust_policy(&doc, Some(POOL), PROVIDER);
    assert_eq!(f.len(), 1, "{}", messages(&f));
    assert_eq!(f[0].severity, Severity::Finding);
    assert!(f[0].message.contains("aud is \"us-east-1:00000000"), "{}", f[0]);
    assert!(f[0].message.contains(POOL));
    // Without a pool to compare with, the value is not judged.
    assert_eq!(trust_policy(&doc, None, PROVIDER), []);
}

#[test]
fn missing_aud_is_a_security_finding() {
    let doc = trust_with(|s| {
        s["Condition"].as_object_mut().unwrap().remove("StringEquals");
    });
    let f = trust_policy(&doc, Some(POOL), PROVIDER);
    assert_eq!(f.len(), 1, "{}", messages(&f));
    assert_eq!(f[0].severity, Severity::Security);
    assert!(f[0].to_string().starts_with("security: no \"cognito-identity.amazonaws.com:aud\" condition: any identity pool, in any AWS account"), "{}", f[0]);
}

#[test]
fn amr_unauthenticated() {
    let doc = trust_with(|s| {
        console_amr(s);
        s["Condition"]["ForAnyValue:StringLike"][AMR_KEY] = json!("unauthenticated")
    });
    let f = trust_policy(&doc, Some(POOL), PROVIDER);
    let text = messages(&f);
    assert_eq!(f.len(), 2, "{text}");
    assert!(text.contains("security: amr allows \"unauthenticated\""), "{text}");
    assert!(
        text.contains("finding: amr is [\"unauthenticated\"], not \"authenticated\""),
        "{text}"
    );
}

#[test]
fn amr_both_or_wildcard_lets_guests_in() {
    for v in [json!(["authenticated", "unauthenticated"]), json!("*authenticated")] {
        let doc = trust_with(|s| {
            console_amr(s);
            s["Condition"]["ForAnyValue:StringLike"][AMR_KEY] = v.clone()
        });
        let f = trust_policy(&doc, Some(POOL), PROVIDER);
        assert_eq!(f.len(), 1, "{v}: {}", messages(&f));
        assert_eq!(f[0].severity, Severity::Security);
    }
}

/// The trust policy has exactly one finding, and it starts with `start`.
fn only_finding_starts_with(doc: &Value, start: &str) {
    let f = trust_policy(doc, Some(POOL), PROVIDER);
    assert_eq!(f.len(), 1, "{}", messages(&f));
    assert!(f[0].to_string().starts_with(start), "{}", f[0]);
}

#[test]
fn missing_amr_is_a_security_finding() {
    let doc = trust_with(|s| {
        console_amr(s);
        s["Condition"].as_object_mut().unwrap().remove("ForAnyValue:StringLike");
    });
    only_finding_starts_with(&doc, "security: no \"cognito-identity.amazonaws.com:amr\"");
}

/// The generated trust also requires the user pool in `amr`: the console's form without it is
/// drift (apply adds it), not a finding; another user pool there keeps this pool's users out;
/// with the user pool required, `unauthenticated` beside `authenticated` no longer lets guests
/// in (their amr names no provider).
#[test]
fn amr_names_this_user_pool() {
    assert_eq!(trust_policy(&trust_with(console_amr), Some(POOL), PROVIDER), []);
    let other = "cognito-idp.us-east-1.amazonaws.com/us-east-1_other";
    let doc = trust_with(|s| s["Condition"]["ForAnyValue:StringEquals"][AMR_KEY] = json!(other));
    only_finding_starts_with(
        &doc,
        &format!("finding: amr must include [\"{other}\"] (ForAnyValue:StringEquals), but this stack's users sign in with user pool {PROVIDER}"),
    );
    let doc = trust_with(|s| {
        s["Condition"]["ForAnyValue:StringLike"][AMR_KEY] =
            json!(["authenticated", "unauthenticated"])
    });
    assert_eq!(trust_policy(&doc, Some(POOL), PROVIDER), []);
    // Only the provider, without `authenticated`: signed-in users still get in.
    let doc = trust_with(|s| {
        s["Condition"].as_object_mut().unwrap().remove("ForAnyValue:StringLike");
    });
    assert_eq!(trust_policy(&doc, Some(POOL), PROVIDER), []);
}

#[test]
fn assume_role_instead_of_web_identity() {
    let doc = trust_with(|s| s["Action"] = json!("sts:AssumeRole"));
    only_finding_starts_with(
        &doc,
        "finding: action is \"sts:AssumeRole\" instead of \"sts:AssumeRoleWithWebIdentity\"",
    );
    let doc = trust_with(|s| s["Action"] = json!("sts:*"));
    assert_eq!(trust_policy(&doc, Some(POOL), PROVIDER)[0].severity, Severity::Security);
}

#[test]
fn misspelled_principal() {
    let doc = trust_with(|s| s["Principal"] = json!({"Federated": "cognito-identity.amazon.com"}));
    only_finding_starts_with(
        &doc,
        "finding: principal Federated \"cognito-identity.amazon.com\" is misspelled",
    );
    let doc = trust_with(|s| s["Principal"] = json!({"Service": "lambda.amazonaws.com"}));
    assert!(trust_policy(&doc, Some(POOL), PROVIDER)[0]
        .message
        .contains("principal is Service lambda.amazonaws.com"));
    let doc = trust_with(|s| s["Principal"] = json!("*"));
    assert_eq!(trust_policy(&doc, Some(POOL), PROVIDER)[0].severity, Severity::Security);
}

#[test]
fn console_default_trust_policy_has_several_findings_in_order() {
    // A role made for another service, then an attempt to reuse it.
    let doc = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"Federated": "cognito-identity.amazon.com"}, "Action": "sts:AssumeRole"}]});
    let f = trust_policy(&doc, Some(POOL), PROVIDER);
    let text = messages(&f);
    assert_eq!(f.len(), 4, "{text}");
    assert!(
        text.contains("misspelled")
            && text.contains("sts:AssumeRole")
            && text.contains(":aud")
            && text.contains(":amr"),
        "{text}"
    );
}

#[test]
fn no_allow_statement() {
    let doc = json!({"Version": "2012-10-17", "Statement": []});
    assert!(trust_policy(&doc, Some(POOL), PROVIDER)[0].message.contains("no Allow statement"));
}

#[test]
fn access_policy_wildcards() {
    let good = policy_doc::access_policy(
        "arn:aws:dynamodb:us-east-1:1:table/t",
        &["dynamodb:GetItem".into()],
        Some(crate::policy_doc::Isolation::IdentityId),
    );
    assert_eq!(access_policy(&good), []);
    let bad = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "*", "Resource": "*"}]});
    let f = access_policy(&bad);
    let text = messages(&f);
    assert_eq!(f.len(), 2, "{text}");
    assert!(text.contains("security: Resource \"*\""), "{text}");
    assert!(text.contains("security: wildcard action \"dynamodb:*\""), "{text}");
    let pattern = json!({"Statement": {"Effect": "Allow", "Action": ["dynamodb:Get*"], "Resource": "arn:aws:dynamodb:*:*:table/*"}});
    assert_eq!(access_policy(&pattern).len(), 2);
    // The indexes of one table, as setup grants them with global secondary indexes: no finding
    // (status would fail on every stack with an index); any table's indexes: a finding.
    let t = json!("arn:aws:dynamodb:us-east-1:1:table/t");
    let indexed = policy_doc::with_indexes(
        policy_doc::access_policy(
            "arn:aws:dynamodb:us-east-1:1:table/t",
            &["dynamodb:Query".into()],
            None,
        ),
        &t,
        json!("arn:aws:dynamodb:us-east-1:1:table/t/index/*"),
    );
    assert_eq!(access_policy(&indexed), [], "{indexed}");
    let any = json!({"Statement": {"Effect": "Allow", "Action": "dynamodb:Query", "Resource": "arn:aws:dynamodb:us-east-1:1:table/*/index/*"}});
    assert_eq!(access_policy(&any).len(), 1);
}

#[test]
fn only_near_misses_of_the_cognito_principal_are_called_misspelled() {
    for near in ["cognito.amazonaws.com", "identity.amazonaws.com"] {
        let doc = trust_with(|s| s["Principal"] = json!({"Federated": near}));
        let f = messages(&trust_policy(&doc, Some(POOL), PROVIDER));
        assert!(f.contains(&format!("principal Federated {near:?} is misspelled")), "{near}: {f}");
    }
    let doc = trust_with(|s| s["Principal"] = json!({"Federated": "accounts.google.com"}));
    let f = messages(&trust_policy(&doc, Some(POOL), PROVIDER));
    assert!(
        f.contains("principal is Federated accounts.google.com, not Federated \"cognito-identity.amazonaws.com\""),
        "{f}"
    );
    assert!(!f.contains("misspelled"), "{f}");
}

#[test]
fn a_named_aws_principal_is_not_the_wildcard() {
    let doc = trust_with(|s| s["Principal"] = json!({"AWS": "arn:aws:iam::123456789012:root"}));
    let f = trust_policy(&doc, Some(POOL), PROVIDER);
    assert_eq!(f.len(), 1, "{}", messages(&f));
    assert_eq!(f[0].severity, Severity::Finding);
    assert!(
        f[0].message.starts_with("principal is AWS arn:aws:iam::123456789012:root, not Federated"),
        "{}",
        f[0]
    );
}

#[test]
fn a_principal_written_as_a_plain_string_is_not_the_wildcard() {
    let doc = trust_with(|s| s["Principal"] = json!("cognito-identity.amazonaws.com"));
    let f = trust_policy(&doc, Some(POOL), PROVIDER);
    assert_eq!(f.len(), 1, "{}", messages(&f));
    assert_eq!(f[0].severity, Severity::Finding);
    assert!(!f[0].message.contains("Principal \"*\""), "{}", f[0]);
}

#[test]
fn a_wildcard_action_that_does_not_cover_web_identity_is_the_wrong_action() {
    let doc = trust_with(|s| s["Action"] = json!("s3:*"));
    let f = messages(&trust_policy(&doc, Some(POOL), PROVIDER));
    assert!(f.contains("action is [\"s3:*\"] instead of \"sts:AssumeRoleWithWebIdentity\""), "{f}");
    assert!(!f.contains("is a wildcard"), "{f}");
    let doc = trust_with(|s| s["Action"] = json!("sts:*"));
    let f = messages(&trust_policy(&doc, Some(POOL), PROVIDER));
    assert!(f.contains("action \"sts:*\" is a wildcard"), "{f}");
}

fn guest_trust_with(edit: impl FnOnce(&mut Value)) -> Value {
    let mut doc = guest_trust(POOL);
    edit(&mut doc["Statement"][0]);
    doc
}

#[test]
fn the_desired_guest_trust_policy_has_no_findings() {
    assert_eq!(guest_trust_policy(&guest_trust_with(|_| {}), Some(POOL)), []);
    assert_eq!(guest_trust_policy(&guest_trust_with(|_| {}), None), []);
}

#[test]
fn guest_amr_mix_up_is_a_named_finding() {
    let doc = guest_trust_with(|s| {
        s["Condition"]["ForAnyValue:StringLike"][AMR_KEY] = json!("authenticated")
    });
    let f = guest_trust_policy(&doc, Some(POOL));
    assert_eq!(f.len(), 1, "{}", messages(&f));
    assert_eq!(f[0].severity, Severity::GuestFinding);
    assert_eq!(
        f[0].to_string(),
        "finding: amr mix-up: the guest role trusts amr [\"authenticated\"], the value of signed-in users, instead of \"unauthenticated\": guests cannot assume it, and signed-in users can (guests get no credentials: GetCredentialsForIdentity fails with InvalidIdentityPoolConfigurationException)"
    );
    // The authenticated role's own check calls the same document a guest hole.
    let as_role = trust_policy(&guest_trust_with(|_| {}), Some(POOL), PROVIDER);
    assert!(
        messages(&as_role).contains("security: amr allows \"unauthenticated\""),
        "{}",
        messages(&as_role)
    );
}

#[test]
fn guest_amr_other_values_both_or_none() {
    let with = |v: Value| {
        guest_trust_policy(
            &guest_trust_with(|s| s["Condition"]["ForAnyValue:StringLike"][AMR_KEY] = v),
            Some(POOL),
        )
    };
    let f = with(json!("graph.facebook.com"));
    assert_eq!(f.len(), 1, "{}", messages(&f));
    assert_eq!(
        f[0].message,
        "amr is [\"graph.facebook.com\"], not \"unauthenticated\": guests cannot assume the guest role"
    );
    let f = with(json!(["authenticated", "unauthenticated"]));
    assert_eq!(f.len(), 1, "{}", messages(&f));
    assert_eq!(f[0].severity, Severity::Security);
    assert!(f[0].message.contains("signed-in users can assume the guest role too"));
    let doc = guest_trust_with(|s| {
        s["Condition"].as_object_mut().unwrap().remove("ForAnyValue:StringLike");
    });
    let f = guest_trust_policy(&doc, Some(POOL));
    assert_eq!(f.len(), 1, "{}", messages(&f));
    assert!(
        f[0].to_string().starts_with(
            "security: no \"cognito-identity.amazonaws.com:amr\" condition on the guest role"
        ),
        "{}",
        f[0]
    );
    let negated = guest_trust_policy(
        &guest_trust_with(|s| {
            let c = s["Condition"].as_object_mut().unwrap();
            let like = c.remove("ForAnyValue:StringLike").unwrap();
            c.insert("ForAnyValue:StringNotLike".into(), like);
        }),
        Some(POOL),
    );
    assert_eq!(negated[0].severity, Severity::GuestFinding, "{}", messages(&negated));
}

#[test]
fn guest_trust_shares_the_principal_action_and_aud_checks_as_guest_findings() {
    let doc =
        guest_trust_with(|s| s["Condition"]["StringEquals"][AUD_KEY] = json!("us-east-1:other"));
    let f = guest_trust_policy(&doc, Some(POOL));
    assert_eq!(f.len(), 1, "{}", messages(&f));
    assert_eq!(f[0].severity, Severity::GuestFinding);
    assert!(f[0].message.starts_with("aud is \"us-east-1:other\""), "{}", f[0]);
    let doc = guest_trust_with(|s| s["Action"] = json!("sts:AssumeRole"));
    assert_eq!(guest_trust_policy(&doc, Some(POOL))[0].severity, Severity::GuestFinding);
    let doc = guest_trust_with(|s| s["Action"] = json!("sts:*"));
    assert_eq!(guest_trust_policy(&doc, Some(POOL))[0].severity, Severity::Security);
    let none = json!({"Version": "2012-10-17", "Statement": []});
    assert!(guest_trust_policy(&none, Some(POOL))[0]
        .to_string()
        .contains("no guest can assume it"));
}

#[test]
fn string_like_on_the_exact_pool_id_is_no_pattern() {
    let doc = trust_with(|s| {
        let c = s["Condition"].as_object_mut().unwrap();
        let equals = c.remove("StringEquals").unwrap();
        c.insert("StringLike".into(), equals);
    });
    assert_eq!(trust_policy(&doc, Some(POOL), PROVIDER), []);
}

#[test]
fn a_fixed_finding_is_told_in_the_past_without_its_effect() {
    let fixed = |f: Finding| Note::from(f).fixed().to_string();
    let broken = Finding::broken("aud is \"x\"");
    assert_eq!(
        broken.to_string(),
        format!("finding: aud is \"x\" ({})", crate::diagnose::SIGN_IN_FAILS)
    );
    assert_eq!(fixed(broken), "fixed, was: aud is \"x\"");
    assert_eq!(fixed(Finding::guest("amr mix-up")), "fixed, was: amr mix-up");
    let security = Finding::security("Resource \"*\" (every table)");
    assert_eq!(security.to_string(), "security: Resource \"*\" (every table)");
    assert_eq!(fixed(security), "fixed, was: Resource \"*\" (every table)");
    // Notes that are not findings stay as they are.
    let note = Note::info("has inline policy \"p\" (not managed by setup; left as is)");
    assert_eq!(note.clone().fixed(), note);
    assert_eq!(Note::from(Finding::guest("x")).fixed().fixed().to_string(), "fixed, was: x");
}

#[test]
fn the_desired_shared_access_policy_has_no_findings() {
    let shared = policy_doc::access_policy(
        "arn:aws:dynamodb:us-east-1:1:table/t",
        &["dynamodb:GetItem".into(), "dynamodb:Query".into()],
        None,
    );
    assert_eq!(access_policy(&shared), []);
}

/// The guest trust policy as setup writes it (policies/guest-trust.json) for this pool.
fn guest_trust(pool: &str) -> Value {
    policy_doc::render(
        include_str!("../../policies/guest-trust.json"),
        &[("identity_pool_id", Value::String(pool.to_string()))],
    )
}
