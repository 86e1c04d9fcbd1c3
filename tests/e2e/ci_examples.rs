//! The GitHub Actions examples parse as YAML, have the structure the docs promise (OIDC, no
//! stored keys, setup installed by this repository's Action, teardown in an `always()` step,
//! drift report uploaded), and every `setup` command in them is one this build accepts.
//! The repository's own workflows are checked in workflows.rs, the release and its Action in
//! release.rs and action.rs.

use std::collections::BTreeSet;

use clap::Parser;
use serde_norway::Value;
use setup::cli::Cli;

use crate::harness::*;
use crate::release::ACTION_PLACEHOLDER;

fn workflow(name: &str) -> Value {
    let path = repo_root().join("examples/github-actions").join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{name} is not YAML: {e}"))
}

pub(crate) fn steps(w: &Value) -> Vec<&Value> {
    w["jobs"]
        .as_mapping()
        .unwrap()
        .values()
        .flat_map(|job| job["steps"].as_sequence().unwrap().iter())
        .collect()
}

pub(crate) fn text(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

/// Commands the examples use that another change adds (`verify`); they must at least be
/// named here, so a typo in any other command still fails.
const ADDED_ELSEWHERE: &[&str] = &["verify"];

/// Splits a command line into words the way the shell does for the simple lines used here:
/// whitespace separates words, double quotes group (and are removed).
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let (mut quoted, mut started) = (false, false);
    for c in line.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                started = true;
            }
            c if c.is_whitespace() && !quoted => {
                if started {
                    words.push(std::mem::take(&mut word));
                    started = false;
                }
            }
            c => {
                word.push(c);
                started = true;
            }
        }
    }
    assert!(!quoted, "unbalanced quotes in {line:?}");
    if started {
        words.push(word);
    }
    words
}

/// Every `setup …` command line in the workflow's `run` scripts.
fn setup_commands(w: &Value) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for step in steps(w) {
        let script = text(&step["run"]).replace("\\\n", " ");
        // `run: >` folds lines into one; `run: |` keeps them.
        for line in script.lines() {
            let line = line.trim();
            let Some(rest) = line.strip_prefix("setup ") else {
                continue;
            };
            let mut words = vec!["setup".to_string()];
            for w in shell_words(rest) {
                if [">", ">>", "|", "&&", "||", ";", "2>"].contains(&w.as_str()) {
                    break;
                }
                words.push(w);
            }
            out.push(words);
        }
    }
    out
}

fn check_commands_parse(w: &Value) -> Vec<Vec<String>> {
    let commands = setup_commands(w);
    assert!(!commands.is_empty());
    for c in &commands {
        match Cli::try_parse_from(c) {
            Ok(_) => {}
            Err(e) if ADDED_ELSEWHERE.contains(&c[1].as_str()) => {
                assert_eq!(e.kind(), clap::error::ErrorKind::InvalidSubcommand, "{c:?}: {e}");
            }
            Err(e) => panic!("{c:?} is not a valid setup command: {e}"),
        }
    }
    commands
}

fn check_oidc(name: &str, w: &Value) {
    // Nothing at the workflow level; the one job asks for the OIDC token and read access.
    assert_eq!(w["permissions"], Value::Mapping(Default::default()), "{name}");
    let jobs = w["jobs"].as_mapping().unwrap();
    assert_eq!(jobs.len(), 1, "{name}");
    let job = jobs.values().next().unwrap();
    assert_eq!(text(&job["permissions"]["id-token"]), "write", "{name}");
    assert_eq!(text(&job["permissions"]["contents"]), "read", "{name}");
    assert_eq!(job["permissions"].as_mapping().unwrap().len(), 2, "{name}");
    let creds: Vec<&Value> = steps(w)
        .into_iter()
        .filter(|s| text(&s["uses"]).starts_with("aws-actions/configure-aws-credentials@"))
        .collect();
    assert_eq!(creds.len(), 1, "{name}");
    let with = &creds[0]["with"];
    assert!(text(&with["role-to-assume"]).contains("vars."), "{name}");
    assert!(!text(&with["aws-region"]).is_empty(), "{name}");
    let raw =
        std::fs::read_to_string(repo_root().join("examples/github-actions").join(name)).unwrap();
    for key in ["aws-access-key-id", "aws-secret-access-key", "AWS_SECRET_ACCESS_KEY"] {
        assert!(!raw.contains(key), "{name} uses long-lived keys ({key})");
    }
    check_installs_with_the_action(name, w);
}

