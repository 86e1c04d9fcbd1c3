//! The tools the tests run beside `setup`: Python, cfn-lint.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The Python the tests run their tools with: SETUP_TEST_PYTHON (tests/run.sh sets it), else
/// python3.
pub fn python() -> String {
    std::env::var("SETUP_TEST_PYTHON").unwrap_or_else(|_| "python3".into())
}

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs cfn-lint (installed by tests/run.sh) on the given templates. Panics — the test fails,
/// never skips — when cfn-lint cannot run.
pub fn cfn_lint(templates: &[&Path]) -> Output {
    let python = python();
    let out = Command::new(&python)
        .args(["-c", "import sys; from cfnlint.runner import main; sys.exit(main())"])
        .args(templates)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {python}: {e}"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("No module named 'cfnlint'"),
        "cfn-lint is not installed for {python}; run tests/run.sh, which installs it (tests/requirements.txt)"
    );
    out
}
