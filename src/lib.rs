//! `setup`: provision, check and remove the AWS pieces that let a Cognito-authenticated app use
//! a DynamoDB table. See the README for the user's view; `steps/` holds one module per
//! provisioning step, `commands/` orchestrates them, `render/` shows the results.

pub mod aws;
pub mod cancel;
pub mod cli;
pub mod commands;
pub mod config;
pub mod diagnose;
pub mod export;
pub mod keyfile;
#[cfg(test)]
mod layers;
pub mod plan;
pub mod policy_doc;
pub mod policy_eval;
pub mod progress;
pub mod render;
pub mod resource;
pub mod steps;
#[cfg(test)]
mod testing;
pub mod wait;

use std::process::ExitCode;
use std::sync::Arc;

use cancel::Cancel;
use cli::{Cli, Command, Output, OutputsFormat};
use commands::verify::{self, Login, VerifyOptions};
use commands::{apply, bootstrap, export as export_cmd, init, outputs, status, teardown, Session};
use keyfile::Format;
use plan::Command as Ran;
use progress::Journal;
use render::Style;

/// How a stack command ended: a report to render, or already rendered with this exit code.
enum Finished {
    Report(commands::Report),
    Exit(ExitCode),
}

/// Runs the parsed command line and returns the process exit code.
pub async fn run(cli: Cli) -> ExitCode {
    let style = Style::detect(&cli.global);
    init_logging(cli.global.verbose, style.stderr_color());
    let name = match &cli.command {
        Command::Apply(a) if a.dry_run => Ran::Plan,
        Command::Apply(_) => Ran::Apply,
        Command::Plan(_) => Ran::Plan,
        Command::Status => Ran::Status,
        Command::Teardown(_) => Ran::Teardown,
        Command::Export(_) => Ran::Export,
        Command::Init(_) => Ran::Init,
        Command::Completions(_) => Ran::Completions,
        Command::Man(_) => Ran::Man,
        Command::Verify(_) => Ran::Verify,
        Command::Outputs(_) => Ran::Outputs,
        Command::Bootstrap(_) => Ran::Bootstrap,
        Command::List => Ran::List,
    };
    // Commands that do not work on a stack: success, or the error and exit status 1.
    let finish = |result: anyhow::Result<()>| match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            render::error(style, name, &format!("{e:#}"));
            ExitCode::from(1)
        }
    };
    match &cli.command {
        Command::Completions(c) => {
            let mut cmd = cli::command();
            clap_complete::generate(c.shell, &mut cmd, "setup", &mut std::io::stdout());
            return ExitCode::SUCCESS;
        }
        Command::Man(m) => return finish(render::man(m.command.as_deref())),
        Command::Init(args) => {
            let done = init::init(&cli.global, args).await;
            return finish(done.map(|done| render::initialized(style, &done)));
        }
        Command::Export(args) => {
            let exported = export_cmd::export(&cli.global, args).await;
            let to_file = args.output_file.is_some();
            return finish(exported.map(|e| render::exported(style, to_file, &e)));
        }
        Command::List => {
            let listed = commands::list::run(&cli.global).await;
            return finish(listed.map(|l| render::listed(style, &l)));
        }
        _ => {}
    }
    let journal = Arc::new(Journal::new(render::progress(style)));
    let cancel = Cancel::on_signals();
    let work = async {
        let mut session =
            Session::open(&cli.global, journal.clone()).await.map_err(|e| e.to_string())?;
        session.cancel = cancel.clone();
        // These two render their own reports.
        match &cli.command {
            Command::Verify(v) => return Ok(Finished::Exit(run_verify(style, &session, v).await)),
            Command::Outputs(o) => {
                return Ok(Finished::Exit(run_outputs(style, &session, o, cli.global.output).await))
            }
            Command::Bootstrap(b) => {
                let confirm = match b.yes {
                    true => bootstrap::Confirm::Yes,
                    false => bootstrap::Confirm::Ask(render::bootstrap_plan),
                };
                let report = bootstrap::bootstrap(&session, &cli.global, b, confirm).await;
                let report = report.map_err(|e| format!("{e:#}"))?;
                render::bootstrapped(style, &report);
                let code = cancel.signal().map_or(report.exit_code, |s| s.exit_code());
                return Ok(Finished::Exit(ExitCode::from(code)));
            }
            _ => {}
        }
        let result = match &cli.command {
            Command::Apply(a) if a.dry_run => {
                status::plan(&session, a.adopt, a.allow_index_replace).await
            }
            Command::Apply(a) => apply::apply(&session, a.adopt, a.allow_index_replace).await,
            Command::Plan(p) => status::plan(&session, p.adopt, p.allow_index_replace).await,
            Command::Status => status::status(&session).await,
            Command::Teardown(t) => {
                let confirm = if t.yes { teardown::Confirm::Yes } else { teardown::Confirm::Ask };
                teardown::teardown(&session, t.delete_table, confirm).await
            }
            Command::Export(_)
            | Command::Init(_)
            | Command::Completions(_)
            | Command::Man(_)
            | Command::Verify(_)
            | Command::Outputs(_)
            | Command::Bootstrap(_)
            | Command::List => unreachable!("handled above"),
        };
        result.map(Finished::Report).map_err(|e| format!("{e:#}"))
    };
    // SIGINT, SIGTERM or SIGHUP. Commands with something to finish (verify's cleanup, the calls
    // apply and teardown have in flight) own the first signal: they start nothing new, finish,
    // and say what they did. The read-only ones stop at once. A second signal abandons the calls
    // in flight (each is a single request: AWS either did it or not, and the next run sees
    // which), says what was done, and exits 128 + the signal's number.
    let owns_cancellation = match &cli.command {
        Command::Apply(a) => !a.dry_run,
        Command::Teardown(_) | Command::Verify(_) | Command::Bootstrap(_) => true,
        _ => false,
    };
    if owns_cancellation {
        let first = cancel.clone();
        tokio::spawn(async move {
            let signal = first.cancelled().await;
            render::notice(&format!(
                "{}: finishing what is in flight and cleaning up; send it again to stop at once",
                signal.name()
            ));
        });
    }
    let stop = async {
        if owns_cancellation {
            cancel.abandoned().await
        } else {
            cancel.cancelled().await
        }
    };
    let outcome = tokio::select! {
        outcome = work => outcome,
        signal = stop => {
            render::error(style, name, &format!(
                "interrupted by {}. {} Run `setup {name}` again to finish: it picks up where this stopped.",
                signal.name(),
                journal.summary()
            ));
            return ExitCode::from(signal.exit_code());
        }
    };
    match outcome {
        Ok(Finished::Exit(code)) => code,
        Ok(Finished::Report(report)) => {
            render::report(style, &report);
            match cancel.signal() {
                Some(signal) => {
                    render::notice(&format!(
                        "interrupted by {}: the calls in flight finished, nothing new was started. Run `setup {name}` again to finish: it picks up where this stopped.",
                        signal.name()
                    ));
                    ExitCode::from(signal.exit_code())
                }
                None => ExitCode::from(report.exit_code),
            }
        }
        Err(message) => {
            render::error(style, name, &message);
            ExitCode::from(cancel.signal().map_or(1, |s| s.exit_code()))
        }
    }
}

