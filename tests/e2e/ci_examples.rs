//! The GitHub Actions examples parse as YAML, have the structure the docs promise (OIDC, no
//! stored keys, setup installed by this repository's Action, teardown in an `always()` step,
//! drift report uploaded), and every `setup` command in them is one this build accepts.
//!
//! The repository's own workflows, its Action and its image: zizmor (offline, pedantic) finds
//! nothing in any workflow or action.yml; every action is pinned to a commit SHA; the release
//! workflow's own packaging and checksum steps produce archives that action.yml, run as the
//! runner would for each runner OS and architecture, downloads, verifies and puts on PATH (and
//! that `cargo binstall` asks for); the Dockerfile builds from a context with every source file
//! and runs `setup` as a non-root user.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use clap::Parser;
use serde_norway::Value;
use setup::cli::Cli;

use crate::harness::*;

fn workflow(name: &str) -> Value {
    let path = repo_root().join("examples/github-actions").join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{name} is not YAML: {e}"))
}

fn steps(w: &Value) -> Vec<&Value> {
    w["jobs"]
        .as_mapping()
        .unwrap()
        .values()
        .flat_map(|job| job["steps"].as_sequence().unwrap().iter())
        .collect()
}

fn text(v: &Value) -> &str {
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
                assert_eq!(
                    e.kind(),
                    clap::error::ErrorKind::InvalidSubcommand,
                    "{c:?}: {e}"
                );
            }
            Err(e) => panic!("{c:?} is not a valid setup command: {e}"),
        }
    }
    commands
}

