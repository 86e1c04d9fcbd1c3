//! Least privilege: the policies `apply` writes, read back from the emulator, are linted with
//! parliament (identity policies) and with the tool's own trust-policy diagnosis; none may grant
//! `Resource: "*"` or wildcard actions, and the trust policy always carries `aud` and `amr`.

use std::process::{Command, Stdio};

use serde_json::Value;

use crate::harness::*;

/// parliament's findings for an identity policy (community auditors included).
fn parliament(doc: &Value) -> Vec<String> {
    let python = python();
    let script = r#"
import json, sys
from parliament import analyze_policy_string
policy = analyze_policy_string(sys.stdin.read(), include_community_auditors=True)
print(json.dumps([f"{f.issue}: {f.detail} {f.location}" for f in policy.findings]))
"#;
    let mut child = Command::new(&python)
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python runs");
    use std::io::Write;
    child.stdin.take().unwrap().write_all(doc.to_string().as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "parliament failed (is it installed? tests/run.sh installs it): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("parliament's findings as JSON")
}

fn no_wildcards(doc: &Value) {
    for st in doc["Statement"].as_array().unwrap() {
        let list = |v: &Value| -> Vec<String> {
            match v {
                Value::String(s) => vec![s.clone()],
                Value::Array(a) => a.iter().map(|x| x.as_str().unwrap().to_string()).collect(),
                _ => vec![],
            }
        };
        for a in list(&st["Action"]) {
            assert!(!a.contains('*'), "wildcard action {a} in {doc}");
        }
        for r in list(&st["Resource"]) {
            assert_ne!(r, "*", "Resource \"*\" in {doc}");
        }
        assert!(st.get("NotAction").is_none() && st.get("NotResource").is_none());
    }
}

#[test]
fn generated_policies_pass_parliament_and_the_trust_diagnosis() {
    let sdk = sdk();
    let backend_role = "least-privilege-backend";
    block_on(sdk.create_role(backend_role, ECS_TASKS_TRUST));
    for (i, policy) in [
        "",
        "[policy]\nactions = [\"dynamodb:GetItem\", \"dynamodb:Query\", \"dynamodb:BatchGetItem\"]\n",
        "[policy]\nper_user_isolation = true\nactions = [\"dynamodb:GetItem\", \"dynamodb:PutItem\", \"dynamodb:UpdateItem\", \"dynamodb:Query\"]\n",
    ]
    .into_iter()
    .enumerate()
    {
        let s = Stack::new(&format!("least-privilege-{i}"), "");
        s.write_config(&format!(
            "\n[table]\nname = \"{}\"\n{policy}\n[backend]\nrole = \"{backend_role}\"\npolicy_name = \"{}-backend\"\n",
            s.table(),
            s.name
        ));
        s.ok(&["apply"]);
        // The shared backend role carries this stack's grant and no other: the previous stack's
        // teardown took its own away, and apply attached nothing more.
        assert_eq!(
            block_on(sdk.attached_policy_arns(backend_role)),
            [format!("arn:aws:iam::{ACCOUNT}:policy/{}-backend", s.name)],
            "on {backend_role}"
        );

        let access = block_on(sdk.default_document(&s.policy_arn()));
        assert_eq!(parliament(&access), Vec::<String>::new(), "{access}");
        no_wildcards(&access);

        let backend = block_on(sdk.default_document(&format!(
            "arn:aws:iam::{ACCOUNT}:policy/{}-backend",
            s.name
        )));
        assert_eq!(parliament(&backend), Vec::<String>::new(), "{backend}");
        no_wildcards(&backend);

        // parliament lints identity policies only; the trust policy (a resource policy) is
        // checked by the same diagnosis `status` runs.
        let trust = block_on(sdk.trust_policy(&s.role()));
        let pool = s.pool_id();
        assert!(
            setup::diagnose::trust_policy(&trust, Some(&pool), &s.provider()).is_empty(),
            "{trust}"
        );
        let cond = &trust["Statement"][0]["Condition"];
        assert_eq!(cond["StringEquals"]["cognito-identity.amazonaws.com:aud"], pool.as_str());
        assert_eq!(
            cond["ForAnyValue:StringLike"]["cognito-identity.amazonaws.com:amr"],
            "authenticated"
        );
        assert_eq!(
            cond["ForAnyValue:StringEquals"]["cognito-identity.amazonaws.com:amr"],
            s.provider().as_str()
        );
        no_wildcards(&trust);

        s.ok(&["teardown", "--delete-table", "--yes"]);
    }
}

/// Credentials and other secrets never appear in output or logs, even with -vv, and not in
/// error messages.
#[test]
fn secrets_never_appear_in_output_or_logs() {
    let s = Stack::new("no-secrets", "");
    let secret = "wJalrXUtnFEMIK7MDENGbPxRfiCYSECRETKEY1";
    let token = "IQoJb3JpZ2luX2VjEXAMPLESESSIONTOKEN9876";
    let env = [("AWS_SECRET_ACCESS_KEY", secret), ("AWS_SESSION_TOKEN", token)];
    let mut runs = vec![
        s.run_env(&["apply", "-vv"], &env),
        s.run_env(&["status", "-vv", "-o", "json"], &env),
        s.run_env(&["plan", "-vv"], &env),
    ];
    // An error path too: a wrong app client.
    let cfg = std::fs::read_to_string(s.config_path()).unwrap();
    std::fs::write(s.config_path(), cfg.replace(&s.client_id, "wrongclient99")).unwrap();
    runs.push(s.run_env(&["apply", "-vv"], &env));
    std::fs::write(s.config_path(), cfg).unwrap();
    runs.push(s.run_env(&["teardown", "-vv", "--delete-table", "--yes"], &env));
    for r in &runs {
        let all = r.all();
        assert!(all.len() > 200, "-vv should log something:\n{all}");
        assert!(!all.contains(secret), "secret key leaked:\n{all}");
        assert!(!all.contains(token), "session token leaked:\n{all}");
        // Not even a recognisable part of them.
        assert!(!all.contains(&secret[..16]) && !all.contains(&token[..16]), "{all}");
    }
    assert_eq!(runs[3].code, 1);
}

/// An IAM user with `policy` as a customer managed policy (`managed`) or an inline one:
/// (key, secret).
pub(crate) fn create_user(
    sdk: &Sdk,
    name: &str,
    policy: &Value,
    managed: bool,
) -> (String, String) {
    block_on(async {
        sdk.iam.create_user().user_name(name).send().await.unwrap();
        if managed {
            let arn = sdk
                .iam
                .create_policy()
                .policy_name(format!("{name}-policy"))
                .policy_document(policy.to_string())
                .send()
                .await
                .unwrap()
                .policy()
                .unwrap()
                .arn()
                .unwrap()
                .to_string();
            sdk.iam.attach_user_policy().user_name(name).policy_arn(arn).send().await.unwrap();
        } else {
            sdk.iam
                .put_user_policy()
                .user_name(name)
                .policy_name("only")
                .policy_document(policy.to_string())
                .send()
                .await
                .unwrap();
        }
        let key = sdk.iam.create_access_key().user_name(name).send().await.unwrap();
        let k = key.access_key().unwrap();
        (k.access_key_id().to_string(), k.secret_access_key().to_string())
    })
}

/// The whole lifecycle runs as an IAM user that has nothing but policies/operator.json, with
/// the emulator enforcing IAM (its simulator evaluates the policy's resources and conditions:
/// tests/emu/iam_users.py); without one of its actions, apply is refused with a clear error.
/// (`verify` under an enforced policy is in operator_scope.rs; the operator-side actions of
/// verify are covered by the lifecycle coverage test in teardown.rs.)
#[test]
fn operator_policy_is_sufficient_with_iam_enforcement_on() {
    let emu = enforcing_emulator();
    // The unauthenticated requests: the user pool and its client (2), the operator (4) and a
    // user missing iam:CreateRole (3).
    let (pool, client) = emu.user_pool().clone();
    let sdk = emu.sdk();
    let operator: Value =
        serde_json::from_str(include_str!("../../policies/operator.json")).unwrap();
    let (key, secret) = create_user(&sdk, "operator", &operator, true);
    let mut limited = operator.clone();
    for st in limited["Statement"].as_array_mut().unwrap() {
        if let Some(actions) = st["Action"].as_array_mut() {
            actions.retain(|a| a != "iam:CreateRole");
        }
    }
    let (lkey, lsecret) = create_user(&sdk, "limited", &limited, false);

    // From here on every request is checked against IAM.
    let denied = block_on(sdk.iam.list_users().send());
    assert!(denied.is_err(), "the emulator does not enforce IAM");

    let s = Stack::on(emu, "enforced", "");
    assert_eq!((s.user_pool_id.as_str(), s.client_id.as_str()), (pool.as_str(), client.as_str()));
    let as_operator =
        [("AWS_ACCESS_KEY_ID", key.as_str()), ("AWS_SECRET_ACCESS_KEY", secret.as_str())];
    // The operator's key signs every run, so the call log accumulates over them: count.
    let mut listed = None;
    for args in [
        &["apply"][..],
        &["status"][..],
        &["apply"][..],
        &["outputs"][..],
        &["list"][..],
        &["teardown", "--delete-table", "--yes"][..],
    ] {
        let r = s.run_env(args, &as_operator);
        assert_eq!(r.code, 0, "setup {args:?} as the operator:\n{}", r.all());
        // The policy grants tag:GetResources, so once the pool exists it is found by its tag,
        // never by listing every pool (the silent fallback would hide a missing grant).
        match (args[0], listed) {
            ("apply", None) => listed = Some(r.count("ListIdentityPools")),
            ("status" | "outputs", Some(n)) => {
                assert_eq!(r.count("ListIdentityPools"), n, "{args:?} listed pools: {:?}", r.ops)
            }
            _ => {}
        }
    }

    let s = Stack::on(emu, "enforced-limited", "");
    let r = s
        .run_env(
            &["apply"],
            &[("AWS_ACCESS_KEY_ID", lkey.as_str()), ("AWS_SECRET_ACCESS_KEY", lsecret.as_str())],
        )
        .exits(1);
    assert!(
        r.stderr.contains("creating role")
            && r.stderr.contains("access denied")
            && r.stderr.contains("policies/operator.json"),
        "{}",
        r.all()
    );
}
