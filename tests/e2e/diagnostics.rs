//! Static diagnosis in `status`: each hand-made mistake in the trust policy or the access
//! policy, written with plain SDK calls, is named as a finding (or a security finding).

use crate::harness::*;

fn notes(s: &Stack, step: &str) -> Vec<String> {
    s.status_notes(step)
}

fn set_trust(s: &Stack, doc: &str) {
    block_on(sdk().set_trust_policy(&s.role(), doc));
}

/// A trust policy like the desired one with `edit` applied to its statement.
fn trust(s: &Stack, edit: impl FnOnce(&mut serde_json::Value)) -> String {
    let mut doc = setup::policy_doc::trust_policy(&s.pool_id(), &s.provider());
    edit(&mut doc["Statement"][0]);
    doc.to_string()
}

fn has(notes: &[String], prefix: &str, text: &str) -> bool {
    notes.iter().any(|n| n.starts_with(prefix) && n.contains(text))
}

#[test]
fn each_trust_policy_mistake_is_named_by_status() {
    let s = Stack::new("diag-trust", "");
    s.ok(&["apply"]);
    assert!(notes(&s, "trust-policy").is_empty(), "a converged trust policy has no findings");

    let cases: Vec<(&str, String, &str, &str)> = vec![
        (
            "aud for another pool",
            trust(&s, |st| st["Condition"]["StringEquals"]["cognito-identity.amazonaws.com:aud"] = "us-east-1:00000000-0000-0000-0000-000000000000".into()),
            "finding: ",
            "aud is \"us-east-1:00000000-0000-0000-0000-000000000000\" but this stack's identity pool is",
        ),
        (
            "amr unauthenticated, no user pool named (the console's form)",
            trust(&s, |st| {
                st["Condition"].as_object_mut().unwrap().remove("ForAnyValue:StringEquals");
                st["Condition"]["ForAnyValue:StringLike"]["cognito-identity.amazonaws.com:amr"] = "unauthenticated".into()
            }),
            "security: ",
            "amr allows \"unauthenticated\"",
        ),
        (
            "amr names another user pool",
            trust(&s, |st| st["Condition"]["ForAnyValue:StringEquals"]["cognito-identity.amazonaws.com:amr"] = "cognito-idp.us-east-1.amazonaws.com/us-east-1_other".into()),
            "finding: ",
            "amr must include [\"cognito-idp.us-east-1.amazonaws.com/us-east-1_other\"] (ForAnyValue:StringEquals), but this stack's users sign in with user pool",
        ),
        (
            "sts:AssumeRole",
            trust(&s, |st| st["Action"] = "sts:AssumeRole".into()),
            "finding: ",
            "action is \"sts:AssumeRole\" instead of \"sts:AssumeRoleWithWebIdentity\"",
        ),
        (
            "misspelled principal",
            trust(&s, |st| st["Principal"]["Federated"] = "cognito-identity.amazon.com".into()),
            "finding: ",
            "principal Federated \"cognito-identity.amazon.com\" is misspelled",
        ),
        (
            "missing aud",
            trust(&s, |st| {
                st["Condition"].as_object_mut().unwrap().remove("StringEquals");
            }),
            "security: ",
            "any identity pool, in any AWS account, could assume this role",
        ),
    ];
    for (what, doc, prefix, text) in cases {
        set_trust(&s, &doc);
        let n = notes(&s, "trust-policy");
        assert!(has(&n, prefix, text), "{what}: expected {prefix}{text} in {n:#?}");
        // The text report shows the finding as its own line.
        let t = s.run(&["status"]);
        assert!(t.stdout.contains(&format!("      {prefix}")), "{what}: {}", t.all());
    }
    // The amr case also says signed-in users are locked out.
    set_trust(
        &s,
        &trust(&s, |st| {
            st["Condition"]["ForAnyValue:StringLike"]["cognito-identity.amazonaws.com:amr"] =
                "unauthenticated".into()
        }),
    );
    assert!(has(
        &notes(&s, "trust-policy"),
        "finding: ",
        "amr is [\"unauthenticated\"], not \"authenticated\""
    ));
    // apply rewrites the trust policy: its report tells the findings in the past, and then
    // they are gone.
    let r = s.ok(&["apply"]);
    assert_fixed(&r, "amr is [\"unauthenticated\"], not \"authenticated\"");
    assert!(notes(&s, "trust-policy").is_empty());
}

/// The report of an apply that rewrote a document: no finding told as current, and `text` told
/// as fixed (in the text report and in the JSON notes alike).
fn assert_fixed(r: &Run, text: &str) {
    for prefix in ["finding: ", "security: "] {
        assert!(!r.stdout.contains(prefix), "a fixed finding told as current:\n{}", r.all());
    }
    let line = format!("      fixed, was: {text}");
    assert!(r.stdout.contains(&line), "no {line:?} in:\n{}", r.all());
}

#[test]
fn a_wide_access_policy_is_a_security_finding() {
    let s = Stack::new("diag-access", "");
    s.ok(&["apply"]);
    assert!(notes(&s, "access-policy").is_empty());
    let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["dynamodb:*"],"Resource":"*"}]}"#;
    block_on(sdk().set_policy_document(&s.policy_arn(), doc));
    let n = notes(&s, "access-policy");
    assert!(has(&n, "security: ", "Resource \"*\""), "{n:#?}");
    assert!(has(&n, "security: ", "wildcard action \"dynamodb:*\""), "{n:#?}");
    // The JSON report of the apply that fixed them tells them in the past too.
    let r = s.ok(&["apply", "--output", "json"]);
    let j = r.json();
    let n: Vec<&str> = r.step(&j, "access-policy")["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    assert!(n.iter().all(|n| n.starts_with("fixed, was: ")), "{n:#?}");
    assert!(n.iter().any(|n| n.contains("wildcard action \"dynamodb:*\"")), "{n:#?}");
    assert!(notes(&s, "access-policy").is_empty());
}