fn check_oidc(name: &str, w: &Value) {
    // Nothing at the workflow level; the one job asks for the OIDC token and read access.
    assert_eq!(
        w["permissions"],
        Value::Mapping(Default::default()),
        "{name}"
    );
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
    for key in [
        "aws-access-key-id",
        "aws-secret-access-key",
        "AWS_SECRET_ACCESS_KEY",
    ] {
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
    let first_command = all
        .iter()
        .position(|s| text(&s["run"]).contains("setup "))
        .unwrap();
    assert!(
        install < first_command,
        "{name}: setup is used before it is installed"
    );
    let inputs = yaml("action.yml");
    for key in all[install]["with"].as_mapping().unwrap().keys() {
        let key = key.as_str().unwrap();
        assert!(
            inputs["inputs"][key].is_mapping(),
            "{name} passes `{key}`, which action.yml does not take"
        );
    }
    let raw = read(&format!("examples/github-actions/{name}"));
    assert!(
        !raw.contains("cargo install"),
        "{name} still compiles setup"
    );
}

#[test]
fn pr_workflow_applies_verifies_and_always_tears_down() {
    let w = workflow("pr-stack.yml");
    assert!(
        w["on"]["pull_request"].is_mapping(),
        "runs on pull requests"
    );
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
    let step = all
        .iter()
        .find(|s| text(&s["run"]).contains("setup teardown"))
        .unwrap();
    assert!(text(&step["if"]).contains("always()"), "{step:?}");
    // Every command uses the per-PR config, so PRs never share a stack.
    for c in &commands {
        assert!(c.windows(2).any(|p| p == ["--config", "pr.toml"]), "{c:?}");
    }
    assert!(text(&w["env"]["STACK"]).contains("github.event.pull_request.number"));
}

#[test]
fn drift_check_fails_on_exit_2_and_uploads_the_report() {
    let w = workflow("drift-check.yml");
    let cron = text(&w["on"]["schedule"][0]["cron"]);
    assert_eq!(cron.split_whitespace().count(), 5, "{cron}");
    check_oidc("drift-check.yml", &w);
    let commands = check_commands_parse(&w);
    assert_eq!(commands.len(), 1);
    assert_eq!(commands[0][1], "status");
    let all = steps(&w);
    // The status step's exit code is the job's: no `|| true`, no continue-on-error.
    let status = all
        .iter()
        .find(|s| text(&s["run"]).contains("setup status"))
        .unwrap();
    let run = text(&status["run"]);
    assert!(run.contains("--output json > drift.json"), "{run}");
    assert!(!run.contains("||") && status["continue-on-error"].is_null());
    let upload = all
        .iter()
        .find(|s| text(&s["uses"]).starts_with("actions/upload-artifact@"))
        .unwrap();
    assert!(text(&upload["if"]).contains("always()"));
    assert_eq!(text(&upload["with"]["path"]), "drift.json");
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
    let writes: Vec<_> = drift
        .iter()
        .filter(|a| is_write(a.split(':').nth(1).unwrap()))
        .collect();
    assert!(writes.is_empty(), "drift check grants writes: {writes:?}");
    let _: serde_json::Value = read("examples/github-actions/github-oidc-trust.json");

    // Every call of `setup status` (missing, then in sync) is granted.
    let s = Stack::new("drift-policy", "");
    let mut used = BTreeSet::new();
    let r = s.run(&["status"]);
    assert_eq!(r.code, 2, "{}", r.all());
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
    assert!(
        missing.is_empty(),
        "status calls not in drift-check-policy.json: {missing:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// The repository's own workflows (.github/workflows), its Action (action.yml) and its image
// (Dockerfile): zizmor, pinning, and the release → Action → PATH chain run for real.
// ---------------------------------------------------------------------------------------------

/// The repository the examples and the binstall metadata name until the real owner is known.
pub(crate) const ACTION_PLACEHOLDER: &str = "your-org/setup";

/// What the release publishes, and the runner (`RUNNER_OS`/`RUNNER_ARCH`) that gets each one.
pub(crate) const RELEASE_TARGETS: [(&str, &str, &str); 5] = [
    ("x86_64-unknown-linux-musl", "Linux", "X64"),
    ("aarch64-unknown-linux-musl", "Linux", "ARM64"),
    ("x86_64-apple-darwin", "macOS", "X64"),
    ("aarch64-apple-darwin", "macOS", "ARM64"),
    ("x86_64-pc-windows-msvc", "Windows", "X64"),
];

fn archive_name(target: &str) -> String {
    if target.contains("windows") {
        format!("setup-{target}.zip")
    } else {
        format!("setup-{target}.tar.gz")
    }
}

fn exe_name(target: &str) -> &'static str {
    if target.contains("windows") {
        "setup.exe"
    } else {
        "setup"
    }
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(repo_root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn yaml(rel: &str) -> Value {
    serde_norway::from_str(&read(rel)).unwrap_or_else(|e| panic!("{rel} is not YAML: {e}"))
}

/// Every workflow and action definition zizmor must pass, relative to the repository root.
fn actions_files() -> Vec<String> {
    let mut files = Vec::new();
    for dir in [".github/workflows", "examples/github-actions"] {
        for entry in std::fs::read_dir(repo_root().join(dir)).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            if name.ends_with(".yml") || name.ends_with(".yaml") {
                files.push(format!("{dir}/{name}"));
            }
        }
    }
    files.push("action.yml".into());
    files.sort();
    for expected in [
        ".github/workflows/ci.yml",
        ".github/workflows/release.yml",
        "examples/github-actions/drift-check.yml",
        "examples/github-actions/pr-stack.yml",
    ] {
        assert!(files.iter().any(|f| f == expected), "{expected} is missing");
    }
    files
}

/// The version tests/requirements.txt pins for a Python tool.
fn pinned(tool: &str) -> String {
    read("tests/requirements.txt")
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{tool}==")).map(str::to_string))
        .unwrap_or_else(|| panic!("tests/requirements.txt does not pin {tool}"))
}

/// zizmor as installed by tests/run.sh (pip puts the binary in the test Python's scripts
/// directory, which need not be on PATH). Panics — the test fails, never skips — when the pinned
/// version is not installed.
fn zizmor() -> PathBuf {
    let want = pinned("zizmor");
    let python = std::env::var("SETUP_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let mut candidates = Vec::new();
    if let Ok(out) = Command::new(&python)
        .args([
            "-c",
            "import sysconfig; print(sysconfig.get_path('scripts'))",
        ])
        .output()
    {
        let scripts = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        candidates.push(scripts.join("zizmor"));
        candidates.push(scripts.join("zizmor.exe"));
    }
    candidates.push(PathBuf::from("zizmor"));
    let mut found = Vec::new();
    for c in candidates {
        if let Ok(out) = Command::new(&c).arg("--version").output() {
            let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
            if version == format!("zizmor {want}") {
                return c;
            }
            found.push(format!("{} ({version})", c.display()));
        }
    }
    panic!(
        "zizmor {want} is not installed for {python} (found: {found:?}); run tests/run.sh, which \
         installs it (tests/requirements.txt)"
    )
}

/// zizmor's findings, offline, with the pedantic persona (which includes the default one's), no
/// configuration file, on every workflow and action.yml.
fn zizmor_findings(extra: &[&str]) -> (std::process::Output, Vec<serde_json::Value>) {
    let out = Command::new(zizmor())
        .args([
            "--offline",
            "--no-config",
            "--persona",
            "pedantic",
            "--format",
            "json",
        ])
        .args(extra)
        .args(actions_files())
        .current_dir(repo_root())
        .output()
        .unwrap();
    let findings: Vec<serde_json::Value> =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "zizmor gave no JSON (exit {:?}): {e}\n{}",
                out.status.code(),
                String::from_utf8_lossy(&out.stderr)
            )
        });
    (out, findings)
}

/// `path:line: ident (severity): description — annotation`, and the source line.
fn describe_finding(f: &serde_json::Value) -> (String, String) {
    let loc = &f["locations"][0];
    let path = loc["symbolic"]["key"]["Local"]["verbatim_path"]
        .as_str()
        .unwrap_or("?");
    let row = loc["concrete"]["location"]["start_point"]["row"]
        .as_u64()
        .unwrap_or(0) as usize;
    let line = std::fs::read_to_string(repo_root().join(path))
        .ok()
        .and_then(|t| t.lines().nth(row).map(|l| l.trim().to_string()))
        .unwrap_or_default();
    (
        format!(
            "{path}:{}: {} ({}): {} — {}",
            row + 1,
            f["ident"].as_str().unwrap_or("?"),
            f["determinations"]["severity"].as_str().unwrap_or("?"),
            f["desc"].as_str().unwrap_or("?"),
            loc["symbolic"]["annotation"].as_str().unwrap_or(""),
        ),
        line,
    )
}

#[test]
fn workflows_and_the_action_have_no_zizmor_findings() {
    let (out, findings) = zizmor_findings(&[]);
    let list: Vec<String> = findings.iter().map(|f| describe_finding(f).0).collect();
    assert!(
        findings.is_empty(),
        "zizmor --offline --persona pedantic found {} problem(s):\n{}",
        list.len(),
        list.join("\n")
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // No `# zizmor: ignore[...]` hides anything but the one reviewed exception (action.yml
    // explains it): its GITHUB_PATH write is the runner's temp directory plus a constant.
    let (_, all) = zizmor_findings(&["--no-ignores"]);
    let ignored: Vec<(String, String)> = all
        .iter()
        .map(|f| {
            let (place, line) = describe_finding(f);
            (place, line)
        })
        .collect();
    assert_eq!(
        ignored.len(),
        1,
        "zizmor findings hidden by ignore comments: {ignored:#?}"
    );
    let (place, line) = &ignored[0];
    assert!(
        place.starts_with("action.yml:") && place.contains(": github-env ("),
        "{place}"
    );
    assert_eq!(
        line,
        r#"run: echo "$RUNNER_TEMP/setup-action/bin" >> "$GITHUB_PATH" # zizmor: ignore[github-env]"#
    );
}

/// Every `uses:` value in a workflow or action (steps of every job, composite steps).
fn uses_values(doc: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let mut step_lists: Vec<&Value> = Vec::new();
    if let Some(jobs) = doc["jobs"].as_mapping() {
        for job in jobs.values() {
            if let Some(u) = job["uses"].as_str() {
                out.push(u.to_string()); // a reusable workflow
            }
            step_lists.push(&job["steps"]);
        }
    }
    step_lists.push(&doc["runs"]["steps"]);
    for list in step_lists {
        for step in list.as_sequence().into_iter().flatten() {
            if let Some(u) = step["uses"].as_str() {
                out.push(u.to_string());
            }
        }
    }
    out
}

#[test]
fn every_action_is_pinned_to_a_commit_sha_with_its_release_in_a_comment() {
    let mut pins: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in actions_files() {
        let raw = read(&file);
        let mut on_lines = Vec::new();
        for (i, line) in raw.lines().enumerate() {
            let t = line.trim_start().trim_start_matches("- ");
            let Some(rest) = t.strip_prefix("uses:") else {
                continue;
            };
            let (reference, comment) = rest.trim().split_once(" # ").unwrap_or_else(|| {
                panic!(
                    "{file}:{}: `{}` has no `# vX.Y.Z` comment",
                    i + 1,
                    line.trim()
                )
            });
            let (action, sha) = reference
                .split_once('@')
                .unwrap_or_else(|| panic!("{file}:{}: `{reference}` names no version", i + 1));
            assert!(
                sha.len() == 40 && sha.bytes().all(|b| b.is_ascii_hexdigit()),
                "{file}:{}: {action} is pinned to `{sha}`, not a full commit SHA",
                i + 1
            );
            let version = comment.trim();
            assert!(
                version.starts_with('v')
                    && version[1..]
                        .split('.')
                        .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())),
                "{file}:{}: the comment `# {comment}` is not the release (vX.Y.Z) of {action}",
                i + 1
            );
            pins.entry(action.to_string())
                .or_default()
                .insert(format!("{sha} # {version}"));
            on_lines.push(reference.to_string());
        }
        // Every `uses` the YAML parser sees was on a line checked above.
        let mut parsed = uses_values(&yaml(&file));
        parsed.sort();
        on_lines.sort();
        assert_eq!(parsed, on_lines, "{file}");
    }
    // One action, one pin: updating a pin in one file but not another shows up here.
    for (action, versions) in &pins {
        assert_eq!(
            versions.len(),
            1,
            "{action} is pinned differently: {versions:?}"
        );
    }
    assert!(pins.contains_key("actions/checkout"), "{pins:?}");
}

