//! `setup teardown`: remove what this stack created, in reverse order. Only resources tagged for
//! the stack are touched; the table (and its data) stays unless `--delete-table`.

use std::io::{BufRead, IsTerminal, Write};
use std::sync::Mutex;
use std::time::Instant;

use anyhow::{bail, Result};

use super::{Report, Session};
use crate::plan::StepId;
use crate::steps::{self, backend, identity_pool, policy, role, table, Owner, Scope};

/// How a `--delete-table` teardown gets its confirmation.
pub enum Confirm {
    /// `--yes`: no question asked.
    Yes,
    /// Ask on the terminal for the table name.
    Ask,
}

/// Removes the stack in three rounds of calls, each waiting only for what it depends on:
///
/// ```text
/// 1. detach the policy ‖ list its attachments and versions     table (only with --delete-table):
/// 2. delete old policy versions ‖ delete the role              protection off → delete → wait
/// 3. delete the policy ‖ delete the identity pool
/// ```
pub async fn teardown(s: &Session, delete_table: bool, confirm: Confirm) -> Result<Report> {
    let o = s.observe(Scope::Removal).await?;
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
    let ctx = s.ctx(&o.account, false);
    let outcomes = Mutex::new(Vec::new());
    // Steps run concurrently; each one's duration runs from the start of the removal to the
    // moment it finished.
    let started = Instant::now();
    let record = |step: StepId, res: Result<Vec<String>>| {
        steps::finish(&ctx, step, &res);
        let took = started.elapsed().as_millis() as u64;
        outcomes
            .lock()
            .expect("not poisoned")
            .push((step, res, took));
    };
    let iam = async {
        let removal = policy::detach(&ctx, o.policy.as_ref(), o.role.as_ref()).await;
        let removal = match removal {
            Ok(r) => r,
            Err(e) => {
                // The role still has the policy attached: keep both, remove the pool.
                record(StepId::AccessPolicy, Err(e));
                if o.role.is_some() {
                    record(
                        StepId::Role,
                        Err(anyhow::anyhow!(
                            "kept: the policy could not be detached from it"
                        )),
                    );
                }
                record(
                    StepId::IdentityPool,
                    identity_pool::teardown(&ctx, &o.pool).await,
                );
                return;
            }
        };
        let policy_arn = ctx.policy_arn();
        let (versions, role) = futures::join!(
            policy::delete_versions(&ctx, &removal),
            role::teardown(&ctx, o.role.as_ref(), &policy_arn)
        );
        record(StepId::Role, role);
        let policy = async {
            versions?;
            policy::delete(&ctx, removal).await
        };
        let (policy, pool) = futures::join!(policy, identity_pool::teardown(&ctx, &o.pool));
        record(StepId::AccessPolicy, policy);
        record(StepId::IdentityPool, pool);
    };
    let table = async {
        record(
            StepId::Table,
            table::teardown(&ctx, o.table.as_ref(), delete_table).await,
        );
    };
    // The backend policy is independent of the rest (it only points at the table).
    let backend = async {
        if d.backend.is_some() || o.backend.is_some() {
            record(
                StepId::BackendPolicy,
                backend::teardown(&ctx, o.backend.as_ref()).await,
            );
        }
    };
    futures::join!(iam, table, backend);

    let mut r = s.report(
        "teardown",
        &o.account,
        steps::presence(d, &s.aws.region, &o),
    );
    for (step, res, took) in outcomes.into_inner().expect("not poisoned") {
        r.step_mut(step).duration_ms = Some(took);
        match res {
            Ok(done) => r.step_mut(step).done = done,
            Err(e) => {
                r.errors.push(format!("{step}: {e:#}"));
                r.step_mut(step).error = Some(format!("{e:#}"));
                r.ok = false;
            }
        }
    }
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

    let lines = || r.steps.iter().flat_map(|st| st.done.iter());
    let removed = lines()
        .filter(|line| line.starts_with("deleted") || line.starts_with("detached"))
        .count();
    // Kept on purpose because something outside the stack uses it (the table's own line is
    // the default and already says how to remove it).
    let kept: Vec<String> = lines()
        .filter(|line| line.starts_with("kept") && !line.starts_with("kept table"))
        .cloned()
        .collect();
    r.exit_code = if r.ok { 0 } else { 1 };
    r.summary = if !r.ok {
        "Teardown did not finish; fix the cause and run `setup teardown` again (it picks up where it stopped).".into()
    } else if !kept.is_empty() {
        format!(
            "Teardown of stack {} finished, but kept what others still use: {}.",
            d.stack,
            kept.join("; ")
        )
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
