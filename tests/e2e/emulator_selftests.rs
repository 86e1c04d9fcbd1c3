//! The emulator's own self-tests (tests/emu/selftest_*.py), so that the suite, and CI with it,
//! fails when the emulator stops behaving like AWS in the ways the other tests rely on. Each
//! starts its own launchers on loopback.

use std::process::Command;

use crate::harness::*;

/// Runs `python3 tests/emu/NAME` and asserts exit 0, showing its report when it fails.
fn selftest(name: &str) {
    let python = python();
    let script = repo_root().join("tests/emu").join(name);
    let out = Command::new(&python)
        .arg(&script)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {python} {}: {e}", script.display()));
    assert!(
        out.status.success(),
        "{} failed ({}); run tests/run.sh to install what it needs:\n--- stdout\n{}\n--- stderr\n{}",
        script.display(),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn realistic_mode_selftest_passes() {
    selftest("selftest_realistic.py");
}

#[test]
fn iam_enforcement_paging_and_user_pool_selftest_passes() {
    selftest("selftest_enforce.py");
}

#[test]
fn principal_tags_selftest_passes() {
    selftest("selftest_principal_tags.py");
}

#[test]
fn identity_pool_classic_flow_selftest_passes() {
    selftest("selftest_identity_pools.py");
}

#[test]
fn iam_user_enforcement_selftest_passes() {
    selftest("selftest_iam_users.py");
}

#[test]
fn iam_fidelity_selftest_passes() {
    selftest("selftest_iam_fidelity.py");
}

#[test]
fn tagging_api_selftest_passes() {
    selftest("selftest_tagging.py");
}

#[test]
fn role_mappings_selftest_passes() {
    selftest("selftest_role_mappings.py");
}