/// `setup` comes from this repository's action (a release binary), before any `setup` command,
/// and nothing compiles it.
fn check_installs_with_the_action(name: &str, w: &Value) {
    let all = steps(w);
    let install = all
        .iter()
        .position(|s| text(&s["uses"]).starts_with(&format!("{ACTION_PLACEHOLDER}@")))
        .unwrap_or_else(|| panic!("{name} does not install setup with {ACTION_PLACEHOLDER}"));
    let first_command = all.iter().position(|s| text(&s["run"]).contains("setup ")).unwrap();
    assert!(install < first_command, "{name}: setup is used before it is installed");
    let inputs = yaml("action.yml");
    for key in all[install]["with"].as_mapping().unwrap().keys() {
        let key = key.as_str().unwrap();
        assert!(
            inputs["inputs"][key].is_mapping(),
            "{name} passes `{key}`, which action.yml does not take"
        );
    }
    let raw = read(&format!("examples/github-actions/{name}"));
    assert!(!raw.contains("cargo install"), "{name} still compiles setup");
}

#[test]
fn pr_workflow_applies_verifies_and_always_tears_down() {
    let w = workflow("pr-stack.yml");
    assert!(w["on"]["pull_request"].is_mapping(), "runs on pull requests");
    check_oidc("pr-stack.yml", &w);
    let commands = check_commands_parse(&w);
    let names: Vec<&str> = commands.iter().map(|c| c[1].as_str()).collect();
    assert_eq!(names, ["init", "apply", "verify", "teardown"]);
    assert!(commands[2].contains(&"--create-test-user".to_string()));
    let teardown = &commands[3];
    for flag in ["--delete-table", "--yes"] {
        assert!(teardown.contains(&flag.to_string()), "{teardown:?}");
    }
    // The teardown step runs whatever happened before it.
    let all = steps(&w);
    let step = all.iter().find(|s| text(&s["run"]).contains("setup teardown")).unwrap();
    assert!(text(&step["if"]).contains("always()"), "{step:?}");
    // Every command uses the per-PR config, so PRs never share a stack.
    for c in &commands {
        assert!(c.windows(2).any(|p| p == ["--config", "pr.toml"]), "{c:?}");
    }
    assert!(text(&w["env"]["STACK"]).contains("github.event.pull_request.number"));
    // A role of its own, and the test user pool: never the production role or user pool.
    assert_eq!(role_variable(&w), "SETUP_PR_ROLE_ARN");
    let init = &commands[0];
    let after = |flag: &str| &init[init.iter().position(|a| a == flag).unwrap() + 1];
    assert_eq!(after("--user-pool-id"), "$SETUP_TEST_USER_POOL_ID", "{init:?}");
    assert_eq!(after("--client-id"), "$SETUP_TEST_CLIENT_ID", "{init:?}");
    let step = all.iter().find(|s| text(&s["run"]).contains("setup init")).unwrap();
    assert_eq!(
        text(&step["env"]["SETUP_TEST_USER_POOL_ID"]),
        "${{ vars.SETUP_TEST_USER_POOL_ID }}"
    );
    // The false comment is gone: on pull_request the workflow file is the branch's own.
    let raw = read("examples/github-actions/pr-stack.yml");
    assert!(!raw.contains("nothing\n# from the branch runs"), "{raw}");
    assert!(raw.contains("this file is read from the pull request's branch"), "{raw}");
}

/// The variable the workflow's one `role-to-assume` reads (`${{ vars.NAME }}`).
fn role_variable(w: &Value) -> String {
    let creds = steps(w)
        .into_iter()
        .find(|s| text(&s["uses"]).starts_with("aws-actions/configure-aws-credentials@"))
        .unwrap();
    let role = text(&creds["with"]["role-to-assume"]);
    role.trim_start_matches("${{ vars.").trim_end_matches(" }}").to_string()
}

