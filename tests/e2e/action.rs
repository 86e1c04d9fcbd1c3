//! The Action (action.yml), run as the runner would for each runner OS and architecture:
//! it downloads the release archive, verifies it against SHA256SUMS, puts `setup` on PATH (where
//! `cargo binstall` finds it too), and refuses what is not a release.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use crate::ci_examples::{read, text, yaml};
use crate::harness::repo_root;
use crate::release::*;
use serde_norway::Value;

impl Published {
    /// Runs action.yml (see [`run_action`]) against these releases.
    fn action(&self, latest: &str, runner: (&str, &str), with: &[(&str, &str)]) -> ActionRun {
        self.action_of(&yaml("action.yml"), latest, runner, with)
    }

    /// Runs `action` (action.yml, or a pinned copy of it) against these releases.
    fn action_of(
        &self,
        action: &Value,
        latest: &str,
        runner: (&str, &str),
        with: &[(&str, &str)],
    ) -> ActionRun {
        run_action(action, self.tmp.path(), &self.fakes, &self.releases, latest, runner, with)
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
    action: &Value,
    tmp: &Path,
    fakes: &Path,
    releases: &Path,
    latest: &str,
    runner: (&str, &str),
    with: &[(&str, &str)],
) -> ActionRun {
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
    for (i, step) in action["runs"]["steps"].as_sequence().unwrap().iter().enumerate() {
        assert!(step["if"].is_null(), "the test does not evaluate `if:`");
        let output_file = root.join(format!("github_output_{i}"));
        std::fs::write(&output_file, "").unwrap();
        let mut env = vec![
            ("RUNNER_OS".to_string(), runner.0.to_string()),
            ("RUNNER_ARCH".to_string(), runner.1.to_string()),
            ("RUNNER_TEMP".to_string(), runner_temp.display().to_string()),
            ("GITHUB_ACTION_PATH".into(), action_path.display().to_string()),
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
        std::fs::read_to_string(p).unwrap().lines().map(str::to_string).collect()
    };
    ActionRun { ok, log, urls: lines(&curl_log), path: lines(&github_path), outputs }
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
    let ext = if target.contains("windows") { ".exe" } else { "" };
    let fill = |t: String| {
        t.replace("{ version }", version)
            .replace("{ target }", target)
            .replace("{ bin }", "setup")
            .replace("{ binary-ext }", ext)
    };
    (fill(get("pkg-url")), fill(get("bin-dir")), get("pkg-fmt"))
}

#[test]
fn release_archives_install_through_the_action_on_every_runner() {
    let rel = published();
    let dist = &rel.dist;

    // The release's files: one archive per target with just the binary in it, and SHA256SUMS
    // with a line for each.
    let mut want: BTreeSet<String> = RELEASE_TARGETS.iter().map(|t| archive_name(t.0)).collect();
    want.insert("SHA256SUMS".into());
    assert_eq!(list_dir(dist), want);
    let sums = std::fs::read_to_string(dist.join("SHA256SUMS")).unwrap();
    for (target, _, _) in RELEASE_TARGETS {
        let archive = archive_name(target);
        assert_eq!(archive_entries(&dist.join(&archive)), [exe_name(target)]);
        assert_eq!(
            sums.lines().filter(|l| l.ends_with(&format!("  {archive}"))).count(),
            1,
            "{sums}"
        );
    }

    for (target, os, arch) in RELEASE_TARGETS {
        let r = rel.action("v0.1.0", (os, arch), &[("version", "v0.1.0")]);
        assert!(r.ok, "{os} {arch}: {}", r.log);
        let archive_url = release_url(ACTION_PLACEHOLDER, "v0.1.0", &archive_name(target));
        assert_eq!(
            r.urls,
            [archive_url.clone(), release_url(ACTION_PLACEHOLDER, "v0.1.0", "SHA256SUMS")],
            "{os} {arch}"
        );
        // On PATH for the next steps, and it is this target's binary.
        assert_eq!(r.path.len(), 1, "{:?}", r.path);
        let installed = Path::new(&r.path[0]).join(exe_name(target));
        let out = Command::new(&installed).output().unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), format!("setup 0.1.0 ({target})"));
        assert_eq!(r.outputs["version"], "v0.1.0");
        assert_eq!(Path::new(&r.outputs["path"]), installed);
        // `cargo binstall` asks for the same file, and finds the binary where it is.
        let (pkg_url, bin_dir, pkg_fmt) = binstall(target);
        assert_eq!(pkg_url, archive_url, "binstall pkg-url for {target}");
        assert_eq!(bin_dir, exe_name(target), "binstall bin-dir for {target}");
        let fmt = if target.contains("windows") { "zip" } else { "tgz" };
        assert_eq!(pkg_fmt, fmt, "binstall pkg-fmt for {target}");
    }
}

