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
    let check =
        std::process::Command::new("bash").arg("-n").arg(&path).output().expect("bash runs");
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stderr));
    plain(&["completions", "tcsh"]).exits(2);
}

/// Every command of `setup`, as `setup --help` lists them (checked against the CLI itself).
const COMMANDS: &[&str] = &[
    "apply",
    "plan",
    "status",
    "teardown",
    "export",
    "init",
    "completions",
    "man",
    "verify",
    "outputs",
    "bootstrap",
    "list",
];

#[test]
fn the_command_list_is_complete() {
    use clap::CommandFactory;
    let cli = setup::cli::Cli::command();
    let mut actual: Vec<&str> = cli.get_subcommands().map(|c| c.get_name()).collect();
    actual.sort_unstable();
    let mut listed = COMMANDS.to_vec();
    listed.sort_unstable();
    assert_eq!(actual, listed, "add the new command to COMMANDS in tests/e2e/ux.rs");
}

#[test]
fn man_page_lists_every_command() {
    // Every page's header line names the program and its version.
    let th = |cmd: &str| format!(".TH {cmd} 1  \"setup {}\" \n", env!("CARGO_PKG_VERSION"));
    let r = plain(&["man"]).exits(0);
    assert!(r.stdout.contains(&th("setup")), "{}", r.stdout);
    // clap_mangen lists each command as a `setup-NAME(1)` entry of the SUBCOMMANDS section.
    let commands = r
        .stdout
        .split_once(".SH SUBCOMMANDS")
        .and_then(|(_, rest)| rest.split("\n.SH ").next())
        .unwrap_or_else(|| panic!("no SUBCOMMANDS section:\n{}", r.stdout));
    for cmd in COMMANDS {
        assert!(
            commands.lines().any(|l| l == format!("setup\\-{cmd}(1)")),
            "the man page lacks an entry for {cmd}:\n{commands}"
        );
        let r = plain(&["man", cmd]).exits(0);
        assert!(
            r.stdout.contains(&th(&format!("setup-{cmd}"))),
            "`setup man {cmd}`:\n{}",
            r.stdout
        );
    }
    // init words --stack for what it does with it.
    plain(&["man", "init"]).stdout_has("Stack name to write into the new config");
    let r = plain(&["man", "export"]);
    assert!(r.stdout.contains("cloudformation") && r.stdout.contains("wait\\-timeout"));
    let r = plain(&["man", "nope"]);
    assert_eq!(r.code, 1);
    r.stderr_has("man pages exist for: apply");
}

/// The lines of the examples block of a --help text (after `Examples:`, `Example:` or
/// `Example (what for):`).
fn examples(help: &str) -> Vec<&str> {
    help.lines()
        .skip_while(|l| !(l.starts_with("Example") && l.trim_end().ends_with(':')))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .map(str::trim)
        .collect()
}

#[test]
fn every_command_help_has_an_example() {
    let top = plain(&["--help"]);
    let listed = examples(&top.stdout);
    assert!(!listed.is_empty(), "no examples in --help:\n{}", top.stdout);
    for cmd in COMMANDS {
        let r = plain(&[cmd, "--help"]).exits(0);
        let own = format!("setup {cmd}");
        assert!(
            examples(&r.stdout).iter().any(|e| e.starts_with(&own)),
            "`setup {cmd} --help` has no example that runs {own}:\n{}",
            r.stdout
        );
    }
}

fn assert_plain_text(r: &Run) {
    for (name, text) in [("stdout", &r.stdout), ("stderr", &r.stderr)] {
        assert!(!text.contains('\u{1b}'), "ANSI escape in {name}:\n{}", r.all());
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
    let r = s.run_env(&["apply"], &env).exits(0);
    assert_plain_text(&r);
    assert!(r.stderr.contains("table: creating table"), "plain progress lines: {}", r.all());
    r.stdout_has("ok table");
    for args in [&["status"][..], &["plan"], &["teardown"]] {
        let r = s.run_env(args, &env).exits(0);
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
    let r = run_tty(s.dir.path(), &["apply"], &[("NO_COLOR", "")]).exits(0);
    assert!(r.stdout.contains('✓') && coloured(&r.stdout), "{}", r.all());
    let r = run_tty(s.dir.path(), &["status"], &[("NO_COLOR", "1")]).exits(0);
    assert!(r.stdout.contains('✓'), "{}", r.all());
    assert!(!coloured(&r.stdout), "colour despite NO_COLOR: {:?}", r.stdout);
    let r = run_tty(s.dir.path(), &["teardown", "--delete-table", "--yes"], &[("NO_COLOR", "1")])
        .exits(0);
    assert!(r.stdout.contains('✓') && !coloured(&r.stdout), "{:?}", r.stdout);
}

#[test]
fn no_progress_silences_progress_and_keeps_the_report() {
    let s = Stack::new("no-progress", "");
    let r = s.ok(&["apply", "--no-progress"]);
    assert!(r.stderr.is_empty(), "{}", r.all());
    r.stdout_has("Applied:");
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
    for step in STEPS {
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
    s.write_config(&s.table_config("point_in_time_recovery = false\n", ""));
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
        )) && r.stderr.contains("run `setup apply` again later, or pass a longer --wait-timeout"),
        "{}",
        r.all()
    );
    assert!(took >= Duration::from_secs(2) && took < Duration::from_secs(30), "{took:?}");
    assert!(!r.writes().contains(&"UpdateContinuousBackups".to_string()));
    // Once ACTIVE, the same apply goes through.
    let r = s.ok(&["apply", "--wait-timeout", "2s"]);
    r.stdout_has("point-in-time recovery off");
    // Durations are checked before anything runs.
    let r = s.run(&["apply", "--wait-timeout", "soon"]).exits(2);
    r.stderr_has("write it like 90s, 10m or 1h30m");
    assert!(r.ops.is_empty(), "{:?}", r.ops);
}

