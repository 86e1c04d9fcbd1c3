//! `setup apply`: observe, refuse early if a resource is not ours (or needs replacement), then
//! converge every step, acting only on differences. Independent work runs concurrently:
//!
//! ```text
//! table ──────────────── create → wait ACTIVE → PITR
//! identity pool ─┐
//!                ├──── role (trusts the pool) → trust policy ─┬── attach policy
//! access policy ─┘                                            └── pool roles
//! ```

use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Result};

use super::{Report, Session};
use crate::plan::{StepId, StepReport};
use crate::steps::{
    self, backend, identity_pool, policy, pool_roles, role, table, trust, Ctx, Observed,
};

/// Why apply would refuse to start, one sentence per step (empty when it can run).
pub fn refusals(steps: &[StepReport], adopt: bool) -> Vec<String> {
    steps
        .iter()
        .filter_map(|s| match &s.blocked {
            Some(reason) if !(adopt && s.adoptable) => Some(format!("{}: {reason}", s.step)),
            _ => None,
        })
        .collect()
}

/// A finished step: what it did (or why it failed), and how long it worked.
type Outcome = (StepId, Result<Vec<String>, String>, Option<Duration>);

/// Runs `f` and measures how long it took.
async fn timed<T>(f: impl Future<Output = T>) -> (T, Duration) {
    let started = Instant::now();
    let value = f.await;
    (value, started.elapsed())
}

/// Results of each step as they complete.
struct Outcomes<'a> {
    ctx: &'a Ctx,
    results: Mutex<Vec<Outcome>>,
}

impl<'a> Outcomes<'a> {
    fn new(ctx: &'a Ctx) -> Self {
        Outcomes {
            ctx,
            results: Mutex::new(Vec::new()),
        }
    }

    /// Records a finished step (reporting its progress) and passes its value on.
    fn record<T>(
        &self,
        step: StepId,
        (res, took): (Result<(T, Vec<String>)>, Duration),
    ) -> Option<T> {
        let (value, entry) = match res {
            Ok((v, done)) => (Some(v), Ok(done)),
            Err(e) => (None, Err(format!("{e:#}"))),
        };
        steps::finish(self.ctx, step, &entry.clone().map_err(|e| anyhow!(e)));
        self.results
            .lock()
            .expect("not poisoned")
            .push((step, entry, Some(took)));
        value
    }

    fn skip(&self, step: StepId, because: &str) {
        let msg = format!("skipped: {because}");
        self.ctx.progress.finish(step, false, &msg);
        self.results
            .lock()
            .expect("not poisoned")
            .push((step, Err(msg), None));
    }
}

