//! Carrying out a plan, for `apply` and `teardown` alike: every step's actions in order, all
//! steps at once, each action as soon as the steps it [`Need`]s have ended. Only the planned
//! actions run; the report's `actions` become the ones that ran.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::{step, Ctx, Need, Observed};
use crate::plan::{Command, Note, StepReport, Unit};

/// What actions run with: the context, what was observed, and what earlier steps handed on
/// (the id of a pool created just now, the role as it is after its step).
pub struct Run<'a> {
    pub ctx: &'a Ctx,
    pub o: &'a Observed,
    handed: Mutex<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>,
}

impl<'a> Run<'a> {
    pub fn new(ctx: &'a Ctx, o: &'a Observed) -> Self {
        Run { ctx, o, handed: Mutex::new(HashMap::new()) }
    }

    /// Hands a value on to the steps that need this one. Each step hands on its own type.
    pub fn hand_on<T: Any + Send + Sync>(&self, value: T) {
        self.handed.lock().expect("not poisoned").insert(TypeId::of::<T>(), Arc::new(value));
    }

    /// What a step handed on, if it did.
    pub fn handed<T: Any + Send + Sync + Clone>(&self) -> Option<T> {
        let handed = self.handed.lock().expect("not poisoned");
        handed.get(&TypeId::of::<T>()).and_then(|v| v.downcast_ref::<T>()).cloned()
    }
}

/// Where one entry of the board is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Running,
    Succeeded,
    Failed,
}

/// The dependency board: every entry (a unit of apply, an observation) starts running and ends
/// once; others wait for its end. Observing and carrying out a plan both run on it.
pub struct Board<K> {
    entries: HashMap<K, watch::Sender<Status>>,
}

impl<K: Eq + Hash> Board<K> {
    pub fn new(keys: impl IntoIterator<Item = K>) -> Self {
        Board {
            entries: keys.into_iter().map(|k| (k, watch::channel(Status::Running).0)).collect(),
        }
    }

    /// Entry `key` has ended so.
    pub fn end(&self, key: &K, status: Status) {
        if let Some(tx) = self.entries.get(key) {
            tx.send_replace(status);
        }
    }

    /// Waits until every entry `which` picks has ended: `Failed` if one of them failed (none
    /// at all has nothing to wait for).
    pub async fn ended(&self, which: impl Fn(&K) -> bool) -> Status {
        let mut status = Status::Succeeded;
        for (_, tx) in self.entries.iter().filter(|(k, _)| which(k)) {
            let mut rx = tx.subscribe();
            let ended = rx.wait_for(|s| *s != Status::Running).await.map(|s| *s);
            if ended.unwrap_or(Status::Failed) == Status::Failed {
                status = Status::Failed;
            }
        }
        status
    }
}

/// Runs the planned actions of `steps` and returns the reports with what each step did: its
/// `done`, its `error` (or `skipped: …` when a step it needs failed), how long it worked, and
/// the actions that ran. `command` is `apply` or `teardown` (for the progress lines).
pub async fn execute(run: &Run<'_>, command: Command, steps: Vec<StepReport>) -> Vec<StepReport> {
    let units: Vec<Unit> = steps.iter().map(StepReport::unit).collect();
    let edges = steps.iter().flat_map(|r| {
        let s = step(r.step);
        let unit = r.unit();
        let needed = r.actions.iter().flat_map(|a| s.needs(a)).flat_map(|n| waits_for(&units, &n));
        needed.map(move |to| (unit.clone(), to)).collect::<Vec<_>>()
    });
    if let Some(cycle) = cycle(edges) {
        // Each would wait for the other for ever: a bug in the steps' needs, refused up front.
        let names: Vec<String> = cycle.iter().map(Unit::to_string).collect();
        let error = format!(
            "internal error: steps {} wait for each other; nothing was done (please report it)",
            names.join(" → ")
        );
        return steps
            .into_iter()
            .map(|mut r| {
                r.actions.clear();
                r.error = Some(error.clone());
                r
            })
            .collect();
    }
    let board = Board::new(units);
    let work = steps.into_iter().map(|report| run_step(run, &board, command, report));
    futures_util::future::join_all(work).await
}

