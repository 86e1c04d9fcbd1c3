//! `setup teardown`: remove what this stack created, in reverse order. Only resources tagged for
//! the stack are touched; the table (and its data) stays unless `--delete-table`.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::{bail, Result};

use super::{Report, Session};
use crate::plan::StepId;
use crate::steps::{self, backend, identity_pool, policy, role, table, Owner};

/// How a `--delete-table` teardown gets its confirmation.
pub enum Confirm {
    /// `--yes`: no question asked.
    Yes,
    /// Ask on the terminal for the table name.
    Ask,
}

pub async fn teardown(s: &Session, delete_table: bool, confirm: Confirm) -> Result<Report> {
    let o = s.observe().await?;
    let d = &s.desired;
    let table_owned = o
        .table
        .as_ref()
        .is_some_and(|t| steps::owner(&t.tags, &d.stack) == Owner::ThisStack);
    if delete_table && table_owned {
        if let Confirm::Ask = confirm {
            confirm_table(&d.table.name)?;
        }
    }
    let plan = s.diff(&o);
    let ctx = s.ctx(&o.account, false);
    let mut r = s.report("teardown", &o.account, plan);
    let record = |r: &mut Report, step: StepId, res: Result<Vec<String>>| {
        steps::finish(&ctx, step, &res);
        match res {
            Ok(done) => r.step_mut(step).done = done,
            Err(e) => {
                r.errors.push(format!("{step}: {e:#}"));
                r.step_mut(step).error = Some(format!("{e:#}"));
                r.ok = false;
            }
        }
    };
    if r.steps.iter().any(|st| st.step == StepId::BackendPolicy) {
        let res = backend::teardown(&ctx, o.backend.as_ref()).await;
        record(&mut r, StepId::BackendPolicy, res);
    }
    let policy_arn = ctx.policy_arn();
    let res = policy::teardown(&ctx, o.policy.as_ref(), o.role.as_ref()).await;
    let policy_ok = res.is_ok();
    record(&mut r, StepId::AccessPolicy, res);
    if policy_ok {
        let res = role::teardown(&ctx, o.role.as_ref(), &policy_arn).await;
        record(&mut r, StepId::Role, res);
    }
    let res = identity_pool::teardown(&ctx, &o.pool).await;
    record(&mut r, StepId::IdentityPool, res);
    let res = table::teardown(&ctx, o.table.as_ref(), delete_table).await;
    record(&mut r, StepId::Table, res);
    // The trust policy and the pool's roles go with the role and the pool.
    for (parent, child, what) in [
        (StepId::Role, StepId::TrustPolicy, "removed with the role"),
        (
            StepId::IdentityPool,
            StepId::PoolRoles,
            "removed with the identity pool",
        ),
    ] {
        if r.step_mut(parent)
            .done
            .iter()
            .any(|l| l.starts_with("deleted"))
        {
            r.step_mut(child).done.push(what.to_string());
        }
    }

    let removed = r
        .steps
        .iter()
        .flat_map(|st| st.done.iter())
        .filter(|line| line.starts_with("deleted") || line.starts_with("detached"))
        .count();
    r.exit_code = if r.ok { 0 } else { 1 };
    r.summary = if !r.ok {
        "Teardown did not finish; fix the cause and run `setup teardown` again (it picks up where it stopped).".into()
    } else if removed == 0 {
        format!(
            "Nothing to do: stack {} has nothing left to remove.",
            d.stack
        )
    } else {
        format!("Teardown of stack {} finished.", d.stack)
    };
    Ok(r)
}

fn confirm_table(name: &str) -> Result<()> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        bail!(
            "refusing to delete table {name} and its data without confirmation: stdin is not a terminal, so pass --yes together with --delete-table"
        );
    }
    eprint!("This deletes table {name} and ALL its data. Type the table name to confirm: ");
    std::io::stderr().flush()?;
    let mut line = String::new();
    stdin.lock().read_line(&mut line)?;
    if line.trim() != name {
        bail!("confirmation did not match {name:?}; nothing was deleted");
    }
    Ok(())
}