#[test]
fn the_action_installs_nothing_that_does_not_match_sha256sums() {
    let published = published();
    let rel = published.releases.join(ACTION_PLACEHOLDER).join("v0.1.0");
    let linux = "setup-x86_64-unknown-linux-musl.tar.gz";
    let refused = |message: &str| {
        let r = published.action("v0.1.0", ("Linux", "X64"), &[]);
        assert!(!r.ok);
        assert!(r.log.contains(message), "{}", r.log);
        assert!(r.path.is_empty(), "{:?}", r.path);
        r
    };

    // One byte more than the release's checksum says.
    let mut bytes = std::fs::read(rel.join(linux)).unwrap();
    bytes.push(0);
    std::fs::write(rel.join(linux), &bytes).unwrap();
    let r = refused(&format!(
        "::error title=Install setup::checksum mismatch for {linux}: SHA256SUMS of {ACTION_PLACEHOLDER} v0.1.0 say "
    ));
    assert!(r.log.contains("not installing it"), "{}", r.log);

    // A SHA256SUMS without a line for the archive.
    let sums = std::fs::read_to_string(rel.join("SHA256SUMS")).unwrap();
    let without: String =
        sums.lines().filter(|l| !l.ends_with(linux)).map(|l| format!("{l}\n")).collect();
    std::fs::write(rel.join("SHA256SUMS"), without).unwrap();
    refused(&format!("SHA256SUMS of {ACTION_PLACEHOLDER} v0.1.0: no single line for {linux}"));
}

