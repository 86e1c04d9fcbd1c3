//! The example scripts: which `setup` binary examples/local.sh and examples/walkthrough.sh run
//! (`SETUP_BIN`, else `setup` on `PATH`, else a build), as the README says; and what
//! `tests/install-tools.sh --emulator`, which they run first, installs; and that their output is
//! what docs/walkthrough.md shows.

use std::path::Path;
use std::process::Command;

use crate::harness::*;
use crate::release::write_executable;

/// What `setup_bin` (examples/emulator.sh) chose: its exit status, `$bin`, and its stderr.
fn setup_bin(fake: &Path, env: &[(&str, &str)]) -> (bool, String, String) {
    let out = Command::new("bash")
        .args(["-c", ". examples/emulator.sh && setup_bin && echo \"$bin\""])
        .current_dir(repo_root())
        .env_clear()
        // Only the fakes and the system: no `setup` or `cargo` of the machine.
        .env("PATH", format!("{}:/usr/bin:/bin", fake.display()))
        .env("HOME", fake)
        .envs(env.iter().copied())
        .output()
        .expect("bash runs");
    let text = |b: &[u8]| String::from_utf8_lossy(b).trim_end().to_string();
    (out.status.success(), text(&out.stdout), text(&out.stderr))
}

/// A stand-in for a `setup` binary that answers `--version` with `version`.
fn fake_setup(path: &Path, version: &str) {
    write_executable(path, &format!("#!/bin/sh\necho 'setup {version}'\n"));
}

#[test]
fn the_example_scripts_run_setup_bin_then_setup_on_path_then_a_build() {
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("bin");
    let target = dir.path().join("target");
    let built = target.join("debug/setup");
    // `cargo build` here only says that it ran, and leaves a binary where cargo would.
    write_executable(
        &fake.join("cargo"),
        &format!(
            "#!/bin/sh\necho \"cargo $*\" >> {log}\nmkdir -p {debug}\nprintf '#!/bin/sh\\necho setup 0.0.1-built\\n' > {built}\nchmod +x {built}\n",
            log = dir.path().join("cargo.log").display(),
            debug = target.join("debug").display(),
            built = built.display(),
        ),
    );
    let chosen = dir.path().join("chosen/setup");
    fake_setup(&chosen, "1.0.0-chosen");
    let target_dir = target.to_str().unwrap();
    let cargo_ran = || dir.path().join("cargo.log").exists();

    // Neither SETUP_BIN nor setup on PATH: a build.
    let (ok, bin, said) = setup_bin(&fake, &[("CARGO_TARGET_DIR", target_dir)]);
    assert!(ok && bin == built.to_str().unwrap(), "{bin}\n{said}");
    assert!(cargo_ran() && said.contains("building setup from this checkout"), "{said}");
    assert!(said.ends_with("(setup 0.0.1-built)"), "{said}");
    std::fs::remove_file(dir.path().join("cargo.log")).unwrap();

    // setup on PATH wins over a build.
    fake_setup(&fake.join("setup"), "1.0.0-path");
    let (ok, bin, said) = setup_bin(&fake, &[("CARGO_TARGET_DIR", target_dir)]);
    assert!(ok && bin == fake.join("setup").to_str().unwrap(), "{bin}\n{said}");
    assert!(!cargo_ran(), "{said}");
    assert!(said.ends_with("(setup 1.0.0-path)"), "{said}");

    // SETUP_BIN wins over both.
    let env = [("CARGO_TARGET_DIR", target_dir), ("SETUP_BIN", chosen.to_str().unwrap())];
    let (ok, bin, said) = setup_bin(&fake, &env);
    assert!(ok && bin == chosen.to_str().unwrap() && !cargo_ran(), "{bin}\n{said}");

    // A SETUP_BIN that is not there is an error, not a build.
    let (ok, _, said) = setup_bin(&fake, &[("SETUP_BIN", "/nonexistent/setup")]);
    assert!(!ok && said.contains("no setup binary at /nonexistent/setup (SETUP_BIN)"), "{said}");
    assert!(!cargo_ran());

    // Both scripts choose with it, before anything needs the binary.
    for script in ["examples/local.sh", "examples/walkthrough.sh"] {
        let text = std::fs::read_to_string(repo_root().join(script)).unwrap();
        let code: Vec<&str> = text.lines().map(|l| l.split('#').next().unwrap().trim()).collect();
        assert!(code.contains(&"setup_bin"), "{script} does not call setup_bin");
        assert!(!code.iter().any(|l| l.contains("cargo")), "{script} builds on its own");
    }
}

