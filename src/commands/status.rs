//! `setup status` and `setup plan`: observe, compare, report. No writes.

use crate::plan::Command;
use anyhow::Result;

use super::{Report, Session};
use crate::plan::State;

/// Exit code of `status` when anything is missing, drifted or not owned.
pub const DRIFT: u8 = 2;
/// Exit code of `status` when any step has a security finding (whatever else it found).
pub const SECURITY: u8 = 3;

/// `status`: exit 0 when everything is in sync, 2 when anything is missing, drifted or not
/// owned, 3 when anything has a security finding.
pub async fn status(s: &Session) -> Result<Report> {
    let o = s.observe(crate::steps::Scope::Full).await?;
    let plan = s.diff(&o);
    let mut r = s.report(Command::Status, &o.account, plan);
    let out_of_sync = r.steps.iter().filter(|st| !st.in_sync()).count();
    let security = r.security_findings.len();
    r.ok = out_of_sync == 0 && security == 0;
    r.exit_code = match (security, out_of_sync) {
        (0, 0) => 0,
        (0, _) => DRIFT,
        _ => SECURITY,
    };
    let findings = match security {
        0 => String::new(),
        1 => "1 security finding: see the `security:` note. ".to_string(),
        n => format!("{n} security findings: see the `security:` notes. "),
    };
    r.summary = match (security, out_of_sync) {
        (0, 0) => format!("All {} steps in sync.", r.steps.len()),
        (_, 0) => format!(
            "{findings}Setup leaves what it did not add alone: fix them by hand. The {} steps are otherwise in sync.",
            r.steps.len()
        ),
        _ => findings + &drift_summary(&r),
    };
    Ok(r)
}

/// The summary of a status with steps out of sync.
fn drift_summary(r: &Report) -> String {
    {
        let count = |state| r.steps.iter().filter(|st| st.state == state).count();
        let mut parts = Vec::new();
        for (state, label) in [
            (State::Missing, "missing"),
            (State::Drifted, "drifted"),
            (State::NotOwned, "not owned"),
        ] {
            let n = count(state);
            if n > 0 {
                parts.push(format!("{n} {label}"));
            }
        }
        let hint = if count(State::NotOwned) > 0 {
            "run `setup apply --adopt` to take over resources made by hand, or `setup apply` for the rest"
        } else {
            "run `setup apply` to converge"
        };
        format!("{}; {hint}.", parts.join(", "))
    }
}

/// `plan` (and `apply --dry-run`): what apply would do.
pub async fn plan(s: &Session, adopt: bool, allow_index_replace: bool) -> Result<Report> {
    let o = s.observe(crate::steps::Scope::Full).await?;
    let plan = s.diff(&o);
    let refusals = super::apply::refusals(&plan, adopt, allow_index_replace);
    let mut r = s.report(Command::Plan, &o.account, plan);
    // What a step says once in a plan (on its first report).
    let mut said = std::collections::BTreeSet::new();
    for st in r.steps.iter_mut().filter(|st| said.insert(st.step)) {
        st.notes.extend(crate::steps::step(st.step).plan_notes(&s.desired));
    }
    let changing = r.steps.iter().filter(|st| !st.actions.is_empty() && !st.in_sync()).count();
    if !refusals.is_empty() {
        r.ok = false;
        r.exit_code = 1;
        r.errors = refusals.clone();
    }
    r.summary = if !refusals.is_empty() {
        format!(
            "apply{} would refuse to run: {}",
            if adopt { " --adopt" } else { "" },
            refusals.join("; ")
        )
    } else if changing == 0 {
        "No changes: everything is in sync.".to_string()
    } else {
        format!(
            "{changing} of {} steps would change; run `setup apply{}` to make the changes.",
            r.steps.len(),
            if adopt { " --adopt" } else { "" }
        )
    };
    Ok(r)
}
