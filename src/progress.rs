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
