//! Reliability: faults at the emulator, kills at every step boundary and mid-step, Ctrl-C,
//! concurrent applies, and interrupted teardowns. After each, running the command again converges
//! with exactly one of each resource.

use serde_json::json;

use crate::harness::*;

/// Exactly one pool, one role, one policy with one version, one table — and status in sync.
fn assert_exactly_one_of_each(s: &Stack) {
    let r = s.run(&["status"]);
    assert_eq!(r.code, 0, "not in sync:\n{}", r.all());
    assert_eq!(s.pool_ids().len(), 1, "identity pools: {:?}", s.pool_ids());
    let sdk = s.emu.sdk();
    block_on(async {
        let versions = sdk.policy_versions(&s.policy_arn()).await;
        assert_eq!(versions.len(), 1, "orphaned policy versions: {versions:?}");
        assert_eq!(sdk.attached_policy_arns(&s.role()).await.len(), 1);
        assert!(sdk.table_exists(&s.table()).await);
    });
}

/// Starts `args`, lets it run until `op` is held (`when`), kills it with SIGKILL, and releases
/// the emulator. The killed run may have left anything half-done at that point.
fn kill_at(s: &Stack, args: &[&str], op: &str, when: &str) {
    s.control("hold", json!({"op": op, "when": when}));
    let (mut child, key) = s.spawn(args);
    s.wait_held(&key, op, when);
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    s.control("release", json!({}));
}

fn crash_case(name: &str, op: &str, when: &str) {
    let s = Stack::new(name, "");
    kill_at(&s, &["apply"], op, when);
    let r = s.run(&["apply"]);
    assert_eq!(r.code, 0, "apply after a kill at {op} ({when}):\n{}", r.all());
    assert_exactly_one_of_each(&s);
    let r = s.run(&["apply"]);
    assert_eq!(r.writes(), Vec::<String>::new(), "{}", r.all());
}

macro_rules! crash_cases {
    ($($test:ident: $op:literal, $when:literal;)*) => {$(
        #[test]
        fn $test() {
            crash_case(stringify!($test), $op, $when);
        }
    )*};
}

// Every write of a fresh apply, killed just before it reaches AWS (a step boundary) and just
// after AWS did it but before the answer arrived (mid-step: the run cannot know it happened).
crash_cases! {
    kill_before_create_table: "CreateTable", "before";
    kill_after_create_table: "CreateTable", "after";
    kill_before_enable_pitr: "UpdateContinuousBackups", "before";
    kill_after_enable_pitr: "UpdateContinuousBackups", "after";
    kill_before_create_pool: "CreateIdentityPool", "before";
    kill_after_create_pool: "CreateIdentityPool", "after";
    kill_before_create_policy: "CreatePolicy", "before";
    kill_after_create_policy: "CreatePolicy", "after";
    kill_before_create_role: "CreateRole", "before";
    kill_after_create_role: "CreateRole", "after";
    kill_before_attach_policy: "AttachRolePolicy", "before";
    kill_after_attach_policy: "AttachRolePolicy", "after";
    kill_before_set_pool_roles: "SetIdentityPoolRoles", "before";
    kill_after_set_pool_roles: "SetIdentityPoolRoles", "after";
}

#[test]
fn kill_during_a_policy_update_leaves_no_orphaned_version() {
    let s = Stack::new("kill-policy-version", "");
    s.ok(&["apply"]);
    s.write_config(&s.table_config("", "[policy]\nactions = [\"dynamodb:GetItem\"]\n"));
    kill_at(&s, &["apply"], "CreatePolicyVersion", "after");
    s.ok(&["apply"]);
    let sdk = s.emu.sdk();
    let versions = block_on(sdk.policy_versions(&s.policy_arn()));
    // v1 (old document) and v2 (new, default): nothing written twice.
    assert_eq!(versions.len(), 2, "{versions:?}");
    s.ok(&["status"]);
}

#[test]
fn interrupted_teardown_finishes_when_run_again() {
    for (i, (op, when)) in [
        ("DetachRolePolicy", "after"),
        ("DeleteRole", "before"),
        ("DeletePolicy", "after"),
        ("DeleteIdentityPool", "before"),
    ]
    .into_iter()
    .enumerate()
    {
        let s = Stack::new(&format!("kill-teardown-{i}"), "");
        s.ok(&["apply"]);
        kill_at(&s, &["teardown", "--delete-table", "--yes"], op, when);
        s.ok(&["teardown", "--delete-table", "--yes"]);
        assert!(s.pool_ids().is_empty(), "{op}: pools left");
        let sdk = s.emu.sdk();
        block_on(async {
            assert!(!sdk.role_exists(&s.role()).await, "{op}: role left");
            assert!(!sdk.policy_exists(&s.policy_arn()).await, "{op}: policy left");
            assert!(!sdk.table_exists(&s.table()).await, "{op}: table left");
        });
        let r = s.ok(&["teardown", "--delete-table", "--yes"]);
        assert_eq!(r.writes(), Vec::<String>::new(), "{}", r.all());
    }
}

