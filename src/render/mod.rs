//! Renderers: how reports and progress look. No logic here.
//!
//! * `human` — the text report (symbols and colour only on a terminal, `NO_COLOR` respected);
//! * `json` — one JSON document on stdout (`--output json`);
//! * `progress` — a spinner per step on a terminal, plain lines without one.

pub mod human;
pub mod json;
pub mod outputs;
pub mod progress;

use std::io::IsTerminal;
use std::sync::Arc;

use crate::cli::{Global, Output};
use crate::commands::outputs::{Outputs, Written};
use crate::commands::verify::VerifyReport;
use crate::commands::Report;
use crate::progress::{Progress, Silent};

/// How output should look, decided once from the flags and the environment.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub output: Output,
    pub quiet: bool,
    /// stderr is a terminal: spinners and symbols.
    pub tty: bool,
    pub color: bool,
}

impl Style {
    pub fn detect(g: &Global) -> Self {
        let tty = std::io::stderr().is_terminal();
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let color = tty && !no_color && std::io::stdout().is_terminal();
        console::set_colors_enabled(color);
        console::set_colors_enabled_stderr(color);
        Style {
            output: g.output,
            quiet: g.quiet,
            tty,
            color,
        }
    }
}

/// The progress reporter for this run.
pub fn progress(style: Style) -> Arc<dyn Progress> {
    if style.quiet || style.output == Output::Json {
        Arc::new(Silent)
    } else if style.tty {
        Arc::new(progress::Terminal::new())
    } else {
        Arc::new(progress::Plain::default())
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
            print!("{}", human::report(r, style.tty));
            for e in &r.errors {
                eprintln!("error: {e}");
            }
        }
    }
}

/// Prints an error that stopped the command before it could report.
pub fn error(style: Style, command: &str, message: &str) {
    if style.output == Output::Json {
        println!("{}", json::error(command, message));
    }
    eprintln!("error: {message}");
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
