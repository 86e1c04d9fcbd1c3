//! `setup`: provision, check and remove the AWS pieces that let a Cognito-authenticated app use
//! a DynamoDB table. See the README for the user's view; `steps/` holds one module per
//! provisioning step, `commands/` orchestrates them, `render/` shows the results.

pub mod aws;
pub mod cli;
pub mod commands;
pub mod config;
pub mod export;
pub mod plan;
pub mod policy_doc;
pub mod progress;
pub mod render;
pub mod steps;

use std::process::ExitCode;
use std::sync::Arc;

use clap::CommandFactory;

use cli::{Cli, Command};
use commands::{apply, export as export_cmd, init, status, teardown, Session};
use progress::Journal;
use render::Style;

/// Runs the parsed command line and returns the process exit code.
pub async fn run(cli: Cli) -> ExitCode {
    let style = Style::detect(&cli.global);
    init_logging(cli.global.verbose, style.stderr_color());
    let name = match &cli.command {
        Command::Apply(a) if a.dry_run => "plan",
        Command::Apply(_) => "apply",
        Command::Plan(_) => "plan",
        Command::Status => "status",
        Command::Teardown(_) => "teardown",
        Command::Export(_) => "export",
        Command::Init(_) => "init",
        Command::Completions(_) => "completions",
        Command::Man(_) => "man",
    };
    // Commands that do not work on a stack.
    match &cli.command {
        Command::Completions(c) => {
            let mut cmd = Cli::command();
            clap_complete::generate(c.shell, &mut cmd, "setup", &mut std::io::stdout());
            return ExitCode::SUCCESS;
        }
        Command::Man(m) => {
            return match render::man(m.command.as_deref()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    render::error(style, name, &format!("{e:#}"));
                    ExitCode::from(1)
                }
            };
        }
        Command::Init(args) => {
            return match init::init(&cli.global, args).await {
                Ok(done) => {
                    render::initialized(style, &done);
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    render::error(style, name, &format!("{e:#}"));
                    ExitCode::from(1)
                }
            };
        }
        Command::Export(args) => {
            return match export_cmd::export(&cli.global, args).await {
                Ok(exported) => {
                    render::exported(style, args.output_file.is_some(), &exported);
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    render::error(style, name, &format!("{e:#}"));
                    ExitCode::from(1)
                }
            };
        }
        _ => {}
    }
    let journal = Arc::new(Journal::new(render::progress(style)));
    let work = async {
        let session = Session::open(&cli.global, journal.clone())
            .await
            .map_err(|e| e.to_string())?;
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
            Command::Export(_) | Command::Init(_) | Command::Completions(_) | Command::Man(_) => {
                unreachable!("handled above")
            }
        };
        result.map_err(|e| format!("{e:#}"))
    };
    // Ctrl-C abandons the calls in flight (each is a single request: AWS either did it or not,
    // and the next run sees which), says what was done, and exits 130.
    let outcome = tokio::select! {
        outcome = work => outcome,
        _ = tokio::signal::ctrl_c() => {
            render::error(style, name, &format!(
                "interrupted. {} Run `setup {name}` again to finish: it picks up where this stopped.",
                journal.summary()
            ));
            return ExitCode::from(130);
        }
    };
    match outcome {
        Ok(report) => {
            render::report(style, &report);
            ExitCode::from(report.exit_code)
        }
        Err(message) => {
            render::error(style, name, &message);
            ExitCode::from(1)
        }
    }
}

/// `-v` logs this tool's decisions, `-vv` also the SDK's request flow. Never request bodies or
/// credentials: the SDK's trace level is never enabled.
fn init_logging(verbose: u8, color: bool) {
    let filter = match verbose {
        0 => return,
        1 => "setup=debug",
        _ => "setup=debug,aws_config=debug,aws_smithy_runtime=debug",
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .with_ansi(color)
        .without_time()
        .try_init();
}
