//! The example scripts: which `setup` binary examples/local.sh and examples/walkthrough.sh run
//! (`SETUP_BIN`, else `setup` on `PATH`, else a build), as the README says; and what
//! `tests/install-tools.sh --emulator`, which they run first, installs.

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
        &format!(
            "#!/bin/sh\necho \"npm $*\" >> {}\nmkdir -p tests/iam-sim/node_modules\n",
            log.display()
        ),
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
    let npm = "npm ci --prefix tests/iam-sim --no-audit --no-fund --loglevel=error";
    assert_eq!(installs(&["--emulator"]), [moto.as_str(), npm]);
    let all = installs(&[]);
    let mut expected = vec![moto.clone(), npm.to_string()];
    for tool in pinned.lines().filter(|l| !l.starts_with("moto")) {
        expected.push(format!("python -m pip install {tool}"));
    }
    expected.push("python -m pip install -r tests/requirements-checkov.txt".into());
    assert_eq!(all, expected);
}
