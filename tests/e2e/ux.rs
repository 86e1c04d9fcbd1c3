//! The tool feels native: completions, man page, examples in every --help, plain output when
//! piped, --no-progress, per-step timings, --wait-timeout, and `init`.

use std::time::{Duration, Instant};

use crate::harness::*;

fn plain(args: &[&str]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    run_plain(dir.path(), args, &[])
}

#[test]
fn completions_generate_for_every_shell() {
    for (shell, marker) in [
        ("bash", "complete -F _setup"),
        ("zsh", "#compdef setup"),
        ("fish", "complete -c setup"),
        ("powershell", "Register-ArgumentCompleter"),
        ("elvish", "edit:completion:arg-completer[setup]"),
    ] {
        let r = plain(&["completions", shell]);
        assert_eq!(r.code, 0, "{shell}: {}", r.all());
        assert!(r.stdout.contains(marker), "{shell} script lacks {marker:?}");
        for word in ["apply", "teardown", "export", "wait-timeout", "no-progress"] {
            assert!(r.stdout.contains(word), "{shell} script lacks {word}");
        }
    }
    // The bash script is valid bash.
    let r = plain(&["completions", "bash"]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("setup.bash");
    std::fs::write(&path, &r.stdout).unwrap();
    let check = std::process::Command::new("bash")
        .arg("-n")
        .arg(&path)
        .output()
        .expect("bash runs");
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let r = plain(&["completions", "tcsh"]);
    assert_eq!(r.code, 2, "{}", r.all());
}

#[test]
fn man_page_lists_every_command() {
    let r = plain(&["man"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stdout.starts_with(".ie") || r.stdout.contains(".TH setup 1"),
        "{}",
        r.stdout
    );
    for cmd in [
        "apply",
        "plan",
        "status",
        "teardown",
        "export",
        "init",
        "completions",
        "man",
    ] {
        assert!(r.stdout.contains(cmd), "man page lacks {cmd}");
    }
    let r = plain(&["man", "export"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(r.stdout.contains(".TH setup-export 1"), "{}", r.stdout);
    assert!(r.stdout.contains("cloudformation") && r.stdout.contains("wait\\-timeout"));
    let r = plain(&["man", "nope"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("man pages exist for: apply"),
        "{}",
        r.all()
    );
}

#[test]
fn every_command_help_has_an_example() {
    let top = plain(&["--help"]);
    assert!(top.stdout.contains("Examples:"), "{}", top.stdout);
    for cmd in [
        "apply",
        "plan",
        "status",
        "teardown",
        "export",
        "init",
        "completions",
        "man",
    ] {
        let r = plain(&[cmd, "--help"]);
        assert_eq!(r.code, 0, "{}", r.all());
        assert!(
            r.stdout.contains("Example") && r.stdout.contains(&format!("setup {cmd}")),
            "`setup {cmd} --help` has no example:\n{}",
            r.stdout
        );
    }
}

fn assert_plain_text(r: &Run) {
    for (name, text) in [("stdout", &r.stdout), ("stderr", &r.stderr)] {
        assert!(
            !text.contains('\u{1b}'),
            "ANSI escape in {name}:\n{}",
            r.all()
        );
        for symbol in ['✓', '✗', '⠋'] {
            assert!(!text.contains(symbol), "{symbol} in {name}:\n{}", r.all());
        }
    }
}

#[test]
fn piped_output_has_no_colour_or_symbols_even_without_no_color() {
    let s = Stack::new("piped-output", "");
    // NO_COLOR unset: only the missing terminal keeps the output plain.
    let env = [("NO_COLOR", "")];
    let r = s.run_env(&["apply"], &env);
    assert_eq!(r.code, 0, "{}", r.all());
    assert_plain_text(&r);
    assert!(
        r.stderr.contains("table: creating table"),
        "plain progress lines: {}",
        r.all()
    );
    assert!(r.stdout.contains("ok table"), "{}", r.all());
    for args in [&["status"][..], &["plan"], &["teardown"]] {
        let r = s.run_env(args, &env);
        assert_eq!(r.code, 0, "{}", r.all());
        assert_plain_text(&r);
    }
    let r = s.run_env(&["status", "--config", "missing.toml"], &env);
    assert_eq!(r.code, 1);
    assert_plain_text(&r);
    assert!(r.stderr.starts_with("error: "), "{}", r.all());
}

/// On a terminal: symbols, colour and spinners; with NO_COLOR the symbols stay, the colour goes.
#[test]
fn a_terminal_gets_symbols_and_colour_unless_no_color() {
    let s = Stack::new("tty-output", "");
    let coloured = |text: &str| {
        // SGR foreground colours (ESC [ 3x m), as console writes green/red/yellow/cyan.
        text.contains("\u{1b}[32m") || text.contains("\u{1b}[36m") || text.contains("\u{1b}[31m")
    };
    let r = run_tty(s.dir.path(), &["apply"], &[("NO_COLOR", "")]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(r.stdout.contains('✓') && coloured(&r.stdout), "{}", r.all());
    let r = run_tty(s.dir.path(), &["status"], &[("NO_COLOR", "1")]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(r.stdout.contains('✓'), "{}", r.all());
    assert!(
        !coloured(&r.stdout),
        "colour despite NO_COLOR: {:?}",
        r.stdout
    );
    let r = run_tty(
        s.dir.path(),
        &["teardown", "--delete-table", "--yes"],
        &[("NO_COLOR", "1")],
    );
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stdout.contains('✓') && !coloured(&r.stdout),
        "{:?}",
        r.stdout
    );
}

#[test]
fn no_progress_silences_progress_and_keeps_the_report() {
    let s = Stack::new("no-progress", "");
    let r = s.ok(&["apply", "--no-progress"]);
    assert!(r.stderr.is_empty(), "{}", r.all());
    assert!(r.stdout.contains("Applied:"), "{}", r.all());
}

/// Lines like `  ok table  created table x (0.3s)` for every step that ran.
#[test]
fn apply_and_teardown_show_each_steps_duration() {
    let s = Stack::new("timings", "");
    let r = s.ok(&["apply"]);
    let timed = |line: &str| {
        line.trim_end().ends_with("s)")
            && line
                .rsplit_once('(')
                .is_some_and(|(_, t)| t.trim_end_matches("s)").parse::<f64>().is_ok())
    };
    for step in [
        "table",
        "identity-pool",
        "role",
        "trust-policy",
        "access-policy",
        "pool-roles",
    ] {
        let line = r
            .stdout
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("ok {step} ")))
            .unwrap_or_else(|| panic!("no line for {step}:\n{}", r.stdout));
        assert!(timed(line), "no duration on {line:?}");
    }
    let j = s.ok(&["apply", "--output", "json"]).json();
    for st in j["steps"].as_array().unwrap() {
        assert!(st["duration_ms"].is_u64(), "{st}");
    }
    let j = s.ok(&["status", "--output", "json"]).json();
    for st in j["steps"].as_array().unwrap() {
        assert!(st["duration_ms"].is_null(), "status measures nothing: {st}");
    }
    let r = s.ok(&["teardown", "--delete-table", "--yes"]);
    let line = r
        .stdout
        .lines()
        .find(|l| l.contains("deleted table"))
        .unwrap_or_else(|| panic!("{}", r.stdout));
    assert!(timed(line), "{line:?}");
}

#[test]
fn wait_timeout_bounds_the_table_wait_with_a_clear_error() {
    let s = Stack::new("wait-timeout", "");
    s.ok(&["apply"]);
    // A table AWS is still working on, and a change that needs it ACTIVE.
    s.write_config(&format!(
        "\n[table]\nname = \"{}\"\ntags = {{ team = \"mobile\" }}\npoint_in_time_recovery = false\n",
        s.table()
    ));
    set_table_status(&s.table(), "UPDATING");
    let started = Instant::now();
    let r = s.run(&["apply", "--wait-timeout", "2s"]);
    let took = started.elapsed();
    set_table_status(&s.table(), "");
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.stderr.contains(&format!(
            "table {} did not become ACTIVE within --wait-timeout 2s: it is still UPDATING",
            s.table()
        )) && r.stderr.contains("pass a longer --wait-timeout"),
        "{}",
        r.all()
    );
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(30),
        "{took:?}"
    );
    assert!(!r.writes().contains(&"UpdateContinuousBackups".to_string()));
    // Once ACTIVE, the same apply goes through.
    let r = s.ok(&["apply", "--wait-timeout", "2s"]);
    assert!(
        r.stdout.contains("point-in-time recovery off"),
        "{}",
        r.all()
    );
    // Durations are checked before anything runs.
    let r = s.run(&["apply", "--wait-timeout", "soon"]);
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(
        r.stderr.contains("write it like 90s, 10m or 1h30m"),
        "{}",
        r.all()
    );
    assert!(r.ops.is_empty(), "{:?}", r.ops);
}

#[test]
fn init_without_a_terminal_writes_a_config_that_plan_accepts_and_apply_converges() {
    let (pool, client) = user_pool().clone();
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| run_in(emulator(), dir.path(), args, &[]);
    // Without the user pool, it says which flags to pass.
    let r = run(&["init"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.stderr.contains("--user-pool-id ID and --client-id ID"),
        "{}",
        r.all()
    );
    assert!(!dir.path().join("setup.toml").exists());

    let r = run(&[
        "init",
        "--user-pool-id",
        &pool,
        "--client-id",
        &client,
        "--stack",
        "init-e2e",
        "--table",
        "init-e2e-profiles",
    ]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stdout.contains("Wrote setup.toml for stack init-e2e"),
        "{}",
        r.all()
    );
    assert!(
        r.ops.is_empty(),
        "init without a terminal calls nothing: {:?}",
        r.ops
    );
    let text = std::fs::read_to_string(dir.path().join("setup.toml")).unwrap();
    assert!(text.contains(&format!("id = \"{pool}\"")), "{text}");
    assert!(text.contains("region = \"us-east-1\""), "{text}");
    assert!(
        text.lines()
            .filter(|l| l.trim_start().starts_with('#'))
            .count()
            > 10
    );

    let r = run(&["plan"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stdout.contains("create table init-e2e-profiles"),
        "{}",
        r.all()
    );
    assert!(r.writes().is_empty());
    let r = run(&["apply"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let r = run(&["status"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let r = run(&["apply"]);
    assert!(
        r.writes().is_empty() && r.stdout.contains("No changes"),
        "{}",
        r.all()
    );

    // An existing file is never overwritten without --force.
    let r = run(&["init", "--user-pool-id", &pool, "--client-id", "other"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(r.stderr.contains("already exists") && r.stderr.contains("--force"));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("setup.toml")).unwrap(),
        text
    );
    // Bad values are refused before anything is written, naming the field.
    let r = run(&[
        "init",
        "--force",
        "--user-pool-id",
        "nope",
        "--client-id",
        &client,
    ]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(r.stderr.contains("user_pool.id"), "{}", r.all());
    assert_eq!(
        std::fs::read_to_string(dir.path().join("setup.toml")).unwrap(),
        text
    );
    let r = run(&[
        "init",
        "--force",
        "--config",
        "other.toml",
        "--user-pool-id",
        &pool,
        "--client-id",
        &client,
        "--stack",
        "init-e2e-2",
        "--output",
        "json",
    ]);
    assert_eq!(r.code, 0, "{}", r.all());
    let j = r.json();
    assert_eq!(j["config"], "other.toml");
    assert_eq!(j["client_ids"], serde_json::json!([client]));
    let r = run(&["teardown", "--delete-table", "--yes"]);
    assert_eq!(r.code, 0, "{}", r.all());
}

/// On a terminal, init lists the user pools and their app clients to choose from
/// (ListUserPools, ListUserPoolClients); Enter takes the first of each.
#[test]
fn init_on_a_terminal_offers_the_existing_user_pools() {
    let (pool, client) = user_pool().clone();
    let dir = tempfile::tempdir().unwrap();
    let r = run_tty_typing(
        dir.path(),
        &[
            "init",
            "--stack",
            "init-tty",
            "--region",
            REGION,
            "--table",
            "init-tty-profiles",
        ],
        &[],
        &["\r", "\r"],
    );
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stdout.contains(&format!("setup-tests ({pool})")),
        "{}",
        r.all()
    );
    assert!(r.stdout.contains(&format!("app ({client})")), "{}", r.all());
    assert_eq!(r.ops, ["ListUserPools", "ListUserPoolClients"]);
    let text = std::fs::read_to_string(dir.path().join("setup.toml")).unwrap();
    assert!(text.contains(&format!("id = \"{pool}\"")), "{text}");
    assert!(
        text.contains(&format!("client_ids = [\"{client}\"]")),
        "{text}"
    );
    let r = run_in(emulator(), dir.path(), &["plan"], &[]);
    assert_eq!(r.code, 0, "{}", r.all());
}
