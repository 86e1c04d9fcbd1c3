//! `setup teardown`: remove what this stack created. Only resources tagged for the stack are
//! touched; the table (and its data) stays unless `--delete-table`. The removal is planned like
//! an apply (each step's `removal`) and carried out the same way, each action as soon as what it
//! needs is done:
//!
//! ```text
//! 1. detach the policy from the role ‖ delete old policy versions    table (with --delete-table):
//! 2. delete the role                                                  protection off → delete → wait
//! 3. delete the policy ‖ delete the identity pool
//! ```

use crate::plan::Command;
use std::io::{BufRead, IsTerminal, Write};

use anyhow::{bail, Result};

use super::{Report, Session};
use crate::plan::{Done, Kept};
use crate::steps::{self, Confirmation, Scope};

/// How a `--delete-table` teardown gets its confirmation.
pub enum Confirm {
    /// `--yes`: no question asked.
    Yes,
    /// Ask on the terminal for the table name.
    Ask,
}

pub async fn teardown(s: &Session, delete_table: bool, confirm: Confirm) -> Result<Report> {
    let o = s.observe(Scope::Removal).await?;
    let d = &s.desired;
    let plan = steps::removal(d, &s.aws.region, &o, delete_table);
    if let Confirm::Ask = confirm {
        for ask in steps::confirmations(&plan) {
            // The prompt blocks on stdin: a signal there ends teardown before anything is deleted.
            let prompt = tokio::task::spawn_blocking(move || ask_person(&ask));
            match s.cancel.unless_cancelled(prompt).await {
                Some(answer) => answer??,
                None => bail!("interrupted at the confirmation; nothing was deleted"),
            }
        }
    }
    let mut r = s.execute(Command::Teardown, &o, plan, false).await;
    let done = || r.steps.iter().flat_map(|st| st.done.iter());
    let removed = done().filter(|d| matches!(d, Done::Removed(_))).count();
    // Kept on purpose because something outside the stack uses it (the table is kept by
    // default, and its own line says how to remove it).
    let kept: Vec<String> =
        done().filter(|d| matches!(d, Done::Kept(Kept::InUse, _))).map(|d| d.to_string()).collect();
    r.summary = if !r.ok {
        "Teardown did not finish; fix the cause and run `setup teardown` again (it picks up where it stopped).".into()
    } else if !kept.is_empty() {
        format!(
            "Teardown of stack {} finished, but kept what others still use: {}.",
            d.stack,
            kept.join("; ")
        )
    } else if removed == 0 {
        format!("Nothing to do: stack {} has nothing left to remove.", d.stack)
    } else {
        format!("Teardown of stack {} finished.", d.stack)
    };
    Ok(r)
}

fn ask_person(ask: &Confirmation) -> Result<()> {
    let Confirmation { subject, answer, answer_is, flag } = ask;
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        bail!(
            "refusing to delete {subject} and its data without confirmation: stdin is not a terminal, so pass --yes together with {flag}"
        );
    }
    eprint!("This deletes {subject} and ALL its data. Type {answer_is} to confirm: ");
    std::io::stderr().flush()?;
    let mut line = String::new();
    stdin.lock().read_line(&mut line)?;
    if line.trim() != answer {
        bail!("confirmation did not match {answer:?}; nothing was deleted");
    }
    Ok(())
}