// --- A small stand-in for the Actions runner: runs `shell: bash` steps with their `env:`. ------

/// Replaces each `${{ expr }}` with its value; an expression the test does not know fails.
fn expand(value: &str, vars: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = value;
    while let Some(start) = rest.find("${{") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find("}}").expect("unclosed ${{") + start;
        let expr = rest[start + 3..end].trim();
        let v = vars
            .get(expr)
            .unwrap_or_else(|| panic!("the test does not evaluate `{expr}` (in {value:?})"));
        out.push_str(v);
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    out
}

fn env_of(v: &Value, vars: &BTreeMap<String, String>) -> Vec<(String, String)> {
    v.as_mapping()
        .into_iter()
        .flatten()
        .map(|(k, v)| {
            let value = match v {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                other => panic!("env value {other:?}"),
            };
            (k.as_str().unwrap().to_string(), expand(&value, vars))
        })
        .collect()
}

/// Runs one `run:` step the way the runner does for `shell: bash`
/// (`bash --noprofile --norc -eo pipefail {0}`), with a clean environment: PATH (the fakes
/// first), HOME, and `env`.
fn run_bash_step(
    step: &Value,
    default_shell: Option<&str>,
    env: &[(String, String)],
    cwd: &Path,
    fakes: &Path,
) -> std::process::Output {
    let shell = step["shell"].as_str().or(default_shell);
    assert_eq!(shell, Some("bash"), "{step:?}");
    let script = text(&step["run"]);
    assert!(
        !script.contains("${{"),
        "a run script takes its values from env:, never from ${{{{ }}}}: {script}"
    );
    let dir = match step["working-directory"].as_str() {
        Some(d) => cwd.join(d),
        None => cwd.to_path_buf(),
    };
    let file = fakes.parent().unwrap().join("step.sh");
    std::fs::write(&file, script).unwrap();
    Command::new("bash")
        .args(["--noprofile", "--norc", "-eo", "pipefail"])
        .arg(&file)
        .current_dir(dir)
        .env_clear()
        .env(
            "PATH",
            format!("{}:{}", fakes.display(), std::env::var("PATH").unwrap()),
        )
        .env("HOME", fakes.parent().unwrap())
        .env("LC_ALL", "C")
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .output()
        .unwrap()
}

