//! Renderers: how reports and progress look. No logic here.
//!
//! * `human` — the text report (symbols and colour only on a terminal, `NO_COLOR` respected);
//! * `json` — one JSON document on stdout (`--output json`);
//! * `live` — progress: a line per step on a terminal (which then is the report's step list),
//!   plain event lines without one.

pub mod human;
pub mod json;
pub mod list;
pub mod live;
pub mod outputs;

use std::io::IsTerminal;
use std::sync::Arc;

use anyhow::{bail, Result};

use crate::cli::{Global, Output};
use crate::commands::bootstrap::{BootstrapReport, Shown};
use crate::commands::export::Exported;
use crate::commands::init::Initialized;
use crate::commands::list::Listing;
use crate::commands::outputs::{Outputs, Written};
use crate::commands::verify::VerifyReport;
use crate::commands::Report;
use crate::progress::{Progress, Silent};

/// How output should look, decided once from the flags and the environment.
///
/// Each stream gets symbols (✓ ✗) only when it is a terminal, and colour only when it is a
/// terminal and `NO_COLOR` is unset; piped or redirected output is plain text.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub output: Output,
    pub quiet: bool,
    /// `--no-progress`: no spinners or progress lines.
    pub no_progress: bool,
    /// stdout is a terminal: symbols in the report.
    pub tty: bool,
    /// stderr is a terminal.
    pub stderr_tty: bool,
    /// stderr is a terminal that can redraw lines (`TERM` set and not `dumb`): progress is a
    /// line per step there.
    pub stderr_lines: bool,
}

impl Style {
    pub fn detect(g: &Global) -> Self {
        let stdout_tty = std::io::stdout().is_terminal();
        let stderr_tty = std::io::stderr().is_terminal();
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        console::set_colors_enabled(stdout_tty && !no_color);
        console::set_colors_enabled_stderr(stderr_tty && !no_color);
        Style {
            output: g.output,
            quiet: g.quiet,
            no_progress: g.no_progress,
            tty: stdout_tty,
            stderr_tty,
            stderr_lines: !indicatif::ProgressDrawTarget::stderr().is_hidden(),
        }
    }

    /// Progress is drawn as a line per step on the terminal (see [`progress`]).
    pub fn live_lines(&self) -> bool {
        !(self.quiet || self.no_progress || self.output == Output::Json) && self.stderr_lines
    }

    /// Colour on stderr (logs): a terminal and no `NO_COLOR`.
    pub fn stderr_color(&self) -> bool {
        self.stderr_tty && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
    }

    /// Notes for people on stderr (not with `--quiet`).
    pub fn note(&self, message: &str) {
        if !self.quiet {
            eprintln!("note: {message}");
        }
    }
}

/// The progress reporter for this run: a line per step on a terminal that can redraw, plain
/// event lines elsewhere (also on a terminal without `TERM`, where lines cannot be redrawn).
pub fn progress(style: Style) -> Arc<dyn Progress> {
    if style.live_lines() {
        Arc::new(live::Terminal::new())
    } else if style.quiet || style.no_progress || style.output == Output::Json {
        Arc::new(Silent)
    } else {
        Arc::new(live::Plain::default())
    }
}

/// Prints the final report.
pub fn report(style: Style, r: &Report) {
    match style.output {
        Output::Json => println!("{}", json::report(r)),
        Output::Text if style.quiet => {
            for e in &r.errors {
                eprintln!("error: {e}");
            }
        }
        Output::Text => {
            // On one terminal, the step lines of apply and teardown are on screen already.
            let shown = style.live_lines() && style.tty && r.command.carries_out();
            if shown {
                print!("{}", human::after_live(r));
            } else {
                print!("{}", human::report(r, style.tty));
            }
            for e in &r.errors {
                eprintln!("error: {e}");
            }
        }
    }
}

/// Prints an error that stopped the command before it could report.
pub fn error(style: Style, command: crate::plan::Command, message: &str) {
    if style.output == Output::Json {
        println!("{}", json::error(command, message));
    }
    eprintln!("error: {message}");
}