/// The production stack changes only from the protected environment, after a plan.
#[test]
fn production_applies_from_its_environment_with_a_role_of_its_own() {
    let w = workflow("apply.yml");
    check_oidc("apply.yml", &w);
    assert!(w["on"]["pull_request"].is_null() && w["on"]["pull_request_target"].is_null());
    assert_eq!(w["on"]["push"]["branches"][0], "main");
    let job = w["jobs"].as_mapping().unwrap().values().next().unwrap();
    assert_eq!(text(&job["environment"]), "production");
    assert_eq!(role_variable(&w), "SETUP_PRODUCTION_ROLE_ARN");
    let commands = check_commands_parse(&w);
    let names: Vec<&str> = commands.iter().map(|c| c[1].as_str()).collect();
    assert_eq!(names, ["plan", "apply"]);
}

/// Each trust policy admits one kind of job of one repository: an exact `sub`, the STS audience,
/// GitHub's OIDC provider, and nothing else.
#[test]
fn each_ci_role_trusts_one_kind_of_job_exactly() {
    let mut subs = Vec::new();
    for (file, ends) in [
        ("github-oidc-trust-pull-request.json", ":pull_request"),
        ("github-oidc-trust-production.json", ":environment:production"),
        ("github-oidc-trust-drift-check.json", ":ref:refs/heads/main"),
        ("github-oidc-trust-janitor.json", ":environment:janitor"),
    ] {
        let doc: serde_json::Value =
            serde_json::from_str(&read(&format!("examples/github-actions/{file}"))).unwrap();
        let statements = doc["Statement"].as_array().unwrap();
        assert_eq!(statements.len(), 1, "{file}");
        let st = &statements[0];
        assert_eq!(st["Action"], "sts:AssumeRoleWithWebIdentity", "{file}");
        let provider = st["Principal"]["Federated"].as_str().unwrap();
        assert!(provider.ends_with(":oidc-provider/token.actions.githubusercontent.com"), "{file}");
        let condition = st["Condition"].as_object().unwrap();
        assert_eq!(condition.keys().collect::<Vec<_>>(), ["StringEquals"], "{file}: no StringLike");
        let equals = &condition["StringEquals"];
        assert_eq!(
            equals["token.actions.githubusercontent.com:aud"], "sts.amazonaws.com",
            "{file}"
        );
        let sub = equals["token.actions.githubusercontent.com:sub"].as_str().unwrap();
        assert!(sub.starts_with("repo:your-org/your-app:") && sub.ends_with(ends), "{file}: {sub}");
        assert!(!sub.contains('*') && !sub.contains('?'), "{file}: {sub}");
        subs.push(sub.to_string());
    }
    subs.sort();
    subs.dedup();
    assert_eq!(subs.len(), 4);
    // Each workflow assumes its own role.
    let roles: Vec<String> = ["pr-stack.yml", "apply.yml", "drift-check.yml", "janitor.yml"]
        .iter()
        .map(|f| role_variable(&workflow(f)))
        .collect();
    assert_eq!(
        roles,
        [
            "SETUP_PR_ROLE_ARN",
            "SETUP_PRODUCTION_ROLE_ARN",
            "SETUP_DRIFT_ROLE_ARN",
            "SETUP_JANITOR_ROLE_ARN"
        ]
    );
}

