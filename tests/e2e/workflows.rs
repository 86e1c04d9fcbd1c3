//! The repository's own workflows, its Action and its image: zizmor (offline, pedantic) finds
//! nothing in any workflow or action.yml; every action is pinned to a commit SHA; CI runs
//! `.ci/run`; one toolchain builds the release, CI and the image; the Dockerfile builds from a
//! context with every source file and runs `setup` as a non-root user.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_norway::Value;

use crate::ci_examples::{read, text, yaml};
use crate::harness::*;

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
    files.push(".github/dependabot.yml".into());
    files.sort();
    for expected in [
        ".github/workflows/ci.yml",
        ".github/workflows/release.yml",
        "examples/github-actions/drift-check.yml",
        "examples/github-actions/janitor.yml",
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
        .args(["-c", "import sysconfig; print(sysconfig.get_path('scripts'))"])
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
        .args(["--offline", "--no-config", "--persona", "pedantic", "--format", "json"])
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
    let path = loc["symbolic"]["key"]["Local"]["verbatim_path"].as_str().unwrap_or("?");
    let row = loc["concrete"]["location"]["start_point"]["row"].as_u64().unwrap_or(0) as usize;
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
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

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
    assert_eq!(ignored.len(), 1, "zizmor findings hidden by ignore comments: {ignored:#?}");
    let (place, line) = &ignored[0];
    assert!(place.starts_with("action.yml:") && place.contains(": github-env ("), "{place}");
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
                panic!("{file}:{}: `{}` has no `# vX.Y.Z` comment", i + 1, line.trim())
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
            pins.entry(action.to_string()).or_default().insert(format!("{sha} # {version}"));
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
        assert_eq!(versions.len(), 1, "{action} is pinned differently: {versions:?}");
    }
    assert!(pins.contains_key("actions/checkout"), "{pins:?}");
}

#[test]
fn ci_runs_ci_run_with_a_dependency_cache_on_every_push_and_pull_request() {
    let w = yaml(".github/workflows/ci.yml");
    let push = &w["on"]["push"];
    assert!(
        push["branches"].as_sequence().map(|b| b.iter().map(text).collect::<Vec<_>>())
            == Some(vec!["**"]),
        "every branch: {push:?}"
    );
    assert!(push["paths"].is_null() && push["paths-ignore"].is_null());
    let pr = &w["on"]["pull_request"];
    assert!(pr.is_null() || pr.as_mapping().is_some_and(|m| m.is_empty()), "{pr:?}");
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
    let docker: String = read("Dockerfile")
        .lines()
        .find_map(|l| l.strip_prefix("FROM rust:")?.split_once("-alpine@").map(|(v, _)| v.into()))
        .expect("FROM rust:<version>-alpine@sha256:… in the Dockerfile");
    assert_eq!(release, ci);
    assert_eq!(release, docker);
    assert!(
        version_parts(&release) >= version_parts(msrv),
        "toolchain {release} is older than rust-version {msrv}"
    );
}

/// Every image the Dockerfile builds from is named by digest (a tag can be moved to other
/// contents), and the tag beside it says which one it is.
#[test]
fn the_dockerfile_pins_every_base_image_by_digest() {
    let dockerfile = read("Dockerfile");
    let images: Vec<&str> = dockerfile
        .lines()
        .filter_map(|l| l.strip_prefix("FROM "))
        .map(|rest| rest.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(images.len(), 2, "{images:?}");
    for image in images {
        let (name, digest) = image
            .split_once("@sha256:")
            .unwrap_or_else(|| panic!("{image} is not pinned by digest"));
        assert!(name.contains(':'), "{image}: name the tag beside the digest");
        assert!(
            digest.len() == 64 && digest.chars().all(|c| c.is_ascii_hexdigit()),
            "{image}: a sha256 digest is 64 hex digits"
        );
    }
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
    assert!(build.starts_with("rust:") && build.contains("-alpine@sha256:"), "{build}");
    assert!(build.lines().next().unwrap().ends_with(" AS build"), "{build}");
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
    assert!(needed.iter().any(|n| n.starts_with("policies/")), "{needed:?}");
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
    for private in ["target/debug/setup", ".git/config", "setup.toml", ".env", "tests/e2e/main.rs"]
    {
        assert!(!docker_context_has(&ignore, private), "{private} is in the build context");
    }

    // The runtime stage: the binary alone on a minimal base, a non-root user, setup as the
    // entrypoint.
    assert!(runtime.starts_with("gcr.io/distroless/static"), "{runtime}");
    let user = runtime.lines().find_map(|l| l.strip_prefix("USER ")).expect("a USER");
    let name = user.split(':').next().unwrap();
    assert!(name != "root" && name != "0", "runs as {user}");
    let entry = runtime.lines().find_map(|l| l.strip_prefix("ENTRYPOINT ")).expect("an ENTRYPOINT");
    assert_eq!(serde_json::from_str::<Vec<String>>(entry).unwrap(), ["setup"]);
    let copies: Vec<&str> = runtime.lines().filter(|l| l.starts_with("COPY")).collect();
    assert_eq!(copies, ["COPY --from=build /usr/local/bin/setup /usr/local/bin/setup"]);
}
