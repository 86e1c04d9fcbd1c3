//! `setup`: provision, check and remove the AWS pieces that let a Cognito-authenticated app use
//! a DynamoDB table. See the README for the user's view; `steps/` holds one module per
//! provisioning step, `commands/` orchestrates them, `render/` shows the results.

pub mod aws;
pub mod cli;
pub mod commands;
pub mod config;
pub mod diagnose;
pub mod plan;
pub mod policy_doc;
pub mod policy_eval;
pub mod progress;
pub mod render;
pub mod steps;

use std::process::ExitCode;

use cli::{Cli, Command};
use commands::{apply, status, teardown, Session};
use render::Style;

/// Runs the parsed command line and returns the process exit code.
pub async fn run(cli: Cli) -> ExitCode {
    let style = Style::detect(&cli.global);
    init_logging(cli.global.verbose);
    let name = match &cli.command {
        Command::Apply(a) if a.dry_run => "plan",
        Command::Apply(_) => "apply",
        Command::Plan(_) => "plan",
        Command::Status => "status",
        Command::Teardown(_) => "teardown",
    };
    let progress = render::progress(style);
    let session = match Session::open(&cli.global, progress).await {
        Ok(s) => s,
        Err(e) => {
            render::error(style, name, &e.to_string());
            return ExitCode::from(1);
        }
    };
    let result = match &cli.command {
        Command::Apply(a) if a.dry_run => status::plan(&session, a.adopt).await,
        Command::Apply(a) => apply::apply(&session, a.adopt).await,
        Command::Plan(p) => status::plan(&session, p.adopt).await,
        Command::Status => status::status(&session).await,
        Command::Teardown(t) => {
            let confirm = if t.yes {
                teardown::Confirm::Yes
            } else {
                teardown::Confirm::Ask
            };
            teardown::teardown(&session, t.delete_table, confirm).await
        }
    };
    match result {
        Ok(report) => {
            render::report(style, &report);
            ExitCode::from(report.exit_code)
        }
        Err(e) => {
            render::error(style, name, &format!("{e:#}"));
            ExitCode::from(1)
        }
    }
}

/// `-v` logs this tool's decisions, `-vv` also the SDK's request flow. Never request bodies or
/// credentials: the SDK's trace level is never enabled.
fn init_logging(verbose: u8) {
    let filter = match verbose {
        0 => return,
        1 => "setup=debug",
        _ => "setup=debug,aws_config=debug,aws_smithy_runtime=debug",
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .without_time()
        .try_init();
}