/// The janitor lists the stacks, then tears down each pull-request stack older than the limit
/// with the config pull-request stacks are made with, from its own environment's role.
#[test]
fn janitor_lists_the_stacks_and_tears_down_the_stale_pull_request_ones() {
    let w = workflow("janitor.yml");
    assert_eq!(text(&w["on"]["schedule"][0]["cron"]).split_whitespace().count(), 5);
    assert!(w["on"]["pull_request"].is_null() && w["on"]["pull_request_target"].is_null());
    check_oidc("janitor.yml", &w);
    let job = w["jobs"].as_mapping().unwrap().values().next().unwrap();
    assert_eq!(text(&job["environment"]), "janitor");
    assert_eq!(role_variable(&w), "SETUP_JANITOR_ROLE_ARN");
    let commands = check_commands_parse(&w);
    let names: Vec<&str> = commands.iter().map(|c| c[1].as_str()).collect();
    assert_eq!(names, ["list", "init", "teardown"]);
    assert!(commands[0].windows(2).any(|p| p == ["--output", "json"]), "{:?}", commands[0]);
    for flag in ["--delete-table", "--yes"] {
        assert!(commands[2].contains(&flag.to_string()), "{:?}", commands[2]);
    }
    // The same table name as the pull request's stack, so teardown --delete-table finds it.
    let pr = check_commands_parse(&workflow("pr-stack.yml"));
    let table = |c: &Vec<String>| c[c.iter().position(|a| a == "--table").unwrap() + 1].clone();
    assert_eq!(table(&commands[1]).replace("$stack", "$STACK"), table(&pr[0]));
    assert_eq!(text(&w["env"]["PREFIX"]), "pr-");
}

/// The janitor's selection, run as GitHub runs it (bash, the workflow's env) on what a real
/// `setup list --output json` printed: the pull-request stacks older than MAX_AGE_DAYS, and
/// nothing else.
#[test]
fn janitor_picks_exactly_the_old_pull_request_stacks() {
    let w = workflow("janitor.yml");
    let pick = steps(&w).into_iter().find(|s| text(&s["name"]) == "Pick the stale ones").unwrap();
    let script = text(&pick["run"]).to_string();
    let region = "ap-northeast-1";
    let pr = Stack::new("pr-janitor-1", "");
    let other = Stack::new("janitor-keep", "");
    for s in [&pr, &other] {
        s.ok(&["apply", "--region", region]);
    }
    let listed = pr.ok(&["list", "--region", region, "--output", "json"]).stdout;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("stacks.json"), &listed).unwrap();
    let stale = |days: &str| {
        let ran = std::process::Command::new("bash")
            .args(["-e", "-c", &script])
            .current_dir(dir.path())
            .env("PREFIX", text(&w["env"]["PREFIX"]))
            .env("MAX_AGE_DAYS", days)
            .output()
            .unwrap();
        assert!(ran.status.success(), "{}", String::from_utf8_lossy(&ran.stderr));
        std::fs::read_to_string(dir.path().join("stale.txt")).unwrap()
    };
    // Made moments ago: older than 0 days, younger than 1.
    assert_eq!(stale("0"), format!("{}\n", pr.name), "{listed}");
    assert_eq!(stale(text(&w["env"]["MAX_AGE_DAYS"])), "", "{listed}");
    for s in [&pr, &other] {
        s.ok(&["teardown", "--delete-table", "--yes", "--region", region]);
    }
}

#[test]
fn drift_check_fails_on_a_nonzero_exit_and_uploads_the_report() {
    let w = workflow("drift-check.yml");
    let cron = text(&w["on"]["schedule"][0]["cron"]);
    assert_eq!(cron.split_whitespace().count(), 5, "{cron}");
    check_oidc("drift-check.yml", &w);
    let commands = check_commands_parse(&w);
    assert_eq!(commands.len(), 1);
    assert_eq!(commands[0][1], "status");
    let all = steps(&w);
    // The status step's exit code is the job's: no `|| true`, no continue-on-error.
    let status = all.iter().find(|s| text(&s["run"]).contains("setup status")).unwrap();
    let run = text(&status["run"]);
    assert!(run.contains("--output json > drift.json"), "{run}");
    assert!(!run.contains("||") && status["continue-on-error"].is_null());
    let upload =
        all.iter().find(|s| text(&s["uses"]).starts_with("actions/upload-artifact@")).unwrap();
    assert!(text(&upload["if"]).contains("always()"));
    assert_eq!(text(&upload["with"]["path"]), "drift.json");
    // The report names ids and security findings: it expires.
    let days = upload["with"]["retention-days"].as_u64().expect("retention-days");
    assert!((1..=14).contains(&days), "{days}");
}

