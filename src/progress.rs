//! The events the logic reports while it works. Renderers (in `render/`) decide how they look:
//! a spinner per step on a terminal, plain lines in CI, nothing with `--output json` or `--quiet`.

use crate::plan::StepId;

pub trait Progress: Send + Sync {
    /// A step started doing something.
    fn start(&self, step: StepId, message: &str);
    /// Something changed while the step runs (e.g. waiting for the table to become ACTIVE).
    fn update(&self, step: StepId, message: &str);
    /// The step ended; `ok` is false when it failed.
    fn finish(&self, step: StepId, ok: bool, message: &str);
}

/// Reports nothing.
pub struct Silent;

impl Progress for Silent {
    fn start(&self, _: StepId, _: &str) {}
    fn update(&self, _: StepId, _: &str) {}
    fn finish(&self, _: StepId, _: bool, _: &str) {}
}

/// Forwards events to a renderer and remembers them, so an interrupted run can say what it had
/// done and what was in flight.
pub struct Journal {
    inner: std::sync::Arc<dyn Progress>,
    events: std::sync::Mutex<Vec<(StepId, Option<(bool, String)>, String)>>,
}

impl Journal {
    pub fn new(inner: std::sync::Arc<dyn Progress>) -> Self {
        Journal {
            inner,
            events: std::sync::Mutex::new(Vec::new()),
        }
    }

    fn entry(&self, step: StepId, f: impl FnOnce(&mut (StepId, Option<(bool, String)>, String))) {
        let mut events = self.events.lock().expect("not poisoned");
        if !events.iter().any(|e| e.0 == step) {
            events.push((step, None, String::new()));
        }
        if let Some(e) = events.iter_mut().find(|e| e.0 == step) {
            f(e);
        }
    }

    /// "Done: …. In flight (abandoned): …." — steps with nothing to do are not listed.
    pub fn summary(&self) -> String {
        let events = self.events.lock().expect("not poisoned");
        let done: Vec<String> = events
            .iter()
            .filter_map(|(step, fin, _)| match fin {
                Some((true, msg)) if msg != "unchanged" => Some(format!("{step} ({msg})")),
                Some((false, msg)) => Some(format!("{step} (failed: {msg})")),
                _ => None,
            })
            .collect();
        let in_flight: Vec<String> = events
            .iter()
            .filter(|(_, fin, _)| fin.is_none())
            .map(|(step, _, msg)| format!("{step} ({msg})"))
            .collect();
        let mut out = String::new();
        out.push_str(&if done.is_empty() {
            "Nothing was finished.".to_string()
        } else {
            format!("Finished: {}.", done.join("; "))
        });
        if !in_flight.is_empty() {
            out.push_str(&format!(
                " In flight (abandoned): {}.",
                in_flight.join("; ")
            ));
        }
        out
    }
}

impl Progress for Journal {
    fn start(&self, step: StepId, message: &str) {
        self.entry(step, |e| {
            e.1 = None;
            e.2 = message.to_string();
        });
        self.inner.start(step, message);
    }
    fn update(&self, step: StepId, message: &str) {
        self.entry(step, |e| e.2 = message.to_string());
        self.inner.update(step, message);
    }
    fn finish(&self, step: StepId, ok: bool, message: &str) {
        self.entry(step, |e| e.1 = Some((ok, message.to_string())));
        self.inner.finish(step, ok, message);
    }
}