fn step_named<'a>(job: &'a Value, name: &str) -> &'a Value {
    job["steps"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|s| text(&s["name"]) == name)
        .unwrap_or_else(|| panic!("no step named {name:?}"))
}

pub(crate) fn write_executable(path: &Path, body: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, body).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Stand-ins for the runner's tools that cannot run here: `curl` serves github.com release
/// downloads from `$FAKE_RELEASES/<owner>/<name>/<tag>/<file>` (404 otherwise; `-o FILE`, `-O`
/// or stdout), answers `releases/latest` with a redirect to `$FAKE_LATEST` (to `/releases` when
/// empty, as GitHub does without a release), and logs every URL; `7z a -tzip` (Windows runners)
/// is `zip`.
pub(crate) fn fake_tools(dir: &Path) -> PathBuf {
    let bin = dir.join("fake-bin");
    write_executable(
        &bin.join("curl"),
        r#"#!/usr/bin/env bash
out="" fmt="" url="" remote_name=""
while [ $# -gt 0 ]; do
  case "$1" in
    -o) out="$2"; shift 2 ;;
    -w) fmt="$2"; shift 2 ;;
    --retry | --proto) shift 2 ;;
    --*) shift ;;
    -*O*) remote_name=1; shift ;;
    -*) shift ;;
    *) url="$1"; shift ;;
  esac
done
[ -n "$remote_name" ] && out="${url##*/}"
printf '%s\n' "$url" >> "$FAKE_CURL_LOG"
case "$url" in
  https://github.com/*/*/releases/latest)
    repo="${url#https://github.com/}"
    repo="${repo%/releases/latest}"
    effective="https://github.com/$repo/releases"
    [ -n "$FAKE_LATEST" ] && effective="$effective/tag/$FAKE_LATEST"
    [ "$fmt" = '%{url_effective}' ] && printf '%s' "$effective"
    exit 0
    ;;
  https://github.com/*/*/releases/download/*/*)
    rel="${url#https://github.com/}"
    src="$FAKE_RELEASES/${rel/\/releases\/download\//\/}"
    if [ ! -f "$src" ]; then
      echo "curl: (22) The requested URL returned error: 404" >&2
      exit 22
    fi
    if [ -n "$out" ]; then cp "$src" "$out"; else cat "$src"; fi
    ;;
  *)
    echo "curl: (6) the test's curl does not serve $url" >&2
    exit 6
    ;;
esac
"#,
    );
    write_executable(
        &bin.join("7z"),
        r#"#!/usr/bin/env bash
[ "$1" = a ] && [ "$2" = -tzip ] || { echo "7z: the test only knows 'a -tzip'" >&2; exit 2; }
shift 2
while [ "${1#-}" != "$1" ]; do shift; done
out="$1"; shift
exec zip -q "$out" "$@"
"#,
    );
    bin
}

/// Runs release.yml's own packaging and checksum steps on a stand-in binary for every target of
/// its build matrix (the binary prints its target), as the release jobs would after
/// `cargo build`, and returns the files `gh release create` uploads (`dist/`).
pub(crate) fn build_release(tmp: &Path, fakes: &Path) -> PathBuf {
    let release = yaml(".github/workflows/release.yml");
    let shell = release["defaults"]["run"]["shell"].as_str();
    let build = &release["jobs"]["build"];
    let package = step_named(build, "Package");
    let work = tmp.join("checkout");
    for entry in build["strategy"]["matrix"]["include"]
        .as_sequence()
        .unwrap()
    {
        let target = text(&entry["target"]);
        let vars: BTreeMap<String, String> = entry
            .as_mapping()
            .unwrap()
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    Value::String(s) => s.clone(),
                    other => serde_norway::to_string(other).unwrap().trim().to_string(),
                };
                (format!("matrix.{}", k.as_str().unwrap()), v)
            })
            .collect();
        write_executable(
            &work.join(format!("target/{target}/release/{}", exe_name(target))),
            &format!("#!/bin/sh\necho \"setup 0.1.0 ({target})\"\n"),
        );
        let mut env = env_of(&release["env"], &vars);
        env.extend(env_of(&package["env"], &vars));
        let out = run_bash_step(package, shell, &env, &work, fakes);
        assert!(
            out.status.success(),
            "Package for {target}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // download-artifact with merge-multiple puts every build's dist/ into one dist/; here they
    // were written to the same one.
    let publish = &release["jobs"]["publish"];
    let sums = step_named(publish, "SHA256SUMS");
    let out = run_bash_step(sums, shell, &[], &work, fakes);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    work.join("dist")
}

fn list_dir(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect()
}

/// Publishes `dist` as release `tag` of `repo` for the fake curl.
pub(crate) fn publish(dist: &Path, releases: &Path, repo: &str, tag: &str) {
    let dir = releases.join(repo).join(tag);
    std::fs::create_dir_all(&dir).unwrap();
    for name in list_dir(dist) {
        std::fs::copy(dist.join(&name), dir.join(&name)).unwrap();
    }
}

struct ActionRun {
    ok: bool,
    log: String,
    urls: Vec<String>,
    /// Lines the action appended to GITHUB_PATH.
    path: Vec<String>,
    /// The action's outputs (action.yml `outputs:`, read from its steps' GITHUB_OUTPUT).
    outputs: BTreeMap<String, String>,
}