/// What tests/install-tools.sh installs, run in a copy of its inputs with a Python and an npm
/// that install nothing and log how they were called: the `pip install` and `npm ci` lines.
fn installs(args: &[&str]) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    for file in [
        "tests/install-tools.sh",
        "tests/requirements.txt",
        "tests/requirements-checkov.txt",
        "tests/iam-sim/package-lock.json",
        "examples/clients/js/package-lock.json",
        "tests/amplify/package-lock.json",
    ] {
        std::fs::create_dir_all(repo.join(file).parent().unwrap()).unwrap();
        std::fs::copy(repo_root().join(file), repo.join(file)).unwrap();
    }
    let log = dir.path().join("calls.log");
    let fake = dir.path().join("bin");
    // Nothing is importable or installed; `-m venv DIR` makes DIR/bin/python this same fake.
    write_executable(
        &fake.join("python3"),
        &format!(
            "#!/bin/sh\necho \"python $*\" >> {log}\n[ \"$1 $2\" = '-m venv' ] && mkdir -p \"$3/bin\" && cp \"$0\" \"$3/bin/python\"\n[ \"$1\" = -m ] && exit 0\nexit 1\n",
            log = log.display()
        ),
    );
    write_executable(
        &fake.join("npm"),
        &format!("#!/bin/sh\necho \"npm $*\" >> {}\nmkdir -p \"$3/node_modules\"\n", log.display()),
    );
    let out = Command::new("bash")
        .arg(repo.join("tests/install-tools.sh"))
        .args(args)
        .env_clear()
        .env("PATH", format!("{}:/usr/bin:/bin", fake.display()))
        .output()
        .expect("bash runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    std::fs::read_to_string(&log)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(" install ") || l.starts_with("npm ci"))
        .map(|l| l.replace(" --quiet --disable-pip-version-check", ""))
        .collect()
}

#[test]
fn install_tools_with_emulator_installs_the_emulator_and_nothing_else() {
    let pinned = std::fs::read_to_string(repo_root().join("tests/requirements.txt")).unwrap();
    let moto_pin = pinned.lines().find(|l| l.starts_with("moto[server]==")).expect("moto pinned");
    let moto = format!("python -m pip install {moto_pin}");
    let npm = |dir: &str| format!("npm ci --prefix {dir} --no-audit --no-fund --loglevel=error");
    let sim = npm("tests/iam-sim");
    assert_eq!(installs(&["--emulator"]), [moto.clone(), sim.clone()]);
    let all = installs(&[]);
    let mut expected = vec![moto.clone(), sim, npm("examples/clients/js"), npm("tests/amplify")];
    for tool in pinned.lines().filter(|l| !l.starts_with("moto")) {
        expected.push(format!("python -m pip install {tool}"));
    }
    expected.push("python -m pip install -r tests/requirements-checkov.txt".into());
    assert_eq!(all, expected);
}

/// A line of output with what changes from run to run made neutral: ids and names with digits
/// in them (pool ids, client ids, ARNs' account, test users) become `ID`, other numbers (ports,
/// durations, counts) `N`, and runs of spaces (column widths) one space.
fn neutral(line: &str) -> String {
    let mut out = String::new();
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        if word.len() >= 8 && word.chars().any(|c| c.is_ascii_digit()) {
            out.push_str("ID");
        } else {
            let mut digits = false;
            for c in word.chars() {
                if c.is_ascii_digit() {
                    if !digits {
                        out.push('N');
                    }
                    digits = true;
                } else {
                    out.push(c);
                    digits = false;
                }
            }
        }
        word.clear();
    };
    for c in line.chars() {
        if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The fenced block of docs/walkthrough.md after `after`, made neutral line by line.
fn walkthrough_block(after: &str) -> Vec<String> {
    let text = std::fs::read_to_string(repo_root().join("docs/walkthrough.md")).unwrap();
    let at = text.find(after).unwrap_or_else(|| panic!("docs/walkthrough.md lacks {after:?}"));
    let rest = &text[at..];
    let start = rest.find("```").expect("a block") + 3;
    let body = &rest[start..];
    let body = &body[body.find('\n').unwrap() + 1..];
    body[..body.find("\n```").unwrap()].lines().map(neutral).collect()
}

/// Runs an example script with this build of setup; its stdout, made neutral line by line.
fn script_output(script: &str) -> Vec<String> {
    let home = tempfile::tempdir().unwrap();
    let mut cmd = Command::new("bash");
    cmd.arg(repo_root().join(script))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .env("SETUP_BIN", env!("CARGO_BIN_EXE_setup"));
    if let Ok(python) = std::env::var("SETUP_TEST_PYTHON") {
        cmd.env("SETUP_TEST_PYTHON", python);
    }
    let out = cmd.output().expect("bash runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{script} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout.lines().map(neutral).collect()
}

#[test]
fn neutral_lines_keep_the_words_and_drop_what_changes() {
    assert_eq!(
        neutral("  ok identity-pool  created identity pool us-east-1:6d162fdb-886f-4a39-ada8-b93d940f3734 (0.1s)"),
        "ok identity-pool created identity pool ID:ID (N.Ns)"
    );
    assert_eq!(
        neutral("==> demo user pool us-east-1_36d4e05b461a4fc7abe3dbde9d38379f, app client 2f5092aadee341148ad8d67ed1"),
        "==> demo user pool ID, app client ID"
    );
    assert_eq!(neutral("  ok get-id                4 ms  unsigned"), "ok get-id N ms unsigned");
}

/// docs/walkthrough.md shows what the two scripts print today (ids, ports and timings aside):
/// regenerate its blocks from `SETUP_BIN=target/debug/setup bash examples/<script>.sh` (stdout).
#[test]
fn the_walkthrough_shows_what_the_scripts_print() {
    for (script, after) in [
        ("examples/local.sh", "A real run (stdout"),
        ("examples/walkthrough.sh", "The output of a real run"),
    ] {
        let shown = walkthrough_block(after);
        let real = script_output(script);
        let first_difference = shown.iter().zip(&real).position(|(a, b)| a != b);
        assert!(
            shown == real,
            "docs/walkthrough.md's output of {script} is not what it prints today \
             (first difference at line {first_difference:?}):\n--- docs\n{}\n--- {script}\n{}",
            shown.join("\n"),
            real.join("\n")
        );
    }
}
