//! The command a report is for.

use std::fmt;

use serde::Serialize;

/// The command a report, a progress line or a step's advice is for. Its name is what people
/// type, and what the JSON `command` field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Command {
    Apply,
    /// `plan`, and `apply --dry-run`.
    Plan,
    Status,
    Teardown,
    Verify,
    Outputs,
    Bootstrap,
    Export,
    Init,
    Completions,
    Man,
    List,
}

impl Command {
    pub const ALL: [Command; 12] = [
        Command::Apply,
        Command::Plan,
        Command::Status,
        Command::Teardown,
        Command::Verify,
        Command::Outputs,
        Command::Bootstrap,
        Command::Export,
        Command::Init,
        Command::Completions,
        Command::Man,
        Command::List,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Command::Apply => "apply",
            Command::Plan => "plan",
            Command::Status => "status",
            Command::Teardown => "teardown",
            Command::Verify => "verify",
            Command::Outputs => "outputs",
            Command::Bootstrap => "bootstrap",
            Command::Export => "export",
            Command::Init => "init",
            Command::Completions => "completions",
            Command::Man => "man",
            Command::List => "list",
        }
    }

    /// `apply` and `teardown`: they carry out actions, and report what each step did.
    pub fn carries_out(self) -> bool {
        matches!(self, Command::Apply | Command::Teardown)
    }

    /// `teardown`: its actions remove.
    pub fn removes(self) -> bool {
        self == Command::Teardown
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