async fn run_verify(style: render::Style, session: &Session, v: &cli::VerifyArgs) -> ExitCode {
    let login = match &v.username {
        Some(username) if !v.create_test_user => {
            match verify::read_password(std::env::var("SETUP_VERIFY_PASSWORD").ok()) {
                Ok(password) => Login::User { username: username.clone(), password },
                Err(e) => {
                    render::error(style, Ran::Verify, &format!("{e:#}"));
                    return ExitCode::from(1);
                }
            }
        }
        None if v.guest => Login::Guest,
        _ => Login::TestUser,
    };
    let opts = VerifyOptions {
        login,
        client_id: v.client_id.clone(),
        propagation_timeout: v.propagation_timeout,
        group: v.group.clone(),
    };
    match verify::verify(session, opts).await {
        Ok(report) => {
            render::verify(style, &report);
            ExitCode::from(report.exit_code)
        }
        Err(e) => {
            render::error(style, Ran::Verify, &format!("{e:#}"));
            ExitCode::from(1)
        }
    }
}

async fn run_outputs(
    style: render::Style,
    session: &Session,
    args: &cli::OutputsArgs,
    output: Output,
) -> ExitCode {
    use outputs::Target;
    let fail = |message: &str| {
        render::error(style, Ran::Outputs, message);
        ExitCode::from(1)
    };
    let target = |f: OutputsFormat| match f {
        OutputsFormat::Properties => Some(Target::Keys(Format::Properties)),
        OutputsFormat::Env => Some(Target::Keys(Format::Env)),
        OutputsFormat::Yaml => Some(Target::Keys(Format::Yaml)),
        OutputsFormat::Amplify => Some(Target::Amplify),
        OutputsFormat::Json => None,
    };
    // Check the flags before reading anything.
    let write = match (&args.write, args.format) {
        (Some(path), Some(f)) => match target(f) {
            Some(t) => Some((path, t)),
            None => {
                return fail(
                    "--write updates a .properties, .yml/.yaml or .env file or writes amplify_outputs.json: use --format properties, yaml, env or amplify (or leave --format out to choose by the file name)",
                )
            }
        },
        (Some(path), None) => match Target::for_path(path) {
            Some(t) => Some((path, t)),
            None => {
                return fail(&format!(
                    "cannot tell the format of {} from its name (--write knows {} and {}); pass --format properties, yaml, env or amplify to write it in that format",
                    path.display(),
                    keyfile::KNOWN_NAMES,
                    outputs::amplify::FILE_NAME,
                ))
            }
        },
        (None, _) => None,
    };
    let values = match outputs::outputs(session).await {
        Ok(v) => v,
        Err(e) => return fail(&format!("{e:#}")),
    };
    let amplify = matches!(write, Some((_, Target::Amplify)))
        || (write.is_none() && args.format == Some(OutputsFormat::Amplify));
    if let Some(warning) = outputs::amplify::region_warning(&values).filter(|_| amplify) {
        style.note(&warning);
    }
    match write {
        Some((path, t)) => {
            let written = match t {
                Target::Keys(format) => {
                    outputs::write(path, format, &outputs::pairs(&values, format))
                }
                Target::Amplify => outputs::amplify::write(path, &values),
            };
            match written {
                Ok(w) => {
                    render::written(style, &w);
                    ExitCode::SUCCESS
                }
                Err(e) => fail(&format!("{e:#}")),
            }
        }
        None => {
            let shape = match args.format.map(|f| (f, target(f))) {
                Some((_, Some(Target::Keys(format)))) => render::outputs::Shape::File(format),
                Some((_, Some(Target::Amplify))) => render::outputs::Shape::Amplify,
                Some((_, None)) => render::outputs::Shape::Json,
                None if output == Output::Json => render::outputs::Shape::Json,
                None => render::outputs::Shape::File(Format::Properties),
            };
            render::outputs(shape, &values);
            ExitCode::SUCCESS
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
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let targets: tracing_subscriber::filter::Targets =
        filter.parse().expect("the verbosity filters are valid");
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(color)
        .without_time();
    let _ = tracing_subscriber::registry().with(fmt).with(targets).try_init();
}

#[cfg(test)]
mod tests {
    use super::Ran;

    /// Every subcommand on the command line is a report's `command`, under the same name, and
    /// the JSON holds that name.
    #[test]
    fn each_subcommand_is_a_command_of_the_same_name() {
        let clap = crate::cli::command();
        let mut typed: Vec<&str> = clap.get_subcommands().map(|c| c.get_name()).collect();
        typed.retain(|n| *n != "help");
        typed.sort_unstable();
        let mut ours: Vec<&str> = Ran::ALL.iter().map(|c| c.name()).collect();
        ours.sort_unstable();
        assert_eq!(typed, ours);
        for c in Ran::ALL {
            assert_eq!(serde_json::to_value(c).unwrap(), c.name());
        }
    }
}