/// Runs action.yml's composite steps as the runner would for `uses: your-org/setup@<sha>` on a
/// `runner_os`/`runner_arch` runner, in the repository `someone/app`.
fn run_action(
    tmp: &Path,
    fakes: &Path,
    releases: &Path,
    latest: &str,
    runner: (&str, &str),
    with: &[(&str, &str)],
) -> ActionRun {
    let action = yaml("action.yml");
    assert_eq!(text(&action["runs"]["using"]), "composite");
    let mut vars = BTreeMap::new();
    for (name, spec) in action["inputs"].as_mapping().unwrap() {
        let name = name.as_str().unwrap();
        vars.insert(format!("inputs.{name}"), text(&spec["default"]).to_string());
    }
    for (k, v) in with {
        assert!(vars.contains_key(&format!("inputs.{k}")), "no input {k}");
        vars.insert(format!("inputs.{k}"), v.to_string());
    }
    // Kept (until `tmp` goes) so the installed binary can be run afterwards.
    let root = &tempfile::tempdir_in(tmp).unwrap().keep();
    // Where the runner checks out `uses: your-org/setup@<sha>`.
    let action_path = root.join(format!("_actions/{ACTION_PLACEHOLDER}/{}", "0".repeat(40)));
    let runner_temp = root.join("_temp");
    let workspace = root.join("workspace");
    for d in [&action_path, &runner_temp, &workspace] {
        std::fs::create_dir_all(d).unwrap();
    }
    let curl_log = root.join("curl.log");
    let github_path = root.join("github_path");
    std::fs::write(&curl_log, "").unwrap();
    std::fs::write(&github_path, "").unwrap();
    let mut log = String::new();
    let mut ok = true;
    let mut step_outputs: BTreeMap<String, String> = BTreeMap::new();
    for (i, step) in action["runs"]["steps"]
        .as_sequence()
        .unwrap()
        .iter()
        .enumerate()
    {
        assert!(step["if"].is_null(), "the test does not evaluate `if:`");
        let output_file = root.join(format!("github_output_{i}"));
        std::fs::write(&output_file, "").unwrap();
        let mut env = vec![
            ("RUNNER_OS".to_string(), runner.0.to_string()),
            ("RUNNER_ARCH".to_string(), runner.1.to_string()),
            ("RUNNER_TEMP".to_string(), runner_temp.display().to_string()),
            (
                "GITHUB_ACTION_PATH".into(),
                action_path.display().to_string(),
            ),
            ("GITHUB_REPOSITORY".into(), "someone/app".into()),
            ("GITHUB_PATH".into(), github_path.display().to_string()),
            ("GITHUB_OUTPUT".into(), output_file.display().to_string()),
            ("FAKE_CURL_LOG".into(), curl_log.display().to_string()),
            ("FAKE_RELEASES".into(), releases.display().to_string()),
            ("FAKE_LATEST".into(), latest.to_string()),
        ];
        env.extend(env_of(&step["env"], &vars));
        let out = run_bash_step(step, None, &env, &workspace, fakes);
        log.push_str(&String::from_utf8_lossy(&out.stdout));
        log.push_str(&String::from_utf8_lossy(&out.stderr));
        if let Some(id) = step["id"].as_str() {
            for line in std::fs::read_to_string(&output_file).unwrap().lines() {
                let (k, v) = line.split_once('=').expect("name=value");
                step_outputs.insert(format!("steps.{id}.outputs.{k}"), v.to_string());
            }
        }
        if !out.status.success() {
            ok = false;
            break;
        }
    }
    let mut outputs = BTreeMap::new();
    if ok {
        for (name, spec) in action["outputs"].as_mapping().unwrap() {
            outputs.insert(
                name.as_str().unwrap().to_string(),
                expand(text(&spec["value"]), &step_outputs),
            );
        }
    }
    let lines = |p: &Path| -> Vec<String> {
        std::fs::read_to_string(p)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    };
    ActionRun {
        ok,
        log,
        urls: lines(&curl_log),
        path: lines(&github_path),
        outputs,
    }
}

fn release_url(repo: &str, tag: &str, file: &str) -> String {
    format!("https://github.com/{repo}/releases/download/{tag}/{file}")
}

/// `pkg-url` and `bin-dir` of `[package.metadata.binstall]` for a target.
fn binstall(target: &str) -> (String, String, String) {
    let manifest: toml::Table = read("Cargo.toml").parse().unwrap();
    let meta = &manifest["package"]["metadata"]["binstall"];
    let get = |key: &str| -> String {
        meta.get("overrides")
            .and_then(|o| o.get(target))
            .and_then(|o| o.get(key))
            .or_else(|| meta.get(key))
            .and_then(|v| v.as_str())
            .unwrap_or_else(|| panic!("binstall {key} for {target}"))
            .to_string()
    };
    let version = manifest["package"]["version"].as_str().unwrap();
    let ext = if target.contains("windows") {
        ".exe"
    } else {
        ""
    };
    let fill = |t: String| {
        t.replace("{ version }", version)
            .replace("{ target }", target)
            .replace("{ bin }", "setup")
            .replace("{ binary-ext }", ext)
    };
    (fill(get("pkg-url")), fill(get("bin-dir")), get("pkg-fmt"))
}

