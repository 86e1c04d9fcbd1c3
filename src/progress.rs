//! The events the logic reports while it works. Renderers (`render/live.rs`) decide how they
//! look: a line per step on a terminal, plain lines in CI, nothing with `--output json` or
//! `--quiet`.

use crate::plan::{Command, StepReport, Unit};

/// What `apply` or `teardown` works on (the head of its report).
pub struct Head<'a> {
    pub command: Command,
    pub stack: &'a str,
    pub region: &'a str,
    pub account: &'a str,
}

/// The events, each about a unit (a step, or one instance of it). The logic calls them as
/// `progress.start(step_or_unit, …)` ([`Progress::started`] through the methods on
/// `dyn Progress`).
pub trait Progress: Send + Sync {
    /// A unit started doing something.
    fn started(&self, unit: &Unit, message: &str);
    /// Something changed while the unit runs (e.g. waiting for the table to become ACTIVE).
    fn updated(&self, unit: &Unit, message: &str);
    /// The unit ended; `ok` is false when it failed.
    fn finished(&self, unit: &Unit, ok: bool, message: &str);
    /// `apply` or `teardown` is about to run these units (in report order).
    fn begin(&self, _head: &Head, _units: &[Unit]) {}
    /// A unit of `apply` or `teardown` ended: `report` says what it did (or its error) and how
    /// long it worked.
    fn ended(&self, command: Command, report: &StepReport) {
        let message = message(command, report);
        self.finished(&report.unit(), report.error.is_none(), &message);
    }
}

impl dyn Progress {
    /// A step (or an instance: a [`Unit`]) started doing something.
    pub fn start(&self, unit: impl Into<Unit>, message: &str) {
        self.started(&unit.into(), message)
    }
    /// Something changed while it runs.
    pub fn update(&self, unit: impl Into<Unit>, message: &str) {
        self.updated(&unit.into(), message)
    }
    /// It ended; `ok` is false when it failed.
    pub fn finish(&self, unit: impl Into<Unit>, ok: bool, message: &str) {
        self.finished(&unit.into(), ok, message)
    }
}

/// A finished step in a few words: its error, what it did, or `unchanged`.
pub fn message(command: Command, report: &StepReport) -> String {
    match &report.error {
        Some(e) => e.clone(),
        None if report.done.is_empty() => "unchanged".to_string(),
        None => report.outcome(command.removes()),
    }
}

/// Reports nothing.
pub struct Silent;

impl Progress for Silent {
    fn started(&self, _: &Unit, _: &str) {}
    fn updated(&self, _: &Unit, _: &str) {}
    fn finished(&self, _: &Unit, _: bool, _: &str) {}
}

/// What a [`Journal`] knows of one step.
struct Entry {
    step: Unit,
    /// The latest start or update message.
    current: String,
    /// Set when the step finished: whether it succeeded, and its message.
    finished: Option<(bool, String)>,
}

/// Forwards events to a renderer and remembers them, so an interrupted run can say what it had
/// done and what was in flight.
pub struct Journal {
    inner: std::sync::Arc<dyn Progress>,
    entries: std::sync::Mutex<Vec<Entry>>,
}

impl Journal {
    pub fn new(inner: std::sync::Arc<dyn Progress>) -> Self {
        Journal { inner, entries: std::sync::Mutex::new(Vec::new()) }
    }

    fn with_entry(&self, step: &Unit, f: impl FnOnce(&mut Entry)) {
        let mut entries = self.entries.lock().expect("not poisoned");
        let index = match entries.iter().position(|e| e.step == *step) {
            Some(i) => i,
            None => {
                entries.push(Entry { step: step.clone(), current: String::new(), finished: None });
                entries.len() - 1
            }
        };
        f(&mut entries[index]);
    }

    /// "Finished: …. In flight (abandoned): …." — steps with nothing to do are not listed.
    pub fn summary(&self) -> String {
        let entries = self.entries.lock().expect("not poisoned");
        let done: Vec<String> = entries
            .iter()
            .filter_map(|e| match &e.finished {
                Some((true, msg)) if msg != "unchanged" => Some(format!("{} ({msg})", e.step)),
                Some((false, msg)) => Some(format!("{} (failed: {msg})", e.step)),
                _ => None,
            })
            .collect();
        let in_flight: Vec<String> = entries
            .iter()
            .filter(|e| e.finished.is_none())
            .map(|e| format!("{} ({})", e.step, e.current))
            .collect();
        let mut out = if done.is_empty() {
            "Nothing was finished.".to_string()
        } else {
            format!("Finished: {}.", done.join("; "))
        };
        if !in_flight.is_empty() {
            out.push_str(&format!(" In flight (abandoned): {}.", in_flight.join("; ")));
        }
        out
    }
}

impl Progress for Journal {
    fn begin(&self, head: &Head, units: &[Unit]) {
        self.inner.begin(head, units);
    }
    fn ended(&self, command: Command, report: &StepReport) {
        let message = message(command, report);
        self.with_entry(&report.unit(), |e| e.finished = Some((report.error.is_none(), message)));
        self.inner.ended(command, report);
    }
    fn started(&self, step: &Unit, message: &str) {
        self.with_entry(step, |e| {
            e.finished = None;
            e.current = message.to_string();
        });
        self.inner.started(step, message);
    }
    fn updated(&self, step: &Unit, message: &str) {
        self.with_entry(step, |e| e.current = message.to_string());
        self.inner.updated(step, message);
    }
    fn finished(&self, step: &Unit, ok: bool, message: &str) {
        self.with_entry(step, |e| e.finished = Some((ok, message.to_string())));
        self.inner.finished(step, ok, message);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_lists_finished_and_in_flight_steps_but_not_idle_ones() {
        use crate::plan::StepId;
        let journal = Journal::new(std::sync::Arc::new(Silent));
        let j: &dyn Progress = &journal;
        j.start(StepId::Table, "creating table t");
        j.finish(StepId::Table, true, "created table t");
        j.finish(StepId::Role, true, "unchanged");
        j.start(Unit::new(StepId::IdentityPool, Some("p")), "creating identity pool p");
        assert_eq!(
            journal.summary(),
            "Finished: table (created table t). In flight (abandoned): identity-pool[p] (creating identity pool p)."
        );
    }
}
