//! Test-only: a step with instances, to prove that a step id plus an instance is the unit of the
//! plan, of the run board and of the reports. `twins` has one instance per name in
//! `Desired::twins`; each instance of `twin-child` needs its own twin (and only that one).
//! Nothing here calls AWS: what exists of a twin is what a test puts into `Observed`.
//!
//! Adding these two steps touched only this module, their registration (`steps::STEPS`) and
//! the config (`Desired::twins`).

use std::any::TypeId;
use std::fmt;

use anyhow::{bail, Result};

use super::observe::{read, Look, Observe, Scope};
use super::{Diff, Need, Run, Step, View};
use crate::config::Desired;
use crate::plan::{Done, State, StepId, Unit};

pub const TWINS: StepId = StepId::new("twins");
pub const CHILD: StepId = StepId::new("twin-child");

/// What exists of a twin.
#[derive(Debug, Clone, PartialEq)]
pub struct Live {
    /// Making it again fails.
    pub broken: bool,
}

/// What either step can do: make the instance of this name.
#[derive(Debug, Clone, PartialEq, strum::IntoStaticStr, strum::VariantNames)]
#[strum(serialize_all = "kebab-case")]
pub enum Make {
    Make(String),
}

impl Make {
    fn name(&self) -> &str {
        match self {
            Make::Make(name) => name,
        }
    }
}

impl fmt::Display for Make {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "make {}", self.name())
    }
}

/// One instance per configured name.
fn instances(d: &Desired) -> Vec<Option<String>> {
    d.twins.iter().cloned().map(Some).collect()
}

/// The report of `step` for the view's instance: in sync when a sound twin exists, else
/// missing with the action that makes it. A view of no instance (a caller going round
/// [`Observe::instances`]) has nothing to do.
fn compare(step: StepId, v: &View) -> Diff<Make> {
    let Some(name) = v.instance else {
        return Diff::new(step, "", State::InSync);
    };
    match v.live::<Twins>() {
        Some(t) if !t.broken && step == TWINS => Diff::new(step, name, State::InSync),
        _ => Diff::new(step, name, State::Missing).act(Make::Make(name.into())),
    }
}

pub struct Twins;

impl Observe for Twins {
    type Live = Live;
    fn instances(&self, d: &Desired) -> Vec<Option<String>> {
        instances(d)
    }
    /// Nothing to read: tests put what exists into `Observed`.
    async fn observe(&self, _look: &Look<'_>) -> Result<Option<Live>> {
        Ok(None)
    }
}

impl Step for Twins {
    type Action = Make;
    const ID: StepId = TWINS;
    fn diff(&self, v: &View) -> Diff<Make> {
        compare(TWINS, v)
    }
    fn removal(&self, v: &View) -> Diff<Make> {
        Diff::new(TWINS, v.instance.unwrap_or_default(), State::Missing)
    }
    async fn apply(&self, run: &Run<'_>, action: &Make) -> Result<Vec<Done>> {
        let name = action.name();
        run.ctx.progress.start(Unit::new(TWINS, Some(name)), &format!("making twin {name}"));
        if run.o.instance::<Twins>(Some(name)).is_some_and(|t| t.broken) {
            bail!("twin {name} is broken");
        }
        Ok(vec![Done::Created(format!("made twin {name}"))])
    }
}

pub struct TwinChild;

impl Observe for TwinChild {
    type Live = ();
    fn reads(&self, _d: &Desired, _scope: Scope) -> Vec<TypeId> {
        vec![read::<Twins>()]
    }
    fn instances(&self, d: &Desired) -> Vec<Option<String>> {
        instances(d)
    }
    async fn observe(&self, _look: &Look<'_>) -> Result<Option<()>> {
        Ok(None)
    }
}