/// The summary step, run as GitHub runs it (bash, `GITHUB_STEP_SUMMARY` a file) on the report of a
/// real `status` with a step out of sync and a security finding: it lists both (issue 22).
#[test]
fn drift_check_summary_lists_steps_out_of_sync_and_security_findings() {
    let w = workflow("drift-check.yml");
    let all = steps(&w);
    let summary = all.iter().find(|s| text(&s["name"]) == "Summary").unwrap();
    assert_eq!(text(&summary["if"]), "failure()");
    let script = text(&summary["run"]).to_string();

    let s = Stack::new("drift-summary", "");
    s.ok(&["apply"]);
    let sdk = sdk();
    let admin =
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
    let put = sdk.iam.put_role_policy().role_name(s.role()).policy_name("admin");
    block_on(put.policy_document(admin).send()).unwrap();
    block_on(sdk.set_deletion_protection(&s.table(), false));
    let r = s.expect(3, &["status", "--output", "json"]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("drift.json"), &r.stdout).unwrap();
    let out = dir.path().join("summary.md");
    let ran = std::process::Command::new("bash")
        .args(["-e", "-c", &script])
        .current_dir(dir.path())
        .env("GITHUB_STEP_SUMMARY", &out)
        .output()
        .unwrap();
    assert!(ran.status.success(), "{}", String::from_utf8_lossy(&ran.stderr));
    let md = std::fs::read_to_string(&out).unwrap();
    let lines: Vec<&str> = md.lines().collect();
    assert!(lines[0].starts_with("## setup status: 1 security finding"), "{md}");
    assert!(lines.contains(&format!("- table: drifted {}", s.table()).as_str()), "{md}");
    let finding = format!("- security (role): inline policy \"admin\" on role {} grants every action (\"*\") on every resource (\"*\"): every signed-in user gets it, beyond the config; setup leaves it as is: delete it", s.role());
    assert!(lines.contains(&finding.as_str()), "{md}");
    block_on(sdk.iam.delete_role_policy().role_name(s.role()).policy_name("admin").send()).unwrap();
}

fn actions(policy: &serde_json::Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for st in policy["Statement"].as_array().unwrap() {
        match &st["Action"] {
            serde_json::Value::String(a) => {
                out.insert(a.clone());
            }
            serde_json::Value::Array(list) => {
                out.extend(list.iter().map(|a| a.as_str().unwrap().to_string()))
            }
            other => panic!("unexpected Action {other}"),
        }
    }
    out
}

#[test]
fn drift_check_policy_is_the_read_only_part_of_the_operator_policy() {
    let dir = repo_root();
    let read = |p: &str| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(dir.join(p)).unwrap()).unwrap()
    };
    let operator = actions(&read("policies/operator.json"));
    let drift = actions(&read("examples/github-actions/drift-check-policy.json"));
    let not_in_operator: Vec<_> = drift.difference(&operator).collect();
    assert!(not_in_operator.is_empty(), "{not_in_operator:?}");
    let writes: Vec<_> = drift.iter().filter(|a| is_write(a.split(':').nth(1).unwrap())).collect();
    assert!(writes.is_empty(), "drift check grants writes: {writes:?}");

    // Every call of `setup status` (missing, then in sync) is granted.
    let s = Stack::new("drift-policy", "");
    let mut used = BTreeSet::new();
    let r = s.run(&["status"]).exits(2);
    used.extend(r.actions);
    s.ok(&["apply"]);
    let r = s.ok(&["status", "--output", "json"]);
    used.extend(r.actions);
    // The emulator logs the Resource Groups Tagging API under its signing name, `tagging`; IAM
    // calls its actions `tag:` (tests/emu/tagging.py).
    let used: BTreeSet<String> = used
        .into_iter()
        .map(|a| match a.strip_prefix("tagging:") {
            Some(op) => format!("tag:{op}"),
            None => a,
        })
        .collect();
    let missing: Vec<_> = used.difference(&drift).collect();
    assert!(missing.is_empty(), "status calls not in drift-check-policy.json: {missing:?}");
}

pub(crate) fn read(rel: &str) -> String {
    std::fs::read_to_string(repo_root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

pub(crate) fn yaml(rel: &str) -> Value {
    serde_norway::from_str(&read(rel)).unwrap_or_else(|e| panic!("{rel} is not YAML: {e}"))
}