/// The names inside an archive.
fn archive_entries(archive: &Path) -> Vec<String> {
    let out = if archive.extension().unwrap() == "zip" {
        Command::new("unzip").arg("-Z1").arg(archive).output()
    } else {
        Command::new("tar").arg("-tzf").arg(archive).output()
    }
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn release_workflow_builds_every_target_then_publishes_and_pushes_the_image() {
    let w = yaml(".github/workflows/release.yml");
    let tags: Vec<&str> = w["on"]["push"]["tags"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(text)
        .collect();
    assert_eq!(tags, ["v*"]);
    let jobs = w["jobs"].as_mapping().unwrap();
    let names: Vec<&str> = jobs.keys().map(|k| k.as_str().unwrap()).collect();
    assert_eq!(names, ["build", "publish", "image", "image-manifest"]);
    let needs = |job: &str| -> Vec<String> {
        match &w["jobs"][job]["needs"] {
            Value::String(s) => vec![s.clone()],
            Value::Sequence(s) => s.iter().map(|v| text(v).to_string()).collect(),
            _ => vec![],
        }
    };
    assert_eq!(needs("publish"), ["build"]);
    assert_eq!(needs("image-manifest"), ["image", "publish"]);
    let targets: BTreeSet<&str> = w["jobs"]["build"]["strategy"]["matrix"]["include"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|e| text(&e["target"]))
        .collect();
    let want: BTreeSet<&str> = RELEASE_TARGETS.iter().map(|t| t.0).collect();
    assert_eq!(targets, want);
    // Only the jobs that publish get write tokens, each for what it writes.
    let perms = |job: &str| serde_norway::to_string(&w["jobs"][job]["permissions"]).unwrap();
    assert_eq!(perms("build"), "contents: read\n");
    assert_eq!(perms("publish"), "contents: write\n");
    assert_eq!(perms("image"), "contents: read\npackages: write\n");
    assert_eq!(perms("image-manifest"), "packages: write\n");
    let create = text(&step_named(&w["jobs"]["publish"], "Create the release")["run"]);
    assert!(
        create.contains("gh release create \"$GITHUB_REF_NAME\" dist/*"),
        "{create}"
    );
}

#[test]
fn release_archives_install_through_the_action_on_every_runner() {
    let tmp = tempfile::tempdir().unwrap();
    let fakes = fake_tools(tmp.path());
    let dist = build_release(tmp.path(), &fakes);

    // The release's files: one archive per target with just the binary in it, and SHA256SUMS
    // with a line for each.
    let mut want: BTreeSet<String> = RELEASE_TARGETS.iter().map(|t| archive_name(t.0)).collect();
    want.insert("SHA256SUMS".into());
    assert_eq!(list_dir(&dist), want);
    let sums = std::fs::read_to_string(dist.join("SHA256SUMS")).unwrap();
    for (target, _, _) in RELEASE_TARGETS {
        let archive = archive_name(target);
        assert_eq!(archive_entries(&dist.join(&archive)), [exe_name(target)]);
        assert_eq!(
            sums.lines()
                .filter(|l| l.ends_with(&format!("  {archive}")))
                .count(),
            1,
            "{sums}"
        );
    }

    let releases = tmp.path().join("releases");
    publish(&dist, &releases, ACTION_PLACEHOLDER, "v0.1.0");
    for (target, os, arch) in RELEASE_TARGETS {
        let r = run_action(
            tmp.path(),
            &fakes,
            &releases,
            "v0.1.0",
            (os, arch),
            &[("version", "v0.1.0")],
        );
        assert!(r.ok, "{os} {arch}: {}", r.log);
        let archive_url = release_url(ACTION_PLACEHOLDER, "v0.1.0", &archive_name(target));
        assert_eq!(
            r.urls,
            [
                archive_url.clone(),
                release_url(ACTION_PLACEHOLDER, "v0.1.0", "SHA256SUMS")
            ],
            "{os} {arch}"
        );
        // On PATH for the next steps, and it is this target's binary.
        assert_eq!(r.path.len(), 1, "{:?}", r.path);
        let installed = Path::new(&r.path[0]).join(exe_name(target));
        let out = Command::new(&installed).output().unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            format!("setup 0.1.0 ({target})")
        );
        assert_eq!(r.outputs["version"], "v0.1.0");
        assert_eq!(Path::new(&r.outputs["path"]), installed);
        // `cargo binstall` asks for the same file, and finds the binary where it is.
        let (pkg_url, bin_dir, pkg_fmt) = binstall(target);
        assert_eq!(pkg_url, archive_url, "binstall pkg-url for {target}");
        assert_eq!(bin_dir, exe_name(target), "binstall bin-dir for {target}");
        let fmt = if target.contains("windows") {
            "zip"
        } else {
            "tgz"
        };
        assert_eq!(pkg_fmt, fmt, "binstall pkg-fmt for {target}");
    }
}

#[test]
fn the_action_installs_nothing_that_does_not_match_sha256sums() {
    let tmp = tempfile::tempdir().unwrap();
    let fakes = fake_tools(tmp.path());
    let dist = build_release(tmp.path(), &fakes);
    let releases = tmp.path().join("releases");
    publish(&dist, &releases, ACTION_PLACEHOLDER, "v0.1.0");
    let rel = releases.join(ACTION_PLACEHOLDER).join("v0.1.0");
    let linux = "setup-x86_64-unknown-linux-musl.tar.gz";

    // One byte more than the release's checksum says.
    let mut bytes = std::fs::read(rel.join(linux)).unwrap();
    bytes.push(0);
    std::fs::write(rel.join(linux), &bytes).unwrap();
    let r = run_action(
        tmp.path(),
        &fakes,
        &releases,
        "v0.1.0",
        ("Linux", "X64"),
        &[],
    );
    assert!(!r.ok);
    assert!(
        r.log.contains(&format!(
            "::error title=Install setup::checksum mismatch for {linux}: SHA256SUMS says "
        )),
        "{}",
        r.log
    );
    assert!(r.log.contains("not installing it"), "{}", r.log);
    assert!(r.path.is_empty(), "{:?}", r.path);

    // A SHA256SUMS without a line for the archive.
    let sums = std::fs::read_to_string(rel.join("SHA256SUMS")).unwrap();
    let without: String = sums
        .lines()
        .filter(|l| !l.ends_with(linux))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(rel.join("SHA256SUMS"), without).unwrap();
    let r = run_action(
        tmp.path(),
        &fakes,
        &releases,
        "v0.1.0",
        ("Linux", "X64"),
        &[],
    );
    assert!(!r.ok);
    assert!(
        r.log.contains(&format!(
            "SHA256SUMS of v0.1.0 has no single line for {linux}"
        )),
        "{}",
        r.log
    );
    assert!(r.path.is_empty());
}

#[test]
fn the_action_resolves_latest_and_refuses_what_is_not_a_release() {
    let tmp = tempfile::tempdir().unwrap();
    let fakes = fake_tools(tmp.path());
    let dist = build_release(tmp.path(), &fakes);
    let releases = tmp.path().join("releases");
    publish(&dist, &releases, ACTION_PLACEHOLDER, "v0.1.0");
    publish(&dist, &releases, "a-fork/setup", "v0.1.0");
    let linux = ("Linux", "X64");
    let archive = archive_name("x86_64-unknown-linux-musl");

    // The default, latest: the tag GitHub's releases/latest redirects to.
    let r = run_action(tmp.path(), &fakes, &releases, "v0.1.0", linux, &[]);
    assert!(r.ok, "{}", r.log);
    assert_eq!(
        r.urls[..2],
        [
            format!("https://github.com/{ACTION_PLACEHOLDER}/releases/latest"),
            release_url(ACTION_PLACEHOLDER, "v0.1.0", &archive)
        ]
    );
    assert_eq!(r.outputs["version"], "v0.1.0");

    // A version without the v; another repository's releases.
    let r = run_action(
        tmp.path(),
        &fakes,
        &releases,
        "",
        linux,
        &[("version", "0.1.0"), ("repository", "a-fork/setup")],
    );
    assert!(r.ok, "{}", r.log);
    assert_eq!(r.urls[0], release_url("a-fork/setup", "v0.1.0", &archive));

    let fails = |latest: &str, runner: (&str, &str), with: &[(&str, &str)], message: &str| {
        let r = run_action(tmp.path(), &fakes, &releases, latest, runner, with);
        assert!(!r.ok, "{with:?} succeeded: {}", r.log);
        assert!(
            r.log
                .contains(&format!("::error title=Install setup::{message}")),
            "{with:?}: {}",
            r.log
        );
        assert!(r.path.is_empty());
        r
    };
    fails(
        "v0.1.0",
        linux,
        &[("version", "v9.9.9")],
        &format!(
            "could not download {} (is v9.9.9 a release of {ACTION_PLACEHOLDER}?)",
            release_url(ACTION_PLACEHOLDER, "v9.9.9", &archive)
        ),
    );
    let r = fails(
        "v0.1.0",
        linux,
        &[("version", "1.0; touch pwned")],
        "version \"1.0; touch pwned\" is not a release version like v0.1.0 or 0.1.0 (or latest)",
    );
    assert!(r.urls.is_empty(), "{:?}", r.urls);
    fails(
        "",
        linux,
        &[],
        &format!("{ACTION_PLACEHOLDER} has no published release"),
    );
    fails(
        "v0.1.0",
        linux,
        &[("repository", "not a repo")],
        "repository \"not a repo\" is not owner/name",
    );
    fails(
        "v0.1.0",
        ("Linux", "ARM"),
        &[("version", "v0.1.0")],
        "no release binary of setup for a Linux ARM runner; build it instead: cargo install --locked --git",
    );
}

#[test]
fn ci_runs_ci_run_with_a_dependency_cache_on_every_push_and_pull_request() {
    let w = yaml(".github/workflows/ci.yml");
    let push = &w["on"]["push"];
    assert!(
        push["branches"]
            .as_sequence()
            .map(|b| b.iter().map(text).collect::<Vec<_>>())
            == Some(vec!["**"]),
        "every branch: {push:?}"
    );
    assert!(push["paths"].is_null() && push["paths-ignore"].is_null());
    let pr = &w["on"]["pull_request"];
    assert!(
        pr.is_null() || pr.as_mapping().is_some_and(|m| m.is_empty()),
        "{pr:?}"
    );
    assert!(w["on"].as_mapping().unwrap().contains_key("pull_request"));
    let jobs = w["jobs"].as_mapping().unwrap();
    let names: Vec<&str> = jobs.keys().map(|k| k.as_str().unwrap()).collect();
    assert_eq!(names, ["ci"]);
    let steps = w["jobs"]["ci"]["steps"].as_sequence().unwrap();
    let run = steps
        .iter()
        .position(|s| text(&s["run"]).trim() == "bash .ci/run")
        .expect("a step that runs .ci/run");
    let cache = steps
        .iter()
        .position(|s| {
            let u = text(&s["uses"]);
            u.starts_with("Swatinem/rust-cache@") || u.starts_with("actions/cache@")
        })
        .expect("a cargo cache step");
    assert!(cache < run);
    // .ci/run is what CI runs; it is executable as a script too.
    assert!(read(".ci/run").starts_with("#!/usr/bin/env bash"));
}

fn version_parts(v: &str) -> Vec<u32> {
    v.split('.').map(|p| p.parse().unwrap()).collect()
}

#[test]
fn release_ci_and_the_image_build_with_one_toolchain_at_least_rust_version() {
    let manifest: toml::Table = read("Cargo.toml").parse().unwrap();
    let msrv = manifest["package"]["rust-version"].as_str().unwrap();
    let release =
        text(&yaml(".github/workflows/release.yml")["env"]["RUSTUP_TOOLCHAIN"]).to_string();
    let ci = text(&yaml(".github/workflows/ci.yml")["env"]["RUSTUP_TOOLCHAIN"]).to_string();
    let docker = read("Dockerfile")
        .lines()
        .find_map(|l| l.strip_prefix("ARG RUST_VERSION=").map(str::to_string))
        .expect("ARG RUST_VERSION= in the Dockerfile");
    assert_eq!(release, ci);
    assert_eq!(release, docker);
    assert!(
        version_parts(&release) >= version_parts(msrv),
        "toolchain {release} is older than rust-version {msrv}"
    );
}

/// `.dockerignore` as Docker applies it: the last pattern that matches the path or one of its
/// parent directories decides; `!` re-includes.
fn docker_context_has(ignore: &str, path: &str) -> bool {
    fn glob(p: &[u8], s: &[u8]) -> bool {
        match (p.first(), s.first()) {
            (None, None) => true,
            (Some(b'*'), _) => {
                glob(&p[1..], s) || (!s.is_empty() && s[0] != b'/' && glob(p, &s[1..]))
            }
            (Some(a), Some(b)) if a == b => glob(&p[1..], &s[1..]),
            _ => false,
        }
    }
    let parts: Vec<&str> = path.split('/').collect();
    let mut included = true;
    for line in ignore.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (negate, pattern) = match line.strip_prefix('!') {
            Some(p) => (true, p),
            None => (false, line),
        };
        let pattern = pattern.trim_end_matches('/');
        let matches =
            (1..=parts.len()).any(|n| glob(pattern.as_bytes(), parts[..n].join("/").as_bytes()));
        if matches {
            included = negate;
        }
    }
    included
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn the_image_builds_from_a_context_with_every_source_file_and_runs_as_non_root() {
    let dockerfile = read("Dockerfile");
    let ignore = read(".dockerignore");
    let stages: Vec<&str> = dockerfile.split("\nFROM ").skip(1).collect();
    assert_eq!(stages.len(), 2, "a build stage and the runtime stage");
    let (build, runtime) = (stages[0], stages[1]);
    assert!(
        build.starts_with("rust:${RUST_VERSION}-alpine AS build"),
        "{build}"
    );
    assert!(build.contains("cargo build --release --locked --bin setup"));

    // Every file the crate compiles from is in the build context and copied into the stage.
    let root = repo_root();
    let copied: Vec<&str> = build
        .lines()
        .filter_map(|l| l.strip_prefix("COPY "))
        .flat_map(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            words[..words.len() - 1].to_vec()
        })
        .collect();
    let mut needed = vec!["Cargo.toml".to_string(), "Cargo.lock".to_string()];
    let mut sources = Vec::new();
    rust_files(&root.join("src"), &mut sources);
    for file in &sources {
        needed.push(file.strip_prefix(&root).unwrap().display().to_string());
        let text = std::fs::read_to_string(file).unwrap();
        for piece in text.split("include_str!(\"").skip(1) {
            let rel = &piece[..piece.find('"').unwrap()];
            let path = file.parent().unwrap().join(rel).canonicalize().unwrap();
            needed.push(path.strip_prefix(&root).unwrap().display().to_string());
        }
    }
    assert!(
        needed.iter().any(|n| n.starts_with("policies/")),
        "{needed:?}"
    );
    for path in &needed {
        assert!(
            docker_context_has(&ignore, path),
            ".dockerignore leaves {path} out of the build context"
        );
        assert!(
            copied
                .iter()
                .any(|c| path == c || path.starts_with(&format!("{}/", c.trim_end_matches('/')))),
            "the Dockerfile does not COPY {path} (copies {copied:?})"
        );
    }
    for private in [
        "target/debug/setup",
        ".git/config",
        "setup.toml",
        ".env",
        "tests/e2e/main.rs",
    ] {
        assert!(
            !docker_context_has(&ignore, private),
            "{private} is in the build context"
        );
    }

    // The runtime stage: the binary alone on a minimal base, a non-root user, setup as the
    // entrypoint.
    assert!(runtime.starts_with("gcr.io/distroless/static"), "{runtime}");
    let user = runtime
        .lines()
        .find_map(|l| l.strip_prefix("USER "))
        .expect("a USER");
    let name = user.split(':').next().unwrap();
    assert!(name != "root" && name != "0", "runs as {user}");
    let entry = runtime
        .lines()
        .find_map(|l| l.strip_prefix("ENTRYPOINT "))
        .expect("an ENTRYPOINT");
    assert_eq!(
        serde_json::from_str::<Vec<String>>(entry).unwrap(),
        ["setup"]
    );
    let copies: Vec<&str> = runtime.lines().filter(|l| l.starts_with("COPY")).collect();
    assert_eq!(
        copies,
        ["COPY --from=build /usr/local/bin/setup /usr/local/bin/setup"]
    );
}