impl Step for TwinChild {
    type Action = Make;
    const ID: StepId = CHILD;
    /// Its own twin, and no other.
    fn needs(&self, action: &Make) -> Vec<Need> {
        vec![Need::Instance(Unit::new(TWINS, Some(action.name())))]
    }
    fn diff(&self, v: &View) -> Diff<Make> {
        compare(CHILD, v)
    }
    fn removal(&self, v: &View) -> Diff<Make> {
        Diff::new(CHILD, v.instance.unwrap_or_default(), State::Missing)
    }
    async fn apply(&self, _run: &Run<'_>, action: &Make) -> Result<Vec<Done>> {
        Ok(vec![Done::Created(format!("made the child of twin {}", action.name()))])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::StepReport;
    use crate::steps::test_support::{ctx, desired, observed, REGION};
    use crate::steps::{diff, execute, Observed};

    fn with_twins() -> Desired {
        let mut d = desired("");
        d.twins = vec!["a".into(), "b".into()];
        d
    }

    /// The twins' reports of a plan, as (unit, state, actions).
    fn twins_of(steps: &[StepReport]) -> Vec<(String, State, Vec<String>)> {
        let ours = steps.iter().filter(|r| r.step == TWINS || r.step == CHILD);
        ours.map(|r| {
            (r.unit().to_string(), r.state, r.actions.iter().map(|a| a.to_string()).collect())
        })
        .collect()
    }

    fn plan_of(d: &Desired, o: &Observed) -> Vec<StepReport> {
        let plan = diff(d, REGION, o).steps;
        plan.into_iter().filter(|r| r.step == TWINS || r.step == CHILD).collect()
    }

    #[test]
    fn a_plan_has_one_report_per_instance() {
        let d = with_twins();
        let mut o = observed();
        o.set_instance::<Twins>(Some("a"), Some(Live { broken: false }));
        let s = |x: &str| x.to_string();
        assert_eq!(
            twins_of(&diff(&d, REGION, &o).steps),
            [
                (s("twins[a]"), State::InSync, vec![]),
                (s("twins[b]"), State::Missing, vec![s("make b")]),
                (s("twin-child[a]"), State::Missing, vec![s("make a")]),
                (s("twin-child[b]"), State::Missing, vec![s("make b")]),
            ]
        );
        // Without instances in the config, the steps have no reports at all.
        assert_eq!(twins_of(&diff(&desired(""), REGION, &o).steps), []);
    }

    #[test]
    fn the_json_names_the_instance_only_when_there_is_one() {
        let d = with_twins();
        let plan = diff(&d, REGION, &observed());
        let json = |r: &StepReport| serde_json::to_value(r).unwrap();
        let twin = plan.steps.iter().find(|r| r.step == TWINS).unwrap();
        assert_eq!(json(twin)["step"], "twins");
        assert_eq!(json(twin)["instance"], "a");
        let table = plan.get(StepId::Table);
        assert!(json(table).get("instance").is_none(), "{}", json(table));
        assert_eq!(twin.unit().to_string(), "twins[a]");
    }

    /// Carries out the twins' plan against `o`, as `apply` does.
    async fn apply(o: &Observed) -> Vec<StepReport> {
        let d = with_twins();
        let ctx = ctx(&d);
        let plan = plan_of(&d, o);
        execute(&crate::steps::Run::new(&ctx, o), crate::plan::Command::Apply, plan).await
    }

    #[tokio::test]
    async fn the_board_runs_and_reports_every_instance() {
        let ran = apply(&observed()).await;
        let done: Vec<(String, Vec<String>, Option<String>)> = ran
            .iter()
            .map(|r| {
                (
                    r.unit().to_string(),
                    r.done.iter().map(|x| x.to_string()).collect(),
                    r.error.clone(),
                )
            })
            .collect();
        let s = |x: &str| x.to_string();
        assert_eq!(
            done,
            [
                (s("twins[a]"), vec![s("made twin a")], None),
                (s("twins[b]"), vec![s("made twin b")], None),
                (s("twin-child[a]"), vec![s("made the child of twin a")], None),
                (s("twin-child[b]"), vec![s("made the child of twin b")], None),
            ]
        );
    }

    #[tokio::test]
    async fn a_failed_instance_skips_only_its_own_dependents() {
        let mut o = observed();
        o.set_instance::<Twins>(Some("b"), Some(Live { broken: true }));
        let ran = apply(&o).await;
        let outcome: Vec<(String, String)> =
            ran.iter().map(|r| (r.unit().to_string(), r.outcome(false))).collect();
        let s = |x: &str| x.to_string();
        assert_eq!(
            outcome,
            [
                (s("twins[a]"), s("made twin a")),
                (s("twins[b]"), s("failed: twin b is broken")),
                (s("twin-child[a]"), s("made the child of twin a")),
                (s("twin-child[b]"), s("failed: skipped: the twins[b] step failed")),
            ]
        );
        // The skipped instance did no work; the others did.
        let worked: Vec<bool> = ran.iter().map(|r| r.duration_ms.is_some()).collect();
        assert_eq!(worked, [true, true, true, false]);
    }

    #[test]
    fn instances_that_wait_for_each_other_are_a_cycle() {
        let (a, b) = (Unit::new(TWINS, Some("a")), Unit::new(CHILD, Some("a")));
        let found = crate::steps::run::cycle([(a.clone(), b.clone()), (b.clone(), a.clone())]);
        // Searched from the first unit by name: `twin-child` sorts before `twins`.
        assert_eq!(found, Some(vec![b.clone(), a.clone(), b]));
        // Two instances of a step are two units: one waiting for the other is no cycle.
        let other = Unit::new(TWINS, Some("b"));
        assert_eq!(crate::steps::run::cycle([(a, other)]), None);
    }
}