async fn run_step(
    run: &Run<'_>,
    board: &Board<Unit>,
    command: Command,
    mut report: StepReport,
) -> StepReport {
    let s = step(report.step);
    let planned = std::mem::take(&mut report.actions);
    let mut worked = Duration::ZERO;
    'actions: for action in planned {
        for need in s.needs(&action) {
            let ended = match &need {
                Need::Done(id) | Need::After(id) => board.ended(|u| u.step == *id).await,
                Need::Instance(unit) => board.ended(|u| u == unit).await,
            };
            if ended == Status::Failed && !matches!(need, Need::After(_)) {
                report.error = Some(format!("skipped: the {} step failed", need.unit()));
                break 'actions;
            }
        }
        if let Some(signal) = run.ctx.cancel.signal() {
            report.error = Some(format!("not started: interrupted by {}", signal.name()));
            break;
        }
        let started = Instant::now();
        let result = s.apply(run, &action).await;
        worked += started.elapsed();
        report.actions.push(action);
        match result {
            Ok(done) => {
                report.done.extend(done);
                if s.fixes_findings(report.actions.last().expect("just pushed")) {
                    past_findings(&mut report.notes);
                }
            }
            Err(e) => {
                report.error = Some(format!("{e:#}"));
                break;
            }
        }
    }
    // A step skipped before it did anything did not work at all.
    let skipped = report.actions.is_empty() && report.error.is_some();
    report.duration_ms = (!skipped).then_some(worked.as_millis() as u64);
    let status = if report.error.is_none() { Status::Succeeded } else { Status::Failed };
    board.end(&report.unit(), status);
    run.ctx.progress.ended(command, &report);
    report
}

/// What a need waits for among the plan's `units`: every instance of a step, or one (a step
/// not in the plan: that step itself, which has nothing to do).
fn waits_for(units: &[Unit], need: &Need) -> Vec<Unit> {
    match need {
        Need::Instance(unit) => vec![unit.clone()],
        Need::Done(id) | Need::After(id) => {
            let of: Vec<Unit> = units.iter().filter(|u| u.step == *id).cloned().collect();
            if of.is_empty() {
                vec![Unit::from(*id)]
            } else {
                of
            }
        }
    }
}

/// A cycle among the waits `from → to` (each waiting for the other's end), as the units along
/// it with the first repeated at the end; `None` when there is none.
pub fn cycle<K: Clone + Ord + Hash>(edges: impl IntoIterator<Item = (K, K)>) -> Option<Vec<K>> {
    let mut next: HashMap<K, Vec<K>> = HashMap::new();
    for (from, to) in edges {
        if from != to {
            next.entry(from).or_default().push(to);
        }
    }
    // Depth first; `path` is the chain being followed, `done` what has no cycle behind it.
    fn visit<K: Clone + Ord + Hash>(
        id: &K,
        next: &HashMap<K, Vec<K>>,
        path: &mut Vec<K>,
        done: &mut Vec<K>,
    ) -> Option<Vec<K>> {
        if let Some(at) = path.iter().position(|p| p == id) {
            let mut found = path[at..].to_vec();
            found.push(id.clone());
            return Some(found);
        }
        if done.contains(id) {
            return None;
        }
        path.push(id.clone());
        for to in next.get(id).into_iter().flatten() {
            if let Some(found) = visit(to, next, path, done) {
                return Some(found);
            }
        }
        path.pop();
        done.push(id.clone());
        None
    }
    let mut starts: Vec<K> = next.keys().cloned().collect();
    starts.sort();
    let (mut path, mut done) = (Vec::new(), Vec::new());
    starts.iter().find_map(|id| visit(id, &next, &mut path, &mut done))
}

/// The step's findings, told in the past: the document they were about has been replaced.
fn past_findings(notes: &mut [Note]) {
    for n in notes {
        *n = std::mem::replace(n, Note::info("")).fixed();
    }
}

#[cfg(test)]
mod tests {
    use futures_util::FutureExt;

    use super::{Board, Status};

    #[tokio::test]
    async fn a_wait_ends_with_every_entry_it_picks_and_fails_if_one_failed() {
        let board = Board::new([("a", 1), ("a", 2), ("b", 1)]);
        // Nothing picked: nothing to wait for.
        assert_eq!(board.ended(|k| k.0 == "c").await, Status::Succeeded);
        board.end(&("a", 1), Status::Succeeded);
        board.end(&("b", 1), Status::Failed);
        // `a` has an entry still running: the wait ends only with it.
        let mut wait = Box::pin(board.ended(|k| k.0 == "a"));
        assert_eq!((&mut wait).now_or_never(), None);
        board.end(&("a", 2), Status::Failed);
        assert_eq!(wait.await, Status::Failed);
        assert_eq!(board.ended(|k| *k == ("a", 1)).await, Status::Succeeded);
        assert_eq!(board.ended(|k| k.0 == "b").await, Status::Failed);
    }
}
