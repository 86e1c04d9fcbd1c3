//! `setup bootstrap` (issue 23, item 3): what an administrator creates once. The boundary the
//! config names, with exactly the stack roles' table actions; with --github-repo the GitHub OIDC
//! provider, a CI role only that repository's jobs can assume (its trust evaluated by the
//! independent IAM simulator: moto's AssumeRoleWithWebIdentity checks no trust policy) and the
//! scoped operator policy. The plan is shown and confirmed first; a second run writes nothing.

use serde_json::{json, Value};

use crate::harness::*;

const GITHUB: &str = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com";

/// A stack whose config names the boundary `<stack>-boundary` and grants `actions` (`rest`:
/// more sections).
fn stack(name: &str, actions: &[&str], rest: &str) -> Stack {
    let s = Stack::new(name, "");
    write(&s, actions, rest);
    s
}

fn write(s: &Stack, actions: &[&str], rest: &str) {
    let actions: Vec<String> = actions.iter().map(|a| format!("\"dynamodb:{a}\"")).collect();
    s.write_config(
        &s.table_config("", &format!("[policy]\nactions = [{}]\n{rest}", actions.join(", "))),
    );
    let text = std::fs::read_to_string(s.config_path()).unwrap();
    let top = format!("permissions_boundary = \"{}-boundary\"\n", s.name);
    std::fs::write(s.config_path(), top + &text).unwrap();
}

fn boundary_arn(s: &Stack) -> String {
    format!("arn:aws:iam::{ACCOUNT}:policy/{}-boundary", s.name)
}

fn table_arn(s: &Stack) -> String {
    format!("arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{}", s.table())
}

fn normalized(doc: &Value) -> Value {
    setup::policy_doc::normalize(doc)
}

#[test]
fn bootstrap_creates_the_boundary_once_and_a_second_run_writes_nothing() {
    let guests = "[identity_pool]\nallow_unauthenticated = true\n\
                  [guest]\nactions = [\"dynamodb:GetItem\", \"dynamodb:Query\"]\n";
    let s = stack("boot-once", &["GetItem", "PutItem"], guests);
    let r = s.ok(&["bootstrap", "--yes", "-o", "json"]);
    assert_eq!(r.writes(), ["CreatePolicy"], "{}", r.all());
    let j = r.json();
    assert_eq!(j["boundary_policy_arn"], json!(boundary_arn(&s)));
    assert_eq!((&j["operator_policy_arn"], &j["ci_role_arn"]), (&Value::Null, &Value::Null));
    assert_eq!(j["actions"][0]["done"], true, "{j}");
    // The union of the authenticated and guest actions on the table: no more, no condition.
    let want = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"],
        "Resource": table_arn(&s)}]});
    let live = block_on(s.emu.sdk().default_document(&boundary_arn(&s)));
    assert_eq!(normalized(&live), normalized(&want));
    // What admins who cannot run bootstrap create by hand is the same document.
    let exported = s.ok(&["export", "--format", "boundary-policy"]);
    assert_eq!(serde_json::from_str::<Value>(&exported.stdout).unwrap(), live);

    // Nothing to do: no question asked (stdin is no terminal here), no write.
    let again = s.ok(&["bootstrap", "-o", "json"]);
    again.no_writes();
    assert_eq!(again.json()["actions"], json!([]));
    assert_eq!(again.json()["boundary_policy_arn"], json!(boundary_arn(&s)));
}

#[test]
fn a_new_action_makes_a_new_boundary_version_and_the_oldest_goes_at_five() {
    let mut actions = vec!["GetItem"];
    let s = stack("boot-versions", &actions, "");
    s.ok(&["bootstrap", "--yes"]);
    for (n, more) in
        ["PutItem", "UpdateItem", "DeleteItem", "Query", "BatchGetItem"].iter().enumerate()
    {
        actions.push(more);
        write(&s, &actions, "");
        let r = s.ok(&["bootstrap", "--yes"]);
        // Versions 1-5 fit; the sixth document replaces the oldest.
        let want: &[&str] = if n < 4 {
            &["CreatePolicyVersion"]
        } else {
            &["DeletePolicyVersion", "CreatePolicyVersion"]
        };
        assert_eq!(r.writes(), want, "change {n}: {}", r.all());
        let sdk = s.emu.sdk();
        let live = block_on(sdk.default_document(&boundary_arn(&s)));
        let granted: Vec<String> = actions.iter().map(|a| format!("dynamodb:{a}")).collect();
        let want = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Action": granted, "Resource": table_arn(&s)}]});
        assert_eq!(normalized(&live), normalized(&want), "change {n}");
        assert_eq!(block_on(sdk.policy_versions(&boundary_arn(&s))).len(), (n + 2).min(5));
    }
    s.ok(&["bootstrap"]).no_writes();
}

#[test]
fn without_yes_and_without_a_terminal_it_shows_the_plan_and_refuses() {
    let s = stack("boot-refuse", &["GetItem"], "");
    let r = s.refuses(&["bootstrap"], "stdin is not a terminal, so pass --yes");
    r.stderr_has(&format!("  + create policy {}", boundary_arn(&s)));
}

#[test]
fn without_a_boundary_in_the_config_it_says_what_to_add() {
    let s = Stack::new("boot-none", "");
    let r =
        s.refuses(&["bootstrap", "--yes"], "add `permissions_boundary = \"boot-none-boundary\"`");
    assert_eq!(r.ops, Vec::<String>::new(), "no AWS call before the config is complete");
}