#[test]
fn two_applies_of_one_stack_at_once_end_with_one_of_each() {
    for round in 0..3 {
        let s = Stack::on(slow_emulator(), &format!("concurrent-{round}"), "");
        let (a, _) = s.spawn(&["apply"]);
        let (b, _) = s.spawn(&["apply"]);
        let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
        for out in [&a, &b] {
            assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        }
        assert_exactly_one_of_each(&s);
    }
}

/// Applies under a fault rate, then without faults; returns whether the faulty run converged.
fn under_faults(name: &str, rate: f64, seed: u64) -> bool {
    let s = Stack::new(name, "");
    s.control(
        "faults",
        json!({
            "rate": rate,
            "seed": seed,
            "kinds": ["throttle", "500", "503", "drop", "drop-after", "slow"],
            "slow_ms": 1500,
        }),
    );
    let r = s.run(&["apply", "--request-timeout", "1"]);
    let injected = s.control("faults/injected", json!({}));
    assert!(r.code == 0 || r.code == 1, "seed {seed}: exit {}\n{}", r.code, r.all());
    assert!(!r.stderr.contains("panicked"), "{}", r.all());
    if r.code == 1 {
        // A clear sentence, not a stack trace.
        r.stderr_has("error: ");
    }
    assert!(
        !injected["injected"].as_array().unwrap().is_empty(),
        "seed {seed}: no fault was injected"
    );
    // The figures in docs/reliability.md come from these lines
    // (`cargo test --test e2e faults -- --nocapture`).
    eprintln!(
        "faults rate {rate} seed {seed}: {} faults injected, apply exit {}",
        injected["injected"].as_array().unwrap().len(),
        r.code
    );
    s.control("faults", json!({"rate": 0.0}));
    let again = s.run(&["apply"]);
    assert_eq!(again.code, 0, "seed {seed}: rerun failed:\n{}", again.all());
    assert_exactly_one_of_each(&s);
    r.code == 0
}

#[test]
fn apply_at_10_percent_faults_converges() {
    let converged =
        (1..=6).filter(|seed| under_faults(&format!("faults-10-{seed}"), 0.10, *seed)).count();
    // With retries, a 10% fault rate rarely gets through all attempts.
    assert!(converged >= 4, "only {converged}/6 runs converged on their own");
}

#[test]
fn apply_at_30_percent_faults_converges_or_fails_clearly() {
    for seed in 1..=6 {
        under_faults(&format!("faults-30-{seed}"), 0.30, seed);
    }
}

#[test]
fn not_yet_visible_resources_are_retried_and_validation_errors_are_not() {
    let s = Stack::new("eventual", "");
    s.control(
        "faults",
        json!({"rate": 1.0, "kinds": ["notfound"], "max": 4,
               "ops": ["AttachRolePolicy", "SetIdentityPoolRoles"]}),
    );
    let r = s.ok(&["apply"]);
    let count = |op: &str| r.ops.iter().filter(|o| *o == op).count();
    assert!(count("AttachRolePolicy") + count("SetIdentityPoolRoles") >= 6, "{:?}", r.ops);
    assert_exactly_one_of_each(&s);

    let s = Stack::new("validation-not-retried", "");
    s.control("faults", json!({"rate": 1.0, "kinds": ["validation"], "ops": ["CreateTable"]}));
    let r = s.run(&["apply"]).exits(1);
    assert_eq!(r.ops.iter().filter(|o| *o == "CreateTable").count(), 1, "{:?}", r.ops);
    assert!(
        r.stderr.contains("creating table") && r.stderr.contains("ValidationException"),
        "{}",
        r.all()
    );
}

/// A step that fails stops the steps that need it: they report `skipped: the role step failed`
/// and send nothing, while the steps that do not need it finish; the next apply converges.
#[test]
fn steps_that_need_a_failed_step_are_skipped_and_send_nothing() {
    let s = Stack::new("skip-after-failure", "");
    s.control("faults", json!({"rate": 1.0, "kinds": ["validation"], "ops": ["CreateRole"]}));
    let r = s.run(&["apply", "--output", "json"]).exits(1);
    s.control("faults", json!({"rate": 0.0}));
    let j = r.json();
    let error = |step: &str| r.step(&j, step)["error"].as_str().unwrap_or_default().to_string();
    assert!(error("role").contains("ValidationException"), "{j}");
    for step in ["trust-policy", "pool-roles"] {
        assert_eq!(error(step), "skipped: the role step failed", "{step}: {j}");
        assert_eq!(r.step(&j, step)["actions"], json!([]), "{step} ran: {j}");
    }
    // The access policy is created (it needs nothing) but not attached (that needs the role).
    assert_eq!(error("access-policy"), "skipped: the role step failed", "{j}");
    for (sent, op) in
        [(true, "CreatePolicy"), (false, "AttachRolePolicy"), (false, "SetIdentityPoolRoles")]
    {
        assert_eq!(r.ops.iter().any(|o| o == op), sent, "{op}: {:?}", r.ops);
    }
    for step in ["table", "identity-pool"] {
        assert_eq!(r.step(&j, step)["error"], json!(null), "{step}: {j}");
    }
    s.ok(&["apply"]);
    s.ok(&["status"]);
}
