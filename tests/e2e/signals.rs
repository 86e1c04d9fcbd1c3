//! SIGINT, SIGTERM and SIGHUP: one owner for cancellation (src/cancel.rs). `verify` lets the call
//! in flight finish, starts no other hop, deletes its test item and test user, and exits 128 +
//! the signal's number; a CI job cancelled mid-verify leaves nothing behind. `apply` finishes
//! the calls in flight and starts nothing new; a second signal abandons them.
//!
//! The holds here match every caller (the unsigned sign-in calls, and the calls signed with the
//! identity pool's credentials), so they run on an emulator of their own, one run at a time.

use std::process::{Child, Command};
use std::time::Duration;

use serde_json::{json, Value};

use crate::harness::*;

const SIGNALS: [(&str, i32); 3] = [("INT", 130), ("TERM", 143), ("HUP", 129)];

/// The holds match every caller: the tests here take turns.
fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());
    TURN.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn send(child: &Child, signal: &str) {
    let sent = Command::new("kill").args([&format!("-{signal}"), &child.id().to_string()]).status();
    assert!(sent.unwrap().success(), "kill -{signal}");
}

/// The test users left in the stack's user pool, and the items left in its table.
fn left_behind(s: &Stack) -> (Vec<String>, usize) {
    let sdk = s.emu.sdk();
    block_on(async {
        let users = sdk.idp.list_users().user_pool_id(&s.user_pool_id).send().await.unwrap();
        let users = users
            .users()
            .iter()
            .filter_map(|u| u.username())
            .filter(|u| u.starts_with("setup-verify-"))
            .map(str::to_string)
            .collect();
        let items = sdk.dynamodb.scan().table_name(s.table()).send().await.unwrap();
        (users, items.items().len())
    })
}

/// Each signal at each point of `verify --create-test-user`: the run exits 128 + the signal,
/// says it was interrupted, and its cleanup ran (AdminDeleteUser once the user may exist,
/// DeleteItem once the test item was written): no test user and no item is left.
#[test]
fn a_signal_at_any_verify_hop_leaves_no_test_user_and_no_item() {
    let _turn = one_at_a_time();
    let emu = holding_emulator();
    let s = Stack::on(emu, "signal-verify", "");
    s.write_config(&format!(
        "\n[table]\nname = \"{}\"\n\n[policy]\nper_user_isolation = true\n",
        s.table()
    ));
    s.ok(&["apply"]);
    // (operation, held before or after AWS does it, a user may exist, the test item was written)
    let points = [
        ("AdminCreateUser", "before", true, false),
        ("AdminCreateUser", "after", true, false),
        ("InitiateAuth", "before", true, false),
        ("GetId", "before", true, false),
        ("GetCredentialsForIdentity", "before", true, false),
        ("PutItem", "after", true, true),
        ("UpdateItem", "before", true, true),
        ("Scan", "before", true, true),
    ];
    for (op, when, user, item) in points {
        for (signal, code) in SIGNALS {
            let at = format!("SIG{signal} {when} {op}");
            emu.hold_any(op, when);
            let (child, key) = s.spawn(&["verify", "--create-test-user", "-o", "json"]);
            assert!(emu.holding(Duration::from_secs(30)), "{at}: never held");
            send(&child, signal);
            // The call in flight is let finish: release it a moment after the signal.
            std::thread::sleep(Duration::from_millis(300));
            emu.release_any();
            let out = child.wait_with_output().unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(code), "{at}: {stderr}");
            let report: Value = serde_json::from_slice(&out.stdout)
                .unwrap_or_else(|e| panic!("{at}: {e}: {}", String::from_utf8_lossy(&out.stdout)));
            assert_eq!(
                (&report["ok"], &report["exit_code"]),
                (&json!(false), &json!(code)),
                "{at}"
            );
            let summary = report["summary"].as_str().unwrap();
            assert!(
                summary.starts_with("Verify was interrupted; its cleanup ran: "),
                "{at}: {summary}"
            );
            let ops: Vec<String> = s.emu.calls(&key).into_iter().map(|c| c.operation).collect();
            let after = |first: &str, then: &str| {
                let at = ops.iter().position(|o| o == first);
                at.is_some_and(|i| ops[i..].iter().any(|o| o == then))
            };
            if user {
                assert!(after("AdminCreateUser", "AdminDeleteUser"), "{at}: {ops:?}");
            }
            if item {
                assert!(ops.iter().any(|o| o == "DeleteItem"), "{at}: {ops:?}");
            }
            assert_eq!(left_behind(&s), (vec![], 0), "{at}: {ops:?}\n{stderr}");
        }
    }
}

/// A first SIGINT during apply lets the create in flight finish and starts nothing after it;
/// the report says what was done, and a second apply converges.
#[test]
fn a_signal_during_apply_finishes_the_create_in_flight_and_starts_nothing_new() {
    let _turn = one_at_a_time();
    let emu = holding_emulator();
    let s = Stack::on(emu, "signal-apply", "");
    emu.hold_any("CreateRole", "before");
    let (child, key) = s.spawn(&["apply"]);
    assert!(emu.holding(Duration::from_secs(30)), "CreateRole never held");
    send(&child, "INT");
    std::thread::sleep(Duration::from_millis(300));
    emu.release_any();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    let ops: Vec<String> = s.emu.calls(&key).into_iter().map(|c| c.operation).collect();
    // The role was created, and what needs it (its policy attached, the pool's roles) was not.
    let created = ops.iter().position(|o| o == "CreateRole").expect("CreateRole sent");
    for never in ["AttachRolePolicy", "SetIdentityPoolRoles"] {
        assert!(!ops.iter().any(|o| o == never), "{never} started after the signal: {ops:?}");
    }
    assert!(ops[created + 1..].iter().all(|o| !o.starts_with("Create")), "{ops:?}");
    for says in [
        "SIGINT: finishing what is in flight",
        "not started: interrupted by SIGINT",
        "interrupted by SIGINT: the calls in flight finished, nothing new was started",
    ] {
        assert!(stderr.contains(says), "no {says:?} in\n{stderr}");
    }
    let again = s.ok(&["apply"]);
    assert!(!again.ops.iter().any(|o| o == "CreateRole"), "{:?}", again.ops);
    s.ok(&["status"]);
}

/// A second signal abandons the calls in flight at once, says what was done and what was in
/// flight, and exits with the first signal's code.
#[test]
fn a_second_signal_abandons_what_is_in_flight() {
    let _turn = one_at_a_time();
    let emu = holding_emulator();
    let s = Stack::on(emu, "signal-twice", "");
    emu.hold_any("CreateRole", "before");
    let (child, _) = s.spawn(&["apply"]);
    assert!(emu.holding(Duration::from_secs(30)), "CreateRole never held");
    send(&child, "TERM");
    std::thread::sleep(Duration::from_millis(300));
    send(&child, "INT");
    let out = child.wait_with_output().unwrap();
    emu.release_any();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(143), "{stderr}");
    for says in ["interrupted by SIGTERM", "In flight (abandoned): ", "role (creating role"] {
        assert!(stderr.contains(says), "no {says:?} in\n{stderr}");
    }
    s.ok(&["apply"]);
    s.ok(&["status"]);
}