#[test]
fn init_without_a_terminal_writes_a_config_that_plan_accepts_and_apply_converges() {
    let (pool, client) = user_pool().clone();
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| run_in(emulator(), dir.path(), args, &[]);
    // Without the user pool, it says which flags to pass.
    let r = run(&["init"]).exits(1);
    r.stderr_has("--user-pool-id ID and --client-id ID");
    // The command it suggests looks in the region in use.
    r.stderr_has("`aws cognito-idp list-user-pools --max-results 60 --region us-east-1`");
    let r = run(&["init", "--region", "eu-west-2"]).exits(1);
    r.stderr_has("`aws cognito-idp list-user-pools --max-results 60 --region eu-west-2`");
    let r = run(&["init", "--user-pool-id", &pool]).exits(1);
    r.stderr_has(&format!(
        "`aws cognito-idp list-user-pool-clients --user-pool-id {pool} --region us-east-1`"
    ));
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
    ])
    .exits(0);
    r.stdout_has("Wrote setup.toml for stack init-e2e");
    assert!(r.ops.is_empty(), "init without a terminal calls nothing: {:?}", r.ops);
    let written = || std::fs::read_to_string(dir.path().join("setup.toml")).unwrap();
    let text = written();
    assert!(text.contains(&format!("id = \"{pool}\"")), "{text}");
    assert!(text.contains("region = \"us-east-1\""), "{text}");
    assert!(text.lines().filter(|l| l.trim_start().starts_with('#')).count() > 10);

    run(&["plan"]).exits(0).stdout_has("create table init-e2e-profiles").no_writes();
    run(&["apply"]).exits(0);
    run(&["status"]).exits(0);
    let r = run(&["apply"]);
    assert!(r.writes().is_empty() && r.stdout.contains("No changes"), "{}", r.all());

    // An existing file is never overwritten without --force.
    let r = run(&["init", "--user-pool-id", &pool, "--client-id", "other"]).exits(1);
    assert!(r.stderr.contains("already exists") && r.stderr.contains("--force"));
    assert_eq!(written(), text);
    // Bad values are refused before anything is written, naming the field.
    let r = run(&["init", "--force", "--user-pool-id", "nope", "--client-id", &client]).exits(1);
    r.stderr_has("user_pool.id");
    assert_eq!(written(), text);
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
    ])
    .exits(0);
    let j = r.json();
    assert_eq!(j["config"], "other.toml");
    assert_eq!(j["client_ids"], serde_json::json!([client]));
    run(&["teardown", "--delete-table", "--yes"]).exits(0);
}

/// On a terminal, init lists the user pools and their app clients to choose from
/// (ListUserPools, ListUserPoolClients); Enter takes the first of each.
#[test]
fn init_on_a_terminal_offers_the_existing_user_pools() {
    let (pool, client) = user_pool().clone();
    let dir = tempfile::tempdir().unwrap();
    let r = run_tty_typing(
        dir.path(),
        &["init", "--stack", "init-tty", "--region", REGION, "--table", "init-tty-profiles"],
        &[],
        &["\r", "\r"],
    )
    .exits(0);
    r.stdout_has(&format!("setup-tests ({pool})"));
    r.stdout_has(&format!("app ({client})"));
    assert_eq!(r.ops, ["ListUserPools", "ListUserPoolClients"]);
    let text = std::fs::read_to_string(dir.path().join("setup.toml")).unwrap();
    assert!(text.contains(&format!("id = \"{pool}\"")), "{text}");
    assert!(text.contains(&format!("client_ids = [\"{client}\"]")), "{text}");
    run_in(emulator(), dir.path(), &["plan"], &[]).exits(0);
}
