//! The release: the release workflow builds every target, and its own packaging and checksum
//! steps, run as the runner would, produce one archive per target and SHA256SUMS.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_norway::Value;

use crate::ci_examples::{text, yaml};

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

pub(crate) fn archive_name(target: &str) -> String {
    if target.contains("windows") {
        format!("setup-{target}.zip")
    } else {
        format!("setup-{target}.tar.gz")
    }
}

pub(crate) fn exe_name(target: &str) -> &'static str {
    if target.contains("windows") {
        "setup.exe"
    } else {
        "setup"
    }
}

// --- A small stand-in for the Actions runner: runs `shell: bash` steps with their `env:`. ------

/// Replaces each `${{ expr }}` with its value; an expression the test does not know fails.
pub(crate) fn expand(value: &str, vars: &BTreeMap<String, String>) -> String {
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

pub(crate) fn env_of(v: &Value, vars: &BTreeMap<String, String>) -> Vec<(String, String)> {
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
pub(crate) fn run_bash_step(
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
        .env("PATH", format!("{}:{}", fakes.display(), std::env::var("PATH").unwrap()))
        .env("HOME", fakes.parent().unwrap())
        .env("LC_ALL", "C")
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .output()
        .unwrap()
}

pub(crate) fn step_named<'a>(job: &'a Value, name: &str) -> &'a Value {
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
    for entry in build["strategy"]["matrix"]["include"].as_sequence().unwrap() {
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
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    work.join("dist")
}

pub(crate) fn list_dir(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect()
}

/// Publishes `dist` as release `tag` of `repo` for the fake curl.
pub(crate) fn publish(dist: &Path, releases: &Path, repo: &str, tag: &str) {
    let dir = releases.join(repo).join(tag);
    std::fs::create_dir_all(&dir).unwrap();
    for name in list_dir(dist) {
        std::fs::copy(dist.join(&name), dir.join(&name)).unwrap();
    }
}

/// A release v0.1.0 built by the release workflow's own steps (with the fake tools) and
/// published under ACTION_PLACEHOLDER, in a temporary directory.
pub(crate) struct Published {
    pub(crate) tmp: tempfile::TempDir,
    pub(crate) fakes: PathBuf,
    pub(crate) dist: PathBuf,
    pub(crate) releases: PathBuf,
}

pub(crate) fn published() -> Published {
    let tmp = tempfile::tempdir().unwrap();
    let fakes = fake_tools(tmp.path());
    let dist = build_release(tmp.path(), &fakes);
    let releases = tmp.path().join("releases");
    publish(&dist, &releases, ACTION_PLACEHOLDER, "v0.1.0");
    Published { tmp, fakes, dist, releases }
}

/// The names inside an archive.
pub(crate) fn archive_entries(archive: &Path) -> Vec<String> {
    let out = if archive.extension().unwrap() == "zip" {
        Command::new("unzip").arg("-Z1").arg(archive).output()
    } else {
        Command::new("tar").arg("-tzf").arg(archive).output()
    }
    .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect()
}

#[test]
fn release_workflow_builds_every_target_then_publishes_and_pushes_the_image() {
    let w = yaml(".github/workflows/release.yml");
    let tags: Vec<&str> = w["on"]["push"]["tags"].as_sequence().unwrap().iter().map(text).collect();
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
    // The release, and its signed provenance attestation (an OIDC token, GitHub's record).
    assert_eq!(perms("publish"), "contents: write\nid-token: write\nattestations: write\n");
    let attest = step_named(&w["jobs"]["publish"], "Attest build provenance");
    assert!(text(&attest["uses"]).starts_with("actions/attest-build-provenance@"), "{attest:?}");
    assert_eq!(text(&attest["with"]["subject-checksums"]), "dist/SHA256SUMS");
    assert_eq!(perms("image"), "contents: read\npackages: write\n");
    assert_eq!(perms("image-manifest"), "packages: write\n");
    let create = text(&step_named(&w["jobs"]["publish"], "Create the release")["run"]);
    assert!(create.contains("gh release create \"$GITHUB_REF_NAME\" dist/*"), "{create}");
}