pub async fn apply(s: &Session, adopt: bool) -> Result<Report> {
    let o = s.observe(crate::steps::Scope::Full).await?;
    let plan = s.diff(&o);
    let refused = refusals(&plan.steps, adopt);
    if !refused.is_empty() {
        return Err(anyhow!(
            "nothing was changed, because {}",
            refused.join("; ")
        ));
    }
    let ctx = s.ctx(&o.account, adopt);
    let outcomes = Outcomes::new(&ctx);
    let with_backend = plan.has(StepId::BackendPolicy);
    futures::join!(
        table_branch(&ctx, &o, &outcomes),
        iam_branch(&ctx, &o, &outcomes),
        backend_branch(&ctx, &o, &outcomes, with_backend)
    );

    let mut r = s.report("apply", &o.account, plan);
    for (step, res, took) in outcomes.results.into_inner().expect("not poisoned") {
        r.step_mut(step).duration_ms = took.map(|d| d.as_millis() as u64);
        match res {
            Ok(done) => r.step_mut(step).done.extend(done),
            Err(e) => {
                r.errors.push(format!("{step}: {e}"));
                r.step_mut(step).error = Some(e);
                r.ok = false;
            }
        }
    }
    let changed = r.steps.iter().filter(|st| !st.done.is_empty()).count();
    r.exit_code = if r.ok { 0 } else { 1 };
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

async fn table_branch(ctx: &Ctx, o: &Observed, out: &Outcomes<'_>) {
    let (res, took) = timed(table::apply(ctx, o.table.as_ref())).await;
    out.record(StepId::Table, (res.map(|d| ((), d)), took));
}

/// The backend policy needs nothing but the table's ARN, so it runs alongside the rest.
async fn backend_branch(ctx: &Ctx, o: &Observed, out: &Outcomes<'_>, with_backend: bool) {
    if with_backend {
        let (res, took) = timed(backend::apply(ctx, o.backend.as_ref())).await;
        out.record(StepId::BackendPolicy, (res.map(|d| ((), d)), took));
    }
}

async fn iam_branch(ctx: &Ctx, o: &Observed, out: &Outcomes<'_>) {
    let (pool, (policy_doc, policy_took)) = futures::join!(
        timed(identity_pool::apply(ctx, &o.pool)),
        timed(policy::apply_document(ctx, o.policy.as_ref()))
    );
    let pool_id = out.record(StepId::IdentityPool, pool);
    // The access policy step finishes after its attachment; keep what the document part did
    // (and how long it took: the step's duration is its own work, not the wait for the role).
    let (policy_arn, policy_done) = match policy_doc {
        Ok((arn, done)) => (Some(arn), Ok(done)),
        Err(e) => (None, Err(e)),
    };
    let policy_done = (policy_done, policy_took);
    let Some(pool_id) = pool_id else {
        for step in [StepId::Role, StepId::TrustPolicy, StepId::PoolRoles] {
            out.skip(step, "the identity pool step failed");
        }
        finish_policy(ctx, out, policy_done, None, None).await;
        return;
    };
    let (role, took) = timed(role::apply(ctx, o.role.as_ref(), &pool_id)).await;
    let role = out.record(
        StepId::Role,
        (role.map(|a| ((a.arn, a.created, a.fetched), a.done)), took),
    );
    let Some((role_arn, created, fetched)) = role else {
        for step in [StepId::TrustPolicy, StepId::PoolRoles] {
            out.skip(step, "the role step failed");
        }
        finish_policy(ctx, out, policy_done, None, None).await;
        return;
    };
    // The role as it is now: just created (nothing to compare), read after a create race, or
    // as observed.
    let live_role = match (&fetched, created) {
        (Some(f), _) => Some(f),
        (None, true) => None,
        (None, false) => o.role.as_ref(),
    };
    let (trust_res, took) = timed(trust::apply(ctx, live_role, created, &pool_id)).await;
    out.record(StepId::TrustPolicy, (trust_res.map(|d| ((), d)), took));
    // A pool created just now has no roles yet.
    let live_roles = match &o.pool {
        identity_pool::Found::None => None,
        _ => o.pool_roles.as_ref(),
    };
    let (_, roles_res) = futures::join!(
        finish_policy(
            ctx,
            out,
            policy_done,
            policy_arn.as_deref(),
            Some(live_role)
        ),
        timed(pool_roles::apply(ctx, live_roles, &pool_id, &role_arn))
    );
    let (roles_res, took) = roles_res;
    out.record(StepId::PoolRoles, (roles_res.map(|d| ((), d)), took));
}

/// Attaches the policy once the role exists, and records the access-policy step as a whole.
/// `role` is `None` when the role step did not succeed.
async fn finish_policy(
    ctx: &Ctx,
    out: &Outcomes<'_>,
    (document, mut took): (Result<Vec<String>>, Duration),
    policy_arn: Option<&str>,
    role: Option<Option<&role::Live>>,
) {
    let res = match (document, policy_arn, role) {
        (Err(e), _, _) => Err(e),
        (Ok(mut done), Some(arn), Some(live_role)) => {
            let (attached, attach_took) = timed(policy::attach(ctx, live_role, arn)).await;
            took += attach_took;
            match attached {
                Ok(more) => {
                    done.extend(more);
                    Ok(done)
                }
                Err(e) => Err(e),
            }
        }
        (Ok(_), _, _) => Err(anyhow!("not attached: the role step did not succeed")),
    };
    out.record(StepId::AccessPolicy, (res.map(|d| ((), d)), took));
}
