//! `setup apply`: observe, plan, refuse early if a resource is not ours (or needs replacement),
//! then carry out exactly the planned actions ([`crate::steps::execute`]). Steps run at once;
//! an action waits only for the steps it needs (`steps::tests::each_write_of_a_fresh_apply_waits_for_what_it_uses`
//! pins these waits):
//!
//! ```text
//! table ─────────────── create → wait ACTIVE → PITR
//! identity pool ──┬── role ───────┬── trust policy (+ sts:TagSession) ── principal tags
//!                 │               ├── attach the access policy (created at once)
//!                 ├── guest role ─┼── attach the guest policy (created at once)
//!                 └───────────────┴── pool roles (authenticated, unauthenticated)
//! backend policy ────── create → attach
//! ```

use crate::plan::Command;
use anyhow::{anyhow, Result};

use super::{Report, Session};
use crate::plan::Plan;
use crate::steps::{self, Allowed, Scope};

/// Why apply would refuse to start, one sentence per step (empty when it can run): a resource
/// that is not ours (unless adopted), or what a step refuses without a flag (indexes to replace
/// without `--allow-index-replace`).
pub fn refusals(plan: &Plan, adopt: bool, allow_index_replace: bool) -> Vec<String> {
    let mut refused: Vec<String> = plan
        .steps
        .iter()
        .filter_map(|s| match &s.blocked {
            Some(reason) if !(adopt && s.adoptable) => Some(format!("{}: {reason}", s.unit())),
            _ => None,
        })
        .collect();
    refused.extend(steps::refusals(plan, Allowed { index_replace: allow_index_replace }));
    refused
}

pub async fn apply(s: &Session, adopt: bool, allow_index_replace: bool) -> Result<Report> {
    let o = s.observe(Scope::Full).await?;
    let plan = s.diff(&o);
    let refused = refusals(&plan, adopt, allow_index_replace);
    if !refused.is_empty() {
        return Err(anyhow!("nothing was changed, because {}", refused.join("; ")));
    }
    let mut r = s.execute(Command::Apply, &o, plan, adopt).await;
    let changed = r.steps.iter().filter(|st| !st.done.is_empty()).count();
    r.summary = if !r.ok {
        format!(
            "Apply failed ({} error{}); what was done is kept. Fix the cause and run `setup apply` again.",
            r.errors.len(),
            if r.errors.len() == 1 { "" } else { "s" }
        )
    } else if changed == 0 {
        "No changes: everything was already in sync.".to_string()
    } else {
        format!(
            "Applied: {changed} step{} changed, {} already in sync.",
            if changed == 1 { "" } else { "s" },
            r.steps.len() - changed
        )
    };
    Ok(r)
}