#[test]
fn answering_no_at_the_terminal_changes_nothing() {
    let s = stack("boot-no", &["GetItem"], "");
    let r = run_tty_typing(s.dir.path(), &["bootstrap"], &[], &["n\n"]);
    assert_eq!(r.code, 0, "{}", r.all());
    r.stdout_has(&format!("  + create policy {}", boundary_arn(&s)));
    r.stdout_has("Carry this out? [y/N]");
    r.stdout_has("Nothing changed: the plan above was not confirmed.");
    r.no_writes();
    assert!(!block_on(s.emu.sdk().policy_exists(&boundary_arn(&s))));
}

/// The one test that makes the account's GitHub OIDC provider (the emulator's account is shared).
#[test]
fn github_repo_makes_a_ci_role_only_that_repository_can_assume_with_the_operator_policy() {
    let s = stack("boot-ci", &["GetItem"], "");
    let role = "boot-ci-setup-ci";
    let role_arn = format!("arn:aws:iam::{ACCOUNT}:role/{role}");
    let operator_arn = format!("arn:aws:iam::{ACCOUNT}:policy/boot-ci-setup-operator");
    let repo = ["--github-repo", "your-org/your-app"];
    let r = s.ok(&[&["bootstrap", "--yes", "-o", "json"][..], &repo].concat());
    let made = [
        "CreatePolicy",
        "CreateOpenIDConnectProvider",
        "CreatePolicy",
        "CreateRole",
        "AttachRolePolicy",
    ];
    assert_eq!(r.writes(), made, "{}", r.all());
    let j = r.json();
    assert_eq!(j["boundary_policy_arn"], json!(boundary_arn(&s)));
    assert_eq!(j["operator_policy_arn"], json!(operator_arn));
    assert_eq!(j["ci_role_arn"], json!(role_arn));
    assert_eq!(j["oidc_provider_arn"], json!(GITHUB));

    let sdk = s.emu.sdk();
    let provider = block_on(
        sdk.iam.get_open_id_connect_provider().open_id_connect_provider_arn(GITHUB).send(),
    )
    .unwrap();
    assert_eq!(provider.client_id_list(), ["sts.amazonaws.com"]);
    assert!(provider.thumbprint_list().is_empty(), "IAM ignores thumbprints for GitHub");
    // Exactly: GitHub's provider, the STS audience, the production environment of this repository.
    let production = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"Federated": GITHUB}, "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {
            "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
            "token.actions.githubusercontent.com:sub": "repo:your-org/your-app:environment:production"}}}]});
    let trust = block_on(sdk.trust_policy(role));
    assert_eq!(normalized(&trust), normalized(&production));
    assert_eq!(block_on(sdk.attached_policy_arns(role)), std::slice::from_ref(&operator_arn));
    let exported: Value =
        serde_json::from_str(&s.ok(&["export", "--format", "operator-policy"]).stdout).unwrap();
    let operator = block_on(sdk.default_document(&operator_arn));
    assert_eq!(normalized(&operator), normalized(&exported));

    // Only that repository's production jobs, with GitHub's tokens for AWS, get in.
    let mut sim = IamSim::start();
    let mut assume = |provider: &str, aud: &str, sub: &str| {
        let context = json!({"token.actions.githubusercontent.com:aud": aud,
            "token.actions.githubusercontent.com:sub": sub});
        sim.decide(
            provider,
            "sts:AssumeRoleWithWebIdentity",
            &role_arn,
            &context,
            &[],
            Some(&trust),
        )
    };
    let gitlab = format!("arn:aws:iam::{ACCOUNT}:oidc-provider/gitlab.com");
    let prod = "repo:your-org/your-app:environment:production";
    assert_eq!(assume(GITHUB, "sts.amazonaws.com", prod), "Allowed");
    let refused = [
        (GITHUB, "sts.amazonaws.com", "repo:your-org/your-app:pull_request"),
        (GITHUB, "sts.amazonaws.com", "repo:your-org/your-app:ref:refs/heads/main"),
        (GITHUB, "sts.amazonaws.com", "repo:someone/your-app:environment:production"),
        (GITHUB, "sts.amazonaws.com", "repo:your-org/your-app:environment:production-2"),
        (GITHUB, "https://github.com/your-org", prod),
        (gitlab.as_str(), "sts.amazonaws.com", prod),
    ];
    for (provider, aud, sub) in refused {
        assert_eq!(assume(provider, aud, sub), "ImplicitlyDenied", "{provider} {aud} {sub}");
    }

    // A second run writes nothing.
    let again = s.ok(&[&["bootstrap", "-o", "json"][..], &repo].concat());
    again.no_writes();
    assert_eq!(again.json()["ci_role_arn"], json!(role_arn));

    // Narrowed to another kind of job: the trust is updated, nothing else.
    let prs =
        s.ok(&[&["bootstrap", "--yes"][..], &repo, &["--github-subject", "pull_request"]].concat());
    assert_eq!(prs.writes(), ["UpdateAssumeRolePolicy"], "{}", prs.all());
    let trust = block_on(sdk.trust_policy(role));
    let sub = &trust["Statement"][0]["Condition"]["StringEquals"]
        ["token.actions.githubusercontent.com:sub"];
    assert_eq!(sub, "repo:your-org/your-app:pull_request");
}