/// A line for the person at the terminal or the CI log, never for a JSON reader: stderr.
pub fn notice(message: &str) {
    eprintln!("{message}");
}

/// Prints what `init` wrote.
pub fn initialized(style: Style, done: &Initialized) {
    for n in &done.notes {
        style.note(n);
    }
    match style.output {
        Output::Json => {
            println!("{}", serde_json::to_string_pretty(done).expect("always serializes"))
        }
        Output::Text if style.quiet => {}
        Output::Text => println!("{}", done.summary),
    }
}

/// Prints an export: the text on stdout (unless it went to a file), notes on stderr.
pub fn exported(style: Style, to_file: bool, e: &Exported) {
    if !to_file {
        print!("{}", e.text);
    }
    for n in &e.notes {
        style.note(n);
    }
}

/// Prints the man page (roff) of `setup`, or of one of its commands.
pub fn man(command: Option<&str>) -> Result<()> {
    let cmd = crate::cli::command();
    let page = match command {
        None => cmd,
        Some(name) => {
            let Some(sub) = cmd.find_subcommand(name) else {
                let names: Vec<&str> = cmd.get_subcommands().map(|c| c.get_name()).collect();
                bail!("no command {name:?}; man pages exist for: {}", names.join(", "));
            };
            // The page of `setup NAME` carries the full name and the global options.
            let mut sub =
                sub.clone().display_name(format!("setup-{name}")).bin_name(format!("setup {name}"));
            // (not those it words its own way: init's --stack and --region)
            for arg in cmd.get_arguments().filter(|a| a.is_global_set()) {
                if sub.get_arguments().all(|own| own.get_id() != arg.get_id()) {
                    sub = sub.arg(arg.clone());
                }
            }
            sub
        }
    };
    // Every page's footer names the program and its version (a subcommand has no version of its
    // own: clap_mangen would write `"export "`).
    let source = format!("setup {}", env!("CARGO_PKG_VERSION"));
    let mut out = Vec::new();
    clap_mangen::Man::new(page).source(source).render(&mut out)?;
    use std::io::Write;
    std::io::stdout().write_all(&out)?;
    Ok(())
}

/// Shows the plan `setup bootstrap` asks about: stderr, so that stdout holds only the report.
pub fn bootstrap_plan(p: &Shown) {
    eprint!("{}", human::bootstrap_plan(p));
}

/// Prints the `setup bootstrap` report.
pub fn bootstrapped(style: Style, r: &BootstrapReport) {
    match style.output {
        Output::Json => println!("{}", json::to_pretty(r)),
        Output::Text if style.quiet => {}
        Output::Text => print!("{}", human::bootstrap_report(r, style.tty)),
    }
    for e in &r.errors {
        eprintln!("error: {e}");
    }
}

/// Prints the `verify` report.
pub fn verify(style: Style, r: &VerifyReport) {
    match style.output {
        Output::Json => println!("{}", json::to_pretty(r)),
        Output::Text if style.quiet => {
            if !r.ok {
                eprintln!("error: {}", r.summary);
            }
        }
        Output::Text => {
            print!("{}", human::verify_report(r, style.tty));
            if !r.ok {
                eprintln!("error: {}", r.summary);
            }
        }
    }
}

/// Prints the values for the app in the chosen format (stdout only: it is meant to be piped).
pub fn outputs(format: outputs::Shape, o: &Outputs) {
    print!("{}", outputs::render(format, o));
}

/// Says what `outputs --write` did to the file.
pub fn written(style: Style, w: &Written) {
    match style.output {
        Output::Json => println!("{}", json::to_pretty(w)),
        Output::Text if style.quiet => {}
        Output::Text => println!("{}", outputs::written(w)),
    }
}

/// Prints what `setup list` found: the table (text) or the array of stacks (JSON) on stdout,
/// what could not be read on stderr.
pub fn listed(style: Style, l: &Listing) {
    match style.output {
        Output::Json => println!("{}", json::to_pretty(&l.stacks)),
        Output::Text if style.quiet => {}
        Output::Text => print!("{}", list::table(l)),
    }
    for n in &l.notes {
        style.note(n);
    }
}
