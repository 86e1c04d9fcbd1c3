//! The events the logic reports while it works. Renderers (`render/live.rs`) decide how they
//! look: a line per step on a terminal, plain lines in CI, nothing with `--output json` or
//! `--quiet`.

use crate::plan::{Command, StepId, StepReport};

/// What `apply` or `teardown` works on (the head of its report).
pub struct Head<'a> {
    pub command: Command,
    pub stack: &'a str,
    pub region: &'a str,
    pub account: &'a str,
}

pub trait Progress: Send + Sync {
    /// A step started doing something.
    fn start(&self, step: StepId, message: &str);
    /// Something changed while the step runs (e.g. waiting for the table to become ACTIVE).
    fn update(&self, step: StepId, message: &str);
    /// The step ended; `ok` is false when it failed.
    fn finish(&self, step: StepId, ok: bool, message: &str);
    /// `apply` or `teardown` is about to run these steps (in report order).
    fn begin(&self, _head: &Head, _steps: &[StepId]) {}
    /// A step of `apply` or `teardown` ended: `report` says what it did (or its error) and how
    /// long it worked.
    fn ended(&self, command: Command, report: &StepReport) {
        let message = message(command, report);
        self.finish(report.step, report.error.is_none(), &message);
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
    fn start(&self, _: StepId, _: &str) {}
    fn update(&self, _: StepId, _: &str) {}
    fn finish(&self, _: StepId, _: bool, _: &str) {}
}

/// What a [`Journal`] knows of one step.
struct Entry {
    step: StepId,
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

    fn with_entry(&self, step: StepId, f: impl FnOnce(&mut Entry)) {
        let mut entries = self.entries.lock().expect("not poisoned");
        let index = match entries.iter().position(|e| e.step == step) {
            Some(i) => i,
            None => {
                entries.push(Entry { step, current: String::new(), finished: None });
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
    fn begin(&self, head: &Head, steps: &[StepId]) {
        self.inner.begin(head, steps);
    }
    fn ended(&self, command: Command, report: &StepReport) {
        let message = message(command, report);
        self.with_entry(report.step, |e| e.finished = Some((report.error.is_none(), message)));
        self.inner.ended(command, report);
    }
    fn start(&self, step: StepId, message: &str) {
        self.with_entry(step, |e| {
            e.finished = None;
            e.current = message.to_string();
        });
        self.inner.start(step, message);
    }
    fn update(&self, step: StepId, message: &str) {
        self.with_entry(step, |e| e.current = message.to_string());
        self.inner.update(step, message);
    }
    fn finish(&self, step: StepId, ok: bool, message: &str) {
        self.with_entry(step, |e| e.finished = Some((ok, message.to_string())));
        self.inner.finish(step, ok, message);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_lists_finished_and_in_flight_steps_but_not_idle_ones() {
        let j = Journal::new(std::sync::Arc::new(Silent));
        j.start(StepId::Table, "creating table t");
        j.finish(StepId::Table, true, "created table t");
        j.finish(StepId::Role, true, "unchanged");
        j.start(StepId::IdentityPool, "creating identity pool p");
        assert_eq!(
            j.summary(),
            "Finished: table (created table t). In flight (abandoned): identity-pool (creating identity pool p)."
        );
    }
}