#[test]
fn the_action_resolves_latest_and_refuses_what_is_not_a_release() {
    let rel = published();
    publish(&rel.dist, &rel.releases, "a-fork/setup", "v0.1.0");
    let linux = ("Linux", "X64");
    let archive = archive_name("x86_64-unknown-linux-musl");

    // The default, latest: the tag GitHub's releases/latest redirects to.
    let r = rel.action("v0.1.0", linux, &[]);
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
    let r = rel.action("", linux, &[("version", "0.1.0"), ("repository", "a-fork/setup")]);
    assert!(r.ok, "{}", r.log);
    assert_eq!(r.urls[0], release_url("a-fork/setup", "v0.1.0", &archive));

    let fails = |latest: &str, runner: (&str, &str), with: &[(&str, &str)], message: &str| {
        let r = rel.action(latest, runner, with);
        assert!(!r.ok, "{with:?} succeeded: {}", r.log);
        assert!(
            r.log.contains(&format!("::error title=Install setup::{message}")),
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
    fails("", linux, &[], &format!("{ACTION_PLACEHOLDER} has no published release"));
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

/// action.yml pinned by .github/pin-action.sh with the SHA256SUMS the release workflow computed,
/// as the release workflow's "Pins for the Action" step does.
fn pinned_action(published: &Published, version: &str) -> Value {
    let copy = published.tmp.path().join("action.yml");
    std::fs::copy(repo_root().join("action.yml"), &copy).unwrap();
    let out = Command::new("bash")
        .arg(repo_root().join(".github/pin-action.sh"))
        .args([version, published.dist.join("SHA256SUMS").to_str().unwrap()])
        .arg(&copy)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_norway::from_str(&std::fs::read_to_string(&copy).unwrap()).unwrap()
}

/// Pinning the Action by commit pins the binary: the commit's action.yml carries the checksums
/// the release workflow computed, and a release page whose archive and SHA256SUMS were both
/// replaced is refused. Other versions need allow-unpinned.
#[test]
fn a_pinned_action_installs_only_what_its_own_checksums_name() {
    let published = published();
    let release = yaml(".github/workflows/release.yml");
    let pin = step_named(&release["jobs"]["publish"], "Pins for the Action");
    assert!(
        text(&pin["run"]).contains(".github/pin-action.sh \"$GITHUB_REF_NAME\" ../dist/SHA256SUMS"),
        "the release workflow pins with the SHA256SUMS it computed: {pin:?}"
    );
    let action = pinned_action(&published, "v0.1.0");
    let linux = ("Linux", "X64");

    // The release as built: installed, checked against the carried checksums, no lookup of
    // "latest" (the default installs the pinned release) and no SHA256SUMS download.
    let r = published.action_of(&action, "v9.9.9", linux, &[]);
    assert!(r.ok, "{}", r.log);
    assert_eq!(r.outputs["version"], "v0.1.0");
    assert!(r.log.contains("matches the checksums this Action carries for"), "{}", r.log);
    assert!(
        r.urls.iter().all(|u| !u.ends_with("/latest") && !u.ends_with("/SHA256SUMS")),
        "{:?}",
        r.urls
    );

    // An attacker replaces the archive and SHA256SUMS on the release page, consistently: the
    // unpinned Action would install it; the pinned one refuses.
    let rel = published.releases.join(ACTION_PLACEHOLDER).join("v0.1.0");
    let archive = archive_name("x86_64-unknown-linux-musl");
    let evil = published.tmp.path().join("evil");
    std::fs::create_dir_all(&evil).unwrap();
    std::fs::write(evil.join("setup"), "#!/bin/sh\necho 'setup 0.1.0 (not ours)'\n").unwrap();
    let tar = Command::new("tar")
        .args(["-czf", rel.join(&archive).to_str().unwrap(), "-C", evil.to_str().unwrap(), "setup"])
        .status()
        .unwrap();
    assert!(tar.success());
    let sums = Command::new("sha256sum").arg(&archive).current_dir(&rel).output().unwrap();
    std::fs::write(rel.join("SHA256SUMS"), &sums.stdout).unwrap();
    assert!(published.action("v0.1.0", linux, &[]).ok, "the release page alone vouches for it");
    let r = published.action_of(&action, "v0.1.0", linux, &[]);
    assert!(!r.ok && r.path.is_empty(), "{}", r.log);
    let refused = format!("checksum mismatch for {archive}: the checksums this Action carries for {ACTION_PLACEHOLDER} v0.1.0 say ");
    assert!(r.log.contains(&refused), "{}", r.log);

    // Another version: refused, unless allow-unpinned (then the release page's SHA256SUMS).
    publish(&published.dist, &published.releases, ACTION_PLACEHOLDER, "v0.2.0");
    let r = published.action_of(&action, "v0.2.0", linux, &[("version", "v0.2.0")]);
    assert!(!r.ok, "{}", r.log);
    assert!(
        r.log.contains("carries the checksums of v0.1.0 of its own repository, not of"),
        "{}",
        r.log
    );
    let with = [("version", "v0.2.0"), ("allow-unpinned", "true")];
    let r = published.action_of(&action, "v0.2.0", linux, &with);
    assert!(r.ok, "{}", r.log);
    assert!(r.urls.iter().any(|u| u.ends_with("v0.2.0/SHA256SUMS")), "{:?}", r.urls);

    // The script refuses what is not a SHA256SUMS of release archives.
    let bad = published.tmp.path().join("bad-sums");
    std::fs::write(&bad, "not-a-sum  setup-x.tar.gz\n").unwrap();
    let out = Command::new("bash")
        .arg(repo_root().join(".github/pin-action.sh"))
        .args(["v0.1.0", bad.to_str().unwrap(), "/dev/null"])
        .output()
        .unwrap();
    assert!(!out.status.success());
}
